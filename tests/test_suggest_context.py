"""Suggestions ranked in the context of the library (``engine.people.suggest``)."""

import importlib
import json
from pathlib import Path

import numpy as np
import pytest

from engine.catalog import Catalog
from engine.cli.main import main
from engine.people import first_with_suggestions, merge_people, split_faces
from engine.people.cluster import ClusterParams
from engine.people.suggest import suggest
from tests.test_cluster_dates import add_face

_DIM = 64


def _unit(x: np.ndarray) -> np.ndarray:
    return np.asarray(x / np.linalg.norm(x, axis=-1, keepdims=True))


_STRAY, _STRANGER = 33, 34  # rows of _anna_and_two_strays


def _anna_and_two_strays() -> np.ndarray:
    """Anna's 30 frontal photos and 3 profiles, a stray profile of hers, a
    look-alike stranger seen once, and 12 other people of 10 photos.

    The stranger lies nearer Anna's photos than her stray profile does, but
    is among no face's nearest of hers; the stray profile is among her
    profiles' nearest, as theirs are among its. Anna's are rows 0-32.
    """
    rng = np.random.default_rng(0)
    axes = np.eye(_DIM)
    noise = 0.3 / np.sqrt(_DIM)
    frontal = _unit(axes[0] + noise * rng.normal(size=(30, _DIM)))
    profiles = _unit(axes[0] + 1.2 * axes[1] + noise * rng.normal(size=(4, _DIM)))
    stranger = _unit(axes[0] + 0.9 * axes[2])
    others = [_unit(axes[10 + i] + noise * rng.normal(size=(10, _DIM))) for i in range(12)]
    return np.concatenate([frontal, profiles, stranger[None], *others])


def _album(cat: Catalog) -> tuple[list[int], int]:
    """Those faces in the catalog, Anna's 33 made a person: (face ids, Anna)."""
    ids = [add_face(cat, v, 1e9) for v in _anna_and_two_strays()]
    return ids, split_faces(cat, ids[:33])


def test_a_persons_stray_profile_is_asked_about_before_a_nearer_stranger(
    tmp_path: Path,
) -> None:
    with Catalog(tmp_path / "c.sqlite") as cat:
        ids, anna = _album(cat)

        alone = {s.face_ids[0]: s for s in suggest(cat, anna, in_context=False)}
        assert alone[ids[_STRANGER]].distance < alone[ids[_STRAY]].distance, (
            "on the merge distance alone the stranger comes first")

        found = [s.face_ids for s in suggest(cat, anna)]
        assert found[:2] == [[ids[_STRAY]], [ids[_STRANGER]]]
        # The merge distance is reported as before; the ranking is the context's.
        ranked = {s.face_ids[0]: s for s in suggest(cat, anna)}
        assert ranked[ids[_STRAY]].distance == alone[ids[_STRAY]].distance
        assert ranked[ids[_STRAY]].context_distance < ranked[ids[_STRANGER]].context_distance


def test_a_face_sharing_no_neighbourhood_is_offered_exactly_as_far_as_before(
    tmp_path: Path,
) -> None:
    with Catalog(tmp_path / "c.sqlite") as cat:
        ids, anna = _album(cat)
        alone = suggest(cat, anna, in_context=False)
        distance = {s.face_ids[0]: s.distance for s in alone}[ids[_STRANGER]]
        # A limit just short of the stranger's distance offers it neither way; just past, both.
        for limit, offered in ((distance - 1e-3, False), (distance + 1e-3, True)):
            for in_context in (False, True):
                faces = {f for s in suggest(cat, anna, max_distance=limit, in_context=in_context)
                         for f in s.face_ids}
                assert (ids[_STRANGER] in faces) is offered
        # The stray profile shares Anna's profiles' neighbourhood: in context it is
        # offered from farther than the merge distance alone would reach.
        far = {s.face_ids[0]: s.distance for s in alone}[ids[_STRAY]]
        assert ids[_STRAY] not in {s.face_ids[0] for s in suggest(
            cat, anna, max_distance=far - 0.05, in_context=False)}
        assert ids[_STRAY] in {s.face_ids[0] for s in suggest(cat, anna, max_distance=far - 0.05)}


def test_a_small_library_has_no_context_to_rank_by(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    x = _unit(np.eye(_DIM)[0] + 0.9 * rng.normal(size=(12, _DIM)) / np.sqrt(_DIM))
    with Catalog(tmp_path / "c.sqlite") as cat:
        ids = [add_face(cat, v, 1e9) for v in x]
        anna = split_faces(cat, ids[:4])
        loose = ClusterParams().max_threshold + 1.0
        plain = suggest(cat, anna, max_distance=loose, in_context=False)
        ranked = suggest(cat, anna, max_distance=loose)
        assert len(plain) == 8
        assert [s.face_ids for s in ranked] == [s.face_ids for s in plain]


def test_suggest_on_the_command_line_shows_both_distances(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    catalog = tmp_path / "c.sqlite"
    with Catalog(catalog) as cat:
        ids, anna = _album(cat)
    assert main(["--catalog", str(catalog), "suggest", str(anna), "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert [s["face_ids"] for s in found[:2]] == [[ids[_STRAY]], [ids[_STRANGER]]]
    assert found[0]["context_distance"] < found[1]["context_distance"]
    assert found[0]["distance"] > found[1]["distance"]
    assert main(["--catalog", str(catalog), "suggest", str(anna)]) == 0
    assert "in context" in capsys.readouterr().out


def test_the_first_person_with_suggestions_is_found_reading_the_faces_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The package's ``suggest`` is the function; the module is reached by name.
    suggest_module = importlib.import_module("engine.people.suggest")

    with Catalog(tmp_path / "c.sqlite") as cat:
        ids, anna = _album(cat)
        # Two people far from every face left alone: nothing to ask about them.
        others = [split_faces(cat, ids[35 + 10 * i: 45 + 10 * i]) for i in range(2)]
        gone = split_faces(cat, ids[55:65])
        merge_people(cat, [gone], others[0])
        assert not suggest(cat, others[0]) and not suggest(cat, others[1])

        reads: list[int] = []
        real = suggest_module.load_faces
        monkeypatch.setattr(suggest_module, "load_faces",
                            lambda c: reads.append(1) or real(c))
        person, found = first_with_suggestions(cat, [others[1], gone, others[0], anna])
        assert person == anna
        assert [s.face_ids for s in found] == [s.face_ids for s in suggest(cat, anna)]
        assert found[0].face_ids == [ids[_STRAY]]
        assert len(reads) == 2, "once for all four people, once for suggest() above"
        assert first_with_suggestions(cat, [others[1], gone]) == (None, [])
