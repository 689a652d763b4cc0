"""Clustering of face embeddings into people: the algorithm, on plain arrays.

The method is "conservative then merge" average linkage on a nearest
neighbour graph, with cannot-link constraints:

1. each face is linked to its ``neighbours`` nearest faces (``engine.people.knn``);
   links longer than ``max_threshold`` are dropped;
2. faces confirmed for one person start as one cluster (a seed);
3. clusters joined by a link merge in rounds: two clusters merge when each is
   the other's nearest by average linkage (the mean squared Euclidean
   distance over all their face pairs, exact and cheap from per-cluster
   sums of unit vectors) — the reciprocal-nearest-neighbour scheme, which for
   average linkage gives the same tree as merging the closest pair one at a
   time, at a fraction of the cost;
4. a merge never joins two faces of one photo, two different seeds, or a
   face with a seed of a person it was rejected from (cannot-links are
   monotone, so a refused merge stays refused).

Two refinements keep look-alikes apart. In a crowd of similar-looking
strangers (children's faces sit close together in every embedder's space)
a global threshold chains everyone into one person, so each face's room is
measured: how near its nearest *stranger* comes, a stranger being a
neighbour whose own neighbourhood disagrees with the face's (rank-order
distance and shared neighbours, ``engine.people.knn``), which the photos of
one person never do however many there are. Merge distances are divided
by the mean room of the faces merged: in a crowd, groups merge only when
they are nearer to each other than to the strangers around them. And faces
of poor quality (tiny, blurred: ``engine.quality``) take no part in
merging, so they never start a person nor bridge two; they may join one
later, at a stricter distance.

Capture dates, when known, are evidence too: a child at two and the same
child at twelve look less alike than two children of one age do. Each
cluster keeps the range of dates of its faces, and two clusters whose
ranges lie more than ``date_free`` years apart merge only when nearer by up
to ``date_penalty`` (reached at ``date_full`` years). Faces years apart are
thus not linked directly on a look-alike distance, while a person's photos
across the years chain through the photos between them: every merge widens
a cluster's range, and the next year is near it again.

Pose is evidence of the same kind: a person's profile lies farther from
their frontal photos than those lie from each other, while strangers lie
about as far apart whatever their pose. So a pair of a profile and a
frontal face counts ``pose_offset`` nearer (the pose read from the
landmarks, ``engine.quality``), as the mean over the pairs of two clusters
(exact from each cluster's sums of shares of profile); two profiles count
as they are. A lone profile joins a person against how near profiles come
to strangers, not frontal faces (``attach_small``).

Apparent age is evidence of the same kind, for young children: their
faces lie nearer each other than adults' faces do, in every embedder's
space, so two children seen once or twice may be strangers at a distance
that would make two adults one person, with nothing near them to show the
crowd they stand in. A pair of faces counts ``child_penalty`` farther for
being two young children (the age read by ``engine.models.age``), as the
mean over the pairs of two clusters; a child and an adult count as they
are, so a person's childhood photos still join their later ones as far as
distance and dates allow. Where the library shows the crowd (the room
above), the two are one evidence counted once: the larger lengthening
counts, not their sum.

The merge heights are kept (``Dendrogram``) so that any threshold up to
``max_threshold`` is a cheap cut: the GUI previews the number of people a
strictness gives without clustering again. Clusters smaller than
``min_size`` that hold no seed are left unassigned: a stranger seen once
stays alone instead of being glued to another stranger.

Last, lone faces and groups of two may join the person they are nearest
to by mean distance (``attach_small``) at a distance chosen per library,
not fixed: the faces that are in a cluster show how near a face comes to
people who are not its own (the null distribution), and the small ones
join, nearest first, while the expected number of wrong joins stays under
``attach_rate`` of those made (the Benjamini-Hochberg step-up rule). In a
library of many strangers seen once that allows few or no joins; in one
where nearly everyone is known it lets a person's odd photos (profile,
blur, years apart) join them. It never makes a new person.

This module knows nothing of the catalog or of ids; ``engine.people.update``
translates facts into the ``Constraints`` here.
"""

from collections.abc import Generator
from dataclasses import dataclass, field, replace

import numpy as np

from engine.errors import Cancelled, FaceAlbumError
from engine.people.knn import knn_steps, neighbourhood_agreement
from engine.progress import CancelToken, Progress


class ClusterParamsError(FaceAlbumError):
    """Clustering parameters out of their range."""


