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


def people(cat: Catalog, include_hidden: bool = False) -> list[PersonSummary]:
    """Everyone with at least one face, largest first (named before unnamed on ties)."""
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


def person_faces(cat: Catalog, person_id: int) -> list[Face]:
    """A person's faces: confirmed first, then the best quality first."""
    person = live_person(cat, person_id)
    faces = [f for f in cat.faces(person_id=person.id) if f.state == "face"]
    faces.sort(key=lambda f: (not f.confirmed, -f.quality, f.id))
    return faces


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
