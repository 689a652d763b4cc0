"""How alike two faces are in the context of the whole library.

Two photos of one person can lie far apart (a profile and a frontal photo,
a child and the adult) while two strangers lie nearer; the distance of the
pair alone cannot tell them apart. The faces around them can: a person's
profile has the person's other photos among its nearest faces, and so has
their frontal photo, while two strangers' neighbourhoods hold different
people. ``Context`` measures that with k-reciprocal encoding (Zhong et al.,
"Re-ranking person re-identification with k-reciprocal encoding", CVPR
2017), on a sparse nearest-neighbour graph so that it scales with the
library:

1. each face's k-reciprocal set: its ``neighbours`` nearest faces that also
   have it among their own ``neighbours`` nearest (and the face itself);
2. the set grows by the reciprocal set (at half the reach) of each member
   that shares more than two thirds of it, so a person's photos reached
   through a few intermediate ones count too;
3. each face becomes a weight vector over the faces of its set, ``exp(-d)``
   normalised to sum 1, averaged over its ``expansion`` nearest faces;
4. the Jaccard distance of two faces' weight vectors,
   ``1 - sum(min) / sum(max)``, is 0 for faces with the same neighbourhood
   and 1 for faces whose neighbourhoods do not meet.

The context distance blends it with the pair's own squared distance,
``(1 - weight) * 4 * jaccard + weight * d``: squared-distance units (0 to 4),
so a face with no neighbourhood in common with another is still told apart
by how far it is. Faces in a small or one-off library have little context,
and their context distance is then mostly the Jaccard of sparse sets: it is
meant for comparing faces within one library, as the library holds them.

This module knows nothing of the catalog, of people or of facts.
"""

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from engine.errors import FaceAlbumError
from engine.people.knn import knn

# Rows of pairs compared at once: bounds the memory of the sparse minimum.
_PAIR_CHUNK = 65_536


# How much farther than a threshold two faces sharing a neighbourhood may
# still be judged the same person (``ContextParams.within_reach``). Beyond
# it lie strangers' distances (CFP dev: 1.92-1.96 on average), where a few
# faces shared by chance (a small library's nearest 20 reach into other
# people) would be enough; on CFP dev review gathered nothing more from
# farther (docs/PERFORMANCE.md "Suggestions in context").
CONTEXT_REACH = 0.25


class ContextError(FaceAlbumError):
    """Vectors or pairs that a context cannot be built from or asked about."""


@dataclass(frozen=True)
class ContextParams:
    """Knobs of ``Context``; the defaults are Zhong et al.'s (k1 20, k2 6, lambda 0.3)."""

    neighbours: int = 20  # k1: reach of a face's k-reciprocal set
    expansion: int = 6  # k2: faces whose weight vectors are averaged (itself included)
    weight: float = 0.3  # lambda: share of the pair's own distance in the blend

    def __post_init__(self) -> None:
        if self.neighbours < 2:
            raise ContextError(f"neighbours must be at least 2, got {self.neighbours}")
        if self.expansion < 1:
            raise ContextError(f"expansion must be at least 1, got {self.expansion}")
        if not 0.0 <= self.weight <= 1.0:
            raise ContextError(f"weight must lie in [0, 1], got {self.weight}")

    def blend(self, jaccard: np.ndarray | float, plain: np.ndarray | float) -> np.ndarray:
        """The context distance of a Jaccard distance and a squared distance."""
        w = self.weight
        return np.asarray((1.0 - w) * 4.0 * np.asarray(jaccard) + w * np.asarray(plain))

    def within_reach(self, distance: np.ndarray, plain: np.ndarray, threshold: float) -> np.ndarray:
        """Which pairs (or groups) of context ``distance`` and squared distance
        ``plain`` are near enough to be the same person at ``threshold``: as
        near in context as a pair sharing no neighbour at that threshold, and
        no more than ``CONTEXT_REACH`` beyond it. A pair with nothing in
        common is judged exactly as by its distance alone; one sharing its
        neighbourhood from a little farther."""
        return np.asarray((np.asarray(distance) <= self.blend(1.0, threshold))
                          & (np.asarray(plain) <= threshold + CONTEXT_REACH))


