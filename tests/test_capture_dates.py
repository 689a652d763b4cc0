"""Capture dates: read from a photo's metadata at scan, kept in the catalog.

The photos, raw files and videos are written here with their dates (PIL's
``Image.Exif``, PyAV's container metadata, a DNG put together tag by tag);
the scans run the real pipeline with stand-in networks (no weights).
"""

import io
import os
import pickle
import shutil
import sqlite3
import struct
import subprocess
import time
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from catalogs import scan_into
from PIL import Image
from standins import FaceAt, MeanColourEmbedder
from test_raw import _ifd, write_dng

from engine.analyse import Job, Result
from engine.catalog import Catalog
from engine.imageio import Decoded, decode, read_taken, taken_from_text
from engine.models.base import Detection
from engine.scan import ScanOptions, ScanSummary
from engine.video import sample_video

JULY_4TH = "2009:07:04 10:00:00"
JULY_4TH_SECONDS = datetime(2009, 7, 4, 10, 0, 0, tzinfo=UTC).timestamp()
ORIGINAL, DIGITIZED, DATETIME, EXIF_IFD = 0x9003, 0x9004, 0x0132, 0x8769


def exif_with(**tags: object) -> bytes:
    """EXIF holding ``original``, ``digitized`` (Exif IFD) and ``datetime`` (IFD0)."""
    exif = Image.Exif()
    where = {"original": ORIGINAL, "digitized": DIGITIZED}
    for name, value in tags.items():
        if name == "datetime":
            exif[DATETIME] = value
        else:
            exif.get_ifd(EXIF_IFD)[where[name]] = value
    return exif.tobytes()


def photo_bytes(fmt: str = "JPEG", exif: bytes | None = None,
                colour: tuple[int, int, int] = (120, 90, 60)) -> bytes:
    buffer = io.BytesIO()
    image = Image.new("RGB", (320, 240), colour)
    if exif is None:
        image.save(buffer, fmt)
    else:
        image.save(buffer, fmt, exif=exif)
    return buffer.getvalue()


def write_video(path: Path, creation_time: str | None) -> None:
    """Two seconds of a grey frame, with ``creation_time`` in the container if given."""
    with av.open(str(path), mode="w") as container:
        if creation_time is not None:
            container.metadata["creation_time"] = creation_time
        stream = container.add_stream("mpeg4", rate=2)
        stream.width, stream.height = 160, 120
        stream.pix_fmt = "yuv420p"
        stream.time_base = Fraction(1, 2)
        for index in range(4):
            frame = av.VideoFrame.from_ndarray(np.full((120, 160, 3), 128, np.uint8),
                                               format="rgb24")
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


def write_dated_dng(path: Path, when: str) -> None:
    """A DNG of Bayer data alone whose Exif IFD holds DateTimeOriginal ``when``."""
    h, w = 64, 64
    raw = np.full((h, w), 2000, "<u2").tobytes()
    entries = [(254, "I", (0,)), (256, "I", (w,)), (257, "I", (h,)), (258, "H", (16,)),
               (259, "H", (1,)), (262, "H", (32803,)), (273, "I", (8,)), (277, "H", (1,)),
               (278, "I", (h,)), (279, "I", (len(raw),)), (33421, "H", (2, 2)),
               (33422, "B", (0, 1, 1, 2)), (50717, "I", (4095,)), (50706, "B", (1, 4, 0, 0)),
               (50708, "A", b"Test Camera\0"), (274, "H", (1,)),
               (50721, "R", (1, 1, 0, 1, 0, 1, 0, 1, 1, 1, 0, 1, 0, 1, 0, 1, 1, 1)),
               (50778, "H", (21,))]
    ifd0_at = 8 + len(raw)
    exif_at = ifd0_at + len(_ifd(sorted([*entries, (34665, "I", (0,))]), ifd0_at))
    ifd0 = _ifd(sorted([*entries, (34665, "I", (exif_at,))]), ifd0_at)
    exif = _ifd([(36867, "A", when.encode() + b"\0")], exif_at)
    path.write_bytes(b"II*\0" + struct.pack("<I", ifd0_at) + raw + ifd0 + exif)


# -- reading -------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "HEIF"])
def test_the_capture_date_of_a_photo_is_read_with_its_pixels_and_alone(
    tmp_path: Path, fmt: str
) -> None:
    data = photo_bytes(fmt, exif_with(original=JULY_4TH))
    assert decode(data).taken == JULY_4TH_SECONDS
    path = tmp_path / f"a.{fmt.lower()}"
    path.write_bytes(data)
    assert read_taken(str(path)) == JULY_4TH_SECONDS


