"""The P x K identity sampler: batches of P people with K faces each.

Online triplet mining needs every batch to hold several faces of each person
in it (FaceNet used about 40 per identity in batches of 1,800). Only people
with at least two faces can anchor a positive pair, so only they are drawn;
a person with fewer than K faces gives all of them. When each face carries a
group (a pose bin, say: frontal or profile), a person's K faces are dealt
round-robin over that person's groups, so a batch pairs a profile with a
frontal face of one person instead of leaving it to chance. The order is a pure
function of the seed and the epoch, so a resumed run sees the batches it
would have seen. This module never touches images or tensors of pixels.
"""

from collections.abc import Iterator, Sequence

import numpy as np
import torch

from engine.train.errors import TrainingError


class PKSampler(torch.utils.data.Sampler[list[int]]):
    """Yields lists of dataset indices, one list per batch.

    One epoch draws every eligible person about ``faces // (P * K)`` times in
    total, P people per batch without repetition inside a batch.
    """

    def __init__(
        self,
        labels: Sequence[int] | np.ndarray,
        p: int,
        k: int,
        *,
        seed: int = 0,
        batches_per_epoch: int | None = None,
        groups: Sequence[int] | np.ndarray | None = None,
    ) -> None:
        if p < 2 or k < 2:
            raise TrainingError(
                f"a P x K batch needs P >= 2 people and K >= 2 faces each, got P={p}, K={k}; "
                "raise --people-per-batch / --faces-per-person"
            )
        labels_arr = np.asarray(labels, dtype=np.int64)
        groups_arr = np.zeros(len(labels_arr), np.int64) if groups is None else np.asarray(
            groups, dtype=np.int64)
        if groups_arr.shape != labels_arr.shape:
            raise TrainingError(
                f"expected one group per face, got {len(groups_arr)} groups for "
                f"{len(labels_arr)} faces"
            )
        self._groups = groups_arr
        self._by_person: list[np.ndarray] = []
        for person in np.unique(labels_arr[labels_arr >= 0]):
            idx = np.flatnonzero(labels_arr == person)
            if len(idx) >= 2:
                self._by_person.append(idx)
        if len(self._by_person) < 2:
            raise TrainingError(
                f"triplet training needs at least two people with two faces or more; found "
                f"{len(self._by_person)} among {len(labels_arr)} faces; add photos of more people"
            )
        self.p = min(p, len(self._by_person))
        self.k = k
        self.seed = seed
        self.epoch = 0
        eligible = sum(len(i) for i in self._by_person)
        self._len = batches_per_epoch or max(1, eligible // (self.p * self.k))

    @property
    def people(self) -> int:
        """How many people can be drawn."""
        return len(self._by_person)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self._len

    def __iter__(self) -> Iterator[list[int]]:
        rng = np.random.default_rng([self.seed, self.epoch])
        order = rng.permutation(len(self._by_person))
        cursor = 0
        for _ in range(self._len):
            if cursor + self.p > len(order):
                order = rng.permutation(len(self._by_person))
                cursor = 0
            batch: list[int] = []
            for person in order[cursor : cursor + self.p]:
                batch.extend(self._draw(rng, self._by_person[person]))
            cursor += self.p
            yield batch

    def _draw(self, rng: np.random.Generator, faces: np.ndarray) -> list[int]:
        """K faces of one person, dealt round-robin over the groups (shuffled) they fall in."""
        take = min(self.k, len(faces))
        kinds = np.unique(self._groups[faces])
        if len(kinds) < 2:
            return [int(i) for i in rng.choice(faces, size=take, replace=False)]
        piles = [list(rng.permutation(faces[self._groups[faces] == g])) for g in kinds]
        order = rng.permutation(len(piles))
        drawn: list[int] = []
        while len(drawn) < take:
            for g in order:
                if piles[g] and len(drawn) < take:
                    drawn.append(int(piles[g].pop()))
        return drawn
