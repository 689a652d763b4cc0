"""What a scan writes: photos as found on disk, their detected faces, embeddings.

The scan decides (which file changed, which new detection is which old face);
this module stores its decisions, in the scan's transaction. It writes
automatic data only: photo bookkeeping, boxes, landmarks, scores and
embeddings, capture dates. It never writes a fact (a face's person, ``assigned_by`` or
``state``, a name, a rejection), and it never deletes a face that carries one:
a rescan must never undo what a user decided.
"""

import json
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from engine.catalog.records import AssignedBy, FaceSource, FaceState, MediaKind, PhotoStatus
from engine.catalog.store import Catalog


@dataclass(frozen=True)
class FoundFace:
    """A face the detector found in a photo, with what the scan measured of it."""

    box: tuple[float, float, float, float]  # x, y, w, h in pixels of the oriented photo
    landmarks: np.ndarray  # (5, 2)
    score: float
    quality: float
    sharpness: float
    embedding: np.ndarray  # L2-normalised, of the embedder the scan ran
    frame_seconds: float | None = None  # of a video: when in it the face was seen
    age: float | None = None  # apparent age in years (engine.models.age), None: not estimated
    second_landmarks: str | None = None  # the network averaged into the landmarks, if any


def photos_missing_embeddings(cat: Catalog, root_id: int, model: str) -> set[int]:
    """Photos of the folder ``root_id`` with a landmarked face that ``model`` has not embedded."""
    rows = cat._conn.execute(
        "SELECT DISTINCT f.photo_id FROM faces f JOIN photos p ON p.id = f.photo_id"
        " WHERE p.root_id = ? AND f.landmarks IS NOT NULL AND NOT EXISTS"
        " (SELECT 1 FROM embeddings e WHERE e.face_id = f.id AND e.model = ?)",
        (root_id, model),
    )
    return {int(r[0]) for r in rows}


def photos_missing_ages(cat: Catalog, root_id: int) -> set[int]:
    """Photos of the folder ``root_id`` with a landmarked face whose apparent
    age was never read (a catalog from before ages)."""
    rows = cat._conn.execute(
        "SELECT DISTINCT f.photo_id FROM faces f JOIN photos p ON p.id = f.photo_id"
        " WHERE p.root_id = ? AND f.landmarks IS NOT NULL AND f.age IS NULL",
        (root_id,),
    )
    return {int(r[0]) for r in rows}


def photos_missing_second_landmarks(cat: Catalog, root_id: int, detector: str) -> set[int]:
    """Photos and videos of the folder ``root_id`` with a face ``detector``
    found, or found in a box a user drew, whose landmarks are its own alone
    (a catalog from before they were averaged with a second network's): their
    next scan places them again (a video is analysed whole again)."""
    rows = cat._conn.execute(
        "SELECT DISTINCT f.photo_id FROM faces f JOIN photos p ON p.id = f.photo_id"
        " WHERE p.root_id = ? AND f.source IN (?, ?) AND f.detector = ?"
        " AND f.landmarks IS NOT NULL AND f.second_landmarks IS NULL",
        (root_id, str(FaceSource.DETECTED), str(FaceSource.MANUAL), detector),
    )
    return {int(r[0]) for r in rows}


def record_folder_problems(
    cat: Catalog, root_id: int, below: bytes, problems: Sequence[tuple[bytes, str]]
) -> None:
    """Remember the folders of ``root_id`` under ``below`` that a scan could not
    read (relative paths, with why), replacing what an earlier scan of them found.

    Their photos keep their state; ``folder_problems`` lists them for
    ``facealbum problems`` until a scan reads them again.
    """
    key = f"{_FOLDER_PROBLEMS}{root_id}"
    kept = [
        (rel, why) for rel, why in _decode_folder_problems(cat.get_meta(key))
        if below and not (rel == below or rel.startswith(below.rstrip(b"/") + b"/"))
    ]
    entries = kept + [(bytes(rel), str(why)) for rel, why in problems]
    # JSON holds text: names that are not UTF-8 travel surrogate-escaped.
    cat.set_meta(key, json.dumps([[os.fsdecode(rel), why] for rel, why in entries]))


def folder_problems(cat: Catalog) -> list[tuple[str, str]]:
    """Every folder the last scans could not read: (absolute path, why)."""
    out: list[tuple[str, str]] = []
    for root_id, root in cat.roots():
        for rel, why in folder_problems_of(cat, root_id):
            out.append((os.fsdecode(os.path.join(root, rel)), why))
    return out


