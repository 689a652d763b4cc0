"""The clustering algorithm on plain arrays: neighbours, merges, cannot-links, cuts."""

import numpy as np
import pytest

from engine.people.cluster import (
    ClusterParams,
    ClusterParamsError,
    Constraints,
    build_tree,
    cluster,
    count_clusters,
    threshold_for_strictness,
)
from engine.people.knn import knn


def blobs(
    people: int, per_person: int, noise: float = 0.05, dim: int = 64, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(people, dim))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    truth = np.repeat(np.arange(people), per_person)
    x = centres[truth] + rng.normal(size=(len(truth), dim)) * noise
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32), truth


def same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    pairs = {(int(i), int(j)) for i, j in zip(a, b, strict=True)}
    return len(pairs) == len(set(a.tolist())) == len(set(b.tolist()))


def test_exact_neighbours_match_brute_force() -> None:
    x, _ = blobs(5, 8)
    idx, dist = knn(x, 4)
    full = 2 - 2 * x @ x.T
    np.fill_diagonal(full, np.inf)
    expected = np.sort(full, axis=1)[:, :4]
    assert np.allclose(dist, expected, atol=1e-5)
    assert not np.any(idx == np.arange(len(x))[:, None])


def test_neighbours_within_a_distance_are_the_nearest_ones_under_it() -> None:
    x, _ = blobs(4, 6, noise=0.1)
    idx, dist = knn(x, 8, max_distance=1.0)
    full_idx, full_dist = knn(x, 8)
    near = full_dist <= 1.0
    assert np.array_equal(idx[near], full_idx[near])
    assert np.all(idx[~near] == -1) and np.all(np.isinf(dist[~near]))


def test_indexed_neighbours_find_the_near_ones_of_a_large_set() -> None:
    x, _ = blobs(400, 10, noise=0.08, dim=64, seed=1)
    idx, dist = knn(x, 5, max_distance=1.2, exact_limit=100)
    exact_idx, exact_dist = knn(x, 5, max_distance=1.2)
    found = exact_idx >= 0
    hits = sum(len(set(a[a >= 0]) & set(b[b >= 0])) for a, b in zip(idx, exact_idx, strict=True))
    assert hits / found.sum() > 0.97
    assert np.all(dist[:, 0] >= exact_dist[:, 0] - 1e-5)


def test_separate_people_become_separate_clusters() -> None:
    x, truth = blobs(6, 5)
    labels = cluster(x)
    assert same_partition(labels, truth)


def test_faces_of_one_photo_are_never_merged() -> None:
    x, _ = blobs(1, 6)
    photo = np.array([0, 0, 1, 2, 3, 4])
    labels = cluster(x, Constraints(photo=photo))
    assert labels[0] != labels[1] or labels[0] == -1


def test_two_confirmed_people_stay_apart_even_with_identical_faces() -> None:
    x, _ = blobs(1, 6)
    seed = np.array([10, 10, 10, 20, 20, 20])
    labels = cluster(x, Constraints(seed=seed))
    assert labels[0] == labels[1] == labels[2]
    assert labels[3] == labels[4] == labels[5]
    assert labels[0] != labels[3]


def test_a_rejected_face_never_joins_the_person_it_was_rejected_from() -> None:
    x, _ = blobs(1, 6)
    seed = np.array([7, 7, 7, -1, -1, -1])
    labels = cluster(x, Constraints(seed=seed, rejected={5: {7}}))
    assert labels[3] == labels[0]  # the others join the confirmed faces
    assert labels[5] != labels[0]


def test_lone_faces_of_strangers_stay_unassigned() -> None:
    x, _ = blobs(30, 1, seed=3)
    assert np.all(cluster(x) == -1)


def test_stricter_thresholds_never_give_fewer_groups() -> None:
    x, _ = blobs(8, 4, noise=0.12, seed=4)
    tree = build_tree(x, params=ClusterParams())
    counts = [count_clusters(tree, t, min_size=1) for t in (1.4, 1.2, 1.0, 0.8, 0.5)]
    assert counts == sorted(counts)
    assert counts[0] == 8 and counts[-1] == len(x)


def test_strictness_maps_onto_thresholds_from_loose_to_strict() -> None:
    assert threshold_for_strictness(0.5) == ClusterParams().threshold
    assert threshold_for_strictness(0.0) > threshold_for_strictness(0.5)
    assert threshold_for_strictness(1.0) < threshold_for_strictness(0.5)
    with pytest.raises(ClusterParamsError, match="from 0"):
        threshold_for_strictness(1.5)


def test_parameters_out_of_range_are_refused_with_the_range() -> None:
    with pytest.raises(ClusterParamsError, match="threshold <= max_threshold"):
        ClusterParams(threshold=2.0, max_threshold=1.0)
