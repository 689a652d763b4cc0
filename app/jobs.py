"""The long work the app starts, as engine generators ready for a ``Job``,
and the entry point of the child process that runs the heavy ones.

Each function here returns a ``Work``: given its own catalog connection and a
cancel token, it yields the engine's ``Progress``. Nothing is decided here that
the engine does not decide: a scan is ``scan_folder`` followed by
``update_people``, exactly what ``facealbum scan`` does. The only addition is
timing: during a long scan ``update_people`` also runs every little while, so
people appear in the window as they are found instead of only at the end.

Scans and re-groupings are ``ChildWork``: plain values that can be sent to a
child process (``run_child``), so their threads never compete with the GUI
thread for the interpreter lock. This module is what such a child imports: it
never imports Qt (an import-linter contract keeps it so) and never touches a
widget.
"""

import logging
import os
import time
import traceback
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event
from pathlib import Path

from engine import people
from engine.catalog import Catalog
from engine.errors import Cancelled, FaceAlbumError
from engine.export.albums import ExportOptions, ExportReport, LinkMode, export_albums
from engine.progress import CancelToken, JobOutcome, Progress
from engine.scan import ScanOptions, scan_folder

log = logging.getLogger(__name__)

Work = Callable[[Catalog, CancelToken], Iterator[Progress]]

# Seconds of scanning before the first interim people update, and between
# the later ones. Each update costs a little scanning time; this keeps it a
# few percent on a large folder while the first people show up early.
INTERIM_PEOPLE_FIRST = 8.0
INTERIM_PEOPLE_EVERY = 20.0

# ``info`` key of a report after which the catalog holds new people.
PEOPLE_CHANGED = "people_changed"


class ChildWork(ABC):
    """Long work that may run in a child process.

    A subclass holds only plain, picklable values (paths, options, numbers):
    the child receives a copy and calls it with its own catalog connection.
    """

    @abstractmethod
    def __call__(self, catalog: Catalog, cancel: CancelToken) -> Iterator[Progress]: ...


@dataclass(frozen=True)
class ScanWork(ChildWork):
    """Scan each folder (unchanged photos are skipped), then group new faces into people."""

    folders: list[Path]
    options: ScanOptions
    strictness: float
    interim_first: float = INTERIM_PEOPLE_FIRST
    interim_every: float = INTERIM_PEOPLE_EVERY

    def __call__(self, catalog: Catalog, cancel: CancelToken) -> Iterator[Progress]:
        next_update = time.monotonic() + self.interim_first
        for folder in self.folders:
            for report in scan_folder(catalog, folder, self.options, cancel=cancel):
                yield report
                unfinished = report.stage == "scanning" and 0 < report.done < report.total
                if unfinished and time.monotonic() > next_update:
                    for _ in people.update_people(
                        catalog, strictness=self.strictness, cancel=cancel, regroup=False
                    ):
                        pass
                    next_update = time.monotonic() + self.interim_every
                    yield Progress(report.stage, report.done, report.total,
                                   {**report.info, PEOPLE_CHANGED: 1})
            if cancel.cancelled:
                return
        for report in people.update_people(catalog, strictness=self.strictness, cancel=cancel):
            yield Progress("people", report.done, report.total, report.info)
        yield Progress("people", 1, 1, {PEOPLE_CHANGED: 1})


@dataclass(frozen=True)
class ReclusterWork(ChildWork):
    """Group every face again at a new strictness, keeping every fact."""

    strictness: float

    def __call__(self, catalog: Catalog, cancel: CancelToken) -> Iterator[Progress]:
        for report in people.recluster(catalog, strictness=self.strictness, cancel=cancel):
            yield Progress("people", report.done, report.total, report.info)
        yield Progress("people", 1, 1, {PEOPLE_CHANGED: 1})


def scan_work(
    folders: list[Path], options: ScanOptions, strictness: float,
    interim_first: float = INTERIM_PEOPLE_FIRST, interim_every: float = INTERIM_PEOPLE_EVERY,
) -> ScanWork:
    """Scan each folder (unchanged photos are skipped), then group new faces into people."""
    return ScanWork(list(folders), options, strictness, interim_first, interim_every)


