"""Scan a folder: find every photo, every face in it, and store them.

``scan_folder`` is a generator of ``Progress``. It walks the folder, decides
which files are new or changed (size and mtime first, content hash to
confirm), reads and decodes those in a bounded thread pool while the main
thread runs the networks, and commits finished photos in small transactions.
Stopping it (a ``CancelToken``, Ctrl-C, even SIGKILL) loses nothing that was
committed, and the next scan resumes where it stopped.

It never changes a user's facts: a changed photo's new faces inherit the
facts of the old faces they overlap, a moved photo keeps its faces, and a
deleted one is marked missing, not forgotten. Names other tools wrote in a
photo's metadata are read with the photo, queued with it in the catalog, and
imported at the end of the scan as one undoable operation
(``engine.people.importer``); a scan stopped before that leaves them queued
for the next one. A sidecar written beside an unchanged photo after its scan
is read the same way, without analysing the photo again. Each photo's
capture time is read from its metadata with its pixels; an unchanged photo
whose date was never read (a catalog from before dates were kept) has its
metadata alone read, not its pixels. The scan never writes a fact itself,
and never reads a file inside a transaction.

One scan at a time writes a catalog (``Catalog.scan_lock``, an OS lock that
dies with its process): a second one waits ``wait_for_other_scan`` seconds,
then stops with an error naming the first. A folder that cannot be read is
not a folder whose photos were deleted: its photos keep their state and the
scan reports it (``facealbum problems`` lists it too), and a scanned folder
that is gone or suddenly empty (a disk not mounted) stops the scan before it
changes anything. One file is one photo: a folder is known by its real path,
so a sub-folder of a scanned folder, or a link to one, is scanned as part of
it, and a scanned folder inside a new one stays with its own.
"""

import contextlib
import errno
import os
import queue
import stat
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from engine.analyse import EMBED_BATCH, Analyser, Analysis, Job, Result, read
from engine.catalog import Catalog, Face, FaceSource, Photo, PhotoStatus
from engine.catalog.clustering import want_regroup
from engine.catalog.records import MediaKind
from engine.catalog.scans import (
    FoundFace,
    mark_scanned,
    photos_missing_ages,
    photos_missing_embeddings,
    photos_missing_second_landmarks,
    record_folder_problems,
    record_taken,
    replace_faces,
)
from engine.errors import ScanError
from engine.imageio import is_photo_name, is_video_name
from engine.models.age import AgeEstimator
from engine.models.base import Detection, Detector, Embedder
from engine.models.registry import (
    DEFAULT_DETECTOR,
    DEFAULT_EMBEDDER,
    get_detector,
    get_embedder,
    resolve_device,
)
from engine.people.importer import import_queued, queue_regions
from engine.progress import CancelToken, Progress
from engine.quality import face_quality

if TYPE_CHECKING:
    from engine.ray_scan import Cluster

COMMIT_EVERY = 32  # photos per transaction...
COMMIT_SECONDS = 2.0  # ...or sooner, so a stop loses little and viewers see progress
DATES_EVERY = 256  # dates of photos not analysed again, per transaction


@dataclass(frozen=True)
class ScanOptions:
    detector: str = DEFAULT_DETECTOR
    embedder: str = DEFAULT_EMBEDDER
    device: str = "auto"
    workers: int = 0  # decode threads; 0 = one per core, at most 4
    import_xmp: bool = True
    # Seconds to wait for another scan of the same catalog to end. Not for
    # ever: a scan can take hours, and a second one that sits silent looks hung.
    wait_for_other_scan: float = 10.0
    # The scanned folder was emptied on purpose: mark its photos missing
    # rather than stop, as for a disk that is not mounted.
    folder_emptied: bool = False
    # A Ray cluster to analyse the photos on ("host:port" as `ray start`
    # prints it, or "auto"); empty: on this machine (engine.ray_scan).
    ray_address: str = ""


