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


# -- lone faces joining people --------------------------------------------------


def library(
    pairs: int = 20, per_person: int = 8, dim: int = 64, seed: int = 0
) -> tuple[np.ndarray, list[np.ndarray]]:
    """People in look-alike pairs: each face of one is, on average, between
    1.2 and 1.6 (squared) from the other of its pair, and about 2 from the rest.
    Faces of one person are within about 0.05 of each other. Also returns
    directions no person uses, for lone faces."""
    rng = np.random.default_rng(seed)
    basis = np.linalg.qr(rng.normal(size=(dim, dim)))[0]
    faces = []
    for p in range(pairs):
        a, b = basis[2 * p], basis[2 * p + 1]
        apart = 1.2 + 0.4 * p / max(pairs - 1, 1)
        dot = (2.0 - apart) / 2.0
        c = dot * a + np.sqrt(1 - dot * dot) * b
        for centre in (a, c):
            x = centre + rng.normal(size=(per_person, dim)) * 0.02
            faces.append(x / np.linalg.norm(x, axis=1, keepdims=True))
    return np.concatenate(faces).astype(np.float32), list(basis[2 * pairs :])


def face_at(x: np.ndarray, rows: np.ndarray, distance: float, away: np.ndarray) -> np.ndarray:
    """A unit vector whose mean squared distance to the faces ``rows`` is
    ``distance``, the rest of it along ``away`` (far from every face)."""
    mean = x[rows].mean(axis=0)
    along = (2.0 - distance) / (2.0 * np.linalg.norm(mean))
    away = away - (away @ mean) * mean / (mean @ mean)
    away /= np.linalg.norm(away)
    return (along * mean / np.linalg.norm(mean) + np.sqrt(1 - along**2) * away).astype(np.float32)


def test_a_persons_odd_photo_joins_them_when_the_library_has_few_strangers() -> None:
    x, free = library()
    odd = face_at(x, np.arange(8), 1.25, free[0])
    labels = cluster(np.vstack([x, odd]))
    assert labels[-1] == labels[0] >= 0
    # A plain cut at the threshold leaves it alone: the join is the attach step's doing.
    alone = cluster(np.vstack([x, odd]), params=ClusterParams(attach_rate=0.0))
    assert alone[-1] == -1
    assert labels.max() == alone.max()  # no person is made or removed


def test_strangers_seen_once_are_not_joined_to_people_in_a_library_full_of_them() -> None:
    x, free = library(dim=160)
    rng = np.random.default_rng(1)
    people = len(x) // 8
    odd = face_at(x, np.arange(8), 1.25, free[0])
    # Strangers as near to people as people are to their look-alikes.
    strangers = [
        face_at(x, np.arange(8) + 8 * int(rng.integers(people)), float(rng.uniform(1.2, 1.6)),
                free[1 + i])
        for i in range(80)
    ]
    labels = cluster(np.vstack([x, odd, *strangers]))
    assert labels[len(x)] == -1
    assert np.count_nonzero(labels[len(x) + 1 :] >= 0) <= 4


def test_strangers_do_not_join_the_only_person_of_a_library_whose_null_says_nothing() -> None:
    """One child photographed all year among passers-by seen once: with no other
    person to join, the library cannot say how near strangers come, so a
    stranger joins no farther than merging would take it."""
    x, free = library(pairs=1, per_person=20)
    person = x[:20]
    rng = np.random.default_rng(2)
    strangers = [face_at(person, np.arange(20), float(rng.uniform(1.15, 1.4)), free[i])
                 for i in range(12)]
    labels = cluster(np.vstack([person, *strangers]))
    assert labels[0] >= 0 and (labels[:20] == labels[0]).all()
    assert (labels[20:] == -1).all(), "no stranger is glued to the only person"
    near = face_at(person, np.arange(20), 1.0, free[20])  # as near as a merge: it joins
    assert cluster(np.vstack([person, near]))[-1] == labels[0]


def test_look_alike_strangers_do_not_join_a_small_family_whose_people_lie_far_apart() -> None:
    """Five people of eight photos each, far from one another, among 80
    passers-by seen once, six of them look-alikes of the first person: the
    family's null (how near its faces come to another person) holds 40
    faces, all far, and says nothing finer than 1 in 41 of how near a
    stranger comes; among 86 lone faces, six near ones are what chance
    gives, not six of the person's own photos."""
    rng = np.random.default_rng(3)
    basis = np.linalg.qr(rng.normal(size=(128, 128)))[0]
    family = np.concatenate([
        basis[p] + rng.normal(size=(8, 128)) * 0.03 for p in range(5)
    ])
    family /= np.linalg.norm(family, axis=1, keepdims=True)
    passers = basis[5:85]
    look_alikes = [face_at(family, np.arange(8), float(rng.uniform(1.2, 1.3)), basis[85 + i])
                   for i in range(6)]
    labels = cluster(np.vstack([family, passers, *look_alikes]).astype(np.float32))
    assert all(labels[8 * p] >= 0 and (labels[8 * p : 8 * p + 8] == labels[8 * p]).all()
               for p in range(5))
    assert (labels[40:] == -1).all(), "no passer-by is glued to the family"


def test_a_lone_face_never_joins_a_person_already_in_its_photo() -> None:
    x, free = library()
    odd = face_at(x, np.arange(8), 1.25, free[0])
    photo = np.arange(len(x) + 1)
    photo[-1] = photo[3]
    labels = cluster(np.vstack([x, odd]), Constraints(photo=photo))
    assert labels[-1] != labels[0]


def test_a_lone_face_never_joins_a_person_it_was_rejected_from() -> None:
    x, free = library()
    odd = face_at(x, np.arange(8), 1.25, free[0])
    seed = np.full(len(x) + 1, -1)
    seed[:8] = 5
    labels = cluster(np.vstack([x, odd]), Constraints(seed=seed, rejected={len(x): {5}}))
    assert labels[0] >= 0 and labels[-1] != labels[0]


def test_two_odd_photos_of_a_person_join_them_rather_than_become_someone_new() -> None:
    x, free = library()
    odd = face_at(x, np.arange(8), 1.25, free[0])
    twin = odd + 0.03 * free[1]
    twin /= np.linalg.norm(twin)
    labels = cluster(np.vstack([x, odd, twin]))
    assert labels[-1] == labels[-2] == labels[0] >= 0
    apart = cluster(np.vstack([x, odd, twin]), params=ClusterParams(attach_group=1))
    assert apart[-1] == apart[-2] >= 0 and apart[-1] != apart[0]
