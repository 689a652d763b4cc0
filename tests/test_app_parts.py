"""The app's parts on their own: settings, workers, the image cache, icons, start-up.

Small real inputs: an ini file in a temporary folder, a demo photo, a tiny
generator standing in for long work. The user's own settings, catalog and
caches are never touched.
"""

import re
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QSize
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication, QLabel
from pytestqt.qtbot import QtBot

from app import __version__
from app.images import ImageCache
from app.jobs import PEOPLE_CHANGED, scan_work
from app.main import main
from app.resources import demo_album, icon, resource_dir
from app.session import Session
from app.settings import SETTINGS_VERSION, Settings, SettingsStore
from app.views.settings_dialog import SettingsDialog
from app.workers import Job, SyncRunner, Work
from engine import people
from engine.catalog import Catalog, Photo, PhotoStatus, store
from engine.errors import FaceAlbumError, PhotoError
from engine.progress import CancelToken, Progress
from engine.scan import ScanOptions

APP_DIR = Path(__file__).resolve().parent.parent / "app"


# -- settings ------------------------------------------------------------------------------


def test_settings_are_remembered_between_runs(tmp_path: Path) -> None:
    ini = tmp_path / "settings.ini"
    chosen = Settings(device="cpu", embedder="facenet", strictness=0.8,
                      catalog_path=str(tmp_path / "c.sqlite"), last_folder="/photos")
    SettingsStore(ini).save(chosen)
    assert SettingsStore(ini).load() == chosen


def test_settings_written_by_another_version_are_not_misread(tmp_path: Path) -> None:
    written = tmp_path / "written.ini"
    SettingsStore(written).save(Settings(device="cpu"))
    text = written.read_text().replace(f"settings_version={SETTINGS_VERSION}",
                                       f"settings_version={SETTINGS_VERSION + 1}")
    newer = tmp_path / "newer.ini"  # a file QSettings has not cached
    newer.write_text(text)
    assert "device=cpu" in text
    assert SettingsStore(newer).load() == Settings()


def test_settings_out_of_range_fall_back_to_their_defaults(tmp_path: Path) -> None:
    odd = Settings(device="tpu", embedder="nonexistent", strictness=7.0).validated()
    assert (odd.device, odd.embedder, odd.strictness) == ("auto", "sface", 1.0)


def test_settings_dialog_previews_how_many_people_a_strictness_makes(
    qtbot: QtBot, scanned_demo: Path, tmp_path: Path
) -> None:
    with Catalog(scanned_demo) as catalog:
        for _ in people.update_people(catalog):
            pass
        lenient = people.preview_cluster_count(catalog, 0.0)
        strict = people.preview_cluster_count(catalog, 1.0)
    runner = SyncRunner()
    session = Session(scanned_demo, Settings(strictness=0.5), runner,
                      ImageCache(tmp_path / "thumbs", runner))
    dialog = SettingsDialog(session.settings, session)
    qtbot.addWidget(dialog)
    dialog.strictness.setValue(0)
    dialog.update_preview()  # what the debounce timer does once dragging stops
    assert f"<b>{lenient}</b>" in dialog.preview_label.text()
    dialog.strictness.setValue(100)
    qtbot.waitUntil(lambda: f"<b>{strict}</b>" in dialog.preview_label.text())
    assert dialog.result_settings().strictness == 1.0
    session.close()


# -- workers ---------------------------------------------------------------------------------


def counting(n: int, fail_at: int | None = None, error: Exception | None = None) -> Work:
    def work(catalog: Catalog, cancel: CancelToken) -> Iterator[Progress]:
        for i in range(n):
            if cancel.cancelled:
                return
            if i == fail_at and error is not None:
                raise error
            yield Progress("counting", i + 1, n)

    return work


def test_a_job_reports_each_step_and_its_success(qtbot: QtBot, tmp_path: Path) -> None:
    job = Job("Counting", tmp_path / "c.sqlite", counting(5))
    seen: list[int] = []
    job.progressed.connect(lambda p: seen.append(p.done))
    with qtbot.waitSignal(job.succeeded, timeout=1000):
        SyncRunner().start(job)
    assert seen == [1, 2, 3, 4, 5]


def test_cancelling_a_job_stops_it_between_two_items(qtbot: QtBot, tmp_path: Path) -> None:
    job = Job("Counting", tmp_path / "c.sqlite", counting(100))
    job.progressed.connect(lambda p: job.cancel() if p.done == 3 else None)
    with qtbot.waitSignal(job.cancelled, timeout=1000):
        SyncRunner().start(job)
    assert job.last is not None and job.last.done == 3


