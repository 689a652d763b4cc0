"""Read photos: bytes once, decode once, at the size the scan needs.

A photo is read from disk once (its bytes are hashed and decoded from the
same buffer) and decoded once, straight to a working size with JPEG draft
mode, then turned upright by its EXIF orientation. A camera's raw file
(CR2, CR3, NEF, ARW, RAF, ORF, RW2, DNG) is read through its embedded
preview JPEG when it holds a large enough one (what the camera showed, and
fast), else demosaiced at half size by libraw; its orientation comes from the
file. Anything that stops a
photo from being read raises ``PhotoError`` whose message is the reason the
scan records; this module never decides whether a scan goes on.

A photo's capture time (``Decoded.taken``, ``read_taken``) comes from its
metadata: EXIF DateTimeOriginal, then DateTimeDigitized, then the file's
DateTime (IFD0); a raw file's from libraw, which reads the same tags of every
raw format it knows; a video's from its container's ``creation_time``. EXIF
writes the camera's wall clock without a zone: the time is kept as written,
read as if it were UTC (seconds since 1970), and a video's ISO 8601 time is
kept as written too, its zone aside. Hours do not matter to what reads it
(years between photos of one person do), and the catalog shows back the very
time the camera showed. DateTime is the time the file was last written by
a camera or an editor, so after an edit it is the edit's time; it is still
taken as the last resort, since the only other clue, the file's own
modification time, is never earlier than it. A date that cannot be one
(zeros, blank, before 1826 or after tomorrow, a clock's zero, not text) is
no date, and no date is ever worth a failed photo: reading one never raises.

Only regular files are ever opened (``open_regular``): a named pipe, a device
or a socket where a photo or its metadata should be would block a reader
forever or feed it without end, so it is refused before it is opened, and
again by the open file's own status in case it was swapped in meanwhile.
"""

import errno
import hashlib
import io
import os
import re
import stat
import struct
import time
import warnings
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import BinaryIO

import numpy as np
import pillow_heif
import rawpy
from PIL import Image, ImageFile, UnidentifiedImageError

from engine.errors import PhotoError

pillow_heif.register_heif_opener()

# Pillow stops on truncated data; that is what we want (recorded as a problem).
ImageFile.LOAD_TRUNCATED_IMAGES = False
# Larger than this is refused as a possible decompression bomb. Generous for
# real panoramas (150 MP), small enough to keep memory bounded.
MAX_PIXELS = 150_000_000

PHOTO_SUFFIXES = frozenset(
    {".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".webp", ".tif", ".tiff", ".bmp", ".gif",
     ".heic", ".heif", ".hif"}
)
RAW_SUFFIXES = frozenset({".cr2", ".cr3", ".nef", ".arw", ".raf", ".orf", ".rw2", ".dng"})
VIDEO_SUFFIXES = frozenset({".mp4", ".mov", ".m4v", ".avi", ".mkv", ".webm"})
# libraw's ``flip`` -> the EXIF orientation saying the same turn.
_FLIP_TO_EXIF = {0: 1, 3: 3, 5: 8, 6: 6}


# EXIF orientation -> the transpose that makes the photo upright.
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
# Where a capture time is read, best first: DateTimeOriginal and
# DateTimeDigitized in the Exif IFD, then DateTime in IFD0.
_EXIF_IFD = 0x8769
_TAKEN_TAGS = (0x9003, 0x9004)
_DATETIME = 0x0132
# "2009:07:04 10:00:00" as EXIF writes it, or ISO 8601 ("2009-07-04T10:00:00Z").
_WHEN = re.compile(
    r"\s*(\d{4})[:-](\d{2})[:-](\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.\d+)?"
    r"(?:Z|[+-]\d{2}:?\d{2})?\s*\Z",
    re.ASCII,
)
FIRST_PHOTOGRAPH = datetime(1826, 1, 1, tzinfo=UTC).timestamp()
# A clock that was never set: the Unix and the QuickTime/MP4 zero, each give or take a day.
_CLOCK_ZEROS = (0.0, datetime(1904, 1, 1, tzinfo=UTC).timestamp())
_DAY = 86400.0
# What Pillow raises on metadata it cannot make sense of.
_BAD_METADATA = (OSError, ValueError, SyntaxError, EOFError, KeyError, IndexError, TypeError,
                 struct.error, UnidentifiedImageError, Image.DecompressionBombError)
# Opening a FIFO for reading waits for a writer unless it is non-blocking.
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
# What a path is, when it is not a regular file, in the words of a problem.
_KINDS = {
    stat.S_IFDIR: "a folder",
    stat.S_IFIFO: "a named pipe (FIFO)",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
}


