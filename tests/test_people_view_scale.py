"""The people view at scale: one query for the grid, covers only for what is painted.

A small catalog made through the engine's ``Catalog`` API holds every kind of
person the grid meets: named, unnamed, hidden, with a chosen cover, with a
chosen cover that moved to someone else, with faces in a missing photo,
merged away, and faces of nobody. The grid's one-statement read must give
exactly what the older record-by-record path gives, the model must show it,
and a grid of hundreds of people must ask for the thumbnails on screen only.
"""

import hashlib
import os
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap
from pytestqt.qtbot import QtBot

from app.images import ImageCache, thumb_key
from app.main_window import MainWindow
from app.models import CheckablePeople, PeopleFilter, PeopleModel, Role
from app.session import Session
from app.settings import Settings, SettingsStore
from app.workers import SyncRunner
from engine import people
from engine.catalog import Catalog, Photo, PhotoStatus
from engine.catalog.schema import MIGRATIONS, SCHEMA_VERSION

DEMO_PHOTO = Path(__file__).resolve().parent.parent / "resources" / "demo" / "obama_1.jpg"
BOX = (300.0, 90.0, 170.0, 210.0)


def sha(i: int) -> str:
    """A content hash of its own for each made-up photo (thumbnails are keyed by it)."""
    return hashlib.sha256(b"%d" % i).hexdigest()


class Mixed:
    """Ids of what ``make_mixed`` wrote, for the assertions."""

    def __init__(self) -> None:
        self.person: dict[str, int] = {}
        self.face: dict[str, int] = {}


def make_mixed(path: Path, photos_dir: Path) -> Mixed:
    made = Mixed()
    photos_dir.mkdir(parents=True, exist_ok=True)
    with Catalog(path) as cat, cat.transaction() as conn:
        root = cat.root_id(photos_dir)
        photo_ids = []
        for i in range(8):
            name = f"p{i}.jpg"
            os.symlink(DEMO_PHOTO, photos_dir / name)
            photo_ids.append(cat.add_photo(
                root, name.encode(), size=1, mtime_ns=1, sha256=sha(i), width=820, height=1024,
                status=PhotoStatus.MISSING if i == 7 else PhotoStatus.OK, detector="yunet"))

        def person(key: str, name: str | None = None, hidden: bool = False) -> int:
            cur = conn.execute("INSERT INTO persons(name, hidden, created_at) VALUES (?, ?, 0)",
                               (name, int(hidden)))
            made.person[key] = int(cur.lastrowid or 0)
            return made.person[key]

        def face(key: str, photo: int, quality: float, owner: int | None = None,
                 by: str = "auto", state: str = "face") -> int:
            box = (BOX[0] + len(made.face), *BOX[1:])
            face_id = cat.add_face(photo_ids[photo], box, None, score=0.9, quality=quality,
                                   sharpness=50.0, detector="yunet")
            conn.execute("UPDATE faces SET person_id = ?, assigned_by = ?, state = ? "
                         "WHERE id = ?", (owner, by if owner else None, state, face_id))
            made.face[key] = face_id
            return face_id

        ann = person("ann", "Ann")  # the best face is the cover, confirmed or not
        face("ann_best_auto", 0, 0.9, ann)
        face("ann_confirmed", 1, 0.4, ann, by="user")
        face("ann_same_photo", 1, 0.3, ann)
        face("ann_missing", 7, 0.99, ann, by="user")  # in a missing photo: not counted
        bo = person("bo")  # unnamed, a tie in quality: the older face
        face("bo_first", 2, 0.5, bo)
        face("bo_second", 3, 0.5, bo)
        face("bo_not_a_face", 3, 0.95, bo, state="not_face")
        cy = person("cy", "Cy", hidden=True)
        face("cy_one", 4, 0.7, cy)
        dee = person("dee", "Dee")  # a chosen cover that is not the best face
        face("dee_best", 5, 0.8, dee)
        face("dee_chosen", 6, 0.2, dee)
        conn.execute("UPDATE persons SET cover_face_id = ? WHERE id = ?",
                     (made.face["dee_chosen"], dee))
        eve = person("eve")  # her chosen cover went to Ann: the best face again
        face("eve_best", 2, 0.6, eve)
        face("eve_other", 4, 0.1, eve)
        conn.execute("UPDATE persons SET cover_face_id = ? WHERE id = ?",
                     (made.face["ann_best_auto"], eve))
        gone = person("gone", "Gone")  # faces in a missing photo only: not listed
        face("gone_only", 7, 0.5, gone)
        merged = person("merged", "Merged")
        conn.execute("UPDATE persons SET merged_into = ? WHERE id = ?", (ann, merged))
        person("empty", "Empty")  # no face at all: not listed
        face("nobody_1", 0, 0.5)
        face("nobody_2", 5, 0.5)
        face("nobody_missing", 7, 0.5)  # unassigned count ignores the photo's state
    return made


