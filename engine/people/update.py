"""Automatic assignment of faces to people: full recluster and incremental update.

This is the bridge between the catalog's facts and ``engine.people.cluster``:
it loads the embeddings of the active embedder (through the user's adapter,
when one is trained), turns facts into constraints (confirmed faces are
seeds, rejections and shared photos are cannot-links, merged people resolve
to the person they were merged into), and writes the result back.

It writes only automatic assignments (``AssignedBy.AUTO``, or clears one)
and creates unnamed persons for new clusters, both through the named
operations of ``engine.catalog``; it never speaks SQL. It never writes a
fact: confirmed faces, face states, names, hidden flags, merges and
rejections are only read. A cluster that mostly overlaps a person
keeps that person's id, so names and covers survive a recluster.
"""

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass

import numpy as np

from engine.catalog import Catalog
from engine.catalog.clustering import (
    assign_automatically,
    automatic_assignments_exist,
    clustering_signature,
    embedding_count,
    faces_to_cluster,
    grouping_rules,
    last_update,
    regroup_done,
    regroup_wanted,
    rejections,
    remember_rules,
    remember_update,
    unassigned_faces_exist,
)
from engine.catalog.persons import final_persons, new_person
from engine.errors import Cancelled
from engine.models.defaults import DEFAULT_EMBEDDER
from engine.people.cluster import (
    DEFAULT_STRICTNESS,
    GROUPING_RULES,
    ClusterParams,
    Constraints,
    Dendrogram,
    attach_small,
    build_tree,
    build_tree_steps,
    child_shares,
    cut,
    date_penalty,
    date_ranges,
    date_rule_of,
    in_years,
    merge_distance,
    neighbour_reach,
    params_for_strictness,
    pose_nearer,
    profile_shares,
    rule_of,
    stopping_at_threshold,
    weak_faces,
)
from engine.progress import CancelToken, Progress
from engine.quality import face_quality

_ASSIGN_CHUNK = 2048


def active_embedder(cat: Catalog) -> str:
    return cat.get_meta("embedder", DEFAULT_EMBEDDER) or DEFAULT_EMBEDDER