@dataclass(frozen=True)
class Decoded:
    """A photo decoded upright at working size.

    ``scale`` is working pixels per pixel of the upright original, so a point
    ``p`` in ``image`` is ``p / scale`` in the original.
    """

    image: np.ndarray  # (H, W, 3) uint8 RGB
    scale: float
    width: int  # of the upright original
    height: int
    taken: float | None = None  # capture time from the metadata (see the module's words)


class NotRegularFileError(OSError):
    """A path that is a folder, named pipe, device or socket, not a regular file."""

    def __init__(self, path: str | bytes | os.PathLike[str], kind: str) -> None:
        super().__init__(errno.EINVAL, f"not a regular file but {kind}", os.fsdecode(path))
        self.kind = kind


def is_photo_name(name: str | bytes) -> bool:
    """Whether the scan reads this file: a photo, a camera raw file or a video."""
    suffix = _suffix(name)
    return suffix in PHOTO_SUFFIXES or suffix in RAW_SUFFIXES or suffix in VIDEO_SUFFIXES


def is_raw_name(name: str | bytes) -> bool:
    return _suffix(name) in RAW_SUFFIXES


def is_video_name(name: str | bytes) -> bool:
    return _suffix(name) in VIDEO_SUFFIXES


def open_regular(path: str | bytes | os.PathLike[str]) -> BinaryIO:
    """Open ``path`` (links followed) for reading, only if it is a regular file.

    Never blocks: the path's status is checked before opening, the open is
    non-blocking, and the open file's own status is checked again (a FIFO
    swapped in between is caught there). Raises ``NotRegularFileError`` for
    anything else, ``OSError`` when the file cannot be opened.
    """
    _check_regular(path, os.stat(path).st_mode)
    fd = os.open(path, os.O_RDONLY | _NONBLOCK | getattr(os, "O_BINARY", 0)
                 | getattr(os, "O_CLOEXEC", 0))
    try:
        _check_regular(path, os.fstat(fd).st_mode)
        if _NONBLOCK:
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_bytes(path: str | bytes) -> bytes:
    """The whole file, or ``PhotoError`` saying why it cannot be read."""
    try:
        with open_regular(path) as handle:
            data = handle.read()
    except NotRegularFileError as exc:
        if exc.kind == _KINDS[stat.S_IFDIR]:
            raise PhotoError("a folder with a photo's name, not a photo") from exc
        raise PhotoError(
            f"not a regular file but {exc.kind}; a photo must be a plain file: "
            "remove it or put the photo itself there"
        ) from exc
    except PermissionError as exc:
        raise PhotoError("permission denied: the file cannot be read by this user") from exc
    except FileNotFoundError as exc:
        if os.path.islink(path):
            target = os.fsdecode(os.readlink(os.fsencode(path)))
            raise PhotoError(f"broken symbolic link (points to {target!r})") from exc
        raise PhotoError("the file disappeared during the scan") from exc
    except IsADirectoryError as exc:
        raise PhotoError("a folder with a photo's name, not a photo") from exc
    except OSError as exc:
        raise PhotoError(f"cannot read the file: {exc.strerror or exc}") from exc
    if not data:
        raise PhotoError("empty file (0 bytes)")
    return data


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def decode(
    data: bytes, *, min_side: int = 960, max_side: int = 1920, raw: bool = False
) -> Decoded:
    """Decode ``data`` upright to a long side between ``min_side`` and ``max_side``.

    Smaller photos are kept at their own size. JPEGs use draft mode, so a
    24-megapixel photo is decoded at 1/2, 1/4 or 1/8 scale directly. ``raw``:
    the data is a camera raw file (``is_raw_name``).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            if raw:
                return _decode_raw(data, min_side, max_side)
            with Image.open(io.BytesIO(data)) as im:
                return _decode_open(im, min_side, max_side)
        except PhotoError:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise PhotoError(f"image too large, refused as a possible decompression bomb ({exc})")\
                from exc
        except UnidentifiedImageError as exc:
            raise PhotoError("not an image this program can read") from exc
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            raise PhotoError(f"damaged or truncated image data ({exc})") from exc


def read_taken(path: str | bytes, data: bytes = b"") -> float | None:
    """The capture time in a file's metadata, without decoding its pixels.

    For a file already in the catalog whose date was never read; ``data``:
    its bytes when they are in memory already. A photo is opened by Pillow,
    which reads its header and metadata only; a raw file is read whole for
    libraw; a video's container is opened without decoding a frame. None when
    the file has no date or cannot be read: never raises.
    """
    if is_video_name(path):
        from engine.video import video_taken  # PyAV loads only where videos are read

        return video_taken(path)
    try:
        if is_raw_name(path):
            with rawpy.imread(io.BytesIO(data or read_bytes(path))) as raw:
                return _raw_taken(raw)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with (io.BytesIO(data) if data else open_regular(path)) as handle, \
                    Image.open(handle) as im:
                if im.format == "PNG" and "exif" not in im.info:
                    # Pillow would decode the whole PNG to look for an eXIf
                    # chunk after its pixels; writers put it before them.
                    return None
                return exif_taken(im)
    except (PhotoError, rawpy.LibRawError, *_BAD_METADATA):
        return None


def exif_taken(im: Image.Image) -> float | None:
    """The capture time in an open image's EXIF, or None; never raises."""
    try:
        exif = im.getexif()
        inner = exif.get_ifd(_EXIF_IFD)
        for value in (*(inner.get(tag) for tag in _TAKEN_TAGS), exif.get(_DATETIME)):
            taken = taken_from_text(value)
            if taken is not None:
                return taken
    except _BAD_METADATA:
        return None
    return None


