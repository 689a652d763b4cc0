"""The P x K identity sampler: batches of P people with K faces each.

Online triplet mining needs every batch to hold several faces of each person
in it (FaceNet used about 40 per identity in batches of 1,800). Only people
with at least two faces can anchor a positive pair, so only they are drawn;
a person with fewer than K faces gives all of them. The order is a pure
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
    ) -> None:
        if p < 2 or k < 2:
            raise TrainingError(
                f"a P x K batch needs P >= 2 people and K >= 2 faces each, got P={p}, K={k}; "
                "raise --people-per-batch / --faces-per-person"
            )
        labels_arr = np.asarray(labels, dtype=np.int64)
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
                faces = self._by_person[person]
                take = min(self.k, len(faces))
                batch.extend(int(i) for i in rng.choice(faces, size=take, replace=False))
            cursor += self.p
            yield batch
