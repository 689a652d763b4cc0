"""YuNet's torch port against OpenCV's YuNet: the same faces, on any torch device."""

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper
from onnx import save as save_onnx
from PIL import Image

from engine.detect import DETECT_SIDE, FLOOR, find_faces
from engine.errors import ModelError
from engine.imageio import decode
from engine.models import yunet_torch
from engine.models.base import Detection
from engine.models.yunet import YuNetDetector
from engine.models.yunet_torch import (
    YuNetNet,
    YuNetTorchDetector,
    convert_onnx,
    padded_input,
    yunet_2023mar,
)

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "resources" / "demo"
WIDER = REPO.parent / "shared" / "data" / "wider-dev" / "images"
# What "the same face" means between the two runtimes: float32 arithmetic in
# another order, nothing more.
PIXELS = 1e-3
SCORE = 1e-4


# One torch thread, and converted weights in a cache of this test session's own.
pytestmark = pytest.mark.usefixtures("private_model_cache")


@pytest.fixture(scope="module")
def detectors() -> tuple[YuNetDetector, YuNetTorchDetector]:
    return YuNetDetector(), YuNetTorchDetector(torch.device("cpu"))


def _rgb(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def _assert_same_faces(expected: list[Detection], found: list[Detection], where: str) -> None:
    assert len(found) == len(expected), f"{where}: {len(expected)} faces, torch {len(found)}"
    for a, b in zip(expected, found, strict=True):
        box = float(np.abs(np.subtract(a.box, b.box)).max())
        points = float(np.abs(a.landmarks - b.landmarks).max())
        assert box < PIXELS and points < PIXELS, f"{where}: box {box} px, landmarks {points} px"
        assert abs(a.score - b.score) < SCORE, f"{where}: scores {a.score} and {b.score}"


def _one_face_outputs(cells: dict[tuple[int, int], tuple[float, list[float]]]) -> list:
    """Network outputs of a 64 x 64 input with faces only in the given stride-8 cells.

    ``cells`` maps (row, column) to (score, [dx, dy, log w, log h]); every
    landmark sits at the cell's corner plus (0.5, 0.5) cells.
    """
    outputs = []
    for stride in (8, 16, 32):
        side = 64 // stride
        cls = torch.zeros(1, 1, side, side)
        obj = torch.ones(1, 1, side, side)
        box = torch.zeros(1, 4, side, side)
        kps = torch.full((1, 10, side, side), 0.5)
        if stride == 8:
            for (row, col), (score, offsets) in cells.items():
                cls[0, 0, row, col] = score**2  # score = sqrt(cls * obj)
                box[0, :, row, col] = torch.tensor(offsets)
        outputs.append((cls, obj, box, kps))
    return outputs


def test_a_face_is_decoded_where_opencv_puts_it() -> None:
    # Cell (row 2, column 3) of stride 8: centre ((3 + 0.5) * 8, (2 + 0.25) * 8)
    # = (28, 18), size (2 * 8, 3 * 8) = (16, 24), so the box starts at (20, 6).
    outputs = _one_face_outputs({(2, 3): (0.9, [0.5, 0.25, math.log(2.0), math.log(3.0)])})
    (faces,) = yunet_torch.decode(outputs, 0.8, 0.3)
    assert faces.shape == (1, 15)
    np.testing.assert_allclose(faces[0, :4].numpy(), [20.0, 6.0, 16.0, 24.0], atol=1e-5)
    np.testing.assert_allclose(faces[0, 4:14].numpy(), [28.0, 20.0] * 5, atol=1e-5)
    assert faces[0, 14].item() == pytest.approx(0.9)


def test_overlapping_weaker_faces_are_suppressed_and_others_kept_best_first() -> None:
    size = [0.0, 0.0, math.log(2.0), math.log(2.0)]  # 16 x 16 px boxes
    outputs = _one_face_outputs(
        {
            (2, 2): (0.85, size),
            (2, 3): (0.95, size),  # 8 px to the right: IoU 1/3 > 0.3 with (2, 2)
            (6, 6): (0.82, size),  # far from both
            (0, 7): (0.5, size),  # under the floor
        }
    )
    (faces,) = yunet_torch.decode(outputs, 0.8, 0.3)
    np.testing.assert_allclose(faces[:, 14].numpy(), [0.95, 0.82], atol=1e-6)
    np.testing.assert_allclose(faces[:, 0].numpy(), [(3 * 8) - 8, (6 * 8) - 8], atol=1e-5)
    (weak,) = yunet_torch.decode(outputs, 0.4, 0.3)
    assert len(weak) == 3


def test_input_is_padded_with_black_to_a_multiple_of_32_keeping_channel_order() -> None:
    bgr = torch.randint(1, 256, (2, 33, 70, 3), dtype=torch.uint8)
    x = padded_input(bgr)
    assert x.shape == (2, 3, 64, 96) and x.dtype == torch.float32
    assert torch.equal(x[:, :, :33, :70], bgr.permute(0, 3, 1, 2).float())
    assert x[:, :, 33:].abs().sum() == 0 and x[:, :, :, 70:].abs().sum() == 0


def test_the_network_gives_one_map_per_stride_for_a_batch() -> None:
    with torch.inference_mode():
        out = YuNetNet().eval()(torch.rand(2, 3, 96, 64) * 255)
    assert [tuple(m.shape) for m, *_ in out] == [(2, 1, 12, 8), (2, 1, 6, 4), (2, 1, 3, 2)]
    assert [tuple(k.shape[1:2]) for *_, k in out] == [(10,), (10,), (10,)]


def test_detector_on_a_given_cpu_device_returns_numpy_and_floats(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Untrained weights whose every cell is a certain face one cell wide: no real
    # weights needed.
    state = yunet_2023mar().state_dict()
    for head in ("cls", "obj", "box", "kps"):
        for i in range(3):
            state[f"{head}.{i}.conv2.weight"].zero_()
            state[f"{head}.{i}.conv2.bias"].fill_(20.0 if head in ("cls", "obj") else 0.0)
    monkeypatch.setattr(yunet_torch, "load_state_dict_cached", lambda card, convert: state)
    detector = YuNetTorchDetector(torch.device("cpu"))
    image = np.random.default_rng(0).integers(0, 256, (50, 70, 3), dtype=np.uint8)
    found = detector.candidates(image, FLOOR)
    assert {p.device for p in detector.network.parameters()} == {torch.device("cpu")}
    assert found and all(isinstance(d, Detection) for d in found)
    for det in found:
        assert all(type(v) is float for v in det.box) and type(det.score) is float
        assert isinstance(det.landmarks, np.ndarray)
        assert det.landmarks.dtype == np.float32 and det.landmarks.shape == (5, 2)
    assert [d.score for d in found] == sorted((d.score for d in found), reverse=True)


def test_a_file_that_is_not_yunet_is_refused_saying_so(tmp_path: Path) -> None:
    weight = numpy_helper.from_array(np.zeros((4, 3, 3, 3), np.float32), "w")
    bias = numpy_helper.from_array(np.zeros(4, np.float32), "b")
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w", "b"], ["y"], pads=[1, 1, 1, 1])],
        "other",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 8, 8])],
        [weight, bias],
    )
    path = tmp_path / "other.onnx"
    save_onnx(helper.make_model(graph), str(path))
    with pytest.raises(ModelError, match="not the YuNet 2023mar model"):
        convert_onnx(path)


