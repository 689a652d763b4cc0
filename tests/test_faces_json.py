"""``facealbum faces --all --json``: every face of the catalog, for scripts and benchmarks."""

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from engine import people
from engine.catalog import Catalog, PhotoStatus
from engine.catalog.faces_export import ExportedFace, iter_all_faces
from engine.catalog.scans import record_taken
from engine.cli import faces_cmd
from engine.cli.main import main

REPO = Path(__file__).resolve().parent.parent


def _catalog(tmp_path: Path, names: list[bytes], faces_per_photo: int = 2) -> Path:
    """A catalog of photos 640 x 480 with faces at known boxes, no models needed."""
    path = tmp_path / "c.facealbum"
    with Catalog(path) as cat:
        root = cat.root_id(tmp_path)
        for p, name in enumerate(names):
            photo = cat.add_photo(root, name, size=1, mtime_ns=1, sha256=f"{p:064x}",
                                  width=640, height=480, status=PhotoStatus.OK, detector="yunet")
            for k in range(faces_per_photo):
                cat.add_face(photo, (10.0 + 100 * k, 20.25, 40.0, 52.5), None, score=0.91,
                             quality=0.5, sharpness=10.0, detector="yunet")
    return path


def _run(capsys: pytest.CaptureFixture[str], catalog: Path, *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["--catalog", str(catalog), *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_faces_all_json_lists_every_face_with_photo_box_score_person_and_state(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "trip").mkdir()
    catalog = _catalog(tmp_path, [b"trip/a.jpg", b"b.jpg"])
    with Catalog(catalog) as cat:
        first, second, third, _ = (f.id for f in cat.faces())
        person = people.split_faces(cat, [first, second])
        people.mark_faces(cat, [third], "stranger")
    code, out, err = _run(capsys, catalog, "faces", "--all", "--json")
    assert code == 0, err
    faces = json.loads(out)
    assert [f["photo"] for f in faces] == ["trip/a.jpg", "trip/a.jpg", "b.jpg", "b.jpg"]
    assert faces[0] == {"id": first, "photo": "trip/a.jpg", "box": [10.0, 20.2, 40.0, 52.5],
                        "score": 0.91, "person": person, "state": "face", "taken": None,
                        "age": None}
    assert [f["person"] for f in faces] == [person, person, None, None]
    assert [f["state"] for f in faces] == ["face", "face", "stranger", "face"]


def test_each_face_carries_its_photo_s_capture_time_or_null(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    catalog = _catalog(tmp_path, [b"dated.jpg", b"plain.jpg", b"unread.jpg"], faces_per_photo=1)
    with Catalog(catalog) as cat:
        dated, plain, _ = (p.id for p in cat.photos())
        with cat.transaction():
            record_taken(cat, dated, datetime(2009, 7, 4, 10, 0, 5, tzinfo=UTC).timestamp())
            record_taken(cat, plain, None)
    faces = json.loads(_run(capsys, catalog, "faces", "--all", "--json")[1])
    assert [(f["photo"], f["taken"]) for f in faces] == [
        ("dated.jpg", "2009-07-04T10:00:05"), ("plain.jpg", None), ("unread.jpg", None)
    ]


def test_each_face_carries_its_apparent_age_or_null(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    catalog = _catalog(tmp_path, [b"a.jpg", b"b.jpg"], faces_per_photo=1)
    with Catalog(catalog) as cat:
        read, _ = (f.id for f in cat.faces())
        cat.set_age(read, 3.26)
    faces = json.loads(_run(capsys, catalog, "faces", "--all", "--json")[1])
    assert [(f["photo"], f["age"]) for f in faces] == [("a.jpg", 3.3), ("b.jpg", None)]


def test_a_face_of_a_merged_person_is_reported_with_the_person_holding_it_now(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    catalog = _catalog(tmp_path, [b"a.jpg", b"b.jpg"], faces_per_photo=1)
    with Catalog(catalog) as cat:
        one, two = (f.id for f in cat.faces())
        kept = people.split_faces(cat, [one])
        gone = people.split_faces(cat, [two])
        people.merge_people(cat, [gone], kept)
    faces = json.loads(_run(capsys, catalog, "faces", "--all", "--json")[1])
    assert [f["person"] for f in faces] == [kept, kept]


def test_an_empty_catalog_gives_an_empty_list(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(capsys, _catalog(tmp_path, []), "faces", "--all", "--json")
    assert code == 0
    assert json.loads(out) == []


def test_faces_are_printed_as_the_catalog_yields_them_not_after_reading_all(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    catalog = _catalog(tmp_path, [f"p{i:03d}.jpg".encode() for i in range(50)])
    read = 0
    read_when_printed: list[int] = []

    def counting(cat: Catalog) -> Iterator[ExportedFace]:
        nonlocal read
        for face in iter_all_faces(cat):
            read += 1
            yield face

    def record(text: str = "") -> None:
        if text.lstrip().startswith("{"):
            read_when_printed.append(read)

    monkeypatch.setattr(faces_cmd, "iter_all_faces", counting)
    monkeypatch.setattr(faces_cmd, "emit", record)
    assert _run(capsys, catalog, "faces", "--all", "--json")[0] == 0
    assert len(read_when_printed) == 100
    # Each face is out one face after it was read: nothing waits for the end.
    assert read_when_printed[0] <= 2
    assert all(r <= i + 2 for i, r in enumerate(read_when_printed))


def test_a_photo_name_that_is_not_utf8_is_escaped_and_names_the_file_again(
    tmp_path: Path,
) -> None:
    catalog = _catalog(tmp_path, [b"caf\xe9.jpg"], faces_per_photo=1)
    env = {**os.environ, "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}
    env.pop("PYTHONIOENCODING", None)
    done = subprocess.run(
        [sys.executable, "-m", "engine.cli.main", "--catalog", str(catalog),
         "faces", "--all", "--json"],
        capture_output=True, env=env, cwd=REPO, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    assert b"caf\\udce9.jpg" in done.stdout
    (face,) = json.loads(done.stdout)
    assert os.fsencode(face["photo"]) == b"caf\xe9.jpg"  # `facealbum tag` takes it back


def test_faces_all_as_text_shows_one_line_per_face_with_its_photo(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    catalog = _catalog(tmp_path, [b"a.jpg"])
    code, out, _ = _run(capsys, catalog, "faces", "--all")
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == 3 and all(line.endswith("a.jpg") for line in lines[1:])


def test_faces_with_neither_a_person_nor_all_says_what_to_give(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    catalog = _catalog(tmp_path, [b"a.jpg"])
    code, out, err = _run(capsys, catalog, "faces")
    assert code == 2 and out == ""
    assert "PERSON id or --all" in err and len(err.strip().splitlines()) == 1
    code, _, err = _run(capsys, catalog, "faces", "3", "--all")
    assert code == 2 and "got both" in err


def test_a_box_running_past_the_photo_s_edges_is_given_as_its_part_inside_the_photo(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A face filling the frame is found on a padded copy, and the detector's
    # box runs past the edges; a script slicing the photo by it must not get
    # negative or out-of-range pixels.
    path = tmp_path / "c.facealbum"
    with Catalog(path) as cat:
        photo = cat.add_photo(cat.root_id(tmp_path), b"close.jpg", size=1, mtime_ns=1,
                              sha256="0" * 64, width=640, height=480, status=PhotoStatus.OK,
                              detector="yunet")
        cat.add_face(photo, (-20.0, -10.0, 100.0, 120.0), None, score=0.9, quality=0.5,
                     sharpness=10.0, detector="yunet")
        cat.add_face(photo, (600.0, 400.0, 80.0, 100.0), None, score=0.9, quality=0.5,
                     sharpness=10.0, detector="yunet")
        person_id = people.split_faces(cat, [f.id for f in cat.faces()][:1])
    faces = json.loads(_run(capsys, path, "faces", "--all", "--json")[1])
    assert [f["box"] for f in faces] == [[0.0, 0.0, 80.0, 110.0], [600.0, 400.0, 40.0, 80.0]]
    listed = json.loads(_run(capsys, path, "faces", str(person_id), "--json")[1])
    assert [f["box"] for f in listed] == [[0.0, 0.0, 80.0, 110.0]]