@dataclass(frozen=True)
class ClusterParams:
    """Knobs of the clustering; ``for_strictness`` maps the GUI's one knob onto them."""

    threshold: float = 1.10  # merge distance (see spread_weight) under which clusters merge
    neighbours: int = 12  # links per face in the neighbour graph
    min_size: int = 2  # faces an unnamed cluster needs to become a person
    max_threshold: float = 1.45  # longest link kept; the loosest strictness
    # Extra distance charged on merges of very small clusters: one pair of
    # faces is a noisy sample, so two lone faces, or a lone face and a group,
    # must be nearer than two groups to be called one person.
    # Two lone faces become a person only under threshold - lone_penalty. A
    # larger penalty (0.2) split the demo album's two babies (0.93 apart) but
    # left LFW's pairs of one person apart as often (held-out BCubed F1 of
    # everyone 0.9905 -> 0.9886): a pair with nothing near it cannot tell two
    # children from one person's two photos by distance alone.
    lone_penalty: float = 0.05  # both clusters are single faces
    join_penalty: float = 0.0  # one single face joins a group
    pair_penalty: float = 0.0  # the smaller cluster has two faces
    # Average linkage of unit vectors is |mean_a - mean_b|^2 plus the spread
    # of each cluster; a weight under 1 lets widely varied clusters (one person
    # over many years and poses) merge while two tight strangers still do not.
    spread_weight: float = 0.8
    # Lone faces join their nearest person while the expected share of wrong
    # joins stays under this (0 turns it off); never farther than attach_limit.
    attach_rate: float = 0.2
    attach_limit: float = 1.45
    attach_group: int = 2  # groups of up to this many faces may join too (1: lone faces only)
    # Crowds of look-alike strangers (children), see ``crowding``: a neighbour
    # farther than crowd_sure whose neighbourhood disagrees with a face's own
    # (rank-order distance over crowd_rank, fewer than crowd_shared shared
    # neighbours) is a stranger; where one comes nearer than crowd_reach, merge
    # distances there are divided by (its distance / crowd_reach), so groups
    # must be nearer each other than their strangers are. 0 turns this off.
    crowd_rank: float = 1.0
    crowd_shared: int = 3
    crowd_sure: float = 0.65
    crowd_reach: float = 1.1
    # Faces under this quality (engine.quality: tiny, blurred) take no part in
    # merging, so they never start a person or bridge two, and join one only
    # through ``attach_small`` (or a scan's update) with weak_penalty added to
    # their distance, never farther than the threshold. 0 turns this off.
    weak_quality: float = 0.4
    weak_penalty: float = 0.15
    # Capture dates (``dates`` of ``cluster``): clusters whose date ranges are
    # more than date_free years apart merge at a distance raised by up to
    # date_penalty, the whole of it from date_full years apart. Lone faces
    # joining a person (``attach_small``, a scan's update) pay it too. 0 turns
    # it off. Faces without a date pay nothing.
    date_free: float = 1.0
    date_full: float = 6.0
    date_penalty: float = 0.15
    # Pose (``poses`` of ``cluster``: each face's yaw in degrees): a profile
    # and a frontal photo of one person lie farther apart than two frontal
    # ones, strangers hardly do (SFace on CFP dev: same person 1.19 against
    # 0.75, strangers 1.96 against 1.92). A face's share of profile rises
    # from 0 at turn_from degrees to 1 at turn_full (engine.quality's yaw
    # reads 95 % of CFP's profiles over 40 and a full profile about 60; 99 %
    # of LFW's faces under 49); a pair of faces whose shares are p and q
    # counts pose_offset * (p - q)^2 nearer, so a profile and a frontal photo
    # by the whole offset, two frontal or two profile photos not at all.
    # 0 turns it off.
    pose_offset: float = 0.2
    turn_from: float = 40.0
    turn_full: float = 60.0
    # Apparent ages (``ages`` of ``cluster``: years, engine.models.age): a
    # face's share of young child is 1 up to child_full years and falls to 0
    # at child_until; a pair of faces whose shares are p and q counts
    # child_penalty * p * q farther, two young children by the whole of it.
    # Children's faces lie nearer each other than adults' do: on WIDER dev's
    # crowd photos, the nearest face of another photo lies at a median of
    # 1.20 for a child (the tenth percentile 0.93) against 1.27 for an adult
    # (1.10); the demo album's two babies, strangers, lie 0.93 apart. The
    # penalty is of the size of the other evidence (dates, weak faces), not
    # fitted: no set of children's identities can be measured here. The age
    # reader puts 2 of 621 LFW dev photos' main faces under 10 years (50 of
    # its 7,412 faces of every size under 8, mostly small ones behind), and
    # CFP dev's and LFW dev's clustering do not move with it. 0 turns it off.
    child_penalty: float = 0.2
    child_full: float = 8.0
    child_until: float = 16.0

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold <= self.max_threshold <= 4.0:
            raise ClusterParamsError(
                "expected 0 < threshold <= max_threshold <= 4 (squared distances of unit "
                f"vectors); got threshold={self.threshold}, max_threshold={self.max_threshold}"
            )
        if self.neighbours < 1 or self.min_size < 1:
            raise ClusterParamsError(
                f"expected neighbours >= 1 and min_size >= 1; got neighbours="
                f"{self.neighbours}, min_size={self.min_size}"
            )
        if (
            not 0.0 <= self.attach_rate < 1.0
            or not 0.0 < self.attach_limit <= 4.0
            or self.attach_group < 1
        ):
            raise ClusterParamsError(
                "expected 0 <= attach_rate < 1, 0 < attach_limit <= 4 and attach_group >= 1; got "
                f"attach_rate={self.attach_rate}, attach_limit={self.attach_limit}, "
                f"attach_group={self.attach_group}"
            )
        if self.crowd_reach < 0 or self.crowd_sure < 0 or self.crowd_rank < 0:
            raise ClusterParamsError(
                "expected crowd_reach, crowd_sure and crowd_rank >= 0 (crowd_reach 0 turns the "
                f"crowd rule off); got crowd_reach={self.crowd_reach}, crowd_sure="
                f"{self.crowd_sure}, crowd_rank={self.crowd_rank}"
            )
        if not 0.0 <= self.weak_quality <= 1.0 or self.weak_penalty < 0:
            raise ClusterParamsError(
                "expected 0 <= weak_quality <= 1 (0 turns it off) and weak_penalty >= 0; got "
                f"weak_quality={self.weak_quality}, weak_penalty={self.weak_penalty}"
            )
        if self.pose_offset < 0 or not 0.0 <= self.turn_from < self.turn_full <= 90.0:
            raise ClusterParamsError(
                "expected pose_offset >= 0 (0 turns it off) and 0 <= turn_from < turn_full <= 90 "
                f"(degrees); got pose_offset={self.pose_offset}, turn_from={self.turn_from}, "
                f"turn_full={self.turn_full}"
            )
        if self.child_penalty < 0 or not 0.0 <= self.child_full < self.child_until:
            raise ClusterParamsError(
                "expected child_penalty >= 0 (0 turns it off) and 0 <= child_full < child_until "
                f"(years); got child_penalty={self.child_penalty}, child_full={self.child_full}, "
                f"child_until={self.child_until}"
            )
        if self.date_penalty < 0 or not 0.0 <= self.date_free < self.date_full:
            raise ClusterParamsError(
                "expected date_penalty >= 0 (0 turns it off) and 0 <= date_free < date_full "
                f"(years); got date_penalty={self.date_penalty}, date_free={self.date_free}, "
                f"date_full={self.date_full}"
            )


DEFAULT_STRICTNESS = 0.5
# The version of the rules above and below. Raise it when a change should reach
# the people of existing catalogs: their next people update groups every face
# again, once, keeping every fact (``engine.people.update.update_people``).
# 1: young children count farther apart (apparent age, ``child_penalty``).
GROUPING_RULES = 1
# Thresholds at strictness 0 (loose, fewer bigger people) and 1 (strict).
_LOOSE = 1.40
_STRICT = 0.90


def threshold_for_strictness(strictness: float) -> float:
    """The merge threshold of a strictness in [0, 1]; the middle, 0.5, gives
    ``ClusterParams().threshold``."""
    if not 0.0 <= strictness <= 1.0:
        raise ClusterParamsError(
            f"strictness is a number from 0 (loose) to 1 (strict); got {strictness}"
        )
    mid = ClusterParams().threshold
    if strictness <= 0.5:
        return _LOOSE + (mid - _LOOSE) * strictness / 0.5
    return mid + (_STRICT - mid) * (strictness - 0.5) / 0.5


def params_for_strictness(strictness: float = DEFAULT_STRICTNESS) -> ClusterParams:
    return ClusterParams(threshold=threshold_for_strictness(strictness))


@dataclass
class Constraints:
    """Facts the clustering must respect, by row of the vector matrix.

    ``photo``: photo id per row; rows of one photo are never one person.
    ``seed``: a label >= 0 per confirmed row (one label per person), -1 otherwise.
    ``rejected``: row -> seed labels that row must never join.
    ``prior``: the label a row had before (its automatic person), -1 for none.
    It binds nothing by itself; it only keeps a row away from rows rejected
    from that label, so a person's faces are not glued to the faces the user
    took out of them.
    """

    photo: np.ndarray | None = None
    seed: np.ndarray | None = None
    rejected: dict[int, set[int]] = field(default_factory=dict)
    prior: np.ndarray | None = None


@dataclass
class Dendrogram:
    """The merges of one clustering run, in the order they were made."""

    base: np.ndarray  # parent of every row after seeding (rows of one seed share a root)
    left: np.ndarray  # surviving root of each merge
    right: np.ndarray  # root merged into it
    height: np.ndarray  # average-linkage squared distance of each merge
    seeded: np.ndarray  # bool per row: belongs to a seed
    # Each row's nearest rows (-1: none within reach); ``attach_small`` looks
    # for a lone face's person among the people of these.
    neighbours: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.int32))
    # Each row's room (``crowding``), None when crowds are not looked for.
    room: np.ndarray | None = None
    # Rows kept out of merging for their quality (``weak_faces``).
    weak: np.ndarray | None = None
    # Each row's capture date in years (NaN: unknown), None when none is known.
    years: np.ndarray | None = None
    # Each row's share of profile (``profile_shares``), None when poses do not count.
    profile: np.ndarray | None = None
    # Each row's share of young child (``child_shares``), None when ages do not count.
    child: np.ndarray | None = None


