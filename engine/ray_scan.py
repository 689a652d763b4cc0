"""Scan on a Ray cluster: the work on pixels on its workers, the rest here.

``facealbum scan FOLDER --ray ADDRESS``. The listing, the decisions of what
changed, the catalog and the people stay with the command (``engine.scan``).
Reading, decoding, detection, alignment and embedding (``engine.analyse``)
run on Ray actors (``ScanWorker``), one per CPU of the cluster, or one per GPU
when the scan runs on ``cuda``; each loads the networks once. They are sent
batches of paths that every machine can read at the same place (shared
storage), and their results stream back as they are done to be written in
batches, as a local scan writes them: stopping or killing the command loses
nothing committed, and the next scan resumes where it stopped.

A worker that dies during a batch (killed, out of memory, its machine lost)
is restarted by Ray, and its batch is sent again one photo at a time, so one
photo that brings its worker down costs only itself: after ``MAX_TRIES`` such
losses it is recorded as a problem. Nothing is written twice: only the
command writes, and only what came back.

Ray is an optional extra (``pip install 'facealbum[cluster]'``); the rest of
the engine never imports it.
"""

import logging
import os
import re
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from types import ModuleType
from typing import Any

from engine.analyse import Analyser, Analysis, Job, Result, read
from engine.catalog import Photo
from engine.errors import ScanError
from engine.models.age import AgeEstimator
from engine.models.mtcnn import MtcnnCheck
from engine.models.registry import get_detector, get_embedder, resolve_device
from engine.progress import CancelToken

BATCH = 8  # photos per task: small enough to spread, large enough to batch embeddings
IN_FLIGHT = 2  # tasks queued per worker, so none waits between batches
MAX_TRIES = 3  # a photo whose analysis loses its worker this often is a problem
POLL_SECONDS = 0.5  # how often a waiting command looks at its stop button
CONNECT_SECONDS = 10.0
RESTART_SECONDS = 300.0  # for a lost worker to answer again

# host:port as `ray start` prints it (an IPv6 host in brackets), or "auto".
_ADDRESS = re.compile(r"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):([0-9]{1,5})")

INSTALL_HINT = "pip install 'facealbum[cluster]'"


def address_problem(address: str) -> str:
    """Why ``address`` is not a Ray cluster's address; "" when it is one."""
    if address == "auto":
        return ""
    match = _ADDRESS.fullmatch(address)
    if match is None:
        return (
            f"{address!r} is not the address of a Ray cluster: give it as `ray start` "
            "prints it (HOST:PORT, e.g. 127.0.0.1:6379) or `auto` for the one this "
            "machine belongs to"
        )
    if not 1 <= int(match.group(1)) <= 65535:
        return f"the port of {address} must be a number from 1 to 65535 (Ray's usual is 6379)"
    return ""


def connect(address: str) -> ModuleType:
    """Ray, connected to the cluster at ``address``; a ``ScanError`` saying
    why when it cannot be."""
    problem = address_problem(address)
    if problem:
        raise ScanError(problem)
    host, _, port = address.rpartition(":")
    if host.strip("[]") in ("127.0.0.1", "localhost", "::1"):
        # A cluster on this machine alone: Ray must not swap the loopback
        # address for the machine's network one, where such a head is not.
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    try:
        import ray
    except ImportError:
        raise ScanError(
            f"scanning on a Ray cluster needs Ray, which is not installed: {INSTALL_HINT}"
        ) from None
    if ray.is_initialized():
        ray.shutdown()
    try:
        if address != "auto":
            # Ray itself retries an address that answers nothing for a minute.
            socket.create_connection((host.strip("[]"), int(port)), CONNECT_SECONDS).close()
        _within(CONNECT_SECONDS * 6, lambda: ray.init(
            address=address, logging_level=logging.ERROR, log_to_driver=False
        ))
        # Ray prints the cluster's error events (a worker lost...) on this
        # process's stdout, which is the command's output (`--json`): a lost
        # worker is counted in the summary instead.
        ray._private.worker.print_to_stdstream = _drop_printout
    except Exception as exc:  # OSError, TimeoutError, and Ray's ConnectionError...
        raise ScanError(
            f"cannot reach the Ray cluster at {address}: {_reason(exc)}; start it with "
            "`ray start --head` or check the address. Nothing was changed"
        ) from None
    return ray


