"""Camera raw files are photos: the preview the camera embedded, or the raw data itself.

The DNG files are written here from demo photos' pixels (``write_dng``): a
full-size JPEG preview in IFD0 with the Bayer data in a SubIFD, as cameras
and converters write them, or the Bayer data alone.
"""

import io
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.catalog import Catalog, PhotoStatus
from engine.errors import PhotoError
from engine.imageio import decode, is_photo_name, is_raw_name, load_oriented
from engine.scan import ScanOptions, ScanSummary, scan_folder

DEMO = Path(__file__).resolve().parent.parent / "resources" / "demo"

# TIFF field types: code, struct format of one value.
_TYPES = {"B": (1, "B"), "A": (2, "B"), "H": (3, "H"), "I": (4, "I"), "R": (10, "i")}


def write_dng(path: Path, rgb: np.ndarray, *, preview: bool = True, orientation: int = 1,
              quality: int = 92) -> None:
    """A DNG of ``rgb``: its RGGB Bayer data, and a full-size JPEG preview if asked."""
    h, w = (rgb.shape[0] // 2) * 2, (rgb.shape[1] // 2) * 2
    level = rgb[:h, :w].astype(np.uint16) * 16
    cfa = np.empty((h, w), "<u2")
    cfa[0::2, 0::2] = level[0::2, 0::2, 0]
    cfa[0::2, 1::2] = level[0::2, 1::2, 1]
    cfa[1::2, 0::2] = level[1::2, 0::2, 1]
    cfa[1::2, 1::2] = level[1::2, 1::2, 2]
    raw = cfa.tobytes()
    dng = [(50706, "B", (1, 4, 0, 0)), (50708, "A", b"Test Camera\0"), (274, "H", (orientation,)),
           (50721, "R", (1, 1, 0, 1, 0, 1, 0, 1, 1, 1, 0, 1, 0, 1, 0, 1, 1, 1)),
           (50778, "H", (21,))]

    def raw_ifd(offset: int) -> list[tuple[int, str, object]]:
        return [(254, "I", (0,)), (256, "I", (w,)), (257, "I", (h,)), (258, "H", (16,)),
                (259, "H", (1,)), (262, "H", (32803,)), (273, "I", (offset,)), (277, "H", (1,)),
                (278, "I", (h,)), (279, "I", (len(raw),)), (33421, "H", (2, 2)),
                (33422, "B", (0, 1, 1, 2)), (50717, "I", (4095,))]

    if preview:
        buf = io.BytesIO()
        Image.fromarray(rgb).save(buf, "JPEG", quality=quality)
        jpg = buf.getvalue()
        raw_at = 8 + len(jpg)
        ifd0_at = raw_at + len(raw)

        def ifd0(sub_at: int) -> list[tuple[int, str, object]]:
            return sorted([
                (254, "I", (1,)), (256, "I", (rgb.shape[1],)), (257, "I", (rgb.shape[0],)),
                (258, "H", (8, 8, 8)), (259, "H", (7,)), (262, "H", (6,)), (273, "I", (8,)),
                (277, "H", (3,)), (278, "I", (rgb.shape[0],)), (279, "I", (len(jpg),)),
                (330, "I", (sub_at,)), *dng])

        sub_at = ifd0_at + len(_ifd(ifd0(0), ifd0_at))
        body = jpg + raw + _ifd(ifd0(sub_at), ifd0_at) + _ifd(sorted(raw_ifd(raw_at)), sub_at)
    else:
        ifd0_at = 8 + len(raw)
        body = raw + _ifd(sorted(raw_ifd(8) + dng), ifd0_at)
    path.write_bytes(b"II*\0" + struct.pack("<I", ifd0_at) + body)


def _ifd(entries: list[tuple[int, str, object]], start: int) -> bytes:
    """One little-endian IFD at offset ``start``, its long values right after it."""
    size = 2 + 12 * len(entries) + 4
    out, extra = struct.pack("<H", len(entries)), b""
    for tag, typ, values in entries:
        code, fmt = _TYPES[typ]
        if isinstance(values, bytes):
            data, count = values, len(values)
        else:
            seq = tuple(values)  # type: ignore[call-overload]
            count = len(seq) // 2 if typ == "R" else len(seq)
            data = struct.pack("<" + fmt * len(seq), *seq)
        if len(data) <= 4:
            field = data.ljust(4, b"\0")
        else:
            field = struct.pack("<I", start + size + len(extra))
            extra += data + b"\0" * (len(data) % 2)
        out += struct.pack("<HHI", tag, code, count) + field
    return out + struct.pack("<I", 0) + extra


def _demo(name: str) -> np.ndarray:
    return np.asarray(Image.open(DEMO / name).convert("RGB"))


def test_the_common_raw_formats_are_photos() -> None:
    for name in ("a.CR2", "a.cr3", "a.nef", "a.arw", "a.raf", "a.orf", "a.rw2", "a.dng"):
        assert is_photo_name(name) and is_raw_name(name)
    assert not is_raw_name("a.jpg")


def test_a_raw_file_is_read_through_its_full_size_preview(tmp_path: Path) -> None:
    rgb = _demo("obama_1.jpg")
    path = tmp_path / "a.dng"
    write_dng(path, rgb, quality=95)
    decoded = decode(path.read_bytes(), min_side=960, raw=True)
    assert (decoded.width, decoded.height) == (rgb.shape[1], rgb.shape[0])
    # The raw data demosaiced without a colour profile is far off this (tens of
    # levels): these are the preview's pixels, what the camera showed.
    assert np.abs(decoded.image.astype(int) - rgb.astype(int)).mean() < 4


def test_a_raw_file_without_a_preview_is_demosaiced_and_turned_upright(tmp_path: Path) -> None:
    rgb = _demo("obama_1.jpg")  # portrait: 820 x 1024
    path = tmp_path / "turned.dng"
    # Stored as the sensor saw it (turned), with the flag that turns it back.
    write_dng(path, np.ascontiguousarray(np.rot90(rgb, 1)), preview=False, orientation=6)
    decoded = decode(path.read_bytes(), min_side=960, raw=True)
    assert (decoded.width, decoded.height) == (rgb.shape[1] // 2 * 2, rgb.shape[0] // 2 * 2)
    assert decoded.image.shape[0] > decoded.image.shape[1]  # upright portrait
    assert load_oriented(str(path), 200).size[1] == 200


def test_a_damaged_raw_file_is_a_problem_that_says_so(tmp_path: Path) -> None:
    with pytest.raises(PhotoError, match="raw file"):
        decode(b"II*\0garbage" * 10, raw=True)


@pytest.mark.slow
def test_the_scan_finds_the_demo_face_inside_a_dng(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    write_dng(folder / "preview.dng", _demo("obama_1.jpg"))
    write_dng(folder / "raw_only.dng", _demo("chirac_1.jpg"), preview=False)
    shutil.copy(DEMO / "obama_1.jpg", folder / "obama_1.jpg")
    summary = ScanSummary()
    with Catalog(tmp_path / "c.sqlite") as catalog:
        for _ in scan_folder(catalog, folder, ScanOptions(device="cpu"), summary=summary):
            pass
        photos = {p.display_path: p for p in catalog.photos()}
        assert all(p.status is PhotoStatus.OK for p in photos.values()), summary.problem_list
        faces = {name: catalog.faces(photo_id=p.id) for name, p in photos.items()}
    assert len(faces["preview.dng"]) == 1 and len(faces["raw_only.dng"]) == 1
    # The preview is the photo: the face is where the JPEG has it.
    (a,), (b,) = faces["preview.dng"], faces["obama_1.jpg"]
    assert np.allclose(a.box, b.box, atol=3)