@dataclass
class ScanSummary:
    """What one scan did; ``--json`` prints it."""

    photos: int = 0  # photos on disk in the folder
    scanned: int = 0  # read and analysed this time
    unchanged: int = 0
    moved: int = 0
    missing: int = 0
    faces: int = 0  # faces found this time
    problems: int = 0
    reembedded: int = 0
    dated: int = 0  # photos not analysed again whose capture date was read (metadata only)
    imported_names: int = 0  # faces named from other tools' metadata, in one operation
    seconds: float = 0.0
    device: str = ""
    detector: str = ""
    embedder: str = ""
    cancelled: bool = False
    workers: int = 0  # on a Ray cluster: its workers
    retried: int = 0  # on a Ray cluster: photos sent again after their worker was lost
    problem_list: list[tuple[str, str]] = field(default_factory=list)
    # Seconds spent per stage. "read" and "decode" run on worker threads and
    # overlap the others; "wait" is the main thread idle for a decoded photo.
    stage_seconds: dict[str, float] = field(
        default_factory=lambda: dict.fromkeys(
            ("read", "decode", "wait", "detect", "align", "embed", "write"), 0.0
        )
    )


def scan_folder(
    catalog: Catalog,
    folder: str | os.PathLike[str],
    options: ScanOptions | None = None,
    *,
    cancel: CancelToken | None = None,
    summary: ScanSummary | None = None,
    detector: Detector | None = None,
    embedder: Embedder | None = None,
    ages: AgeEstimator | None = None,
) -> Iterator[Progress]:
    """Scan ``folder`` into ``catalog``, yielding progress after each photo.

    Pass a ``ScanSummary`` to read the totals afterwards. ``detector`` and
    ``embedder`` override the registry's models (tests, benchmarks); with
    the registry's embedder, faces' apparent ages are read by the
    ``AgeEstimator`` unless ``ages`` gives another, and with an embedder
    given, only by ``ages`` (none when it is None).
    """
    options = options or ScanOptions()
    cancel = cancel or CancelToken()
    summary = summary if summary is not None else ScanSummary()
    if not os.path.isdir(folder):
        raise ScanError(_not_a_folder(catalog, folder))
    lock = catalog.scan_lock()
    deadline = time.monotonic() + options.wait_for_other_scan
    while not lock.try_acquire():
        if cancel.cancelled:
            summary.cancelled = True
            return
        if time.monotonic() >= deadline:
            holder = lock.holder()
            raise ScanError(
                f"another scan of this catalog is running (pid {holder or 'unknown'}); "
                "wait for it to finish or stop it, then scan again (`--wait SECONDS` "
                "waits longer)"
            )
        yield Progress("waiting for another scan", 0, 0)
        time.sleep(0.2)
    cluster = None
    try:
        if options.ray_address:
            from engine.ray_scan import Cluster  # Ray is an optional extra

            cluster = Cluster(options)
        yield from _scan_locked(
            catalog, folder, options, cancel, summary, detector, embedder, cluster, ages
        )
    finally:
        if cluster is not None:
            cluster.close()
        lock.release()


