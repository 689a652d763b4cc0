"""The two kinds of model the engine runs, as small typed interfaces.

A ``Detector`` finds faces and their five landmarks in an RGB image; an
``Embedder`` turns aligned face crops into L2-normalised vectors whose squared
Euclidean distance says "different person". Both load lazily: constructing
one does no file I/O and no download; ``load()`` (called on first
``predict``) reads converted weights from the cache, converting them from
their carrier package once if needed.
"""

import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch

from engine.errors import ModelError


class _CudnnOff:
    """How many networks run now, and whether cuDNN was on before the first."""

    lock = threading.Lock()
    users = 0
    was = True


@contextmanager
def inference() -> Iterator[None]:
    """Inference mode, with cuDNN switched off while any network runs.

    cuDNN 9 plans every new input shape before running it: on an H200 that
    took about 2 s per photo size for YuNet and 2-5 s per batch size for
    SFace, against 5 ms per look and 14 ms per 17 crops with torch's own CUDA
    kernels (``bench/gpu_all.sh``, docs/PERFORMANCE.md). A scan meets a new
    shape on nearly every photo, so the planning never pays back. The switch
    is process-wide: it is put back when the last network running leaves.
    Training, with one batch shape throughout, keeps cuDNN.
    """
    state = _CudnnOff
    with state.lock:
        if state.users == 0:
            state.was = torch.backends.cudnn.enabled
            torch.backends.cudnn.enabled = False
        state.users += 1
    try:
        with torch.inference_mode():
            yield
    finally:
        with state.lock:
            state.users -= 1
            if state.users == 0:
                torch.backends.cudnn.enabled = state.was


@dataclass(frozen=True)
class Detection:
    """One face found in an image, in that image's pixel coordinates."""

    box: tuple[float, float, float, float]  # x, y, w, h
    landmarks: np.ndarray  # (5, 2) float32: right eye, left eye, nose, mouth right, mouth left
    score: float


class Detector(ABC):
    name: str
    # Whether the scan averages this detector's landmarks with a second
    # network's (engine.detect.second_landmarks): measured to help YuNet's.
    wants_second_landmarks: bool = False

    def __init__(self, device: torch.device | str = "cpu") -> None:
        self.device = torch.device(device)
        self._loaded = False

    @abstractmethod
    def load(self) -> None:
        """Read the weights; idempotent."""

    @abstractmethod
    def predict(self, image: np.ndarray) -> list[Detection]:
        """Faces in an RGB uint8 (H, W, 3) image, best first."""


class Embedder(ABC):
    name: str
    dim: int
    input_size: int  # crops are input_size x input_size
    template: np.ndarray  # (5, 2) landmark positions in the crop, pixels
    # Crops are stretched this much across after the similarity alignment, for
    # networks trained on squeezed box crops (FaceNet); 1.0 keeps the face's shape.
    crop_aspect: float = 1.0
    # Each crop is embedded with its mirror image and the two are averaged
    # (test-time flip); such an embedder's name says so, as its vectors do not
    # mix with the plain ones.
    flip_average: bool = False

    def __init__(self, device: torch.device | str = "cpu") -> None:
        self.device = torch.device(device)
        self._loaded = False

    @abstractmethod
    def load(self) -> None:
        """Read the weights; idempotent."""

    @abstractmethod
    def predict(self, crops: np.ndarray) -> np.ndarray:
        """(N, dim) float32 L2-normalised embeddings of (N, S, S, 3) uint8 RGB aligned crops."""

    def check_crops(self, crops: np.ndarray) -> None:
        """Refuse crops that are not what ``predict`` takes, saying how to make them."""
        size = self.input_size
        if crops.ndim != 4 or crops.shape[1:] != (size, size, 3) or crops.dtype != np.uint8:
            raise ModelError(
                f"{self.name} expects aligned crops as a uint8 array of shape "
                f"(N, {size}, {size}, 3), got {crops.dtype} {crops.shape}; align faces "
                f"with engine.align.align_faces(image, landmarks, embedder)"
            )
