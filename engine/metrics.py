"""Scores of a clustering against true identities, and of face verification.

BCubed and pairwise precision, recall and F1 compare predicted cluster
labels with true identity labels; a predicted label of -1 (a face left
unassigned) counts as a cluster of its own, so leaving a face alone is never
rewarded as a merge nor punished as a wrong one. Verification accuracy is the
LFW protocol: a distance threshold is chosen on k - 1 folds and scored on the
held-out fold.

Pure functions of numpy arrays: no catalog, no models, no printing.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from engine.errors import FaceAlbumError


class MetricsError(FaceAlbumError):
    """Inputs to a metric that do not fit together."""


@dataclass(frozen=True)
class ClusterScores:
    bcubed_precision: float
    bcubed_recall: float
    bcubed_f1: float
    pairwise_precision: float
    pairwise_recall: float
    pairwise_f1: float
    clusters: int  # predicted clusters of two or more faces
    identities: int
    faces: int
    unassigned_fraction: float

    def to_json(self) -> dict[str, float | int]:
        return dict(self.__dict__)


def cluster_scores(predicted: Sequence[int] | np.ndarray, truth: Sequence[object]) -> ClusterScores:
    """Score predicted labels (-1: unassigned) against true labels of the same faces."""
    pred = np.asarray(predicted, dtype=np.int64)
    if len(pred) != len(truth):
        raise MetricsError(
            f"expected one predicted label per true label; got {len(pred)} and {len(truth)}"
        )
    if len(pred) == 0:
        raise MetricsError("expected at least one face to score; got none")
    _, true = np.unique(np.asarray(truth, dtype=object).astype(str), return_inverse=True)
    alone = pred < 0
    pred = pred.copy()
    # Each unassigned face is its own cluster.
    pred[alone] = pred.max(initial=-1) + 1 + np.arange(int(alone.sum()))
    _, pred = np.unique(pred, return_inverse=True)

    joint = pred * (int(true.max()) + 1) + true
    _, joint_inv, joint_n = np.unique(joint, return_inverse=True, return_counts=True)
    pred_n = np.bincount(pred)
    true_n = np.bincount(true)
    overlap = joint_n[joint_inv].astype(np.float64)
    precision = float(np.mean(overlap / pred_n[pred]))
    recall = float(np.mean(overlap / true_n[true]))

    same_both = float(np.sum(joint_n * (joint_n - 1.0)) / 2)
    same_pred = float(np.sum(pred_n * (pred_n - 1.0)) / 2)
    same_true = float(np.sum(true_n * (true_n - 1.0)) / 2)
    p_prec = same_both / same_pred if same_pred else 1.0
    p_rec = same_both / same_true if same_true else 1.0
    return ClusterScores(
        bcubed_precision=precision,
        bcubed_recall=recall,
        bcubed_f1=_f1(precision, recall),
        pairwise_precision=p_prec,
        pairwise_recall=p_rec,
        pairwise_f1=_f1(p_prec, p_rec),
        clusters=int(np.sum(pred_n >= 2)),
        identities=len(true_n),
        faces=len(pred),
        unassigned_fraction=float(alone.mean()),
    )


def verification_accuracy(
    distances: Sequence[float] | np.ndarray,
    same: Sequence[bool] | np.ndarray,
    folds: Sequence[int] | np.ndarray,
) -> tuple[float, float]:
    """(mean accuracy, its standard deviation) over the folds.

    For each fold the threshold that is most accurate on the other folds
    decides "same person" (distance below it) on that fold.
    """
    d = np.asarray(distances, dtype=np.float64)
    y = np.asarray(same, dtype=bool)
    f = np.asarray(folds)
    if not len(d) == len(y) == len(f):
        raise MetricsError(
            f"expected as many distances, labels and folds; got {len(d)}, {len(y)}, {len(f)}"
        )
    fold_ids = np.unique(f)
    if len(fold_ids) < 2:
        raise MetricsError(f"expected at least two folds; got {len(fold_ids)}")
    accuracies = []
    for fold in fold_ids:
        train, test = f != fold, f == fold
        threshold = best_threshold(d[train], y[train])
        accuracies.append(float(np.mean((d[test] < threshold) == y[test])))
    return float(np.mean(accuracies)), float(np.std(accuracies))


def best_threshold(distances: np.ndarray, same: np.ndarray) -> float:
    """The distance threshold that classifies the most pairs right."""
    order = np.argsort(distances)
    d, y = distances[order], same[order]
    # Threshold just above d[i]: pairs 0..i are "same".
    correct = np.cumsum(y) + (np.sum(~y) - np.cumsum(~y))
    base = np.sum(~y)  # threshold below everything
    i = int(np.argmax(correct))
    if correct[i] <= base:
        return float(d[0]) - 1e-6
    upper = d[i + 1] if i + 1 < len(d) else d[i] + 1e-3
    return float((d[i] + upper) / 2)


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0
