"""A demo photo enlarged to a camera's 12 megapixels gives the faces of the photo itself.

The enlarged copy is made here from resources/demo (bicubic, JPEG quality 90,
as ``bench/camera_files.py`` makes them) and both are decoded and searched as
the scan does: the original at its own size, the enlarged one on a 960 px copy.
"""

import io
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.detect import DETECT_SIDE, find_faces, in_original
from engine.imageio import decode
from engine.models.base import Detection
from engine.models.yunet import YuNetDetector

pytestmark = pytest.mark.slow  # the real detector

DEMO = Path(__file__).resolve().parent.parent / "resources" / "demo"
CAMERA_PIXELS = 12_000_000


def faces_in_original_pixels(data: bytes, detector: YuNetDetector) -> list[Detection]:
    decoded = decode(data, min_side=DETECT_SIDE)
    return in_original(find_faces(detector, decoded.image), decoded.scale)


def enlarged(data: bytes) -> tuple[bytes, float]:
    """A camera-sized JPEG of ``data``, and its scale factor."""
    with Image.open(io.BytesIO(data)) as opened:
        rgb = opened.convert("RGB")
    factor = math.sqrt(CAMERA_PIXELS / (rgb.width * rgb.height))
    big = rgb.resize((round(rgb.width * factor), round(rgb.height * factor)),
                     Image.Resampling.BICUBIC)
    out = io.BytesIO()
    big.save(out, "JPEG", quality=90)
    return out.getvalue(), big.width / rgb.width


def iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    x1, y1 = max(a[0], b[0]), max(a[1], b[1])
    x2, y2 = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


# chirac_3 has a face cut by its right edge; the group photos have many faces.
@pytest.mark.parametrize("name", ["chirac_3.jpg", "group_meeting.jpg", "group_apollo11_crew.jpg"])
def test_an_enlarged_photo_gives_the_same_faces_as_the_photo_itself(name: str) -> None:
    detector = YuNetDetector()
    data = (DEMO / name).read_bytes()
    big, factor = enlarged(data)

    original = faces_in_original_pixels(data, detector)
    camera = faces_in_original_pixels(big, detector)

    assert len(camera) == len(original)
    for face in original:
        scaled = tuple(v * factor for v in face.box)
        assert max(iou(scaled, other.box) for other in camera) >= 0.5
    assert np.isfinite([f.score for f in camera]).all()