@pytest.mark.slow
def test_every_demo_face_matches_opencv_yunet(
    detectors: tuple[YuNetDetector, YuNetTorchDetector],
) -> None:
    reference, port = detectors
    photos = sorted(DEMO.glob("*.jpg"))
    faces = 0
    for path in photos:
        image = _rgb(path)
        expected = reference.candidates(image, FLOOR)
        _assert_same_faces(expected, port.candidates(image, FLOOR), path.name)
        _assert_same_faces(reference.predict(image), port.predict(image), f"{path.name} predict")
        faces += len(expected)
    assert len(photos) > 40 and faces > 40  # the album, not an empty folder


@pytest.mark.slow
def test_the_scans_search_finds_the_same_faces_with_either(
    detectors: tuple[YuNetDetector, YuNetTorchDetector],
) -> None:
    reference, port = detectors
    for path in sorted(DEMO.glob("*.jpg")):
        image = decode(path.read_bytes(), min_side=DETECT_SIDE).image
        _assert_same_faces(find_faces(reference, image), find_faces(port, image), path.name)


@pytest.mark.slow
def test_crowds_of_small_faces_match_opencv_yunet(
    detectors: tuple[YuNetDetector, YuNetTorchDetector],
) -> None:
    if not WIDER.is_dir():
        pytest.skip(f"the WIDER FACE dev photos are not at {WIDER}")
    reference, port = detectors
    faces = 0
    for path in sorted(WIDER.rglob("*.jpg")):
        image = _rgb(path)
        expected = reference.candidates(image, FLOOR)
        _assert_same_faces(expected, port.candidates(image, FLOOR), path.name)
        faces += len(expected)
    assert faces > 1000