def _scan_locked(
    catalog: Catalog,
    folder: str | os.PathLike[str],
    options: ScanOptions,
    cancel: CancelToken,
    summary: ScanSummary,
    detector: Detector | None,
    embedder: Embedder | None,
    cluster: "Cluster | None",
    ages: AgeEstimator | None = None,
) -> Iterator[Progress]:
    start = time.perf_counter()
    place = _place(catalog, folder)
    root = place.root
    yield Progress("listing", 0, 0)
    listing = _walk(root, place.below, place.other_roots)
    if listing.root_problem is not None:
        raise ScanError(
            f"cannot read the folder {os.fsdecode(place.folder)}: {listing.root_problem}; "
            "nothing was changed"
        )
    on_disk = listing.files
    known: dict[bytes, Photo] = {}
    if place.root_id is not None:
        known = {
            p.relpath: p for p in catalog.photos(root_id=place.root_id)
            if _under(p.relpath, place.below)
        }
    present = [p for p in known.values() if p.status is not PhotoStatus.MISSING]
    if not on_disk and present and not listing.unreadable and not options.folder_emptied:
        raise ScanError(
            f"the folder {os.fsdecode(place.folder)} is empty, but the catalog holds "
            f"{len(present)} photos from it: is its disk mounted? Nothing was changed; "
            "if the photos were removed on purpose, scan again with --folder-emptied"
        )
    summary.photos = len(on_disk)

    # On a cluster the networks run on its workers: here they only name the results.
    device = resolve_device(options.device) if cluster is None else resolve_device("cpu")
    detector = detector or get_detector(options.detector, device=device)
    if embedder is None:
        embedder = get_embedder(options.embedder, device=device)
        ages = ages or AgeEstimator(device)
    summary.device, summary.detector, summary.embedder = str(device), detector.name, embedder.name
    if cluster is not None:
        summary.device = f"ray {options.ray_address}"
    catalog.set_meta("embedder", embedder.name)
    root_id = place.root_id if place.root_id is not None else catalog.root_id(os.fsdecode(root))
    record_folder_problems(catalog, root_id, place.below, listing.unreadable)
    for rel, reason in listing.unreadable:
        kept = sum(1 for p in present if _under(p.relpath, rel))
        note = f" ({kept} photos in the catalog kept as they were)" if kept else ""
        summary.problems += 1
        summary.problem_list.append((_shown(rel) + "/", f"cannot read the folder: {reason}{note}"))

    jobs: list[Job] = []
    needs_embedding = photos_missing_embeddings(catalog, root_id, embedder.name)
    # Ray's workers always read ages (they build the registry's networks).
    reads_ages = ages is not None or cluster is not None
    needs_ages = photos_missing_ages(catalog, root_id) if reads_ages else set()
    # Faces this detector found before their landmarks were averaged with a
    # second network's are placed again, and embedded on the new landmarks.
    needs_landmarks = (
        photos_missing_second_landmarks(catalog, root_id, detector.name)
        if detector.wants_second_landmarks else set()
    )
    for relpath, entry in on_disk.items():
        old = known.get(relpath)
        if isinstance(entry, str):  # cannot even stat it: a problem, recorded below
            jobs.append(Job(relpath, 0, 0, old))
            continue
        size, mtime_ns = entry
        unchanged = (
            old is not None
            and old.status is not PhotoStatus.MISSING
            and old.size == size
            and old.mtime_ns == mtime_ns
            and not (old.status is PhotoStatus.PROBLEM and _worth_retrying(old.problem))
        )
        if unchanged and old is not None and (
            old.id in needs_embedding or old.id in needs_ages or old.id in needs_landmarks
        ):
            stored = [f for f in catalog.faces(photo_id=old.id) if f.landmarks is not None]
            faces = tuple(
                Detection(box=f.box, landmarks=f.landmarks, score=f.score)
                for f in stored if f.landmarks is not None
            )
            again = tuple(
                old.id in needs_landmarks
                and f.source in (FaceSource.DETECTED, FaceSource.MANUAL)
                and f.detector == detector.name and f.second_landmarks is None
                for f in stored
            )
            drawn = tuple(f.source is FaceSource.MANUAL for f in stored)
            # Ages alone are read at the faces' places; a video is analysed whole.
            ages_only = (
                old.id not in needs_embedding and old.id not in needs_landmarks
                and not is_video_name(relpath)
            )
            jobs.append(Job(relpath, size, mtime_ns, old, reembed_only=True, old_faces=faces,
                            ages_only=ages_only, place_again=again, drawn=drawn))
        elif (
            unchanged and old is not None and options.import_xmp
            and old.status is PhotoStatus.OK and _sidecar_since(relpath, old, listing)
        ):
            jobs.append(Job(relpath, size, mtime_ns, old, names_only=True))
        elif unchanged and old is not None and old.status is PhotoStatus.OK and not old.taken_read:
            jobs.append(Job(relpath, size, mtime_ns, old, dates_only=True))
        elif unchanged:
            summary.unchanged += 1
        else:
            jobs.append(Job(relpath, size, mtime_ns, old))

    # Photos under a folder that could not be read are not gone: they keep their state.
    vanished = [
        p for rel, p in known.items()
        if rel not in on_disk and not any(_under(rel, bad) for bad, _ in listing.unreadable)
    ]
    by_hash = {p.sha256: p for p in vanished if p.sha256}
    by_hash.update(
        {p.sha256: p for p in catalog.photos(status=PhotoStatus.MISSING) if p.sha256}
    )
    moves = Moves(by_hash)

    pipeline = _Pipeline(catalog, detector, embedder, options, summary, root_id, ages)
    total = len(jobs)
    done = 0
    yield Progress("scanning", 0, total, _info(summary))
    if cluster is not None:
        stream = cluster.analyse(root, jobs, moves, cancel, summary)
    else:
        stream = (
            (result, None)
            for result in _read_here(root, jobs, moves, options, cancel, summary.stage_seconds)
        )
    for result, analysis in stream:
        pipeline.add(result, analysis)
        done += 1
        yield Progress("scanning", done, total, _info(summary))
    summary.cancelled = summary.cancelled or cancel.cancelled
    pipeline.flush()

    if not summary.cancelled:
        for photo in vanished:
            if photo.id not in moves.claimed and photo.status is not PhotoStatus.MISSING:
                catalog.update_photo(photo.id, status=PhotoStatus.MISSING)
                summary.missing += 1
    if options.import_xmp:
        # Also after a stop: what was committed had its names queued, and
        # waiting for the next scan would only delay them. A stopped scan says
        # nothing more before its last report: a caller that stops reading
        # at the first report after a cancel still sees where the scan ended.
        if not summary.cancelled:
            yield Progress("importing", 0, 0, _info(summary))
        summary.imported_names = import_queued(catalog).names
    summary.seconds = time.perf_counter() - start
    yield Progress("scanning", done, total, _info(summary))


