"""Faces turned aside are embedded with their mirror image too (test-time
flip), so a profile's embedding depends less on which side the camera saw;
frontal faces are embedded once."""

import numpy as np

from engine.align import align_faces
from engine.analyse import FLIP_TURNED, Analyser, Job, Result
from engine.imageio import Decoded
from engine.models.base import Detection, Detector, Embedder
from engine.people.tagging import measure_face
from engine.quality import face_quality


class SidedEmbedder(Embedder):
    """A vector per crop from the mean colour of its left and right halves, so
    a crop and its mirror image give different vectors."""

    name = "sided"
    dim = 3
    input_size = 32
    template = np.array([[11, 12], [21, 12], [16, 17], [12, 23], [20, 23]], np.float32)

    def __init__(self) -> None:
        super().__init__("cpu")
        self.seen = 0

    def load(self) -> None:
        self._loaded = True

    def predict(self, crops: np.ndarray) -> np.ndarray:
        self.seen += len(crops)
        half = crops.shape[2] // 2
        left = crops[:, :, :half].reshape(len(crops), -1).mean(1)
        right = crops[:, :, half:].reshape(len(crops), -1).mean(1)
        v = np.stack([left, right, np.full(len(crops), 10.0)], axis=1)
        return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


def _crop(left: int, right: int) -> np.ndarray:
    crop = np.zeros((32, 32, 3), np.uint8)
    crop[:, :16] = left
    crop[:, 16:] = right
    return crop


def _flip_average(embedder: SidedEmbedder, crop: np.ndarray) -> np.ndarray:
    mirror = np.ascontiguousarray(crop[None, :, ::-1])
    both = embedder.predict(crop[None]) + embedder.predict(mirror)
    return np.asarray(both[0] / np.linalg.norm(both[0]))


def test_a_turned_face_is_embedded_with_its_mirror_image_and_a_frontal_one_once() -> None:
    embedder = SidedEmbedder()
    analyser = Analyser(TurnedFace(0.0), embedder, {"embed": 0.0})
    frontal, turned = _crop(200, 40), _crop(30, 220)
    vectors = analyser.embed([frontal, turned], turned=[False, True])
    assert embedder.seen == 3  # two crops, one mirror
    assert np.allclose(vectors[0], embedder.predict(frontal[None])[0])
    assert np.allclose(vectors[1], _flip_average(embedder, turned))
    assert not np.allclose(vectors[1], embedder.predict(turned[None])[0])
    # A left and a right profile of one face now meet.
    mirrored = np.ascontiguousarray(turned[:, ::-1])
    assert np.allclose(analyser.embed([mirrored], turned=[True])[0], vectors[1], atol=1e-6)


class TurnedFace(Detector):
    """One face, its landmarks those of a head turned by ``yaw`` degrees."""

    name = "turned"

    def __init__(self, yaw: float) -> None:
        super().__init__("cpu")
        self.yaw = yaw

    def load(self) -> None:
        self._loaded = True

    def predict(self, image: np.ndarray) -> list[Detection]:
        turn = np.radians(self.yaw)
        span, nose = 40.0 * np.cos(turn), 100.0 + 40.0 * 0.41 * np.sin(turn)
        marks = np.array([[100 - span / 2, 80], [100 + span / 2, 80], [nose, 100],
                          [100 - span / 2.5, 120], [100 + span / 2.5, 120]], np.float32)
        return [Detection(box=(60.0, 50.0, 80.0, 90.0), landmarks=marks, score=0.99)]


def test_the_scan_flips_the_faces_it_reads_as_turned() -> None:
    image = np.zeros((200, 200, 3), np.uint8)
    image[:, :100] = 200
    decoded = Decoded(image=image, scale=1.0, width=200, height=200)
    for yaw, flipped in ((5.0, False), (FLIP_TURNED + 15, True)):
        detector = TurnedFace(yaw)
        assert (face_quality.yaw(detector.predict(image)[0].landmarks) >= FLIP_TURNED) == flipped
        embedder = SidedEmbedder()
        analyser = Analyser(detector, embedder, {"detect": 0.0, "align": 0.0, "embed": 0.0})
        result = Result(Job(b"p.jpg", 1, 1, None), decoded=decoded)
        analysis = analyser.analyse(result)
        analyser.embed_all([analysis])
        assert analysis.vectors is not None and len(analysis.vectors) == 1
        assert embedder.seen == (2 if flipped else 1)


class TurnedInTheMiddle(TurnedFace):
    """``TurnedFace``'s face, placed at the same share of whatever image it is shown."""

    def predict(self, image: np.ndarray) -> list[Detection]:
        (face,) = super().predict(image)
        scale = image.shape[1] / 200.0
        x, y, w, h = face.box
        return [Detection(box=(x * scale, y * scale, w * scale, h * scale),
                          landmarks=face.landmarks * scale, score=face.score)]


def test_a_face_drawn_by_hand_is_embedded_as_the_scan_embeds_it() -> None:
    image = np.zeros((200, 200, 3), np.uint8)
    image[:, :100] = 200
    decoded = Decoded(image=image, scale=1.0, width=200, height=200)
    for yaw, flipped in ((5.0, False), (FLIP_TURNED + 15, True)):
        embedder = SidedEmbedder()
        drawn = measure_face(decoded, (60.0, 50.0, 80.0, 90.0), TurnedInTheMiddle(yaw), embedder)
        assert drawn.landmarks is not None
        assert (face_quality.yaw(drawn.landmarks) >= FLIP_TURNED) == flipped
        assert embedder.seen == (2 if flipped else 1)
        crop = align_faces(image, [drawn.landmarks], embedder)
        scanned = Analyser(TurnedFace(yaw), SidedEmbedder(), {"embed": 0.0}).embed(
            list(crop), turned=[flipped]
        )
        assert np.allclose(drawn.embedding, scanned[0], atol=1e-6)