def test_digitized_then_the_file_s_datetime_stand_in_for_a_missing_original() -> None:
    later = "2010:01:02 03:04:05"
    seconds_later = datetime(2010, 1, 2, 3, 4, 5, tzinfo=UTC).timestamp()
    both = exif_with(original=JULY_4TH, digitized=later, datetime=later)
    assert decode(photo_bytes(exif=both)).taken == JULY_4TH_SECONDS
    assert decode(photo_bytes(exif=exif_with(digitized=later, datetime="2011:01:01 00:00:00"))
                  ).taken == seconds_later
    assert decode(photo_bytes(exif=exif_with(datetime=later))).taken == seconds_later


def test_a_photo_without_a_date_has_none(tmp_path: Path) -> None:
    assert decode(photo_bytes()).taken is None
    assert decode(photo_bytes("PNG")).taken is None
    path = tmp_path / "plain.jpg"
    path.write_bytes(photo_bytes())
    assert read_taken(str(path)) is None


GARBAGE: list[object] = [
    "0000:00:00 00:00:00", "", "    ", "\0\0\0\0", "1700:01:01 00:00:00", "1825:12:31 23:59:59",
    "2999:01:01 00:00:00", "2009:13:45 10:00:00", "2009:02:30 10:00:00", "2009:07:04 25:61:00",
    "yesterday", "2009:07:04", "caf\xe9 2009", b"\xff\xfe\x00\x01", b"2009:07:04 10:00:00\xff",
    12345, 3.5, None, (2009, 7, 4), "1970:01:01 00:00:00", "1904-01-01T00:00:00Z",
]


@pytest.mark.parametrize("value", GARBAGE, ids=repr)
def test_a_garbage_date_is_no_date_and_never_raises(value: object) -> None:
    assert taken_from_text(value) is None


def test_a_photo_whose_dates_are_garbage_is_read_with_no_date() -> None:
    for value in ["0000:00:00 00:00:00", "", "2999:01:01 00:00:00", b"\xff\xfe\x00\x01",
                  "\xe9t\xe9 2009:07:04", 7]:
        data = photo_bytes(exif=exif_with(original=value, digitized=value, datetime=value))
        assert decode(data).taken is None, value


def test_a_date_from_tomorrow_on_is_refused_but_today_is_kept() -> None:
    now = datetime.now(UTC).replace(tzinfo=None)
    today = now.replace(microsecond=0)
    assert taken_from_text(today.strftime("%Y:%m:%d %H:%M:%S")) == \
        today.replace(tzinfo=UTC).timestamp()
    assert taken_from_text((now + timedelta(days=2)).strftime("%Y:%m:%d %H:%M:%S")) is None


def test_the_first_photographs_era_and_iso_forms_are_read() -> None:
    assert taken_from_text("1826:06:01 12:00:00") == \
        datetime(1826, 6, 1, 12, tzinfo=UTC).timestamp()
    # Videos write ISO 8601; the time is kept as written, zone aside.
    assert taken_from_text("2009-07-04T10:00:00.000000Z") == JULY_4TH_SECONDS
    assert taken_from_text("2009-07-04 10:00:00+02:00") == JULY_4TH_SECONDS
    assert taken_from_text(" 2009:07:04 10:00:00\0") == JULY_4TH_SECONDS


