"""Suggestions: which unnamed clusters and lone faces are most likely a given person.

Each candidate's distance is the one the clustering would merge it with the
person at (average linkage of the faces, from per-group means;
``merge_distance`` without the small-cluster penalties; poses and capture
dates weighed as the clustering weighs them, so a person's profiles come up
as near as their other photos, and a face from years away from all of theirs
comes later). Candidates are ranked in the context of the library
(``engine.people.context``): the merge distance blended with how much the
candidate's faces and the person's share their nearest faces, in the
context's own units, ``(1 - weight) * 4 * jaccard + weight * distance``. A
person's stray profile lies far from their frontal photos and still shares
the neighbourhood of their profiles the person already holds; a look-alike
stranger seen once lies nearer and is among none of their faces' nearest.
In a library of under 80 faces there is no context and the merge distance
alone ranks. A candidate is offered when that blend is no more than what
a candidate sharing no neighbourhood at all would score at the clustering's
loosest threshold: one with nothing in common with the person is offered
exactly as far as before, one whose faces share the person's neighbours
from farther (at most ``CONTEXT_REACH`` farther). The GUI asks "Is this
Anna?", nearest first, and the user confirms or rejects in bulk. On CFP
dev, a user answering five questions for each person gathers 77 of 137
strays this way against 70 by the merge distance alone, with LFW dev
unchanged (``bench/review.py``).

Faces the user rejected from the person, and clusters made only of them,
are never suggested. Nor is a person the user set apart from this one: when
a face the user put in one of the two (a split, a move, "this is Anna") was
rejected from the other, the user said they are different people, so
neither is offered to the other, in either direction, however near their
faces are (two look-alike babies). Read-only and free of SQL: confirming
or rejecting goes through ``engine.people.facts``.
"""

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from engine.catalog import Catalog
from engine.catalog.persons import live_person
from engine.errors import NotFoundError
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
from engine.people.context import Context, ContextParams
from engine.people.search import SEARCH_REACH
from engine.people.update import FaceTable, load_faces

# The context is built over the person's faces (at most ``_OWN_FACES`` of them,
# drawn evenly) and the ``SEARCH_REACH`` faces nearest the person's centre;
# a candidate is compared through at most ``_GROUP_FACES`` of its faces there.
# Candidates with no face there are ranked as sharing no neighbourhood.
_OWN_FACES = 64
_GROUP_FACES = 16
# Without the expansion step (each face's encoding averaged with its nearest
# faces'): a stranger seen once, whose nearest faces are all the person's,
# would borrow the person's neighbourhood through it and be asked about
# first (LFW dev: 27 -> 25 of 32 strays gathered in five questions with it,
# 27 without; docs/PERFORMANCE.md "Suggestions in context").
_CONTEXT = ContextParams(expansion=1)
# A library of fewer faces has no context to speak of: a face's nearest
# faces are a quarter of all of them or more, and every face shares them.
_SMALLEST_LIBRARY = 4 * _CONTEXT.neighbours


@dataclass(frozen=True)
class Suggestion:
    kind: str  # 'person' (an unnamed cluster) or 'face' (a face in no person)
    person_id: int | None  # the cluster, for kind 'person'
    face_ids: list[int]  # the faces to confirm or reject
    distance: float  # merge distance to the person's faces (see merge_distance)
    cover_face_id: int
    # What suggestions are ranked by: the distance blended with the context
    # (squared-distance units, 0 to 4; the module's words).
    context_distance: float

    def to_json(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "person_id": self.person_id,
            "face_ids": self.face_ids,
            "distance": round(self.distance, 4),
            "context_distance": round(self.context_distance, 4),
            "cover_face_id": self.cover_face_id,
        }


def suggest(
    cat: Catalog,
    person_id: int,
    limit: int = 20,
    max_distance: float | None = None,
    *,
    in_context: bool = True,
) -> list[Suggestion]:
    """Up to ``limit`` suggestions for ``person_id``, most likely first.

    ``in_context=False`` ranks and offers by the merge distance alone (how
    the context's gain is measured: ``bench/review.py``).
    """
    return _suggest(cat, person_id, load_faces(cat), _settled(cat), limit, max_distance,
                    in_context)


def first_with_suggestions(
    cat: Catalog, order: Iterable[int], limit: int = 20
) -> tuple[int | None, list[Suggestion]]:
    """The first person of ``order`` with something to review, and their
    suggestions; people merged away or gone meanwhile are passed over.

    The library's faces are read once for all of them, not once a person:
    where everyone has been reviewed, going round thousands of people would
    otherwise read every face thousands of times.
    """
    table = load_faces(cat)
    settled = _settled(cat)
    for person_id in order:
        try:
            found = _suggest(cat, person_id, table, settled, limit, None, True)
        except NotFoundError:
            continue
        if found:
            return person_id, found
    return None, []


