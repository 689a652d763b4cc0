"""Suggestions: which unnamed clusters and lone faces are most likely a given person.

Ranks by average linkage to the person's faces (the mean squared Euclidean
distance over all face pairs, from per-group means), nearest first, so the
GUI can ask "Is this Anna?" and the user confirms or rejects in bulk.
Faces the user rejected from the person, and clusters made only of them,
are never suggested. Read-only: confirming or rejecting goes through
``engine.people.facts``.
"""

from dataclasses import dataclass

import numpy as np

from engine.catalog import Catalog
from engine.people.cluster import ClusterParams
from engine.people.facts import live_person
from engine.people.update import load_faces


@dataclass(frozen=True)
class Suggestion:
    kind: str  # 'person' (an unnamed cluster) or 'face' (a face in no person)
    person_id: int | None  # the cluster, for kind 'person'
    face_ids: list[int]  # the faces to confirm or reject
    distance: float  # average squared distance to the person's faces, 0..4
    cover_face_id: int

    def to_json(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "person_id": self.person_id,
            "face_ids": self.face_ids,
            "distance": round(self.distance, 4),
            "cover_face_id": self.cover_face_id,
        }


def suggest(
    cat: Catalog, person_id: int, limit: int = 20, max_distance: float | None = None
) -> list[Suggestion]:
    """Up to ``limit`` suggestions for ``person_id``, most likely first."""
    person = live_person(cat, person_id)
    max_distance = ClusterParams().max_threshold if max_distance is None else max_distance
    table = load_faces(cat)
    mine = table.person == person.id
    if not mine.any():
        return []
    centre = table.vectors[mine].mean(axis=0)
    named = {
        int(r[0]) for r in cat.conn.execute("SELECT id FROM persons WHERE name IS NOT NULL")
    }
    hidden = {int(r[0]) for r in cat.conn.execute("SELECT id FROM persons WHERE hidden = 1")}
    rejected = np.array([person.id in table.rejected.get(i, ()) for i in range(len(table.ids))],
                        dtype=bool)
    out: list[Suggestion] = []
    others = table.person[(table.person >= 0) & ~mine]
    for other in np.unique(others):
        if int(other) in named or int(other) in hidden:
            continue
        rows = np.nonzero((table.person == other) & ~rejected)[0]
        if not len(rows):
            continue
        distance = float(2.0 - 2.0 * centre @ table.vectors[rows].mean(axis=0))
        if distance <= max_distance:
            out.append(Suggestion("person", int(other), [int(table.ids[r]) for r in rows],
                                  distance, int(table.ids[rows[0]])))
    alone = np.nonzero((table.person < 0) & ~rejected)[0]
    if len(alone):
        distances = 2.0 - 2.0 * table.vectors[alone] @ centre
        for row, distance in zip(alone, distances, strict=True):
            if distance <= max_distance:
                face = int(table.ids[row])
                out.append(Suggestion("face", None, [face], float(distance), face))
    out.sort(key=lambda s: s.distance)
    return out[:limit]
