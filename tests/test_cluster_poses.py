"""Pose as evidence for clustering: a person's profile lies farther from
their frontal photos than those lie from each other, so a profile and a
frontal face count nearer; two profiles, or two frontal faces, count as they are.

Synthetic people are built exactly (orthonormal directions), so every
distance is known before the clustering runs.
"""

from pathlib import Path

import numpy as np

from engine.catalog import Catalog
from engine.people.cluster import ClusterParams, cluster, pose_nearer, profile_shares
from engine.people.update import AssignIndex, FaceTable, recluster, update_people
from engine.quality import face_quality

_DIM = 128
_BASIS = np.linalg.qr(np.random.default_rng(1).normal(size=(_DIM, _DIM)))[0].T
_FRONTAL, _PROFILE = 5.0, 65.0  # yaw in degrees
_SPREAD = 0.3  # squared sine of each face from its person's centre: faces 0.6 apart
# Cosine between two people's centres: a face lies this far from another
# person's faces, as near as look-alike strangers come.
_LIKENESS = 0.46
_STRANGERS = 2 - 2 * (1 - _SPREAD) * _LIKENESS


def person(index: int, count: int, apart: float | None = None) -> np.ndarray:
    """``count`` faces of person ``index`` (0-5), each with a direction of its
    own, 0.6 apart; ``apart``: instead, each this far (squared distance) from
    every one of the person's usual faces, as a profile is."""
    centre = np.sqrt(_LIKENESS) * _BASIS[-1] + np.sqrt(1 - _LIKENESS) * _BASIS[index]
    along = np.sqrt(1 - _SPREAD)
    if apart is not None:
        along = (2 - apart) / (2 * np.sqrt(1 - _SPREAD))
    faces = []
    for k in range(count):
        own = _BASIS[8 + 16 * index + k + (8 if apart is not None else 0)]
        faces.append(along * centre + np.sqrt(1 - along**2) * own)
    return np.asarray(faces, dtype=np.float32)


def test_a_face_turns_into_a_profile_between_the_two_turns() -> None:
    params = ClusterParams()
    yaw = np.array([0.0, params.turn_from, (params.turn_from + params.turn_full) / 2,
                    params.turn_full, 90.0, np.nan])
    share = profile_shares(yaw, len(yaw), params)
    assert share is not None
    assert np.allclose(share, [0, 0, 0.5, 1, 1, 0])
    assert profile_shares(yaw, len(yaw), ClusterParams(pose_offset=0.0)) is None
    one, none = np.array([1.0]), np.array([0.0])
    # A profile and a person of many frontal photos: nearly the whole offset;
    # two alike: nothing.
    assert np.isclose(pose_nearer(one, one, none, none, 0.2, 1, 1000)[0], 0.2, atol=1e-3)
    assert pose_nearer(one, one, one, one, 0.2, 1, 1000)[0] == 0.0
    assert pose_nearer(none, none, none, none, 0.2, 1, 1000)[0] == 0.0
    # A profile against a person half profiles: the mean over its pairs.
    half = np.array([0.5])
    assert np.isclose(pose_nearer(one, one, half, half, 0.2, 1, 1000)[0], 0.1, atol=1e-3)
    # A lone profile and a lone frontal face: one photo each tells nothing.
    assert pose_nearer(one, one, none, none, 0.2, 1, 1)[0] == 0.0
    assert np.isclose(pose_nearer(one, one, none, none, 0.2, 1, 3)[0], 0.1)


# Each profile this far from the person's frontal photos: farther than
# strangers come, so it cannot join them on distance alone, but within the
# neighbour graph's reach (``attach_limit``), where its pose brings it near.
_PROFILE_APART = (_STRANGERS + ClusterParams().attach_limit) / 2


def _library() -> tuple[np.ndarray, np.ndarray]:
    """Five people of six frontal photos, the first with two profiles
    ``_PROFILE_APART`` from their frontal photos (and farther from each
    other), last. (vectors, yaw per face)"""
    faces = [person(i, 6) for i in range(5)] + [person(0, 2, apart=_PROFILE_APART)]
    yaw = np.r_[np.full(30, _FRONTAL), np.full(2, _PROFILE)]
    return np.vstack(faces), yaw


def test_a_persons_profiles_join_their_frontal_photos() -> None:
    x, yaw = _library()
    without = cluster(x)
    assert without[-1] == without[-2] == -1
    labels = cluster(x, poses=yaw)
    assert labels[-1] == labels[-2] == labels[0] >= 0
    for i in range(1, 5):
        assert labels[6 * i] != labels[0]


def test_profiles_of_strangers_stay_apart() -> None:
    # Two people seen only in profile, as near each other as a person's
    # profiles are to their frontal photos: same pose, nothing is made up for.
    x = np.vstack([person(0, 3), person(1, 3)])
    centre_mix = 0.6  # bring the two people's centres nearer each other
    x[3:] = (x[3:] + centre_mix * x[:1]) / np.linalg.norm(x[3:] + centre_mix * x[:1], axis=1,
                                                           keepdims=True)
    yaw = np.full(len(x), _PROFILE)
    assert len(set(cluster(x, poses=yaw).tolist())) == len(set(cluster(x).tolist()))
    assert np.array_equal(cluster(x, poses=yaw), cluster(x))


