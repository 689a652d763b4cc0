"""The registry of detectors and embedders the engine can run, by name.

``get_detector`` and ``get_embedder`` build a model by its registered name
without any file I/O: weights are read on the model's first ``predict``.
``model_card`` gives the weight metadata (carrier package and file, SHA-256,
licence, input size, scaling, dimension, alignment template) that travels
beside each network's code. ``resolve_device`` turns "auto"/"cpu"/"cuda"/"mps"
into a ``torch.device`` that exists on this machine. ``yunet`` is OpenCV's
YuNet on the CPU and its torch port on cuda or mps (``yunet_on``): the two
find the same faces.

This module never loads weights itself and never imports Qt.
"""

from collections.abc import Callable

import torch

from engine.errors import ModelError
from engine.models.base import Detector, Embedder
from engine.models.defaults import DEFAULT_DETECTOR, DEFAULT_EMBEDDER
from engine.models.facenet import FaceNetEmbedder
from engine.models.fusion import FusionEmbedder
from engine.models.sface import SFaceEmbedder
from engine.models.weights import ModelCard
from engine.models.yunet import YuNetDetector
from engine.models.yunet_torch import YuNetTorchDetector


def yunet_on(device: torch.device) -> YuNetDetector:
    """YuNet for ``device``: OpenCV's on the CPU, the torch port on a GPU.

    On one CPU thread OpenCV runs the scan's detection on the demo album in
    about 0.7 of the torch port's CPU time (docs/PERFORMANCE.md, "Camera files");
    on a GPU only the torch port runs on the device.
    """
    return YuNetDetector(device) if device.type == "cpu" else YuNetTorchDetector(device)


_DETECTORS: dict[str, tuple[ModelCard, Callable[[torch.device], Detector]]] = {
    "yunet": (YuNetDetector.card, yunet_on),
}
_EMBEDDERS: dict[str, tuple[ModelCard, Callable[[torch.device], Embedder]]] = {
    "sface": (SFaceEmbedder.card, SFaceEmbedder),
    "facenet": (FaceNetEmbedder.card, FaceNetEmbedder),
    "fusion": (FusionEmbedder.card, FusionEmbedder),
}
DEVICES = ("auto", "cpu", "cuda", "mps")


def detector_names() -> list[str]:
    return list(_DETECTORS)


def embedder_names() -> list[str]:
    """Built-in embedders, then those trained by ``facealbum train``."""
    from engine.train.registered import trained_models

    return list(_EMBEDDERS) + [m.name for m in trained_models() if m.name not in _EMBEDDERS]


def model_card(name: str) -> ModelCard:
    """Weight metadata of a registered detector or embedder."""
    entry = _DETECTORS.get(name) or _EMBEDDERS.get(name)
    if entry is None:
        raise ModelError(
            f"unknown model {name!r}; registered detectors: {', '.join(_DETECTORS)}; "
            f"embedders: {', '.join(_EMBEDDERS)}"
        )
    return entry[0]


def get_detector(name: str = DEFAULT_DETECTOR, device: str | torch.device = "cpu") -> Detector:
    """The detector registered as ``name``, not loaded yet."""
    if name not in _DETECTORS:
        raise ModelError(f"unknown detector {name!r}; expected one of: {', '.join(_DETECTORS)}")
    return _DETECTORS[name][1](resolve_device(device))


def get_embedder(name: str = DEFAULT_EMBEDDER, device: str | torch.device = "cpu") -> Embedder:
    """The embedder registered as ``name``, or trained under that name; not loaded yet."""
    if name not in _EMBEDDERS:
        # Trained embedders live in the user's model folder (engine.train.registered).
        from engine.train.registered import find_trained, trained_embedder

        trained = find_trained(name)
        if trained is not None:
            return trained_embedder(trained, resolve_device(device))
        raise ModelError(
            f"unknown embedder {name!r}; expected one of: {', '.join(embedder_names())}"
        )
    return _EMBEDDERS[name][1](resolve_device(device))


def available_devices() -> list[str]:
    found = ["cpu"]
    if torch.cuda.is_available():
        found.insert(0, "cuda")
    if torch.backends.mps.is_available():
        found.insert(0 if "cuda" not in found else 1, "mps")
    return found


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``auto`` picks cuda, then mps, then cpu; an absent explicit device is an error."""
    given: torch.device | None
    if isinstance(device, torch.device):
        kind, given = device.type, device
    else:
        kind = device.split(":", 1)[0].strip().lower()
        if kind not in DEVICES:
            raise ModelError(f"unknown device {device!r}; expected one of: {', '.join(DEVICES)}")
        given = None if kind == "auto" else torch.device(device.strip().lower())
    available = available_devices()
    if kind == "auto":
        return torch.device(available[0])
    if kind not in available:
        raise ModelError(
            f"device {kind!r} is not available on this machine; available: "
            f"{', '.join(available)} (or 'auto')"
        )
    return given if given is not None else torch.device(kind)
