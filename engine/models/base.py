"""The two kinds of model the engine runs, as small typed interfaces.

A ``Detector`` finds faces and their five landmarks in an RGB image; an
``Embedder`` turns aligned face crops into L2-normalised vectors whose squared
Euclidean distance says "different person". Both load lazily: constructing
one does no file I/O and no download; ``load()`` (called on first
``predict``) reads converted weights from the cache, converting them from
their carrier package once if needed.
"""

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np
import torch

from engine.errors import ModelError


@dataclass(frozen=True)
class Detection:
    """One face found in an image, in that image's pixel coordinates."""

    box: tuple[float, float, float, float]  # x, y, w, h
    landmarks: np.ndarray  # (5, 2) float32: right eye, left eye, nose, mouth right, mouth left
    score: float


class Detector(ABC):
    name: str

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