def test_faces_without_a_pose_cluster_as_before() -> None:
    x, yaw = _library()
    assert np.array_equal(cluster(x, poses=np.full(len(x), np.nan)), cluster(x))
    assert np.array_equal(cluster(x, poses=np.full(len(x), _FRONTAL)), cluster(x))
    assert np.array_equal(cluster(x, poses=yaw, params=ClusterParams(pose_offset=0.0)),
                          cluster(x))


def test_after_a_scan_a_profile_joins_the_person_of_its_frontal_photos() -> None:
    params = ClusterParams()
    known = person(0, 6)
    # As far as merging may take a lone face, and a little more.
    profile = person(0, 1, apart=params.threshold + params.pose_offset / 2)
    table = FaceTable(
        ids=np.arange(1, 7), vectors=known, photo=np.arange(6), person=np.zeros(6, np.int64),
        confirmed=np.zeros(6, bool), rejected={}, poses=np.full(6, _FRONTAL),
    )
    index = AssignIndex.from_table(table, params)
    as_profile = profile_shares(np.array([_PROFILE]), 1, params)
    unknown = profile_shares(np.array([np.nan]), 1, params)
    assert index.candidates(profile, params, shares=as_profile)[1][0]
    assert not index.candidates(profile, params, shares=unknown)[1][0]


def _landmarks(yaw: float) -> np.ndarray:
    """Five landmarks of a face turned by about ``yaw`` degrees."""
    turn = np.radians(yaw)
    span = 40.0 * np.cos(turn)
    nose = 50.0 + 40.0 * 0.41 * np.sin(turn)
    return np.array([[50 - span / 2, 40], [50 + span / 2, 40], [nose, 60],
                     [50 - span / 2.5, 80], [50 + span / 2.5, 80]], dtype=np.float32)


def add_posed_face(cat: Catalog, vector: np.ndarray, yaw: float) -> int:
    """A photo holding one face of ``vector`` whose landmarks read ``yaw``."""
    from engine.catalog.records import PhotoStatus

    cat.set_meta("embedder", "sface")
    i = len(cat.photos())
    photo = cat.add_photo(
        cat.root_id(cat.path.parent), f"p{i}.jpg".encode(), size=1, mtime_ns=1,
        sha256=f"{i:064x}", width=100, height=100, status=PhotoStatus.OK,
    )
    face = cat.add_face(photo, (0, 0, 100, 100), _landmarks(yaw), score=1.0, quality=0.9,
                        sharpness=1.0, detector="test")
    cat.put_embedding(face, "sface", vector)
    return face


def test_the_catalog_reads_poses_from_the_landmarks(tmp_path: Path) -> None:
    assert face_quality.yaw(_landmarks(_FRONTAL)) < 10
    assert face_quality.yaw(_landmarks(_PROFILE)) > ClusterParams().turn_full
    x, yaw = _library()

    def fill(cat: Catalog, poses: np.ndarray) -> list[int]:
        return [add_posed_face(cat, v, turned) for v, turned in zip(x, poses, strict=True)]

    with Catalog(tmp_path / "frontal.sqlite") as cat:
        faces = fill(cat, np.full(len(x), _FRONTAL))
        for _ in recluster(cat):
            pass
        assert cat.face(faces[-1]).person_id is None
    with Catalog(tmp_path / "turned.sqlite") as cat:
        faces = fill(cat, yaw)
        for _ in recluster(cat):
            pass
        assert cat.face(faces[-1]).person_id == cat.face(faces[0]).person_id is not None
    with Catalog(tmp_path / "update.sqlite") as cat:
        faces = fill(cat, yaw)
        for _ in update_people(cat):
            pass
        assert cat.face(faces[-1]).person_id == cat.face(faces[0]).person_id is not None


def test_suggestions_bring_a_persons_profile_as_near_as_merging_counts_it(
    tmp_path: Path,
) -> None:
    from engine.people.suggest import suggest

    params = ClusterParams()
    # Farther than a frontal face that is also waiting, but nearer once its pose counts.
    frontal = person(0, 1, apart=1.2)[0]
    profile = person(0, 1, apart=1.2 + params.pose_offset / 2)[0]
    x, _ = _library()
    with Catalog(tmp_path / "catalog.sqlite") as cat:
        first = [add_posed_face(cat, v, _FRONTAL) for v in x[:30]]
        for _ in recluster(cat):
            pass
        anna = cat.face(first[0]).person_id
        assert anna is not None
        waiting_frontal = add_posed_face(cat, frontal, _FRONTAL)
        waiting_profile = add_posed_face(cat, profile, _PROFILE)
        order = [s.face_ids for s in suggest(cat, anna) if s.kind == "face"]
        assert order[:2] == [[waiting_profile], [waiting_frontal]]
