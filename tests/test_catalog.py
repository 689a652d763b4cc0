"""The catalog file: schema versions, transactions, and two programs at once."""

import sqlite3
import threading
from pathlib import Path

import numpy as np
import pytest
from catalogs import older_catalog

from engine.catalog import Catalog, PhotoStatus
from engine.catalog.schema import SCHEMA_VERSION
from engine.errors import CatalogError


def _photo(catalog: Catalog, name: bytes) -> int:
    root = catalog.root_id("/photos")
    return catalog.add_photo(
        root, name, size=1, mtime_ns=1, sha256="x", width=10, height=10, status=PhotoStatus.OK
    )


def test_a_reader_sees_committed_work_while_another_connection_writes(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    with Catalog(path) as cli, Catalog(path) as gui:
        _photo(cli, b"a.jpg")
        with cli.transaction():
            _photo(cli, b"b.jpg")
            # WAL: the other connection reads the last commit without waiting.
            assert [p.display_path for p in gui.photos()] == ["a.jpg"]
        assert [p.display_path for p in gui.photos()] == ["a.jpg", "b.jpg"]


def test_a_second_writer_waits_for_the_first_instead_of_failing(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    with Catalog(path):
        pass
    started, release = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def hold_write_lock() -> None:
        with Catalog(path) as first, first.transaction():
            _photo(first, b"first.jpg")
            started.set()
            release.wait(5)

    holder = threading.Thread(target=hold_write_lock)
    holder.start()
    started.wait(5)
    threading.Timer(0.3, release.set).start()
    try:
        with Catalog(path) as second:
            _photo(second, b"second.jpg")
            names = sorted(p.display_path for p in second.photos())
    except BaseException as exc:
        errors.append(exc)
    holder.join()
    assert not errors
    assert names == ["first.jpg", "second.jpg"]


def test_a_failed_change_leaves_nothing_behind(tmp_path: Path) -> None:
    with Catalog(tmp_path / "c.sqlite") as catalog:
        with pytest.raises(RuntimeError), catalog.transaction():
            photo = _photo(catalog, b"a.jpg")
            catalog.add_face(photo, (1, 1, 5, 5), None, score=0.9, quality=0.5, sharpness=1.0,
                             detector="yunet")
            raise RuntimeError("power cut")
        assert catalog.photos() == []
        assert catalog.faces() == []


def test_embeddings_come_back_as_float32_rows_in_face_order(tmp_path: Path) -> None:
    with Catalog(tmp_path / "c.sqlite") as catalog:
        photo = _photo(catalog, b"a.jpg")
        faces = [
            catalog.add_face(photo, (i, i, 5, 5), None, score=0.9, quality=0.5, sharpness=1.0,
                             detector="yunet")
            for i in range(3)
        ]
        vectors = np.eye(3, 4, dtype=np.float32)
        for face, vector in zip(reversed(faces), reversed(vectors), strict=True):
            catalog.put_embedding(face, "sface", vector)
        ids, matrix = catalog.embeddings("sface")
        assert ids.tolist() == faces
        assert matrix.dtype == np.float32
        np.testing.assert_array_equal(matrix, vectors)


def test_a_catalog_from_a_newer_program_is_refused_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    with Catalog(path):
        pass
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    with pytest.raises(CatalogError, match="newer facealbum"):
        Catalog(path)
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 1
    conn.close()


def test_a_file_that_is_not_a_catalog_is_refused_with_a_way_out(tmp_path: Path) -> None:
    path = tmp_path / "notes.sqlite"
    path.write_text("these are my notes, not a database\n" * 100)
    with pytest.raises(CatalogError, match="not a facealbum catalog"):
        Catalog(path)
    assert path.read_text().startswith("these are my notes")


def test_an_older_catalog_is_upgraded_in_place_and_keeps_its_facts(tmp_path: Path) -> None:
    from engine.catalog.imports import queue_regions, take_queued_regions
    path = tmp_path / "c.sqlite"
    conn = older_catalog(path, 2)
    conn.execute("INSERT INTO roots(id, path) VALUES (1, x'2f70')")
    conn.execute(
        "INSERT INTO photos(id, root_id, relpath, size, mtime_ns, sha256, status, scanned_at)"
        " VALUES (1, 1, x'612e6a7067', 1, 1, 'abc', 'ok', 0)"
    )
    conn.execute("INSERT INTO persons(id, name, created_at) VALUES (7, 'Anna', 0)")
    conn.close()

    with Catalog(path) as catalog:
        assert catalog.person(7).name == "Anna"
        queue_regions(catalog, 1, "abc", [("Anna", 0.5, 0.5, 0.2, 0.2, "Face")])
        assert take_queued_regions(catalog) == {1: [("Anna", 0.5, 0.5, 0.2, 0.2, "Face")]}
        assert take_queued_regions(catalog) == {}
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    conn.close()


def test_a_version_5_catalog_keeps_its_photos_and_faces_and_has_dates_to_read(
    tmp_path: Path,
) -> None:
    path = tmp_path / "c.sqlite"
    conn = older_catalog(path, 5)
    conn.execute("INSERT INTO roots(id, path) VALUES (1, x'2f70')")
    conn.execute(
        "INSERT INTO photos(id, root_id, relpath, size, mtime_ns, sha256, width, height, status,"
        " scanned_at, kind) VALUES (1, 1, x'612e6a7067', 9, 1234, 'abc', 640, 480, 'ok', 5,"
        " 'photo')"
    )
    conn.execute("INSERT INTO persons(id, name, created_at) VALUES (7, 'Anna', 0)")
    conn.execute(
        "INSERT INTO faces(id, photo_id, x, y, w, h, score, quality, sharpness, detector,"
        " person_id, assigned_by, created_at) VALUES (3, 1, 1, 2, 30, 40, 0.9, 0.5, 10, 'yunet',"
        " 7, 'user', 0)"
    )
    conn.close()

    with Catalog(path) as catalog:
        photo = catalog.photo(1)
        assert (photo.relpath, photo.size, photo.mtime_ns, photo.sha256) == (b"a.jpg", 9, 1234,
                                                                              "abc")
        assert (photo.taken, photo.taken_read) == (None, False)
        face = catalog.face(3)
        assert (face.photo_id, face.box, face.person_id, face.confirmed) == (
            1, (1.0, 2.0, 30.0, 40.0), 7, True)
        assert catalog.person(7).name == "Anna"
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("SELECT taken, taken_read FROM photos").fetchall() == [(None, 0)]
    conn.close()


def test_queued_regions_go_with_their_photo(tmp_path: Path) -> None:
    from engine.catalog.imports import queue_regions, take_queued_regions

    with Catalog(tmp_path / "c.sqlite") as catalog:
        root = catalog.root_id(tmp_path)
        photo = catalog.add_photo(root, b"a.jpg", size=1, mtime_ns=1, sha256="abc", width=10,
                                  height=10, status=PhotoStatus.OK)
        queue_regions(catalog, photo, "abc", [("Anna", 0.5, 0.5, 0.2, 0.2, "Face")])
        catalog.add_photo(root, b"a.jpg", size=2, mtime_ns=2, sha256="def", width=10,
                          height=10, status=PhotoStatus.OK)  # the file changed: a new row
        assert take_queued_regions(catalog) == {}


def test_a_connection_keeps_seeing_what_other_processes_write_after_a_catalog_opens_beside_it(
    tmp_path: Path,
) -> None:
    # Closing any descriptor of a file drops every POSIX lock the process holds
    # on it. Opening a second catalog beside a long-lived one (the app's
    # background reads) must not take the first one's locks: another process
    # would then think itself the last user, delete the write-ahead log, and
    # leave the first connection reading a deleted log for ever.
    import subprocess
    import sys

    path = tmp_path / "c.sqlite"
    writer = (
        "import sys\n"
        "from engine.catalog import Catalog, PhotoStatus\n"
        "cat = Catalog(sys.argv[1])\n"
        "root = cat.root_id(sys.argv[2])\n"
        "cat.add_photo(root, sys.argv[3].encode(), size=1, mtime_ns=1, sha256='s', width=1,\n"
        "              height=1, status=PhotoStatus.OK)\n"
        "print('written', flush=True)\n"
        "sys.stdin.read()  # stays open, as a scan does, until told to stop\n"
        "cat.close()\n"
    )
    repo = Path(__file__).resolve().parent.parent

    def write(name: str) -> subprocess.Popen[str]:
        child = subprocess.Popen(
            [sys.executable, "-c", writer, str(path), str(tmp_path), name], cwd=repo,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        assert child.stdout is not None and child.stdout.readline() == "written\n"
        return child

    with Catalog(path) as first:
        assert first.photos() == []
        with Catalog(path) as beside:
            beside.photos()
        done = write("a.jpg")
        done.communicate(timeout=120)  # closes: the last user, if the first lost its locks
        running = write("b.jpg")
        try:
            assert sorted(p.display_path for p in first.photos()) == ["a.jpg", "b.jpg"]
        finally:
            running.communicate(timeout=120)


def test_a_full_disk_does_not_stop_a_scan_from_taking_its_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno
    import os

    from engine.catalog import store

    def full(*_: object) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    with Catalog(tmp_path / "c.sqlite") as catalog:
        lock = catalog.scan_lock()
        monkeypatch.setattr(store.os, "write", full)
        assert lock.try_acquire()  # the pid is only for the next scan's message
        monkeypatch.setattr(store.os, "write", os.write)
        assert not catalog.scan_lock().try_acquire()  # still held
        lock.release()
        again = catalog.scan_lock()
        assert again.try_acquire()
        again.release()
