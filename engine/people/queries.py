"""Read-only views of people for the CLI, the GUI's item models and export.

Everything here only reads the catalog. A person is listed once they hold
at least one face; people merged into another are never listed on their own.
The cover is the user's chosen face while it still belongs to the person,
otherwise their best face (confirmed first, then by quality).
"""

import os
from dataclasses import dataclass
from typing import NamedTuple

from engine.catalog import Catalog
from engine.catalog.records import Face, PhotoStatus
from engine.people.facts import live_person


@dataclass(frozen=True)
class PersonSummary:
    id: int
    name: str | None
    face_count: int
    photo_count: int
    photos: list[str]  # paths relative to the scanned folder, sorted
    hidden: bool
    cover_face_id: int | None
    confirmed_count: int

    @property
    def label(self) -> str:
        return self.name or "Unnamed"

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "name": self.name,
            "face_count": self.face_count,
            "photo_count": self.photo_count,
            "photos": self.photos,
            "hidden": self.hidden,
            "cover_face_id": self.cover_face_id,
            "confirmed_count": self.confirmed_count,
        }


def people(
    cat: Catalog, include_hidden: bool = False, *, with_photos: bool = True
) -> list[PersonSummary]:
    """Everyone with at least one face, largest first (named before unnamed on ties).

    ``with_photos=False`` leaves ``photos`` empty and counts in SQL instead:
    the people grid needs counts and covers only, and at 100k faces reading
    every photo path is most of the cost.
    """
    if not with_photos:
        return _people_counted(cat, include_hidden)
    persons = {p.id: p for p in cat.persons() if include_hidden or not p.hidden}
    faces: dict[int, list[tuple[int, bool, float]]] = {}
    photos: dict[int, set[bytes]] = {}
    rows = cat.conn.execute(
        "SELECT f.id, f.person_id, f.assigned_by, f.quality, p.relpath FROM faces f "
        "JOIN photos p ON p.id = f.photo_id "
        "WHERE f.person_id IS NOT NULL AND f.state = 'face' AND p.status = 'ok'"
    )
    for face_id, person_id, assigned_by, quality, relpath in rows:
        if person_id not in persons:
            continue
        faces.setdefault(person_id, []).append((face_id, assigned_by == "user", quality))
        photos.setdefault(person_id, set()).add(bytes(relpath))
    out = []
    for person_id, own in faces.items():
        person = persons[person_id]
        ids = {f[0] for f in own}
        cover = person.cover_face_id if person.cover_face_id in ids else _best(own)
        out.append(
            PersonSummary(
                id=person_id,
                name=person.name,
                face_count=len(own),
                photo_count=len(photos[person_id]),
                photos=sorted(os.fsdecode(p) for p in photos[person_id]),
                hidden=person.hidden,
                cover_face_id=cover,
                confirmed_count=sum(1 for f in own if f[1]),
            )
        )
    out.sort(key=lambda s: (-s.face_count, s.name is None, s.id))
    return out


def _people_counted(cat: Catalog, include_hidden: bool) -> list[PersonSummary]:
    """``people`` without photo paths, from ``people_rows``."""
    return [
        PersonSummary(
            id=r.id, name=r.name, face_count=r.face_count, photo_count=r.photo_count, photos=[],
            hidden=bool(r.hidden), cover_face_id=r.cover_face_id,
            confirmed_count=r.confirmed_count,
        )
        for r in people_rows(cat, include_hidden)
    ]


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
    """``people(cat, include_hidden, with_photos=False)`` as plain rows, in one query.

    The same people, order, counts and covers, computed by SQLite from the
    ``faces_person_live`` index alone (one pass for the counts and each
    person's best quality, one index seek per person for the face holding
    it). A tuple per person: at 33k people, building a record each costs
    about as much again as the query.
    """
    hidden = "" if include_hidden else " AND ps.hidden = 0"
    rows = cat.conn.execute(_PEOPLE_ROWS_SQL + hidden + _PEOPLE_ROWS_ORDER)
    return list(map(PersonRow._make, rows))


