"""Face search: ``facealbum faces --like FACE`` and ``engine.people.search``."""

import json
from pathlib import Path

import numpy as np
import pytest

from engine.catalog import Catalog
from engine.cli.main import main
from engine.people import mark_faces, recluster, split_faces
from engine.people.search import SearchError, similar_faces
from tests.test_cluster_dates import add_face
from tests.test_context import album_with_profiles


def _faces_like(capsys: pytest.CaptureFixture[str], catalog: Path, *args: str) -> list[dict]:
    assert main(["--catalog", str(catalog), "faces", "--like", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_a_profile_finds_its_person_first_nearest_first(tmp_path: Path) -> None:
    x = album_with_profiles()
    with Catalog(tmp_path / "c.sqlite") as cat:
        ids = [add_face(cat, v, 1e9) for v in x]
        for _ in recluster(cat):
            pass
        profile = ids[120]
        found = similar_faces(cat, profile, limit=12)
        assert len(found) == 12
        distances = [m.distance for m in found]
        assert distances == sorted(distances)
        own = set(ids[:10]) | set(ids[121:123])
        assert {m.face_id for m in found} == own, "the person's photos and profiles, no one else"
        assert profile not in {m.face_id for m in found}
        for m in found:
            row = ids.index(m.face_id)
            assert m.plain == pytest.approx(float(np.sum((x[120] - x[row]) ** 2)), abs=1e-4)

        # A face the user marked a stranger is no longer a face to search or to find.
        mark_faces(cat, [ids[0]], "stranger")
        assert ids[0] not in {m.face_id for m in similar_faces(cat, profile, limit=50)}
        with pytest.raises(SearchError, match="cannot be searched"):
            similar_faces(cat, ids[0])
        with pytest.raises(SearchError, match="cannot be searched"):
            similar_faces(cat, 10**6)


def test_a_small_reach_still_finds_the_person(tmp_path: Path) -> None:
    x = album_with_profiles()
    with Catalog(tmp_path / "c.sqlite") as cat:
        ids = [add_face(cat, v, 1e9) for v in x]
        found = similar_faces(cat, ids[120], limit=5, reach=40)
        assert len(found) == 5
        assert {m.face_id for m in found} <= set(ids[:10]) | set(ids[121:123])


def test_faces_like_from_the_command_line(
    scanned_demo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--catalog", str(scanned_demo), "faces", "--all", "--json"]) == 0
    faces = json.loads(capsys.readouterr().out)
    obama = [f for f in faces if f["photo"].startswith("obama_")]
    assert len(obama) == 4
    query = obama[0]
    found = _faces_like(capsys, scanned_demo, str(query["id"]), "--limit", "3")
    assert sorted(f["photo"] for f in found) == sorted(
        f["photo"] for f in obama if f["id"] != query["id"]
    )
    assert [f["distance"] for f in found] == sorted(f["distance"] for f in found)

    assert main(["--catalog", str(scanned_demo), "faces", "--like", str(query["id"])]) == 0
    out = capsys.readouterr().out
    assert "distance" in out and "obama_" in out
    code = main(["--catalog", str(scanned_demo), "faces", "--like", "999999"])
    err = capsys.readouterr().err
    assert code != 0 and "cannot be searched" in err and "Traceback" not in err
    code = main(["--catalog", str(scanned_demo), "faces", "--like", str(query["id"]), "--all"])
    assert code != 0 and "drop --all" in capsys.readouterr().err


def test_a_face_that_cannot_be_searched_is_told_in_the_words_of_each_client(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    x = album_with_profiles()
    catalog = tmp_path / "c.sqlite"
    with Catalog(catalog) as cat:
        add_face(cat, x[0], 1e9)
        # The app shows the engine's words: they name no command.
        with pytest.raises(SearchError) as refused:
            similar_faces(cat, 10**6)
        assert "cannot be searched" in str(refused.value)
        assert "facealbum" not in str(refused.value)
    # The command line adds where to find the faces that can be.
    assert main(["--catalog", str(catalog), "faces", "--like", str(10**6)]) != 0
    said = capsys.readouterr().err
    assert "cannot be searched" in said and "facealbum faces --all" in said


def test_a_limit_without_a_face_to_search_is_refused_not_ignored(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    catalog = tmp_path / "c.sqlite"
    with Catalog(catalog) as cat:
        face = add_face(cat, album_with_profiles()[0], 1e9)
        person = split_faces(cat, [face])
    for args in (["--all", "--limit", "5"], [str(person), "--limit", "5"]):
        assert main(["--catalog", str(catalog), "faces", *args]) != 0
        assert "--limit counts the faces of --like" in capsys.readouterr().err
    assert main(["--catalog", str(catalog), "faces", "--all", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 1


def test_a_person_larger_than_the_reach_still_gets_other_faces(tmp_path: Path) -> None:
    """More Like This Face for a person holding more faces than the search
    looks at: their own faces must not fill the list."""
    x = album_with_profiles()
    with Catalog(tmp_path / "c.sqlite") as cat:
        ids = [add_face(cat, v, 1e9) for v in x]
        for _ in recluster(cat):
            pass
        person = cat.face(ids[0]).person_id
        assert person is not None
        own = {f.id for f in cat.faces(person_id=person)}
        assert len(own) > 8
        found = similar_faces(cat, ids[0], limit=3, reach=8, exclude_person=person)
        assert len(found) == 3
        assert not {m.face_id for m in found} & own
        assert all(m.person_id != person for m in found)
        distances = [m.distance for m in found]
        assert distances == sorted(distances)
