"""engine.detect: the looks a photo gets, which faces they keep, and turned photos.

The first tests drive ``find_faces`` with scripted detectors on tiny
generated images; the ``slow`` ones run YuNet on the demo album, decoded as
the scan decodes it.
"""

import csv
from pathlib import Path

import numpy as np
import pytest

from engine.detect import find_faces, in_original, second_landmarks
from engine.imageio import decode, read_bytes
from engine.models.base import Detection, Detector
from engine.models.yunet import YuNetDetector

DEMO = Path(__file__).resolve().parent.parent / "resources" / "demo"
NO_FACE = [r["file"] for r in csv.DictReader((DEMO / "labels.csv").open())
           if r["file"].startswith("noface_")]


def face(x: float, y: float, size: float, score: float) -> Detection:
    landmarks = np.array(
        [[x + 0.3 * size, y + 0.4 * size], [x + 0.7 * size, y + 0.4 * size],
         [x + 0.5 * size, y + 0.6 * size], [x + 0.35 * size, y + 0.8 * size],
         [x + 0.65 * size, y + 0.8 * size]],
        np.float32,
    )
    return Detection(box=(x, y, size, size), landmarks=landmarks, score=score)


class ScriptedDetector(Detector):
    """Gives the faces scripted for each image width it is shown; records the widths."""

    name = "scripted"
    score_threshold = 0.8

    def __init__(self, script: dict[int, list[Detection]]) -> None:
        super().__init__()
        self.script = script
        self.widths: list[int] = []

    def load(self) -> None:
        self._loaded = True

    def candidates(self, image: np.ndarray, floor: float) -> list[Detection]:
        self.widths.append(image.shape[1])
        return [d for d in self.script.get(image.shape[1], []) if d.score >= floor]

    def frame_filling(self, image: np.ndarray, floor: float | None = None) -> list[Detection]:
        return []

    def predict(self, image: np.ndarray) -> list[Detection]:
        return self.candidates(image, self.score_threshold)


class UprightOnlyDetector(ScriptedDetector):
    """Sees the white square as a face only while the red dot is above it.

    Every landmark sits on the red dot, so where a landmark comes back says
    whether it was mapped back to the caller's pixels.
    """

    def __init__(self) -> None:
        super().__init__({})

    def candidates(self, image: np.ndarray, floor: float) -> list[Detection]:
        white = np.argwhere((image == 255).all(axis=2))
        red = np.argwhere((image == [255, 0, 0]).all(axis=2))
        if not len(white) or not len(red) or red[0][0] >= white[:, 0].min():
            return []
        (top, left), (bottom, right) = white.min(axis=0), white.max(axis=0)
        dot = np.array([red[0][1] + 0.5, red[0][0] + 0.5], np.float32)
        return [Detection(
            box=(float(left), float(top), float(right - left + 1), float(bottom - top + 1)),
            landmarks=np.tile(dot, (5, 1)),
            score=0.9,
        )]


def blank(width: int = 960, height: int = 640) -> np.ndarray:
    return np.zeros((height, width, 3), np.uint8)


def test_a_weak_face_both_looks_see_is_kept_once() -> None:
    # A 960 px photo is its own detection copy; the second look is 1920 px wide.
    detector = ScriptedDetector({
        960: [face(100, 100, 20, 0.72)],
        1920: [face(202, 198, 40, 0.70)],
    })
    found = find_faces(detector, blank())
    assert detector.widths == [960, 1920]
    assert len(found) == 1
    x, y, w, _ = found[0].box
    assert abs(x - 100.5) < 0.5 and abs(y - 99.5) < 0.5 and abs(w - 20) < 0.5
    assert found[0].score == pytest.approx(0.72)


def test_a_weak_face_only_one_look_sees_is_dropped() -> None:
    detector = ScriptedDetector({960: [face(100, 100, 20, 0.75)], 1920: []})
    assert find_faces(detector, blank()) == []


def test_a_strong_small_face_is_kept_without_confirmation() -> None:
    detector = ScriptedDetector({960: [face(100, 100, 20, 0.9)], 1920: []})
    assert [d.score for d in find_faces(detector, blank())] == [0.9]


