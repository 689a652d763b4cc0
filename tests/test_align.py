"""Alignment puts the five landmarks where each embedder's template expects them."""

import cv2
import numpy as np
import pytest

from engine.align import AlignError, align_faces, similarity_transform
from engine.models.facenet import FACENET_160
from engine.models.sface import ARCFACE_112

TEMPLATE = np.array(ARCFACE_112, dtype=np.float64)


def _rotate_scale_shift(
    points: np.ndarray, degrees: float, scale: float, shift: tuple
) -> np.ndarray:
    a = np.deg2rad(degrees)
    rotation = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    return points @ rotation.T * scale + np.array(shift)


def _dots(size: tuple[int, int], points: np.ndarray, radius: int) -> np.ndarray:
    """A black RGB image with a white disc at each point."""
    image = np.zeros((size[1], size[0], 3), np.uint8)
    for x, y in points:
        cv2.circle(image, (round(x * 16), round(y * 16)), radius * 16, (255, 255, 255), -1, shift=4)
    return image


def _blob_centres(crop: np.ndarray, near: np.ndarray, window: int) -> np.ndarray:
    """Intensity-weighted centre of the bright pixels around each expected point."""
    gray = crop[:, :, 0].astype(np.float64)
    centres = []
    for x, y in near:
        x0, y0 = int(x) - window, int(y) - window
        patch = gray[y0 : y0 + 2 * window + 1, x0 : x0 + 2 * window + 1]
        ys, xs = np.mgrid[0 : patch.shape[0], 0 : patch.shape[1]]
        centres.append(
            [(xs * patch).sum() / patch.sum() + x0, (ys * patch).sum() / patch.sum() + y0]
        )
    return np.array(centres)


def test_similarity_transform_recovers_a_known_rotation_scale_and_shift() -> None:
    src = TEMPLATE
    dst = _rotate_scale_shift(src, 23.0, 1.7, (40.0, -12.0))
    matrix = similarity_transform(src, dst)
    mapped = np.c_[src, np.ones(5)] @ matrix.T
    np.testing.assert_allclose(mapped, dst, atol=1e-9)
    assert np.hypot(*matrix[0, :2]) == pytest.approx(1.7)


def test_tilted_face_lands_on_the_arcface_template() -> None:
    landmarks = _rotate_scale_shift(TEMPLATE - 56, -30.0, 2.5, (300.0, 220.0))
    image = _dots((640, 480), landmarks, radius=6)
    crop = align_faces(image, [landmarks.astype(np.float32)], template=TEMPLATE, size=112)
    assert crop.shape == (1, 112, 112, 3) and crop.dtype == np.uint8
    np.testing.assert_allclose(_blob_centres(crop[0], TEMPLATE, 5), TEMPLATE, atol=0.5)


def test_huge_face_in_a_big_decode_is_shrunk_without_moving_landmarks() -> None:
    facenet = np.array(FACENET_160)
    landmarks = _rotate_scale_shift(facenet - 80, 10.0, 12.0, (1500.0, 1200.0))
    image = _dots((3000, 2400), landmarks, radius=40)
    crop = align_faces(image, [landmarks], template=facenet, size=160)[0]
    np.testing.assert_allclose(_blob_centres(crop, facenet, 6), facenet, atol=0.6)
    assert crop[facenet[2, 1].astype(int), facenet[2, 0].astype(int)].min() > 200  # not aliased


def test_stretched_crop_still_puts_landmarks_on_the_template() -> None:
    facenet = np.array(FACENET_160)
    natural = facenet.copy()
    natural[:, 0] = (facenet[:, 0] - 80) / 1.3 + 80  # the face as it really is
    landmarks = _rotate_scale_shift(natural - 80, 15.0, 1.5, (200.0, 200.0))
    image = _dots((400, 400), landmarks, radius=5)
    plain = align_faces(image, [landmarks], template=facenet, size=160)[0]
    stretched = align_faces(image, [landmarks], template=facenet, size=160, aspect=1.3)[0]
    np.testing.assert_allclose(_blob_centres(stretched, facenet, 7), facenet, atol=0.7)
    eyes = _blob_centres(plain, facenet, 7)[:2, 0]
    assert eyes[1] - eyes[0] < 0.95 * (facenet[1, 0] - facenet[0, 0])  # unstretched: narrower


def test_several_faces_give_one_crop_each_in_order() -> None:
    left = _rotate_scale_shift(TEMPLATE - 56, 0.0, 1.0, (100.0, 100.0))
    right = _rotate_scale_shift(TEMPLATE - 56, 0.0, 1.0, (300.0, 100.0))
    image = _dots((400, 200), left, radius=3)
    image[:, 200:] = 0
    crops = align_faces(image, [left, right], template=TEMPLATE, size=112)
    assert crops.shape[0] == 2
    assert crops[0].max() == 255 and crops[1].max() == 0


def test_no_faces_give_an_empty_batch() -> None:
    crops = align_faces(np.zeros((50, 50, 3), np.uint8), [], template=TEMPLATE, size=112)
    assert crops.shape == (0, 112, 112, 3)


def test_landmarks_all_on_one_point_are_refused() -> None:
    with pytest.raises(AlignError, match="all one point"):
        align_faces(np.zeros((50, 50, 3), np.uint8), [np.ones((5, 2))], template=TEMPLATE, size=112)


def test_landmarks_of_the_wrong_shape_are_refused() -> None:
    with pytest.raises(AlignError, match=r"shape \(5, 2\)"):
        align_faces(np.zeros((50, 50, 3), np.uint8), [np.ones((4, 2))], template=TEMPLATE, size=112)


def test_align_without_template_or_embedder_says_what_it_needs() -> None:
    with pytest.raises(AlignError, match="embedder, or a template"):
        align_faces(np.zeros((50, 50, 3), np.uint8), [TEMPLATE])
