"""engine.models.mtcnn: MTCNN's second opinion on the detector's weak faces,
run on the demo album's photos decoded as the scan decodes them."""

from pathlib import Path

import numpy as np
import pytest

from engine.analyse import Analyser
from engine.detect import find_faces, second_landmarks
from engine.errors import ModelError
from engine.imageio import decode, read_bytes
from engine.models.mtcnn import MtcnnCheck
from engine.models.yunet import YuNetDetector
from tests.standins import FaceAt, MeanColourEmbedder

DEMO = Path(__file__).resolve().parent.parent / "resources" / "demo"


def working_image(name: str) -> np.ndarray:
    return decode(read_bytes(str(DEMO / name)), min_side=960).image


@pytest.fixture(scope="module")
def check() -> MtcnnCheck:
    return MtcnnCheck()


@pytest.fixture(scope="module")
def yunet() -> YuNetDetector:
    return YuNetDetector()


@pytest.mark.slow
@pytest.mark.parametrize("name", ["obama_1.jpg", "group_meeting.jpg", "jockey.jpg"])
def test_the_faces_yunet_finds_are_faces_to_mtcnn_too(
    check: MtcnnCheck, yunet: YuNetDetector, name: str
) -> None:
    image = working_image(name)
    faces = yunet.candidates(image, 0.75)
    assert faces
    assert check.confirms(image, faces) == [True] * len(faces)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["noface_hubble.jpg", "noface_teddy_bear.jpg"])
def test_the_weak_false_faces_of_photos_without_people_are_refused(
    check: MtcnnCheck, yunet: YuNetDetector, name: str
) -> None:
    # The galaxy scores 0.68 for YuNet, the teddy bear 0.61: weak candidates
    # a second look could have confirmed.
    image = working_image(name)
    weak = yunet.candidates(image, 0.6)
    assert weak
    assert check.confirms(image, weak) == [False] * len(weak)


@pytest.mark.slow
def test_a_face_cut_by_the_photo_s_edge_is_read_with_black_beyond_it(
    check: MtcnnCheck, yunet: YuNetDetector
) -> None:
    image = working_image("obama_1.jpg")
    (face,) = yunet.candidates(image, 0.75)
    x, w = face.box[0], face.box[2]
    # The photo cut through the middle of the face, as a crop would leave it.
    cut = np.ascontiguousarray(image[:, : int(x + w / 2)])
    scores = check.scores(cut, [face.box, (-50.0, -50.0, 40.0, 40.0)])
    assert scores.shape == (2, 2) and np.isfinite(scores).all()
    assert scores[1].max() < 0.7  # nothing but black


def _height(landmarks: np.ndarray) -> float:
    """The eyes' centre to the mouth's: a face's size that turning it leaves alone."""
    return float(np.linalg.norm(landmarks[:2].mean(axis=0) - landmarks[3:].mean(axis=0)))


@pytest.mark.slow
@pytest.mark.parametrize("name", ["obama_1.jpg", "group_meeting.jpg", "jockey.jpg"])
def test_onet_places_yunet_s_five_points_in_yunet_s_order(
    check: MtcnnCheck, yunet: YuNetDetector, name: str
) -> None:
    image = working_image(name)
    faces = yunet.candidates(image, 0.75)
    assert faces

    placed = check.landmarks(image, [d.box for d in faces])

    assert placed.shape == (len(faces), 5, 2) and placed.dtype == np.float32
    for det, points in zip(faces, placed, strict=True):
        # Each of ONet's points is nearest YuNet's point of the same name, and
        # near it: the two networks differ by a fraction of the face's height.
        apart = np.linalg.norm(points[:, None] - det.landmarks[None], axis=2)
        assert (apart.argmin(axis=1) == np.arange(5)).all(), (name, apart)
        assert np.diag(apart).max() < 0.4 * _height(det.landmarks), (name, apart)


@pytest.mark.slow
def test_a_sideways_portrait_gets_the_landmarks_of_its_upright_self(
    check: MtcnnCheck, yunet: YuNetDetector
) -> None:
    upright = working_image("obama_1.jpg")
    width = upright.shape[1]
    (expected,) = second_landmarks(upright, find_faces(yunet, upright), check)
    sideways = np.ascontiguousarray(np.rot90(upright))  # a quarter counter-clockwise
    (found,) = find_faces(yunet, sideways)

    (refined,) = second_landmarks(sideways, [found], check)

    # A point (x, y) of the upright photo is (y, width - x) of the sideways one.
    moved = np.stack([expected.landmarks[:, 1], width - expected.landmarks[:, 0]], axis=1)
    # As for the detector alone: the turns look at a smaller copy.
    assert np.abs(refined.landmarks - moved).max() < 0.05 * expected.box[2]


@pytest.mark.slow
def test_the_scan_aligns_yunet_s_faces_on_the_mean_of_both_networks_points() -> None:
    image = working_image("group_meeting.jpg")
    yunet = YuNetDetector()
    plain = find_faces(yunet, image, check=MtcnnCheck())
    placed = MtcnnCheck().landmarks(image, [d.box for d in plain])
    analyser = Analyser(yunet, MeanColourEmbedder(), {"detect": 0.0})

    _, landmarks = analyser._detect(
        decode(read_bytes(str(DEMO / "group_meeting.jpg")), min_side=960)
    )

    assert len(landmarks) == len(plain)
    for got, det, onet in zip(landmarks, plain, placed, strict=True):
        assert got == pytest.approx((det.landmarks + onet) / 2, abs=1e-3)


def test_a_detector_that_does_not_ask_keeps_its_own_landmarks() -> None:
    analyser = Analyser(FaceAt((0.2, 0.2, 0.5, 0.5)), MeanColourEmbedder(), {"detect": 0.0})
    assert analyser.landmark_opinion is None


def test_no_faces_need_no_networks() -> None:
    fresh = MtcnnCheck()
    assert fresh.confirms(np.zeros((10, 10, 3), np.uint8), []) == []
    assert fresh._nets == {}


def test_an_image_that_is_not_rgb_is_a_clear_error(check: MtcnnCheck) -> None:
    with pytest.raises(ModelError, match="RGB uint8"):
        check.scores(np.zeros((10, 10), np.float32), [(0.0, 0.0, 5.0, 5.0)])


def test_the_scan_asks_mtcnn_by_default() -> None:
    analyser = Analyser(YuNetDetector(), MeanColourEmbedder(), {"detect": 0.0})
    assert isinstance(analyser.face_check, MtcnnCheck)


@pytest.mark.slow
def test_a_ray_worker_loads_the_check_before_the_scan_starts() -> None:
    # A worker whose networks cannot load must fail at the start, not halfway.
    from engine.ray_scan import ScanWorker

    worker = ScanWorker("yunet", "sface", "cpu")
    worker.ready()
    check = worker.analyser.face_check
    assert isinstance(check, MtcnnCheck) and set(check._nets) == {"mtcnn-rnet", "mtcnn-onet"}
