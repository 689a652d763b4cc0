"""``facealbum faces --all``: every face of the catalog, for scripts and benchmarks.

Each face is printed with ``id``, ``photo`` (its path relative to the scanned
folder, as ``facealbum people --json`` prints photos), ``box`` ``[x, y, w, h]``
in pixels of the upright photo, ``score`` (the detector's), ``person`` (the
person holding it now, or null), ``state`` and ``taken`` (its photo's
capture time from the metadata, "YYYY-MM-DDTHH:MM:SS" as the camera's clock
showed it, or null). The faces are streamed: each
line is printed as the catalog yields its row, so a large catalog is never
built as one list in memory; ``--json`` is one JSON array with a face per
line. Names that are not UTF-8 travel as the output layer escapes them
(``\\udcNN`` in JSON, ``\\xNN`` in text).

``faces --like FACE`` is face search (``engine.people.search``): the faces
most likely the same person as FACE, nearest first, each with its photo,
person, context distance and the embeddings' own distance.

The ``faces`` sub-command itself is registered by ``engine.cli.people_cmd``
(``faces PERSON`` lists one person's faces) and sends ``--all`` and
``--like`` here. This module never changes the catalog.
"""

import argparse
import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime

from engine.catalog.faces_export import ExportedFace, iter_all_faces
from engine.cli.common import open_catalog
from engine.cli.output import emit
from engine.errors import FaceAlbumError


def faces_all_or_explain(args: argparse.Namespace) -> int:
    """``faces --all``; ``faces`` with neither or both of PERSON and ``--all`` is refused."""
    if args.person is not None and args.all:
        raise FaceAlbumError(
            f"faces takes a PERSON id or --all, got both ({args.person} and --all); "
            f"drop --all to list person {args.person}'s faces, or the id to list every face"
        )
    if not args.all:
        raise FaceAlbumError(
            "faces takes a PERSON id or --all, got neither; `facealbum people` lists the "
            "people's ids, `facealbum faces --all` lists every face"
        )
    return cmd_all_faces(args)


def faces_like(args: argparse.Namespace) -> int:
    """``faces --like FACE``: face search; refused together with PERSON or ``--all``."""
    if args.person is not None or args.all:
        raise FaceAlbumError(
            f"faces --like {args.like} searches the whole catalog; drop "
            f"{'--all' if args.all else f'the person id {args.person}'}"
        )
    from engine.people.search import SearchError, similar_faces  # scipy: only when searching

    with open_catalog(args) as cat:
        try:
            matches = similar_faces(cat, args.like, limit=20 if args.limit is None else args.limit)
        except SearchError as exc:
            raise SearchError(f"{exc}; `facealbum faces --all` lists the faces") from exc
        photos = {m.face_id: cat.photo(cat.face(m.face_id).photo_id) for m in matches}
        rows = [{**m.to_json(), "photo": os.fsdecode(photos[m.face_id].relpath)}
                for m in matches]
    if args.json:
        emit(json.dumps(rows, indent=2, sort_keys=True))
        return 0
    if not rows:
        emit(f"No other face to compare face {args.like} with.")
        return 0
    emit(f"{'face':>8}  {'person':>8}  {'distance':>8}  {'alone':>6}  photo")
    for r in rows:
        person = "" if r["person_id"] is None else str(r["person_id"])
        emit(f"{r['face_id']:>8}  {person:>8}  {r['distance']:>8.3f}  "
             f"{r['plain_distance']:>6.3f}  {r['photo']}")
    return 0


def cmd_all_faces(args: argparse.Namespace) -> int:
    """Print every face of the catalog, as JSON with ``--json``, else as a table."""
    with open_catalog(args) as cat:
        faces = iter_all_faces(cat)
        if args.json:
            _stream_json(faces)
        else:
            _stream_text(faces)
    return 0


def face_json(face: ExportedFace) -> dict[str, object]:
    """One face as ``faces --all --json`` prints it."""
    return {
        "id": face.id,
        "photo": os.fsdecode(face.relpath),
        "box": [round(v, 1) for v in face.box],
        "score": round(face.score, 4),
        "person": face.person_id,
        "state": str(face.state),
        "taken": _iso(face.taken),
        # Apparent age in years, as the age network reads the face (a child
        # or a grown-up; not a birthday): null where none was read.
        "age": None if face.age is None else round(face.age, 1),
    }


def _iso(taken: float | None) -> str | None:
    # Stored as the camera's wall clock read as UTC: shown back as UTC, it
    # is the time the camera showed.
    if taken is None:
        return None
    return datetime.fromtimestamp(taken, UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _stream_json(faces: Iterator[ExportedFace]) -> None:
    # One JSON array written a face at a time: the separator of each face is
    # known only when the next one comes, so the previous line waits for it.
    # json.dumps keeps its ASCII default, so a name that is not UTF-8 travels
    # as \udcNN, as emit_json writes it.
    pending: str | None = None
    emit("[")
    for face in faces:
        if pending is not None:
            emit(pending + ",")
        pending = "  " + json.dumps(face_json(face), sort_keys=True)
    if pending is not None:
        emit(pending)
    emit("]")


def _stream_text(faces: Iterator[ExportedFace]) -> None:
    # Fixed columns: a table sized to its widest cell would have to read
    # every face before printing the first.
    emit(f"{'face':>8}  {'person':>8}  {'state':<9}  {'score':>6}  {'box':<26}  photo")
    for face in faces:
        box = ",".join(f"{v:.0f}" for v in face.box)
        person = "" if face.person_id is None else str(face.person_id)
        emit(
            f"{face.id:>8}  {person:>8}  {face.state!s:<9}  {face.score:>6.3f}  {box:<26}  "
            f"{os.fsdecode(face.relpath)}"  # emit escapes the name
        )
