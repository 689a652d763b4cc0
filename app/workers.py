"""Run the engine's long work off the GUI thread and turn it into signals.

A ``Job`` wraps one engine progress generator (scan, clustering, export). Its
``run`` opens its own ``Catalog`` (SQLite connections belong to the thread
that opened them), drives the generator, and emits one ``progressed`` signal
per yield; ``cancel`` sets the engine's ``CancelToken`` so the work stops
cleanly between two items. A runner decides where ``run`` happens: a thread
pool in the app, the calling thread in tests (``SyncRunner``), so background
code can run deterministically. This module never touches widgets.
"""

import logging
import os
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import ClassVar, Protocol

from PySide6.QtCore import QObject, QThreadPool, Signal

from engine.catalog import Catalog
from engine.errors import Cancelled, FaceAlbumError
from engine.progress import CancelToken, Progress

log = logging.getLogger(__name__)

Work = Callable[[Catalog, CancelToken], Iterator[Progress]]


class Job(QObject):
    """One piece of long work; signals arrive on the thread that made the Job."""

    progressed = Signal(object)  # Progress
    succeeded = Signal()
    failed = Signal(str)  # what happened and what to do, ready to show
    cancelled = Signal()
    ended = Signal()  # after any of the three above

    def __init__(self, title: str, catalog_path: Path, work: Work) -> None:
        super().__init__()
        self.title = title
        self.catalog_path = catalog_path
        self.token = CancelToken()
        self._work = work
        self.last: Progress | None = None
        self.running = False
        # Runs below the GUI thread's priority (with the threads it starts),
        # so a busy machine takes its CPU from the scan, not from the window.
        self.background = False

    def cancel(self) -> None:
        self.token.cancel()

    def run(self) -> None:
        """Drive the work to its end; call on the thread that should do it."""
        self.running = True
        if self.background:
            _lower_priority()
        try:
            with Catalog(self.catalog_path) as catalog:
                for report in self._work(catalog, self.token):
                    self.last = report
                    self.progressed.emit(report)
                    if self.token.cancelled:
                        raise Cancelled(f"{self.title} was stopped")
        except Cancelled:
            self.cancelled.emit()
        except FaceAlbumError as exc:
            self.failed.emit(str(exc))
        except Exception as exc:
            log.exception("%s failed", self.title)
            self.failed.emit(
                f"{self.title} stopped on an unexpected error: {type(exc).__name__}: {exc}. "
                "What was done before it is kept; please report this with the log."
            )
        else:
            if self.token.cancelled:
                self.cancelled.emit()
            else:
                self.succeeded.emit()
        finally:
            self.running = False
            self.ended.emit()


class Runner(Protocol):
    """Where jobs and small background tasks run."""

    def start(self, job: Job) -> None: ...

    def submit(self, task: Callable[[], None], lane: str = "images") -> None: ...

    def wait(self) -> None: ...


class ThreadRunner:
    """Jobs and small tasks on separate Qt thread pools ("lanes"), so a long scan
    never keeps a thumbnail waiting and a pile of thumbnails never delays the
    catalog reads that item models make (the "queries" lane, one thread, in
    order)."""

    LANES: ClassVar[dict[str, int]] = {"images": 2, "queries": 1}

    def __init__(self) -> None:
        # Python hands the interpreter lock between threads every 5 ms by
        # default; with a scan's threads busy, the GUI thread could wait
        # several turns for it. A shorter turn keeps the window responsive
        # for a small cost in throughput.
        sys.setswitchinterval(min(sys.getswitchinterval(), 0.001))
        self._jobs: set[Job] = set()
        self._job_pool = QThreadPool()
        self._job_pool.setMaxThreadCount(2)
        self._lanes: dict[str, QThreadPool] = {}
        for name, threads in self.LANES.items():
            pool = QThreadPool()
            pool.setMaxThreadCount(threads)
            self._lanes[name] = pool

    def start(self, job: Job) -> None:
        job.background = True
        self._jobs.add(job)  # keeps the Python object alive while it runs
        job.ended.connect(lambda: self._jobs.discard(job))
        self._job_pool.start(job.run)

    def submit(self, task: Callable[[], None], lane: str = "images") -> None:
        self._lanes[lane].start(task)

    def wait(self) -> None:
        """Cancel running jobs and wait for everything to stop (on quit)."""
        for job in list(self._jobs):
            job.cancel()
        self._job_pool.waitForDone(30_000)
        for pool in self._lanes.values():
            pool.clear()
            pool.waitForDone(30_000)


class SyncRunner:
    """Runs everything at once on the calling thread (tests, headless scans)."""

    def start(self, job: Job) -> None:
        job.run()

    def submit(self, task: Callable[[], None], lane: str = "images") -> None:
        task()

    def wait(self) -> None:
        return None


def _lower_priority(step: int = 5) -> None:
    """Make the calling thread (and threads it starts later) yield to the GUI.

    Linux applies ``setpriority`` to one thread when given its native id;
    elsewhere this does nothing rather than slowing the whole process.
    """
    if not sys.platform.startswith("linux"):
        return
    tid = threading.get_native_id()
    try:
        os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + step)
    except OSError as exc:  # not allowed here: run at normal priority
        log.info("cannot lower the priority of a worker thread: %s", exc)
