"""The long work the app starts, as engine generators ready for a ``Job``.

Each function here returns a ``Work``: given the worker thread's own catalog
and a cancel token, it yields the engine's ``Progress``. Nothing is decided
here that the engine does not decide: a scan is ``scan_folder`` followed by
``update_people``, exactly what ``facealbum scan`` does. The only addition is
timing: during a long scan ``update_people`` also runs every little while, so
people appear in the window as they are found instead of only at the end.
Nothing here touches Qt or a widget.
"""

import time
from collections.abc import Iterator
from pathlib import Path

from app.workers import Work
from engine import people
from engine.catalog import Catalog
from engine.export.albums import ExportOptions, ExportReport, LinkMode, export_albums
from engine.progress import CancelToken, Progress
from engine.scan import ScanOptions, scan_folder

# Seconds of scanning before the first interim people update, and between
# the later ones. Each update costs a little scanning time; this keeps it a
# few percent on a large folder while the first people show up early.
INTERIM_PEOPLE_FIRST = 8.0
INTERIM_PEOPLE_EVERY = 20.0

# ``info`` key of a report after which the catalog holds new people.
PEOPLE_CHANGED = "people_changed"


def scan_work(
    folders: list[Path], options: ScanOptions, strictness: float,
    interim_first: float = INTERIM_PEOPLE_FIRST, interim_every: float = INTERIM_PEOPLE_EVERY,
) -> Work:
    """Scan each folder (unchanged photos are skipped), then group new faces into people."""

    def work(catalog: Catalog, cancel: CancelToken) -> Iterator[Progress]:
        next_update = time.monotonic() + interim_first
        for folder in folders:
            for report in scan_folder(catalog, folder, options, cancel=cancel):
                yield report
                unfinished = report.stage == "scanning" and 0 < report.done < report.total
                if unfinished and time.monotonic() > next_update:
                    for _ in people.update_people(catalog, strictness=strictness, cancel=cancel):
                        pass
                    next_update = time.monotonic() + interim_every
                    yield Progress(report.stage, report.done, report.total,
                                   {**report.info, PEOPLE_CHANGED: 1})
            if cancel.cancelled:
                return
        for report in people.update_people(catalog, strictness=strictness, cancel=cancel):
            yield Progress("people", report.done, report.total, report.info)
        yield Progress("people", 1, 1, {PEOPLE_CHANGED: 1})

    return work


def recluster_work(strictness: float) -> Work:
    """Group every face again at a new strictness, keeping every fact."""

    def work(catalog: Catalog, cancel: CancelToken) -> Iterator[Progress]:
        for report in people.recluster(catalog, strictness=strictness, cancel=cancel):
            yield Progress("people", report.done, report.total, report.info)
        yield Progress("people", 1, 1, {PEOPLE_CHANGED: 1})

    return work


def export_work(
    person_ids: list[int], dest: Path, mode: LinkMode, xmp: bool, report: ExportReport
) -> Work:
    """Copy or link the chosen people's photos into one folder each under ``dest``."""
    options = ExportOptions(
        dest=dest, people=tuple(str(i) for i in person_ids), mode=mode, xmp=xmp,
        include_unnamed=True,
    )

    def work(catalog: Catalog, cancel: CancelToken) -> Iterator[Progress]:
        yield from export_albums(catalog, options, cancel=cancel, report=report)

    return work