def cluster(
    vectors: np.ndarray,
    constraints: Constraints | None = None,
    params: ClusterParams | None = None,
    quality: np.ndarray | None = None,
    dates: np.ndarray | None = None,
    poses: np.ndarray | None = None,
    ages: np.ndarray | None = None,
) -> np.ndarray:
    """Cluster label per row (0..C-1), or -1 for faces left unassigned.

    ``quality``: each face's quality in [0, 1] (``engine.quality``), when known.
    ``dates``: each face's capture time in seconds since 1970, NaN where unknown.
    ``poses``: each face's yaw in degrees (``engine.quality``), NaN where unknown.
    ``ages``: each face's apparent age in years (``engine.models.age``), NaN where unknown.
    """
    params = stopping_at_threshold(params or ClusterParams())
    tree = build_tree(
        vectors, constraints, params, quality=quality, dates=dates, poses=poses, ages=ages
    )
    labels = cut(tree, params.threshold, params.min_size)
    return attach_small(vectors, labels, tree, constraints, params)


def stopping_at_threshold(params: ClusterParams) -> ClusterParams:
    """The same parameters with merging stopped at the threshold itself.

    A tree built further (to ``max_threshold``) and cut lower is a cheap
    preview, but not the same clustering when cannot-links bind: a merge
    above the threshold made early in a round (two far clusters that are
    each other's nearest) can carry a photo into a cluster and block a lower
    merge with that photo's other face later. The real clustering stops at
    the threshold, so no merge above it takes part.
    """
    return replace(params, max_threshold=params.threshold)


def build_tree(
    vectors: np.ndarray,
    constraints: Constraints | None = None,
    params: ClusterParams | None = None,
    cancel: CancelToken | None = None,
    quality: np.ndarray | None = None,
    dates: np.ndarray | None = None,
    poses: np.ndarray | None = None,
    ages: np.ndarray | None = None,
) -> Dendrogram:
    """``build_tree_steps`` run to its end, for callers that show no progress."""
    steps = build_tree_steps(vectors, constraints, params, cancel, quality, dates, poses, ages)
    while True:
        try:
            next(steps)
        except StopIteration as finished:
            tree: Dendrogram = finished.value
            return tree


def build_tree_steps(
    vectors: np.ndarray,
    constraints: Constraints | None = None,
    params: ClusterParams | None = None,
    cancel: CancelToken | None = None,
    quality: np.ndarray | None = None,
    dates: np.ndarray | None = None,
    poses: np.ndarray | None = None,
    ages: np.ndarray | None = None,
) -> Generator[Progress, None, Dendrogram]:
    """Find neighbours and merge, yielding ``Progress``; returns the tree.

    Faces under ``params.weak_quality`` (``quality`` per row, when given) and
    not confirmed by the user have no links: they stay out of every merge.
    ``dates`` (seconds since 1970 per row, NaN where unknown) charge merges
    of clusters years apart (``ClusterParams.date_penalty``); ``poses`` (yaw
    in degrees per row, NaN where unknown) bring a person's profiles and
    frontal photos nearer (``ClusterParams.pose_offset``); ``ages`` (years
    per row, NaN where unknown) keep young children apart
    (``ClusterParams.child_penalty``).
    """
    params = params or ClusterParams()
    constraints = constraints or Constraints()
    x = np.ascontiguousarray(vectors, dtype=np.float32)
    n = len(x)
    nn_idx, nn_dist = yield from knn_steps(
        x, min(params.neighbours, max(n - 1, 0)), max_distance=neighbour_reach(params),
        cancel=cancel,
    )
    room = crowding(nn_idx, nn_dist, params)
    link_idx = nn_idx
    weak = weak_faces(n, constraints, params, quality)
    if weak.any():
        link_idx = np.where(weak[np.maximum(link_idx, 0)] | weak[:, None], -1, link_idx)
    years = in_years(dates, n, params)
    share = profile_shares(poses, n, params)
    child = child_shares(ages, n, params)
    link_dist = nn_dist
    if share is not None:
        # A link is kept if the pose could bring its clusters within reach
        # (the whole offset: how much of it is trusted depends on the sizes
        # the clusters reach while merging).
        turned = share[:, None] - share[np.maximum(nn_idx, 0)]
        link_dist = nn_dist - params.pose_offset * turned * turned
    tree = yield from _agglomerate(
        x, link_idx, link_dist, constraints, params.max_threshold, rule_of(params), cancel, room,
        None if years is None else (years, date_rule_of(params)),
        None if share is None else (share, params.pose_offset),
        None if child is None else (child, params.child_penalty),
    )
    return replace(
        tree, neighbours=nn_idx.astype(np.int32), room=room, weak=weak, years=years,
        profile=share, child=child,
    )


def weak_faces(
    n: int, constraints: Constraints, params: ClusterParams, quality: np.ndarray | None
) -> np.ndarray:
    """Rows too poor to merge: quality under ``weak_quality`` and not a seed
    (a face the user confirmed counts whatever its quality)."""
    weak = np.zeros(n, dtype=bool)
    if quality is None or n == 0:
        return weak
    weak = np.asarray(quality, dtype=np.float64) < params.weak_quality
    if constraints.seed is not None:
        weak &= np.asarray(constraints.seed) < 0
    return weak


_YEAR = 365.25 * 86400.0


def in_years(dates: np.ndarray | None, n: int, params: ClusterParams) -> np.ndarray | None:
    """Capture dates (seconds since 1970, NaN unknown) in years, or None when
    no row has one or dates are not looked at (``date_penalty`` 0)."""
    if dates is None or params.date_penalty <= 0 or n == 0:
        return None
    years = np.asarray(dates, dtype=np.float64) / _YEAR
    if len(years) != n:
        raise ValueError(f"expected one date per face ({n}); got {len(years)}")
    if not np.isfinite(years).any():
        return None
    return np.where(np.isfinite(years), years, np.nan)


def profile_shares(
    poses: np.ndarray | None, n: int, params: ClusterParams
) -> np.ndarray | None:
    """Each face's share of profile from its yaw (0 up to ``turn_from``
    degrees, 1 from ``turn_full``; 0 where unknown), or None when poses do
    not count or no face's is known."""
    if poses is None or params.pose_offset <= 0 or n == 0:
        return None
    yaw = np.asarray(poses, dtype=np.float64)
    if len(yaw) != n:
        raise ValueError(f"expected one pose per face ({n}); got {len(yaw)}")
    if not np.isfinite(yaw).any():
        return None
    share = (yaw - params.turn_from) / (params.turn_full - params.turn_from)
    return np.asarray(np.clip(np.nan_to_num(share, nan=0.0), 0.0, 1.0))


def child_shares(ages: np.ndarray | None, n: int, params: ClusterParams) -> np.ndarray | None:
    """Each face's share of young child from its apparent age (1 up to
    ``child_full`` years, 0 from ``child_until``; 0 where unknown), or None
    when ages do not count or no face is a child at all."""
    if ages is None or params.child_penalty <= 0 or n == 0:
        return None
    years = np.asarray(ages, dtype=np.float64)
    if len(years) != n:
        raise ValueError(f"expected one age per face ({n}); got {len(years)}")
    share = (params.child_until - years) / (params.child_until - params.child_full)
    share = np.clip(np.nan_to_num(share, nan=0.0), 0.0, 1.0)
    return share if share.any() else None


def pose_nearer(
    share_a: np.ndarray, square_a: np.ndarray, share_b: np.ndarray, square_b: np.ndarray,
    offset: float, count_a: np.ndarray | float, count_b: np.ndarray | float,
) -> np.ndarray:
    """How much nearer two groups count for their poses: ``offset`` times the
    mean of (p - q)^2 over their pairs of faces, from each group's mean share
    of profile and mean squared share, trusted as far as the larger group is
    more than one photo ((n - 1) / (n + 1) of a group of n: none for one
    photo, half for three, nine tenths for nineteen): a lone profile beside a
    lone frontal face says nothing of their being one person (on LFW dev
    such strangers were most of what the offset cost), beside a person of
    many frontal photos it does."""
    big = np.maximum(np.maximum(count_a, count_b), 1.0)
    trust = (big - 1.0) / (big + 1.0)
    return np.asarray(offset * trust * (square_a + square_b - 2.0 * share_a * share_b))


