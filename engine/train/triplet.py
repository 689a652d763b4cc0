"""The triplet loss of FaceNet and the online mining of triplets in a batch.

Embeddings live on the unit hypersphere; the distance between two faces is the
squared Euclidean distance of their L2-normalised embeddings, and a triplet
(anchor a, positive p, negative n) costs ``max(0, d(a,p) - d(a,n) + alpha)``.
Triplets are mined inside each batch from two boolean matrices: which pairs
are known to be the same person (``positive``) and which are known to be
different people (``negative``). With labels both come from ``label_masks``;
the adapter adds the user's rejections to ``negative``.

Mining strategies:

- ``semi-hard`` (FaceNet): every anchor-positive pair is used; its negative is
  the hardest semi-hard one, the closest n with d(a,p) < d(a,n) < d(a,p) + alpha.
  Fallback when a pair has no semi-hard negative: if some negative is closer
  than the positive (a hard negative), the farthest of those is used (the
  mildest violation, as TensorFlow's ``triplet_semihard_loss`` does, which
  avoids the collapse that the hardest negatives cause early in training);
  if every negative is already beyond d(a,p) + alpha the pair adds no triplet,
  since its loss would be zero.
- ``batch-hard`` (Hermans et al.): per anchor, its farthest positive and its
  closest negative.
- ``batch-all``: every valid triplet; the loss averages the ones with a
  non-zero loss.

This module never reads files or the catalog, and never chooses a device.
"""

from dataclasses import dataclass
from enum import StrEnum

import torch

DEFAULT_MARGIN = 0.2


class Mining(StrEnum):
    SEMI_HARD = "semi-hard"
    BATCH_HARD = "batch-hard"
    BATCH_ALL = "batch-all"


@dataclass(frozen=True)
class Triplets:
    """Indices into the batch, one entry per triplet."""

    anchor: torch.Tensor  # (T,) int64
    positive: torch.Tensor  # (T,) int64
    negative: torch.Tensor  # (T,) int64
    fallback: int  # how many triplets came from the fallback rule
    pairs: int  # anchor-positive pairs looked at

    def __len__(self) -> int:
        return int(self.anchor.numel())

    def as_set(self) -> set[tuple[int, int, int]]:
        """The triplets as plain tuples, handy for tests and logs."""
        return {
            (int(a), int(p), int(n))
            for a, p, n in zip(self.anchor, self.positive, self.negative, strict=True)
        }


@dataclass(frozen=True)
class LossResult:
    loss: torch.Tensor  # scalar, differentiable
    triplets: int  # triplets the loss averaged
    active: int  # triplets with a non-zero loss
    fallback: int  # triplets picked by the fallback rule


def squared_distances(embeddings: torch.Tensor) -> torch.Tensor:
    """(B, B) squared Euclidean distances between the rows of ``embeddings``.

    Computed as ``|x|^2 + |y|^2 - 2 x.y`` and clamped at zero: rounding can
    make it slightly negative for identical rows.
    """
    if embeddings.dim() != 2:
        raise ValueError(
            f"expected embeddings of shape (batch, dim), got {tuple(embeddings.shape)}"
        )
    sq = embeddings.pow(2).sum(dim=1)
    dist = sq[:, None] + sq[None, :] - 2.0 * embeddings @ embeddings.T
    return dist.clamp_min(0.0)


