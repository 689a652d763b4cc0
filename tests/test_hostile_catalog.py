"""A catalog file that is full, read-only, damaged, truncated or not ours is
told as what it is, in one line and exit status 2, and is never written to
when it is not a sound facealbum catalog.

A full disk is simulated with SQLite's ``PRAGMA max_page_count`` on the
scan's own connection: SQLite then fails exactly as on a full disk
(SQLITE_FULL), without needing root or filling a real disk.
"""

import hashlib
import os
import sqlite3
from pathlib import Path
from types import SimpleNamespace

import pytest
from test_hostile_scan import as_unprivileged, make_photos, scanning, shared_dir  # noqa: F401

from engine import people
from engine.catalog import Catalog, PhotoStatus
from engine.cli.main import main
from engine.errors import CatalogError, FaceAlbumError


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _cli(catalog: Path, *args: str) -> int:
    return main(["--catalog", str(catalog), *args])


def _one_line(err: str) -> str:
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def _catalog_with_people(path: Path, photos: int = 300) -> None:
    """A catalog of ``photos`` photos with one face each and one named person,
    folded into its main file (no write-ahead log beside it)."""
    with Catalog(path) as catalog:
        root = catalog.root_id(path.parent)
        with catalog.transaction():
            for i in range(photos):
                photo = catalog.add_photo(
                    root, f"p{i:04d}.jpg".encode(), size=1, mtime_ns=1, sha256=f"{i:064x}",
                    width=10, height=10, status=PhotoStatus.OK,
                )
                catalog.add_face(photo, (1, 1, 5, 5), None, score=1.0, quality=1.0,
                                 sharpness=1.0, detector="test")
        people.name_person(catalog, people.split_faces(catalog, [1]), "Ann")
        catalog.checkpoint()


# -- not ours -------------------------------------------------------------------


def test_another_programs_sqlite_file_is_refused_and_left_unchanged(tmp_path: Path) -> None:
    other = tmp_path / "notes.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)")
    conn.execute("INSERT INTO notes(text) VALUES ('milk')")
    conn.commit()
    conn.close()
    before = _digest(other)

    with pytest.raises(CatalogError, match=r"another program's database .*nothing was changed"):
        Catalog(other)

    assert _digest(other) == before
    assert not Path(f"{other}-wal").exists()
    conn = sqlite3.connect(other)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    assert [r[0] for r in conn.execute("SELECT name FROM sqlite_master")] == ["notes"]
    conn.close()


def test_a_file_that_is_no_database_is_refused_and_left_unchanged(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("shopping list: milk, eggs\n" * 10)
    with pytest.raises(CatalogError, match=r"not a facealbum catalog .*nothing was changed"):
        Catalog(notes)
    assert notes.read_text() == "shopping list: milk, eggs\n" * 10


def test_an_empty_file_becomes_a_new_catalog(tmp_path: Path) -> None:
    (tmp_path / "new.sqlite").write_bytes(b"")
    with Catalog(tmp_path / "new.sqlite") as catalog:
        assert catalog.photos() == []


def test_a_truncated_catalog_is_refused_and_left_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    _catalog_with_people(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # a copy cut short
    with pytest.raises(CatalogError, match=r"is damaged .*truncated.*restore it from a backup"):
        Catalog(path)
    assert path.read_bytes() == data[: len(data) // 2]


# -- damaged --------------------------------------------------------------------


def _damage(path: Path) -> None:
    """Overwrite a few pages in the middle of the file with garbage."""
    size = path.stat().st_size
    with open(path, "r+b") as handle:
        handle.seek(size // 2 // 4096 * 4096)
        handle.write(b"\x5a" * 4096 * 3)


def test_naming_a_person_in_a_damaged_catalog_writes_nothing_and_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "c.sqlite"
    _catalog_with_people(path)
    _damage(path)
    before = _digest(path)

    code = _cli(path, "name", "1", "Bob")

    line = _one_line(capsys.readouterr().err)
    assert code == 2
    assert "is damaged" in line and "nothing was written" in line and "backup" in line
    assert _digest(path) == before


def test_reading_a_damaged_catalog_says_it_is_damaged_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "c.sqlite"
    _catalog_with_people(path)
    _damage(path)
    code = _cli(path, "people")
    line = _one_line(capsys.readouterr().err)
    assert code == 2
    assert "is damaged" in line


# -- full disk ------------------------------------------------------------------


def test_a_full_disk_during_a_scan_is_told_as_a_full_disk_and_keeps_what_was_written(
    tmp_path: Path,
) -> None:
    folder = make_photos(tmp_path / "photos", [f"p{i:03d}.jpg" for i in range(80)])
    path = tmp_path / "c.sqlite"
    with Catalog(path) as catalog:
        pages = catalog._conn.execute("PRAGMA page_count").fetchone()[0]
        # Room for a few photos, not for all of them.
        catalog._conn.execute(f"PRAGMA max_page_count = {pages + 3}")
        with pytest.raises(FaceAlbumError) as caught:
            for _ in scanning(catalog, folder):
                pass
    message = str(caught.value)
    assert "disk holding the catalog" in message and "is full" in message
    assert "free some space and run the command again" in message
    assert "backup" not in message and "damaged" not in message
    with Catalog(path) as catalog:
        assert catalog._conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        kept = catalog.photos()
        assert 0 < len(kept) < 80
        for photo in kept:  # every stored photo has all of its faces
            assert len(catalog.faces(photo_id=photo.id)) == 1


# -- read-only ------------------------------------------------------------------


def test_a_read_only_catalog_is_read_and_a_write_says_it_is_read_only(
    shared_dir: Path, capsys: pytest.CaptureFixture[str]  # noqa: F811
) -> None:
    path = shared_dir / "c.sqlite"
    _catalog_with_people(path, photos=3)
    path.chmod(0o444)
    before = _digest(path)

    def check() -> None:
        capsys.readouterr()
        assert _cli(path, "people") == 0
        assert "Ann" in capsys.readouterr().out
        assert _cli(path, "name", "1", "Bob") == 2
        line = _one_line(capsys.readouterr().err)
        assert "the file is read-only" in line and "chmod u+w" in line
        assert "backup" not in line and "damaged" not in line

    as_unprivileged(check)
    assert _digest(path) == before


def test_a_read_only_disk_is_told_as_a_read_only_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Mounting a read-only file system needs root: SQLite's own read-only
    # switch fails the same way (SQLITE_READONLY), and the disk says read-only.
    path = tmp_path / "c.sqlite"
    _catalog_with_people(path, photos=3)
    real_statvfs = os.statvfs

    def read_only_statvfs(p: object) -> object:
        found = real_statvfs(p)  # type: ignore[arg-type]
        return SimpleNamespace(f_flag=found.f_flag | os.ST_RDONLY)

    with Catalog(path) as catalog:
        catalog._conn.execute("PRAGMA query_only = 1")
        monkeypatch.setattr(os, "statvfs", read_only_statvfs)
        with pytest.raises(CatalogError) as caught:
            people.name_person(catalog, 1, "Bob")
    message = str(caught.value)
    assert "mounted read-only" in message and "remount it read-write" in message
    assert "backup" not in message


def test_a_new_catalog_in_a_folder_that_cannot_be_written_says_so(
    shared_dir: Path,  # noqa: F811
) -> None:
    locked = shared_dir / "locked"
    locked.mkdir()
    locked.chmod(0o555)

    def check() -> None:
        with pytest.raises(CatalogError) as caught:
            Catalog(locked / "c.sqlite")
        assert "not a facealbum catalog" not in str(caught.value)
        assert "writable" in str(caught.value)

    as_unprivileged(check)