def _info(summary: ScanSummary) -> dict[str, float | int | str]:
    return {"faces": summary.faces, "problems": summary.problems}


def _sidecar_since(relpath: bytes, photo: Photo, listing: "_Listing") -> bool:
    """Whether a sidecar of the photo (``photo.jpg.xmp`` or ``photo.xmp``) was
    written after the photo was last scanned: another tool named its people."""
    stem = os.path.splitext(relpath)[0]
    since = int(photo.scanned_at * 1e9)
    return any(
        listing.sidecars.get(name, 0) > since
        for name in (relpath + b".xmp", relpath + b".XMP", stem + b".xmp", stem + b".XMP")
    )


def _worth_retrying(problem: str | None) -> bool:
    """Problems that can go away without the file changing."""
    return bool(problem) and (
        "permission" in (problem or "") or "symbolic link" in (problem or "")
    )


@dataclass
class _Listing:
    """What the walk found under a scanned folder."""

    files: dict[bytes, tuple[int, int] | str] = field(default_factory=dict)  # or a problem
    sidecars: dict[bytes, int] = field(default_factory=dict)  # XMP sidecars: mtime_ns
    unreadable: list[tuple[bytes, str]] = field(default_factory=list)  # folders, and why
    root_problem: str | None = None  # the folder scanned could not be read at all


@dataclass(frozen=True)
class _Place:
    """Where a scanned folder lies in the catalog."""

    folder: bytes  # as given, absolute
    root: bytes  # the catalog's root holding it (the folder itself when new)
    root_id: int | None  # None: a new root, created when the scan starts writing
    below: bytes  # the folder's path under ``root``; b"" for the root itself
    other_roots: frozenset[bytes]  # real paths of scanned folders inside it: not walked


