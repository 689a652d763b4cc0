"""What leaving the catalog needs: a person's photos for an album, and which
photos show which people for sidecars.

A face counts here while it is a face (``FaceState.FACE``) in a person;
photos count while they are on disk (``PhotoStatus.OK``). Everything here
only reads: it never writes a row, and it never follows merges itself (the
callers ask ``engine.catalog.persons`` who holds a person now).
"""

from engine.catalog.records import AssignedBy, FaceState, Photo, PhotoStatus
from engine.catalog.store import Catalog


def photos_of_person(cat: Catalog, person_id: int, *, confirmed_only: bool = False) -> list[Photo]:
    """The photos on disk where ``person_id`` has a face, by photo id.

    ``confirmed_only`` counts only faces the user confirmed.
    """
    sql = (
        "SELECT DISTINCT f.photo_id FROM faces f JOIN photos p ON p.id = f.photo_id"
        " WHERE f.person_id = ? AND f.state = ? AND p.status = ?"
        + (" AND f.assigned_by = ?" if confirmed_only else "")
        + " ORDER BY f.photo_id"
    )
    args: list[object] = [person_id, str(FaceState.FACE), str(PhotoStatus.OK)]
    if confirmed_only:
        args.append(str(AssignedBy.USER))
    ids = [int(r[0]) for r in cat._conn.execute(sql, args)]
    return [cat.photo(i) for i in ids]


def photo_ids_by_person(cat: Catalog) -> dict[int, set[int]]:
    """For each person id holding a face, the photos (any status) its faces are in.

    Person ids are as stored: a person merged away keeps its own entry.
    """
    out: dict[int, set[int]] = {}
    for photo_id, person_id in cat._conn.execute(
        "SELECT DISTINCT photo_id, person_id FROM faces WHERE person_id IS NOT NULL"
        " AND state = ?",
        (str(FaceState.FACE),),
    ):
        out.setdefault(int(person_id), set()).add(int(photo_id))
    return out
