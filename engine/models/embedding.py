"""The shared body of every torch embedder: lazy load, batching, devices.

A ``TorchEmbedder`` subclass names its ``ModelCard``, how to convert the
carrier file into a state dict, how to build the network from that state dict
and how to scale uint8 pixels; this module does the rest the same way for all
of them: weights are read on the first ``predict`` (never in ``__init__``),
crops run in batches under ``torch.inference_mode`` in channels-last memory
(faster on CPU too: 10-25 % less CPU time per crop for both networks), and on
CUDA in fp16 autocast. With ``flip_average=True`` each crop's mirror image is
embedded too and the two embeddings are summed and renormalised (test-time
flip: steadier for faces turned aside; twice the network time); its vectors
are not comparable with the plain ones, so such an embedder carries its own
name, ``<card name>+flip``.

On a CPU without native bfloat16, an embedder whose class sets
``opencv_on_cpu`` runs its network on OpenCV's dnn instead of torch: the
torch module is exported to ONNX in memory at load (a fraction of a second)
and OpenCV runs that graph, giving the same embeddings (cosine 0.9999999)
in about 0.55 of torch's CPU time for SFace on an AVX2 CPU. FaceNet ran
slower there and stays on torch. ``FACEALBUM_CPU_OPENCV=0`` keeps torch;
an export OpenCV cannot read falls back to torch.

It must never align faces (``engine.align`` does) nor touch the catalog.
"""

import functools
import io
import logging
import os
import threading
import warnings
from abc import abstractmethod
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn

from engine.errors import ModelError
from engine.models.base import Embedder, inference
from engine.models.weights import ModelCard, StateDict, load_state_dict_cached

# Appended to the card's name by an embedder that averages each crop with its mirror.
FLIP_SUFFIX = "+flip"

log = logging.getLogger(__name__)


class TorchEmbedder(Embedder):
    """An ``Embedder`` whose network is one of our torch modules."""

    card: ModelCard
    batch_size = 8  # larger CPU batches fall out of cache and run slower per crop
    # Whether this network runs faster on OpenCV's dnn than on torch on a CPU
    # without native bfloat16 (measured per network; see the module's text).
    opencv_on_cpu = False

    def __init__(self, device: torch.device | str = "cpu", *, flip_average: bool = False) -> None:
        super().__init__(device)
        self.flip_average = flip_average
        self.name = f"{self.card.name}{FLIP_SUFFIX}" if flip_average else self.card.name
        self.dim = self.card.dim
        self.input_size = self.card.input_size[0]
        self.template = self.card.template_array()
        self.crop_aspect = self.card.crop_aspect
        self._net: nn.Module | None = None
        self._opencv: cv2.dnn.Net | None = None
        self._opencv_of = -1  # _weights_version() of the network the copy was taken of
        self._opencv_lock = threading.Lock()  # a dnn.Net runs one forward at a time

    @staticmethod
    @abstractmethod
    def convert(source: Path) -> StateDict:
        """State dict of our module from the verified carrier file."""

    @staticmethod
    @abstractmethod
    def build(*, weights: StateDict | None = None) -> nn.Module:
        """The network, with ``weights`` loaded when given."""

    @abstractmethod
    def scale(self, pixels: torch.Tensor) -> torch.Tensor:
        """Float (N, 3, S, S) network input from float RGB pixels in 0..255."""

    @property
    def network(self) -> nn.Module:
        """The loaded network (loads it first if needed)."""
        self.load()
        if self._net is None:  # load() sets it or raises
            raise ModelError(f"the {self.name} network did not load")
        return self._net

    def load(self) -> None:
        if self._loaded:
            return
        state = load_state_dict_cached(self.card, self.convert)
        # Channels-last pays on CUDA and on CPU alike (oneDNN convolutions):
        # SFace runs about 1.6x faster per CPU second in this layout.
        net = self.build(weights=state).eval().to(self.device)
        net = net.to(memory_format=torch.channels_last)
        self._net = net
        if self.device.type == "cpu" and self.opencv_on_cpu and opencv_on_this_cpu():
            self._opencv = _opencv_copy(net, self.input_size, self.name)
            self._opencv_of = _weights_version(net)
        self._loaded = True

    @property
    def runtime(self) -> str:
        """What runs the network: ``"opencv"`` or ``"torch"`` (after ``load``)."""
        return "opencv" if self._opencv is not None else "torch"

    def predict(self, crops: np.ndarray) -> np.ndarray:
        self.check_crops(crops)
        if len(crops) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = np.empty((len(crops), self.dim), dtype=np.float32)
        with inference():
            for start in range(0, len(crops), self.batch_size):
                chunk = np.ascontiguousarray(crops[start : start + self.batch_size])
                batch = torch.from_numpy(chunk)  # a no-copy view unless crops was strided
                x = batch.to(self.device, non_blocking=True).permute(0, 3, 1, 2).float()
                x = self.scale(x)
                y = self._run(x)
                if self.flip_average:
                    # Both halves are unit vectors: their sum points half-way between.
                    y = nn.functional.normalize(y + self._run(x.flip(3)), dim=1)
                out[start : start + len(batch)] = y.cpu().numpy()
        return out

    def _run(self, x: torch.Tensor) -> torch.Tensor:
        """Unit float32 embeddings of a scaled batch, on OpenCV when it has a copy."""
        if self._opencv is None:
            return self._embed(x)
        with self._opencv_lock:
            net = self.network
            if _weights_version(net) != self._opencv_of:
                # Changed in place since the copy was taken (a fine-tune, a
                # loaded state dict): take it again, or run torch if it fails.
                self._opencv = _opencv_copy(net, self.input_size, self.name)
                self._opencv_of = _weights_version(net)
                if self._opencv is None:
                    return self._embed(x)
            self._opencv.setInput(np.ascontiguousarray(x.cpu().numpy(), dtype=np.float32))
            y = torch.from_numpy(np.array(self._opencv.forward(), dtype=np.float32))
        return nn.functional.normalize(y, dim=1)

    def _embed(self, x: torch.Tensor) -> torch.Tensor:
        """Unit float32 embeddings of a scaled (N, 3, S, S) batch, in inference mode."""
        net = self.network
        x = x.contiguous(memory_format=torch.channels_last)
        if self.device.type == "cuda":
            with torch.autocast("cuda", dtype=torch.float16):
                y = net(x)
        elif self.device.type == "cpu" and cpu_bf16():
            with torch.autocast("cpu", dtype=torch.bfloat16):
                y = net(x)
        else:
            y = net(x)
        # The network ends in L2 normalisation; renormalise after fp16.
        return nn.functional.normalize(y.float(), dim=1)


