"""engine.models.mtcnn: MTCNN's second opinion on the detector's weak faces,
run on the demo album's photos decoded as the scan decodes them."""

from pathlib import Path

import numpy as np
import pytest

from engine.analyse import Analyser
from engine.errors import ModelError
from engine.imageio import decode, read_bytes
from engine.models.mtcnn import MtcnnCheck
from engine.models.yunet import YuNetDetector
from tests.standins import MeanColourEmbedder

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
