"""Read-only views of people for the CLI, the GUI's item models and export.

Everything here only reads the catalog and never speaks SQL. A person is
listed once they hold at least one face; people merged into another are never
listed on their own. Who is listed, their counts and their cover (the user's
chosen face while it still belongs to the person, otherwise their face of the
best quality, confirmed or not) have one definition,
``engine.catalog.people.people_rows``; ``people`` adds the photo paths.
"""

import os
from dataclasses import dataclass

from engine.catalog import Catalog, FaceState
from engine.catalog import people as catalog_people
from engine.catalog.people import PersonRow
from engine.catalog.persons import live_person
from engine.catalog.records import Face

__all__ = [
    "PersonRow",
    "PersonSummary",
    "people",
    "people_rows",
    "person_faces",
    "rejected_faces",
    "unassigned_count",
    "unassigned_faces",
]


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

    ``with_photos=False`` leaves ``photos`` empty: the people grid needs
    counts and covers only, and at 100k faces reading every photo path is
    most of the cost.
    """
    paths = catalog_people.photo_paths_by_person(cat) if with_photos else {}
    return [
        PersonSummary(
            id=r.id, name=r.name, face_count=r.face_count, photo_count=r.photo_count,
            photos=sorted(os.fsdecode(p) for p in paths.get(r.id, ())),
            hidden=bool(r.hidden), cover_face_id=r.cover_face_id,
            confirmed_count=r.confirmed_count,
        )
        for r in people_rows(cat, include_hidden)
    ]


def people_rows(cat: Catalog, include_hidden: bool = False) -> list[PersonRow]:
    """``people(cat, include_hidden, with_photos=False)`` as plain rows, in one query."""
    return catalog_people.people_rows(cat, include_hidden)


def person_faces(cat: Catalog, person_id: int) -> list[Face]:
    """A person's faces: confirmed first, then the best quality first."""
    person = live_person(cat, person_id)
    faces = [f for f in cat.faces(person_id=person.id) if f.state is FaceState.FACE]
    faces.sort(key=lambda f: (not f.confirmed, -f.quality, f.id))
    return faces


def unassigned_count(cat: Catalog) -> int:
    """How many faces ``unassigned_faces`` would return, without reading them."""
    return catalog_people.unassigned_count(cat)


def unassigned_faces(cat: Catalog) -> list[Face]:
    """Faces in no person yet (strangers seen once, or not clustered yet), best first."""
    ids = catalog_people.unassigned_face_ids(cat)
    by_id = {f.id: f for f in cat.faces(ids=ids)} if ids else {}
    return [by_id[i] for i in ids if i in by_id]


def rejected_faces(cat: Catalog, person_id: int) -> list[int]:
    """Ids of the faces the user said are not this person."""
    return catalog_people.rejected_face_ids(cat, person_id)