def opencv_on_this_cpu() -> bool:
    """Whether networks that may run on OpenCV's dnn do so on this CPU: where
    bfloat16 is native, torch's bf16 autocast is the faster path."""
    return os.environ.get("FACEALBUM_CPU_OPENCV") != "0" and not cpu_bf16()


def _weights_version(net: nn.Module) -> int:
    """Changes whenever a parameter or buffer of ``net`` is written in place
    (an optimiser's step, ``load_state_dict``): torch counts each tensor's
    in-place writes. Tensors made in inference mode count none, and cannot
    be trained."""
    tensors = (*net.parameters(), *net.buffers())
    return sum(t._version for t in tensors if not t.is_inference())


def _opencv_copy(net: nn.Module, size: int, name: str) -> cv2.dnn.Net | None:
    """``net`` exported to ONNX in memory and read by OpenCV's dnn, or None
    (torch then runs it) when either step fails."""
    buffer = io.BytesIO()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the exporter's notes on its own future
            torch.onnx.export(  # a file object is accepted, whatever the stubs say
                net, (torch.zeros(1, 3, size, size),), buffer,  # type: ignore[arg-type]
                input_names=["crops"],
                output_names=["embeddings"], dynamic_axes={"crops": {0: "n"}},
                opset_version=17, dynamo=False,
            )
        copy = cv2.dnn.readNetFromONNX(np.frombuffer(buffer.getvalue(), np.uint8))
    except Exception as exc:  # any failure here only costs speed
        log.info("%s stays on torch: OpenCV could not take its network (%s)", name, exc)
        return None
    return copy


@functools.cache
def cpu_bf16() -> bool:
    """Whether the CPU computes bfloat16 natively (AVX512-BF16 or AMX).

    There, bf16 autocast runs SFace about 1.7x faster per CPU second with
    embeddings within cosine 0.9998 of fp32; elsewhere bf16 is emulated and
    slower, so fp32 stays. ``FACEALBUM_CPU_BF16=0`` or ``1`` overrides.
    """
    forced = os.environ.get("FACEALBUM_CPU_BF16")
    if forced in ("0", "1"):
        return forced == "1"
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle:
            flags = handle.read()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags
