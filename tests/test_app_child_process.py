"""Scans in a child process: what a user sees is what an in-thread scan shows.

These tests start real child processes (spawned Python interpreters that scan
the demo album), so each costs a couple of seconds; the rest of the app's
tests run their work on the calling thread (``SyncRunner``). Torch in the
children is kept to one thread.
"""

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pytestqt.qtbot import QtBot

from app.images import ImageCache
from app.jobs import PEOPLE_CHANGED, ChildWork, recluster_work, scan_work
from app.main_window import MainWindow
from app.session import Session
from app.settings import Settings, SettingsStore
from app.workers import Job, SyncRunner, ThreadRunner
from engine import people
from engine.catalog import Catalog
from engine.progress import CancelToken, JobOutcome, Progress
from engine.scan import ScanOptions

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "resources" / "demo"
DEMO_PHOTOS = 48


@pytest.fixture(autouse=True)
def one_torch_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """Children inherit the environment: one OpenMP thread each."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")


def demo_scan(folder: Path = DEMO) -> ChildWork:
    return scan_work([folder], ScanOptions(device="cpu"), 0.5)


@dataclass(frozen=True)
class Surprise(ChildWork):
    """Work that fails in a way the engine never means to."""

    def __call__(self, catalog: Catalog, cancel: CancelToken) -> Iterator[Progress]:
        yield Progress("counting", 1, 2)
        raise KeyError("x")


@dataclass(frozen=True)
class Deaf(ChildWork):
    """Work that never looks at its cancel token (a stuck step of a scan)."""

    def __call__(self, catalog: Catalog, cancel: CancelToken) -> Iterator[Progress]:
        yield Progress("waiting", 0, 1)
        time.sleep(120)
        yield Progress("waiting", 1, 1)


@dataclass(frozen=True)
class PausingScan(ChildWork):
    """A scan that waits after its n-th photo until cancelled (a minute at most),
    so a test acts mid-scan however busy the machine is."""

    scan: ChildWork
    pause_after: int

    def __call__(self, catalog: Catalog, cancel: CancelToken) -> Iterator[Progress]:
        for report in self.scan(catalog, cancel):
            yield report
            if report.stage == "scanning" and report.done == self.pause_after:
                until = time.monotonic() + 60
                while not cancel.cancelled and time.monotonic() < until:
                    time.sleep(0.02)


@dataclass(frozen=True)
class Unsendable(ChildWork):
    """Work holding something a child process cannot receive (a lambda)."""

    step: object = lambda: None

    def __call__(self, catalog: Catalog, cancel: CancelToken) -> Iterator[Progress]:
        yield Progress("counting", 1, 1)


def outcome(job: Job) -> list[tuple[JobOutcome, str]]:
    """Connect to every ending signal of ``job``; the list fills as they arrive."""
    seen: list[tuple[JobOutcome, str]] = []
    job.succeeded.connect(lambda: seen.append((JobOutcome.SUCCEEDED, "")))
    job.cancelled.connect(lambda: seen.append((JobOutcome.CANCELLED, "")))
    job.failed.connect(lambda message: seen.append((JobOutcome.FAILED, message)))
    return seen


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_a_scan_in_a_child_process_reports_progress_and_people_appear(
    qtbot: QtBot, tmp_path: Path
) -> None:
    catalog = tmp_path / "catalog.sqlite"
    job = Job("Scanning demo", catalog, demo_scan())
    reports: list[Progress] = []
    children: set[int | None] = set()
    job.progressed.connect(reports.append)
    job.progressed.connect(lambda _r: children.add(job.child_pid))
    ended = outcome(job)
    runner = ThreadRunner()
    with qtbot.waitSignal(job.ended, timeout=120_000):
        runner.start(job)

    assert ended == [(JobOutcome.SUCCEEDED, "")]
    (child,) = children
    assert child is not None and child != os.getpid()
    scanned = [r.done for r in reports if r.stage == "scanning"]
    assert scanned[-1] == DEMO_PHOTOS and scanned == sorted(scanned)
    assert reports[-1].info.get(PEOPLE_CHANGED)
    with Catalog(catalog) as cat:
        assert len(cat.photos()) == DEMO_PHOTOS
        found = people.people(cat)
    assert len(found) >= 3  # Obama, Chirac, Paul Rudd; the two babies are seen once each
    runner.wait()


def test_grouping_again_in_a_child_process_ends_as_it_does_in_the_app_itself(
    scanned_demo: Path, tmp_path: Path
) -> None:
    with Catalog(scanned_demo) as cat:
        for _ in people.update_people(cat):
            pass
    twin = tmp_path / "twin.sqlite"
    shutil.copy(scanned_demo, twin)
    in_child = Job("Grouping faces again", scanned_demo, recluster_work(0.9))
    in_thread = Job("Grouping faces again", twin, recluster_work(0.9))
    reports: list[Progress] = []
    in_child.progressed.connect(reports.append)
    ended = outcome(in_child)
    in_child.run_in_child()
    SyncRunner().start(in_thread)

    assert ended == [(JobOutcome.SUCCEEDED, "")]
    assert reports[-1].info.get(PEOPLE_CHANGED)
    groups = []
    for catalog in (scanned_demo, twin):
        with Catalog(catalog) as cat:
            groups.append(sorted(sorted(s.photos) for s in people.people(cat)))
    assert groups[0] == groups[1] and len(groups[0]) >= 2


def test_cancel_stops_a_scan_in_a_child_process_between_two_photos(
    qtbot: QtBot, tmp_path: Path
) -> None:
    catalog = tmp_path / "catalog.sqlite"
    job = Job("Scanning demo", catalog, PausingScan(demo_scan(), pause_after=5))
    job.progressed.connect(lambda r: job.cancel() if r.stage == "scanning" and r.done == 5
                           else None)
    pids: list[int | None] = []
    job.progressed.connect(lambda _r: pids.append(job.child_pid))
    ended = outcome(job)
    job.run_in_child()  # relays on this thread: every signal has arrived when it returns

    assert ended == [(JobOutcome.CANCELLED, "")]
    assert job.last is not None and job.last.stage == "scanning"
    assert job.last.done <= 6
    assert pids[-1] is not None and gone(pids[-1])
    with Catalog(catalog) as cat:
        assert len(cat.photos()) < DEMO_PHOTOS


def test_errors_in_a_child_read_as_they_do_in_the_app_itself(tmp_path: Path) -> None:
    cases = {
        "a folder that does not exist": (tmp_path / "catalog.sqlite",
                                         demo_scan(tmp_path / "no such folder")),
        "a catalog that cannot be opened": (tmp_path / "a file" / "catalog.sqlite",
                                            demo_scan()),
        "an error nobody expected": (tmp_path / "catalog.sqlite", Surprise()),
    }
    (tmp_path / "a file").write_text("not a folder")
    messages = {}
    for case, (catalog, work) in cases.items():
        in_child = Job("Scanning", catalog, work)
        in_thread = Job("Scanning", catalog, work)
        child_ended, thread_ended = outcome(in_child), outcome(in_thread)
        in_child.run_in_child()
        SyncRunner().start(in_thread)
        assert child_ended == thread_ended, case
        assert child_ended[0][0] is JobOutcome.FAILED, case
        messages[case] = child_ended[0][1]

    assert "not a folder" in messages["a folder that does not exist"]
    assert "cannot open the catalog" in messages["a catalog that cannot be opened"]
    assert "unexpected error: KeyError" in messages["an error nobody expected"]


def test_work_that_cannot_be_sent_to_a_child_fails_instead_of_hanging(tmp_path: Path) -> None:
    job = Job("Counting", tmp_path / "catalog.sqlite", Unsendable())
    ended = outcome(job)
    job.run_in_child()
    assert len(ended) == 1 and ended[0][0] is JobOutcome.FAILED
    assert "starting a worker process" in ended[0][1]
    assert not job.running


@pytest.mark.slow
def test_a_child_killed_mid_scan_is_reported_with_its_exit_code_and_keeps_its_photos(
    tmp_path: Path,
) -> None:
    catalog = tmp_path / "catalog.sqlite"
    # The child waits after its 40th photo, so the kill lands mid-scan however
    # busy the machine is. Photos are committed every 32 or every 2 s, whichever
    # comes first, so by then at least one commit holds some of them.
    job = Job("Scanning demo", catalog, PausingScan(demo_scan(), pause_after=40))

    def kill_when_paused(report: Progress) -> None:
        if report.stage == "scanning" and report.done == 40 and job.child_pid is not None:
            os.kill(job.child_pid, signal.SIGKILL)

    job.progressed.connect(kill_when_paused)
    ended = outcome(job)
    job.run_in_child()

    assert len(ended) == 1 and ended[0][0] is JobOutcome.FAILED
    message = ended[0][1]
    assert "exit code -9" in message and "SIGKILL" in message
    assert "What was done before it is kept" in message
    with Catalog(catalog) as cat:
        assert 0 < len(cat.photos()) <= 40


def test_quitting_ends_a_child_that_does_not_stop_when_asked(
    qtbot: QtBot, tmp_path: Path
) -> None:
    runner = ThreadRunner()
    job = Job("Waiting", tmp_path / "catalog.sqlite", Deaf())
    ended = outcome(job)
    with qtbot.waitSignal(job.progressed, timeout=60_000):
        runner.start(job)
    pid = job.child_pid
    assert pid is not None

    begun = time.monotonic()
    with qtbot.waitSignal(job.ended, timeout=20_000):
        runner.wait(grace=0.5)
    assert time.monotonic() - begun < 10
    assert ended == [(JobOutcome.CANCELLED, "")]
    assert gone(pid)


def test_closing_the_window_during_a_scan_stops_it_and_keeps_the_catalog_usable(
    qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def pausing_scan_work(*args: Any) -> ChildWork:
        return PausingScan(scan_work(*args), pause_after=2)

    monkeypatch.setattr("app.main_window.scan_work", pausing_scan_work)
    folder = tmp_path / "photos"
    shutil.copytree(DEMO, folder)
    catalog = tmp_path / "catalog.sqlite"
    runner = ThreadRunner()
    settings = Settings(catalog_path=str(catalog), device="cpu")
    session = Session(catalog, settings, runner, ImageCache(tmp_path / "thumbs", runner))
    window = MainWindow(session, SettingsStore(tmp_path / "settings.ini"))
    qtbot.addWidget(window)
    window.show()
    job = window.scan([folder])
    assert job is not None
    ended = outcome(job)
    qtbot.waitUntil(lambda: job.last is not None and job.last.stage == "scanning"
                    and job.last.done == 2, timeout=60_000)
    pid = job.child_pid
    assert pid is not None

    window.close()
    qtbot.waitUntil(lambda: bool(ended), timeout=10_000)
    assert ended == [(JobOutcome.CANCELLED, "")]
    assert gone(pid)
    with Catalog(catalog) as cat:
        assert len(cat.photos()) < DEMO_PHOTOS
        assert cat._conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_what_a_child_process_imports_holds_no_qt() -> None:
    # A spawned child imports app.jobs (its entry) and the program's entry
    # module (app.main, through the facealbum-app script) again.
    probe = ("import sys, app.jobs, app.main; "
             "print(sorted(m for m in sys.modules if m.startswith(('PySide6', 'shiboken6'))))")
    result = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True,
                            text=True, check=True, timeout=120)
    assert result.stdout.strip() == "[]"