def date_rule_of(params: ClusterParams) -> tuple[float, float, float]:
    return (params.date_free, params.date_full, params.date_penalty)


def date_ranges(years: np.ndarray, groups: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
    """(first, last) date of each of ``count`` groups (``groups``: a group per
    row, -1 for none); +inf and -inf where no face of the group has a date."""
    first = np.full(count, np.inf)
    last = np.full(count, -np.inf)
    ok = (groups >= 0) & np.isfinite(years)
    np.minimum.at(first, groups[ok], years[ok])
    np.maximum.at(last, groups[ok], years[ok])
    return first, last


def date_penalty(
    first_a: np.ndarray, last_a: np.ndarray, first_b: np.ndarray, last_b: np.ndarray,
    rule: tuple[float, float, float],
) -> np.ndarray:
    """The distance added to a merge of two groups with these date ranges:
    nothing up to ``date_free`` years between the ranges (overlapping ones
    are 0 apart), rising to ``date_penalty`` at ``date_full`` years; nothing
    where either group has no date."""
    free, full, most = rule
    with np.errstate(invalid="ignore"):
        gap = np.maximum(first_a, first_b) - np.minimum(last_a, last_b)
    known = np.isfinite(first_a) & np.isfinite(first_b)
    gap = np.where(known, gap, 0.0)
    return np.asarray(most * np.clip((gap - free) / (full - free), 0.0, 1.0))


def crowding(
    nn_idx: np.ndarray, nn_dist: np.ndarray, params: ClusterParams
) -> np.ndarray | None:
    """Each face's room: the distance to its nearest stranger over
    ``crowd_reach``, from 1/4 to 1; None when crowds are not looked for.

    Room is 1 where no stranger comes within ``crowd_reach``, as almost
    everywhere among adults' faces, and less in a crowd of look-alikes, where
    merging then asks for proportionally shorter links (``_linkage``). A
    neighbour is a stranger when it is farther than ``crowd_sure`` and the
    two neighbourhoods disagree: rank-order distance over ``crowd_rank`` and
    fewer than ``crowd_shared`` shared neighbours
    (``engine.people.knn.neighbourhood_agreement``). The photos of one person
    pass that test however many there are: a pair is each other's nearest,
    a person with many photos shares them as neighbours.
    """
    n, k = nn_idx.shape
    if params.crowd_reach <= 0 or n == 0 or k == 0:
        return None
    nearest = np.full(n, np.inf)
    for rank in range(k):
        # Neighbours are nearest first: the first stranger found is the nearest.
        rows = np.nonzero(
            np.isinf(nearest) & (nn_idx[:, rank] >= 0)
            & (nn_dist[:, rank] > params.crowd_sure) & (nn_dist[:, rank] < params.crowd_reach)
        )[0]
        if not len(rows):
            continue
        order, shared = neighbourhood_agreement(nn_idx, rows, rank)
        far = rows[(order > params.crowd_rank) & (shared < params.crowd_shared)]
        nearest[far] = nn_dist[far, rank]
    return np.asarray(np.clip(nearest / params.crowd_reach, 0.25, 1.0))


def neighbour_reach(params: ClusterParams) -> float:
    """How far the neighbour graph looks: far enough to merge, and to let lone faces join."""
    return max(params.max_threshold, params.attach_limit if params.attach_rate > 0 else 0.0)


def cut(tree: Dendrogram, threshold: float, min_size: int = 2) -> np.ndarray:
    """Labels of the clustering at ``threshold`` (see ``cluster``)."""
    parent = tree.base.copy()
    take = tree.height <= threshold
    parent[tree.right[take]] = tree.left[take]
    parent = _compress(parent)
    n = len(parent)
    sizes = np.bincount(parent, minlength=n)
    has_seed = np.zeros(n, dtype=bool)
    has_seed[parent[tree.seeded]] = True
    keep = (sizes[parent] >= min_size) | has_seed[parent]
    labels = np.full(n, -1, dtype=np.int64)
    if keep.any():
        _, labels[keep] = np.unique(parent[keep], return_inverse=True)
    return labels


def count_clusters(tree: Dendrogram, threshold: float, min_size: int = 2) -> int:
    labels = cut(tree, threshold, min_size)
    return int(labels.max()) + 1 if len(labels) and labels.max() >= 0 else 0


# -- lone faces ----------------------------------------------------------------


def attach_small(
    vectors: np.ndarray,
    labels: np.ndarray,
    tree: Dendrogram,
    constraints: Constraints | None = None,
    params: ClusterParams | None = None,
) -> np.ndarray:
    """``labels`` with some lone faces and small groups joined to a larger cluster.

    The units that may join are lone faces (-1) and clusters of at most
    ``attach_group`` faces holding no seed; the clusters they may join are
    the others. A unit's distance to a cluster is the mean squared distance
    over all pairs of their faces, ``2 - 2 mean_u . mean_c``, looked at for
    the clusters of its faces' neighbours only. The null distribution is
    that of single faces already in a cluster to their nearest *other*
    cluster: how near a face comes to people it is not (a group's mean is
    less noisy than one face, so for groups this errs on the side of not
    joining). Taking units nearest first, the first ``j`` join when
    ``units x P(null <= d_j) <= attach_rate x j`` (Benjamini-Hochberg), P
    read from the null's n faces as ``(1 + k) / (1 + n)`` with k of them at
    or under d_j: the expected number of strangers among them stays under
    that share. A unit
    never joins a cluster holding another face of one of its photos or a
    person one of its faces was rejected from. No cluster is made.

    Where the tree found a crowd (``crowding``), distances count as longer,
    as they did for merging, and a crowded unit joins no farther than the
    merge threshold. So does a weak face (``weak_faces``), with
    ``weak_penalty`` added to its distance. Years between the unit's photos
    and the cluster's add ``date_penalty`` as they do to a merge, and such a
    unit too joins no farther than the merge threshold. Poses count as for
    merging (``pose_nearer``), in the null as in the units' distances. Two
    young children count ``child_penalty`` farther apart, as for merging,
    and such a unit joins no farther than the merge threshold. With
    only one cluster to join there is no null (no other person to measure
    it against), and every unit joins no farther than the merge threshold.
    """
    params = params or ClusterParams()
    labels = np.asarray(labels, dtype=np.int64).copy()
    n = len(labels)
    neighbours, room = tree.neighbours, tree.room
    if params.attach_rate <= 0 or n == 0 or labels.max(initial=-1) < 0:
        return labels
    if neighbours.shape[0] != n:
        raise ValueError("neighbours must have one row per label")
    x = np.asarray(vectors, dtype=np.float32)
    clusters = int(labels.max()) + 1
    in_cluster = labels >= 0
    sizes = np.bincount(labels[in_cluster], minlength=clusters)
    seed = None if constraints is None or constraints.seed is None else np.asarray(
        constraints.seed, dtype=np.int64
    )
    seeded = np.zeros(clusters, dtype=bool)
    if seed is not None:
        seeded[labels[(seed >= 0) & in_cluster]] = True
    is_target = (sizes > params.attach_group) | seeded

    # Units: lone faces first (one each), then the small clusters.
    unit = np.full(n, -1, dtype=np.int64)
    lone = np.nonzero(~in_cluster)[0]
    unit[lone] = np.arange(len(lone))
    small = np.nonzero(~is_target & (sizes > 0))[0]
    unit_of_cluster = np.full(clusters, -1, dtype=np.int64)
    unit_of_cluster[small] = len(lone) + np.arange(len(small))
    unit[in_cluster] = unit_of_cluster[labels[in_cluster]]
    units = len(lone) + len(small)
    if units == 0:
        return labels
    # Join targets are renumbered 0..T-1; -1 for rows outside them.
    target_ids = np.nonzero(is_target)[0]
    if not len(target_ids):
        return labels
    target_of_cluster = np.full(clusters, -1, dtype=np.int64)
    target_of_cluster[target_ids] = np.arange(len(target_ids))
    target = np.where(in_cluster, target_of_cluster[np.maximum(labels, 0)], -1)

    dim = x.shape[1]
    t_means = np.zeros((len(target_ids), dim), dtype=np.float64)
    np.add.at(t_means, target[target >= 0], x[target >= 0])
    t_means /= sizes[target_ids][:, None]
    u_means = np.zeros((units, dim), dtype=np.float64)
    np.add.at(u_means, unit[unit >= 0], x[unit >= 0])
    u_means /= np.bincount(unit[unit >= 0], minlength=units)[:, None]
    # Poses (``profile_shares``): each side's mean share of profile and of its square.
    share = tree.profile if params.pose_offset > 0 else None
    if share is not None:
        in_t, in_u = target >= 0, unit >= 0
        t_share = np.bincount(target[in_t], share[in_t], len(target_ids)) / sizes[target_ids]
        t_square = np.bincount(target[in_t], share[in_t] ** 2, len(target_ids)) / sizes[target_ids]
        u_count = np.bincount(unit[in_u], minlength=units)
        u_share = np.bincount(unit[in_u], share[in_u], units) / u_count
        u_square = np.bincount(unit[in_u], share[in_u] ** 2, units) / u_count
    child = tree.child if params.child_penalty > 0 else None

    # (row, target cluster of one of its neighbours), its own cluster excluded.
    k = neighbours.shape[1]
    rows = np.repeat(np.arange(n, dtype=np.int64), k)
    cols = neighbours.ravel().astype(np.int64)
    ok = cols >= 0
    rows, cand = rows[ok], target[cols[ok]]
    ok = (cand >= 0) & (cand != target[rows])
    rows, cand = rows[ok], cand[ok]
    t_count = len(target_ids)

    # The null: faces of target clusters to their nearest other target cluster.
    member = target[rows] >= 0
    key = np.unique(rows[member] * t_count + cand[member])
    r, c = key // t_count, key % t_count
    nearest_other = np.full(n, np.inf)
    # In a crowd of look-alikes (``crowding``) every distance counts as
    # longer, as it does for merging: near there is not near enough.
    scale = np.ones(n) if room is None else 1.0 / np.asarray(room, dtype=np.float64)
    to_other = _mean_distances(x, r, t_means, c)
    if share is not None:
        to_other -= pose_nearer(
            share[r], share[r] ** 2, t_share[c], t_square[c], params.pose_offset,
            1.0, sizes[target_ids][c],
        )
    np.minimum.at(nearest_other, r, to_other * scale[r])

    # Each unit's nearest admissible target.
    stray = unit[rows] >= 0
    key = np.unique(unit[rows[stray]] * t_count + cand[stray])
    u, c = key // t_count, key % t_count
    u_scale = np.zeros(units)
    np.add.at(u_scale, unit[unit >= 0], scale[unit >= 0])
    u_scale /= np.bincount(unit[unit >= 0], minlength=units)
    d = _mean_distances(u_means, u, t_means, c)
    if share is not None:
        d -= pose_nearer(
            u_share[u], u_square[u], t_share[c], t_square[c], params.pose_offset,
            u_count[u], sizes[target_ids][c],
        )
    # A crowd (``crowding``) counts each distance longer by this much; two
    # young children count farther apart only where the crowd counts less.
    crowded_by = d * (u_scale[u] - 1.0)
    d *= u_scale[u]
    # The null is the library's, and a crowd is a small part of it: there a
    # unit joins only as near as merging would take it; so does a weak face,
    # with its penalty on top.
    wary = u_scale[u] > 1.0
    if t_count < _NULL_PEOPLE:
        # No other person to measure the null against: it says nothing.
        wary[:] = True
    if tree.weak is not None and tree.weak.any():
        weak_unit = np.zeros(units, dtype=bool)
        weak_unit[unit[tree.weak & (unit >= 0)]] = True
        d = d + np.where(weak_unit[u], params.weak_penalty, 0.0)
        wary |= weak_unit[u]
    if tree.years is not None and params.date_penalty > 0:
        # Years between a unit's photos and a person's count as for merging.
        u_first, u_last = date_ranges(tree.years, unit, units)
        t_first, t_last = date_ranges(tree.years, target, len(target_ids))
        years_apart = date_penalty(
            u_first[u], u_last[u], t_first[c], t_last[c], date_rule_of(params)
        )
        # The library's null says how near strangers come at any time, not
        # years apart: there a unit joins only as near as merging would take it.
        d = d + years_apart
        wary |= years_apart > 0
    if child is not None:
        # Two young children count farther apart, as for merging; the null
        # is mostly adults', so a child joins a child only as near as merging
        # would take it.
        in_t, in_u = target >= 0, unit >= 0
        t_child = np.bincount(target[in_t], child[in_t], len(target_ids)) / sizes[target_ids]
        u_child = np.bincount(unit[in_u], child[in_u], units) / np.bincount(
            unit[in_u], minlength=units
        )
        both = params.child_penalty * u_child[u] * t_child[c]
        d = d + np.maximum(both - crowded_by, 0.0)
        wary |= both > 0
    near = d <= np.where(wary, params.threshold, params.attach_limit)
    u, c, d = u[near], c[near], d[near]
    order = np.lexsort((d, u))
    u, c, d = u[order], c[order], d[order]
    allowed = _admissible(u, target_ids[c], unit, labels, constraints)
    u, c, d = u[allowed], c[allowed], d[allowed]
    first = np.ones(len(u), dtype=bool)
    first[1:] = u[1:] != u[:-1]
    u, c, d = u[first], c[first], d[first]
    if not len(u):
        return labels
    order = np.argsort(d, kind="stable")
    u, c, d = u[order], c[order], d[order]
    chosen = np.zeros(len(u), dtype=bool)
    for null_rows, kind in _null_strata(target >= 0, units, unit, share, u_share if share
                                        is not None else None):
        null = np.sort(nearest_other[null_rows])
        ranked = np.nonzero(kind[u])[0]  # nearest first
        # The null's share at or under d, counted as an empirical p-value
        # is: (1 + how many) / (1 + all). n samples cannot say a distance is
        # rarer than 1 in n + 1, which matters when the null is a small
        # family's few dozen faces, all far.
        expected_wrong = (
            kind.sum() * (np.searchsorted(null, d[ranked], side="right") + 1.0)
            / (len(null) + 1.0)
        )
        passing = np.nonzero(
            expected_wrong <= params.attach_rate * np.arange(1, len(ranked) + 1)
        )[0]
        if len(passing):
            chosen[ranked[: int(passing[-1]) + 1]] = True
    u, c = u[chosen], c[chosen]
    take = len(u)
    if not take:
        return labels
    rows_of_unit = _rows_by_unit(unit, units)
    photo = None if constraints is None or constraints.photo is None else np.asarray(
        constraints.photo, dtype=np.int64
    )
    # Photos already in each target, for units joining one after another.
    photos_in: dict[int, set[int]] = {}
    by_label = np.argsort(labels, kind="stable")
    starts = np.searchsorted(labels[by_label], np.arange(clusters + 1))
    for joining, into in zip(u[:take].tolist(), target_ids[c[:take]].tolist(), strict=True):
        members = rows_of_unit[joining]
        if photo is not None:
            if into not in photos_in:
                inside = by_label[starts[into] : starts[into + 1]]
                photos_in[into] = set(photo[inside].tolist())
            mine = set(photo[members].tolist())
            if mine & photos_in[into]:
                continue
            photos_in[into] |= mine
        labels[members] = into
    return labels


# With fewer people than this that lone faces may join, there is no null at
# all (each face of the null is measured to the nearest *other* person), and
# lone faces and small groups join no farther than merging would take them:
# one child photographed all year among passers-by seen once would otherwise
# take in every passer-by within the loosest threshold. A null of a few
# people is thin too, and is read as an empirical p-value ((1 + k) / (1 + n),
# never 0): on LFW dev, 300 people seen once among 2 to 12 people of 6+
# photos (three draws each), 15-19 of 900 strangers joined one of those
# people when the null's share was read as k / n, none now. Holding such
# libraries to the merge threshold instead kept the strangers out too, but
# also a small album's profiles (three people of 8 photos, a profile 1.25
# from its person and about 2 from the others: tests/test_people_story.py),
# which join. With two people or more, a null of faces that find no other
# person within reach is a measurement too (people here lie far apart), and
# those profiles rest on it: only the absence of any other person is
# treated as no null.
_NULL_PEOPLE = 2

# Fewer profiles than this in clusters tell too little of how near a profile
# comes to strangers: lone profiles are then held to everyone's null.
_PROFILE_NULL = 50


def _null_strata(
    in_cluster: np.ndarray, units: int, unit: np.ndarray,
    share: np.ndarray | None, unit_share: np.ndarray | None,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(faces whose nearest other person makes the null, units held to it).

    One null for all, or, when poses count (``share``: each face's share of
    profile), one for profiles and one for the rest: a profile's distances
    run longer to everyone, its own person and strangers alike, so how near
    a frontal face comes to strangers says little of how near a profile does.
    """
    everyone = (in_cluster, np.ones(units, dtype=bool))
    if share is None or unit_share is None:
        return [everyone]
    profile_rows = in_cluster & (share >= 0.5)
    if profile_rows.sum() < _PROFILE_NULL:
        return [everyone]
    profile = unit_share >= 0.5
    return [(in_cluster & ~profile_rows, ~profile), (profile_rows, profile)]


def _mean_distances(
    vectors: np.ndarray, rows: np.ndarray, means: np.ndarray, which: np.ndarray
) -> np.ndarray:
    """``2 - 2 vectors[rows[i]] . means[which[i]]``, gathered a chunk at a time
    (the mean squared distance of unit vectors to a cluster's faces)."""
    out = np.empty(len(which), dtype=np.float64)
    for start in range(0, len(which), 65536):
        part = slice(start, start + 65536)
        out[part] = 2.0 - 2.0 * np.einsum(
            "ij,ij->i", np.asarray(vectors[rows[part]], dtype=np.float64), means[which[part]]
        )
    return out


def _rows_by_unit(unit: np.ndarray, units: int) -> list[np.ndarray]:
    rows = np.nonzero(unit >= 0)[0]
    order = np.argsort(unit[rows], kind="stable")
    rows = rows[order]
    bounds = np.searchsorted(unit[rows], np.arange(units + 1))
    return [rows[bounds[i] : bounds[i + 1]] for i in range(units)]


def _admissible(
    unit_ids: np.ndarray,
    into: np.ndarray,
    unit: np.ndarray,
    labels: np.ndarray,
    constraints: Constraints | None,
) -> np.ndarray:
    """Which (unit, cluster) pairs no cannot-link forbids."""
    allowed = np.ones(len(unit_ids), dtype=bool)
    if constraints is None or not len(unit_ids):
        return allowed
    if constraints.photo is not None:
        photo = np.asarray(constraints.photo, dtype=np.int64)
        # Only photos with more than one face can bind anything.
        _, inverse, counts = np.unique(photo, return_inverse=True, return_counts=True)
        shared = np.nonzero(counts[inverse] > 1)[0]
        busy = {(int(photo[r]), int(labels[r])) for r in shared if labels[r] >= 0}
        unit_photos: dict[int, set[int]] = {}
        for r in shared:
            if unit[r] >= 0:
                unit_photos.setdefault(int(unit[r]), set()).add(int(photo[r]))
        if busy and unit_photos:
            for i in np.nonzero(np.isin(unit_ids, list(unit_photos)))[0]:
                cluster_label = int(into[i])
                if any((p, cluster_label) in busy for p in unit_photos[int(unit_ids[i])]):
                    allowed[i] = False
    if constraints.rejected and constraints.seed is not None:
        seed = np.asarray(constraints.seed, dtype=np.int64)
        seeded = (seed >= 0) & (labels >= 0)
        seed_of = dict(zip(labels[seeded].tolist(), seed[seeded].tolist(), strict=True))
        refused: dict[int, set[int]] = {}
        for row, persons in constraints.rejected.items():
            if unit[row] >= 0:
                refused.setdefault(int(unit[row]), set()).update(persons)
        for i in np.nonzero(np.isin(unit_ids, list(refused)))[0]:
            label = seed_of.get(int(into[i]))
            if label is not None and label in refused[int(unit_ids[i])]:
                allowed[i] = False
    return allowed


# -- the merge rounds ----------------------------------------------------------


class _Tags:
    """Cannot-link facts of the clusters that have any: photos, seed, rejections."""

    def __init__(self) -> None:
        self.photos: dict[int, set[int]] = {}
        self.pos: dict[int, set[int]] = {}
        self.soft: dict[int, set[int]] = {}
        self.neg: dict[int, set[int]] = {}

    def tagged(self, n: int) -> np.ndarray:
        mask = np.zeros(n, dtype=bool)
        for table in (self.photos, self.pos, self.soft, self.neg):
            if table:
                mask[np.fromiter(table.keys(), dtype=np.int64)] = True
        return mask

    def conflict(self, a: int, b: int) -> bool:
        pa, pb = self.pos.get(a, set()), self.pos.get(b, set())
        if pa and pb and pa != pb:
            return True
        pa = pa | self.soft.get(a, set())
        pb = pb | self.soft.get(b, set())
        if pa & self.neg.get(b, set()) or pb & self.neg.get(a, set()):
            return True
        return bool(self.photos.get(a, set()) & self.photos.get(b, set()))

    def merge(self, a: int, b: int) -> None:
        """Cluster ``b`` joins cluster ``a``."""
        for table in (self.photos, self.pos, self.soft, self.neg):
            if b in table:
                table.setdefault(a, set()).update(table.pop(b))


def _agglomerate(
    x: np.ndarray,
    nn_idx: np.ndarray,
    nn_dist: np.ndarray,
    constraints: Constraints,
    max_threshold: float,
    penalties: tuple[float, float, float, float],
    cancel: CancelToken | None,
    room: np.ndarray | None = None,
    dated: tuple[np.ndarray, tuple[float, float, float]] | None = None,
    posed: tuple[np.ndarray, float] | None = None,
    young: tuple[np.ndarray, float] | None = None,
) -> Generator[Progress, None, Dendrogram]:
    """The merge rounds; ``dated``: each row's date in years (NaN unknown)
    and ``date_rule_of``'s rule, when dates count; ``posed``: each row's
    share of profile and the pose offset, when poses count; ``young``: each
    row's share of young child and the child penalty, when ages count.
    ``nn_dist`` are the links' lengths as merging counts them (poses
    included)."""
    n = len(x)
    parent = np.arange(n, dtype=np.int64)
    sums = x.astype(np.float32, copy=True)
    counts = np.ones(n, dtype=np.float64)
    rooms = np.ones(n, dtype=np.float64) if room is None else room.astype(np.float64, copy=True)
    spans: _Spans | None = None
    if dated is not None:
        first, last = date_ranges(dated[0], np.arange(n), n)
        spans = _Spans(first, last, dated[1])
    poses: _Poses | None = None
    if posed is not None:
        share = np.asarray(posed[0], dtype=np.float64)
        poses = _Poses(share.copy(), share * share, posed[1])
    children: _Children | None = None
    if young is not None:
        children = _Children(np.asarray(young[0], dtype=np.float64).copy(), young[1])
    tags = _Tags()
    seeded = np.zeros(n, dtype=bool)

    if constraints.seed is not None:
        seed = np.asarray(constraints.seed, dtype=np.int64)
        seeded = seed >= 0
        for label in np.unique(seed[seeded]):
            rows = np.nonzero(seed == label)[0]
            root = rows[0]
            parent[rows] = root
            sums[root] = x[rows].sum(axis=0)
            counts[root] = len(rows)
            rooms[root] = rooms[rows].sum()
            if spans is not None:
                spans.join(np.full(len(rows), root), rows)
            if poses is not None:
                poses.gather(root, rows)
            if children is not None:
                children.gather(root, rows)
            tags.pos[int(root)] = {int(label)}
    root_of = parent.copy()
    rejected_labels: set[int] = set()
    for row, labels in constraints.rejected.items():
        tags.neg.setdefault(int(root_of[row]), set()).update(int(v) for v in labels)
        rejected_labels.update(int(v) for v in labels)
    if constraints.prior is not None and rejected_labels:
        prior = np.asarray(constraints.prior, dtype=np.int64)
        for r in np.nonzero(np.isin(prior, list(rejected_labels)))[0]:
            tags.soft.setdefault(int(root_of[r]), set()).add(int(prior[r]))
    if constraints.photo is not None:
        photo = np.asarray(constraints.photo, dtype=np.int64)
        _, inverse, cnt = np.unique(photo, return_inverse=True, return_counts=True)
        for shared in np.nonzero(cnt[inverse] > 1)[0]:
            tags.photos.setdefault(int(root_of[shared]), set()).add(int(photo[shared]))
    base = parent.copy()

    # Links between clusters, deduplicated, shortest-first irrelevant here.
    k = nn_idx.shape[1]
    ei = np.repeat(np.arange(n, dtype=np.int64), k)
    ej = nn_idx.ravel()
    keep = (ej >= 0) & (nn_dist.ravel() <= max_threshold)
    a, b = root_of[ei[keep]], root_of[ej[keep]]
    a, b = np.minimum(a, b), np.maximum(a, b)
    keep = a != b
    a, b = _unique_pairs(a[keep], b[keep], n)
    squares = _squares(sums, np.arange(n))
    link = _linkage(sums, counts, squares, a, b, penalties, rooms, spans, poses, children)
    blocked = np.zeros(len(a), dtype=bool)
    # A merge widens date ranges and mixes poses, so a link can shorten by up
    # to the date penalty and the pose offset.
    margin = sum(penalties[:3]) + (0.0 if spans is None else spans.rule[2])
    margin += 0.0 if poses is None else poses.offset
    margin += 0.0 if children is None else children.penalty

    merges_l: list[np.ndarray] = []
    merges_r: list[np.ndarray] = []
    merges_h: list[np.ndarray] = []
    rounds = 0
    while len(a):
        if cancel is not None and cancel.cancelled:
            raise Cancelled("clustering was stopped on request; nothing was changed")
        ok = np.nonzero((link <= max_threshold) & ~blocked)[0]
        left, right, height, edge = _merges_of_round(a[ok], b[ok], link[ok], counts, n)
        if not len(left):
            break
        edge = ok[edge]
        tagged = tags.tagged(n)
        keep = np.ones(len(left), dtype=bool)
        for i in np.nonzero(tagged[left] | tagged[right])[0]:
            # In order: a cluster taking in several others this round sees each one's tags.
            if tags.conflict(int(left[i]), int(right[i])):
                keep[i] = False
                blocked[edge[i]] = True
            else:
                tags.merge(int(left[i]), int(right[i]))
        left, right, height = left[keep], right[keep], height[keep]
        if not len(left):
            continue  # only refused merges: nearest partners change, look again
        parent[right] = left
        np.add.at(sums, left, sums[right])
        np.add.at(counts, left, counts[right])
        np.add.at(rooms, left, rooms[right])
        if spans is not None:
            spans.join(left, right)
        if poses is not None:
            poses.join(left, right)
        if children is not None:
            children.join(left, right)
        merges_l.append(left)
        merges_r.append(right)
        merges_h.append(height)
        rounds += 1

        # Re-point the links at the merged clusters and refresh the changed ones.
        parent = _compress(parent)
        changed = np.zeros(n, dtype=bool)
        changed[left] = True
        a, b = parent[a], parent[b]
        a, b = np.minimum(a, b), np.maximum(a, b)
        keep = a != b
        a, b, link, blocked = a[keep], b[keep], link[keep], blocked[keep]
        a, b, link, blocked = _merge_duplicate_links(a, b, link, blocked, n)
        squares[left] = _squares(sums, left)
        redo = changed[a] | changed[b]
        link[redo] = _linkage(
            sums, counts, squares, a[redo], b[redo], penalties, rooms, spans, poses, children
        )
        # A link this long cannot come back under the loosest threshold (the
        # linkage of a union is about the weighted mean of its parts' linkages;
        # the margin covers the small-cluster penalties that merging removes).
        keep = (link <= max_threshold + margin) & ~blocked
        a, b, link, blocked = a[keep], b[keep], link[keep], blocked[keep]
        yield Progress("merging", rounds, 0, {"clusters": int(n - sum(len(m) for m in merges_l))})

    if merges_l:
        left_all = np.concatenate(merges_l)
        right_all = np.concatenate(merges_r)
        height_all = np.concatenate(merges_h).astype(np.float32)
    else:
        left_all = right_all = np.zeros(0, dtype=np.int64)
        height_all = np.zeros(0, dtype=np.float32)
    return Dendrogram(base=base, left=left_all, right=right_all, height=height_all, seeded=seeded)


@dataclass
class _Spans:
    """The first and last capture date (years) of every cluster, by root."""

    first: np.ndarray
    last: np.ndarray
    rule: tuple[float, float, float]

    def join(self, into: np.ndarray, rows: np.ndarray) -> None:
        """Clusters ``rows`` join clusters ``into`` (several may join one)."""
        np.minimum.at(self.first, into, self.first[rows])
        np.maximum.at(self.last, into, self.last[rows])

    def penalty(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return date_penalty(self.first[a], self.last[a], self.first[b], self.last[b], self.rule)


@dataclass
class _Poses:
    """The sum of shares of profile, and of their squares, of every cluster, by root."""

    sums: np.ndarray
    squares: np.ndarray
    offset: float

    def gather(self, root: int, rows: np.ndarray) -> None:
        """Rows of one seed start as one cluster at ``root``."""
        self.sums[root] = self.sums[rows].sum()
        self.squares[root] = self.squares[rows].sum()

    def join(self, into: np.ndarray, rows: np.ndarray) -> None:
        """Clusters ``rows`` join clusters ``into`` (several may join one)."""
        np.add.at(self.sums, into, self.sums[rows])
        np.add.at(self.squares, into, self.squares[rows])

    def nearer(self, a: np.ndarray, b: np.ndarray, na: np.ndarray, nb: np.ndarray) -> np.ndarray:
        return pose_nearer(
            self.sums[a] / na, self.squares[a] / na, self.sums[b] / nb, self.squares[b] / nb,
            self.offset, na, nb,
        )


@dataclass
class _Children:
    """The sum of shares of young child of every cluster, by root."""

    sums: np.ndarray
    penalty: float

    def gather(self, root: int, rows: np.ndarray) -> None:
        """Rows of one seed start as one cluster at ``root``."""
        self.sums[root] = self.sums[rows].sum()

    def join(self, into: np.ndarray, rows: np.ndarray) -> None:
        """Clusters ``rows`` join clusters ``into`` (several may join one)."""
        np.add.at(self.sums, into, self.sums[rows])

    def farther(self, a: np.ndarray, b: np.ndarray, na: np.ndarray, nb: np.ndarray) -> np.ndarray:
        """``penalty`` times the mean over the two clusters' pairs of faces of
        the product of their shares of child."""
        return np.asarray(self.penalty * (self.sums[a] / na) * (self.sums[b] / nb))


def _unique_pairs(a: np.ndarray, b: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    key = np.unique(a * n + b)
    return key // n, key % n


def _merge_duplicate_links(
    a: np.ndarray, b: np.ndarray, link: np.ndarray, blocked: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One link per cluster pair; a blocked link stays blocked (cannot-links only grow)."""
    key = a * n + b
    uniq, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    if len(uniq) == len(key):
        return a, b, link, blocked
    blocked_any = np.zeros(len(uniq), dtype=bool)
    np.logical_or.at(blocked_any, inverse, blocked)
    return uniq // n, uniq % n, link[first], blocked_any


def merge_distance(
    dots: np.ndarray,
    norm_a: np.ndarray | float,
    norm_b: np.ndarray | float,
    count_a: np.ndarray | float,
    count_b: np.ndarray | float,
    rule: tuple[float, float, float, float],
) -> np.ndarray:
    """The distance two clusters merge at, from their mean vectors.

    ``dots`` = mean_a . mean_b, ``norm_*`` = |mean|^2, ``rule`` = (lone, join,
    pair penalties, spread weight). With spread weight 1 and no penalties this
    is the average squared distance over all face pairs (average linkage).
    """
    spread = rule[3]
    penalty = _penalty(count_a, count_b, rule)
    # |ma - mb|^2 + w (spread_a + spread_b), where spread = 1 - |m|^2 for unit vectors.
    centres = norm_a + norm_b - 2.0 * dots
    return np.asarray(centres + spread * (2.0 - norm_a - norm_b) + penalty)


def _penalty(
    count_a: np.ndarray | float,
    count_b: np.ndarray | float,
    rule: tuple[float, float, float, float],
) -> np.ndarray:
    """The small-cluster penalty of a merge (``merge_distance``)."""
    lone, join, pair, _ = rule
    small, big = np.minimum(count_a, count_b), np.maximum(count_a, count_b)
    return np.asarray(
        np.where(big == 1, lone, np.where(small == 1, join, np.where(small == 2, pair, 0.0)))
    )


def rule_of(params: ClusterParams) -> tuple[float, float, float, float]:
    return (params.lone_penalty, params.join_penalty, params.pair_penalty, params.spread_weight)


def _linkage(
    sums: np.ndarray,
    counts: np.ndarray,
    squares: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    rule: tuple[float, float, float, float],
    rooms: np.ndarray | None = None,
    spans: _Spans | None = None,
    poses: _Poses | None = None,
    children: _Children | None = None,
) -> np.ndarray:
    """``merge_distance`` of clusters a and b from their sums of unit vectors
    (``squares`` holds |sum|^2 of every cluster), divided by the mean room
    of their faces (``crowding``; ``rooms`` holds each cluster's sum), plus
    the penalty of their date ranges (``date_penalty``) and of their young
    children (``_Children``), less what their poses make up for
    (``pose_nearer``, before the room's scaling)."""
    out = np.empty(len(a), dtype=np.float64)
    for start in range(0, len(a), 65536):
        sa, sb = a[start : start + 65536], b[start : start + 65536]
        na, nb = counts[sa], counts[sb]
        dots = np.einsum("ij,ij->i", sums[sa], sums[sb], dtype=np.float64) / (na * nb)
        out[start : start + 65536] = merge_distance(
            dots, squares[sa] / (na * na), squares[sb] / (nb * nb), na, nb, rule
        )
        if poses is not None:
            out[start : start + 65536] -= poses.nearer(sa, sb, na, nb)
        crowded_by = np.zeros(len(sa))
        if rooms is not None:
            # The distance is scaled, not the penalty for a small sample.
            penalty = _penalty(na, nb, rule)
            part = out[start : start + 65536] - penalty
            crowded_by = part * ((na + nb) / (rooms[sa] + rooms[sb]) - 1.0)
            out[start : start + 65536] += crowded_by
        if spans is not None:
            out[start : start + 65536] += spans.penalty(sa, sb)
        if children is not None:
            # Two evidences of one thing, the crowd children stand in: the
            # one the library measured (the room) and the one their age
            # tells when the library shows none; the larger counts.
            out[start : start + 65536] += np.maximum(
                children.farther(sa, sb, na, nb) - crowded_by, 0.0
            )
    return out


def _squares(sums: np.ndarray, rows: np.ndarray) -> np.ndarray:
    return np.einsum("ij,ij->i", sums[rows], sums[rows], dtype=np.float64)


def _merges_of_round(
    a: np.ndarray, b: np.ndarray, link: np.ndarray, counts: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The merges of one round: (surviving root, merged root, height, link index).

    Two clusters that are each other's nearest merge (the reciprocal-nearest
    rule). A cluster that nobody has as nearest also joins its own nearest
    when that one is at least as large and merges with its own nearest this
    round: a large cluster takes in many lone faces in one round instead of
    one per round, at heights computed before the round (a small
    approximation that keeps the rounds few on large libraries).
    """
    empty = np.zeros(0, dtype=np.int64)
    if not len(a):
        return empty, empty, np.zeros(0), empty
    src = np.concatenate([a, b])
    dst = np.concatenate([b, a])
    dist = np.concatenate([link, link])
    which = np.concatenate([np.arange(len(a)), np.arange(len(a))])
    order = np.argsort(src.astype(np.float64) * 16.0 + np.clip(dist, 0.0, 15.0))
    first = np.ones(len(order), dtype=bool)
    first[1:] = src[order][1:] != src[order][:-1]
    pick = order[first]
    best = np.full(n, -1, dtype=np.int64)
    best[src[pick]] = dst[pick]
    best_edge = np.full(n, -1, dtype=np.int64)
    best_edge[src[pick]] = which[pick]
    cand = src[pick]
    partner = best[cand]
    mutual = best[partner] == cand
    m_left = cand[mutual & (cand < partner)]
    m_right = best[m_left]
    in_mutual = np.zeros(n, dtype=bool)
    in_mutual[m_left] = True
    in_mutual[m_right] = True
    wanted = np.zeros(n, dtype=bool)
    wanted[partner] = True
    lone = cand[~mutual]
    into = best[lone]
    star = ~wanted[lone] & in_mutual[into] & (counts[lone] * 8 <= counts[into])
    root = np.arange(n)
    root[m_right] = m_left
    s_right, s_left = lone[star], root[into[star]]
    left = np.concatenate([m_left, s_left])
    right = np.concatenate([m_right, s_right])
    edge = best_edge[right]
    return left, right, link[edge], edge


def _compress(parent: np.ndarray) -> np.ndarray:
    """Point every row straight at its root."""
    while True:
        grand = parent[parent]
        if np.array_equal(grand, parent):
            return parent
        parent = grand