# Faces that count: in a person, a face, in a photo that is on disk. Every
# face's photo exists (foreign key, ON DELETE CASCADE), so "not in a photo
# that is missing or a problem" means "in an ok photo", and lets SQLite answer
# from the faces index without reading the photos table per face.
_NOT_OK_PHOTOS = "(SELECT id FROM photos WHERE status IN ({}))".format(
    ", ".join(f"'{status}'" for status in PhotoStatus if status is not PhotoStatus.OK)
)
_LIVE = f"f.state = 'face' AND f.photo_id NOT IN {_NOT_OK_PHOTOS}"

# The cover: the chosen face while it still counts for the person, else the
# best one: confirmed first, then quality, then the oldest. ``best_user`` is
# the best quality among confirmed faces (NULL when none is confirmed); the
# face holding the best quality of its class is found by an index seek on
# (person_id, state, quality).
_PEOPLE_ROWS_SQL = f"""
WITH counts AS (
    SELECT f.person_id AS pid, COUNT(*) AS n, COUNT(DISTINCT f.photo_id) AS photos,
           SUM(f.assigned_by IS 'user') AS confirmed,
           MAX(CASE WHEN f.assigned_by IS 'user' THEN f.quality END) AS best_user,
           MAX(f.quality) AS best_any
    FROM faces f WHERE f.person_id IS NOT NULL AND {_LIVE} GROUP BY f.person_id
)
SELECT ps.id, ps.name, ps.hidden, c.n, c.photos, c.confirmed, COALESCE(chosen.id, (
    SELECT MIN(f.id) FROM faces f
    WHERE f.person_id = c.pid AND {_LIVE} AND f.quality = COALESCE(c.best_user, c.best_any)
      AND (f.assigned_by IS 'user') = (c.best_user IS NOT NULL)))
FROM counts c JOIN persons ps ON ps.id = c.pid
LEFT JOIN faces chosen ON chosen.id = ps.cover_face_id AND chosen.person_id = ps.id
    AND chosen.state = 'face' AND chosen.photo_id NOT IN {_NOT_OK_PHOTOS}
WHERE ps.merged_into IS NULL"""
_PEOPLE_ROWS_ORDER = " ORDER BY c.n DESC, ps.name IS NULL, ps.id"


def person_faces(cat: Catalog, person_id: int) -> list[Face]:
    """A person's faces: confirmed first, then the best quality first."""
    person = live_person(cat, person_id)
    faces = [f for f in cat.faces(person_id=person.id) if f.state == "face"]
    faces.sort(key=lambda f: (not f.confirmed, -f.quality, f.id))
    return faces


def unassigned_count(cat: Catalog) -> int:
    """How many faces ``unassigned_faces`` would return, without reading them."""
    row = cat.conn.execute(
        "SELECT COUNT(*) FROM faces WHERE person_id IS NULL AND state = 'face'"
    ).fetchone()
    return int(row[0])


def unassigned_faces(cat: Catalog) -> list[Face]:
    """Faces in no person yet (strangers seen once, or not clustered yet), best first."""
    rows = cat.conn.execute(
        "SELECT id FROM faces WHERE person_id IS NULL AND state = 'face' ORDER BY quality DESC, id"
    ).fetchall()
    ids = [int(r[0]) for r in rows]
    by_id = {f.id: f for f in cat.faces(ids=ids)} if ids else {}
    return [by_id[i] for i in ids if i in by_id]


def rejected_faces(cat: Catalog, person_id: int) -> list[int]:
    """Ids of the faces the user said are not this person."""
    rows = cat.conn.execute(
        "SELECT face_id FROM rejections WHERE person_id = ? ORDER BY face_id", (person_id,)
    )
    return [int(r[0]) for r in rows]


def _best(faces: list[tuple[int, bool, float]]) -> int:
    return max(faces, key=lambda f: (f[1], f[2], -f[0]))[0]