def test_a_failing_job_says_what_happened(qtbot: QtBot, tmp_path: Path) -> None:
    known = Job("Counting", tmp_path / "c.sqlite",
                counting(5, 2, FaceAlbumError("expected a folder, got a file; pass a folder")))
    with qtbot.waitSignal(known.failed, timeout=1000) as blocker:
        SyncRunner().start(known)
    assert blocker.args == ["expected a folder, got a file; pass a folder"]

    surprise = Job("Counting", tmp_path / "c.sqlite", counting(5, 1, KeyError("x")))
    with qtbot.waitSignal(surprise.failed, timeout=1000) as blocker:
        SyncRunner().start(surprise)
    assert "unexpected error: KeyError" in blocker.args[0]


# -- images ----------------------------------------------------------------------------------


def demo_photo(tmp_path: Path, name: str = "obama_1.jpg") -> Photo:
    folder = tmp_path / "photos"
    folder.mkdir(exist_ok=True)
    shutil.copy(demo_album() / name, folder / name)
    from PIL import Image

    with Image.open(folder / name) as image:
        width, height = image.size
    return Photo(id=1, root=str(folder).encode(), relpath=name.encode(), size=1, mtime_ns=1,
                 sha256="ab" * 32, width=width, height=height, status=PhotoStatus.OK,
                 problem=None, detector="yunet", scanned_at=0.0)


def test_face_crops_load_lazily_and_are_kept_on_disk(qtbot: QtBot, tmp_path: Path) -> None:
    photo = demo_photo(tmp_path)
    cache = ImageCache(tmp_path / "thumbs", SyncRunner())
    box = (300.0, 100.0, 200.0, 240.0)
    assert cache.face_crop(photo, box, 96) is None  # asked, not ready yet
    with qtbot.waitSignal(cache.ready, timeout=2000):
        pass
    crop = cache.face_crop(photo, box, 96)
    assert crop is not None and (crop.width(), crop.height()) == (96, 96)
    assert len(list((tmp_path / "thumbs").rglob("*.jpg"))) == 1

    Path(photo.path).unlink()  # a second run needs no photo: the disk cache answers
    again = ImageCache(tmp_path / "thumbs", SyncRunner())
    again.face_crop(photo, box, 96)
    with qtbot.waitSignal(again.ready, timeout=2000):
        pass
    assert again.face_crop(photo, box, 96) is not None


def test_an_unreadable_photo_shows_a_placeholder_instead_of_failing_again(
    qtbot: QtBot, tmp_path: Path
) -> None:
    photo = demo_photo(tmp_path)
    Path(photo.path).write_bytes(b"not a photo")
    cache = ImageCache(tmp_path / "thumbs", SyncRunner())
    cache.photo_thumb(photo, 64)
    with qtbot.waitSignal(cache.ready, timeout=2000) as blocker:
        pass
    assert cache.is_broken(blocker.args[0])
    assert cache.photo_thumb(photo, 64) is None
    with pytest.raises(PhotoError):  # what the cache met, for the record
        from engine.imageio import load_oriented

        load_oriented(photo.path, 64)


# -- icons and start-up ------------------------------------------------------------------------


def test_every_icon_the_app_names_exists_and_draws_at_high_dpi(qtbot: QtBot) -> None:
    names = set()
    for source in APP_DIR.rglob("*.py"):
        names.update(re.findall(r'icon\("([a-z-]+)"\)', source.read_text()))
    assert len(names) > 20
    for name in sorted(names):
        assert (resource_dir() / "icons" / f"{name}.svg").is_file(), name
        image = icon(name).pixmap(QSize(24, 24), 2.0).toImage()
        assert (image.width(), image.height()) == (48, 48)
        assert any(image.pixelColor(x, y).alpha() > 0 for x in range(48) for y in range(48)), name


def test_icons_follow_a_dark_palette(qtbot: QtBot) -> None:
    app = QApplication.instance()
    assert isinstance(app, QGuiApplication)
    old = app.palette()
    dark = QPalette(old)
    dark.setColor(QPalette.ColorRole.WindowText, QColor("#f0f0f0"))
    try:
        app.setPalette(dark)
        image = icon("merge").pixmap(QSize(32, 32), 1.0).toImage()
        inked = [image.pixelColor(x, y) for x in range(32) for y in range(32)
                 if image.pixelColor(x, y).alpha() == 255]
        assert inked and all(c.lightness() > 200 for c in inked)
    finally:
        app.setPalette(old)


