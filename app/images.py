"""Thumbnails and face crops, decoded off the GUI thread and kept on disk.

``ImageCache`` hands out ``QPixmap``s for photo thumbnails and face crops. A
request it cannot answer from memory returns ``None`` at once and schedules
the work on the runner's task pool; when the image is ready ``ready(key)``
fires (queued, so views repaint on the GUI thread). Requests wait newest
first, and only the newest ``queue_items`` of them wait at all: a grid of
30k people scrolled from top to bottom asks for the tiles it passed, and
the tiles where it stopped must not wait behind them (a dropped request is
simply asked again if its tile is painted again). Decoded images are kept
as JPEG files under the user's cache folder, named by the photo's content
hash, so a moved or re-scanned photo keeps its thumbnails. This module reads
photos through ``engine.imageio`` and never changes the catalog.
"""

import hashlib
import logging
import math
import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

import platformdirs
from PIL import Image
from PySide6.QtCore import QObject, QPointF, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPixmap, QPolygonF

from app import APP_NAME
from app.workers import Runner
from engine.catalog import Face, Photo
from engine.errors import PhotoError
from engine.imageio import load_oriented

log = logging.getLogger(__name__)

_Maker = Callable[[], Image.Image]

# A face crop shows this much around the detector's box (hair, chin).
FACE_MARGIN = 1.6
# Part of every cached file's folder: change it when the way crops or
# thumbnails are made changes, so no stale image is shown.
CACHE_VERSION = 2


def default_cache_dir() -> Path:
    return Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False)) / "thumbnails"


class ImageCache(QObject):
    """Lazily loaded photo thumbnails and face crops."""

    ready = Signal(str)  # key of an image that can now be had without waiting
    _loaded = Signal(str, QImage)  # from a worker thread to the GUI thread

    def __init__(
        self, cache_dir: Path, runner: Runner, memory_items: int = 3000, queue_items: int = 128
    ) -> None:
        super().__init__()
        self.cache_dir = cache_dir
        self._runner = runner
        self._memory: OrderedDict[str, QPixmap] = OrderedDict()
        self._memory_items = memory_items
        self._pending: set[str] = set()  # asked for and not stored yet (GUI thread only)
        # Waiting requests, oldest first; workers take from the end.
        self._queue: OrderedDict[str, tuple[Path, _Maker]] = OrderedDict()
        self._queue_items = queue_items
        self._queue_lock = threading.Lock()
        self._broken: set[str] = set()
        self.requested = 0  # images asked of the workers so far (disk cache or decode)
        self._loaded.connect(self._store, Qt.ConnectionType.QueuedConnection)

    # -- requests -------------------------------------------------------------

    def photo_thumb(self, photo: Photo, size: int) -> QPixmap | None:
        """The photo scaled to ``size`` on its long side, or None while it loads."""
        return self._request(thumb_key(photo, size), lambda: _thumb(photo, size))

    def face_crop(
        self, photo: Photo, box: tuple[float, float, float, float], size: int,
        at_seconds: float | None = None,
    ) -> QPixmap | None:
        """A square ``size`` crop around a face, or None while it loads.

        Of a video, the face is in the frame at ``at_seconds`` (the poster's
        frame when None).
        """
        return self._request(
            crop_key(photo, box, size, at_seconds),
            lambda: _crop(photo, box, size, at_seconds),
        )

    def crop_of(self, face: Face, photo: Photo, size: int) -> QPixmap | None:
        """``face_crop`` of a face record: its box, and its own frame of a video."""
        return self.face_crop(photo, face.box, size, face.frame_seconds)

    def is_broken(self, key: str) -> bool:
        """True when the image behind ``key`` could not be made (the photo is unreadable)."""
        return key in self._broken

    # -- machinery ------------------------------------------------------------

    def _request(self, key: str, make: _Maker) -> QPixmap | None:
        cached = self._memory.get(key)
        if cached is not None:
            self._memory.move_to_end(key)
            return cached
        if key in self._pending or key in self._broken:
            return None
        self._pending.add(key)
        self.requested += 1
        path = self.cache_dir / f"v{CACHE_VERSION}" / key[:2] / f"{key}.jpg"
        with self._queue_lock:
            self._queue[key] = (path, make)
            dropped = []
            while len(self._queue) > self._queue_items:
                dropped.append(self._queue.popitem(last=False)[0])
        self._pending.difference_update(dropped)
        # One task per request; each makes the newest image still waiting.
        self._runner.submit(self._load_newest)
        return None

    def _load_newest(self) -> None:
        """Runs on a worker thread: the newest waiting request, if any is left."""
        with self._queue_lock:
            if not self._queue:
                return  # dropped, or taken by an earlier task
            key, (path, make) = self._queue.popitem(last=True)
        self._load(key, path, make)

    def _load(self, key: str, path: Path, make: _Maker) -> None:
        """Disk cache first, the photo itself otherwise."""
        image = QImage(str(path)) if path.exists() else QImage()
        if image.isNull():
            try:
                pil = make()
            except PhotoError as exc:
                log.info("no thumbnail for %s: %s", key, exc)
                self._loaded.emit(key, QImage())
                return
            _save_atomically(pil, path)
            image = _to_qimage(pil)
        self._loaded.emit(key, image)

    def _store(self, key: str, image: QImage) -> None:
        self._pending.discard(key)
        if image.isNull():
            self._broken.add(key)
        else:
            self._memory[key] = QPixmap.fromImage(image)
            while len(self._memory) > self._memory_items:
                self._memory.popitem(last=False)
        self.ready.emit(key)


