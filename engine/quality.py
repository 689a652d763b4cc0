"""How usable a face is for recognition: its size and its sharpness.

The figure is a heuristic in [0, 1] for ranking faces (covers, suggestions,
training) and for letting a user hide tiny or blurred faces; it never decides
whether a face exists.
"""

import math

import cv2
import numpy as np


class _FaceQuality:
    # Faces whose short side is at least this many pixels count as full size.
    full_size_px = 112.0
    smallest_px = 16.0
    # Laplacian variance of a 112 px aligned crop that counts as sharp.
    sharp_variance = 400.0

    def sharpness(self, crop: np.ndarray) -> float:
        """Variance of the Laplacian of an aligned RGB crop (higher is sharper)."""
        grey = cv2.cvtColor(np.ascontiguousarray(crop), cv2.COLOR_RGB2GRAY)
        return float(cv2.Laplacian(grey, cv2.CV_32F).var())

    def score(self, box: tuple[float, float, float, float], sharpness: float) -> float:
        short = min(box[2], box[3])
        size = (short - self.smallest_px) / (self.full_size_px - self.smallest_px)
        size = min(max(size, 0.0), 1.0)
        sharp = min(math.log1p(max(sharpness, 0.0)) / math.log1p(self.sharp_variance), 1.0)
        return round(0.5 * size + 0.5 * sharp, 4)


face_quality = _FaceQuality()
