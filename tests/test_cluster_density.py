"""Clustering where faces crowd together (children) and where faces are poor (tiny, blurred).

Synthetic libraries place people at known distances: a crowd is many
different people whose faces sit nearer each other than a global threshold
can tell apart, among ordinary people far from one another.
"""

import os
from pathlib import Path

import numpy as np
import pytest

from engine.catalog import Catalog
from engine.people.cluster import ClusterParams, Constraints, cluster
from engine.people.update import recluster

# Squared distances of unit vectors: faces of one person about 0.6 apart,
# people of the crowd about 0.9 apart (as two different babies of the demo
# album are), ordinary people about 2.
_DIM = 128


def _faces(
    rng: np.random.Generator, centre: np.ndarray, count: int, spread: float
) -> np.ndarray:
    """Faces around ``centre`` whose squared distances to each other average about ``spread``."""
    sigma = np.sqrt(spread / (2 * _DIM))
    x = centre + rng.normal(size=(count, _DIM)) * sigma
    return np.asarray(x / np.linalg.norm(x, axis=1, keepdims=True))


def crowded_library(
    ordinary: int = 60, crowd: int = 80, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(vectors, person per face, whether the face is in the crowd)."""
    rng = np.random.default_rng(seed)
    faces, truth = [], []
    for person in range(ordinary):
        centre = rng.normal(size=_DIM)
        centre /= np.linalg.norm(centre)
        count = int(rng.integers(2, 9))
        faces.append(_faces(rng, centre, count, 0.85))
        truth += [person] * count
    middle = rng.normal(size=_DIM)
    middle /= np.linalg.norm(middle)
    for person in range(ordinary, ordinary + crowd):
        centre = _faces(rng, middle, 1, 0.85)[0]
        count = int(rng.choice([1, 1, 2, 3]))
        faces.append(_faces(rng, centre, count, 0.85))
        truth += [person] * count
    labels = np.array(truth)
    return np.concatenate(faces).astype(np.float32), labels, labels >= ordinary


def people_in_largest_group(labels: np.ndarray, truth: np.ndarray, rows: np.ndarray) -> int:
    grouped = rows & (labels >= 0)
    if not grouped.any():
        return 0
    largest = np.bincount(labels[grouped]).argmax()
    return len(set(truth[grouped & (labels == largest)].tolist()))


def test_a_crowd_of_look_alike_strangers_does_not_become_one_person() -> None:
    x, truth, in_crowd = crowded_library()
    labels = cluster(x)
    assert people_in_largest_group(labels, truth, in_crowd) <= 6
    # A global threshold alone glues the crowd into one "person".
    glued = cluster(x, params=ClusterParams(crowd_reach=0.0))
    assert people_in_largest_group(glued, truth, in_crowd) > 40


def test_photos_of_one_person_in_a_crowd_still_become_that_person() -> None:
    x, truth, in_crowd = crowded_library()
    labels = cluster(x)
    crowd_people = [p for p in np.unique(truth[in_crowd]) if np.count_nonzero(truth == p) >= 2]
    together = sum(
        len(set(labels[truth == p].tolist())) == 1 and labels[truth == p][0] >= 0
        for p in crowd_people
    )
    assert together >= 0.8 * len(crowd_people)


def test_a_crowd_read_as_children_keeps_each_child_s_photos_together_as_before() -> None:
    """The room the library measured and the children's ages tell of one
    crowd: counted once, a child's own photos still meet."""
    x, truth, in_crowd = crowded_library()
    ages = np.where(in_crowd, 3.0, 35.0)
    crowd_people = [p for p in np.unique(truth[in_crowd]) if np.count_nonzero(truth == p) >= 2]

    def together(labels: np.ndarray) -> int:
        return sum(
            len(set(labels[truth == p].tolist())) == 1 and labels[truth == p][0] >= 0
            for p in crowd_people
        )

    aged = cluster(x, ages=ages)
    assert together(aged) >= together(cluster(x))
    assert people_in_largest_group(aged, truth, in_crowd) <= 6


def test_ordinary_people_are_found_as_before_beside_a_crowd() -> None:
    x, truth, in_crowd = crowded_library()
    labels = cluster(x)
    for person in np.unique(truth[~in_crowd]):
        mine = labels[truth == person]
        assert mine[0] >= 0 and np.all(mine == mine[0])
        assert np.count_nonzero(labels == mine[0]) == len(mine)


def test_a_person_with_many_varied_photos_is_not_taken_for_a_crowd() -> None:
    # Far more photos than neighbours looked at, as varied as one person over
    # years: two photos' neighbourhoods are two samples of the person and
    # disagree as a crowd's do; only the distances tell them apart.
    rng = np.random.default_rng(3)
    centre = rng.normal(size=_DIM)
    centre /= np.linalg.norm(centre)
    many = _faces(rng, centre, 300, 1.4).astype(np.float32)
    labels = cluster(many)
    assert labels[0] >= 0 and np.all(labels == labels[0])


# -- poor faces ----------------------------------------------------------------


def two_people_and_a_pair(quality: float) -> tuple[np.ndarray, np.ndarray]:
    """Two people of six faces, then two near-identical faces of a third
    person, with the given quality; everyone else is of full quality."""
    rng = np.random.default_rng(5)
    centres = rng.normal(size=(3, _DIM))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    x = np.concatenate([_faces(rng, centres[0], 6, 0.6), _faces(rng, centres[1], 6, 0.6),
                        _faces(rng, centres[2], 2, 0.3)]).astype(np.float32)
    q = np.ones(len(x))
    q[-2:] = quality
    return x, q


def test_tiny_or_blurred_faces_never_start_a_person() -> None:
    x, q = two_people_and_a_pair(0.9)
    assert cluster(x, quality=q)[-1] >= 0
    x, q = two_people_and_a_pair(0.2)
    labels = cluster(x, quality=q)
    assert labels[-1] == labels[-2] == -1
    assert labels[0] >= 0 and labels[6] >= 0


def test_a_poor_face_joins_its_person_only_when_nearer_than_a_good_one_must_be() -> None:
    rng = np.random.default_rng(6)
    centres = rng.normal(size=(8, _DIM))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    people = np.concatenate([_faces(rng, c, 6, 0.6) for c in centres])
    q = np.ones(len(people) + 1)
    q[-1] = 0.2
    # As near as the person's own photos are to each other: it joins, poor as it is.
    x = np.vstack([people, _faces(rng, centres[0], 1, 0.6)]).astype(np.float32)
    labels = cluster(x, quality=q)
    assert labels[-1] == labels[0] >= 0
    # As far as a good odd photo (profile, years apart) may be: only a good one joins.
    mean = people[:6].mean(axis=0)
    away = rng.normal(size=_DIM)
    away -= (away @ mean) * mean / (mean @ mean)
    away /= np.linalg.norm(away)
    along = (2.0 - 1.25) / (2.0 * np.linalg.norm(mean))
    odd = along * mean / np.linalg.norm(mean) + np.sqrt(1 - along**2) * away
    x = np.vstack([people, odd]).astype(np.float32)
    q[-1] = 1.0
    labels = cluster(x, quality=q)
    assert labels[-1] == labels[0] >= 0
    q[-1] = 0.2
    assert cluster(x, quality=q)[-1] == -1


def test_a_poor_face_the_user_confirmed_still_counts_for_its_person() -> None:
    x, q = two_people_and_a_pair(0.2)
    seed = np.full(len(x), -1)
    seed[-2:] = 9
    labels = cluster(x, Constraints(seed=seed), quality=q)
    assert labels[-1] == labels[-2] >= 0


def face_at_distance(faces: np.ndarray, distance: float, seed: int) -> np.ndarray:
    """A unit vector whose mean squared distance to ``faces`` is ``distance``."""
    mean = faces.mean(axis=0)
    away = np.random.default_rng(seed).normal(size=faces.shape[1])
    away -= (away @ mean) * mean / (mean @ mean)
    away /= np.linalg.norm(away)
    along = (2.0 - distance) / (2.0 * np.linalg.norm(mean))
    return np.asarray(along * mean / np.linalg.norm(mean) + np.sqrt(1 - along**2) * away)


def test_after_a_scan_a_blurred_face_joins_a_person_only_when_nearer_than_a_sharp_one(
    tmp_path: Path,
) -> None:
    from engine.catalog.records import PhotoStatus
    from engine.people.update import update_people

    rng = np.random.default_rng(8)
    centre = rng.normal(size=_DIM)
    known = _faces(rng, centre / np.linalg.norm(centre), 5, 0.6)
    odd = [face_at_distance(known, 1.0, seed=s) for s in (9, 10)]
    with Catalog(tmp_path / "catalog.sqlite") as cat:
        cat.set_meta("embedder", "sface")
        root = cat.root_id(tmp_path)

        def add(vector: np.ndarray, quality: float) -> int:
            photo = cat.add_photo(
                root, f"p{len(cat.faces())}.jpg".encode(), size=1, mtime_ns=1,
                sha256=f"{len(cat.faces()):064x}", width=100, height=100,
                status=PhotoStatus.OK,
            )
            face = cat.add_face(photo, (0, 0, 10, 10), None, score=1.0, quality=quality,
                                sharpness=1.0, detector="test")
            cat.put_embedding(face, "sface", vector)
            return face

        for vector in known:
            add(vector, 0.9)
        for _ in update_people(cat):
            pass
        person = cat.face(1).person_id
        sharp, blurred = add(odd[0], 0.9), add(odd[1], 0.2)
        for _ in update_people(cat):
            pass
        assert person is not None
        assert cat.face(sharp).person_id == person
        assert cat.face(blurred).person_id is None
        for _ in recluster(cat):
            pass
        assert cat.face(blurred).person_id is None


# -- the demo album --------------------------------------------------------------


@pytest.mark.slow
def test_the_two_babies_of_the_demo_album_are_two_people(scanned_demo: Path) -> None:
    # Two lone faces 0.93 apart with nothing near either: distance alone
    # cannot tell two babies from one person's two photos without costing
    # pairs of grown-ups (LFW); their apparent ages can (tests/test_ages.py).
    with Catalog(scanned_demo) as cat:
        for _ in recluster(cat):
            pass
        babies = {
            os.fsdecode(cat.photo(face.photo_id).relpath): face.person_id for face in cat.faces()
            if os.fsdecode(cat.photo(face.photo_id).relpath).startswith("baby_")
        }
    assert sorted(babies) == ["baby_happy.jpg", "baby_sad.jpg"]
    assert babies["baby_happy.jpg"] is None or babies["baby_happy.jpg"] != babies["baby_sad.jpg"]
