"""Triplet mining on hand-made distance matrices, and the P x K sampler."""

import numpy as np
import pytest
import torch

from engine.train.errors import TrainingError
from engine.train.sampler import PKSampler
from engine.train.triplet import (
    Mining,
    label_masks,
    mine_triplets,
    squared_distances,
    triplet_loss,
)


def _symmetric(upper: dict[tuple[int, int], float], n: int) -> torch.Tensor:
    d = torch.zeros(n, n)
    for (i, j), v in upper.items():
        d[i, j] = d[j, i] = v
    return d


# Items 0, 1 are person A; items 2, 3, 4 are other people.
# d(0,1) = 0.5. Seen from anchor 0: item 2 is hard (0.3 < 0.5), item 3 is
# semi-hard (0.5 < 0.6 < 0.7), item 4 is easy (0.9 >= 0.7).
LABELS = torch.tensor([0, 0, 1, 2, 3])
DIST = _symmetric(
    {(0, 1): 0.5, (0, 2): 0.3, (0, 3): 0.6, (0, 4): 0.9,
     (1, 2): 1.5, (1, 3): 1.5, (1, 4): 0.65,
     (2, 3): 1.0, (2, 4): 1.0, (3, 4): 1.0},
    5,
)


def _mine(dist: torch.Tensor, labels: torch.Tensor, mining: Mining, margin: float = 0.2):
    positive, negative = label_masks(labels)
    return mine_triplets(dist, positive, negative, margin=margin, mining=mining)


def test_semi_hard_mining_picks_the_negative_between_positive_and_margin() -> None:
    chosen = _mine(DIST, LABELS, Mining.SEMI_HARD)
    # anchor 0 keeps the semi-hard 3 and ignores the closer hard 2 and the easy 4;
    # anchor 1 (d(1,0) = 0.5) has 4 at 0.65 as its only semi-hard negative.
    assert chosen.as_set() == {(0, 1, 3), (1, 0, 4)}
    assert chosen.fallback == 0
    assert chosen.pairs == 2


def test_semi_hard_mining_takes_the_closest_of_several_semi_hard_negatives() -> None:
    dist = DIST.clone()
    dist[0, 4] = dist[4, 0] = 0.55  # now 4 (0.55) and 3 (0.6) are both semi-hard for anchor 0
    chosen = _mine(dist, LABELS, Mining.SEMI_HARD)
    assert (0, 1, 4) in chosen.as_set()


def test_semi_hard_mining_falls_back_to_the_mildest_hard_negative() -> None:
    # anchor 0 has only hard negatives (0.1 and 0.4 < 0.5) and one easy one;
    # the fallback takes the hard negative farthest from the anchor.
    dist = _symmetric(
        {(0, 1): 0.5, (0, 2): 0.1, (0, 3): 0.4, (0, 4): 2.0,
         (1, 2): 2.0, (1, 3): 2.0, (1, 4): 2.0,
         (2, 3): 1.0, (2, 4): 1.0, (3, 4): 1.0},
        5,
    )
    chosen = _mine(dist, LABELS, Mining.SEMI_HARD)
    assert chosen.as_set() == {(0, 1, 3)}  # anchor 1 has only easy negatives: no triplet
    assert chosen.fallback == 1


def test_batch_hard_takes_farthest_positive_and_closest_negative() -> None:
    labels = torch.tensor([0, 0, 0, 1, 1])
    dist = _symmetric(
        {(0, 1): 0.2, (0, 2): 0.8, (0, 3): 0.5, (0, 4): 0.9,
         (1, 2): 0.3, (1, 3): 1.0, (1, 4): 0.4,
         (2, 3): 1.2, (2, 4): 1.1, (3, 4): 0.7},
        5,
    )
    chosen = _mine(dist, labels, Mining.BATCH_HARD)
    assert chosen.as_set() == {(0, 2, 3), (1, 2, 4), (2, 0, 4), (3, 4, 0), (4, 3, 1)}


def test_batch_all_keeps_every_valid_triplet() -> None:
    labels = torch.tensor([0, 0, 1, 1])
    chosen = _mine(torch.rand(4, 4), labels, Mining.BATCH_ALL)
    # 4 ordered positive pairs x 2 negatives each
    assert len(chosen) == 8
    assert all(labels[a] == labels[p] != labels[n] for a, p, n in chosen.as_set())