def test_a_photo_of_large_faces_gets_one_look_only() -> None:
    detector = ScriptedDetector({960: [face(100, 100, 200, 0.9), face(400, 100, 180, 0.65)]})
    found = find_faces(detector, blank())
    assert detector.widths == [960]
    assert [d.score for d in found] == [0.9]


def test_faces_too_small_to_recognise_are_dropped() -> None:
    detector = ScriptedDetector({960: [face(100, 100, 8, 0.95)], 1920: [face(200, 200, 16, 0.95)]})
    assert find_faces(detector, blank()) == []


def test_a_large_photo_is_searched_on_a_copy_and_answered_in_its_own_pixels() -> None:
    # 1920 px working image: the copy is 960 px, the second look the image itself.
    detector = ScriptedDetector({
        960: [face(100, 100, 20, 0.72)],
        1920: [face(200, 200, 40, 0.72)],
    })
    found = find_faces(detector, blank(1920, 1280))
    assert detector.widths == [960, 1920]
    assert found[0].box == pytest.approx((200, 200, 40, 40))
    assert in_original(found, 0.5)[0].box == pytest.approx((400, 400, 80, 80))


class ScriptedCheck:
    """Calls a face whatever box starts left of ``faces_left_of``; records what it was asked."""

    def __init__(self, faces_left_of: float) -> None:
        self.faces_left_of = faces_left_of
        self.asked: list[tuple[float, float, float, float]] = []

    def confirms(self, image: np.ndarray, faces: list[Detection]) -> list[bool]:
        self.asked += [d.box for d in faces]
        return [d.box[0] < self.faces_left_of for d in faces]


def test_a_weak_face_no_look_confirms_is_kept_when_the_check_calls_it_a_face() -> None:
    detector = ScriptedDetector({960: [face(100, 100, 20, 0.75), face(600, 100, 20, 0.7)],
                                 1920: []})
    check = ScriptedCheck(faces_left_of=300)

    found = find_faces(detector, blank(), check=check)

    assert [(d.box[0], d.score) for d in found] == [(100, 0.75)]
    assert sorted(box[0] for box in check.asked) == [100, 600]


def test_the_check_is_asked_once_per_place_and_never_about_kept_faces() -> None:
    detector = ScriptedDetector({
        # a strong face with a weak box on it, and one weak face both looks
        # see but too weakly to confirm (mean score under CONFIRM)
        960: [face(400, 100, 20, 0.9), face(402, 101, 20, 0.65), face(100, 100, 20, 0.66)],
        1920: [face(201, 199, 40, 0.62)],
    })
    check = ScriptedCheck(faces_left_of=1000)

    found = find_faces(detector, blank(), check=check)

    assert len(check.asked) == 1 and check.asked[0][0] == pytest.approx(100, abs=1)
    assert sorted(d.score for d in found) == [0.66, 0.9]


def test_a_photo_whose_faces_are_all_confirmed_asks_the_check_nothing() -> None:
    detector = ScriptedDetector({960: [face(100, 100, 20, 0.72), face(400, 100, 80, 0.95)],
                                 1920: [face(202, 198, 40, 0.70)]})
    check = ScriptedCheck(faces_left_of=1000)
    assert len(find_faces(detector, blank(), check=check)) == 2
    assert check.asked == []


class FrameFillingDetector(ScriptedDetector):
    """Sees parts of a face that fills the frame as weak faces; the padded
    retry finds the whole face."""

    def frame_filling(self, image: np.ndarray, floor: float | None = None) -> list[Detection]:
        return [face(0, 0, 600, 0.94)]


def test_weak_parts_of_a_face_filling_the_frame_do_not_stand_in_for_the_whole_face() -> None:
    # Parts of the face look like faces to the check too; the padded retry
    # must still be asked, and its whole face wins.
    detector = FrameFillingDetector({960: [face(200, 250, 300, 0.79), face(0, 100, 400, 0.65)]})
    check = ScriptedCheck(faces_left_of=1000)

    found = find_faces(detector, blank(), check=check)

    assert [(d.box, d.score) for d in found] == [((0, 0, 600, 600), 0.94)]