def _drop_printout(data: object, ignore_prefix: bool) -> None:
    logging.getLogger(__name__).debug("ray: %s", data)


def _within(seconds: float, call: Callable[[], object]) -> None:
    """Run ``call``, quietly (Ray's own processes write to file descriptor 2
    while connecting), and give up waiting for it after ``seconds``."""
    failure: list[BaseException] = []

    def run() -> None:
        try:
            call()
        except BaseException as exc:
            failure.append(exc)

    thread = threading.Thread(target=run, name="ray-connect", daemon=True)
    with _quiet_stderr():
        thread.start()
        thread.join(seconds)
    if thread.is_alive():
        raise TimeoutError(f"no answer within {seconds:.0f} s")
    if failure:
        raise failure[0]


@contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Send what is written to file descriptor 2 to nowhere for a while."""
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


class ScanWorker:
    """One Ray actor: the networks, loaded once, and the analysis of batches."""

    def __init__(self, detector: str, embedder: str, device: str) -> None:
        self.stage_seconds: dict[str, float] = {}
        where = resolve_device(device)
        self.analyser = Analyser(
            get_detector(detector, device=where), get_embedder(embedder, device=where),
            self.stage_seconds, AgeEstimator(where),
        )
        self.device = str(where)

    def ready(self) -> tuple[int, str]:
        """Load the networks now (a worker that cannot, fails the scan before
        it starts); its pid and device."""
        self.analyser.detector.load()
        self.analyser.embedder.load()
        if self.analyser.age_estimator is not None:
            self.analyser.age_estimator.load()
        if isinstance(self.analyser.face_check, MtcnnCheck):
            self.analyser.face_check.load()
        return os.getpid(), self.device

    def analyse(
        self, root: bytes, jobs: list[Job], moves: dict[str, Photo], import_xmp: bool
    ) -> tuple[list[tuple[Result, Analysis | None]], dict[str, float]]:
        """Each job's result without its pixels, with its faces when it was
        analysed, and the seconds spent per stage."""
        self.stage_seconds.clear()
        self.stage_seconds.update(detect=0.0, align=0.0, embed=0.0)
        done: list[tuple[Result, Analysis | None]] = []
        for job in jobs:
            result = read(root, job, moves.get, import_xmp)
            analysis = None
            if (
                result.problem is None
                and result.moved_from is None
                and result.decoded is not None
            ):
                analysis = self.analyser.analyse(result)
            done.append((result, analysis))
        self.analyser.embed_all([a for _, a in done if a is not None])
        return [(r.without_pixels(), a) for r, a in done], dict(self.stage_seconds)


class Cluster:
    """A scan's connection to a Ray cluster, and its workers once started."""

    def __init__(self, options: Any) -> None:  # engine.scan.ScanOptions
        self.options = options
        self.address = options.ray_address
        self.ray = connect(self.address)
        self.workers: list[Any] = []
        self.actor: Any = None
        self.device = ""

    def analyse(
        self,
        root: bytes,
        jobs: list[Job],
        moves: Any,  # engine.scan.Moves
        cancel: CancelToken,
        summary: Any,  # engine.scan.ScanSummary
    ) -> Iterator[tuple[Result, Analysis | None]]:
        """Each job's result and analysis, in the order the cluster finishes them."""
        if not jobs:
            return
        if not self.workers:
            self._start(summary, len(jobs))
        yield from self._stream(root, jobs, moves, cancel, summary)

    def close(self) -> None:
        for worker in self.workers:
            self.ray.kill(worker)
        self.workers = []
        self.ray.shutdown()

    # -- private ---------------------------------------------------------------

    def _start(self, summary: Any, jobs: int) -> None:
        device = self.options.device
        resources = self.ray.cluster_resources()
        gpus = int(resources.get("GPU", 0))
        on_gpu = device == "cuda" or (device == "auto" and gpus > 0)
        if device == "cuda" and gpus == 0:
            raise ScanError(
                f"the Ray cluster at {self.address} has no GPU; scan with --device cpu "
                "or add machines with GPUs to it"
            )
        slots = gpus if on_gpu else int(resources.get("CPU", 0))
        count = max(1, min(slots, -(-jobs // BATCH)))
        # Ray starts a worker again after its process dies, but never retries
        # a task by itself: a lost batch is sent again from here, photo by photo.
        self.actor = self.ray.remote(
            num_cpus=1, num_gpus=1 if on_gpu else 0, max_restarts=-1, max_task_retries=0
        )(ScanWorker)
        self.device = "cuda" if on_gpu else ("cpu" if device == "auto" else device)
        self.workers = [self._new_worker() for _ in range(count)]
        try:
            ready = self.ray.get([w.ready.remote() for w in self.workers])
        except self.ray.exceptions.RayError as exc:
            raise ScanError(
                f"the workers of the Ray cluster at {self.address} cannot start: "
                f"{_reason(exc)}. Each machine needs facealbum installed, the same "
                "version, and the folder at the same path; no photo was scanned"
            ) from None
        word = "worker" if count == 1 else "workers"
        summary.device = f"ray {self.address}, {count} {word} on {ready[0][1]}"
        summary.workers = count

    def _new_worker(self) -> Any:
        return self.actor.remote(self.options.detector, self.options.embedder, self.device)

    def _revive(self, index: int) -> None:
        """Wait until a worker that lost a task answers again (Ray restarts
        its process), or put a new one in its place."""
        worker = self.workers[index]
        try:
            self.ray.get(worker.ready.remote(), timeout=RESTART_SECONDS)
            return
        except self.ray.exceptions.RayError:
            self.ray.kill(worker)
        self.workers[index] = self._new_worker()
        try:
            self.ray.get(self.workers[index].ready.remote(), timeout=RESTART_SECONDS)
        except self.ray.exceptions.RayError as exc:
            raise ScanError(
                f"a worker of the Ray cluster at {self.address} was lost and cannot start "
                f"again: {_reason(exc)}. What was analysed is kept; scan again to go on"
            ) from None

    def _stream(
        self,
        root: bytes,
        jobs: list[Job],
        moves: Any,
        cancel: CancelToken,
        summary: Any,
    ) -> Iterator[tuple[Result, Analysis | None]]:
        ray = self.ray
        todo: deque[tuple[list[Job], int]] = deque(
            (jobs[i : i + BATCH], 1) for i in range(0, len(jobs), BATCH)
        )
        vanished = ray.put(moves.by_hash)
        flying: dict[Any, tuple[int, list[Job], int]] = {}
        load = [0] * len(self.workers)
        while (todo or flying) and not cancel.cancelled:
            while todo and min(load) < IN_FLIGHT:
                index = load.index(min(load))
                batch, tries = todo.popleft()
                ref = self.workers[index].analyse.remote(
                    root, batch, vanished, self.options.import_xmp
                )
                flying[ref] = (index, batch, tries)
                load[index] += 1
            waited = time.perf_counter()
            ready, _ = ray.wait(list(flying), num_returns=1, timeout=POLL_SECONDS)
            summary.stage_seconds["wait"] += time.perf_counter() - waited
            for ref in ready:
                index, batch, tries = flying.pop(ref)
                load[index] -= 1
                try:
                    done, seconds = ray.get(ref)
                except ray.exceptions.RayError as exc:
                    summary.retried += len(batch)
                    self._revive(index)
                    if len(batch) > 1:  # again one by one: a photo that kills costs only itself
                        todo.extendleft(([job], tries + 1) for job in reversed(batch))
                    elif tries < MAX_TRIES:
                        todo.appendleft((batch, tries + 1))
                    else:
                        yield Result(batch[0], problem=(
                            f"its analysis stopped a worker of the Ray cluster {tries} "
                            f"times ({_reason(exc)})"
                        )), None
                    continue
                for stage, value in seconds.items():
                    summary.stage_seconds[stage] += value
                for result, analysis in done:
                    if result.moved_from is not None and not moves.claim(result.moved_from):
                        # Another file with this content became the move: this one is new.
                        todo.appendleft(([replace(result.job, not_moved=True)], tries))
                        continue
                    yield result, analysis


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    for line in (raw.strip() for raw in text.splitlines()):
        if line and not line.startswith(("Traceback", "File ", "ray::", "The actor")):
            return line[:300]
    return type(exc).__name__