class Context:
    """The k-reciprocal neighbourhoods of a library's faces; ``distances`` compares two."""

    def __init__(self, vectors: np.ndarray, params: ContextParams | None = None) -> None:
        x = np.asarray(vectors, dtype=np.float32)
        if x.ndim != 2 or not np.isfinite(x).all():
            raise ContextError(
                f"expected finite (N, D) unit vectors, got an array of shape {x.shape}"
            )
        self.params = params or ContextParams()
        self.vectors = x
        n = len(x)
        k = min(self.params.neighbours, max(n - 1, 0))
        idx, _ = knn(x, k) if k > 0 else (np.zeros((n, 0), np.int64), None)
        self.encoding = _encoding(x, idx, self.params)

    def __len__(self) -> int:
        return len(self.vectors)

    def jaccard(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """(P,) Jaccard distance of the neighbourhoods of faces ``a[i]`` and ``b[i]``."""
        a, b = self._checked(a, b)
        out = np.empty(len(a), dtype=np.float64)
        for start in range(0, len(a), _PAIR_CHUNK):
            stop = start + _PAIR_CHUNK
            va, vb = self.encoding[a[start:stop]], self.encoding[b[start:stop]]
            shared = np.asarray(va.minimum(vb).sum(axis=1)).ravel()
            total = np.asarray(va.maximum(vb).sum(axis=1)).ravel()
            out[start:stop] = 1.0 - shared / np.maximum(total, 1e-12)
        return out

    def distances(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """(P,) context distances of faces ``a[i]`` and ``b[i]`` (rows of the vectors)."""
        a, b = self._checked(a, b)
        diff = self.vectors[a].astype(np.float64) - self.vectors[b]
        plain = np.einsum("ij,ij->i", diff, diff)
        return self.params.blend(self.jaccard(a, b), plain)

    def _checked(self, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        a = np.asarray(a, dtype=np.int64).ravel()
        b = np.asarray(b, dtype=np.int64).ravel()
        if a.shape != b.shape:
            raise ContextError(f"expected pairs of equal length, got {len(a)} and {len(b)}")
        n = len(self.vectors)
        if len(a) and (min(a.min(), b.min()) < 0 or max(a.max(), b.max()) >= n):
            raise ContextError(f"face rows must lie in 0..{n - 1}")
        return a, b


def _encoding(x: np.ndarray, idx: np.ndarray, params: ContextParams) -> sp.csr_matrix:
    """(N, N) sparse weight vectors of every face (steps 1-3 of the module's words)."""
    n = len(x)
    k = idx.shape[1]
    reciprocal = _reciprocal(idx, k, n)
    half = _reciprocal(idx, max(1, round(k / 2)), n) if k else reciprocal
    # Member c of i's set brings its half-reach set along when that set lies
    # mostly (more than 2/3) inside i's set.
    overlap = (reciprocal @ half.T).multiply(reciprocal).tocoo()
    half_size = np.asarray(half.sum(axis=1)).ravel()
    keep = overlap.data > (2.0 / 3.0) * half_size[overlap.col]
    brings = sp.csr_matrix(
        (np.ones(int(keep.sum()), np.float32), (overlap.row[keep], overlap.col[keep])),
        shape=(n, n),
    )
    grown = (reciprocal + brings @ half).tocsr()
    grown.data[:] = 1.0
    grown.eliminate_zeros()
    # exp(-d) over each face's set, normalised to sum 1.
    coo = grown.tocoo()
    similarity = np.einsum("ij,ij->i", x[coo.row], x[coo.col])
    weights = np.exp(-np.maximum(0.0, 2.0 - 2.0 * similarity)).astype(np.float64)
    sums = np.bincount(coo.row, weights=weights, minlength=n)
    weights /= sums[coo.row]
    encoding = sp.csr_matrix((weights, (coo.row, coo.col)), shape=(n, n))
    expansion = min(params.expansion, k + 1)
    if expansion > 1:
        nearest = np.concatenate([np.arange(n)[:, None], idx[:, : expansion - 1]], axis=1)
        rows = np.repeat(np.arange(n), expansion)
        cols = nearest.ravel()
        valid = cols >= 0
        counts = np.bincount(rows[valid], minlength=n).astype(np.float64)
        average = sp.csr_matrix(
            (1.0 / counts[rows[valid]], (rows[valid], cols[valid])), shape=(n, n)
        )
        encoding = (average @ encoding).tocsr()
    return encoding


def _reciprocal(idx: np.ndarray, k: int, n: int) -> sp.csr_matrix:
    """(N, N) 0/1: j is among i's k nearest and i among j's, or j is i itself."""
    rows = np.repeat(np.arange(n), k)
    cols = idx[:, :k].ravel()
    valid = cols >= 0
    forward = sp.csr_matrix(
        (np.ones(int(valid.sum()), np.float32), (rows[valid], cols[valid])), shape=(n, n)
    )
    both = forward.multiply(forward.T).tocsr()
    both = (both + sp.identity(n, dtype=np.float32, format="csr")).tocsr()
    both.data[:] = 1.0
    return both
