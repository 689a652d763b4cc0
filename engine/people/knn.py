"""Nearest neighbours of L2-normalised embeddings, in bounded memory.

For up to ``EXACT_LIMIT`` vectors the neighbours are exact: chunked matrix
products against the whole set. Above it an inverted-file index is used: a
spherical k-means on a sample makes cells of about ``CELL_SIZE`` vectors,
every vector is filed in its ``SPREAD`` nearest cells, and the vectors of
each cell are compared with each other. Two faces of one person are near
each other, so they share a cell almost always, while the cost grows about
linearly with the number of faces (cells x cell size squared).

Distances are squared Euclidean, ``2 - 2 cos`` for unit vectors. This module
knows nothing of the catalog, of people or of facts.
"""

from collections.abc import Generator

import numpy as np

from engine.errors import Cancelled
from engine.progress import CancelToken, Progress

EXACT_LIMIT = 12_000
CELL_SIZE = 512  # vectors per cell
SPREAD = 3  # every vector is filed in its 3 nearest cells
REFINE_PASSES = 1
REFINE_FAN = 10  # neighbours of the first 10 neighbours are looked at
_CHUNK = 1024


def knn(
    vectors: np.ndarray,
    k: int,
    *,
    max_distance: float | None = None,
    exact_limit: int = EXACT_LIMIT,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """(indices, squared distances), each (N, k), nearest first, self excluded.

    Only neighbours within ``max_distance`` (when given) are returned, which
    is much faster when most pairs are far apart, as faces of different
    people are. Missing neighbours are padded with index -1 and distance ``inf``.
    """
    steps = knn_steps(vectors, k, max_distance=max_distance, exact_limit=exact_limit, seed=seed)
    while True:
        try:
            next(steps)
        except StopIteration as finished:
            result: tuple[np.ndarray, np.ndarray] = finished.value
            return result


def knn_steps(
    vectors: np.ndarray,
    k: int,
    *,
    max_distance: float | None = None,
    exact_limit: int = EXACT_LIMIT,
    seed: int = 0,
    cancel: CancelToken | None = None,
) -> Generator[Progress, None, tuple[np.ndarray, np.ndarray]]:
    """Like ``knn`` but yields ``Progress`` as it goes and returns the result."""
    min_sim = None if max_distance is None else 1.0 - max_distance / 2.0
    x = np.ascontiguousarray(vectors, dtype=np.float32)
    n = len(x)
    idx = np.full((n, k), -1, dtype=np.int64)
    dist = np.full((n, k), np.inf, dtype=np.float32)
    if n <= 1 or k <= 0:
        return idx, dist
    if n <= exact_limit:
        for start in range(0, n, _CHUNK):
            _check(cancel)
            rows = np.arange(start, min(start + _CHUNK, n))
            _top_k(x, rows, np.arange(n), idx, dist, k, min_sim)
            yield Progress("neighbours", int(rows[-1]) + 1, n)
        return idx, dist
    if min_sim is None:
        min_sim = -1.0  # every pair qualifies; slow, but only asked for by small callers
    cells = _cells(x, max(2, n // CELL_SIZE), seed)
    members = _members(_top_cells(x, cells, min(SPREAD, len(cells))), len(cells))
    batch_q: list[np.ndarray] = []
    batch_c: list[np.ndarray] = []
    batch_v: list[np.ndarray] = []
    pending = 0
    for c, rows in enumerate(members):
        _check(cancel)
        if len(rows) > 1:
            q, cand, v = _pairs_in_cell(x, rows, k, min_sim)
            batch_q.append(q)
            batch_c.append(cand)
            batch_v.append(v)
            pending += len(q)
        if pending > 4_000_000 or c == len(members) - 1:
            if batch_q:
                _merge_into(idx, dist, np.concatenate(batch_q), np.concatenate(batch_c),
                            np.concatenate(batch_v), k)
            batch_q, batch_c, batch_v, pending = [], [], [], 0
        if c % 16 == 0 or c == len(members) - 1:
            yield Progress("neighbours", c + 1, len(members))
    # A neighbour's neighbour is often a neighbour the cells missed.
    for _ in range(REFINE_PASSES):
        for start in range(0, n, _CHUNK):
            _check(cancel)
            rows = np.arange(start, min(start + _CHUNK, n))
            _refine(x, rows, idx, dist, k, min_sim)
            yield Progress("neighbours", len(members), len(members))
    return idx, dist


def _check(cancel: CancelToken | None) -> None:
    if cancel is not None and cancel.cancelled:
        raise Cancelled("finding neighbours was stopped on request; nothing was changed")


def _top_k(
    x: np.ndarray,
    rows: np.ndarray,
    candidates: np.ndarray,
    idx: np.ndarray,
    dist: np.ndarray,
    k: int,
    min_sim: float | None,
) -> None:
    """Write the k nearest of ``candidates`` (sorted) to each of ``rows``, self excluded."""
    sims = x[rows] @ x[candidates].T
    pos = np.searchsorted(candidates, rows)
    ok = pos < len(candidates)
    hit = np.zeros(len(rows), dtype=bool)
    hit[ok] = candidates[pos[ok]] == rows[ok]
    sims[np.nonzero(hit)[0], pos[hit]] = -np.inf
    if min_sim is not None:
        # Few pairs are near: keep those, then rank them row by row.
        r, c = np.nonzero(sims >= min_sim)
        v = sims[r, c]
        order = np.argsort(_row_key(r, 1.0 - v))
        r, c, v = r[order], c[order], v[order]
        rank = np.arange(len(r)) - np.searchsorted(r, r)
        keep = rank < k
        r, c, v, rank = r[keep], c[keep], v[keep], rank[keep]
        idx[rows[r], rank] = candidates[c]
        dist[rows[r], rank] = np.maximum(2.0 - 2.0 * v, 0.0)
        return
    kk = min(k, len(candidates))
    part = np.argpartition(-sims, kk - 1, axis=1)[:, :kk]
    top = np.take_along_axis(sims, part, axis=1)
    order = np.argsort(-top, axis=1)
    part = np.take_along_axis(part, order, axis=1)
    top = np.take_along_axis(top, order, axis=1)
    found = candidates[part]
    d = np.maximum(2.0 - 2.0 * top, 0.0).astype(np.float32)
    bad = ~np.isfinite(top)
    found[bad] = -1
    d[bad] = np.inf
    idx[rows, :kk] = found
    dist[rows, :kk] = d


def _pairs_in_cell(
    x: np.ndarray, rows: np.ndarray, k: int, min_sim: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(query, neighbour, similarity) of the up-to-k nearest pairs inside one cell."""
    sims = x[rows] @ x[rows].T
    np.fill_diagonal(sims, -np.inf)
    r, c = np.nonzero(sims >= min_sim)
    v = sims[r, c]
    order = np.argsort(_row_key(r, 1.0 - v))
    r, c, v = r[order], c[order], v[order]
    keep = (np.arange(len(r)) - np.searchsorted(r, r)) < k
    return rows[r[keep]], rows[c[keep]], v[keep]


def _refine(
    x: np.ndarray, rows: np.ndarray, idx: np.ndarray, dist: np.ndarray, k: int, min_sim: float
) -> None:
    """Compare ``rows`` with their neighbours' neighbours and keep the nearer ones."""
    first = idx[rows, :REFINE_FAN]
    cand = idx[np.where(first >= 0, first, 0), :REFINE_FAN]
    cand[first < 0] = -1
    cand = cand.reshape(len(rows), -1)
    q = np.repeat(rows, cand.shape[1])
    c = cand.ravel()
    ok = (c >= 0) & (c != q)
    q, c = q[ok], c[ok]
    v = np.einsum("ij,ij->i", x[q], x[c])
    near = v >= min_sim
    if near.any():
        _merge_into(idx, dist, q[near], c[near], v[near], k)


def _merge_into(
    idx: np.ndarray, dist: np.ndarray, q: np.ndarray, c: np.ndarray, v: np.ndarray, k: int
) -> None:
    """Fold new (query, neighbour, similarity) triples into the running k nearest."""
    rows = np.unique(q)
    old_c = idx[rows].ravel()
    old_q = np.repeat(rows, idx.shape[1])
    old_d = dist[rows].ravel()
    valid = old_c >= 0
    Q = np.concatenate([q, old_q[valid]])
    C = np.concatenate([c, old_c[valid]])
    D = np.concatenate([np.maximum(2.0 - 2.0 * v, 0.0).astype(np.float32), old_d[valid]])
    # One entry per (query, neighbour): the same pair may come from several cells.
    _, first = np.unique(Q * len(idx) + C, return_index=True)
    Q, C, D = Q[first], C[first], D[first]
    order = np.argsort(_row_key(Q, D))
    Q, C, D = Q[order], C[order], D[order]
    rank = np.arange(len(Q)) - np.searchsorted(Q, Q)
    keep = rank < k
    idx[rows] = -1
    dist[rows] = np.inf
    idx[Q[keep], rank[keep]] = C[keep]
    dist[Q[keep], rank[keep]] = D[keep]


def _row_key(rows: np.ndarray, values: np.ndarray) -> np.ndarray:
    """A float key that sorts by row, then by value (values in [0, 4])."""
    return rows.astype(np.float64) * 8.0 + values


def _cells(x: np.ndarray, count: int, seed: int, iters: int = 8) -> np.ndarray:
    """Centres of a spherical k-means on a sample of ``x``."""
    rng = np.random.default_rng(seed)
    n = len(x)
    sample = x[rng.choice(n, size=min(n, count * 32), replace=False)]
    centres = sample[rng.choice(len(sample), size=count, replace=False)].copy()
    for _ in range(iters):
        labels = _top_cells(sample, centres, 1)[:, 0]
        sums = np.zeros_like(centres)
        np.add.at(sums, labels, sample)
        empty = np.linalg.norm(sums, axis=1) == 0
        sums[empty] = sample[rng.choice(len(sample), size=int(empty.sum()), replace=False)]
        centres = sums / np.linalg.norm(sums, axis=1, keepdims=True)
    return centres.astype(np.float32)


def _top_cells(x: np.ndarray, centres: np.ndarray, spread: int) -> np.ndarray:
    """(N, spread): the nearest cells of every vector."""
    out = np.empty((len(x), spread), dtype=np.int64)
    for start in range(0, len(x), 16384):
        sims = x[start : start + 16384] @ centres.T
        if spread == 1:
            out[start : start + 16384, 0] = np.argmax(sims, axis=1)
        else:
            out[start : start + 16384] = np.argpartition(-sims, spread - 1, axis=1)[:, :spread]
    return out


def _members(top: np.ndarray, count: int) -> list[np.ndarray]:
    """The vectors filed in each cell."""
    cell = top.ravel()
    point = np.repeat(np.arange(len(top)), top.shape[1])
    order = np.argsort(cell, kind="stable")
    cell, point = cell[order], point[order]
    bounds = np.searchsorted(cell, np.arange(count + 1))
    return [point[bounds[c] : bounds[c + 1]] for c in range(count)]


def neighbourhood_agreement(
    idx: np.ndarray, rows: np.ndarray, rank: int
) -> tuple[np.ndarray, np.ndarray]:
    """How well the neighbourhoods of ``rows`` and of their ``rank``-th neighbour
    agree: (rank-order distance, shared neighbours).

    For a face ``a`` and its neighbour ``b`` (rank-order distance, Zhu et al.
    2011, in the approximate form of Otto et al. 2018): the faces ``a`` ranks
    before ``b`` that are not among ``b``'s neighbours, plus the faces ``b``
    ranks before ``a`` that are not among ``a``'s, over the smaller of the two
    ranks plus one. Two photos of one person share their nearer neighbours
    (the person's other photos), so it is near 0 however many photos the
    person has; two strangers in a crowd of look-alikes each have their own
    random few nearest, so it is 1 or more. ``b`` absent from ``a``'s list
    counts as rank ``k``. The shared neighbours are the faces in both lists:
    many for two photos of a person with more photos than ``k``, whose lists
    are two samples of that person. Rows whose neighbour at ``rank`` is
    missing get inf and 0.
    """
    k = idx.shape[1]
    out = np.full(len(rows), np.inf)
    shared = np.zeros(len(rows), dtype=np.int64)
    for start in range(0, len(rows), 16384):
        part = rows[start : start + 16384]
        other = idx[part, rank]
        ok = other >= 0
        a, b = part[ok], other[ok]
        la, lb = idx[a], idx[b]
        at = lb == a[:, None]
        rank_ba = np.where(at.any(axis=1), np.argmax(at, axis=1), k)
        before_a = la[:, :rank]
        known_b = (before_a[:, :, None] == lb[:, None, :]).any(axis=2)
        miss = ((before_a >= 0) & ~known_b).sum(axis=1)
        known_a = (lb[:, :, None] == la[:, None, :]).any(axis=2)
        before_b = np.arange(k)[None, :] < rank_ba[:, None]
        miss += (before_b & (lb >= 0) & ~known_a).sum(axis=1)
        where = np.arange(start, start + len(part))[ok]
        out[where] = miss / (np.minimum(rank, rank_ba) + 1.0)
        shared[where] = (known_a & (lb >= 0)).sum(axis=1)
    return out, shared

