"""Run the engine's long work off the GUI thread and turn it into signals.

A ``Job`` wraps one engine progress generator (scan, clustering, export) and
emits one ``progressed`` signal per yield; ``cancel`` sets the engine's
``CancelToken`` so the work stops cleanly between two items. A job runs in one
of two ways. ``run`` drives the generator on the calling thread with its own
``Catalog`` (SQLite connections belong to the thread that opened them).
``run_in_child`` sends a ``ChildWork`` to a child process (spawned, never
forked from the Qt process; its entry is ``app.jobs.run_child``, which opens
its own ``Catalog`` on the same file) and relays the child's reports from the
calling thread, which waits on a pipe without holding the interpreter lock:
the scan's decoding, torch and SQLite threads then never make the GUI thread
wait. A runner decides where and how: a thread pool and a child process in
the app, the calling thread in tests (``SyncRunner``), so background code can
run deterministically. This module never touches widgets.
"""

import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import ClassVar, Protocol

from PySide6.QtCore import QObject, QThreadPool, Signal

from app.jobs import ChildWork, Work, run_child
from engine.catalog import Catalog
from engine.errors import Cancelled, FaceAlbumError
from engine.progress import CancelToken, JobOutcome, Progress

log = logging.getLogger(__name__)

__all__ = ["Job", "Runner", "SyncRunner", "ThreadRunner", "Work"]

# Seconds a child process gets to end on its own once its job has nothing more
# to say (or has been told to stop at once) before it is terminated.
_CHILD_EXIT_GRACE = 10.0
# How often the relaying thread looks up from the pipe to pass on a cancel.
_POLL_SECONDS = 0.1


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
        # Runs below the GUI's priority (with the threads or process it starts),
        # so a busy machine takes its CPU from the scan, not from the window.
        self.background = False
        self.child_pid: int | None = None  # while the work runs in a child process
        self._stop_child: Event | None = None
        self._end_child_at: float | None = None  # monotonic deadline set by ``stop``

    @property
    def portable(self) -> bool:
        """True when the work can run in a child process (see ``run_in_child``)."""
        return isinstance(self._work, ChildWork)

    def cancel(self) -> None:
        """Ask the work to stop between two items."""
        self.token.cancel()
        event = self._stop_child
        if event is not None:
            event.set()

    def stop(self, grace: float) -> None:
        """Cancel, and end a child process that has not stopped ``grace`` seconds later."""
        if self._end_child_at is None:
            self._end_child_at = time.monotonic() + grace
        self.cancel()

    def run(self) -> None:
        """Drive the work to its end on the calling thread."""
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
            self._end(JobOutcome.CANCELLED)
        except FaceAlbumError as exc:
            self._end(JobOutcome.FAILED, str(exc))
        except Exception as exc:
            log.exception("%s failed", self.title)
            self._end(JobOutcome.UNEXPECTED, f"{type(exc).__name__}: {exc}")
        else:
            self._end(JobOutcome.SUCCEEDED)

    def run_in_child(self) -> None:
        """Drive the work to its end in a child process; this thread relays its reports.

        Falls back to ``run`` for work that cannot leave this process.
        """
        if not isinstance(self._work, ChildWork):
            self.run()
            return
        self.running = True
        context = multiprocessing.get_context("spawn")
        reader, writer = context.Pipe(duplex=False)
        event = context.Event()
        self._stop_child = event
        if self.token.cancelled:  # cancelled before the event existed
            event.set()
        process = context.Process(
            target=run_child, name=f"facealbum: {self.title}", daemon=True,
            args=(self._work, self.catalog_path, writer, event, self.background),
        )
        try:
            process.start()
        except Exception as exc:  # no process, or work that cannot be sent to one
            log.exception("%s could not start its worker process", self.title)
            writer.close()
            reader.close()
            self._end(JobOutcome.UNEXPECTED,
                      f"{type(exc).__name__}: {exc} (starting a worker process)")
            return
        writer.close()  # the child holds the only writer: its exit ends the pipe
        self.child_pid = process.pid
        try:
            outcome, text = self._relay(reader, process)
        except Exception as exc:  # a report that cannot be read: end the child
            log.exception("%s: cannot read the worker process's reports", self.title)
            _reap(process, 0.0)
            outcome, text = JobOutcome.UNEXPECTED, f"{type(exc).__name__}: {exc}"
        finally:
            reader.close()
        self._end(outcome, text)
        _reap(process, _CHILD_EXIT_GRACE)
        self.child_pid = None

    # -- helpers -------------------------------------------------------------------------

    def _relay(self, reader: Connection, process: BaseProcess) -> tuple[JobOutcome, str]:
        """Pass on the child's reports until it says how it ended or dies."""
        while True:
            if self._end_child_at is not None and time.monotonic() > self._end_child_at:
                _reap(process, 0.0)
                return JobOutcome.CANCELLED, ""
            try:
                if not reader.poll(_POLL_SECONDS):
                    continue
                message = reader.recv()
            except (EOFError, OSError):
                break  # the child is gone without its last word
            if message[0] == "progress":
                self.last = message[1]
                self.progressed.emit(message[1])
                continue
            kind, text, trace = message
            if trace:
                log.error("%s failed in its worker process:\n%s", self.title, trace)
            return JobOutcome(kind), text  # the pipe carries the outcome's value
        process.join(_CHILD_EXIT_GRACE)
        return JobOutcome.DIED, _exit_reason(process.exitcode)

    def _end(self, outcome: JobOutcome, text: str = "") -> None:
        """Emit the signal for how the work ended, then ``ended``."""
        try:
            if outcome is JobOutcome.SUCCEEDED and self.token.cancelled:
                outcome = JobOutcome.CANCELLED
            if outcome is JobOutcome.SUCCEEDED:
                self.succeeded.emit()
            elif outcome is JobOutcome.CANCELLED:
                self.cancelled.emit()
            elif outcome is JobOutcome.FAILED:
                self.failed.emit(text)
            elif outcome is JobOutcome.DIED:
                self.failed.emit(
                    f"{self.title} stopped: its worker process ended unexpectedly ({text}). "
                    "What was done before it is kept; start it again to go on. If it happens "
                    "again, the computer may be short of memory; please report it with the log."
                )
            else:
                self.failed.emit(
                    f"{self.title} stopped on an unexpected error: {text}. "
                    "What was done before it is kept; please report this with the log."
                )
        finally:
            self.running = False
            self.ended.emit()