def _place(catalog: Catalog, folder: str | os.PathLike[str]) -> _Place:
    """Find the scanned folder that holds ``folder``, comparing real paths: a
    link to a scanned folder, or a folder inside one, is that folder again."""
    given = os.fsencode(os.path.abspath(folder))
    real = os.path.realpath(given)
    best: tuple[int, bytes, bytes] | None = None
    inside: set[bytes] = set()
    for root_id, path in catalog.roots():
        root_real = os.path.realpath(path)
        if real == root_real or real.startswith(root_real.rstrip(b"/") + b"/"):
            if best is None or len(root_real) > len(best[2]):
                best = (root_id, path, root_real)
        elif root_real.startswith(real.rstrip(b"/") + b"/"):
            inside.add(root_real)
    if best is None:
        return _Place(given, given, None, b"", frozenset(inside))
    root_id, path, root_real = best
    below = b"" if real == root_real else os.path.relpath(real, root_real)
    return _Place(given, path, root_id, below, frozenset(inside))


def _not_a_folder(catalog: Catalog, folder: str | os.PathLike[str]) -> str:
    """Why ``folder`` cannot be scanned: gone (its disk unmounted?) or never a folder."""
    given = os.fsencode(os.path.abspath(folder))
    for root_id, path in catalog.roots():
        if given in (path, os.path.realpath(path)):
            held = [p for p in catalog.photos(root_id=root_id)
                    if p.status is not PhotoStatus.MISSING]
            return (
                f"the folder {os.fsdecode(given)} is not there, but the catalog holds "
                f"{len(held)} photos from it: is its disk mounted? Nothing was changed; "
                "connect the disk and scan again"
            )
    return f"{os.fsdecode(folder)!r} is not a folder; pass the folder of photos"


def _under(relpath: bytes, folder: bytes) -> bool:
    return not folder or relpath == folder or relpath.startswith(folder.rstrip(b"/") + b"/")


def _shown(relpath: bytes) -> str:
    return relpath.decode("utf-8", "replace")


def _reason(exc: OSError) -> str:
    if exc.errno == errno.ENAMETOOLONG:
        return (
            "its path is longer than this system allows; move it, or rename its folders, "
            "to make the path shorter"
        )
    return (exc.strerror or str(exc)).lower()


def _walk(root: bytes, below: bytes = b"", skip: frozenset[bytes] = frozenset()) -> _Listing:
    """(relative path, (size, mtime_ns) or a problem) for each photo under
    ``root``/``below``, and the folders that could not be read, with why.

    Follows symbolic links to folders but walks each real folder once, so a
    link loop ends; folders in ``skip`` (real paths) are not walked. Names
    are bytes: they need not be UTF-8.
    """
    listing = _Listing()
    seen: set[tuple[int, int]] = set()
    for other in skip:
        try:
            st = os.stat(other)
        except OSError:
            continue
        seen.add((st.st_dev, st.st_ino))
    start = os.path.join(root, below) if below else root
    stack = [start]
    while stack:
        folder = stack.pop()
        try:
            st = os.stat(folder)
            if (st.st_dev, st.st_ino) in seen:
                continue
            seen.add((st.st_dev, st.st_ino))
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            # Unreadable is not empty: the photos it holds must not turn missing.
            if folder == start:
                listing.root_problem = _reason(exc)
            else:
                listing.unreadable.append((os.path.relpath(folder, root), _reason(exc)))
            continue
        for entry in entries:
            rel = os.path.relpath(entry.path, root)
            try:
                is_dir = entry.is_dir(follow_symlinks=True)
            except OSError:
                is_dir = False
            if is_dir:
                if not entry.name.startswith(b"."):
                    stack.append(entry.path)
                continue
            if entry.name.lower().endswith(b".xmp"):
                with contextlib.suppress(OSError):  # read, or not, with its photo
                    listing.sidecars[rel] = entry.stat(follow_symlinks=True).st_mtime_ns
                continue
            if not is_photo_name(entry.name):
                continue
            try:
                st = entry.stat(follow_symlinks=True)
            except FileNotFoundError:
                listing.files[rel] = "broken symbolic link"
                continue
            except OSError as exc:
                listing.files[rel] = f"cannot read the file: {_reason(exc)}"
                continue
            if stat.S_ISREG(st.st_mode):
                listing.files[rel] = (st.st_size, st.st_mtime_ns)
    return listing


