"""Every face of the catalog, read one row at a time for export.

``iter_all_faces`` answers ``facealbum faces --all``: each face with its
photo's path relative to the scanned folder, its box in pixels of the
upright photo, the detector's score, the person holding it now (merges
followed through ``final_persons``), its state, its photo's capture
time from the metadata (``photos.taken``) and its apparent age. Rows come from one SQLite
cursor as the caller consumes them, so a catalog of a hundred thousand faces
is never held as one list; only the small map of merged persons is.

This module only reads: it never writes a face, a person or a fact, and the
caller must consume the iterator while its ``Catalog`` is open.
"""

from collections.abc import Iterator
from dataclasses import dataclass

from engine.catalog.persons import final_persons
from engine.catalog.records import FaceState, box_in_photo
from engine.catalog.store import Catalog


@dataclass(frozen=True)
class ExportedFace:
    """One face as ``facealbum faces --all`` reports it."""

    id: int
    photo_id: int
    relpath: bytes  # os.fsencode, relative to the scanned folder
    # x, y, w, h in pixels of the upright photo, the part inside the photo
    box: tuple[float, float, float, float]
    score: float
    person_id: int | None  # the person holding the face now; None: in no person
    state: FaceState
    taken: float | None = None  # the photo's capture time (records.Photo.taken)
    age: float | None = None  # apparent age in years (records.Face.age)


# Ordered by photo, then face: the faces of one photo come together, and the
# faces_photo index serves the order without a sort of the whole table.
_ALL_FACES = (
    "SELECT f.id, f.photo_id, p.relpath, f.x, f.y, f.w, f.h, f.score, f.person_id, f.state,"
    " p.taken, f.age, p.width, p.height"
    " FROM faces f JOIN photos p ON p.id = f.photo_id ORDER BY f.photo_id, f.id"
)


def iter_all_faces(cat: Catalog) -> Iterator[ExportedFace]:
    """Every face of every photo, in photo order, streamed from the catalog."""
    merged = final_persons(cat)
    for row in cat._conn.execute(_ALL_FACES):
        person = row[8]
        yield ExportedFace(
            id=int(row[0]),
            photo_id=int(row[1]),
            relpath=bytes(row[2]),
            box=box_in_photo(
                (float(row[3]), float(row[4]), float(row[5]), float(row[6])), row[12], row[13]
            ),
            score=float(row[7]),
            person_id=None if person is None else merged.get(int(person), int(person)),
            state=FaceState(row[9]),
            taken=None if row[10] is None else float(row[10]),
            age=None if row[11] is None else float(row[11]),
        )
