"""Embedders trained here: stored with their metadata, found and loaded by name.

A trained embedder is two files in the user's model folder
(``$FACEALBUM_DATA_DIR/models`` or platformdirs' user data folder +
``/models``): ``<name>.pt``, the state dict of its network, and
``<name>.json``, its metadata: the architecture it was built from, the
weights it started from, input size, scaling, template, dimension, the file's
SHA-256 and how it was trained. ``engine.models.registry.get_embedder`` falls
back to ``trained_embedder`` for names it does not know, so ``scan
--embedder NAME`` uses a trained model like a built-in one.

Loading is lazy, as for every embedder: constructing one reads only the small
JSON file; the weights are read and verified on the first ``predict``. This
module never trains and never downloads.
"""

import json
import os
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import platformdirs
import torch
from torch import nn

from engine.errors import ModelError
from engine.models.embedding import TorchEmbedder
from engine.models.weights import StateDict, sha256_of

DATA_ENV = "FACEALBUM_DATA_DIR"
FORMAT = 1
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class TrainedModel:
    name: str
    arch: str  # the registered embedder whose network it is
    path: Path  # the .pt file
    sha256: str
    dim: int
    input_size: int
    meta: dict[str, Any]  # how it was trained: data, options, scores


def models_dir() -> Path:
    env = os.environ.get(DATA_ENV)
    base = Path(env) if env else Path(platformdirs.user_data_dir("facealbum", appauthor=False))
    return base / "models"


def check_name(name: str, reserved: list[str]) -> None:
    """Raise ``ModelError`` unless ``name`` can name a new trained embedder."""
    if not _NAME.match(name):
        raise ModelError(
            f"a model name is 1-64 lower-case letters, digits, '.', '_' or '-', starting with a "
            f"letter or digit; got {name!r}"
        )
    if name in reserved:
        raise ModelError(f"{name!r} is a built-in embedder; choose another --name")


def save_trained(name: str, arch: str, net: nn.Module, meta: dict[str, Any]) -> TrainedModel:
    """Store ``net`` as the trained embedder ``name``, replacing one of that name."""
    from engine.models.registry import embedder_names, get_embedder

    check_name(name, [n for n in embedder_names() if find_trained(n) is None])
    base = get_embedder(arch)
    folder = models_dir()
    folder.mkdir(parents=True, exist_ok=True)
    weights = folder / f"{name}.pt"
    state = {k: v.detach().cpu() for k, v in net.state_dict().items()}
    tmp = weights.with_suffix(".pt.tmp")
    torch.save(state, tmp)
    tmp.replace(weights)
    digest = sha256_of(weights)
    record = {
        "format": FORMAT, "name": name, "arch": arch, "sha256": digest,
        "dim": base.dim, "input_size": base.input_size,
        "template": base.template.tolist(),
        "scaling": getattr(getattr(base, "card", None), "scaling", ""),
        **meta,
    }
    info = folder / f"{name}.json"
    info.with_suffix(".json.tmp").write_text(json.dumps(record, indent=2, sort_keys=True),
                                             encoding="utf-8")
    info.with_suffix(".json.tmp").replace(info)
    return _model(record, weights)


def trained_models() -> list[TrainedModel]:
    """Every trained embedder in the model folder, by name."""
    folder = models_dir()
    if not folder.is_dir():
        return []
    found = []
    for info in sorted(folder.glob("*.json")):
        model = _read(info)
        if model is not None:
            found.append(model)
    return found


def find_trained(name: str) -> TrainedModel | None:
    if not _NAME.match(name):
        return None
    return _read(models_dir() / f"{name}.json")


def trained_embedder(model: TrainedModel, device: torch.device | str = "cpu") -> TorchEmbedder:
    """An embedder running ``model``; its weights are read on first use."""
    from engine.models.registry import get_embedder

    base = get_embedder(model.arch, device)
    if not isinstance(base, TorchEmbedder):
        raise ModelError(
            f"the trained model {model.name} was built on {model.arch!r}, which is not a torch "
            "embedder in this version; retrain it on sface or facenet"
        )
    return TrainedEmbedder(model, base, device)


class TrainedEmbedder(TorchEmbedder):
    """A built-in embedder's network with weights trained here."""

    def __init__(self, model: TrainedModel, base: TorchEmbedder,
                 device: torch.device | str = "cpu") -> None:
        self.card = replace(base.card, name=model.name,
                            trained_on=f"fine-tuned from {model.arch} by facealbum train")
        self.model = model
        self._base = base
        super().__init__(device)

    @staticmethod
    def convert(source: Path) -> StateDict:
        raise ModelError(f"trained models are stored as torch state dicts; {source} needs no "
                         "conversion")

    @staticmethod
    def build(*, weights: StateDict | None = None) -> nn.Module:
        raise ModelError("a trained embedder is built by its base embedder; use load()")

    def scale(self, pixels: torch.Tensor) -> torch.Tensor:
        return self._base.scale(pixels)

    def load(self) -> None:
        if self._loaded:
            return
        path = self.model.path
        if not path.is_file() or sha256_of(path) != self.model.sha256:
            raise ModelError(
                f"the weights of the trained model {self.model.name} ({path}) are missing or "
                f"do not match the SHA-256 in {path.with_suffix('.json')}; train it again"
            )
        state = torch.load(path, map_location="cpu", weights_only=True)
        net = self._base.build(weights=state).eval().to(self.device)
        if self.device.type == "cuda":
            net = net.to(memory_format=torch.channels_last)
        self._net = net
        self._loaded = True


def _read(info: Path) -> TrainedModel | None:
    try:
        record = json.loads(info.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        return None
    return _model(record, info.with_suffix(".pt"))


def _model(record: dict[str, Any], weights: Path) -> TrainedModel:
    meta = {k: v for k, v in record.items()
            if k not in {"format", "name", "arch", "sha256", "dim", "input_size"}}
    return TrainedModel(record["name"], record["arch"], weights, record["sha256"],
                        int(record["dim"]), int(record["input_size"]), meta)