class Moves:
    """Vanished photos by content: each may become the move of one file found
    with its content, the first to claim it."""

    def __init__(self, by_hash: dict[str, Photo]) -> None:
        self.by_hash = by_hash
        self.claimed: set[int] = set()
        self._lock = threading.Lock()

    def claim(self, photo: Photo) -> bool:
        with self._lock:
            if photo.id in self.claimed:
                return False
            self.claimed.add(photo.id)
            return True

    def claim_content(self, sha256: str) -> Photo | None:
        photo = self.by_hash.get(sha256)
        return photo if photo is not None and self.claim(photo) else None


def _read_here(
    root: bytes, jobs: list[Job], moves: Moves, options: ScanOptions, cancel: CancelToken,
    stage_seconds: dict[str, float],
) -> Iterator[Result]:
    """Read and decode the jobs' files on a bounded pool of threads, in order,
    while the caller analyses each one as it comes."""
    workers = options.workers or min(4, os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="decode") as pool:
        pending: queue.Queue[Future[Result]] = queue.Queue()
        feed = iter(jobs)

        def submit_next() -> None:
            job = next(feed, None)
            if job is not None:
                pending.put(
                    pool.submit(read, root, job, moves.claim_content, options.import_xmp)
                )

        try:
            for _ in range(workers * 2):  # bounded read-ahead keeps memory flat
                submit_next()
            while not pending.empty() and not cancel.cancelled:
                waited = time.perf_counter()
                result = pending.get().result()
                stage_seconds["wait"] += time.perf_counter() - waited
                submit_next()
                yield result
        finally:
            for future in list(pending.queue):
                future.cancel()


