"""The library's folders, and photos of several people together, from the engine and the CLI.

A small synthetic library: tiny photos drawn with Pillow, faces placed by
hand around identity centres and grouped by the engine; no model is loaded.
"""

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine import people
from engine.catalog import PhotoStatus
from engine.catalog.folders import FolderState, folders, remove_root
from engine.catalog.people import photos_with_all
from engine.cli.main import main
from engine.errors import FactsAtRiskError, NotFoundError
from tests.test_app_bugs import Library


@pytest.fixture
def library(tmp_path: Path) -> Iterator[Library]:
    """Anna, Bert and Carl; Anna is with Bert in two photos and with Carl in one."""
    lib = Library(tmp_path / "photos", tmp_path / "catalog.sqlite")
    lib.person("anna", 2)
    lib.person("bert", 1)
    lib.person("carl", 1)
    lib.photo("anna", "bert")
    lib.photo("bert", "anna")
    lib.photo("anna", "carl")
    lib.group()
    yield lib
    lib.cat.close()


def run_cli(capsys: pytest.CaptureFixture[str], catalog: Path, *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["--catalog", str(catalog), *args])
    out, err = capsys.readouterr()
    return code, out, err


def person_with(lib: Library, name: str) -> int:
    """The person holding the first face placed for ``name``'s own photos."""
    first = {"anna": 0, "bert": 2, "carl": 3}[name]
    person = lib.cat.faces()[first].person_id
    assert person is not None
    return person


def second_folder(lib: Library, tmp_path: Path, name: str = "more") -> tuple[int, Path]:
    """Another scanned folder holding one photo of Carl."""
    folder = tmp_path / name
    folder.mkdir()
    (folder / "c.jpg").write_bytes((lib.folder / "p001.jpg").read_bytes())
    root = lib.cat.root_id(folder)
    photo = lib.cat.add_photo(root, b"c.jpg", size=1, mtime_ns=1, sha256="c" * 64, width=120,
                              height=90, status=PhotoStatus.OK)
    lib.cat.add_face(photo, (10, 20, 30, 30), None, score=1.0, quality=0.5, sharpness=1.0,
                     detector="test")
    return root, folder


# -- photos of several people together ------------------------------------------------------


def test_photos_with_all_of_several_people_are_those_where_each_appears(
    library: Library,
) -> None:
    cat = library.cat
    anna, bert, carl = (person_with(library, n) for n in ("anna", "bert", "carl"))
    together = photos_with_all(cat, [anna, bert])
    assert len(together) == 2
    for photo_id in together:
        assert {f.person_id for f in cat.faces(photo_id=photo_id)} == {anna, bert}
    assert len(photos_with_all(cat, [anna, carl])) == 1
    assert photos_with_all(cat, [anna, bert, carl]) == []
    assert len(photos_with_all(cat, [anna])) == 5
    assert photos_with_all(cat, []) == []


def test_photos_together_follow_a_merge_whichever_id_is_given(library: Library) -> None:
    cat = library.cat
    anna, bert, carl = (person_with(library, n) for n in ("anna", "bert", "carl"))
    people.merge_people(cat, [carl], bert)
    # Carl, merged into Bert, stands for Bert now: Anna's photos with either.
    assert len(photos_with_all(cat, [anna, carl])) == 3
    assert photos_with_all(cat, [anna, carl]) == photos_with_all(cat, [anna, bert])
    with pytest.raises(NotFoundError):
        photos_with_all(cat, [anna, 999])


def test_the_photos_command_lists_the_photos_of_people_named_together(
    library: Library, capsys: pytest.CaptureFixture[str]
) -> None:
    cat = library.cat
    people.name_person(cat, person_with(library, "anna"), "Anna")
    people.name_person(cat, person_with(library, "bert"), "Bert")
    catalog = cat.path
    code, out, _ = run_cli(capsys, catalog, "photos", "--with", "anna", "--with", "Bert",
                           "--json")
    assert code == 0
    shown = json.loads(out)
    assert [Path(p["path"]).name for p in shown] == ["p005.jpg", "p006.jpg"]
    code, out, _ = run_cli(capsys, catalog, "photos", "--with", "Anna", "--with",
                           str(person_with(library, "carl")))
    assert code == 0 and "p007.jpg" in out and "p005.jpg" not in out
    assert len(json.loads(run_cli(capsys, catalog, "photos", "--json")[1])) == 7


def test_a_name_nobody_has_is_one_line_saying_where_the_names_are(
    library: Library, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli(capsys, library.cat.path, "photos", "--with", "Zed")
    assert code == 2 and not out
    assert "'Zed'" in err and "facealbum people" in err and "Traceback" not in err


# -- the library's folders ------------------------------------------------------------------------


def test_folders_are_listed_with_their_photos_and_whether_they_are_still_there(
    library: Library, tmp_path: Path
) -> None:
    cat = library.cat
    _, more = second_folder(library, tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    cat.root_id(empty)
    shutil.rmtree(more)
    listed = {Path(f.display_path).name: f for f in folders(cat)}
    assert set(listed) == {"photos", "more", "empty"}
    assert (listed["photos"].photos, listed["photos"].state) == (7, FolderState.OK)
    assert listed["photos"].faces == 10
    assert (listed["more"].photos, listed["more"].state) == (1, FolderState.MISSING)
    assert (listed["empty"].photos, listed["empty"].state) == (0, FolderState.EMPTY)


def test_removing_a_folder_forgets_it_and_its_photos_and_faces_only(
    library: Library, tmp_path: Path
) -> None:
    cat = library.cat
    root, more = second_folder(library, tmp_path)
    faces_before = len(cat.faces())
    assert remove_root(cat, root) == 1
    assert [r for r, _ in cat.roots()] == [library.root]
    assert len(cat.photos()) == 7 and len(cat.faces()) == faces_before - 1
    assert (more / "c.jpg").exists()  # the file itself is not touched


def test_removing_a_folder_whose_faces_carry_decisions_needs_force(library: Library) -> None:
    cat = library.cat
    people.name_person(cat, person_with(library, "anna"), "Anna")
    with pytest.raises(FactsAtRiskError, match="5 in a named person"):
        remove_root(cat, library.root)
    assert len(cat.photos()) == 7  # nothing was removed
    assert remove_root(cat, library.root, force=True) == 7
    assert cat.roots() == [] and cat.faces() == []
    assert people.people_rows(cat) == []


def test_the_folders_command_lists_and_removes_a_folder(
    library: Library, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cat = library.cat
    _, more = second_folder(library, tmp_path)
    people.name_person(cat, person_with(library, "anna"), "Anna")
    catalog = cat.path
    code, out, _ = run_cli(capsys, catalog, "folders", "--json")
    assert code == 0
    assert {(Path(f["path"]).name, f["photos"], f["state"]) for f in json.loads(out)} == {
        ("photos", 7, "ok"), ("more", 1, "ok")}
    code, out, _ = run_cli(capsys, catalog, "folders", "--remove", str(more))
    assert code == 0 and "Forgot the folder" in out and "1 photos" in out
    code, out, err = run_cli(capsys, catalog, "folders", "--remove", str(library.folder))
    assert code == 2 and "--force" in err and "Traceback" not in err
    assert run_cli(capsys, catalog, "folders", "--remove", str(library.folder), "--force")[0] == 0
    assert json.loads(run_cli(capsys, catalog, "folders", "--json")[1]) == []
    code, _, err = run_cli(capsys, catalog, "folders", "--remove", str(more))
    assert code == 2 and "facealbum folders" in err