def recluster_work(strictness: float) -> ReclusterWork:
    """Group every face again at a new strictness, keeping every fact."""
    return ReclusterWork(strictness)


def export_work(
    person_ids: list[int], dest: Path, mode: LinkMode, xmp: bool, report: ExportReport,
    *, unconfirmed: bool = False,
) -> Work:
    """Copy or link the chosen people's photos into one folder each under ``dest``.

    It stays in the app's process: it is mostly file copies, and it fills
    ``report`` in place for the dialog to show.
    """
    options = ExportOptions(
        dest=dest, people=tuple(str(i) for i in person_ids), mode=mode, xmp=xmp,
        include_unnamed=True, unconfirmed_names=unconfirmed,
    )

    def work(catalog: Catalog, cancel: CancelToken) -> Iterator[Progress]:
        yield from export_albums(catalog, options, cancel=cancel, report=report)

    return work


# -- the child process --------------------------------------------------------------------


def run_child(
    work: ChildWork, catalog_path: Path, pipe: Connection, stop: Event, background: bool
) -> None:
    """Entry point of a child process: run ``work`` on its own catalog connection.

    Sends ``("progress", Progress)`` for each report, then one ending
    ``(outcome, text, traceback)``: outcome the text value of a ``JobOutcome``
    (the reading job turns it back into one), ``SUCCEEDED``, ``CANCELLED``,
    ``FAILED`` (text: the engine's message) or ``UNEXPECTED`` (text: the
    exception's type and message; traceback: where it came from). ``stop`` is the parent's
    cancel request; the engine honours it between two items. If the parent is
    gone (the pipe is broken) the work stops at its next report.
    """
    if background:
        _lower_process_priority()
    token = _EventToken(stop)
    try:
        ending = _drive(work, catalog_path, pipe, token)
    except _ParentGone:
        return
    outcome, text, trace = ending
    try:
        pipe.send((str(outcome), text, trace))
    except OSError:
        return  # nobody is listening any more
    finally:
        pipe.close()


class _ParentGone(Exception):  # noqa: N818 - a state, not a failure
    """The job that started this child no longer reads its reports."""


class _EventToken(CancelToken):
    """A cancel token the parent process sets through a shared event."""

    def __init__(self, event: Event) -> None:
        super().__init__()
        self._shared = event

    def cancel(self) -> None:
        self._shared.set()

    @property
    def cancelled(self) -> bool:
        return self._shared.is_set()


def _drive(
    work: ChildWork, catalog_path: Path, pipe: Connection, token: CancelToken
) -> tuple[JobOutcome, str, str]:
    """Run the work to its end; how it ended (the catalog is closed by then)."""
    try:
        with Catalog(catalog_path) as catalog:
            for report in work(catalog, token):
                try:
                    pipe.send(("progress", report))
                except OSError as exc:
                    raise _ParentGone from exc
                if token.cancelled:
                    raise Cancelled("stopped on request")
    except _ParentGone:
        raise
    except Cancelled:
        return (JobOutcome.CANCELLED, "", "")
    except FaceAlbumError as exc:
        return (JobOutcome.FAILED, str(exc), "")
    except Exception as exc:
        return (JobOutcome.UNEXPECTED, f"{type(exc).__name__}: {exc}", traceback.format_exc())
    return (JobOutcome.CANCELLED if token.cancelled else JobOutcome.SUCCEEDED, "", "")


def _lower_process_priority(step: int = 19) -> None:
    """Let the GUI process have the cores first: the scan takes what the window
    and the user's other programs leave (the idle class where Linux has it,
    as desktop indexers run, else the lowest nice level); on an idle
    machine that is every core. Called before the process starts threads,
    so they all inherit it."""
    try:
        os.nice(step)
    except (OSError, AttributeError) as exc:  # not allowed, or not on this system
        log.info("cannot lower the priority of the worker process: %s", exc)
    idle = getattr(os, "SCHED_IDLE", None)
    if idle is not None:
        try:
            os.sched_setscheduler(0, idle, os.sched_param(0))
        except OSError as exc:
            log.info("cannot move the worker process to the idle class: %s", exc)
