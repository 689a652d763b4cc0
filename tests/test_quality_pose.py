"""How far a face is turned, read from its five landmarks (``face_quality.yaw``).

The landmarks are those of a mean face (eye span and nose depth as the
estimate assumes) turned about its vertical axis and seen from far away, so
the reading can be checked against the angle that made it.
"""

import math

import numpy as np
import pytest

from engine.quality import face_quality

# Eyes, nose tip, mouth corners of a face one unit from eyes to mouth, x across,
# y down, z towards the camera.
_MEAN_FACE = np.array([
    [-0.5, 0.0, 0.0],
    [0.5, 0.0, 0.0],
    [0.0, 0.5, face_quality.nose_depth],
    [-0.4, 1.0, 0.0],
    [0.4, 1.0, 0.0],
])


def _seen(turn_degrees: float, tilt_degrees: float = 0.0, size: float = 80.0,
          at: tuple[float, float] = (200.0, 150.0)) -> np.ndarray:
    """Landmarks in pixels of the mean face turned by ``turn``, the photo tilted by ``tilt``."""
    a = math.radians(turn_degrees)
    turned = _MEAN_FACE @ np.array([[math.cos(a), 0.0, -math.sin(a)],
                                    [0.0, 1.0, 0.0],
                                    [math.sin(a), 0.0, math.cos(a)]])
    t = math.radians(tilt_degrees)
    tilt = np.array([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]])
    return np.asarray(turned[:, :2] @ tilt.T * size + np.array(at))


def test_a_face_looking_at_the_camera_reads_as_not_turned() -> None:
    assert face_quality.yaw(_seen(0.0)) == pytest.approx(0.0, abs=0.5)


@pytest.mark.parametrize("turn", [20.0, 45.0, 70.0])
def test_a_turned_face_reads_the_angle_it_is_turned_by(turn: float) -> None:
    assert face_quality.yaw(_seen(turn)) == pytest.approx(turn, abs=1.0)


def test_turning_left_or_right_reads_the_same() -> None:
    assert face_quality.yaw(_seen(-45.0)) == pytest.approx(face_quality.yaw(_seen(45.0)))


def test_a_tilted_photo_or_a_smaller_face_does_not_change_the_reading() -> None:
    upright = face_quality.yaw(_seen(35.0))
    assert face_quality.yaw(_seen(35.0, tilt_degrees=30.0)) == pytest.approx(upright)
    assert face_quality.yaw(_seen(35.0, size=20.0, at=(10.0, 900.0))) == pytest.approx(upright)


def test_a_profile_reads_as_turned_further_than_a_three_quarter_view() -> None:
    assert face_quality.yaw(_seen(85.0)) > face_quality.yaw(_seen(45.0)) + 30.0


def test_landmarks_of_the_wrong_shape_are_refused_with_what_came() -> None:
    with pytest.raises(ValueError, match="five finite"):
        face_quality.yaw(np.zeros((4, 2)))
    with pytest.raises(ValueError, match="five finite"):
        face_quality.yaw(np.full((5, 2), np.nan))


def test_the_quality_score_is_still_size_and_sharpness_alone() -> None:
    # A big sharp face scores 1 whatever its pose: the pose is not in the figure.
    assert face_quality.score((0.0, 0.0, 200.0, 240.0), 1000.0) == 1.0
