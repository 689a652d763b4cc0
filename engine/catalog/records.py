"""One dataclass per catalog record.

Records are plain immutable values read from the catalog; they never talk to
the database themselves. Coordinates are pixels of the photo after its EXIF
orientation is applied.
"""

import os
from dataclasses import dataclass
from enum import StrEnum

import numpy as np


class PhotoStatus(StrEnum):
    OK = "ok"
    MISSING = "missing"  # was scanned, is no longer on disk; kept until purged
    PROBLEM = "problem"  # could not be read; ``problem`` says why


class MediaKind(StrEnum):
    """What a photo row holds: a still photo (raw files included) or a video."""

    PHOTO = "photo"
    VIDEO = "video"


class FaceState(StrEnum):
    """What a detected region is; only ``FACE`` counts for people."""

    FACE = "face"
    NOT_FACE = "not_face"  # the user said it is no face (a statue, a pattern)
    STRANGER = "stranger"  # a real face the user does not want grouped


class AssignedBy(StrEnum):
    """Who put a face in its person; ``USER`` is a fact no automatic step changes."""

    AUTO = "auto"
    USER = "user"


class FaceSource(StrEnum):
    """Where a face region came from."""

    DETECTED = "detected"  # the detector found it
    MANUAL = "manual"  # the user drew it
    XMP = "xmp"  # another tool's region, imported from metadata


@dataclass(frozen=True)
class Photo:
    id: int
    root: bytes  # os.fsencode of the scanned folder
    relpath: bytes  # os.fsencode, relative to root
    size: int
    mtime_ns: int
    sha256: str | None
    width: int | None
    height: int | None
    status: PhotoStatus
    problem: str | None
    detector: str | None
    scanned_at: float
    kind: MediaKind = MediaKind.PHOTO
    # Of a video: the second of the frame its best face was seen in (its poster).
    poster_seconds: float | None = None
    # Capture time from the metadata, seconds since 1970 of the camera's
    # wall clock read as UTC; None: none in it, or not looked at yet...
    taken: float | None = None
    taken_read: bool = False  # ...which this tells apart

    @property
    def path(self) -> str:
        """Absolute path as the OS names it (undecodable bytes surrogate-escaped)."""
        return os.fsdecode(os.path.join(self.root, self.relpath))

    @property
    def display_path(self) -> str:
        """The relative path, printable even when the name is not UTF-8."""
        return self.relpath.decode("utf-8", errors="replace")


@dataclass(frozen=True)
class Face:
    id: int
    photo_id: int
    box: tuple[float, float, float, float]  # x, y, w, h
    landmarks: np.ndarray | None  # (5, 2) float32: eyes, nose, mouth corners
    score: float
    quality: float
    sharpness: float
    detector: str
    source: FaceSource
    person_id: int | None
    assigned_by: AssignedBy | None  # None: in no person, or not placed by anyone yet
    state: FaceState
    created_at: float
    frame_seconds: float | None = None  # of a video's face: when in the video it was seen
    age: float | None = None  # apparent age in years (engine.models.age), None: not estimated
    # The second network the landmarks were averaged with; None: the detector's own.
    second_landmarks: str | None = None

    @property
    def confirmed(self) -> bool:
        return self.assigned_by is AssignedBy.USER


@dataclass(frozen=True)
class Person:
    id: int
    name: str | None
    hidden: bool
    cover_face_id: int | None
    merged_into: int | None
    created_at: float

    @property
    def label(self) -> str:
        return self.name or "Unnamed"


@dataclass(frozen=True)
class Operation:
    id: int
    at: float
    kind: str
    summary: str
    payload: str
    undone: bool


def box_in_photo(
    box: tuple[float, float, float, float], width: int | None, height: int | None
) -> tuple[float, float, float, float]:
    """The part of a face's ``box`` (x, y, w, h) inside a photo of ``width`` x
    ``height``, as other tools and scripts read a face's place: a face filling
    the frame, found on a padded copy, has a box running past the photo's
    edges. The box as it is where the photo's size is unknown."""
    if not width or not height:
        return box
    x, y, w, h = box
    left, top = min(max(x, 0.0), width), min(max(y, 0.0), height)
    right, bottom = min(max(x + w, left), width), min(max(y + h, top), height)
    return (left, top, right - left, bottom - top)