class Runner(Protocol):
    """Where jobs and small background tasks run."""

    def start(self, job: Job) -> None: ...

    def submit(self, task: Callable[[], None], lane: str = "images") -> None: ...

    def wait(self, grace: float = 3.0) -> None: ...


class ThreadRunner:
    """Jobs and small tasks on separate Qt thread pools ("lanes"), so a long scan
    never keeps a thumbnail waiting and a pile of thumbnails never delays the
    catalog reads that item models make (the "queries" lane, one thread, in
    order); checks nobody waits for (the "checks" lane) delay neither."""

    LANES: ClassVar[dict[str, int]] = {"images": 2, "queries": 1, "checks": 1}

    def __init__(self, child_processes: bool = True) -> None:
        # Work that can run in a child process does (``Job.run_in_child``);
        # the rest (export) runs on the job pool's thread.
        self.child_processes = child_processes
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
        in_child = self.child_processes and job.portable
        self._job_pool.start(job.run_in_child if in_child else job.run)

    def submit(self, task: Callable[[], None], lane: str = "images") -> None:
        if lane in ("images", "checks"):
            # Decoding thumbnails is the heaviest thing the window's own
            # process does; neither it nor a check may take a core the GUI
            # thread wants.
            self._lanes[lane].start(lambda: _in_background(task))
        else:
            self._lanes[lane].start(task)

    def wait(self, grace: float = 3.0) -> None:
        """Cancel running jobs and wait for everything to stop (on quit); a child
        process still working ``grace`` seconds later is terminated."""
        for job in list(self._jobs):
            job.stop(grace)
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

    def wait(self, grace: float = 3.0) -> None:
        return None


_background = threading.local()


def _in_background(task: Callable[[], None]) -> None:
    """Run ``task`` on a pool thread lowered in priority (once per thread)."""
    if not getattr(_background, "lowered", False):
        _lower_priority(10)
        _background.lowered = True
    task()


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


def _reap(process: BaseProcess, grace: float) -> None:
    """Wait up to ``grace`` seconds for a child to exit, then terminate (and kill) it."""
    process.join(grace)
    if process.exitcode is None:
        process.terminate()
        process.join(2.0)
    if process.exitcode is None:
        process.kill()
        process.join(2.0)


def _exit_reason(code: int | None) -> str:
    """A child's exit code in words: "exit code -9, killed by SIGKILL"."""
    if code is None:
        return "it stopped answering"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"exit code {code}, killed by {name}"
    return f"exit code {code}"