def load_vectors(
    cat: Catalog, model: str | None = None, face_ids: np.ndarray | list[int] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(face ids, unit vectors) as clustering sees them: through the adapter if enabled."""
    model = model or active_embedder(cat)
    ids, vectors = cat.embeddings(model, None if face_ids is None else [int(i) for i in face_ids])
    if len(ids) == 0:
        return ids, vectors
    try:
        from engine.train.adapter import adapt_embeddings
    except ImportError:  # training is optional; without it vectors are used as they are
        return ids, vectors
    adapted = np.asarray(adapt_embeddings(cat, model, vectors), dtype=np.float32)
    norms = np.linalg.norm(adapted, axis=1, keepdims=True)
    return ids, adapted / np.maximum(norms, 1e-12)


@dataclass
class FaceTable:
    """The faces clustering may touch, one row each, aligned with ``vectors``."""

    ids: np.ndarray
    vectors: np.ndarray
    photo: np.ndarray
    person: np.ndarray  # resolved person id, -1 for none
    confirmed: np.ndarray  # bool
    rejected: dict[int, set[int]]  # row -> resolved person ids
    quality: np.ndarray | None = None  # engine.quality's figure per row, when known
    dates: np.ndarray | None = None  # capture time per row (seconds since 1970), NaN unknown
    poses: np.ndarray | None = None  # yaw per row in degrees (engine.quality), NaN unknown
    ages: np.ndarray | None = None  # apparent age per row in years (engine.models.age), NaN unknown

    def quality_of(self, rows: np.ndarray | None = None) -> np.ndarray | None:
        if self.quality is None:
            return None
        return self.quality if rows is None else self.quality[rows]

    def dates_of(self, rows: np.ndarray | None = None) -> np.ndarray | None:
        if self.dates is None:
            return None
        return self.dates if rows is None else self.dates[rows]

    def poses_of(self, rows: np.ndarray | None = None) -> np.ndarray | None:
        if self.poses is None:
            return None
        return self.poses if rows is None else self.poses[rows]

    def ages_of(self, rows: np.ndarray | None = None) -> np.ndarray | None:
        if self.ages is None:
            return None
        return self.ages if rows is None else self.ages[rows]

    def constraints(self, rows: np.ndarray | None = None) -> Constraints:
        """Constraints of all rows, or of the subset ``rows`` (renumbered)."""
        if rows is None:
            rows = np.arange(len(self.ids))
        seed = np.where(self.confirmed[rows], self.person[rows], -1)
        where = {int(r): i for i, r in enumerate(rows)}
        rejected = {where[r]: s for r, s in self.rejected.items() if r in where}
        prior = np.where(self.confirmed[rows], -1, self.person[rows])
        return Constraints(photo=self.photo[rows], seed=seed, rejected=rejected, prior=prior)


def load_faces(cat: Catalog, model: str | None = None) -> FaceTable:
    """Every face that may be clustered: state ``FACE`` with an embedding of ``model``."""
    final = final_persons(cat)
    rows = faces_to_cluster(cat)
    if not len(rows.ids):
        return _empty_table()
    ids, vectors = load_vectors(cat, model)
    if len(ids) == 0:
        return _empty_table()
    pos = np.clip(np.searchsorted(rows.ids, ids), 0, len(rows.ids) - 1)
    have = rows.ids[pos] == ids
    ids, vectors, pos = ids[have], vectors[have], pos[have]
    person = np.array([final.get(int(p), int(p)) if p >= 0 else -1 for p in rows.person[pos]],
                      dtype=np.int64)
    row_of = {int(f): i for i, f in enumerate(ids)}
    rejected: dict[int, set[int]] = {}
    for face_id, person_id in rejections(cat):
        row = row_of.get(face_id)
        if row is not None:
            rejected.setdefault(row, set()).add(final.get(person_id, person_id))
    return FaceTable(
        ids=ids,
        vectors=vectors,
        photo=rows.photo[pos],
        person=person,
        confirmed=rows.confirmed[pos] & (person >= 0),
        rejected=rejected,
        quality=rows.quality[pos],
        dates=rows.taken[pos],
        poses=face_quality.yaws(rows.landmarks[pos]),
        ages=rows.age[pos],
    )


# -- full recluster ------------------------------------------------------------


def recluster(
    cat: Catalog,
    *,
    strictness: float = DEFAULT_STRICTNESS,
    params: ClusterParams | None = None,
    cancel: CancelToken | None = None,
) -> Iterator[Progress]:
    """Cluster every face again, keeping every fact; yields ``Progress``."""
    params = stopping_at_threshold(params or params_for_strictness(strictness))
    model = active_embedder(cat)
    table = load_faces(cat, model)
    yield Progress("loading", len(table.ids), len(table.ids))
    if len(table.ids) == 0:
        regroup_done(cat, GROUPING_RULES)
        return
    key = _cache_key(cat, model, params)
    tree = _TREES.get(key)
    if tree is None:
        tree = yield from build_tree_steps(
            table.vectors, table.constraints(), params, cancel, table.quality_of(),
            table.dates_of(), table.poses_of(), table.ages_of(),
        )
    _keep_tree(key, tree)
    labels = _cut_and_attach(table, tree, params)
    if cancel is not None and cancel.cancelled:
        raise Cancelled("clustering was stopped on request; nothing was changed")
    yield Progress("writing", 0, 1)
    with cat.transaction():
        target = _persons_for_clusters(cat, table, labels, params.min_size)
        changed = _write(cat, table, np.arange(len(table.ids)), target)
        regroup_done(cat, GROUPING_RULES)
    _TREES.clear()  # the catalog changed: every tree's signature is stale
    yield Progress("writing", 1, 1, {"changed": changed})


def _cut_and_attach(table: FaceTable, tree: Dendrogram, params: ClusterParams) -> np.ndarray:
    """Every cluster at the threshold, however small (``_persons_for_clusters``
    decides which become people), with the lone faces and small groups that
    ``attach_small`` lets join a person moved into that person's cluster."""
    labels = cut(tree, params.threshold, min_size=1)
    kept = cut(tree, params.threshold, params.min_size)
    joined = attach_small(table.vectors, kept, tree, table.constraints(), params)
    moved = np.nonzero(joined != kept)[0]
    if len(moved):
        member = np.full(int(kept.max()) + 1, -1, dtype=np.int64)
        member[kept[kept >= 0]] = np.nonzero(kept >= 0)[0]
        labels[moved] = labels[member[joined[moved]]]
    return labels


def preview_cluster_count(
    cat: Catalog, strictness: float = DEFAULT_STRICTNESS, params: ClusterParams | None = None
) -> int:
    """How many people a recluster at ``strictness`` would give.

    Counted the way ``recluster`` makes them: the same tree (merging stopped
    at the threshold), the same cut with lone faces and pairs joining their
    nearest person (``_cut_and_attach``), and the same rule for which
    clusters become people (``_plan_owners``), so at any setting it is the
    number of people the recluster leaves (faces without an embedding of the
    active embedder aside). The last few trees are kept, so returning to a
    strictness costs a cut; a recluster at a strictness just previewed
    reuses its tree.

    The count need not fall as strictness loosens: at strict settings most
    faces stay alone and a lone face is no person, so loosening can turn
    lone faces into new pairs (more people) before it merges people (fewer).
    """
    params = stopping_at_threshold(params or params_for_strictness(strictness))
    model = active_embedder(cat)
    table = load_faces(cat, model)
    if len(table.ids) == 0:
        return 0
    key = _cache_key(cat, model, params)
    tree = _TREES.get(key)
    if tree is None:
        tree = build_tree(
            table.vectors, table.constraints(), params, quality=table.quality_of(),
            dates=table.dates_of(), poses=table.poses_of(), ages=table.ages_of(),
        )
    _keep_tree(key, tree)
    labels = _cut_and_attach(table, tree, params)
    owner = _plan_owners(cat, table, labels, params.min_size)
    # A cluster that would become a new person counts once, under a number of its own.
    fresh = np.nonzero(owner == _NEW)[0]
    owner[fresh] = -2 - fresh
    target = _refuse_rejected(table, owner[labels])
    return len(np.unique(target[target != -1]))


# The last trees built, keyed by what each was built from; a change of faces,
# facts or parameters gives another key.
_TREES: dict[tuple[object, ...], Dendrogram] = {}
_TREES_KEPT = 4


def _keep_tree(key: tuple[object, ...], tree: Dendrogram) -> None:
    """Keep ``tree`` as the newest of the last few (a slider moved back and forth)."""
    _TREES.pop(key, None)
    stale = [k for k in _TREES if k[:-3] != key[:-3]]  # built on another catalog state
    for k in stale:
        del _TREES[k]
    _TREES[key] = tree
    while len(_TREES) > _TREES_KEPT:
        del _TREES[next(iter(_TREES))]


def _cache_key(cat: Catalog, model: str, params: ClusterParams) -> tuple[object, ...]:
    return (
        str(cat.path.resolve()), model, *clustering_signature(cat),
        params.neighbours, params.max_threshold, neighbour_reach(params),
    )


# -- incremental update --------------------------------------------------------


def update_people(
    cat: Catalog,
    *,
    strictness: float = DEFAULT_STRICTNESS,
    params: ClusterParams | None = None,
    cancel: CancelToken | None = None,
    regroup: bool = True,
) -> Iterator[Progress]:
    """After a scan: unassigned faces join people they are near, the rest are clustered.

    A face joins the person it is nearest to by the clustering's own merge
    rule (every face of the person votes with its distance, through the
    person's mean: average linkage with the spread weight and penalties)
    when that is under the threshold, skipping people it was rejected from
    and people already in its photo; a weak face (``weak_faces``: tiny or
    blurred) only with ``weak_penalty`` added to its distance, and a face
    years away from all of a person's photos only with ``date_penalty``
    added (capture dates, ``engine.people.cluster``), and a young child
    joining a person of children's photos with ``child_penalty``. Faces that
    join no one are clustered among themselves; groups of at least
    ``min_size`` become new people. Existing assignments are kept.

    With nothing to group it returns at once, without reading an embedding:
    when every face is in a person, or when the faces, facts, embedder and
    parameters are those the last finished update ran on (a rescan that found
    nothing new, an empty folder: the faces left alone then, strangers seen
    once, would be left alone again).

    When a scan read new evidence for faces already in people (the ages and
    dates of a catalog from an older version: ``want_regroup``), or when the
    people were grouped by older rules than ``GROUPING_RULES``, every face is
    grouped again instead (``recluster``, keeping every fact), once.
    ``regroup=False`` leaves that for a later call: the updates a long scan
    runs while it goes on would each group everything again.
    """
    grouped = automatic_assignments_exist(cat)
    older = grouped and grouping_rules(cat) != GROUPING_RULES
    if regroup and (older or regroup_wanted(cat)):
        yield from recluster(cat, strictness=strictness, params=params, cancel=cancel)
        return
    params = stopping_at_threshold(params or params_for_strictness(strictness))
    model = active_embedder(cat)
    if not unassigned_faces_exist(cat) or last_update(cat) == _update_key(cat, model, params):
        return
    table = load_faces(cat, model)
    pool = np.nonzero(table.person < 0)[0]
    yield Progress("loading", len(table.ids), len(table.ids))
    if len(pool) == 0:
        remember_update(cat, _update_key(cat, model, params))
        return
    index = AssignIndex.from_table(table, params)
    target = np.full(len(table.ids), -1, dtype=np.int64)
    weak = weak_faces(len(table.ids), table.constraints(), params, table.quality_of())
    for start in range(0, len(pool), _ASSIGN_CHUNK):
        if cancel is not None and cancel.cancelled:
            raise Cancelled("updating people was stopped on request; nothing was changed")
        rows = pool[start : start + _ASSIGN_CHUNK]
        # Distances of a chunk at once; only faces near someone are looked at one by one.
        ranked, near = index.candidates(
            table.vectors[rows], params, penalty=np.where(weak[rows], params.weak_penalty, 0.0),
            years=index.years_of(rows), shares=index.shares_of(rows),
            children=index.children_of(rows),
        )
        for i in np.nonzero(near)[0]:
            row = int(rows[i])
            person = index.pick(
                ranked[i], rejected=table.rejected.get(row, set()), photo=int(table.photo[row])
            )
            if person is not None:
                target[row] = person
                index.add(
                    person, table.vectors[row], int(table.photo[row]),
                    index.years_of(row), index.shares_of(row), index.children_of(row),
                )
        yield Progress("assigning", min(start + _ASSIGN_CHUNK, len(pool)), len(pool))
    rest = pool[target[pool] < 0]
    labels = np.full(len(rest), -1, dtype=np.int64)
    if len(rest) >= params.min_size:
        tree = yield from build_tree_steps(
            table.vectors[rest], table.constraints(rest), params, cancel, table.quality_of(rest),
            table.dates_of(rest), table.poses_of(rest), table.ages_of(rest),
        )
        labels = attach_small(
            table.vectors[rest], cut(tree, params.threshold, params.min_size),
            tree, table.constraints(rest), params,
        )
    with cat.transaction():
        new_ids: dict[int, int] = {}
        for rest_row, label in zip(rest, labels, strict=True):
            if label >= 0:
                if int(label) not in new_ids:
                    new_ids[int(label)] = new_person(cat)
                target[rest_row] = new_ids[int(label)]
        changed = _write(cat, table, pool, target)
        if not grouped:  # the first people of the catalog: grouped by these rules
            remember_rules(cat, GROUPING_RULES)
        remember_update(cat, _update_key(cat, model, params))
    _TREES.clear()
    yield Progress("writing", 1, 1, {"changed": changed, "new_people": len(new_ids)})


def _update_key(cat: Catalog, model: str, params: ClusterParams) -> str:
    """What an update runs on: equal keys, equal result (``remember_update``)."""
    return json.dumps(
        [model, asdict(params), clustering_signature(cat), embedding_count(cat, model)]
    )


class AssignIndex:
    """Per-person means of face vectors: the distance at which the clustering
    would merge a new face with each person (``merge_distance``) is one
    matrix-vector product, so assigning one face costs O(people x dim)
    however many faces the catalog holds. With capture dates it keeps each
    person's first and last date too, and a face years away from them pays
    the clustering's ``date_penalty``; with poses, each person's sums of
    shares of profile, so a profile comes as much nearer a person of frontal
    photos as merging counts it (``pose_nearer``); with ages, each person's
    sum of shares of young child, so a child lies as much farther from a
    person of children's photos as merging counts it (``child_penalty``)."""

    def __init__(
        self,
        dim: int,
        date_rule: tuple[float, float, float] | None = None,
        pose_offset: float = 0.0,
    ) -> None:
        self.persons = np.zeros(0, dtype=np.int64)
        self.sums = np.zeros((0, dim), dtype=np.float32)
        self.means = np.zeros((0, dim), dtype=np.float32)
        self.norms = np.zeros(0, dtype=np.float64)  # |mean|^2 of each person
        self.counts = np.zeros(0, dtype=np.float64)
        self.photos: dict[int, set[int]] = {}  # person -> photos they are in
        self._row: dict[int, int] = {}
        self.date_rule = date_rule  # None: dates do not count
        self.first = np.zeros(0)  # each person's first and last date, in years
        self.last = np.zeros(0)
        self._years: np.ndarray | None = None  # of the table's rows
        self.pose_offset = pose_offset  # 0: poses do not count
        self.shares = np.zeros(0)  # each person's sum of shares of profile...
        self.share_squares = np.zeros(0)  # ...and of their squares
        self._shares: np.ndarray | None = None  # of the table's rows
        self.children = np.zeros(0)  # each person's sum of shares of young child
        self._children: np.ndarray | None = None  # of the table's rows

    @classmethod
    def from_table(cls, table: FaceTable, params: ClusterParams | None = None) -> "AssignIndex":
        params = params or ClusterParams()
        years = in_years(table.dates, len(table.ids), params)
        shares = profile_shares(table.poses, len(table.ids), params)
        young = child_shares(table.ages, len(table.ids), params)
        index = cls(
            table.vectors.shape[1], None if years is None else date_rule_of(params),
            0.0 if shares is None else params.pose_offset,
        )
        index._years = years
        index._shares = shares
        index._children = young
        assigned = table.person >= 0
        persons, inverse = np.unique(table.person[assigned], return_inverse=True)
        sums = np.zeros((len(persons), table.vectors.shape[1]), dtype=np.float32)
        np.add.at(sums, inverse, table.vectors[assigned])
        index.persons = persons
        index.sums = sums
        index.counts = np.bincount(inverse, minlength=len(persons)).astype(np.float64)
        index.means = (sums / np.maximum(index.counts, 1)[:, None]).astype(np.float32)
        index.norms = np.einsum("ij,ij->i", index.means, index.means, dtype=np.float64)
        index._row = {int(p): i for i, p in enumerate(persons)}
        if years is None:
            index.first = np.full(len(persons), np.inf)
            index.last = np.full(len(persons), -np.inf)
        else:
            index.first, index.last = date_ranges(years[assigned], inverse, len(persons))
        index.shares = np.zeros(len(persons))
        index.share_squares = np.zeros(len(persons))
        if shares is not None:
            index.shares = np.bincount(inverse, shares[assigned], len(persons)).astype(float)
            index.share_squares = np.bincount(
                inverse, shares[assigned] ** 2, len(persons)
            ).astype(float)
        index.children = np.zeros(len(persons))
        if young is not None:
            index.children = np.bincount(inverse, young[assigned], len(persons)).astype(float)
        for person, photo in zip(table.person[assigned], table.photo[assigned], strict=True):
            index.photos.setdefault(int(person), set()).add(int(photo))
        return index

    def years_of(self, rows: np.ndarray | int) -> np.ndarray | None:
        """The capture dates (years) of ``rows`` of the table it was built from,
        None when dates do not count."""
        return None if self._years is None else np.atleast_1d(self._years[rows])

    def shares_of(self, rows: np.ndarray | int) -> np.ndarray | None:
        """The shares of profile of ``rows`` of the table it was built from,
        None when poses do not count."""
        return None if self._shares is None else np.atleast_1d(self._shares[rows])

    def children_of(self, rows: np.ndarray | int) -> np.ndarray | None:
        """The shares of young child of ``rows`` of the table it was built
        from, None when ages do not count."""
        return None if self._children is None else np.atleast_1d(self._children[rows])

    def assign(
        self,
        vector: np.ndarray,
        params: ClusterParams,
        *,
        rejected: set[int] | None = None,
        photo: int | None = None,
        years: float = float("nan"),
        yaw: float = float("nan"),
        age: float = float("nan"),
    ) -> int | None:
        """The person this face joins, or None when no one is near enough;
        ``years``: its capture date in years since 1970, ``yaw``: its pose
        in degrees, ``age``: its apparent age in years (NaN: unknown)."""
        young = child_shares(np.array([age]), 1, params)
        ranked, near = self.candidates(
            vector[None, :], params, years=np.array([years]),
            shares=profile_shares(np.array([yaw]), 1, params),
            children=young,
        )
        if not near[0]:
            return None
        return self.pick(ranked[0], rejected=rejected, photo=photo)

    def candidates(
        self,
        vectors: np.ndarray,
        params: ClusterParams,
        count: int = 8,
        penalty: np.ndarray | None = None,
        years: np.ndarray | None = None,
        shares: np.ndarray | None = None,
        children: np.ndarray | None = None,
    ) -> tuple[list[list[int]], np.ndarray]:
        """For each vector, the people under the threshold, nearest first (at most
        ``count``), and whether there is any; ``penalty`` per vector is added
        to its distances (a weak face must be nearer), and so is the date
        penalty of each vector's date (``years``, NaN unknown) against each
        person's dates; its pose (``shares`` of profile) and its share of
        young child (``children``) count as merging counts them."""
        if len(self.persons) == 0:
            return [[] for _ in vectors], np.zeros(len(vectors), dtype=bool)
        # The distance the clustering would merge each lone face with each person at.
        if len(vectors) <= 16:
            # A few faces (one new photo): einsum's own loop, because a threaded
            # BLAS call waits for its threads when other work holds the cores.
            dots = np.einsum("ij,kj->ik", vectors, self.means)
        else:
            dots = vectors @ self.means.T
        linkage = merge_distance(
            dots.astype(np.float64), 1.0, self.norms[None, :], 1.0, self.counts[None, :],
            rule_of(params),
        )
        if penalty is not None:
            linkage = linkage + np.asarray(penalty, dtype=np.float64)[:, None]
        if shares is not None and self.pose_offset > 0:
            counts = np.maximum(self.counts, 1.0)[None, :]
            mine = np.asarray(shares, dtype=np.float64)[:, None]
            linkage = linkage - pose_nearer(
                mine, mine * mine, self.shares[None, :] / counts,
                self.share_squares[None, :] / counts, self.pose_offset, 1.0, counts,
            )
        if children is not None and params.child_penalty > 0:
            counts = np.maximum(self.counts, 1.0)[None, :]
            mine = np.asarray(children, dtype=np.float64)[:, None]
            linkage = linkage + params.child_penalty * mine * self.children[None, :] / counts
        if years is not None and self.date_rule is not None:
            when = np.where(np.isfinite(years), years, np.inf)[:, None]
            until = np.where(np.isfinite(years), years, -np.inf)[:, None]
            linkage = linkage + date_penalty(
                when, until, self.first[None, :], self.last[None, :], self.date_rule
            )
        top = min(count, linkage.shape[1])
        best = np.argpartition(linkage, top - 1, axis=1)[:, :top]
        dist = np.take_along_axis(linkage, best, axis=1)
        order = np.argsort(dist, axis=1)
        best = np.take_along_axis(best, order, axis=1)
        dist = np.take_along_axis(dist, order, axis=1)
        near = dist[:, 0] <= params.threshold
        ranked = [
            [int(self.persons[b]) for b, d in zip(bs, ds, strict=True) if d <= params.threshold]
            if ok else []
            for bs, ds, ok in zip(best, dist, near, strict=True)
        ]
        return ranked, near

    def pick(
        self, ranked: list[int], *, rejected: set[int] | None = None, photo: int | None = None
    ) -> int | None:
        """The first of ``ranked`` the face may join: not rejected, not already in its photo."""
        for person in ranked:
            if rejected and person in rejected:
                continue
            if photo is not None and photo in self.photos.get(person, ()):
                continue
            return person
        return None

    def add(
        self,
        person: int,
        vector: np.ndarray,
        photo: int,
        years: np.ndarray | None = None,
        shares: np.ndarray | None = None,
        children: np.ndarray | None = None,
    ) -> None:
        """A face joins ``person``; ``years``: its date (one value, NaN
        unknown), ``shares``: its share of profile, ``children``: its share
        of young child (one value each)."""
        row = self._row.get(person)
        if row is None:
            row = len(self.persons)
            self._row[person] = row
            self.persons = np.append(self.persons, person)
            self.sums = np.vstack([self.sums, np.zeros((1, self.sums.shape[1]), np.float32)])
            self.means = np.vstack([self.means, np.zeros((1, self.means.shape[1]), np.float32)])
            self.counts = np.append(self.counts, 0.0)
            self.norms = np.append(self.norms, 0.0)
            self.first = np.append(self.first, np.inf)
            self.last = np.append(self.last, -np.inf)
            self.shares = np.append(self.shares, 0.0)
            self.share_squares = np.append(self.share_squares, 0.0)
            self.children = np.append(self.children, 0.0)
        if children is not None:
            self.children[row] += float(children[0])
        if shares is not None:
            self.shares[row] += float(shares[0])
            self.share_squares[row] += float(shares[0]) ** 2
        if years is not None and np.isfinite(years[0]):
            self.first[row] = min(self.first[row], float(years[0]))
            self.last[row] = max(self.last[row], float(years[0]))
        self.sums[row] += vector
        self.counts[row] += 1
        self.means[row] = self.sums[row] / self.counts[row]
        self.norms[row] = float(self.means[row] @ self.means[row])
        self.photos.setdefault(person, set()).add(photo)


# -- writing -------------------------------------------------------------------


def _persons_for_clusters(
    cat: Catalog, table: FaceTable, labels: np.ndarray, min_size: int
) -> np.ndarray:
    """The person each row goes to (-1: none), keeping ids where clusters overlap."""
    owner = _plan_owners(cat, table, labels, min_size)
    for label in np.nonzero(owner == _NEW)[0]:
        owner[label] = new_person(cat)
    return _refuse_rejected(table, owner[labels])


# ``_plan_owners``'s mark for a cluster that becomes a new person.
_NEW = -2


def _plan_owners(
    cat: Catalog, table: FaceTable, labels: np.ndarray, min_size: int
) -> np.ndarray:
    """The person each cluster label goes to: a person's id, ``_NEW`` for a
    cluster that becomes a new person, -1 for none. Writes nothing, so the
    preview counts people by the rule the recluster applies."""
    clusters = int(labels.max()) + 1 if len(labels) else 0
    unmerged = cat.persons()
    named = {p.id for p in unmerged if p.name is not None}
    live = {p.id for p in unmerged}
    sizes = np.bincount(labels, minlength=clusters)
    owner = np.full(clusters, -1, dtype=np.int64)
    used: set[int] = set()
    # Seeds decide first: a cluster holding confirmed faces is their person.
    seeded = table.confirmed
    for label, person in zip(labels[seeded], table.person[seeded], strict=True):
        owner[label] = person
        used.add(int(person))
    # Then clusters keep the id of the person most of their faces had.
    prior = (table.person >= 0) & ~table.confirmed
    pairs: dict[tuple[int, int], int] = {}
    for label, person in zip(labels[prior], table.person[prior], strict=True):
        pairs[(int(label), int(person))] = pairs.get((int(label), int(person)), 0) + 1
    for (label, person), overlap in sorted(pairs.items(), key=lambda kv: -kv[1]):
        if owner[label] >= 0 or person in used or person not in live:
            continue
        small = sizes[label] < min_size
        if overlap * 2 < sizes[label] or (small and person not in named):
            continue
        owner[label] = person
        used.add(person)
    owner[(owner < 0) & (sizes >= min_size)] = _NEW
    return owner


def _refuse_rejected(table: FaceTable, target: np.ndarray) -> np.ndarray:
    """``target`` (a person per row) with no face going to a person it was
    rejected from, even when the rest of its cluster does (without seeds
    nothing held it apart while merging)."""
    for row, persons in table.rejected.items():
        if int(target[row]) in persons:
            target[row] = -1
    return target


def _write(cat: Catalog, table: FaceTable, rows: np.ndarray, target: np.ndarray) -> int:
    """Store automatic assignments of ``rows``; confirmed faces are never written."""
    updates: list[tuple[int, int | None]] = []
    for row in rows:
        if table.confirmed[row]:
            continue
        new = int(target[row])
        if new == int(table.person[row]):
            continue
        updates.append((int(table.ids[row]), None if new < 0 else new))
    assign_automatically(cat, updates)
    return len(updates)


def _empty_table() -> FaceTable:
    return FaceTable(
        ids=np.zeros(0, np.int64), vectors=np.zeros((0, 0), np.float32),
        photo=np.zeros(0, np.int64), person=np.zeros(0, np.int64),
        confirmed=np.zeros(0, bool), rejected={},
    )
