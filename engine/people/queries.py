"""Read-only views of people for the CLI, the GUI's item models and export.

Everything here only reads the catalog. A person is listed once they hold
at least one face; people merged into another are never listed on their own.
The cover is the user's chosen face while it still belongs to the person,
otherwise their best face (confirmed first, then by quality).
"""

import os
from dataclasses import dataclass

from engine.catalog import Catalog
from engine.catalog.records import Face
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
    """``people`` without photo paths, aggregated by SQLite."""
    persons = {p.id: p for p in cat.persons() if include_hidden or not p.hidden}
    live = (
        "FROM faces f JOIN photos p ON p.id = f.photo_id "
        "WHERE f.person_id IS NOT NULL AND f.state = 'face' AND p.status = 'ok'"
    )
    counts = cat.conn.execute(
        "SELECT f.person_id, COUNT(*), COUNT(DISTINCT f.photo_id),"
        " SUM(f.assigned_by = 'user') " + live + " GROUP BY f.person_id"
    ).fetchall()
    # The best face of each person: confirmed first, then quality, then oldest.
    best = dict(
        cat.conn.execute(
            "SELECT person_id, id FROM (SELECT f.person_id, f.id, ROW_NUMBER() OVER ("
            "PARTITION BY f.person_id ORDER BY f.assigned_by = 'user' DESC, f.quality DESC,"
            " f.id) AS rank " + live + ") WHERE rank = 1"
        ).fetchall()
    )
    chosen = {
        int(r[0])
        for r in cat.conn.execute(
            "SELECT ps.id FROM persons ps JOIN faces f ON f.id = ps.cover_face_id "
            "JOIN photos p ON p.id = f.photo_id WHERE f.person_id = ps.id "
            "AND f.state = 'face' AND p.status = 'ok'"
        )
    }
    rows = [r for r in counts if r[0] in persons]
    rows.sort(key=lambda r: (-r[1], persons[r[0]].name is None, r[0]))
    return [
        PersonSummary(
            id=person_id,
            name=persons[person_id].name,
            face_count=face_count,
            photo_count=photo_count,
            photos=[],
            hidden=persons[person_id].hidden,
            cover_face_id=(
                persons[person_id].cover_face_id if person_id in chosen else best.get(person_id)
            ),
            confirmed_count=int(confirmed or 0),
        )
        for person_id, face_count, photo_count, confirmed in rows
    ]


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
