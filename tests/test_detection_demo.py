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
