"""Suggestions: which unnamed clusters and lone faces are most likely a given person.

Ranks by the distance the clustering would merge them with the person at
(average linkage of the faces, from per-group means; ``merge_distance``
without the small-cluster penalties; poses and capture dates weighed as the
clustering weighs them, so a person's profiles come up as near as their
other photos, and a face from years away from all of theirs comes later),
nearest first, so the GUI can ask "Is this Anna?" and the user confirms or
rejects in bulk.
Faces the user rejected from the person, and clusters made only of them,
are never suggested. Nor is a person the user set apart from this one: when
a face the user put in one of the two (a split, a move, "this is Anna") was
rejected from the other, the user said they are different people, so
neither is offered to the other, in either direction, however near their
faces are (two look-alike babies). Read-only and free of SQL: confirming or rejecting goes
through ``engine.people.facts``.
"""

from dataclasses import dataclass

import numpy as np

from engine.catalog import Catalog
from engine.catalog.persons import live_person
from engine.people.cluster import (
    ClusterParams,
    date_penalty,
    date_ranges,
    date_rule_of,
    in_years,
    merge_distance,
    pose_nearer,
    profile_shares,
)
from engine.people.update import FaceTable, load_faces


@dataclass(frozen=True)
class Suggestion:
    kind: str  # 'person' (an unnamed cluster) or 'face' (a face in no person)
    person_id: int | None  # the cluster, for kind 'person'
    face_ids: list[int]  # the faces to confirm or reject
    distance: float  # merge distance to the person's faces (see merge_distance)
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
    params = ClusterParams()
    share = profile_shares(table.poses, len(table.ids), params)
    years = in_years(table.dates, len(table.ids), params)

    def distance_to(rows: np.ndarray, group: np.ndarray, count: int) -> np.ndarray:
        """The distance to the person of each of ``count`` groups of faces
        (``rows`` of the table, ``group`` the group of each)."""
        sizes = np.bincount(group, minlength=count).astype(np.float64)
        means = np.zeros((count, table.vectors.shape[1]), dtype=np.float64)
        np.add.at(means, group, table.vectors[rows])
        means /= sizes[:, None]
        distance = merge_distance(
            means @ centre.astype(np.float64), float(centre @ centre),
            np.einsum("ij,ij->i", means, means), float(mine.sum()),
            sizes, (0.0, 0.0, 0.0, params.spread_weight),
        )
        if share is not None:
            distance -= pose_nearer(
                np.bincount(group, share[rows], count) / sizes,
                np.bincount(group, share[rows] ** 2, count) / sizes,
                share[mine].mean(), (share[mine] ** 2).mean(), params.pose_offset,
                sizes, float(mine.sum()),
            )
        if years is not None:
            first, last = date_ranges(years[rows], group, count)
            own_first, own_last = date_ranges(years[mine], np.zeros(int(mine.sum()), np.int64), 1)
            distance += date_penalty(first, last, own_first, own_last, date_rule_of(params))
        return np.asarray(distance)

    # Named and hidden people are the user's own decisions, never offered as "Is this Anna?".
    settled = {p.id for p in cat.persons(include_merged=True) if p.name is not None or p.hidden}
    rejected = np.array([person.id in table.rejected.get(i, ()) for i in range(len(table.ids))],
                        dtype=bool)
    apart = _set_apart(table, person.id)
    out: list[Suggestion] = []
    others = table.person[(table.person >= 0) & ~mine]
    clusters: list[tuple[int, np.ndarray]] = []
    for other in np.unique(others):
        if int(other) in settled or int(other) in apart:
            continue
        rows = np.nonzero((table.person == other) & ~rejected)[0]
        if len(rows):
            clusters.append((int(other), rows))
    if clusters:
        distances = distance_to(
            np.concatenate([rows for _, rows in clusters]),
            np.repeat(np.arange(len(clusters)), [len(rows) for _, rows in clusters]),
            len(clusters),
        )
        for (other, rows), distance in zip(clusters, distances, strict=True):
            if distance <= max_distance:
                out.append(Suggestion("person", other, [int(table.ids[r]) for r in rows],
                                      float(distance), int(table.ids[rows[0]])))
    alone = np.nonzero((table.person < 0) & ~rejected)[0]
    if len(alone):
        distances = distance_to(alone, np.arange(len(alone)), len(alone))
        for row, distance in zip(alone, distances, strict=True):
            if distance <= max_distance:
                face = int(table.ids[row])
                out.append(Suggestion("face", None, [face], float(distance), face))
    out.sort(key=lambda s: s.distance)
    return out[:limit]


def _set_apart(table: FaceTable, person_id: int) -> set[int]:
    """The people the user said are not ``person_id``: a face confirmed for one
    of the two was rejected from the other (either way round)."""
    apart: set[int] = set()
    for row, rejected_from in table.rejected.items():
        if not table.confirmed[row]:
            continue
        owner = int(table.person[row])
        if owner == person_id:
            apart |= rejected_from
        elif person_id in rejected_from:
            apart.add(owner)
    apart.discard(person_id)
    return apart
