"""Nearest neighbours of L2-normalised embeddings, in bounded memory.

For up to ``EXACT_LIMIT`` vectors the neighbours are exact: chunked matrix
products against the whole set. Above it an inverted-file index is used: a
spherical k-means splits the set into cells of about ``CELL_SIZE`` vectors,
and each cell's vectors are compared with the vectors of the cells whose
centres are nearest its own. Faces of one person lie close together, so the
neighbours that clustering needs (those under the merge distance) are found
almost always while the cost grows about linearly with the number of faces.

Distances are squared Euclidean, ``2 - 2 cos`` for unit vectors. This module
knows nothing of the catalog, of people or of facts.
"""

from collections.abc import Iterator

import numpy as np

from engine.errors import Cancelled
from engine.progress import CancelToken, Progress

EXACT_LIMIT = 30_000
CELL_SIZE = 512
PROBES = 12
_CHUNK = 1024


def knn(
    vectors: np.ndarray, k: int, *, exact_limit: int = EXACT_LIMIT, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """(indices, squared distances), each (N, k), nearest first, self excluded.

    Rows with fewer than ``k`` other vectors are padded with index -1 and
    distance ``inf``.
    """
    result: tuple[np.ndarray, np.ndarray] | None = None
    for item in knn_steps(vectors, k, exact_limit=exact_limit, seed=seed):
        if isinstance(item, tuple):
            result = item
    if result is None:  # pragma: no cover - knn_steps always ends with a result
        raise RuntimeError("knn_steps ended without a result")
    return result


def knn_steps(
    vectors: np.ndarray,
    k: int,
    *,
    exact_limit: int = EXACT_LIMIT,
    seed: int = 0,
    cancel: CancelToken | None = None,
) -> Iterator[Progress | tuple[np.ndarray, np.ndarray]]:
    """Like ``knn`` but yields ``Progress`` as it goes, then the result tuple."""
    x = np.ascontiguousarray(vectors, dtype=np.float32)
    n = len(x)
    idx = np.full((n, k), -1, dtype=np.int64)
    dist = np.full((n, k), np.inf, dtype=np.float32)
    if n <= 1 or k <= 0:
        yield idx, dist
        return
    if n <= exact_limit:
        for start in range(0, n, _CHUNK):
            _check(cancel)
            rows = np.arange(start, min(start + _CHUNK, n))
            _top_k(x, rows, rows, np.arange(n), idx, dist, k)
            yield Progress("neighbours", int(rows[-1]) + 1, n)
        yield idx, dist
        return
    cells, assign = _cells(x, max(2, n // CELL_SIZE), seed)
    members = _members(assign, len(cells))
    near = _nearest_cells(cells, min(PROBES, len(cells)))
    for c in range(len(cells)):
        _check(cancel)
        rows = members[c]
        if len(rows):
            candidates = np.sort(np.concatenate([members[j] for j in near[c]]))
            _top_k(x, rows, rows, candidates, idx, dist, k)
        if c % 16 == 0 or c == len(cells) - 1:
            yield Progress("neighbours", c + 1, len(cells))
    yield idx, dist


def _check(cancel: CancelToken | None) -> None:
    if cancel is not None and cancel.cancelled:
        raise Cancelled("finding neighbours was stopped on request; nothing was changed")


def _top_k(
    x: np.ndarray,
    rows: np.ndarray,
    out_rows: np.ndarray,
    candidates: np.ndarray,
    idx: np.ndarray,
    dist: np.ndarray,
    k: int,
) -> None:
    """Write the k nearest of ``candidates`` to each of ``rows`` (self excluded)."""
    sims = x[rows] @ x[candidates].T
    # Exclude self matches: the candidate equal to the query row.
    pos = np.searchsorted(candidates, rows) if _is_sorted(candidates) else None
    if pos is not None:
        ok = pos < len(candidates)
        hit = np.zeros(len(rows), dtype=bool)
        hit[ok] = candidates[pos[ok]] == rows[ok]
        sims[np.nonzero(hit)[0], pos[hit]] = -np.inf
    else:
        sims[candidates[None, :] == rows[:, None]] = -np.inf
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
    idx[out_rows, :kk] = found
    dist[out_rows, :kk] = d


def _is_sorted(a: np.ndarray) -> bool:
    return bool(len(a) < 2 or np.all(a[1:] >= a[:-1]))


def _cells(x: np.ndarray, count: int, seed: int, iters: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Spherical k-means on a sample; returns (centres, cell of every vector)."""
    rng = np.random.default_rng(seed)
    n = len(x)
    sample = x[rng.choice(n, size=min(n, count * 32), replace=False)]
    centres = sample[rng.choice(len(sample), size=count, replace=False)].copy()
    for _ in range(iters):
        labels = _assign(sample, centres)
        sums = np.zeros_like(centres)
        np.add.at(sums, labels, sample)
        empty = np.linalg.norm(sums, axis=1) == 0
        sums[empty] = sample[rng.choice(len(sample), size=int(empty.sum()), replace=False)]
        centres = sums / np.linalg.norm(sums, axis=1, keepdims=True)
    return centres.astype(np.float32), _assign(x, centres)


def _assign(x: np.ndarray, centres: np.ndarray) -> np.ndarray:
    out = np.empty(len(x), dtype=np.int64)
    for start in range(0, len(x), 16384):
        out[start : start + 16384] = np.argmax(x[start : start + 16384] @ centres.T, axis=1)
    return out


def _members(assign: np.ndarray, count: int) -> list[np.ndarray]:
    order = np.argsort(assign, kind="stable")
    bounds = np.searchsorted(assign[order], np.arange(count + 1))
    return [np.sort(order[bounds[c] : bounds[c + 1]]) for c in range(count)]


def _nearest_cells(cells: np.ndarray, probes: int) -> np.ndarray:
    sims = cells @ cells.T
    return np.argsort(-sims, axis=1)[:, :probes]