def test_faces_of_unknown_identity_are_in_no_triplet() -> None:
    labels = torch.tensor([0, 0, -1, 1])
    positive, negative = label_masks(labels)
    assert not positive[2].any() and not negative[2].any() and not negative[:, 2].any()


def test_loss_is_zero_when_every_negative_is_beyond_the_margin() -> None:
    emb = torch.tensor([[1.0, 0.0], [1.0, 0.0], [-1.0, 0.0], [-1.0, 0.0]])
    result = triplet_loss(emb, torch.tensor([0, 0, 1, 1]))
    assert result.triplets == 0
    assert float(result.loss) == 0.0


def test_loss_matches_facenet_formula_on_a_semi_hard_triplet() -> None:
    # a and p at squared distance 0.5, n at 0.6: loss = 0.5 - 0.6 + 0.2 = 0.1
    a = torch.tensor([1.0, 0.0])
    p = torch.tensor([np.cos(np.arccos(0.75)), np.sin(np.arccos(0.75))], dtype=torch.float32)
    n = torch.tensor([np.cos(np.arccos(0.7)), -np.sin(np.arccos(0.7))], dtype=torch.float32)
    emb = torch.stack([a, p, n]).requires_grad_(True)
    result = triplet_loss(emb, torch.tensor([0, 0, 1]))
    # pair (0,1): 2 is semi-hard; pair (1,0): d(1,2) is far, no triplet
    assert result.triplets == 1
    assert result.loss.item() == pytest.approx(0.1, abs=1e-5)
    result.loss.backward()
    assert emb.grad is not None and emb.grad.abs().sum() > 0


def test_squared_distances_of_unit_vectors_are_two_minus_twice_the_cosine() -> None:
    x = torch.nn.functional.normalize(torch.randn(6, 8), dim=1)
    expected = 2 - 2 * x @ x.T
    assert torch.allclose(squared_distances(x), expected.clamp_min(0), atol=1e-5)


def test_sampler_gives_p_people_with_k_faces_each() -> None:
    labels = np.repeat(np.arange(10), 5)
    sampler = PKSampler(labels, p=4, k=3, seed=1)
    for batch in sampler:
        people = labels[batch]
        assert len(set(people.tolist())) == 4
        assert all((people == q).sum() == 3 for q in set(people.tolist()))
        assert len(set(batch)) == len(batch)


def test_sampler_skips_people_with_one_face_and_repeats_with_the_same_seed() -> None:
    labels = np.array([0, 0, 0, 1, 1, 2, 3, 3])
    first = list(PKSampler(labels, p=2, k=2, seed=3, batches_per_epoch=5))
    second = list(PKSampler(labels, p=2, k=2, seed=3, batches_per_epoch=5))
    assert first == second
    assert all(labels[i] != 2 for batch in first for i in batch)


def test_sampler_refuses_a_dataset_with_one_person() -> None:
    with pytest.raises(TrainingError, match="two people"):
        PKSampler([0, 0, 0, 1], p=2, k=2)


def test_sampler_with_groups_gives_each_person_faces_of_both_groups() -> None:
    # ten frontal faces and four profiles per person, as in CFP
    labels = np.repeat(np.arange(8), 14)
    groups = np.tile(np.r_[np.zeros(10), np.ones(4)], 8).astype(np.int64)
    sampler = PKSampler(labels, p=4, k=4, seed=2, batches_per_epoch=20, groups=groups)
    for batch in sampler:
        assert len(set(batch)) == len(batch)
        for person in set(labels[batch].tolist()):
            mine = [i for i in batch if labels[i] == person]
            assert len(mine) == 4
            assert groups[mine].sum() == 2  # two profiles and two frontal faces


def test_sampler_with_groups_takes_what_a_person_has_of_a_scarce_group() -> None:
    labels = np.repeat(np.arange(3), 5)
    groups = np.array([0, 0, 0, 0, 1] * 3)
    for batch in PKSampler(labels, p=3, k=4, seed=0, batches_per_epoch=5, groups=groups):
        for person in range(3):
            mine = [i for i in batch if labels[i] == person]
            assert len(mine) == 4 and groups[mine].sum() == 1


def test_sampler_refuses_groups_that_do_not_match_the_faces() -> None:
    with pytest.raises(TrainingError, match="one group per face"):
        PKSampler([0, 0, 1, 1], p=2, k=2, groups=[0, 1, 0])