@pytest.mark.skipif(shutil.which("exiftool") is None, reason="exiftool is not installed")
def test_the_date_read_is_the_one_exiftool_reads(tmp_path: Path) -> None:
    path = tmp_path / "a.jpg"
    path.write_bytes(photo_bytes(exif=exif_with(original="2017:11:23 18:42:07",
                                                datetime="2020:01:01 00:00:00")))
    exiftool = subprocess.run(
        ["exiftool", "-s3", "-DateTimeOriginal", "-d", "%Y-%m-%dT%H:%M:%S", str(path)],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout.strip()
    taken = decode(path.read_bytes()).taken
    assert taken is not None
    assert datetime.fromtimestamp(taken, UTC).strftime("%Y-%m-%dT%H:%M:%S") == exiftool


def test_a_video_s_date_is_its_creation_time(tmp_path: Path) -> None:
    dated, plain = tmp_path / "dated.mp4", tmp_path / "plain.mp4"
    write_video(dated, "2009-07-04T10:00:00.000000Z")
    write_video(plain, None)
    assert sample_video(str(dated)).taken == JULY_4TH_SECONDS
    assert read_taken(str(dated)) == JULY_4TH_SECONDS
    assert sample_video(str(plain)).taken is None
    assert read_taken(str(plain)) is None


def test_a_raw_file_s_date_is_read(tmp_path: Path) -> None:
    dated, plain = tmp_path / "dated.dng", tmp_path / "plain.dng"
    write_dated_dng(dated, JULY_4TH)
    write_dng(plain, np.full((64, 64, 3), 100, np.uint8), preview=False)
    assert decode(dated.read_bytes(), raw=True).taken == JULY_4TH_SECONDS
    assert read_taken(str(dated)) == JULY_4TH_SECONDS
    assert decode(plain.read_bytes(), raw=True).taken is None
    assert read_taken(str(plain)) is None


def test_a_file_that_cannot_be_read_has_no_date_and_does_not_raise(tmp_path: Path) -> None:
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe1" + b"garbage" * 10)
    (tmp_path / "broken.mp4").write_bytes(b"\0\0\0\x18ftypmp42" + b"junk" * 10)
    (tmp_path / "broken.dng").write_bytes(b"II*\0" + b"junk" * 10)
    for name in ("broken.jpg", "broken.mp4", "broken.dng", "gone.jpg"):
        assert read_taken(str(tmp_path / name)) is None


def test_a_result_keeps_its_date_without_its_pixels_and_across_processes() -> None:
    decoded = Decoded(np.zeros((4, 4, 3), np.uint8), 1.0, 4, 4, taken=JULY_4TH_SECONDS)
    result = Result(Job(b"a.jpg", 1, 1, None), decoded=decoded, taken=JULY_4TH_SECONDS,
                    taken_read=True)
    sent = pickle.loads(pickle.dumps(result.without_pixels()))
    assert sent.taken == JULY_4TH_SECONDS and sent.taken_read


# -- scanning ------------------------------------------------------------------


class CountingFaceAt(FaceAt):
    """The stand-in detector, counting the images it was asked to look at."""

    def __init__(self) -> None:
        super().__init__((0.4, 0.3, 0.2, 0.3))
        self.calls = 0

    def predict(self, image: np.ndarray) -> list[Detection]:
        self.calls += 1
        return super().predict(image)


def _library(folder: Path) -> Path:
    folder.mkdir()
    (folder / "dated.jpg").write_bytes(photo_bytes(exif=exif_with(original=JULY_4TH)))
    (folder / "plain.png").write_bytes(photo_bytes("PNG", colour=(10, 200, 30)))
    write_video(folder / "clip.mp4", "2011-03-05T12:00:00.000000Z")
    return folder


def _scan(catalog_path: Path, folder: Path, detector: FaceAt | None = None) -> ScanSummary:
    return scan_into(catalog_path, folder, ScanOptions(device="cpu", workers=1),
                     detector=detector or FaceAt((0.4, 0.3, 0.2, 0.3)),
                     embedder=MeanColourEmbedder())


def _dates(catalog_path: Path) -> dict[str, tuple[float | None, bool]]:
    with Catalog(catalog_path) as catalog:
        return {p.display_path: (p.taken, p.taken_read) for p in catalog.photos()}


CLIP_SECONDS = datetime(2011, 3, 5, 12, tzinfo=UTC).timestamp()


def test_a_scan_keeps_each_photo_s_capture_date_in_the_catalog(tmp_path: Path) -> None:
    folder = _library(tmp_path / "photos")
    summary = _scan(tmp_path / "c.sqlite", folder)
    assert summary.scanned == 3
    assert _dates(tmp_path / "c.sqlite") == {
        "dated.jpg": (JULY_4TH_SECONDS, True),
        "plain.png": (None, True),
        "clip.mp4": (CLIP_SECONDS, True),
    }


def test_photos_of_an_older_catalog_get_their_dates_on_the_next_scan_without_new_analysis(
    tmp_path: Path,
) -> None:
    folder = _library(tmp_path / "photos")
    catalog_path = tmp_path / "c.sqlite"
    _scan(catalog_path, folder)
    # As the previous version left them: no date, never looked at by a date reader.
    conn = sqlite3.connect(catalog_path)
    conn.execute("UPDATE photos SET taken = NULL, taken_read = 0")
    conn.commit()
    conn.close()
    with Catalog(catalog_path) as catalog:
        faces_before = sorted((f.id, f.photo_id, f.box) for f in catalog.faces())
        assert faces_before
    # One is touched too: hashed again, found the same, its date read from the same bytes.
    os.utime(folder / "dated.jpg", ns=(time.time_ns(), time.time_ns()))

    detector = CountingFaceAt()
    summary = _scan(catalog_path, folder, detector)
    assert detector.calls == 0
    assert (summary.scanned, summary.unchanged, summary.dated) == (0, 3, 3)
    assert _dates(catalog_path) == {
        "dated.jpg": (JULY_4TH_SECONDS, True),
        "plain.png": (None, True),  # looked at: not read again
        "clip.mp4": (CLIP_SECONDS, True),
    }
    with Catalog(catalog_path) as catalog:
        assert sorted((f.id, f.photo_id, f.box) for f in catalog.faces()) == faces_before

    again = _scan(catalog_path, folder, detector)
    assert (again.scanned, again.unchanged, again.dated) == (0, 3, 0)
    assert detector.calls == 0
