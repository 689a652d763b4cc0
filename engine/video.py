"""Read videos: frames sampled through a video, upright, at the scan's working size.

A video is one item of a library like a photo: the scan detects faces on a
few frames spread through it (``sample_frames``) and keeps one face per
person seen (``distinct_faces``), so the video joins people like a photo.
Decoding goes through PyAV (FFmpeg). Anything that stops a video from being
read raises ``PhotoError`` whose message is the reason the scan records; this
module never decides whether a scan goes on, and never reads more of a file
than the frames it returns need (a video can be many gigabytes).

A video's capture time is its container's ``creation_time`` (or its video
stream's), ISO 8601 as phones and cameras write it, kept as written like a
photo's EXIF date (``engine.imageio``): read with the frames
(``sample_video``), or alone (``video_taken``).
"""

import hashlib
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, BinaryIO

import numpy as np
from PIL import Image

from engine.errors import PhotoError
from engine.imageio import Decoded, open_regular, read_bytes, shrink, taken_from_text

if TYPE_CHECKING:
    import av


def _pyav() -> ModuleType:
    """PyAV, loaded on the first video: a scan of photos never loads FFmpeg."""
    import av

    return av

MAX_FRAMES = 16  # frames looked at per video, however long
EVERY_SECONDS = 2.0  # one frame every this many seconds, for short videos
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Frame:
    """One sampled frame: when it is, and its pixels like a decoded photo's."""

    seconds: float
    decoded: Decoded


@dataclass(frozen=True)
class Sampled:
    """The frames sampled through a video, and its capture time (None: not in it)."""

    frames: list[Frame]
    taken: float | None


def file_hash(path: str | bytes) -> str:
    """SHA-256 of the file, read in pieces: a video need not fit in memory."""
    digest = hashlib.sha256()
    try:
        with open_regular(path) as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
    except OSError:
        read_bytes(path)  # raises the PhotoError that says why, as for a photo
        raise
    return digest.hexdigest()


def sample_frames(
    path: str | bytes, *, min_side: int = 960, max_side: int = 1920,
    max_frames: int = MAX_FRAMES, every: float = EVERY_SECONDS,
) -> list[Frame]:
    """Frames spread evenly through the video (at most ``max_frames``)."""
    return sample_video(
        path, min_side=min_side, max_side=max_side, max_frames=max_frames, every=every
    ).frames


def sample_video(
    path: str | bytes, *, min_side: int = 960, max_side: int = 1920,
    max_frames: int = MAX_FRAMES, every: float = EVERY_SECONDS,
) -> Sampled:
    """``sample_frames``, with the capture time read from the same opened file."""
    with _opened(path) as (container, stream):
        taken = _taken(container, stream)
        duration = _duration(container, stream)
        count = max(1, min(max_frames, math.ceil(duration / every) if duration > 0 else 1))
        times = [duration * (i + 0.5) / count for i in range(count)]
        frames: list[Frame] = []
        for at in times:
            frame = _frame_near(container, stream, at)
            if frame is not None and (not frames or frame.seconds > frames[-1].seconds):
                frames.append(Frame(frame.seconds, _upright(frame.image, min_side, max_side)))
    if not frames:
        raise PhotoError("a video without a frame that can be decoded")
    return Sampled(frames, taken)


def video_taken(path: str | bytes) -> float | None:
    """The capture time in a video's metadata, no frame decoded; None when it
    has none or cannot be read: never raises."""
    try:
        with _opened(path) as (container, stream):
            return _taken(container, stream)
    except (PhotoError, OSError):
        return None


def frame_at(path: str | bytes, seconds: float | None, *, max_side: int) -> Decoded:
    """The frame at ``seconds`` (the middle when None), long side at most ``max_side``."""
    with _opened(path) as (container, stream):
        at = _duration(container, stream) / 2 if seconds is None else seconds
        frame = _frame_near(container, stream, at)
    if frame is None:
        raise PhotoError("a video without a frame that can be decoded")
    return _upright(frame.image, max_side, max_side)