class EdgeFillingDetector(ScriptedDetector):
    """The padded retry finds a face filling the right of the frame at the
    detector's threshold (a profile close up, its ear at the photo's edge)."""

    def frame_filling(self, image: np.ndarray, floor: float | None = None) -> list[Detection]:
        return [face(300, 0, 640, 0.93)]


def test_a_face_filling_the_frame_is_looked_for_when_the_looks_agree_only_on_weak_faces() -> None:
    # The ordinary look and the moved grid agree on a weak face cut by the
    # edge (an ear), and on one at the left edge; nothing reaches the
    # threshold, so the padded retry is asked too. Its whole face is kept,
    # the weak face touching it goes as a part of it, the other stays.
    detector = EdgeFillingDetector({
        960: [face(930, 300, 60, 0.78), face(-20, 300, 60, 0.75)],
        964: [face(934, 304, 60, 0.79), face(-16, 304, 60, 0.75)],
    })
    assert [d.score for d in find_faces(ScriptedDetector(detector.script), blank())] == [
        pytest.approx(0.79), pytest.approx(0.75)]

    found = find_faces(detector, blank())

    assert [(d.box[0], d.score) for d in found] == [
        (300, 0.93), (pytest.approx(-20), pytest.approx(0.75))]


def test_a_weak_face_the_padded_retry_finds_again_stays_as_the_looks_saw_it() -> None:
    detector = EdgeFillingDetector({
        960: [face(340, 5, 630, 0.76)],
        964: [face(344, 9, 630, 0.78)],
    })
    assert [d.score for d in find_faces(ScriptedDetector(detector.script), blank())] == [
        pytest.approx(0.78)]

    found = find_faces(detector, blank())

    assert [(d.box[0], d.score) for d in found] == [(pytest.approx(340), pytest.approx(0.78))]


class WeakFrameFillingDetector(ScriptedDetector):
    """Sees nothing at first; the padded retry sees a face that fills the
    frame, but only under the detector's threshold (a full profile)."""

    def frame_filling(self, image: np.ndarray, floor: float | None = None) -> list[Detection]:
        whole = face(0, 0, 600, 0.72)
        return [whole] if floor is not None and whole.score >= floor else []


def test_a_weak_face_filling_the_frame_is_kept_when_the_check_calls_it_a_face() -> None:
    check = ScriptedCheck(faces_left_of=1000)

    found = find_faces(WeakFrameFillingDetector({}), blank(), check=check)

    assert [(d.box, d.score) for d in found] == [((0, 0, 600, 600), 0.72)]
    assert check.asked == [(0, 0, 600, 600)]


def test_a_weak_face_filling_the_frame_is_dropped_unless_the_check_calls_it_a_face() -> None:
    assert find_faces(WeakFrameFillingDetector({}), blank()) == []
    refusing = ScriptedCheck(faces_left_of=-1)
    assert find_faces(WeakFrameFillingDetector({}), blank(), check=refusing) == []
    assert refusing.asked == [(0, 0, 600, 600)]


def test_a_turned_photo_s_face_wins_over_weak_upright_faces_the_check_confirms() -> None:
    upright = blank(300, 200)
    upright[120:160, 50:90] = 255
    upright[100, 70] = (255, 0, 0)
    image = np.ascontiguousarray(np.rot90(upright, 1))

    class WeakUprightGuess(UprightOnlyDetector):
        def candidates(self, image: np.ndarray, floor: float) -> list[Detection]:
            turned = super().candidates(image, floor)
            return turned or ([face(10, 10, 30, 0.7)] if floor < self.score_threshold else [])

    found = find_faces(WeakUprightGuess(), image, check=ScriptedCheck(faces_left_of=1000))

    assert [d.score for d in found] == [0.9]


def test_a_weak_face_cut_by_the_edge_is_kept_when_the_moved_grid_confirms_it() -> None:
    # A 960 x 640 photo is its own copy; the moved look is 4 px wider and
    # sees the same face 4 px further right and down.
    detector = ScriptedDetector({
        960: [face(930, 300, 60, 0.71)],
        964: [face(934, 304, 60, 0.82)],
    })
    assert find_faces(detector, blank(), edge_look=False) == []
    detector.widths.clear()

    found = find_faces(detector, blank())

    assert detector.widths == [960, 964]
    assert len(found) == 1
    assert found[0].box == pytest.approx((930, 300, 60, 60))
    assert found[0].score == pytest.approx(0.82)


