"""Reads of people for lists and grids: who counts, their counts, covers and photos.

The people grid, ``facealbum people``, the person page and export all ask
here which faces count for a person and which face is a person's cover, so
each rule has one definition. A face counts for its person while it is a
face (``FaceState.FACE``) in a photo that is on disk; people merged into
another are never listed on their own.

Everything here only reads; it never writes a row and never decides who a
face belongs to.
"""

from typing import NamedTuple

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
    person, otherwise their best face: confirmed first, then by quality, then
    the oldest. Computed by SQLite from the ``faces_person_live`` index alone
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
# best one: confirmed first, then quality, then the oldest. ``best_user`` is
# the best quality among confirmed faces (NULL when none is confirmed); the
# face holding the best quality of its class is found by an index seek on
# (person_id, state, quality).
_PEOPLE_ROWS_SQL = f"""
WITH counts AS (
    SELECT f.person_id AS pid, COUNT(*) AS n, COUNT(DISTINCT f.photo_id) AS photos,
           SUM(f.assigned_by IS {_BY_USER}) AS confirmed,
           MAX(CASE WHEN f.assigned_by IS {_BY_USER} THEN f.quality END) AS best_user,
           MAX(f.quality) AS best_any
    FROM faces f WHERE f.person_id IS NOT NULL AND {_LIVE} GROUP BY f.person_id
)
SELECT ps.id, ps.name, ps.hidden, c.n, c.photos, c.confirmed, COALESCE(chosen.id, (
    SELECT MIN(f.id) FROM faces f
    WHERE f.person_id = c.pid AND {_LIVE} AND f.quality = COALESCE(c.best_user, c.best_any)
      AND (f.assigned_by IS {_BY_USER}) = (c.best_user IS NOT NULL)))
FROM counts c JOIN persons ps ON ps.id = c.pid
LEFT JOIN faces chosen ON chosen.id = ps.cover_face_id AND chosen.person_id = ps.id
    AND chosen.{_IS_FACE} AND chosen.photo_id NOT IN {_NOT_OK_PHOTOS}
WHERE ps.merged_into IS NULL"""
_PEOPLE_ROWS_ORDER = " ORDER BY c.n DESC, ps.name IS NULL, ps.id"
