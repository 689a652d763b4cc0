"""YuNet on the demo album, on the detection-size copy the scan makes (long side <= 960)."""

import csv
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from engine.errors import ModelError
from engine.models.base import Detection
from engine.models.registry import get_detector
from engine.models.yunet import YuNetDetector

pytestmark = pytest.mark.slow  # every test here runs the real detector

DEMO = Path(__file__).resolve().parent.parent / "resources" / "demo"
ROWS = list(csv.DictReader((DEMO / "labels.csv").open()))
SINGLE_PORTRAITS = [
    r["file"] for r in ROWS if r["faces_visual"].startswith("1") and r["file"] != "jockey.jpg"
]
NO_FACE = [r["file"] for r in ROWS if r["file"].startswith("noface_")]


def detection_copy(name: str) -> np.ndarray:
    """The photo as the scan detects it: RGB, long side at most 960 px."""
    with Image.open(DEMO / name) as opened:
        im = opened.convert("RGB")
    im.thumbnail((960, 960), Image.Resampling.BILINEAR)
    return np.asarray(im)


@pytest.fixture(scope="module")
def detector() -> YuNetDetector:
    found = get_detector("yunet")
    assert isinstance(found, YuNetDetector)
    return found


def test_the_album_has_what_these_tests_expect() -> None:
    assert len(SINGLE_PORTRAITS) == 23
    assert len(NO_FACE) == 21


@pytest.mark.parametrize("name", SINGLE_PORTRAITS)
def test_every_single_portrait_face_is_found(detector: YuNetDetector, name: str) -> None:
    faces = detector.predict(detection_copy(name))
    assert faces, f"no face found in {name}"
    best = faces[0]
    x, y, w, h = best.box
    assert best.score >= detector.score_threshold
    inside = (best.landmarks >= [x - 0.1 * w, y - 0.1 * h]) & (
        best.landmarks <= [x + 1.1 * w, y + 1.1 * h]
    )
    assert inside.all(), f"landmarks outside the face box in {name}"


def test_apollo_11_crew_photo_gives_three_faces(detector: YuNetDetector) -> None:
    assert len(detector.predict(detection_copy("group_apollo11_crew.jpg"))) == 3


@pytest.mark.parametrize("name", NO_FACE)
def test_photo_without_people_gets_no_face(detector: YuNetDetector, name: str) -> None:
    assert detector.predict(detection_copy(name)) == []


def test_frame_filling_face_needs_and_gets_the_padded_retry(detector: YuNetDetector) -> None:
    image = detection_copy("portrait_angry.jpg")
    assert YuNetDetector(pad_retry=False).predict(image) == []
    faces = detector.predict(image)
    assert len(faces) == 1
    width = faces[0].box[2]
    assert width > 0.5 * image.shape[1]  # boxes come back in the caller's pixels
    xs = faces[0].landmarks[:, 0]
    assert xs.min() >= 0 and xs.max() <= image.shape[1]


def test_landmarks_come_right_eye_first_in_image_left_to_right(detector: YuNetDetector) -> None:
    face: Detection = detector.predict(detection_copy("obama_1.jpg"))[0]
    right_eye, left_eye, nose, mouth_right, mouth_left = face.landmarks
    assert right_eye[0] < nose[0] < left_eye[0]
    assert mouth_right[0] < mouth_left[0]
    assert max(right_eye[1], left_eye[1]) < nose[1] < min(mouth_right[1], mouth_left[1])


def test_faces_come_best_first(detector: YuNetDetector) -> None:
    scores = [f.score for f in detector.predict(detection_copy("group_meeting.jpg"))]
    assert len(scores) >= 4 and scores == sorted(scores, reverse=True)


def test_a_grey_image_is_refused_with_a_hint(detector: YuNetDetector) -> None:
    with pytest.raises(ModelError, match="RGB uint8"):
        detector.predict(np.zeros((100, 100), np.uint8))