def test_a_weak_face_cut_by_the_edge_that_the_moved_grid_loses_is_dropped() -> None:
    detector = ScriptedDetector({960: [face(930, 300, 60, 0.71)], 964: [face(934, 304, 60, 0.6)]})
    assert find_faces(detector, blank()) == []


def test_the_moved_grid_confirms_only_faces_cut_by_the_edge() -> None:
    # The cut face calls for the moved look; the weak face inside the photo
    # is seen by both grids, but only the second look may confirm it.
    detector = ScriptedDetector({
        960: [face(930, 300, 60, 0.71), face(400, 300, 60, 0.75)],
        964: [face(934, 304, 60, 0.82), face(404, 304, 60, 0.75)],
    })
    found = find_faces(detector, blank())
    assert detector.widths == [960, 964]
    assert [d.box[0] for d in found] == [pytest.approx(930)]


def test_a_photo_without_weak_faces_at_its_edges_gets_no_moved_look() -> None:
    detector = ScriptedDetector({960: [face(930, 300, 60, 0.9), face(400, 300, 60, 0.7)]})
    assert len(find_faces(detector, blank())) == 1
    assert detector.widths == [960]


def mirrored(x: float, y: float, size: float, score: float, width: int = 960) -> Detection:
    """``face(x, y, size, score)`` as the detector sees it on the photo mirrored left to right."""
    seen = face(x, y, size, score)
    landmarks = np.stack([width - seen.landmarks[:, 0], seen.landmarks[:, 1]], axis=1)
    return Detection(
        box=(width - x - size, y, size, size),
        landmarks=landmarks[[1, 0, 2, 4, 3]].astype(np.float32),
        score=score,
    )


class MirrorScriptedDetector(ScriptedDetector):
    """Gives ``mirror_script`` for an image whose top-left pixel is marked, else the script."""

    def __init__(
        self, script: dict[int, list[Detection]], mirror_script: dict[int, list[Detection]]
    ) -> None:
        super().__init__(script)
        self.mirror_script = mirror_script
        self.mirrored: list[int] = []

    def candidates(self, image: np.ndarray, floor: float) -> list[Detection]:
        if image[0, 0, 0] == 1:
            self.mirrored.append(image.shape[1])
            return [d for d in self.mirror_script.get(image.shape[1], []) if d.score >= floor]
        return super().candidates(image, floor)


def marked_right(width: int = 960, height: int = 640) -> np.ndarray:
    """A blank photo whose top-right pixel becomes the top-left one of its mirror image."""
    image = blank(width, height)
    image[0, -1, 0] = 1
    return image


def test_a_weak_face_of_ordinary_size_is_kept_when_the_mirrored_look_confirms_it() -> None:
    detector = MirrorScriptedDetector(
        {960: [face(400, 300, 60, 0.72)]}, {960: [mirrored(402, 300, 60, 0.74)]}
    )
    assert find_faces(detector, marked_right()) == []
    assert detector.mirrored == []

    found = find_faces(detector, marked_right(), mirror_look=True)

    assert detector.mirrored == [960]
    assert len(found) == 1
    assert found[0].box[0] == pytest.approx(401, abs=0.1)
    assert found[0].score == pytest.approx(0.74)


def test_a_weak_face_the_mirrored_look_does_not_see_stays_dropped() -> None:
    detector = MirrorScriptedDetector(
        {960: [face(400, 300, 60, 0.72)]}, {960: [mirrored(100, 300, 60, 0.9)]}
    )
    assert find_faces(detector, marked_right(), mirror_look=True) == []
    assert detector.mirrored == [960]


def test_a_photo_without_weak_faces_gets_no_mirrored_look() -> None:
    detector = MirrorScriptedDetector(
        {960: [face(400, 300, 60, 0.9)]}, {960: [mirrored(400, 300, 60, 0.9)]}
    )
    assert len(find_faces(detector, marked_right(), mirror_look=True)) == 1
    assert detector.mirrored == []


