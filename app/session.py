"""The GUI thread's handle on one open catalog.

``Session`` owns the GUI thread's ``Catalog`` connection and is the one door
through which a user's decision reaches the engine: ``session.apply`` calls an
engine operation, turns a ``FaceAlbumError`` into the ``error`` signal (the
window shows it as a dialog) and announces ``changed`` so every item model re-
reads what it shows. It holds no domain state: what people exist, who is in
them and what can be undone is always asked of the engine. It never writes to
the catalog except through an engine operation.
"""

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from PySide6.QtCore import QObject, Signal

from app.images import ImageCache
from app.settings import Settings
from app.workers import Job, Runner, Work
from engine import people
from engine.catalog import Catalog
from engine.errors import FaceAlbumError

log = logging.getLogger(__name__)

T = TypeVar("T")


class Session(QObject):
    """One open catalog, the settings in force, and the workers that serve them."""

    changed = Signal()  # people, faces or names may differ: re-read
    error = Signal(str, str)  # title, message (what happened, what to do)
    job_started = Signal(object)  # Job

    def __init__(
        self, catalog_path: Path, settings: Settings, runner: Runner, images: ImageCache
    ) -> None:
        super().__init__()
        self.catalog_path = Path(catalog_path)
        self.catalog = Catalog(self.catalog_path)
        self.settings = settings
        self.runner = runner
        self.images = images
        self.jobs: list[Job] = []
        self.closed = False

    def close(self) -> None:
        """Stop the workers and close the catalog; signals still queued are dropped."""
        self.closed = True
        self.runner.wait()
        self.catalog.close()

    def announce_change(self) -> None:
        """Tell every view to re-read (unless the session has closed meanwhile)."""
        if not self.closed:
            self.changed.emit()

    # -- user operations ---------------------------------------------------------

    def apply(self, title: str, operation: Callable[..., object], *args: Any) -> bool:
        """Run one engine operation on this catalog; False if the engine refused it
        (the user has been told why)."""
        return self._run(title, operation, *args)[0]

    def call(self, title: str, operation: Callable[..., T], *args: Any) -> T | None:
        """``apply`` for an operation whose result the caller needs (a new person's id)."""
        return self._run(title, operation, *args)[1]

    def _run(self, title: str, operation: Callable[..., T], *args: Any) -> tuple[bool, T | None]:
        try:
            result = operation(self.catalog, *args)
        except FaceAlbumError as exc:
            self.error.emit(title, str(exc))
            return False, None
        self.announce_change()
        return True, result

    def undo(self) -> None:
        self.apply("Undo", people.undo)

    def redo(self) -> None:
        self.apply("Redo", people.redo)

    # -- long work ------------------------------------------------------------------

    def start_job(
        self,
        title: str,
        work: Work,
        *,
        prepare: Callable[[Job], None] | None = None,
    ) -> Job:
        """Run ``work`` on a worker thread with its own catalog connection.

        ``prepare`` connects to the job's signals before the work starts, so
        it sees every report even when the runner is synchronous.
        """
        job = Job(title, self.catalog_path, work)
        job.failed.connect(lambda message: self.error.emit(title, message))
        job.ended.connect(self.announce_change)
        job.ended.connect(lambda: self.jobs.remove(job) if job in self.jobs else None)
        if prepare is not None:
            prepare(job)
        self.jobs.append(job)
        self.job_started.emit(job)
        self.runner.start(job)
        return job

    def busy(self) -> bool:
        """True from a job's start until its ``ended`` signal has arrived."""
        return bool(self.jobs)