def taken_from_text(value: object) -> float | None:
    """Seconds since 1970 of a date as EXIF ("2009:07:04 10:00:00") or ISO 8601
    writes it, read as UTC; None for anything that is not a plausible date."""
    if isinstance(value, bytes):
        try:
            value = value.decode("ascii")
        except UnicodeDecodeError:
            return None
    if not isinstance(value, str):
        return None
    found = _WHEN.match(value.rstrip("\0"))
    if found is None:
        return None
    try:
        year, month, day, hour, minute, second = (int(part) for part in found.groups())
        when = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError:  # 0000:00:00, month 13, hour 25
        return None
    return plausible(when.timestamp())


def plausible(seconds: float) -> float | None:
    """``seconds`` when a photo can have been taken then, else None: from the
    first photograph to tomorrow, and not a clock's zero."""
    if not FIRST_PHOTOGRAPH <= seconds <= time.time() + _DAY:
        return None
    if any(abs(seconds - zero) <= _DAY for zero in _CLOCK_ZEROS):
        return None
    return seconds


def load_oriented(
    path: str | bytes, max_side: int, *, at_seconds: float | None = None
) -> Image.Image:
    """An upright RGB copy of a photo whose long side is at most ``max_side``.

    For thumbnails and exports; raises ``PhotoError`` like ``decode``. Of a
    video, the frame at ``at_seconds`` (its middle when None).
    """
    if is_video_name(path):
        from engine.video import frame_at  # PyAV loads only where videos are shown

        decoded = frame_at(path, at_seconds, max_side=max_side)
    else:
        decoded = decode(
            read_bytes(path), min_side=max_side, max_side=max_side, raw=is_raw_name(path)
        )
    return Image.fromarray(decoded.image)


def shrink(rgb: Image.Image, max_side: int) -> Image.Image:
    """``rgb`` with its long side at most ``max_side``."""
    long_side = max(rgb.size)
    if long_side <= max_side:
        return rgb
    factor = max_side / long_side
    return rgb.resize(
        (max(1, round(rgb.size[0] * factor)), max(1, round(rgb.size[1] * factor))),
        Image.Resampling.BILINEAR,
        reducing_gap=2.0,
    )


def _suffix(name: str | bytes) -> str:
    return os.path.splitext(os.fsdecode(name))[1].lower()


def _decode_raw(data: bytes, min_side: int, max_side: int) -> Decoded:
    """A camera raw file: its embedded preview when large enough, else demosaiced."""
    try:
        with rawpy.imread(io.BytesIO(data)) as raw:
            sizes = raw.sizes
            _check_size(sizes.raw_width, sizes.raw_height)
            orientation = _FLIP_TO_EXIF.get(int(sizes.flip), 1)
            full_long = max(sizes.width, sizes.height)
            taken = _raw_taken(raw)
            preview = _raw_preview(raw)
            # A preview smaller than the detection copy would lose small faces;
            # one at least that big is what the camera showed, decoded in a blink.
            if preview is not None and max(preview.size) >= min(min_side, full_long):
                with preview:
                    decoded = _decode_open(preview, min_side, max_side, orientation)
                return replace(decoded, taken=taken)
            # Half size: one pixel per 2x2 Bayer block, no interpolation, 4x faster.
            rgb = raw.postprocess(half_size=True, output_bps=8, use_camera_wb=True)
    except rawpy.LibRawError as exc:
        raise PhotoError(
            f"not a camera raw file this program can read ({type(exc).__name__}: {exc}); "
            "check that the file is complete, or convert it to DNG"
        ) from exc
    width, height = sizes.width, sizes.height
    if orientation in (5, 6, 7, 8):
        width, height = height, width
    image = np.ascontiguousarray(
        np.asarray(shrink(Image.fromarray(rgb), max_side), dtype=np.uint8)
    )
    return Decoded(
        image=image, scale=image.shape[1] / width, width=width, height=height, taken=taken
    )