def test_the_padded_retry_resamples_no_more_pixels_than_the_photo_holds(
    detector: YuNetDetector, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It runs on every photo without a face (and on each turned copy of one):
    padding before shrinking made it resample four times the photo's pixels."""
    import engine.models.yunet as yunet

    image = detection_copy("portrait_angry.jpg")
    resampled: list[int] = []
    real = yunet.cv2.resize

    def counting(src: np.ndarray, *args: Any, **kwargs: Any) -> Any:
        resampled.append(src.shape[0] * src.shape[1])
        return real(src, *args, **kwargs)

    monkeypatch.setattr(yunet.cv2, "resize", counting)
    assert len(detector.frame_filling(image)) == 1
    assert resampled and max(resampled) <= image.shape[0] * image.shape[1]


def test_a_small_photo_filled_by_a_face_is_found_brought_up_to_the_retry_side(
    detector: YuNetDetector,
) -> None:
    """A face cut out tight and 90 px tall (a thumbnail, a scanned passport
    photo): padded at its own size the face is only 45 px of the copy, and
    YuNet misses it; brought up to the retry's side first, it is found."""
    import cv2

    from engine.imageio import decode, read_bytes
    from engine.models.yunet import _bgr

    photo = decode(read_bytes(str(DEMO / "group_soccer.jpg"))).image  # 1024 x 682, as scanned
    face = photo[180:228, 118:154]  # the first player's face, cut out tight
    small = cv2.resize(face, (68, 90), interpolation=cv2.INTER_LINEAR)
    assert detector.candidates(small, detector.score_threshold) == []
    assert detector._detect_padded(_bgr(small)) == []  # the one retry there was
    found = detector.frame_filling(small)
    assert len(found) == 1
    x, _, w, h = found[0].box
    assert w > 0.6 * small.shape[1] and h > 0.6 * small.shape[0]  # the whole crop, in its pixels
    assert -0.2 * w < x and x + w < small.shape[1] + 0.2 * w


def test_the_upright_retry_pads_by_a_half_then_a_quarter_and_stops_at_the_first_face(
    detector: YuNetDetector, monkeypatch: pytest.MonkeyPatch
) -> None:
    from engine.models import yunet

    tried: list[tuple[float, int]] = []

    def none(
        bgr: np.ndarray, pad: float = yunet.PAD_RETRY, side: int = 0, floor: float | None = None
    ) -> list[Detection]:
        tried.append((pad, side))
        return []

    monkeypatch.setattr(detector, "_detect_padded", none)
    assert detector.frame_filling(np.zeros((400, 300, 3), np.uint8)) == []
    assert tried == [(0.5, 0), (0.25, 0)]  # large enough: at its own size only
    tried.clear()
    assert detector.frame_filling(np.zeros((90, 70, 3), np.uint8)) == []
    assert tried == [(0.5, 0), (0.25, 0), (0.5, yunet.RETRY_SIDE), (0.25, yunet.RETRY_SIDE)]

    face = Detection(box=(1.0, 1.0, 60.0, 80.0), landmarks=np.zeros((5, 2), np.float32), score=0.9)

    def on_the_quarter(
        bgr: np.ndarray, pad: float = 0.5, side: int = 0, floor: float | None = None
    ) -> list[Detection]:
        tried.append((pad, side))
        return [face] if pad == 0.25 else []

    tried.clear()
    monkeypatch.setattr(detector, "_detect_padded", on_the_quarter)
    assert detector.frame_filling(np.zeros((90, 70, 3), np.uint8)) == [face]
    assert tried == [(0.5, 0), (0.25, 0)]


def test_the_upright_retry_gives_its_weak_faces_only_when_asked_and_none_is_strong(
    detector: YuNetDetector, monkeypatch: pytest.MonkeyPatch
) -> None:
    weak = Detection(box=(1.0, 1.0, 60.0, 80.0), landmarks=np.zeros((5, 2), np.float32), score=0.7)

    def weak_everywhere(
        bgr: np.ndarray, pad: float = 0.5, side: int = 0, floor: float | None = None
    ) -> list[Detection]:
        return [weak] if floor is not None and floor <= weak.score else []

    monkeypatch.setattr(detector, "_detect_padded", weak_everywhere)
    image = np.zeros((90, 70, 3), np.uint8)
    assert detector.frame_filling(image) == []
    assert detector.frame_filling(image, 0.6) == [weak] * 4  # every retry's, for a check
    assert detector.frame_filling(image, 0.75) == []