class _Pipeline:
    """The scan's half on this machine: analyse what was not analysed
    elsewhere, then write the photos in batches, one transaction each."""

    def __init__(
        self,
        catalog: Catalog,
        detector: Detector,
        embedder: Embedder,
        options: ScanOptions,
        summary: ScanSummary,
        root_id: int,
        ages: AgeEstimator | None = None,
    ) -> None:
        self.catalog = catalog
        self.analyser = Analyser(detector, embedder, summary.stage_seconds, ages)
        self.options = options
        self.summary = summary
        self.root_id = root_id
        self.last_flush = time.perf_counter()
        self.photos: list[tuple[Result, Analysis]] = []
        self.crops = 0  # waiting to be embedded
        self.dates: list[tuple[int, float | None]] = []  # of photos not analysed again

    def add(self, result: Result, analysis: Analysis | None = None) -> None:
        """Take one read photo, with its analysis when it was analysed elsewhere."""
        job = result.job
        self.summary.stage_seconds["read"] += result.read_seconds
        self.summary.stage_seconds["decode"] += result.decode_seconds
        if result.problem is not None:
            self._write_problem(result)
        elif job.names_only:
            self._write_names(result)
        elif job.dates_only:
            self.summary.unchanged += 1
        elif result.moved_from is not None:
            self.catalog.update_photo(
                result.moved_from.id, root_id=self.root_id, relpath=job.relpath, size=job.size,
                mtime_ns=job.mtime_ns, status=PhotoStatus.OK, problem=None,
            )
            self.summary.moved += 1
        elif result.decoded is None and job.old is not None:
            self.catalog.update_photo(
                job.old.id, size=job.size, mtime_ns=job.mtime_ns, status=PhotoStatus.OK
            )
            self.summary.unchanged += 1
        elif result.decoded is not None:
            if analysis is None:
                analysis = self.analyser.analyse(result)
            self.photos.append((result, analysis))
            self.crops += max(len(analysis.crops), len(analysis.age_chips))
        if result.problem is None and result.decoded is None and result.taken_read:
            # Its metadata alone was read: the date waits for the next batch.
            photo = result.moved_from or job.old
            if photo is not None:
                self.dates.append((photo.id, result.taken))
                self.summary.dated += 1
        if (
            len(self.photos) >= COMMIT_EVERY
            or self.crops >= EMBED_BATCH * 2
            or len(self.dates) >= DATES_EVERY
            or time.perf_counter() - self.last_flush > COMMIT_SECONDS
        ):
            self.flush()

    def flush(self) -> None:
        self.last_flush = time.perf_counter()
        if not self.photos and not self.dates:
            return
        self.analyser.embed_all([analysis for _, analysis in self.photos])
        clock = time.perf_counter()
        with self.catalog.transaction():
            evidence = [photo_id for photo_id, _ in self.dates]  # for faces already grouped
            for result, analysis in self.photos:
                if result.job.ages_only:
                    self._write_ages(result, analysis)
                elif result.job.reembed_only and not is_video_name(result.job.relpath):
                    self._write_reembedding(result, analysis)
                else:
                    self._write_photo(result, analysis)
                    continue
                if result.job.old is not None:
                    evidence.append(result.job.old.id)
            for photo_id, taken in self.dates:
                record_taken(self.catalog, photo_id, taken)
            if evidence:
                want_regroup(self.catalog, evidence)
        self.summary.stage_seconds["write"] += time.perf_counter() - clock
        self.photos, self.crops, self.dates = [], 0, []

    # -- private ---------------------------------------------------------------

    def _write_names(self, result: Result) -> None:
        """Queue the names a new sidecar gives an unchanged photo; the photo
        counts as scanned now, so the same sidecar is not read again."""
        old = result.job.old
        if old is None:
            return
        with self.catalog.transaction():
            queue_regions(self.catalog, old.id, old.sha256, result.names)
            self.catalog.update_photo(old.id, scanned_at=time.time())
        self.summary.unchanged += 1
        if result.regions_problem is not None:
            self.summary.problems += 1
            self.summary.problem_list.append((_shown(result.job.relpath), result.regions_problem))

    def _write_problem(self, result: Result) -> None:
        job = result.job
        reason = result.problem or "unknown problem"
        if job.old is not None and job.old.status is PhotoStatus.OK:
            # Keep the faces of a photo that was fine before; say what is wrong now.
            self.catalog.update_photo(
                job.old.id, status=PhotoStatus.PROBLEM, problem=reason, size=job.size,
                mtime_ns=job.mtime_ns,
            )
        else:
            self.catalog.add_photo(
                self.root_id, job.relpath, size=job.size, mtime_ns=job.mtime_ns, sha256=None,
                width=None, height=None, status=PhotoStatus.PROBLEM, problem=reason,
                kind=_kind(job.relpath),
            )
        self.summary.problems += 1
        self.summary.problem_list.append((job.relpath.decode("utf-8", "replace"), reason))

    def _write_photo(self, result: Result, analysis: Analysis) -> None:
        job, decoded = result.job, result.decoded
        if decoded is None or analysis.vectors is None:
            return
        detector, model = self.analyser.detector.name, self.analyser.embedder.name
        if job.old is not None:
            photo_id = job.old.id
            mark_scanned(
                self.catalog, photo_id, size=job.size, mtime_ns=job.mtime_ns,
                sha256=result.sha256, width=decoded.width, height=decoded.height,
                detector=detector, kind=_kind(job.relpath),
            )
        else:
            # A row may have appeared at this path since the listing (a catalog
            # written by an older program's concurrent scan): ``add_photo``
            # keeps it and its faces, and they are matched like any old faces.
            photo_id = self.catalog.add_photo(
                self.root_id, job.relpath, size=job.size, mtime_ns=job.mtime_ns,
                sha256=result.sha256, width=decoded.width, height=decoded.height,
                status=PhotoStatus.OK, detector=detector, kind=_kind(job.relpath),
            )
        old_faces = self.catalog.faces(photo_id=photo_id)
        detections = analysis.detections
        seconds: list[float | None] = (
            list(result.face_seconds) if result.face_seconds is not None
            else [None] * len(detections)
        )
        ages = analysis.ages or [None] * len(detections)
        second = analysis.second_landmarks or [None] * len(detections)
        found = [
            FoundFace(
                box=det.box, landmarks=det.landmarks, score=det.score,
                quality=face_quality.score(det.box, sharp), sharpness=sharp, embedding=vec,
                frame_seconds=at, age=age, second_landmarks=by,
            )
            for det, sharp, vec, at, age, by in zip(
                detections, analysis.sharpness, analysis.vectors, seconds, ages, second,
                strict=True,
            )
        ]
        same_as = {i: face.id for i, face in _match_old_faces(old_faces, detections).items()}
        replace_faces(self.catalog, photo_id, found, same_as, detector=detector, model=model)
        if result.taken_read:
            record_taken(self.catalog, photo_id, result.taken)
        self.summary.scanned += 1
        self.summary.faces += len(detections)
        if self.options.import_xmp:
            # Queued with the photo, in its transaction: a kill after this
            # commit leaves the names waiting for the next import, never lost.
            queue_regions(self.catalog, photo_id, result.sha256, result.names)
            if result.regions_problem is not None:
                self.summary.problems += 1
                self.summary.problem_list.append(
                    (job.relpath.decode("utf-8", "replace"), result.regions_problem)
                )

    def _write_ages(self, result: Result, analysis: Analysis) -> None:
        old = result.job.old
        if old is None:
            return
        faces = [f for f in self.catalog.faces(photo_id=old.id) if f.landmarks is not None]
        if len(faces) != len(analysis.ages):
            return  # its faces changed since the listing (a tag): the next scan reads them
        for face, age in zip(faces, analysis.ages, strict=True):
            if age is not None:
                self.catalog.set_age(face.id, age)
        if result.taken_read:
            record_taken(self.catalog, old.id, result.taken)
        self.summary.reembedded += 1

    def _write_reembedding(self, result: Result, analysis: Analysis) -> None:
        old = result.job.old
        if old is None or analysis.vectors is None:
            return
        faces = [f for f in self.catalog.faces(photo_id=old.id) if f.landmarks is not None]
        if len(faces) != len(analysis.vectors):
            return  # its faces changed since the listing (a tag): the next scan embeds them
        model = self.analyser.embedder.name
        ages = analysis.ages or [None] * len(faces)
        second = analysis.second_landmarks or [None] * len(faces)
        for face, det, vec, age, by in zip(
            faces, analysis.detections, analysis.vectors, ages, second, strict=True
        ):
            if by is not None and face.second_landmarks is None:
                # Placed again with the second network: the embedding rests on them.
                self.catalog.set_landmarks(face.id, det.landmarks, by)
            self.catalog.put_embedding(face.id, model, vec)
            if age is not None:
                self.catalog.set_age(face.id, age)
        if result.taken_read:
            record_taken(self.catalog, old.id, result.taken)
        self.summary.reembedded += 1


def _kind(relpath: bytes) -> MediaKind:
    return MediaKind.VIDEO if is_video_name(relpath) else MediaKind.PHOTO


def _match_old_faces(old_faces: list[Face], detections: list[Detection]) -> dict[int, Face]:
    """Old detected faces that a new detection overlaps (IoU > 0.5), by detection index.

    Keeping the old row keeps its id, and with it every fact attached to it.
    """
    matches: dict[int, Face] = {}
    used: set[int] = set()
    candidates = [f for f in old_faces if f.source is FaceSource.DETECTED]
    for i, det in enumerate(detections):
        best, best_iou = None, 0.5
        for face in candidates:
            if face.id in used:
                continue
            iou = box_iou(det.box, face.box)
            if iou > best_iou:
                best, best_iou = face, iou
        if best is not None:
            used.add(best.id)
            matches[i] = best
    return matches


def box_iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    iw = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    ih = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    inter = iw * ih
    union = aw * ah + bw * bh - inter
    return inter / union if union > 0 else 0.0