def test_a_face_the_mirrored_look_confirms_keeps_its_landmarks_right_eye_first() -> None:
    # Both looks see the same face to the pixel: the kept face, their
    # score-weighted mean, is that face only if the mirrored look's box and
    # landmarks came back in the photo's pixels and order.
    expected = face(400, 300, 60, 0.72)
    detector = MirrorScriptedDetector({960: [expected]}, {960: [mirrored(400, 300, 60, 0.9)]})
    [found] = find_faces(detector, marked_right(), mirror_look=True)
    assert found.box == pytest.approx(expected.box)
    np.testing.assert_allclose(found.landmarks, expected.landmarks, atol=1e-4)
    assert found.score == pytest.approx(0.9)


def test_a_weak_small_face_is_kept_when_the_mirrored_second_look_confirms_it() -> None:
    # The 20 px face calls for the 1920 px second look, which misses it; the
    # mirror image of that look sees it.
    detector = MirrorScriptedDetector(
        {960: [face(100, 100, 20, 0.72)]}, {1920: [mirrored(200, 200, 40, 0.74, width=1920)]}
    )
    assert find_faces(detector, marked_right(), mirror_look=True) == []

    found = find_faces(detector, marked_right(), mirror_detail=True)

    assert detector.mirrored == [1920]
    assert [d.box for d in found] == [pytest.approx((100, 100, 20, 20))]


@pytest.mark.parametrize("quarter", [1, 2, 3])
def test_a_turned_photo_is_found_with_box_and_landmarks_in_its_own_pixels(
    quarter: int,
) -> None:
    upright = blank(300, 200)
    upright[120:160, 50:90] = 255  # the "face"
    upright[100, 70] = (255, 0, 0)  # above it: upright
    image = np.ascontiguousarray(np.rot90(upright, quarter))
    detector = UprightOnlyDetector()
    assert find_faces(detector, image, turns=False) == []

    found = find_faces(detector, image)

    white = np.argwhere((image == 255).all(axis=2))
    (top, left), (bottom, right) = white.min(axis=0), white.max(axis=0)
    assert found[0].box == pytest.approx((left, top, right - left + 1, bottom - top + 1))
    red = np.argwhere((image == [255, 0, 0]).all(axis=2))[0]
    assert found[0].landmarks[0] == pytest.approx([red[1] + 0.5, red[0] + 0.5])


class UprightLandmarks:
    """A landmark network that reads upright faces only: it places the points
    of a face whose red dot (its forehead) is above the white square, at fixed
    fractions of the box, and refuses a face shown any other way."""

    name = "upright-only"

    def __init__(self) -> None:
        self.asked: list[list[tuple[float, float, float, float]]] = []

    def landmarks(
        self, image: np.ndarray, boxes: list[tuple[float, float, float, float]]
    ) -> np.ndarray:
        self.asked.append(boxes)
        white = np.argwhere((image == 255).all(axis=2))
        red = np.argwhere((image == [255, 0, 0]).all(axis=2))
        assert red[0][0] < white[:, 0].min(), "shown a face that is not upright"
        fractions = np.array([[0.3, 0.4], [0.7, 0.4], [0.5, 0.6], [0.35, 0.8], [0.65, 0.8]])
        return np.stack([[x, y] + fractions * [w, h] for x, y, w, h in boxes])


def test_second_landmarks_are_the_mean_of_the_detector_s_and_the_other_network_s() -> None:
    image = blank(300, 200)
    image[120:160, 50:90] = 255
    image[100, 70] = (255, 0, 0)
    first = face(50.0, 120.0, 40.0, 0.9)
    shift = np.array([4.0, -2.0], np.float32)
    moved = Detection(box=first.box, landmarks=first.landmarks + shift, score=0.9)
    opinion = UprightLandmarks()

    (refined,) = second_landmarks(image, [moved], opinion)

    assert refined.landmarks == pytest.approx(first.landmarks + shift / 2)
    assert (refined.box, refined.score) == (moved.box, moved.score)
    assert second_landmarks(image, [], opinion) == [] and len(opinion.asked) == 1


