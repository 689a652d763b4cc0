"""Stand-in models for tests of the scan's logic: no weights, exact answers.

``FaceAt`` finds one face at a fixed place of every image, given as fractions
of its width and height, with plausible landmarks inside the box;
``MeanColourEmbedder`` gives each crop a unit vector from its mean colour,
enough for the scan to store embeddings and for faces of different colours
to differ; ``BrightnessAges`` reads an age from a chip's brightness.
"""

import numpy as np

from engine.models.age import AgeEstimator
from engine.models.base import Detection, Detector, Embedder

Fractions = tuple[float, float, float, float]


class FaceAt(Detector):
    """Finds one face at ``where`` (x, y, w, h as fractions) of whatever image it is given."""

    name = "face-at"

    def __init__(self, where: Fractions, device: str = "cpu") -> None:
        super().__init__(device)
        self.where = where

    def load(self) -> None:
        self._loaded = True

    def predict(self, image: np.ndarray) -> list[Detection]:
        h, w = image.shape[:2]
        fx, fy, fw, fh = self.where
        x, y, bw, bh = fx * w, fy * h, fw * w, fh * h
        marks = np.array(
            [[x + 0.3 * bw, y + 0.4 * bh], [x + 0.7 * bw, y + 0.4 * bh],
             [x + 0.5 * bw, y + 0.6 * bh], [x + 0.35 * bw, y + 0.8 * bh],
             [x + 0.65 * bw, y + 0.8 * bh]],
            np.float32,
        )
        return [Detection(box=(x, y, bw, bh), landmarks=marks, score=0.99)]


class MeanColourEmbedder(Embedder):
    """A vector per crop from its mean colour; enough to store embeddings."""

    name = "mean-colour"
    dim = 4
    input_size = 32
    template = np.array([[11, 12], [21, 12], [16, 17], [12, 23], [20, 23]], np.float32)

    def load(self) -> None:
        self._loaded = True

    def predict(self, crops: np.ndarray) -> np.ndarray:
        v = np.concatenate([crops.reshape(len(crops), -1, 3).mean(1), np.ones((len(crops), 1))], 1)
        return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


class BrightnessAges(AgeEstimator):
    """Reads a chip's apparent age from its mean brightness (0..255 -> 0..80
    years), without weights; counts the chips it was given."""

    def __init__(self) -> None:
        super().__init__("cpu")
        self.chips = 0

    def predict(self, chips: np.ndarray) -> np.ndarray:
        self.chips += len(chips)
        return (chips.reshape(len(chips), -1).mean(1) / 255.0 * 80.0).astype(np.float32)
