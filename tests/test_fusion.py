"""Embedding variants for faces turned aside: an embedder's test-time flip, SFace + FaceNet."""

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from engine.align import align_faces, similarity_transform
from engine.models.facenet import FaceNetEmbedder
from engine.models.fusion import SFACE_WEIGHT, FusionEmbedder, sface_crops
from engine.models.registry import get_detector, get_embedder, model_card
from engine.models.sface import ARCFACE_112, SFaceEmbedder

DEMO = Path(__file__).resolve().parent.parent / "resources" / "demo"


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


def _untrained_sface(*, flip_average: bool) -> SFaceEmbedder:
    """SFace with seeded random weights: the flip's arithmetic needs no real ones."""
    torch.manual_seed(0)
    embedder = SFaceEmbedder(flip_average=flip_average)
    embedder._net = SFaceEmbedder.build().eval().to(memory_format=torch.channels_last)
    embedder._loaded = True
    return embedder


def _untrained_fusion() -> FusionEmbedder:
    torch.manual_seed(0)
    fusion = FusionEmbedder()
    for part in (fusion.sface, fusion.facenet):
        part._net = part.build().eval().to(memory_format=torch.channels_last)
        part._loaded = True
    fusion._loaded = True
    return fusion


def _photo_and_landmarks() -> tuple[np.ndarray, np.ndarray]:
    """A smooth random 400 px picture, and SFace's template turned, scaled and moved into it."""
    noise = np.random.default_rng(3).integers(0, 256, (400, 400, 3), dtype=np.uint8)
    image = cv2.GaussianBlur(noise, (0, 0), 3)
    angle, scale = np.deg2rad(12), 2.3
    turn = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    landmarks = np.asarray(ARCFACE_112) @ turn.T + [120.0, 90.0]
    return image, landmarks.astype(np.float32)


def _crops(count: int) -> np.ndarray:
    return np.random.default_rng(7).integers(0, 256, (count, 112, 112, 3), dtype=np.uint8)


def test_flip_averaged_embeddings_are_unit_vectors() -> None:
    vectors = _untrained_sface(flip_average=True).predict(_crops(5))
    assert vectors.shape == (5, 128) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_a_mirrored_crop_gives_the_same_flip_averaged_embedding() -> None:
    embedder = _untrained_sface(flip_average=True)
    crops = _crops(3)
    np.testing.assert_allclose(
        embedder.predict(crops), embedder.predict(crops[:, :, ::-1]), atol=1e-5
    )


def test_flip_average_is_the_renormalised_sum_of_the_crop_and_its_mirror() -> None:
    plain = _untrained_sface(flip_average=False)
    crops = _crops(3)
    both = plain.predict(crops) + plain.predict(crops[:, :, ::-1])
    expected = both / np.linalg.norm(both, axis=1, keepdims=True)
    np.testing.assert_allclose(
        _untrained_sface(flip_average=True).predict(crops), expected, atol=1e-5
    )


def test_flip_averaging_is_off_by_default_and_named_apart_when_on() -> None:
    plain, flipped = SFaceEmbedder(), SFaceEmbedder(flip_average=True)
    assert not plain.flip_average and plain.name == "sface"
    assert flipped.name == "sface+flip" and flipped.dim == plain.dim
    crops = _crops(2)
    embedder = _untrained_sface(flip_average=False)
    assert not np.allclose(embedder.predict(crops), embedder.predict(crops[:, :, ::-1]))


def test_fused_embeddings_are_unit_vectors_weighing_both_distances() -> None:
    fusion = _untrained_fusion()
    image, landmarks = _photo_and_landmarks()
    canvases = np.concatenate(
        [align_faces(image, [landmarks], fusion), align_faces(image, [landmarks + 9], fusion)]
    )
    fused = fusion.predict(canvases)
    assert fused.shape == (2, 640) and fused.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(fused, axis=1), 1.0, atol=1e-5)
    sface = fusion.sface.predict(sface_crops(canvases))
    facenet = fusion.facenet.predict(fusion.facenet_crops(canvases))
    expected = SFACE_WEIGHT * np.sum((sface[0] - sface[1]) ** 2) + (1 - SFACE_WEIGHT) * np.sum(
        (facenet[0] - facenet[1]) ** 2
    )
    assert np.sum((fused[0] - fused[1]) ** 2) == pytest.approx(expected, abs=1e-5)


def test_each_network_sees_the_face_framed_as_its_own_alignment_frames_it() -> None:
    fusion = FusionEmbedder()
    image, landmarks = _photo_and_landmarks()
    canvas = align_faces(image, [landmarks], fusion)
    for part, crop in (
        (SFaceEmbedder(), sface_crops(canvas)[0]),
        (FaceNetEmbedder(), fusion.facenet_crops(canvas)[0]),
    ):
        direct = align_faces(image, [landmarks], part)[0]
        difference = np.abs(direct.astype(np.float32) - crop.astype(np.float32))
        # Resampled twice instead of once: a little softer, nowhere shifted.
        assert difference.mean() < 2.0, part.name


def test_fusion_is_registered_beside_its_parts_and_reads_no_file() -> None:
    fusion = get_embedder("fusion")
    assert isinstance(fusion, FusionEmbedder) and not fusion._loaded
    assert model_card("fusion").dim == fusion.dim == 128 + 512
    assert fusion.input_size == model_card("fusion").input_size[0]
    shown = similarity_transform(fusion.template, np.asarray(ARCFACE_112))
    assert np.hypot(*shown[0, :2]) == pytest.approx(0.5)  # SFace's frame at twice its scale


@pytest.mark.slow
def test_fusion_keeps_one_person_nearer_than_another_on_real_photos() -> None:
    detector = get_detector("yunet")
    fusion = get_embedder("fusion")
    crops = []
    for name in ("obama_1.jpg", "obama_2.jpg", "chirac_1.jpg"):
        with Image.open(DEMO / name) as im:
            image = np.asarray(im.convert("RGB"))
        crops.append(align_faces(image, [detector.predict(image)[0].landmarks], fusion))
    obama_1, obama_2, chirac = fusion.predict(np.concatenate(crops))
    assert np.sum((obama_1 - obama_2) ** 2) < np.sum((obama_1 - chirac) ** 2)