def _raw_taken(raw: "rawpy.RawPy") -> float | None:
    """The capture time libraw read from a raw file's metadata, or None.

    libraw parses the date as the machine's local time and rawpy hands it
    back as local: the wall clock the camera wrote, read here as UTC like
    every other date. libraw's "no date" is 0, the Unix zero in local time,
    which ``plausible`` refuses.
    """
    try:
        when = raw.other.timestamp
    except (rawpy.LibRawError, AttributeError, ValueError, OverflowError, OSError):
        return None
    if not isinstance(when, datetime):
        return None
    return plausible(when.replace(tzinfo=UTC).timestamp())


def _raw_preview(raw: "rawpy.RawPy") -> Image.Image | None:
    """The raw file's largest embedded preview, or None."""
    try:
        thumb = raw.extract_thumb()
    except (rawpy.LibRawNoThumbnailError, rawpy.LibRawUnsupportedThumbnailError):
        return None
    if thumb.format == rawpy.ThumbFormat.JPEG:
        try:
            return Image.open(io.BytesIO(bytes(thumb.data)))
        except (UnidentifiedImageError, OSError):
            return None  # a damaged preview: the raw data itself is still there
    array = np.asarray(thumb.data)
    if array.ndim == 3 and array.shape[2] == 3:
        return Image.fromarray(array.astype(np.uint8))
    return None


def _check_size(width: int, height: int) -> None:
    if width * height > MAX_PIXELS:
        raise PhotoError(
            f"image too large ({width}x{height}, {width * height / 1e6:.0f} megapixels; "
            f"limit {MAX_PIXELS / 1e6:.0f}): refused as a possible decompression bomb"
        )


def _decode_open(
    im: Image.Image, min_side: int, max_side: int, fallback_orientation: int | None = None
) -> Decoded:
    width, height = im.size
    _check_size(width, height)
    # A raw file's preview carries its own EXIF orientation, or none: then the raw's.
    orientation = _orientation(im) or fallback_orientation
    taken = exif_taken(im)  # the EXIF Pillow just parsed for the orientation
    if orientation in (5, 6, 7, 8):
        width, height = height, width
    if im.format == "JPEG" and max(width, height) > min_side:
        # draft() picks the largest reduction that stays at least this big.
        factor = min_side / max(width, height)
        im.draft("RGB", (max(1, int(im.size[0] * factor)), max(1, int(im.size[1] * factor))))
    im.seek(0)  # first frame of animations
    im.load()
    rgb = _to_rgb(im)
    if orientation in _TRANSPOSE:
        rgb = rgb.transpose(_TRANSPOSE[orientation])
    rgb = shrink(rgb, max_side)
    image = np.asarray(rgb, dtype=np.uint8)
    if image.ndim != 3 or image.shape[2] != 3:
        raise PhotoError(f"unexpected pixel layout {image.shape} after conversion to RGB")
    return Decoded(
        image=image, scale=image.shape[1] / width, width=width, height=height, taken=taken
    )


def _orientation(im: Image.Image) -> int | None:
    try:
        value = im.getexif().get(0x0112)
    except (OSError, ValueError, SyntaxError):
        return None
    return int(value) if isinstance(value, int) and 1 <= value <= 8 else None


def _to_rgb(im: Image.Image) -> Image.Image:
    """RGB for every mode a camera, scanner or editor writes."""
    mode = im.mode
    if mode == "RGB":
        return im
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        # 16-bit (or 32-bit int) grey: scale to 8 bits instead of clipping.
        arr = np.asarray(im, dtype=np.float64)
        top = 65535.0 if mode.startswith("I;16") else max(float(arr.max()), 1.0)
        grey = np.clip(arr * (255.0 / top), 0, 255).astype(np.uint8)
        return Image.fromarray(grey).convert("RGB")
    if mode == "F":
        arr = np.asarray(im, dtype=np.float64)
        span = max(float(arr.max() - arr.min()), 1e-9)
        return Image.fromarray(((arr - arr.min()) * 255.0 / span).astype(np.uint8)).convert("RGB")
    if mode == "P" and "transparency" in im.info:
        im = im.convert("RGBA")
        mode = "RGBA"
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        # Transparent areas become white, as an image viewer shows them.
        rgba = im.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return im.convert("RGB")


def _check_regular(path: str | bytes | os.PathLike[str], mode: int) -> None:
    if not stat.S_ISREG(mode):
        raise NotRegularFileError(path, _KINDS.get(stat.S_IFMT(mode), "a special file"))
