"""How long can the GUI thread be kept busy while the app scans a big folder?

Opens the real main window (offscreen), starts a scan of a folder (default
``../shared/data/lfw-dev/images``: 6,157 photos) through the app exactly as
the "Add Photo Folder" button does (the scan runs in a child process; a
thread of the app relays its reports), and runs a heartbeat timer on the GUI
event loop every 5 ms. Any gap between two beats longer than the timer's
interval is time the GUI thread was not free: in one long call, or not
running at all (waiting for the interpreter lock, or for a core on a busy
machine). To tell the two apart, each beat also reads the GUI thread's own
CPU time: the CPU the GUI thread used within a gap bounds the longest call
made in it. On Linux each beat also reads how long the GUI thread waited in
the kernel's run queue (``/proc/thread-self/schedstat``): time it was ready
but had no core. The rest of a gap is time it was blocked: on the interpreter
lock (held by another thread of the app) or in a system call, or (in a
virtual machine) the host ran something else: the steal time of the whole
machine within each worst gap is reported beside. The budget is 50 ms. While it
scans, the script also acts like a user every few seconds (switches between
the people grid and a person's page, scrolls), so model refreshes and
thumbnail decoding are part of what is measured.

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/gui_latency.py [FOLDER]
        [--limit N] [--device cpu] [--json] [--trace] [--in-thread]

``--limit N`` scans only the first N photos (linked into a temporary folder).
``--trace`` prints where the GUI thread was (its Python stack, sampled from a
watchdog thread) during each stall over 40 ms: a stack that ends in
``app.exec()`` means Qt's own work or a wait for the interpreter lock.
``--in-thread`` runs the scan on a thread of the app's process instead, as
before scans moved to a child process, for comparison.

Qt and the app are imported inside the functions that use them: the scan's
child process imports this script again (as every spawned child imports its
parent's main module) and should stay as light as it is under the app.
"""

import argparse
import gc
import json
import os
import statistics
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

LFW_IMAGES = REPO.parent / "shared" / "data" / "lfw-dev" / "images"
BEAT_MS = 5
BUDGET_MS = 50.0


class Heartbeat:
    """Records the gaps between beats of a timer on the GUI thread."""

    def __init__(self) -> None:
        from PySide6.QtCore import QElapsedTimer, QTimer

        self.clock = QElapsedTimer()
        self.gaps: list[tuple[float, float]] = []  # (seconds since start, gap in ms)
        self.busy: list[float] = []  # GUI thread CPU ms within each gap
        self.queued: list[float] = []  # ms the GUI thread waited for a core in each gap
        self.stolen: list[float] = []  # ms the hypervisor ran others on this machine's CPUs
        self.timer = QTimer()
        self.timer.setInterval(BEAT_MS)
        self.timer.timeout.connect(self._beat)
        self._last = 0
        self._last_cpu = 0
        self._last_queued = 0
        self._last_stolen = 0.0

    def start(self) -> None:
        self.clock.start()
        self._last = self.clock.nsecsElapsed()
        self._last_cpu = time.thread_time_ns()
        self._last_queued = run_queue_ns()
        self._last_stolen = stolen_ms()
        self.timer.start()

    def _beat(self) -> None:
        now = self.clock.nsecsElapsed()
        cpu = time.thread_time_ns()
        queued = run_queue_ns()
        stolen = stolen_ms()
        self.gaps.append((now / 1e9, (now - self._last) / 1e6))
        self.busy.append((cpu - self._last_cpu) / 1e6)
        self.queued.append((queued - self._last_queued) / 1e6)
        self.stolen.append(stolen - self._last_stolen)
        self._last, self._last_cpu, self._last_queued = now, cpu, queued
        self._last_stolen = stolen


def run_queue_ns() -> int:
    """Nanoseconds the calling thread has waited for a core (0 where unknown)."""
    try:
        with open("/proc/thread-self/schedstat", "rb") as stats:
            return int(stats.read().split()[1])
    except (OSError, IndexError, ValueError):
        return 0


def stolen_ms() -> float:
    """Milliseconds of "steal" on all CPUs since boot: time a virtual machine's
    CPUs were runnable but the host ran something else (0 where unknown). The
    kernel counts it in ticks of 10 ms."""
    try:
        with open("/proc/stat", "rb") as stats:
            fields = stats.readline().split()
        return int(fields[8]) * 1000 / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