def folder_problems_of(cat: Catalog, root_id: int) -> list[tuple[bytes, str]]:
    """The folders of one scanned folder the last scans could not read: (relative path, why)."""
    return _decode_folder_problems(cat.get_meta(f"{_FOLDER_PROBLEMS}{root_id}"))


def forget_folder_problems(cat: Catalog, root_id: int) -> None:
    """Drop what scans found unreadable under ``root_id``, in the caller's transaction."""
    cat._conn.execute("DELETE FROM meta WHERE key = ?", (f"{_FOLDER_PROBLEMS}{root_id}",))


def mark_scanned(
    cat: Catalog,
    photo_id: int,
    *,
    size: int,
    mtime_ns: int,
    sha256: str | None,
    width: int,
    height: int,
    detector: str,
    kind: MediaKind = MediaKind.PHOTO,
) -> None:
    """Record that photo ``photo_id`` was read again as it is now on disk, and is fine."""
    with cat.transaction():
        cat._conn.execute(
            "UPDATE photos SET size = ?, mtime_ns = ?, sha256 = ?, width = ?, height = ?,"
            " status = ?, problem = NULL, detector = ?, scanned_at = ?, kind = ? WHERE id = ?",
            (size, mtime_ns, sha256, width, height, str(PhotoStatus.OK), detector, time.time(),
             str(kind), photo_id),
        )


def record_taken(cat: Catalog, photo_id: int, taken: float | None) -> None:
    """Store the capture time a date reader found in photo ``photo_id``'s
    metadata (None: it holds none), so that it is not looked for again."""
    cat._conn.execute(
        "UPDATE photos SET taken = ?, taken_read = 1 WHERE id = ?", (taken, photo_id)
    )


def replace_faces(
    cat: Catalog,
    photo_id: int,
    found: Sequence[FoundFace],
    same_as: Mapping[int, int],
    *,
    detector: str,
    model: str,
) -> list[int]:
    """Make ``found`` the detected faces of photo ``photo_id``; returns their face ids.

    ``same_as`` maps an index of ``found`` to the id of the old face it is:
    that row is updated in place, keeping its id and with it every fact
    about it (its stale embeddings go). Every other detection becomes a new
    face. An old detected face that no detection is gone, unless it carries
    a user fact (confirmed, marked, or rejected for someone): a fact outlives
    the detector missing the face.
    """
    with cat.transaction():
        old = [
            int(r[0]) for r in cat._conn.execute(
                "SELECT id FROM faces WHERE photo_id = ? AND source = ?",
                (photo_id, str(FaceSource.DETECTED)),
            )
        ]
        ids: list[int] = []
        for i, face in enumerate(found):
            face_id = same_as.get(i)
            if face_id is None:
                face_id = cat.add_face(
                    photo_id, face.box, face.landmarks, score=face.score, quality=face.quality,
                    sharpness=face.sharpness, detector=detector,
                    second_landmarks=face.second_landmarks,
                )
            else:
                x, y, w, h = (float(v) for v in face.box)
                cat._conn.execute(
                    "UPDATE faces SET x = ?, y = ?, w = ?, h = ?, landmarks = ?, score = ?,"
                    " quality = ?, sharpness = ?, detector = ?, second_landmarks = ? WHERE id = ?",
                    (x, y, w, h, np.asarray(face.landmarks, np.float32).reshape(5, 2).tobytes(),
                     float(face.score), float(face.quality), float(face.sharpness), detector,
                     face.second_landmarks, face_id),
                )
                cat._conn.execute("DELETE FROM embeddings WHERE face_id = ?", (face_id,))
            cat.put_embedding(face_id, model, face.embedding)
            cat._conn.execute(
                "UPDATE faces SET frame_seconds = ? WHERE id = ?", (face.frame_seconds, face_id)
            )
            cat.set_age(face_id, face.age)
            ids.append(face_id)
        kept = set(same_as.values())
        for face_id in old:
            if face_id not in kept:
                _delete_unless_it_carries_a_fact(cat, face_id)
    return ids


def _delete_unless_it_carries_a_fact(cat: Catalog, face_id: int) -> None:
    cat._conn.execute(
        "DELETE FROM faces WHERE id = ? AND state = ? AND assigned_by IS NOT ?"
        " AND NOT EXISTS (SELECT 1 FROM rejections r WHERE r.face_id = faces.id)",
        (face_id, str(FaceState.FACE), str(AssignedBy.USER)),
    )


_FOLDER_PROBLEMS = "folder_problems:"  # meta key prefix, followed by the root's id


def _decode_folder_problems(value: str | None) -> list[tuple[bytes, str]]:
    if not value:
        return []
    return [(os.fsencode(rel), str(why)) for rel, why in json.loads(value)]
