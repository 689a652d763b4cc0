"""Face search: the faces of a library most likely the same person as one face.

"More photos of this face": every other face is ranked by its context
distance to the face searched (``engine.people.context``), which weighs the
pair's own distance with the faces around both. A person's profile, or a
photo from years away, lies far from the face itself and still has that
person's other photos around it; a look-alike stranger lies near and has
other people around. On CFP dev's frontal and profile photos, ranked this
way, profile against frontal pairs are told apart 96.6 % of the time against
94.1 % by the pair's distance alone (docs/PERFORMANCE.md).

The context is built over the face's ``reach`` nearest faces (all of a
smaller library), so a search costs the same in a library of a million
faces as in one of a few thousand. Faces of the searched face's own photo
are never the same person and are left out; so are faces the user marked
as not a face or a stranger (only clustered faces take part). Read-only.
"""

from dataclasses import dataclass

import numpy as np

from engine.catalog import Catalog
from engine.errors import FaceAlbumError
from engine.people.context import Context, ContextParams
from engine.people.update import load_faces

# Nearest faces the context is built over: a person's photos and the faces
# around them, with room to spare (a person seen in 500 photos still fits).
SEARCH_REACH = 2000


class SearchError(FaceAlbumError):
    """A face that cannot be searched for."""


@dataclass(frozen=True)
class Match:
    face_id: int
    person_id: int | None  # the person holding the face now
    distance: float  # context distance to the face searched, nearest first
    plain: float  # squared distance of the two faces' embeddings alone

    def to_json(self) -> dict[str, object]:
        return {
            "face_id": self.face_id,
            "person_id": self.person_id,
            "distance": round(self.distance, 4),
            "plain_distance": round(self.plain, 4),
        }


def similar_faces(
    cat: Catalog,
    face_id: int,
    limit: int = 20,
    *,
    reach: int = SEARCH_REACH,
    params: ContextParams | None = None,
    exclude_person: int | None = None,
) -> list[Match]:
    """Up to ``limit`` faces most likely the same person as ``face_id``, nearest first.

    ``exclude_person`` (a person's id as it is now, merges followed) lists
    none of that person's faces: "more faces like this one for Anna". Her
    faces still take part in the context, and the reach grows by their
    number, so a person of thousands of faces still gets others listed.
    """
    if limit < 1:
        raise SearchError(f"expected a limit of at least 1, got {limit}")
    table = load_faces(cat)
    rows = np.flatnonzero(table.ids == face_id)
    if not len(rows):
        raise SearchError(
            f"face {face_id} cannot be searched for: it is not a face of the catalog with "
            f"an embedding (a face marked not a face or a stranger, or an unknown id)"
        )
    row = int(rows[0])
    held = (
        table.person == exclude_person if exclude_person is not None
        else np.zeros(len(table.ids), dtype=bool)
    )
    reach += int(held.sum())
    similarity = table.vectors @ table.vectors[row]
    if len(similarity) > reach:
        near = np.argpartition(-similarity, reach - 1)[:reach]
        if row not in near:  # more than ``reach`` copies of the very same face
            near[-1] = row
    else:
        near = np.arange(len(similarity))
    query = int(np.flatnonzero(near == row)[0])
    candidates = np.flatnonzero((table.photo[near] != table.photo[row]) & ~held[near])
    if not len(candidates):
        return []
    context = Context(table.vectors[near], params)
    distances = context.distances(np.full(len(candidates), query), candidates)
    order = np.argsort(distances, kind="stable")[:limit]
    others = near[candidates[order]]
    diff = table.vectors[others].astype(np.float64) - table.vectors[row]
    plain = np.einsum("ij,ij->i", diff, diff)
    return [
        Match(
            face_id=int(table.ids[other]),
            person_id=int(table.person[other]) if table.person[other] >= 0 else None,
            distance=float(distance),
            plain=float(alone),
        )
        for other, distance, alone in zip(others, distances[order], plain, strict=True)
    ]