@pytest.fixture
def mixed(tmp_path: Path) -> tuple[Path, Mixed]:
    catalog = tmp_path / "mixed.sqlite"
    return catalog, make_mixed(catalog, tmp_path / "photos")


def fields(p: people.PersonSummary | people.PersonRow) -> tuple[object, ...]:
    return (p.id, p.name, bool(p.hidden), p.face_count, p.photo_count, p.confirmed_count,
            p.cover_face_id)


def test_grid_rows_match_the_people_read_with_photo_paths(mixed: tuple[Path, Mixed]) -> None:
    catalog, made = mixed
    with Catalog(catalog) as cat:
        for include_hidden in (True, False):
            slow = people.people(cat, include_hidden=include_hidden)
            rows = people.people_rows(cat, include_hidden=include_hidden)
            summaries = people.people(cat, include_hidden=include_hidden, with_photos=False)
            assert [fields(r) for r in rows] == [fields(p) for p in slow]
            assert [fields(s) for s in summaries] == [fields(p) for p in slow]
        rows = people.people_rows(cat, include_hidden=True)
    by_key = {key: next((r for r in rows if r.id == pid), None)
              for key, pid in made.person.items()}
    ann, bo, cy, dee, eve = (by_key[k] for k in ("ann", "bo", "cy", "dee", "eve"))
    assert ann is not None and (ann.face_count, ann.photo_count, ann.confirmed_count) == (3, 2, 1)
    assert ann.cover_face_id == made.face["ann_best_auto"]
    assert bo is not None and (bo.face_count, bo.cover_face_id) == (2, made.face["bo_first"])
    assert cy is not None and cy.hidden
    assert dee is not None and dee.cover_face_id == made.face["dee_chosen"]
    assert eve is not None and eve.cover_face_id == made.face["eve_best"]
    assert by_key["gone"] is None and by_key["merged"] is None and by_key["empty"] is None
    assert [r.name for r in rows] == ["Ann", "Dee", None, None, "Cy"]  # largest, named first


def test_grid_counts_are_read_from_one_index_without_visiting_faces(
    mixed: tuple[Path, Mixed]
) -> None:
    from engine.catalog.people import _PEOPLE_ROWS_ORDER, _PEOPLE_ROWS_SQL

    catalog, _ = mixed
    with Catalog(catalog) as cat:
        plan = [row[3] for row in cat._conn.execute(
            "EXPLAIN QUERY PLAN " + _PEOPLE_ROWS_SQL + _PEOPLE_ROWS_ORDER)]
    faces_steps = [step for step in plan if " f " in f" {step} " or step.endswith(" f")]
    assert faces_steps, plan
    assert all("faces_person_live" in step for step in faces_steps), plan
    assert any("COVERING INDEX faces_person_live" in step for step in faces_steps), plan