class Collections:
    """Times each pass of the garbage collector, and the thread it ran on: a
    pass holds the interpreter lock, so a long one on any thread stalls the
    GUI thread."""

    def __init__(self) -> None:
        self.passes: list[tuple[float, int, str]] = []  # (ms, generation, thread)
        self._started = 0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter_ns()
        else:
            self.passes.append(((time.perf_counter_ns() - self._started) / 1e6,
                                info["generation"], threading.current_thread().name))

    def longest(self) -> str:
        if not self.passes:
            return "none"
        ms, generation, thread = max(self.passes)
        return f"{ms:.1f} ms (generation {generation}, thread {thread})"


class Watchdog(threading.Thread):
    """Samples Python stacks whenever the heartbeat is late: the GUI thread's,
    and the innermost frame of every other thread (one of them held the
    interpreter lock if the GUI thread was waiting for it)."""

    def __init__(self, beat: Heartbeat, gui_thread: int) -> None:
        super().__init__(daemon=True)
        self.beat = beat
        self.gui_thread = gui_thread
        self.samples: dict[str, int] = {}
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.01):
            late_ms = (self.beat.clock.nsecsElapsed() - self.beat._last) / 1e6
            if late_ms > 40:
                frames = sys._current_frames()
                frame = frames.get(self.gui_thread)
                if frame is None:
                    continue
                stack = "".join(traceback.format_stack(frame)[-6:])
                others = sorted(
                    f"    {Path(f.f_code.co_filename).name}:{f.f_lineno} {f.f_code.co_name}"
                    for tid, f in frames.items()
                    if tid not in (self.gui_thread, threading.get_ident())
                    and f.f_code.co_name not in ("wait", "_worker")
                )
                key = stack + "  other threads at that moment:\n" + "\n".join(others)
                self.samples[key] = self.samples.get(key, 0) + 1