def thumb_key(photo: Photo, size: int) -> str:
    """The name under which a photo's thumbnail is cached and announced."""
    return f"{_photo_key(photo)}-p{size}"


def crop_key(
    photo: Photo, box: tuple[float, float, float, float], size: int,
    at_seconds: float | None = None,
) -> str:
    """The name under which a face crop is cached and announced."""
    x, y, w, h = (round(v) for v in box)
    # Faces of one video come from different frames: the same box at another
    # second is another picture.
    when = "" if at_seconds is None else f"-t{round(at_seconds * 1000)}"
    return f"{_photo_key(photo)}-f{x}_{y}_{w}_{h}-{size}{when}"


def with_play_icon(pixmap: QPixmap) -> QPixmap:
    """A copy of a video's thumbnail with a play symbol in its middle, as players show one."""
    out = QPixmap(pixmap)
    side = max(12, min(out.width(), out.height()) // 4)
    cx, cy = out.width() / 2, out.height() / 2
    painter = QPainter(out)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor(0, 0, 0, 140))
    painter.drawEllipse(QPointF(cx, cy), side / 2, side / 2)
    painter.setBrush(QColor(255, 255, 255, 230))
    r = side / 4
    painter.drawPolygon(QPolygonF([
        QPointF(cx - r * 0.6, cy - r), QPointF(cx - r * 0.6, cy + r), QPointF(cx + r, cy),
    ]))
    painter.end()
    return out


def _photo_key(photo: Photo) -> str:
    if photo.sha256:
        return photo.sha256[:32]
    return hashlib.sha256(f"{photo.path}:{photo.mtime_ns}".encode()).hexdigest()[:32]


def _thumb(photo: Photo, size: int) -> Image.Image:
    # A video's thumbnail is the frame of its best face.
    return load_oriented(photo.path, size, at_seconds=photo.poster_seconds)


def _crop(
    photo: Photo, box: tuple[float, float, float, float], size: int,
    at_seconds: float | None = None,
) -> Image.Image:
    x, y, w, h = box
    side = max(w, h) * FACE_MARGIN
    full_long = max(photo.width or 0, photo.height or 0)
    # Decode just big enough that the crop has ``size`` pixels of detail.
    max_side = max(size, math.ceil(full_long * size / side)) if full_long and side > 0 else 1600
    image = load_oriented(
        photo.path, min(max_side, full_long) if full_long else max_side,
        at_seconds=photo.poster_seconds if at_seconds is None else at_seconds,
    )
    scale = image.width / photo.width if photo.width else 1.0
    cx, cy = (x + w / 2) * scale, (y + h / 2) * scale
    # A face that fills the photo gets the largest square the photo holds.
    half = min(side * scale, image.width, image.height) / 2
    left, top = cx - half, cy - half
    # Keep the square inside the photo where it can be, so no grey bands show.
    left = min(max(left, 0.0), max(image.width - 2 * half, 0.0))
    top = min(max(top, 0.0), max(image.height - 2 * half, 0.0))
    region = (round(left), round(top), round(left + 2 * half), round(top + 2 * half))
    return image.crop(region).resize((size, size), Image.Resampling.LANCZOS)


def _save_atomically(image: Image.Image, path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        image.save(tmp, "JPEG", quality=88)
        tmp.replace(path)
    except OSError as exc:  # a full or read-only cache only costs speed
        log.warning("cannot keep thumbnail %s: %s", path, exc)


def _to_qimage(image: Image.Image) -> QImage:
    rgb = image.convert("RGB")
    data = rgb.tobytes()
    q = QImage(data, rgb.width, rgb.height, 3 * rgb.width, QImage.Format.Format_RGB888)
    return q.copy()  # own the pixels; ``data`` goes away with this frame
