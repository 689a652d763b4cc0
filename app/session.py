"""The GUI thread's handle on one open catalog.

``Session`` owns the GUI thread's ``Catalog`` connection and is the one door
through which a user's decision reaches the engine: ``session.apply`` calls an
engine operation, turns a ``FaceAlbumError`` into the ``error`` signal (the
window shows it as a dialog) and announces ``changed`` so every item model re-
reads what it shows. After every operation it applies, and after Undo and
Redo, it says what happened in words (``notice``: the window shows it with an
Undo or Redo button that acts on that operation alone). It holds no domain
state: what people exist, who is in them and what can be undone is always
asked of the engine. It never writes to the catalog except through an engine
operation.
"""

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from PySide6.QtCore import QObject, Signal

from app.describe import describe_operation
from app.images import ImageCache
from app.settings import Settings
from app.workers import Job, Runner, Work
from engine import people
from engine.catalog import Catalog, DatabaseError, Operation
from engine.errors import FaceAlbumError

log = logging.getLogger(__name__)

T = TypeVar("T")


class Session(QObject):
    """One open catalog, the settings in force, and the workers that serve them."""

    changed = Signal()  # people, faces or names may differ: re-read
    error = Signal(str, str)  # title, message (what happened, what to do)
    job_started = Signal(object)  # Job
    job_ended = Signal()  # a job has ended and ``busy`` no longer counts it
    # What an operation, Undo or Redo just did: (text, "undo" or "redo": what
    # the notice's button offers, the id of the operation it acts on).
    notice = Signal(str, str, int)

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
        # The first write checks the whole file (``Catalog.verify``: 1.7 s
        # for 100,000 photos). Done now, off the GUI thread and beside the
        # views' first reads rather than before them, the file is known whole
        # when the user's first edit comes, unless it changed meanwhile.
        runner.submit(self._check_catalog, lane="checks")

    def _check_catalog(self) -> None:
        try:
            with Catalog(self.catalog_path) as catalog:
                catalog.verify()
        except (FaceAlbumError, DatabaseError) as exc:
            # The first edit meets it again, and shows the user why.
            log.warning("checking the catalog failed: %s", exc)

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
            latest = people.next_undo(self.catalog)
            result = operation(self.catalog, *args)
            logged = people.next_undo(self.catalog)
        except FaceAlbumError as exc:
            self.error.emit(title, str(exc))
            return False, None
        if logged is not None and (latest is None or logged.id != latest.id):
            self._tell("", logged, "undo")
        self.announce_change()
        return True, result

    def undo(self, operation_id: int | None = None) -> None:
        """Take back the latest operation; given ``operation_id``, only if it is that one."""
        self._step("Undo", people.next_undo, people.undo, operation_id, "Undone: ", "redo")

    def redo(self, operation_id: int | None = None) -> None:
        """Do again the operation undone last; given ``operation_id``, only if it is that one."""
        self._step("Redo", people.next_redo, people.redo, operation_id, "Redone: ", "undo")

    def _step(
        self, title: str, peek: Callable[[Catalog], Operation | None],
        step: Callable[[Catalog], Operation | None], operation_id: int | None,
        prefix: str, offer: str,
    ) -> None:
        try:
            pending = peek(self.catalog)
            if pending is None:
                self.error.emit(title, f"there is nothing to {title.lower()}")
                return
            if operation_id is not None and pending.id != operation_id:
                self.error.emit(title, (
                    f"that change can no longer be {'undone' if title == 'Undo' else 'redone'} "
                    f"on its own: {describe_operation(self.catalog, pending)} came after it. "
                    f"The Edit menu says what {title} would do now"))
                return
            done = step(self.catalog)
        except FaceAlbumError as exc:
            self.error.emit(title, str(exc))
            return
        if done is not None:
            self._tell(prefix, done, offer)
        self.announce_change()

    def _tell(self, prefix: str, op: Operation, offer: str) -> None:
        try:
            text = describe_operation(self.catalog, op)
        except FaceAlbumError as exc:  # the change is made; only its words are missing
            log.info("cannot describe operation %d: %s", op.id, exc)
            text = "Done" if not prefix else prefix.rstrip(": ")
        else:
            text = f"{prefix}{text[:1].lower() + text[1:] if prefix else text}"
        self.notice.emit(text, offer, op.id)

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
        # Let the job go before anyone re-reads: views that ask ``busy`` while
        # handling ``changed`` must hear that nothing runs any more.
        job.ended.connect(lambda: self.jobs.remove(job) if job in self.jobs else None)
        job.ended.connect(self.announce_change)
        job.ended.connect(self.job_ended)
        if prepare is not None:
            prepare(job)
        self.jobs.append(job)
        self.job_started.emit(job)
        self.runner.start(job)
        return job

    def busy(self) -> bool:
        """True from a job's start until its ``ended`` signal has arrived."""
        return bool(self.jobs)