@pytest.mark.parametrize("quarter", [1, 2, 3])
def test_a_face_lying_on_its_side_is_shown_to_the_landmark_network_upright(
    quarter: int,
) -> None:
    upright = blank(300, 200)
    upright[120:160, 50:90] = 255
    upright[100, 70] = (255, 0, 0)
    image = np.ascontiguousarray(np.rot90(upright, quarter))
    # The face as a turned look finds it: landmarks in the sideways photo's pixels.
    expected = face(50.0, 120.0, 40.0, 0.9).landmarks
    height, width = upright.shape[:2]
    x, y = expected[:, 0], expected[:, 1]
    sideways = {
        1: np.stack([y, width - x], axis=1),
        2: np.stack([width - x, height - y], axis=1),
        3: np.stack([height - y, x], axis=1),
    }[quarter]
    white = np.argwhere((image == 255).all(axis=2))
    (top, left), (bottom, right) = white.min(axis=0), white.max(axis=0)
    box = (float(left), float(top), float(right - left + 1), float(bottom - top + 1))
    found = Detection(box=box, landmarks=sideways.astype(np.float32), score=0.9)

    (refined,) = second_landmarks(image, [found], UprightLandmarks())

    # The network saw the face upright and placed the same points; back in
    # the sideways photo's pixels they agree with the detector's.
    assert refined.landmarks == pytest.approx(sideways, abs=1e-4)


# -- the real detector on the demo album ----------------------------------------


class CountingYuNet(YuNetDetector):
    """YuNet that records the widths of the images it is shown."""

    def __init__(self) -> None:
        super().__init__()
        self.widths: list[int] = []

    def candidates(self, image: np.ndarray, floor: float) -> list[Detection]:
        self.widths.append(image.shape[1])
        return super().candidates(image, floor)


@pytest.fixture(scope="module")
def yunet() -> YuNetDetector:
    return YuNetDetector()


def working_image(name: str) -> np.ndarray:
    """The photo as the scan decodes it."""
    return decode(read_bytes(str(DEMO / name)), min_side=960).image


@pytest.mark.slow
def test_a_portrait_lying_on_its_side_is_found_with_landmarks_on_its_face(
    yunet: YuNetDetector,
) -> None:
    upright = working_image("obama_1.jpg")
    width = upright.shape[1]
    expected = find_faces(yunet, upright)[0]
    sideways = np.ascontiguousarray(np.rot90(upright))  # turned a quarter counter-clockwise
    assert find_faces(yunet, sideways, turns=False) == []

    found = find_faces(yunet, sideways)

    assert len(found) == 1
    # A point (x, y) of the upright photo is (y, width - x) of the sideways one.
    moved = np.stack([expected.landmarks[:, 1], width - expected.landmarks[:, 0]], axis=1)
    # The turns look at a smaller copy than the upright search: a box drawn
    # at another scale moves more than the landmarks do.
    tolerance = 0.05 * expected.box[2]
    assert np.abs(found[0].landmarks - moved).max() < tolerance
    x, y, w, h = found[0].box
    assert (x, y, w, h) == pytest.approx(
        (expected.box[1], width - expected.box[0] - expected.box[2], expected.box[3],
         expected.box[2]),
        abs=2 * tolerance,
    )


@pytest.mark.slow
def test_the_jockeys_small_face_is_found_by_the_second_look() -> None:
    detector = CountingYuNet()
    image = working_image("jockey.jpg")
    assert find_faces(detector, image, second_look=False) == []
    detector.widths.clear()

    found = find_faces(detector, image)

    assert len(found) == 1
    assert len(detector.widths) == 2 and detector.widths[1] > detector.widths[0]


@pytest.mark.slow
def test_a_group_photo_without_small_faces_gets_one_look() -> None:
    detector = CountingYuNet()
    found = find_faces(detector, working_image("group_meeting.jpg"))
    assert len(detector.widths) == 1
    assert len(found) == 4


@pytest.mark.slow
def test_apollo_11_crew_photo_still_gives_three_faces(yunet: YuNetDetector) -> None:
    assert len(find_faces(yunet, working_image("group_apollo11_crew.jpg"))) == 3


@pytest.mark.slow
@pytest.mark.parametrize("name", NO_FACE)
def test_photo_without_people_gets_no_face_upright_or_turned(
    yunet: YuNetDetector, name: str
) -> None:
    assert find_faces(yunet, working_image(name)) == []
