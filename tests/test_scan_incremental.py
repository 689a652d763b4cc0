"""Rescans read only what changed and never lose what a user decided."""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from catalogs import scan_into
from PIL import Image

from engine import people
from engine.catalog import Catalog, PhotoStatus
from engine.progress import CancelToken
from engine.scan import ScanOptions, ScanSummary, scan_folder

pytestmark = pytest.mark.slow  # every test here runs the real detector and embedder

DEMO = Path(__file__).resolve().parent.parent / "resources" / "demo"
PORTRAITS = ["obama_1.jpg", "obama_2.jpg", "chirac_1.jpg", "chirac_2.jpg", "paul_rudd_1.jpg"]


def _folder(tmp_path: Path, names: list[str] = PORTRAITS) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in names:
        shutil.copy(DEMO / name, folder / name)
    return folder


def _scan(folder: Path, catalog_path: Path, **options: str) -> ScanSummary:
    return scan_into(catalog_path, folder, ScanOptions(device="cpu", **options))


def _face_of(catalog: Catalog, relpath: str) -> int:
    photo = next(p for p in catalog.photos() if p.display_path == relpath)
    faces = catalog.faces(photo_id=photo.id)
    assert len(faces) == 1
    return faces[0].id


def test_rescan_of_an_unchanged_folder_reads_nothing(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    first = _scan(folder, tmp_path / "c.sqlite")
    second = _scan(folder, tmp_path / "c.sqlite")
    assert first.scanned == len(PORTRAITS)
    assert second.scanned == 0
    assert second.unchanged == len(PORTRAITS)


def test_touched_file_is_hashed_not_redetected(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    _scan(folder, tmp_path / "c.sqlite")
    with Catalog(tmp_path / "c.sqlite") as catalog:
        before = _face_of(catalog, "obama_1.jpg")
    os.utime(folder / "obama_1.jpg", ns=(time.time_ns(), time.time_ns()))
    again = _scan(folder, tmp_path / "c.sqlite")
    assert again.scanned == 0
    with Catalog(tmp_path / "c.sqlite") as catalog:
        assert _face_of(catalog, "obama_1.jpg") == before


def test_moved_and_renamed_photos_keep_their_faces_and_names(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    _scan(folder, tmp_path / "c.sqlite")
    with Catalog(tmp_path / "c.sqlite") as catalog:
        face = _face_of(catalog, "obama_1.jpg")
        person = people.split_faces(catalog, [face])
        people.name_person(catalog, person, "Barack")
    (folder / "2008").mkdir()
    (folder / "obama_1.jpg").rename(folder / "2008" / "president.jpg")

    summary = _scan(folder, tmp_path / "c.sqlite")

    assert summary.moved == 1
    assert summary.scanned == 0
    with Catalog(tmp_path / "c.sqlite") as catalog:
        assert _face_of(catalog, "2008/president.jpg") == face
        moved = catalog.face(face)
        assert moved.person_id == person and moved.confirmed
        assert catalog.person(person).name == "Barack"
        assert not catalog.photos(status=PhotoStatus.MISSING)


def test_deleted_photo_is_marked_missing_until_purged(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    _scan(folder, tmp_path / "c.sqlite")
    (folder / "chirac_1.jpg").unlink()
    summary = _scan(folder, tmp_path / "c.sqlite")
    assert summary.missing == 1
    with Catalog(tmp_path / "c.sqlite") as catalog:
        missing = catalog.photos(status=PhotoStatus.MISSING)
        assert [p.display_path for p in missing] == ["chirac_1.jpg"]
        assert len(catalog.faces(photo_id=missing[0].id)) == 1  # not forgotten
        assert catalog.purge_missing() == 1
        assert not catalog.photos(status=PhotoStatus.MISSING)


def test_photo_restored_after_missing_comes_back_with_its_faces(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    _scan(folder, tmp_path / "c.sqlite")
    with Catalog(tmp_path / "c.sqlite") as catalog:
        face = _face_of(catalog, "chirac_1.jpg")
    (folder / "chirac_1.jpg").rename(tmp_path / "away.jpg")
    _scan(folder, tmp_path / "c.sqlite")
    (tmp_path / "away.jpg").rename(folder / "chirac_1.jpg")
    _scan(folder, tmp_path / "c.sqlite")
    with Catalog(tmp_path / "c.sqlite") as catalog:
        assert _face_of(catalog, "chirac_1.jpg") == face
        assert not catalog.photos(status=PhotoStatus.MISSING)


def test_edited_photo_is_redetected_and_keeps_the_facts_of_its_faces(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    _scan(folder, tmp_path / "c.sqlite")
    with Catalog(tmp_path / "c.sqlite") as catalog:
        face = _face_of(catalog, "paul_rudd_1.jpg")
        person = people.split_faces(catalog, [face])
        people.name_person(catalog, person, "Paul")
    with Image.open(folder / "paul_rudd_1.jpg") as im:
        edited = im.convert("RGB").point(lambda v: min(255, v + 12))  # brightened
    edited.save(folder / "paul_rudd_1.jpg", quality=90)

    summary = _scan(folder, tmp_path / "c.sqlite")

    assert summary.scanned == 1
    with Catalog(tmp_path / "c.sqlite") as catalog:
        assert _face_of(catalog, "paul_rudd_1.jpg") == face
        assert catalog.face(face).person_id == person
        assert catalog.person(person).name == "Paul"


def test_cancelled_scan_stops_between_photos_and_the_next_run_resumes(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    token = CancelToken()
    summary = ScanSummary()
    with Catalog(tmp_path / "c.sqlite") as catalog:
        for progress in scan_folder(
            catalog, folder, ScanOptions(device="cpu", workers=1), cancel=token, summary=summary
        ):
            if progress.stage == "scanning" and progress.done == 2:
                token.cancel()
    assert summary.cancelled
    with Catalog(tmp_path / "c.sqlite") as catalog:
        kept = len(catalog.photos())
    assert 2 <= kept < len(PORTRAITS)
    resumed = _scan(folder, tmp_path / "c.sqlite")
    assert resumed.scanned == len(PORTRAITS) - kept
    with Catalog(tmp_path / "c.sqlite") as catalog:
        assert len(catalog.photos(status=PhotoStatus.OK)) == len(PORTRAITS)
        assert len(catalog.faces()) == len(PORTRAITS)


# `facealbum scan` that waits a fifth of a second before it keeps each photo.
_SLOW_SCAN = """
import sys, time
from engine import scan
from engine.cli.main import main

add = scan._Pipeline.add

def slowly(self, *args, **kwargs):
    time.sleep(0.2)
    add(self, *args, **kwargs)

scan._Pipeline.add = slowly
sys.exit(main(sys.argv[1:]))
"""


def test_scan_killed_with_sigkill_keeps_what_it_committed_and_resumes(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    names = sorted(p.name for p in DEMO.glob("*.jpg"))
    for name in names:
        shutil.copy(DEMO / name, folder / name)
    catalog_path = tmp_path / "c.sqlite"
    # The child takes each photo in slowly, so that it is still running when it
    # is killed however fast this machine analyses the demo.
    child = subprocess.Popen(
        [sys.executable, "-c", _SLOW_SCAN, "--catalog", str(catalog_path), "scan",
         str(folder), "--device", "cpu", "--no-people"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 120
    committed = 0
    while time.time() < deadline and child.poll() is None:
        time.sleep(0.2)
        if catalog_path.exists():
            try:
                with Catalog(catalog_path) as catalog:
                    committed = len(catalog.photos())
            except Exception:
                continue
            if committed > 0:
                break
    if child.poll() is not None:
        pytest.fail("the scan finished before it could be killed; use a larger folder")
    child.send_signal(signal.SIGKILL)
    child.wait()

    with Catalog(catalog_path) as catalog:
        assert catalog._conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        kept = len(catalog.photos())
        assert kept >= committed
        # Every photo that is in the catalog has all of its faces.
        orphans = catalog._conn.execute(
            "SELECT COUNT(*) FROM faces f LEFT JOIN embeddings e ON e.face_id = f.id"
            " WHERE e.face_id IS NULL"
        ).fetchone()[0]
        assert orphans == 0

    resumed = _scan(folder, catalog_path)
    assert resumed.scanned == len(names) - kept
    with Catalog(catalog_path) as catalog:
        assert len(catalog.photos()) == len(names)


def test_choosing_another_embedder_reembeds_without_redetecting(tmp_path: Path) -> None:
    folder = _folder(tmp_path, PORTRAITS[:2])
    _scan(folder, tmp_path / "c.sqlite")
    with Catalog(tmp_path / "c.sqlite") as catalog:
        faces_before = {f.id: f.created_at for f in catalog.faces()}
    summary = _scan(folder, tmp_path / "c.sqlite", embedder="facenet")
    assert summary.reembedded == 2
    assert summary.scanned == 0
    with Catalog(tmp_path / "c.sqlite") as catalog:
        assert {f.id: f.created_at for f in catalog.faces()} == faces_before
        ids, vectors = catalog.embeddings("facenet")
        assert sorted(ids.tolist()) == sorted(faces_before)
        assert vectors.shape[1] == 512
        assert catalog.get_meta("embedder") == "facenet"


def test_confirmed_face_survives_an_edit_that_removes_it_from_the_photo(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    _scan(folder, tmp_path / "c.sqlite")
    with Catalog(tmp_path / "c.sqlite") as catalog:
        named = _face_of(catalog, "paul_rudd_1.jpg")
        people.name_person(catalog, people.split_faces(catalog, [named]), "Paul")
        unnamed = _face_of(catalog, "chirac_1.jpg")
    # Both photos are overwritten by a photo with no face in it.
    shutil.copy(DEMO / "noface_coffee.jpg", folder / "paul_rudd_1.jpg")
    shutil.copy(DEMO / "noface_coffee.jpg", folder / "chirac_1.jpg")

    _scan(folder, tmp_path / "c.sqlite")

    with Catalog(tmp_path / "c.sqlite") as catalog:
        kept = catalog.faces(ids=[named, unnamed])
        assert [f.id for f in kept] == [named]
        assert kept[0].confirmed
