"""Write PNGs of the app's main views: ``python -m app.screenshots docs/screenshots``.

Real window grabs of the demo album: the script scans ``resources/demo`` into
a temporary catalog through the app itself (the scanning view is grabbed
half-way), names three people the way a user would (engine operations), and
grabs the welcome, scanning, people, person, photo viewer, review and export
views, and the window with the notice that follows a change (with its Undo). It
runs headless with ``QT_QPA_PLATFORM=offscreen``. It never touches the
user's catalog, settings or thumbnail cache.
"""

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QApplication, QWidget

from app.images import ImageCache
from app.main_window import MainWindow
from app.resources import app_icon
from app.session import Session
from app.settings import Settings, SettingsStore
from app.views.export_dialog import ExportDialog
from app.views.photo_viewer import PhotoViewer
from app.workers import Job, ThreadRunner
from engine import people
from engine.people.tagging import find_photo
from engine.progress import Progress

NAMES = {"obama_1.jpg": "Barack Obama", "chirac_1.jpg": "Jacques Chirac",
         "paul_rudd_1.jpg": "Paul Rudd"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="folder for the PNG files")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    if QApplication.instance() is None:
        QApplication(sys.argv[:1])
    QApplication.setWindowIcon(app_icon())
    with tempfile.TemporaryDirectory() as tmp:
        window = _window(Path(tmp))
        _grab(window, args.out / "welcome.png")
        _scan(window, args.out / "scanning.png")
        _name_people(window)
        window.show_people()
        window.notice.hide()  # the naming's notice has its own shot below
        _grab(window, args.out / "people.png")
        _notice(window, args.out / "notice.png")
        obama = _person_in(window, "obama_1.jpg")
        window.show_person(obama)
        _grab(window, args.out / "person.png")
        window.person_page.tabs.setCurrentIndex(1)
        window.person_page.face_grid.setCurrentIndex(window.person_page.faces.index(3))
        _grab(window, args.out / "person-faces.png")
        _viewer(window, "group_apollo11_crew.jpg", args.out / "viewer.png")
        _review(window, obama, args.out / "review.png")
        _export(window, Path(tmp) / "albums", args.out / "export.png")
        window.close()
    return 0


def _window(tmp: Path) -> MainWindow:
    runner = ThreadRunner()
    catalog = tmp / "catalog.sqlite"
    settings = Settings(catalog_path=str(catalog))
    session = Session(catalog, settings, runner, ImageCache(tmp / "thumbnails", runner))
    window = MainWindow(session, SettingsStore(tmp / "settings.ini"))
    window.resize(1180, 760)
    window.show()
    return window


def _scan(window: MainWindow, png: Path) -> None:
    grabbed: list[bool] = []

    def watch(job: Job) -> None:
        def on_progress(report: Progress) -> None:
            # Half way, once the first batch of faces is stored (faces are
            # counted as they are written, a batch of photos at a time).
            half = report.done >= report.total // 2 > 0
            if not grabbed and report.stage == "scanning" and half and report.info.get("faces"):
                grabbed.append(True)
                _spin(0.3)
                _grab(window, png, settle=0)

        job.progressed.connect(on_progress)

    window.session.job_started.connect(watch)
    window.welcome.demo_button.click()
    _wait(lambda: not window.session.busy(), 600)
    window.session.job_started.disconnect(watch)


def _name_people(window: MainWindow) -> None:
    for photo, name in NAMES.items():
        window.session.apply("Name", people.name_person, _person_in(window, photo), name)


def _notice(window: MainWindow, png: Path) -> None:
    # Naming someone in the grid, as a user would (someone unnamed, else the
    # smallest person by a shorter name); the notice says what happened, with
    # Undo on it. Undone afterwards, quietly.
    rows = people.people_rows(window.session.catalog)
    person = next((p for p in rows if not p.name), rows[-1])
    window.show_people()
    window.people_page.select_person(person.id)
    window.people_page.rename(person.id, person.name.split()[0] if person.name else "Anna")
    _grab(window, png)
    window.session.undo()
    window.notice.hide()


def _review(window: MainWindow, person_id: int, png: Path) -> None:
    # The demo album groups everyone cleanly, so review would have nothing to
    # ask; one of the person's faces goes back to the pile of faces of nobody
    # (not rejected) to show what a question looks like. Undone afterwards.
    catalog = window.session.catalog
    face = people.person_faces(catalog, person_id)[-1].id
    window.session.apply("Unassign", people.mark_faces, [face], "stranger")
    window.session.apply("Unassign", people.mark_faces, [face], "face")
    window.show_review(person_id)
    _grab(window, png)
    window.session.undo()
    window.session.undo()


def _viewer(window: MainWindow, photo: str, png: Path) -> None:
    # The photo viewer with its face boxes, one face chosen to show the panel.
    shown = find_photo(window.session.catalog, photo)
    viewer = PhotoViewer(window.session, [shown], 0, window, people_model=window.people_model)
    viewer.show()
    _wait(lambda: bool(viewer.canvas.shown), 30)
    viewer.select_face(viewer.canvas.shown[0].id)
    _grab(viewer, png, settle=3.0)
    viewer.close()


def _export(window: MainWindow, dest: Path, png: Path) -> None:
    window.show_people()
    dialog = ExportDialog(window.session, window.people_model, str(dest), window)
    dialog.show()
    dialog.start()
    _wait(lambda: dialog.job is None, 120)
    _grab(dialog, png)
    dialog.close()


def _person_in(window: MainWindow, photo: str) -> int:
    for summary in people.people(window.session.catalog, include_hidden=True):
        if photo in summary.photos:
            return summary.id
    raise LookupError(f"no person found in {photo}; did the scan of the demo album work?")


def _grab(widget: QWidget, png: Path, settle: float = 1.5) -> None:
    """Let lazy thumbnails arrive, then save what the widget shows."""
    _spin(settle)
    if not widget.grab().save(str(png)):
        raise OSError(f"cannot write {png}; check the folder is writable")


def _spin(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        QCoreApplication.processEvents()
        time.sleep(0.01)


def _wait(done: Callable[[], bool], seconds: float) -> None:
    end = time.monotonic() + seconds
    while not done():
        if time.monotonic() > end:
            raise TimeoutError(f"gave up waiting after {seconds} s")
        _spin(0.05)


if __name__ == "__main__":
    sys.exit(main())
