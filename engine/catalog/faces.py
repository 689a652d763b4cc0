"""Faces a user draws, and finding a scanned photo by its path.

``add_drawn_face`` stores a face the detector missed, with its landmarks and
embedding, as a ``FaceSource.MANUAL`` row that does not count yet (state
``NOT_FACE``): the user operation that drew it (``engine.people.facts.
tag_face``) makes it a face through the operation log in the same
transaction, so undoing that operation sends it back to this state and it
disappears from people and from the photo viewer. ``photos_at`` answers
which photos a path names, absolute or relative to a scanned folder.

This module never decides whether a drawn face counts or whom it belongs to,
never writes a fact, and never touches a detected face: a scan replaces only
``FaceSource.DETECTED`` rows, so a drawn face outlives every rescan.
"""

import os
from dataclasses import dataclass

import numpy as np

from engine.catalog.records import FaceSource, FaceState, Photo
from engine.catalog.store import Catalog


@dataclass(frozen=True)
class DrawnFace:
    """A box the user drew in a photo, with what measuring it found.

    ``landmarks`` come from the detector run around the box, or are the
    embedder's template placed in the box when it found nothing there
    (``score`` is then 0).
    """

    box: tuple[float, float, float, float]  # x, y, w, h in pixels of the upright photo
    landmarks: np.ndarray  # (5, 2) float32, same pixels
    score: float  # the detector's score for the face it found in the box; 0: none found
    quality: float
    sharpness: float
    detector: str  # the detector that placed the landmarks, or "manual"
    model: str  # the embedder of ``embedding``
    embedding: np.ndarray  # L2-normalised
    age: float | None = None  # apparent age in years (engine.models.age); None: not read
    second_landmarks: str | None = None  # the network averaged into the landmarks, if any


def add_drawn_face(cat: Catalog, photo_id: int, drawn: DrawnFace) -> int:
    """Store a drawn face, not counting yet, with its embedding; returns its id.

    Runs in the caller's transaction (the user operation that puts it in effect).
    """
    with cat.transaction():
        face_id = cat.add_face(
            photo_id, drawn.box, drawn.landmarks, score=drawn.score, quality=drawn.quality,
            sharpness=drawn.sharpness, detector=drawn.detector, source=FaceSource.MANUAL,
            second_landmarks=drawn.second_landmarks,
        )
        cat._conn.execute(
            "UPDATE faces SET state = ? WHERE id = ?", (str(FaceState.NOT_FACE), face_id)
        )
        cat.put_embedding(face_id, drawn.model, drawn.embedding)
        if drawn.age is not None:
            cat.set_age(face_id, drawn.age)
    return face_id


def photos_at(cat: Catalog, path: str | os.PathLike[str]) -> list[Photo]:
    """The photos ``path`` names: an absolute path inside a scanned folder, or a
    path relative to one (as ``facealbum people --json`` prints them), which
    may name a photo in several scanned folders."""
    raw = os.fsencode(path)
    roots = cat.roots()
    wanted: list[tuple[int, bytes]] = []
    if os.path.isabs(raw):
        for candidate in {os.path.abspath(raw), os.path.realpath(raw)}:
            for root_id, root in roots:
                prefix = root.rstrip(b"/" + os.sep.encode()) + os.sep.encode()
                if candidate.startswith(prefix):
                    wanted.append((root_id, candidate[len(prefix):]))
    else:
        relpath = os.path.normpath(raw)
        wanted = [(root_id, relpath) for root_id, _ in roots]
    found: dict[int, Photo] = {}
    for root_id, relpath in wanted:
        row = cat._conn.execute(
            "SELECT id FROM photos WHERE root_id = ? AND relpath = ?", (root_id, relpath)
        ).fetchone()
        if row is not None and int(row[0]) not in found:
            found[int(row[0])] = cat.photo(int(row[0]))
    return list(found.values())
