"""Reads of people for lists and grids: who counts, their counts, covers and photos.

The people grid, ``facealbum people``, the person page and export all ask
here which faces count for a person and which face is a person's cover, so
each rule has one definition. A face counts for its person while it is a
face (``FaceState.FACE``) in a photo that is on disk; people merged into
another are never listed on their own.

Everything here only reads; it never writes a row and never decides who a
face belongs to.
"""

from collections.abc import Iterable
from typing import NamedTuple

from engine.catalog.persons import merged_ids, resolve_merged
from engine.catalog.records import AssignedBy, FaceState, PhotoStatus
from engine.catalog.store import Catalog


class PersonRow(NamedTuple):
    """One person as the people grid shows them: counts and cover, no photo paths."""

    id: int
    name: str | None
    hidden: int  # 0 or 1, as stored
    face_count: int
    photo_count: int  # distinct photos holding the person's faces
    confirmed_count: int
    cover_face_id: int | None  # None only for a face whose quality is not a number


def people_rows(cat: Catalog, include_hidden: bool = False) -> list[PersonRow]:
    """Everyone with at least one face that counts, largest first (named before unnamed on ties).

    The cover is the user's chosen face while it still counts for the
    person, otherwise the face of best quality among all of theirs, confirmed
    or not, then the oldest: saying "yes" to a small face in a crowd must not
    make it the person's picture. Computed by SQLite from the ``faces_person_live`` index alone
    (one pass for the counts and each person's best quality, one index seek
    per person for the face holding it). A tuple per person: at 33k people,
    building a record each costs about as much again as the query.
    """
    hidden = "" if include_hidden else " AND ps.hidden = 0"
    rows = cat._conn.execute(_PEOPLE_ROWS_SQL + hidden + _PEOPLE_ROWS_ORDER)
    return list(map(PersonRow._make, rows))


def photo_paths_by_person(cat: Catalog) -> dict[int, set[bytes]]:
    """For each person, the paths (relative to the scanned folder) of the photos
    holding faces that count for them."""
    out: dict[int, set[bytes]] = {}
    rows = cat._conn.execute(
        "SELECT DISTINCT f.person_id, p.relpath FROM faces f JOIN photos p ON p.id = f.photo_id "
        f"WHERE f.person_id IS NOT NULL AND f.state = '{FaceState.FACE}' "
        f"AND p.status = '{PhotoStatus.OK}'"
    )
    for person_id, relpath in rows:
        out.setdefault(int(person_id), set()).add(bytes(relpath))
    return out


def photos_with_all(cat: Catalog, person_ids: Iterable[int]) -> list[int]:
    """The ids of the photos on disk where every one of these people appears, oldest first.

    A person appears in a photo when one of the photo's faces counts for
    them; a person merged into another stands for whoever holds them now
    (and for everyone merged into that person). No people: no photos.
    """
    groups: list[set[int]] = []
    for person_id in dict.fromkeys(person_ids):
        final = resolve_merged(cat, int(person_id))
        cat.person(final)  # an unknown id is an error, not "in no photo"
        held = merged_ids(cat, final)
        if held not in groups:
            groups.append(held)
    if not groups:
        return []
    selects = [
        f"SELECT f.photo_id FROM faces f WHERE {_LIVE}"
        f" AND f.person_id IN ({','.join('?' * len(group))})"
        for group in groups
    ]
    args = [pid for group in groups for pid in sorted(group)]
    rows = cat._conn.execute(" INTERSECT ".join(selects) + " ORDER BY 1", args)
    return [int(r[0]) for r in rows]


def unassigned_count(cat: Catalog) -> int:
    """How many faces are in no person."""
    row = cat._conn.execute(
        f"SELECT COUNT(*) FROM faces WHERE person_id IS NULL AND {_IS_FACE}"
    ).fetchone()
    return int(row[0])


def unassigned_face_ids(cat: Catalog) -> list[int]:
    """The faces in no person, best quality first (then the oldest)."""
    rows = cat._conn.execute(
        f"SELECT id FROM faces WHERE person_id IS NULL AND {_IS_FACE} ORDER BY quality DESC, id"
    )
    return [int(r[0]) for r in rows]


def rejected_face_ids(cat: Catalog, person_id: int) -> list[int]:
    """The faces the user said are not this person, by id."""
    rows = cat._conn.execute(
        "SELECT face_id FROM rejections WHERE person_id = ? ORDER BY face_id", (person_id,)
    )
    return [int(r[0]) for r in rows]


# -- the people grid's query ----------------------------------------------------

_IS_FACE = f"state = '{FaceState.FACE}'"
_BY_USER = f"'{AssignedBy.USER}'"

# Faces that count: in a person, a face, in a photo that is on disk. Every
# face's photo exists (foreign key, ON DELETE CASCADE), so "not in a photo
# that is missing or a problem" means "in an ok photo", and lets SQLite answer
# from the faces index without reading the photos table per face.
_NOT_OK_PHOTOS = "(SELECT id FROM photos WHERE status IN ({}))".format(
    ", ".join(f"'{status}'" for status in PhotoStatus if status is not PhotoStatus.OK)
)
_LIVE = f"f.{_IS_FACE} AND f.photo_id NOT IN {_NOT_OK_PHOTOS}"

# The cover: the chosen face while it still counts for the person, else the
# best one by quality, confirmed or not (a confirmation says whose face it
# is, not that it is a good picture), then the oldest. The face holding the
# best quality is found by an index seek on (person_id, state, quality).
_PEOPLE_ROWS_SQL = f"""
WITH counts AS (
    SELECT f.person_id AS pid, COUNT(*) AS n, COUNT(DISTINCT f.photo_id) AS photos,
           SUM(f.assigned_by IS {_BY_USER}) AS confirmed, MAX(f.quality) AS best
    FROM faces f WHERE f.person_id IS NOT NULL AND {_LIVE} GROUP BY f.person_id
)
SELECT ps.id, ps.name, ps.hidden, c.n, c.photos, c.confirmed, COALESCE(chosen.id, (
    SELECT MIN(f.id) FROM faces f
    WHERE f.person_id = c.pid AND {_LIVE} AND f.quality = c.best))
FROM counts c JOIN persons ps ON ps.id = c.pid
LEFT JOIN faces chosen ON chosen.id = ps.cover_face_id AND chosen.person_id = ps.id
    AND chosen.{_IS_FACE} AND chosen.photo_id NOT IN {_NOT_OK_PHOTOS}
WHERE ps.merged_into IS NULL"""
_PEOPLE_ROWS_ORDER = " ORDER BY c.n DESC, ps.name IS NULL, ps.id"