def test_a_version_1_catalog_gains_the_people_index_and_keeps_its_faces(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    conn = sqlite3.connect(path, isolation_level=None)
    MIGRATIONS[0](conn)
    conn.execute("PRAGMA user_version = 1")
    conn.execute("INSERT INTO roots(id, path) VALUES (1, x'2f')")
    conn.execute("INSERT INTO photos(id, root_id, relpath, size, mtime_ns, status, scanned_at)"
                 " VALUES (1, 1, x'61', 1, 1, 'ok', 0)")
    conn.execute("INSERT INTO persons(id, name, created_at) VALUES (1, 'Ann', 0)")
    conn.execute("INSERT INTO faces(photo_id, x, y, w, h, score, quality, sharpness, detector,"
                 " person_id, assigned_by, created_at) VALUES (1, 0, 0, 9, 9, 1, 0.5, 1, 'y',"
                 " 1, 'user', 0)")
    conn.close()
    with Catalog(path) as cat:
        indexes = {r[0] for r in cat._conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'faces'")}
        version = cat._conn.execute("PRAGMA user_version").fetchone()[0]
        rows = people.people_rows(cat)
    assert version == SCHEMA_VERSION >= 2
    assert "faces_person_live" in indexes and "faces_person" not in indexes
    assert [(r.name, r.face_count, r.confirmed_count) for r in rows] == [("Ann", 1, 1)]


def open_session(catalog: Path, tmp_path: Path, images_runner: object = None) -> Session:
    runner = SyncRunner()
    images = ImageCache(tmp_path / "thumbs", images_runner or runner)  # type: ignore[arg-type]
    return Session(catalog, Settings(catalog_path=str(catalog)), runner, images)


def wait_for(qtbot: QtBot, done: Callable[[], bool]) -> None:
    qtbot.waitUntil(done, timeout=5000)


def test_people_model_shows_names_counts_and_covers(
    qtbot: QtBot, mixed: tuple[Path, Mixed], tmp_path: Path
) -> None:
    catalog, made = mixed
    session = open_session(catalog, tmp_path)
    model = PeopleModel(session)
    assert model.rowCount() == 5 and model.unassigned == 3
    shown = [(model.index(r).data(), model.index(r).data(Role.SUBTITLE),
              model.index(r).data(Role.HIDDEN)) for r in range(model.rowCount())]
    assert shown == [("Ann", "2 photos", False), ("Dee", "2 photos", False),
                     ("Unnamed", "2 photos", False), ("Unnamed", "2 photos", False),
                     ("Cy", "1 photo", True)]
    ann = made.person["ann"]
    summary = model.summary(ann)
    assert summary is not None and (summary.face_count, summary.confirmed_count) == (3, 1)
    assert model.summary_at(0) is summary
    cover = model.cover(ann)
    assert cover is not None and cover[0].id == made.face["ann_best_auto"]
    assert cover[1].id == cover[0].photo_id and cover[1].display_path == "p0.jpg"
    assert model.find_named("dee") == made.person["dee"]
    assert model.names() == ["Ann", "Cy", "Dee"]

    first = model.index(0)
    assert first.data(Qt.ItemDataRole.DecorationRole) is None  # asked for, on its way
    wait_for(qtbot, lambda: isinstance(first.data(Qt.ItemDataRole.DecorationRole), QPixmap))
    pixmap = first.data(Qt.ItemDataRole.DecorationRole)
    assert (pixmap.width(), pixmap.height()) == (160, 160)

    visible = PeopleFilter(model)
    assert visible.rowCount() == 4
    visible.set_mode("hidden")
    assert [visible.index(r, 0).data() for r in range(visible.rowCount())] == ["Cy"]
    export = CheckablePeople(model)  # named people who are not hidden, checked at first
    assert export.chosen() == [made.person["ann"], made.person["dee"]]
    assert export.index(0, 0).data() == "Ann  ·  2 photos"
    session.close()


def test_people_model_follows_a_rename_and_a_new_cover(
    qtbot: QtBot, mixed: tuple[Path, Mixed], tmp_path: Path
) -> None:
    catalog, made = mixed
    session = open_session(catalog, tmp_path)
    model = PeopleModel(session)
    bo = made.person["bo"]
    assert model.cover(bo) is not None
    session.apply("Name", people.name_person, bo, "Bo")
    session.apply("Cover", people.set_cover, bo, made.face["bo_second"])
    assert model.summary(bo) is not None and model.summary(bo).name == "Bo"  # type: ignore[union-attr]
    cover = model.cover(bo)
    assert cover is not None and cover[0].id == made.face["bo_second"]
    session.close()


class Parked:
    """A runner that keeps image tasks instead of running them, to count them."""

    def __init__(self) -> None:
        self.tasks: list[Callable[[], None]] = []

    def submit(self, task: Callable[[], None], lane: str = "images") -> None:
        self.tasks.append(task)


def make_many(path: Path, photos_dir: Path, n: int) -> None:
    photos_dir.mkdir(parents=True, exist_ok=True)
    with Catalog(path) as cat, cat.transaction() as conn:
        root = cat.root_id(photos_dir)
        for i in range(n):
            photo = cat.add_photo(root, f"p{i}.jpg".encode(), size=1, mtime_ns=1,
                                  sha256=sha(i), width=820, height=1024,
                                  status=PhotoStatus.OK, detector="yunet")
            cur = conn.execute("INSERT INTO persons(name, created_at) VALUES (?, ?)",
                               (f"Person {i}", time.time()))
            face = cat.add_face(photo, BOX, None, score=0.9, quality=0.5, sharpness=50.0,
                                detector="yunet")
            conn.execute("UPDATE faces SET person_id = ?, assigned_by = 'auto' WHERE id = ?",
                         (cur.lastrowid, face))


def test_a_large_grid_asks_for_the_covers_on_screen_only(qtbot: QtBot, tmp_path: Path) -> None:
    catalog = tmp_path / "many.sqlite"
    make_many(catalog, tmp_path / "photos", 600)
    parked = Parked()
    session = open_session(catalog, tmp_path, parked)
    window = MainWindow(session, SettingsStore(tmp_path / "settings.ini"))
    qtbot.addWidget(window)
    window.resize(900, 600)
    window.show()
    qtbot.waitExposed(window)
    grid = window.people_page.grid
    wait_for(qtbot, lambda: session.images.requested > 0)  # the grid lays out, then paints
    qtbot.wait(100)
    area = grid.viewport().rect()
    on_screen = sum(
        1 for r in range(window.people_page.proxy.rowCount())
        if grid.visualRect(window.people_page.proxy.index(r, 0)).intersects(area))
    assert window.people_model.rowCount() == 600
    assert 0 < on_screen < 100
    assert 0 < session.images.requested == len(parked.tasks) <= on_screen
    window.close()
    session.close()


def test_thumbnails_asked_last_are_made_first_and_old_requests_give_way(
    qtbot: QtBot, tmp_path: Path
) -> None:
    photos = [Photo(id=i, root=str(DEMO_PHOTO.parent).encode(), relpath=DEMO_PHOTO.name.encode(),
                    size=1, mtime_ns=1, sha256=sha(i), width=820, height=1024,
                    status=PhotoStatus.OK, problem=None, detector="yunet", scanned_at=0.0)
              for i in range(5)]
    parked = Parked()
    cache = ImageCache(tmp_path / "thumbs", parked, queue_items=3)  # type: ignore[arg-type]
    made: list[str] = []
    cache.ready.connect(made.append)
    for photo in photos:  # scrolling past five tiles
        assert cache.photo_thumb(photo, 32) is None
    assert cache.requested == len(parked.tasks) == 5
    for task in parked.tasks:
        task()
    qtbot.waitUntil(lambda: len(made) == 3, timeout=5000)
    assert made == [thumb_key(photos[i], 32) for i in (4, 3, 2)]
    assert isinstance(cache.photo_thumb(photos[4], 32), QPixmap)
    assert cache.photo_thumb(photos[0], 32) is None  # gave way; painted again, asked again
    assert cache.requested == 6