def distinct_faces(
    embeddings: np.ndarray, quality: Sequence[float], threshold: float
) -> list[int]:
    """Indices of one face per person seen: faces whose embeddings lie within
    ``threshold`` (squared distance of unit vectors, as clustering measures)
    of a better one are the same person again. Best quality first."""
    order = sorted(range(len(quality)), key=lambda i: -quality[i])
    kept: list[int] = []
    for i in order:
        if all(float(np.sum((embeddings[i] - embeddings[k]) ** 2)) > threshold for k in kept):
            kept.append(i)
    return kept


# -- private -----------------------------------------------------------------


@dataclass(frozen=True)
class _Raw:
    seconds: float
    image: Image.Image


class _opened:  # noqa: N801 - used as a context manager, like open()
    """The container and its first video stream; PyAV's errors as ``PhotoError``."""

    def __init__(self, path: str | bytes) -> None:
        self.path = path
        self.handle: BinaryIO | None = None
        self.container: av.container.InputContainer | None = None

    def __enter__(self) -> tuple["av.container.InputContainer", "av.video.stream.VideoStream"]:
        try:
            self.handle = open_regular(self.path)
        except OSError:
            read_bytes(self.path)  # the PhotoError saying why
            raise
        av = _pyav()
        try:
            self.container = av.open(self.handle, mode="r")
        except (av.error.FFmpegError, ValueError, OSError) as exc:
            self.close()
            raise PhotoError(f"not a video this program can read ({_why(exc)})") from exc
        if not self.container.streams.video:
            self.close()
            raise PhotoError("a file with a video's name but no video stream in it")
        stream = self.container.streams.video[0]
        stream.thread_type = "AUTO"
        return self.container, stream

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self.container is not None:
            self.container.close()
            self.container = None
        if self.handle is not None:
            self.handle.close()
            self.handle = None


def _taken(container: "av.container.InputContainer", stream: "av.video.stream.VideoStream"
           ) -> float | None:
    for metadata in (container.metadata, stream.metadata):
        taken = taken_from_text(metadata.get("creation_time"))
        if taken is not None:
            return taken
    return None


def _duration(container: "av.container.InputContainer", stream: "av.video.stream.VideoStream"
              ) -> float:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return float(container.duration) / 1_000_000  # av.time_base
    return 0.0


def _frame_near(
    container: "av.container.InputContainer", stream: "av.video.stream.VideoStream", at: float
) -> _Raw | None:
    """The first frame at or after ``at`` seconds (the last one before, at the end)."""
    last: _Raw | None = None
    av = _pyav()
    try:
        if at > 0 and stream.time_base is not None:
            container.seek(int(at / stream.time_base), stream=stream, backward=True)
        for frame in container.decode(stream):
            seconds = float(frame.time) if frame.time is not None else 0.0
            last = _Raw(seconds, _turned(frame))
            if seconds >= at - 1e-3:
                break
    except (av.error.FFmpegError, ValueError, OSError, MemoryError) as exc:
        if last is None:
            raise PhotoError(f"damaged or truncated video data ({_why(exc)})") from exc
    return last


def _turned(frame: "av.VideoFrame") -> Image.Image:
    """The frame upright: phones record turned and say so in the stream."""
    image = frame.to_image()
    rotation = int(getattr(frame, "rotation", 0) or 0) % 360
    if rotation:
        image = image.rotate(rotation, expand=True)
    return image


def _upright(image: Image.Image, min_side: int, max_side: int) -> Decoded:
    del min_side  # frames are small enough to decode whole
    width, height = image.size
    small = shrink(image.convert("RGB"), max_side)
    array = np.asarray(small, dtype=np.uint8)
    return Decoded(image=array, scale=array.shape[1] / width, width=width, height=height)


def _why(exc: BaseException) -> str:
    # FFmpeg's errors carry an error number and the file they were given (here
    # a handle's number): its words alone say the same to a user, every time.
    words = getattr(exc, "strerror", None)
    if isinstance(exc, _pyav().error.FFmpegError) and words:
        return str(words)
    return str(exc).replace(os.linesep, " ") or type(exc).__name__
