"""Face-verification pairs: reading an LFW-style pairs file and scoring embeddings on it.

The file's first line may give ``folds per_fold``; then each line is either
``name i j`` (two photos of one person) or ``name1 i name2 j`` (two people),
where photo ``i`` of ``name`` is ``name/name_000i.jpg`` under the images
folder. Accuracy is measured the LFW way: for each fold, the threshold on the
squared distance that is best on the other folds is applied to this one, and
the fold accuracies are averaged. Folds are cut from the same-person pairs and
the different-people pairs separately, in file order, which gives LFW's own
folds for its file.

This module reads the pairs file only; it never reads images or runs a network.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.train.errors import TrainingError


@dataclass(frozen=True)
class Pair:
    first: str  # path relative to the images folder, with '/' separators
    second: str
    same: bool


@dataclass(frozen=True)
class PairScore:
    accuracy: float  # mean over folds, thresholds chosen on the other folds
    spread: float  # standard deviation over folds
    threshold: float  # best squared-distance threshold over all pairs
    pairs: int

    def as_dict(self) -> dict[str, float | int]:
        return {"accuracy": round(self.accuracy, 5), "spread": round(self.spread, 5),
                "threshold": round(self.threshold, 4), "pairs": self.pairs}


def read_pairs(path: Path) -> tuple[list[Pair], int]:
    """The pairs of ``path`` and its number of folds (10 when the file does not say)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise TrainingError(f"cannot read the pairs file {path}: {exc}") from exc
    folds = 10
    pairs: list[Pair] = []
    for number, line in enumerate(lines, start=1):
        fields = line.split()
        if not fields:
            continue
        if number == 1 and len(fields) == 2 and all(f.isdigit() for f in fields):
            folds = int(fields[0])
            continue
        try:
            if len(fields) == 3:
                name, i, j = fields
                pairs.append(Pair(_photo(name, i), _photo(name, j), True))
            elif len(fields) == 4:
                name, i, other, j = fields
                pairs.append(Pair(_photo(name, i), _photo(other, j), False))
            else:
                raise ValueError(f"{len(fields)} fields")
        except ValueError as exc:
            raise TrainingError(
                f"{path}:{number}: expected 'name i j' or 'name1 i name2 j' (LFW pairs format), "
                f"got {line!r} ({exc})"
            ) from exc
    if not pairs:
        raise TrainingError(f"the pairs file {path} holds no pairs; expected LFW's pairs format")
    return pairs, max(2, folds)


def score_pairs(distances: np.ndarray, same: np.ndarray, folds: int = 10) -> PairScore:
    """Verification accuracy of squared ``distances`` with k-fold chosen thresholds."""
    distances = np.asarray(distances, dtype=np.float64)
    same = np.asarray(same, dtype=bool)
    if len(distances) != len(same) or len(distances) == 0:
        raise TrainingError(
            f"expected one distance per pair, got {len(distances)} distances "
            f"for {len(same)} pairs"
        )
    folds = max(1, min(folds, int(same.sum()), int((~same).sum())))
    # Fold k holds the k-th slice of the same-person pairs and the k-th slice of
    # the different-people pairs, in file order: exactly LFW's ten folds for its
    # file, and balanced folds for any other order.
    fold_of = np.zeros(len(distances), dtype=np.int64)
    for kind in (same, ~same):
        rows = np.flatnonzero(kind)
        fold_of[rows] = np.arange(len(rows)) * folds // max(len(rows), 1)
    accuracies = []
    for fold in range(folds):
        test = fold_of == fold
        train = ~test if folds > 1 else test
        threshold = _best_threshold(distances[train], same[train])
        accuracies.append(float(((distances[test] < threshold) == same[test]).mean()))
    return PairScore(float(np.mean(accuracies)), float(np.std(accuracies)),
                     _best_threshold(distances, same), len(distances))


def _best_threshold(distances: np.ndarray, same: np.ndarray) -> float:
    """The threshold (midway between two sorted distances) with the best accuracy."""
    order = np.argsort(distances)
    d, s = distances[order], same[order]
    # accepting the first i pairs: correct = same among them + different among the rest
    correct = np.concatenate([[0], np.cumsum(s)]) + (
        (~s).sum() - np.concatenate([[0], np.cumsum(~s)])
    )
    best = int(np.argmax(correct))
    cuts = np.concatenate([[d[0] - 1e-6], (d[:-1] + d[1:]) / 2, [d[-1] + 1e-6]])
    return float(cuts[best])


def _photo(name: str, index: str) -> str:
    return f"{name}/{name}_{int(index):04d}.jpg"
