"""Face alignment: warp each face onto its embedder's 5-point template.

``align_faces`` fits, for every face, the similarity transform (rotation,
uniform scale, translation; Umeyama's least squares) that carries the five
detected landmarks onto the embedder's template, and warps the image with it
into an ``S x S`` crop. An embedder trained on squeezed box crops (FaceNet)
asks for a ``crop_aspect`` above 1: the similarity transform then targets the
template narrowed by that factor and the crop is stretched back across, so
the landmarks still land on the template. Landmarks are in the pixel coordinates of the image
passed here, which may be a larger decode than the copy the detector saw.
When a face is much larger than the crop, its region is first shrunk with
area averaging so that the crop is not aliased. ``landmarks_in_box`` places
the template in a face's box, for a face drawn by hand whose landmarks no
detector found: aligning with them crops the box as the embedder expects.

This module never runs a network and never reads files.
"""

from collections.abc import Sequence

import cv2
import numpy as np

from engine.errors import FaceAlbumError
from engine.models.base import Embedder


class AlignError(FaceAlbumError):
    """Landmarks that cannot define a face's position (wrong shape, all one point)."""


def align_faces(
    image: np.ndarray,
    landmarks: Sequence[np.ndarray],
    embedder: Embedder | None = None,
    *,
    template: np.ndarray | None = None,
    size: int | None = None,
    aspect: float = 1.0,
) -> np.ndarray:
    """(N, S, S, 3) uint8 crops of ``image``'s faces, aligned to the template.

    Give either ``embedder`` (its ``template``, ``input_size`` and
    ``crop_aspect`` are used) or ``template`` (5x2 pixel positions in the
    crop), ``size`` and, if the crop is stretched across, ``aspect``.
    """
    if embedder is not None:
        template, size = embedder.template, embedder.input_size
        aspect = embedder.crop_aspect
    if template is None or size is None:
        raise AlignError(
            "align_faces needs an embedder, or a template and a crop size; got neither"
        )
    dst = np.asarray(template, dtype=np.float64)
    if dst.shape != (5, 2):
        raise AlignError(f"expected a (5, 2) template, got shape {dst.shape}")
    if not aspect > 0:
        raise AlignError(f"expected a positive crop aspect, got {aspect}")
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise AlignError(
            f"expected an RGB uint8 image of shape (H, W, 3), got {image.dtype} {image.shape}"
        )
    crops = np.empty((len(landmarks), size, size, 3), dtype=np.uint8)
    for i, points in enumerate(landmarks):
        crops[i] = _align_one(image, _checked(points), dst, size, aspect)
    return crops


def landmarks_in_box(
    box: Sequence[float], embedder: Embedder | None = None, *,
    template: np.ndarray | None = None, size: int | None = None,
) -> np.ndarray:
    """(5, 2) float32 landmarks: the template's points placed in ``box`` (x, y, w, h).

    Give either ``embedder`` (its ``template`` and ``input_size``) or
    ``template`` and ``size``. The box stands for the whole crop, so the
    aligned crop of these landmarks is the box itself.
    """
    if embedder is not None:
        template, size = embedder.template, embedder.input_size
    if template is None or not size:
        raise AlignError(
            "landmarks_in_box needs an embedder, or a template and a crop size; got neither"
        )
    points = np.asarray(template, dtype=np.float64)
    if points.shape != (5, 2):
        raise AlignError(f"expected a (5, 2) template, got shape {points.shape}")
    x, y, w, h = (float(v) for v in box)
    if not (w > 0 and h > 0):
        raise AlignError(f"expected a box with a positive width and height, got {list(box)}")
    placed = points / float(size) * [w, h] + [x, y]
    return placed.astype(np.float32)


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """2x3 matrix of the similarity transform mapping ``src`` points onto ``dst`` (Umeyama)."""
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    mean_src, mean_dst = src.mean(axis=0), dst.mean(axis=0)
    src_c, dst_c = src - mean_src, dst - mean_dst
    var_src = (src_c**2).sum() / len(src)
    if var_src < 1e-12:
        raise AlignError(f"the landmarks are all one point {mean_src.tolist()}: no face to align")
    cov = dst_c.T @ src_c / len(src)
    u, s, vt = np.linalg.svd(cov)
    d = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[-1] = -1.0  # a reflection is not a similarity; take the nearest rotation
    rotation = u @ np.diag(d) @ vt
    scale = float((s * d).sum() / var_src)
    matrix = np.empty((2, 3))
    matrix[:, :2] = scale * rotation
    matrix[:, 2] = mean_dst - scale * rotation @ mean_src
    return matrix


def _checked(points: np.ndarray) -> np.ndarray:
    src = np.asarray(points, dtype=np.float64)
    if src.shape != (5, 2) or not np.isfinite(src).all():
        raise AlignError(
            f"expected 5 finite (x, y) landmarks, shape (5, 2), got shape {src.shape}; "
            f"pass Detection.landmarks"
        )
    return src


def _crop_matrix(
    src: np.ndarray, dst: np.ndarray, size: int, aspect: float
) -> tuple[np.ndarray, float]:
    """The 2x3 warp into the crop, and the smallest scale it applies along an axis."""
    centre = size / 2
    narrowed = dst.copy()
    narrowed[:, 0] = (dst[:, 0] - centre) / aspect + centre
    matrix = similarity_transform(src, narrowed)
    scale = float(np.hypot(matrix[0, 0], matrix[0, 1]))
    if aspect != 1.0:
        stretch = np.array([[aspect, 0.0, centre * (1 - aspect)], [0.0, 1.0, 0.0], [0, 0, 1]])
        matrix = (stretch @ np.vstack([matrix, [0.0, 0.0, 1.0]]))[:2]
    return matrix, scale * min(aspect, 1.0)


def _align_one(
    image: np.ndarray, src: np.ndarray, dst: np.ndarray, size: int, aspect: float
) -> np.ndarray:
    matrix, scale = _crop_matrix(src, dst, size, aspect)
    if scale < 0.5:
        image, src = _shrunk_region(image, src, matrix, size, scale)
        matrix, _ = _crop_matrix(src, dst, size, aspect)
    return cv2.warpAffine(
        image, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT
    )


def _shrunk_region(
    image: np.ndarray, src: np.ndarray, matrix: np.ndarray, size: int, scale: float
) -> tuple[np.ndarray, np.ndarray]:
    """The part of ``image`` the crop will show, area-shrunk to about crop resolution."""
    inverse = cv2.invertAffineTransform(matrix)
    corners = np.array([[0, 0, 1], [size, 0, 1], [0, size, 1], [size, size, 1]], dtype=np.float64)
    seen = corners @ inverse.T
    height, width = image.shape[:2]
    x0 = int(np.clip(np.floor(seen[:, 0].min()), 0, width - 1))
    y0 = int(np.clip(np.floor(seen[:, 1].min()), 0, height - 1))
    x1 = int(np.clip(np.ceil(seen[:, 0].max()) + 1, x0 + 1, width))
    y1 = int(np.clip(np.ceil(seen[:, 1].max()) + 1, y0 + 1, height))
    region = image[y0:y1, x0:x1]
    out_w = max(1, round((x1 - x0) * scale))
    out_h = max(1, round((y1 - y0) * scale))
    small = cv2.resize(region, (out_w, out_h), interpolation=cv2.INTER_AREA)
    fx, fy = out_w / (x1 - x0), out_h / (y1 - y0)
    # cv2.resize maps pixel centres: x' = (x + 0.5) * f - 0.5
    return small, (src - [x0, y0] + 0.5) * [fx, fy] - 0.5