def test_qt_calls_leave_the_reference_count_of_none_alone(qtbot: QtBot) -> None:
    # PySide6 6.12.0 under Python 3.11 drops a reference to None on every call
    # of a void method; a long scan then aborts the app ("none_dealloc").
    label = QLabel()
    qtbot.addWidget(label)
    before = sys.getrefcount(None)
    for _ in range(2000):
        label.setText("x")
        label.setEnabled(True)
    assert sys.getrefcount(None) >= before - 100


def test_the_app_tells_its_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    assert capsys.readouterr().out.strip() == f"facealbum {__version__}"


# -- the scan job ---------------------------------------------------------------------------------


@pytest.mark.slow  # scans real photos with the real detector and embedder
def test_people_updates_during_a_scan_end_where_a_single_update_would(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("chirac_1.jpg", "chirac_2.jpg", "obama_1.jpg", "obama_2.jpg", "obama_3.jpg",
                 "noface_pen.jpg"):
        shutil.copy(demo_album() / name, folder / name)
    outcomes = []
    for first, every in ((0.0, 0.0), (1e9, 1e9)):  # after every photo; only at the end
        work = scan_work([folder], ScanOptions(device="cpu"), 0.5, first, every)
        with Catalog(tmp_path / f"catalog-{first}.sqlite") as catalog:
            reports = list(work(catalog, CancelToken()))
            groups = sorted(sorted(s.photos) for s in people.people(catalog))
        mid_scan = [r for r in reports if r.stage == "scanning" and r.info.get(PEOPLE_CHANGED)]
        outcomes.append((len(mid_scan), groups))
    (updates_during, during), (updates_single, single) = outcomes
    assert updates_during >= 4 and updates_single == 0
    assert reports[-1].info.get(PEOPLE_CHANGED)  # the window re-reads at the end
    assert during == single == [["chirac_1.jpg", "chirac_2.jpg"],
                                ["obama_1.jpg", "obama_2.jpg", "obama_3.jpg"]]


def test_a_face_at_the_edge_of_a_photo_gets_a_crop_without_a_blank_wedge(tmp_path: Path) -> None:
    from PIL import Image

    from app.images import _crop

    folder = tmp_path / "photos"
    folder.mkdir()
    Image.new("RGB", (300, 200), (40, 60, 80)).save(folder / "edge.jpg", quality=95)
    photo = Photo(id=1, root=str(folder).encode(), relpath=b"edge.jpg", size=1, mtime_ns=1,
                  sha256="cd" * 32, width=300, height=200, status=PhotoStatus.OK,
                  problem=None, detector="yunet", scanned_at=0.0)
    for box in ((250.0, 150.0, 60.0, 60.0), (-10.0, -5.0, 50.0, 50.0), (0.0, 0.0, 300.0, 200.0)):
        crop = _crop(photo, box, 64)
        assert crop.size == (64, 64)
        brightest = max(max(channel) for channel in crop.getextrema())
        assert brightest < 120, f"a blank band in the crop of {box}"


def test_the_catalog_is_checked_whole_off_the_gui_thread_before_the_first_edit(
    tmp_path: Path,
) -> None:
    """``quick_check`` reads every page before the first write (1.7 s on a
    catalog of 100,000 photos); the session has it done on a lane of its own
    when it opens (the views' first reads do not queue behind it), so the
    user's first edit does not wait for it."""
    path = tmp_path / "c.sqlite"
    with Catalog(path) as cat:
        cat.set_meta("made", "here")  # a catalog written before: one to check
    store._VERIFIED.clear()  # as in a new process
    checked: list[str] = []

    class Lane(SyncRunner):
        def submit(self, task, lane: str = "images") -> None:  # type: ignore[no-untyped-def]
            checked.append(lane)
            super().submit(task, lane)

    runner = Lane()
    session = Session(path, Settings(catalog_path=str(path)), runner,
                      ImageCache(tmp_path / "thumbs", runner))
    try:
        statements: list[str] = []
        session.catalog._conn.set_trace_callback(statements.append)
        session.catalog.set_meta("edited", "yes")  # the GUI thread's first write
        assert "checks" in checked
        assert not [s for s in statements if "quick_check" in s]
        assert session.catalog.get_meta("edited") == "yes"
    finally:
        session.close()