def linked_subset(folder: Path, limit: int, tmp: Path) -> Path:
    """The first ``limit`` photos of ``folder`` (sorted), as links in ``tmp``."""
    from engine.imageio import is_photo_name

    photos = sorted(p for p in folder.rglob("*") if p.is_file() and is_photo_name(p.name))
    for photo in photos[:limit]:
        target = tmp / photo.relative_to(folder)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(photo, target)
    return tmp


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path, default=LFW_IMAGES)
    parser.add_argument("--limit", type=int, default=0, help="scan only this many photos")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--trace", action="store_true", help="print the stacks of stalls")
    parser.add_argument("--in-thread", action="store_true",
                        help="scan on a thread of the app's process, not in a child process")
    args = parser.parse_args()
    if not args.folder.is_dir():
        print(f"skipped: {args.folder} not found (expected ../shared/data/lfw-dev/images "
              "beside the repository, or pass a folder)")
        return 0

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from app.images import ImageCache
    from app.main import settle_heap
    from app.main_window import MainWindow
    from app.session import Session
    from app.settings import Settings, SettingsStore
    from app.workers import ThreadRunner
    from engine import people
    from engine.catalog import Catalog
    from engine.progress import Progress

    app = QApplication(sys.argv[:1])
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        folder = args.folder
        if args.limit:
            folder = linked_subset(args.folder, args.limit, tmp / "photos")
        runner = ThreadRunner(child_processes=not args.in_thread)
        catalog = tmp / "catalog.sqlite"
        settings = Settings(catalog_path=str(catalog), device=args.device)
        session = Session(catalog, settings, runner, ImageCache(tmp / "thumbnails", runner))
        window = MainWindow(session, SettingsStore(tmp / "settings.ini"))
        window.resize(1180, 760)
        window.show()
        for _ in range(3):  # the window's first layout and paint happen before the scan
            app.processEvents()
        settle_heap()  # as the app does once its window is up

        beat = Heartbeat()
        reports: list[Progress] = []
        actions = 0

        def act_like_a_user() -> None:
            nonlocal actions
            actions += 1
            ids = window.people_model.person_ids()
            if actions % 2 and ids:
                window.show_person(ids[actions % len(ids)])
            else:
                window.show_people()
                bar = window.people_page.grid.verticalScrollBar()
                bar.setValue((bar.value() + 400) % max(bar.maximum(), 1))

        user = QTimer()
        user.setInterval(3000)
        user.timeout.connect(act_like_a_user)
        started = time.perf_counter()
        watchdog = Watchdog(beat, threading.get_ident())
        job = window.scan([folder])
        if job is None:
            print("the scan did not start")
            return 1
        job.progressed.connect(reports.append)
        job.ended.connect(beat.timer.stop)  # measure the scan, not the shutdown
        job.ended.connect(watchdog.stop.set)
        collections = Collections()
        gc.callbacks.append(collections)
        job.ended.connect(lambda: gc.callbacks.remove(collections))
        job.ended.connect(app.quit)
        beat.start()
        if args.trace:
            watchdog.start()
        user.start()
        app.exec()
        watchdog.stop.set()
        seconds = time.perf_counter() - started
        user.stop()
        beat.timer.stop()
        # Quitting closed the window (and its session); read with a fresh connection.
        with Catalog(catalog) as cat:
            people_found = len(people.people(cat))

    gaps = sorted(g for _t, g in beat.gaps)
    worst = sorted(range(len(beat.gaps)), key=lambda i: -beat.gaps[i][1])[:5]
    blocked = [max(g - c - q, 0.0) for (_t, g), c, q in zip(beat.gaps, beat.busy, beat.queued,
                                                              strict=True)]
    last = next((r for r in reversed(reports) if r.stage == "scanning"), None)
    result = {
        "folder": str(args.folder),
        "scan_ran_in": "a thread of the app" if args.in_thread else "a child process",
        "photos": last.total if last else 0,
        "faces": last.info.get("faces") if last else 0,
        "people": people_found,
        "scan_seconds": round(seconds, 1),
        "beats": len(gaps),
        "beat_interval_ms": BEAT_MS,
        "worst_gap_ms": round(gaps[-1], 1) if gaps else None,
        "p99_gap_ms": round(gaps[int(0.99 * (len(gaps) - 1))], 1) if gaps else None,
        "median_gap_ms": round(statistics.median(gaps), 1) if gaps else None,
        "gaps_over_50ms": sum(1 for g in gaps if g > BUDGET_MS),
        "worst_gui_cpu_in_a_gap_ms": round(max(beat.busy), 1) if beat.busy else None,
        "gaps_with_over_50ms_gui_cpu": sum(1 for b in beat.busy if b > BUDGET_MS),
        "worst_gui_cpu_at_seconds": [
            round(beat.gaps[i][0], 1)
            for i in sorted(range(len(beat.busy)), key=lambda i: -beat.busy[i])[:3]
        ],
        "worst_gui_cpu_ms": sorted((round(b, 1) for b in beat.busy), reverse=True)[:3],
        # Blocked: the gap less the GUI thread's CPU and its wait for a core;
        # the timer's own 5 ms wait is part of every gap.
        "worst_blocked_in_a_gap_ms": round(max(blocked), 1) if blocked else None,
        "gaps_blocked_over_20ms": sum(1 for b in blocked if b > 20.0),
        # ... of which the host stole no time: the interpreter lock or a system call.
        "gaps_blocked_over_20ms_no_steal": sum(
            1 for b, st in zip(blocked, beat.stolen, strict=True) if b > 20.0 and st == 0
        ),
        "worst_blocked_no_steal_ms": round(max(
            (b for b, st in zip(blocked, beat.stolen, strict=True) if st == 0), default=0.0), 1),
        "worst_no_core_in_a_gap_ms": round(max(beat.queued), 1) if beat.queued else None,
        "worst_at_seconds": [round(beat.gaps[i][0], 1) for i in worst],
        "worst_gaps_ms": [round(beat.gaps[i][1], 1) for i in worst],
        # Each worst gap split: GUI thread on a core / ready but without a core /
        # idle or blocked (the timer's own wait, the interpreter lock, a system call).
        "worst_gaps_cpu_ms": [round(beat.busy[i], 1) for i in worst],
        "worst_gaps_no_core_ms": [round(beat.queued[i], 1) for i in worst],
        "worst_gaps_blocked_ms": [round(blocked[i], 1) for i in worst],
        "worst_gaps_host_steal_ms": [round(beat.stolen[i]) for i in worst],
        "user_actions": actions,
        "longest_gc_pass": collections.longest(),
        "gc_passes_over_20ms": sum(1 for ms, _g, _t in collections.passes if ms > 20),
    }
    if args.trace:
        for stack, count in sorted(watchdog.samples.items(), key=lambda kv: -kv[1])[:8]:
            print(f"--- {count} samples of 10 ms while the GUI thread was late:\n{stack}")
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for key, value in result.items():
            print(f"{key:>28}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