def label_masks(labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(positive, negative) pair masks from identity labels.

    Labels below zero mean "identity unknown": such an item is in no positive
    and no negative pair.
    """
    labels = labels.reshape(-1)
    known = labels >= 0
    same = labels[:, None] == labels[None, :]
    both = known[:, None] & known[None, :]
    eye = torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    return same & both & ~eye, ~same & both


def mine_triplets(
    dist: torch.Tensor,
    positive: torch.Tensor,
    negative: torch.Tensor,
    *,
    margin: float = DEFAULT_MARGIN,
    mining: Mining | str = Mining.SEMI_HARD,
) -> Triplets:
    """Pick triplets from a (B, B) distance matrix and the two pair masks.

    ``dist`` is read without gradient; the loss recomputes the chosen
    distances so gradients flow only through the picked triplets.
    """
    mining = Mining(mining)
    if dist.shape != positive.shape or dist.shape != negative.shape or dist.dim() != 2:
        raise ValueError(
            "expected a square distance matrix and two masks of its shape, got "
            f"{tuple(dist.shape)}, {tuple(positive.shape)}, {tuple(negative.shape)}"
        )
    d = dist.detach()
    positive = positive.bool()
    negative = negative.bool()
    if mining is Mining.SEMI_HARD:
        return _semi_hard(d, positive, negative, margin)
    if mining is Mining.BATCH_HARD:
        return _batch_hard(d, positive, negative)
    return _batch_all(d, positive, negative, margin)


def triplet_loss(
    embeddings: torch.Tensor,
    labels: torch.Tensor | None = None,
    *,
    positive: torch.Tensor | None = None,
    negative: torch.Tensor | None = None,
    margin: float = DEFAULT_MARGIN,
    mining: Mining | str = Mining.SEMI_HARD,
) -> LossResult:
    """FaceNet's loss on L2-normalised ``embeddings`` with online mining.

    Give either ``labels`` or both masks. A batch without any triplet gives a
    zero loss that still belongs to the graph, so a training step never fails
    on an unlucky batch.
    """
    if labels is not None:
        positive, negative = label_masks(labels.to(embeddings.device))
    if positive is None or negative is None:
        raise ValueError("triplet_loss needs labels, or both a positive and a negative mask")
    dist = squared_distances(embeddings.float())
    chosen = mine_triplets(dist, positive, negative, margin=margin, mining=mining)
    if len(chosen) == 0:
        return LossResult(embeddings.sum() * 0.0, 0, 0, 0)
    d_ap = dist[chosen.anchor, chosen.positive]
    d_an = dist[chosen.anchor, chosen.negative]
    losses = torch.relu(d_ap - d_an + margin)
    active = int((losses > 0).sum())
    # batch-all averages only the active triplets, or easy ones would drown the signal
    all_mode = Mining(mining) is Mining.BATCH_ALL
    loss = losses.sum() / max(active, 1) if all_mode else losses.mean()
    return LossResult(loss, len(chosen), active, chosen.fallback)


# -- strategies ----------------------------------------------------------------


def _semi_hard(
    d: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor, margin: float
) -> Triplets:
    anchor, pos = positive.nonzero(as_tuple=True)
    if anchor.numel() == 0:
        return _empty(d.device)
    d_ap = d[anchor, pos][:, None]  # (P, 1)
    rows = d[anchor]  # (P, B)
    neg_rows = negative[anchor]
    inf = torch.tensor(float("inf"), device=d.device, dtype=d.dtype)
    semi = neg_rows & (rows > d_ap) & (rows < d_ap + margin)
    semi_d = torch.where(semi, rows, inf)
    semi_idx = semi_d.argmin(dim=1)
    has_semi = semi.any(dim=1)
    hard = neg_rows & (rows <= d_ap)
    hard_d = torch.where(hard, rows, -inf)
    hard_idx = hard_d.argmax(dim=1)
    has_hard = hard.any(dim=1)
    use_fallback = ~has_semi & has_hard
    keep = has_semi | use_fallback
    neg = torch.where(has_semi, semi_idx, hard_idx)
    fallback = int(use_fallback.sum())
    return Triplets(anchor[keep], pos[keep], neg[keep], fallback, int(anchor.numel()))


def _batch_hard(d: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor) -> Triplets:
    inf = torch.tensor(float("inf"), device=d.device, dtype=d.dtype)
    valid = positive.any(dim=1) & negative.any(dim=1)
    anchor = valid.nonzero(as_tuple=True)[0]
    if anchor.numel() == 0:
        return _empty(d.device)
    far_pos = torch.where(positive, d, -inf).argmax(dim=1)
    near_neg = torch.where(negative, d, inf).argmin(dim=1)
    return Triplets(anchor, far_pos[anchor], near_neg[anchor], 0, int(positive.sum()))


def _batch_all(
    d: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor, margin: float
) -> Triplets:
    del margin  # every valid triplet is kept; the loss averages the active ones
    valid = positive[:, :, None] & negative[:, None, :]
    anchor, pos, neg = valid.nonzero(as_tuple=True)
    return Triplets(anchor, pos, neg, 0, int(positive.sum()))


def _empty(device: torch.device) -> Triplets:
    none = torch.zeros(0, dtype=torch.long, device=device)
    return Triplets(none, none, none, 0, 0)