def _settled(cat: Catalog) -> set[int]:
    """Named and hidden people: the user's own decisions, never offered as "Is this Anna?"."""
    return {p.id for p in cat.persons(include_merged=True) if p.name is not None or p.hidden}


def _suggest(
    cat: Catalog,
    person_id: int,
    table: FaceTable,
    settled: set[int],
    limit: int,
    max_distance: float | None,
    in_context: bool,
) -> list[Suggestion]:
    person = live_person(cat, person_id)
    max_distance = ClusterParams().max_threshold if max_distance is None else max_distance
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
        # Sums per group as one sparse product (np.add.at takes seconds at 100k faces).
        member = sp.csr_matrix((np.ones(len(rows)), (group, np.arange(len(rows)))),
                               shape=(count, len(rows)))
        means = np.asarray(member @ table.vectors[rows].astype(np.float64)) / sizes[:, None]
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

    rejected = np.zeros(len(table.ids), dtype=bool)
    rejected[[row for row, who in table.rejected.items() if person.id in who]] = True
    apart = _set_apart(table, person.id)
    candidates: list[tuple[str, int | None, np.ndarray]] = []
    # Each other person's faces, grouped by one sort rather than one pass per person.
    held = np.flatnonzero((table.person >= 0) & ~mine & ~rejected)
    held = held[np.argsort(table.person[held], kind="stable")]
    others, starts = np.unique(table.person[held], return_index=True)
    for other, rows in zip(others, np.split(held, starts[1:]) if len(held) else [],
                           strict=True):
        if int(other) not in settled and int(other) not in apart:
            candidates.append(("person", int(other), rows))
    candidates += [("face", None, np.array([row]))
                   for row in np.nonzero((table.person < 0) & ~rejected)[0]]
    if not candidates:
        return []
    distances = distance_to(
        np.concatenate([rows for _, _, rows in candidates]),
        np.repeat(np.arange(len(candidates)), [len(rows) for _, _, rows in candidates]),
        len(candidates),
    )
    shared = (_shared_neighbourhoods(table, np.flatnonzero(mine), [r for _, _, r in candidates])
              if in_context else np.ones(len(candidates)))
    ranked = _CONTEXT.blend(shared, distances)
    if in_context:
        offered = _CONTEXT.within_reach(ranked, distances, max_distance)
    else:
        offered = distances <= max_distance
    out = [
        Suggestion(kind, other, [int(table.ids[r]) for r in rows], float(distance),
                   int(table.ids[rows[0]]), float(key))
        for (kind, other, rows), distance, key, ok
        in zip(candidates, distances, ranked, offered, strict=True) if ok
    ]
    out.sort(key=lambda s: s.context_distance if in_context else s.distance)
    return out[:limit]


def _shared_neighbourhoods(
    table: FaceTable, own: np.ndarray, groups: list[np.ndarray]
) -> np.ndarray:
    """Each group's mean Jaccard distance (``engine.people.context``) to the
    person's faces ``own``: 1 where the group has no face near the person."""
    out = np.ones(len(groups))
    if len(own) > _OWN_FACES:  # drawn evenly, so a person's profiles take part too
        own = own[np.linspace(0, len(own) - 1, _OWN_FACES).round().astype(np.int64)]
    similarity = table.vectors @ table.vectors[own].mean(axis=0)
    if len(similarity) > SEARCH_REACH:
        near = np.union1d(np.argpartition(-similarity, SEARCH_REACH - 1)[:SEARCH_REACH], own)
    else:
        near = np.arange(len(similarity))
    if len(near) < _SMALLEST_LIBRARY:
        return out
    local = np.full(len(similarity), -1, dtype=np.int64)
    local[near] = np.arange(len(near))
    context = Context(table.vectors[near], _CONTEXT)
    mine = local[own]
    asked: list[tuple[int, np.ndarray]] = []
    for i, rows in enumerate(groups):
        there = local[rows]
        there = there[there >= 0][:_GROUP_FACES]
        if len(there):
            asked.append((i, there))
    if not asked:
        return out
    a = np.concatenate([np.repeat(there, len(mine)) for _, there in asked])
    b = np.concatenate([np.tile(mine, len(there)) for _, there in asked])
    jaccard = context.jaccard(a, b)
    sizes = np.array([len(there) * len(mine) for _, there in asked])
    which = np.repeat(np.arange(len(asked)), sizes)
    out[[i for i, _ in asked]] = np.bincount(which, jaccard, len(asked)) / sizes
    return out


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
