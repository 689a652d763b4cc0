"""Start the desktop app: ``facealbum-app [FOLDER] [--catalog PATH] [--version]``.

Parses the few command-line options, loads the settings, opens the catalog and
shows the main window; given a FOLDER it starts scanning it at once.
``--check-display`` only says whether a window can open here (``app.display``).
``--demo`` scans the built-in demo album. ``--quit-after-scan`` (for smoke
tests of a bundle) ends the program when that scan ends, with status 0 only if
it succeeded. It never scans or reads photos itself; the window and the
session do.

Qt and the window are imported inside ``main``, not at the top: a scan runs
in a spawned child process, and such a child imports the program's entry
module again (the ``facealbum-app`` script imports this one); it must stay
free of Qt and quick to start.
"""

import argparse
import gc
import multiprocessing
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from app import APP_NAME, APP_TITLE, __version__

if TYPE_CHECKING:
    from app.workers import Job


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="facealbum-app", description="Find the people in your photos: the desktop app."
    )
    parser.add_argument("folder", nargs="?", type=Path, help="a folder of photos to scan now")
    parser.add_argument("--demo", action="store_true",
                        help="scan the built-in demo album now (instead of FOLDER)")
    parser.add_argument("--catalog", type=Path, default=None,
                        help="catalog file (default: the one chosen in Settings, or "
                             "$FACEALBUM_CATALOG)")
    parser.add_argument("--settings", type=Path, default=None,
                        help="keep settings in this ini file instead of the usual place")
    parser.add_argument("--quit-after-scan", action="store_true",
                        help="quit when the scan of FOLDER ends (smoke tests)")
    parser.add_argument("--check-display", action="store_true",
                        help="only say whether a window can open here (status 0), or why "
                             "not and what to install (status 3); `make run` asks first")
    parser.add_argument("--version", action="version", version=f"{APP_NAME} {__version__}")
    return parser


def main(argv: list[str] | None = None) -> int:
    # A bundled program starts its worker processes as itself; this makes
    # such a start run the worker instead of a second window.
    multiprocessing.freeze_support()
    args = build_parser().parse_args(argv)
    if args.check_display:
        from app.display import display_problem

        problem = display_problem()
        if problem is not None:
            sys.stderr.write(problem + "\n")
            return 3
        return 0

    from PySide6.QtWidgets import QApplication, QMessageBox

    from app.images import ImageCache, default_cache_dir
    from app.main_window import MainWindow
    from app.resources import app_icon, demo_album
    from app.session import Session
    from app.settings import SettingsStore
    from app.workers import ThreadRunner
    from engine.errors import FaceAlbumError

    if QApplication.instance() is None:
        QApplication(sys.argv[:1])
    QApplication.setApplicationName(APP_NAME)
    QApplication.setApplicationDisplayName(APP_TITLE)
    QApplication.setApplicationVersion(__version__)
    QApplication.setOrganizationName(APP_NAME)
    QApplication.setWindowIcon(app_icon())

    store = SettingsStore(args.settings)
    settings = store.load()
    env = os.environ.get("FACEALBUM_CATALOG")
    catalog = args.catalog or (Path(env) if env else Path(settings.catalog_path))
    runner = ThreadRunner()
    try:
        session = Session(catalog, settings, runner, ImageCache(default_cache_dir(), runner))
    except FaceAlbumError as exc:
        QMessageBox.critical(None, APP_TITLE, f"{exc}")
        return 2
    window = MainWindow(session, store)
    window.show()
    settle_heap()
    folder = demo_album() if args.demo else args.folder
    if folder is not None:
        if args.quit_after_scan:
            session.job_started.connect(_quit_when_done)
        if window.scan([folder]) is None:
            return 1
    return int(QApplication.exec())


def settle_heap() -> None:
    """Keep the garbage collector's full passes short once the window is up.

    A full pass walks every object the program tracks: with torch, numpy and
    Qt loaded that is about 220,000 objects and 100 ms of holding the
    interpreter lock, a visible freeze of the window whichever thread it falls
    on. What exists once the window is built (modules, classes, the window)
    lives as long as the program, so it is moved out of the collector's sight;
    later passes look only at what came after.
    """
    gc.collect()
    gc.freeze()


def _quit_when_done(job: "Job") -> None:
    from PySide6.QtWidgets import QApplication

    job.succeeded.connect(lambda: QApplication.exit(0))
    job.failed.connect(lambda _message: QApplication.exit(1))
    job.cancelled.connect(lambda: QApplication.exit(1))
