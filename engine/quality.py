"""How usable a face is for recognition: its size and its sharpness; and how far it is turned.

The figure is a heuristic in [0, 1] for ranking faces (covers, suggestions,
training) and for letting a user hide tiny or blurred faces; it never decides
whether a face exists. ``yaw`` estimates from the five landmarks how far a
face is turned away; it is not part of the figure (see ``yaw``).
"""

import math

import numpy as np


class _FaceQuality:
    # Faces whose short side is at least this many pixels count as full size.
    full_size_px = 112.0
    smallest_px = 16.0
    # Laplacian variance of a 112 px aligned crop that counts as sharp.
    sharp_variance = 400.0
    # A mean face in units of its eye-to-mouth height (the 3-D model behind the
    # usual five-point head-pose fits): eye centres this far apart, the nose
    # tip this far in front of the eyes' and mouth corners' middle. The eye
    # span matches the median of YuNet's landmarks on CFP's frontal photos.
    eye_span = 1.0
    nose_depth = 0.41

    def sharpness(self, crop: np.ndarray) -> float:
        """Variance of the Laplacian of an aligned RGB crop (higher is sharper)."""
        # Imported here: the clustering reads poses from this module, and the
        # CLI's help, which imports the clustering, must not load OpenCV.
        import cv2

        grey = cv2.cvtColor(np.ascontiguousarray(crop), cv2.COLOR_RGB2GRAY)
        return float(cv2.Laplacian(grey, cv2.CV_32F).var())

    def score(self, box: tuple[float, float, float, float], sharpness: float) -> float:
        short = min(box[2], box[3])
        size = (short - self.smallest_px) / (self.full_size_px - self.smallest_px)
        size = min(max(size, 0.0), 1.0)
        sharp = min(math.log1p(max(sharpness, 0.0)) / math.log1p(self.sharp_variance), 1.0)
        return round(0.5 * size + 0.5 * sharp, 4)

    def yaw(self, landmarks: np.ndarray) -> float:
        """How far the face is turned left or right, in degrees: 0 frontal, 90 a full profile.

        ``landmarks``: the detector's five points (eyes, nose tip, mouth
        corners) in pixels. Seen from the side, a face turned by ``a`` shows
        its eye span shortened to ``eye_span * cos(a)`` and its nose tip moved
        off the eye-mouth midline by ``nose_depth * sin(a)``, both measured
        across the eye-to-mouth line and over its length, which a turn leaves
        alone and a nod shortens for both alike; so ``a`` is the angle whose
        tangent is their ratio, and a tilted photo reads as its face does.
        Detectors place the hidden eye of a profile where it would be, so a
        full profile reads about 60 degrees (CFP: frontal photos 99 % under
        20, profiles 95 % over 40).

        Not part of ``score``: counting profiles as weak faces in clustering
        cost CFP far more recall than it won precision (``bench/clustering.py
        --set cfp``), as a profile's nearest faces are mostly its own person's.
        """
        points = np.asarray(landmarks, dtype=np.float64)
        if points.shape != (5, 2) or not np.isfinite(points).all():
            raise ValueError(f"expected five finite (x, y) landmarks; got shape {points.shape}")
        return float(self.yaws(points[None])[0])

    def yaws(self, landmarks: np.ndarray) -> np.ndarray:
        """``yaw`` of many faces at once: landmarks (N, 5, 2) -> degrees (N,);
        NaN where a face's landmarks are not finite."""
        points = np.asarray(landmarks, dtype=np.float64).reshape(-1, 5, 2)
        eyes, nose, mouth = points[:, :2].mean(axis=1), points[:, 2], points[:, 3:].mean(axis=1)
        down = mouth - eyes
        height = np.hypot(down[:, 0], down[:, 1])
        flat = ~(height >= 1e-6)
        height = np.where(flat, 1.0, height)
        across = np.stack([down[:, 1], -down[:, 0]], axis=1) / height[:, None]
        span = np.abs(np.einsum("ij,ij->i", points[:, 1] - points[:, 0], across)) / height
        offset = np.abs(np.einsum("ij,ij->i", nose - (eyes + mouth) / 2, across)) / height
        angle = np.degrees(np.arctan2(offset / self.nose_depth, span / self.eye_span))
        # Eyes on the mouth: no face shape to read, count it as turned away.
        angle = np.where(flat, 90.0, angle)
        return np.asarray(np.where(np.isfinite(points).all(axis=(1, 2)), angle, np.nan))

face_quality = _FaceQuality()
