"""Open a catalog and read and write its records.

``Catalog`` wraps one SQLite connection in WAL mode, so the GUI and the CLI
may have the same catalog open at once (one writer at a time; readers never
block). Every change runs inside ``transaction()``: a crash, a SIGKILL or a
Ctrl-C leaves either the whole change or none of it. A connection belongs to
the thread that opened it; a worker thread opens its own ``Catalog``.

Opening never changes a file it does not recognise: another program's SQLite
file, a truncated or damaged catalog is refused before the first write (no
table added, no switch to WAL). A full ``PRAGMA quick_check`` runs before the
first write of each process, so a damaged catalog is never written to. Every
SQLite failure leaves this module as a ``CatalogError`` that names the real
cause (full disk, read-only file or disk, damage, a lock held too long) and
what to do (``catalog_failure``): never a raw ``sqlite3`` error. ``ScanLock``
lets one scan at a time write a catalog.

This module holds the queries every part of the engine shares. The named
operations of one part each live beside it in this package (``scans`` for
what a scan writes, ``imports`` and ``exports`` for metadata coming in and
albums going out, ``persons`` for following merges, ...): no module outside
``engine.catalog`` speaks SQL. Nothing here creates or alters a table:
that is ``schema``'s job.
"""

import contextlib
import errno
import os
import shutil
import sqlite3
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
import platformdirs

from engine.catalog.records import (
    AssignedBy,
    Face,
    FaceSource,
    FaceState,
    MediaKind,
    Person,
    Photo,
    PhotoStatus,
)
from engine.catalog.schema import SCHEMA_VERSION, current_version, migrate
from engine.errors import CatalogError, FactsAtRiskError, NotFoundError

APP_NAME = "facealbum"


def default_catalog_path() -> Path:
    """The catalog used when a command is given no ``--catalog``."""
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)) / "catalog.sqlite"


class Catalog:
    """One open catalog file."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        try:
            self._conn, self._file = _connect(self.path)
        except OSError as exc:
            raise CatalogError(
                f"cannot open the catalog {self.path}: {exc.strerror or exc}; "
                "check the folder exists and is writable, or pass another --catalog"
            ) from exc
        except sqlite3.Error as exc:
            raise catalog_failure(exc, self.path) from exc
        self._depth = 0
        self._verified = False
        try:
            self._conn.execute("PRAGMA foreign_keys = ON")
            self._conn.execute("PRAGMA busy_timeout = 30000")
            found = _identify(self._conn, self.path)
            if found < SCHEMA_VERSION:
                self.verify()  # an upgrade is a write: never into a damaged file
            if self._conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute("PRAGMA synchronous = NORMAL")
            migrate(self._conn)
        except sqlite3.Error as exc:
            self.close()
            raise catalog_failure(exc, self.path) from exc
        except BaseException:
            self.close()
            raise

    def verify(self) -> None:
        """Refuse a damaged catalog: ``PRAGMA quick_check``, once per open catalog.

        It reads every page (1.7 s for a catalog of 100,000 photos), so it runs
        before the first write rather than on every open: reading a damaged
        page fails on its own, with a clear ``CatalogError``.
        """
        if self._verified:
            return
        try:
            st = os.stat(self.path)
        except OSError:
            return  # a file SQLite has not created yet holds nothing to damage
        key = (st.st_dev, st.st_ino, st.st_ctime_ns)  # the same file, unchanged since
        if key not in _VERIFIED:
            try:
                rows = [str(r[0]) for r in self._conn.execute("PRAGMA quick_check").fetchall()]
            except sqlite3.Error as exc:
                raise catalog_failure(exc, self.path) from exc
            if rows != ["ok"]:
                raise CatalogError(_damaged(self.path, "; ".join(rows[:3])))
            _VERIFIED.add(key)
        self._verified = True

    def scan_lock(self) -> "ScanLock":
        """The lock that one scan of this catalog holds while it writes."""
        return ScanLock(Path(f"{self.path}.scan-lock"))

    def close(self) -> None:
        self._conn.close()
        _forget(self._file)
        self._file = None

    def checkpoint(self) -> None:
        """Fold the write-ahead log into the main file, so the file alone is the catalog."""
        self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def __enter__(self) -> "Catalog":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """All-or-nothing changes; nested calls become savepoints.

        A SQLite failure inside (a full disk in the middle of a scan, a file
        made read-only, a damaged page) leaves as a ``CatalogError`` naming
        its cause, after the change is rolled back.
        """
        if self._depth == 0:
            self.verify()
            try:
                self._conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise catalog_failure(exc, self.path) from exc
            name = None
        else:
            name = f"sp{self._depth}"
            self._conn.execute(f"SAVEPOINT {name}")
        self._depth += 1
        try:
            yield self._conn
        except BaseException as exc:
            self._depth -= 1
            self._roll_back(name)
            if isinstance(exc, sqlite3.Error) and name is None:
                raise catalog_failure(exc, self.path) from exc
            raise
        self._depth -= 1
        try:
            if name is None:
                self._conn.execute("COMMIT")
            else:
                self._conn.execute(f"RELEASE {name}")
        except sqlite3.Error as exc:
            if name is None:
                self._roll_back(None)
                raise catalog_failure(exc, self.path) from exc
            raise

    def _roll_back(self, savepoint: str | None) -> None:
        """Undo the open change; SQLite may already have rolled it back itself
        (a full disk, an I/O error), which is no second failure."""
        if not self._conn.in_transaction:
            return
        try:
            if savepoint is None:
                self._conn.execute("ROLLBACK")
            else:
                self._conn.execute(f"ROLLBACK TO {savepoint}")
                self._conn.execute(f"RELEASE {savepoint}")
        except sqlite3.Error:
            pass  # the failure that brought us here is the one to report

    # -- meta ---------------------------------------------------------------

    def get_meta(self, key: str, default: str | None = None) -> str | None:
        row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction():
            self._conn.execute(
                "INSERT INTO meta(key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    # -- roots and photos ----------------------------------------------------

    def root_id(self, folder: str | os.PathLike[str]) -> int:
        """The id of a scanned folder, created on first use."""
        raw = os.fsencode(os.path.abspath(folder))
        with self.transaction():
            self._conn.execute("INSERT OR IGNORE INTO roots(path) VALUES (?)", (raw,))
            row = self._conn.execute("SELECT id FROM roots WHERE path = ?", (raw,)).fetchone()
        return int(row[0])

    def roots(self) -> list[tuple[int, bytes]]:
        return [(int(r[0]), bytes(r[1])) for r in self._conn.execute("SELECT id, path FROM roots")]

    def photo(self, photo_id: int) -> Photo:
        row = self._conn.execute(_PHOTO_SELECT + " WHERE p.id = ?", (photo_id,)).fetchone()
        if row is None:
            raise NotFoundError(
                f"no photo with id {photo_id}; `facealbum photos` lists the catalog's photos"
            )
        return _photo(row)

    def photos(
        self, status: PhotoStatus | None = None, root_id: int | None = None
    ) -> list[Photo]:
        where: list[str] = []
        args: list[object] = []
        if status is not None:
            where.append("p.status = ?")
            args.append(str(status))
        if root_id is not None:
            where.append("p.root_id = ?")
            args.append(root_id)
        sql = _PHOTO_SELECT + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY p.id"
        return [_photo(r) for r in self._conn.execute(sql, args)]

    def photos_with_hash(self, sha256: str) -> list[Photo]:
        return [
            _photo(r) for r in self._conn.execute(_PHOTO_SELECT + " WHERE p.sha256 = ?", (sha256,))
        ]

    def add_photo(
        self,
        root_id: int,
        relpath: bytes,
        *,
        size: int,
        mtime_ns: int,
        sha256: str | None,
        width: int | None,
        height: int | None,
        status: PhotoStatus,
        problem: str | None = None,
        detector: str | None = None,
        kind: MediaKind = MediaKind.PHOTO,
    ) -> int:
        """Store the photo (or video) found at ``relpath``; returns its id.

        A row already at that path (another scan stored it meanwhile, or it
        was a problem) is brought up to date in place, keeping its id and its
        faces: a face carrying a user fact is never deleted here. Regions
        queued from other content of the file go.
        """
        now = time.time()
        with self.transaction():
            self._conn.execute(
                "INSERT INTO photos(root_id, relpath, size, mtime_ns, sha256, width, height,"
                " status, problem, detector, scanned_at, kind) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"
                " ON CONFLICT(root_id, relpath) DO UPDATE SET size = excluded.size,"
                " mtime_ns = excluded.mtime_ns, sha256 = excluded.sha256,"
                " width = excluded.width, height = excluded.height, status = excluded.status,"
                " problem = excluded.problem, detector = excluded.detector,"
                " scanned_at = excluded.scanned_at, kind = excluded.kind",
                (root_id, relpath, size, mtime_ns, sha256, width, height, str(status),
                 problem, detector, now, str(kind)),
            )
            photo_id = int(self._conn.execute(
                "SELECT id FROM photos WHERE root_id = ? AND relpath = ?", (root_id, relpath)
            ).fetchone()[0])
            self._conn.execute(
                "DELETE FROM queued_regions WHERE photo_id = ? AND sha256 IS NOT ?",
                (photo_id, sha256),
            )
            return photo_id

    def update_photo(self, photo_id: int, **fields: object) -> None:
        """Change some columns of one photo (moves, missing files, unreadable ones)."""
        allowed = {"root_id", "relpath", "size", "mtime_ns", "status", "problem", "scanned_at"}
        unknown = set(fields) - allowed
        if unknown:
            raise ValueError(f"cannot update photo columns {sorted(unknown)}")
        sets = ", ".join(f"{k} = ?" for k in fields)
        with self.transaction():
            self._conn.execute(
                f"UPDATE photos SET {sets} WHERE id = ?", (*[_sql(v) for v in fields.values()],
                                                         photo_id)
            )

    def purge_missing(self, *, force: bool = False) -> int:
        """Forget photos marked missing, with their faces; returns how many.

        Refuses, changing nothing, when a face of those photos carries a user
        fact (confirmed, marked, rejected, or in a named person), unless
        ``force``: a photo is often missing only because its disk is not
        mounted.
        """
        missing = str(PhotoStatus.MISSING)
        with self.transaction():
            if not force:
                row = self._conn.execute(
                    "WITH risk AS (SELECT f.photo_id,"
                    "  COALESCE(f.assigned_by = ?, 0) AS confirmed, f.state != ? AS marked,"
                    "  EXISTS (SELECT 1 FROM rejections r WHERE r.face_id = f.id) AS rejected,"
                    "  EXISTS (SELECT 1 FROM persons n WHERE n.id = f.person_id"
                    "          AND n.name IS NOT NULL) AS named"
                    "  FROM faces f JOIN photos p ON p.id = f.photo_id WHERE p.status = ?)"
                    " SELECT COUNT(DISTINCT photo_id), COUNT(*), TOTAL(confirmed), TOTAL(marked),"
                    " TOTAL(rejected), TOTAL(named) FROM risk"
                    " WHERE confirmed OR marked OR rejected OR named",
                    (str(AssignedBy.USER), str(FaceState.FACE), missing),
                ).fetchone()
                photos, faces, confirmed, marked, rejected, named = (int(v) for v in row)
                if faces:
                    total = self._conn.execute(
                        "SELECT COUNT(*) FROM photos WHERE status = ?", (missing,)
                    ).fetchone()[0]
                    kinds = ", ".join(
                        f"{n} {what}" for n, what in (
                            (named, "in a named person"), (confirmed, "confirmed"),
                            (marked, "marked"), (rejected, "rejected from someone"),
                        ) if n
                    )
                    raise FactsAtRiskError(
                        f"purge would forget {faces} faces that carry your decisions ({kinds}),"
                        f" in {photos} of the {total} missing photos; nothing was purged. If"
                        " their disk is not mounted, mount it and scan again; to forget them"
                        " anyway, run `facealbum purge --force`"
                    )
            cur = self._conn.execute("DELETE FROM photos WHERE status = ?", (missing,))
        return cur.rowcount

    # -- faces and embeddings ------------------------------------------------

    def add_face(
        self,
        photo_id: int,
        box: Sequence[float],
        landmarks: np.ndarray | None,
        *,
        score: float,
        quality: float,
        sharpness: float,
        detector: str,
        source: FaceSource = FaceSource.DETECTED,
        second_landmarks: str | None = None,
    ) -> int:
        lm = None
        if landmarks is not None:
            lm = np.asarray(landmarks, np.float32).reshape(5, 2).tobytes()
        x, y, w, h = (float(v) for v in box)
        with self.transaction():
            cur = self._conn.execute(
                "INSERT INTO faces(photo_id, x, y, w, h, landmarks, score, quality, sharpness,"
                " detector, source, created_at, second_landmarks)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (photo_id, x, y, w, h, lm, float(score), float(quality), float(sharpness),
                 detector, str(source), time.time(), second_landmarks),
            )
            return int(cur.lastrowid or 0)

    def face(self, face_id: int) -> Face:
        row = self._conn.execute(_FACE_SELECT + " WHERE id = ?", (face_id,)).fetchone()
        if row is None:
            raise NotFoundError(
                f"no face with id {face_id}; `facealbum faces PERSON` lists a person's faces"
            )
        return _face(row)

    def faces(
        self,
        *,
        photo_id: int | None = None,
        person_id: int | None = None,
        ids: Iterable[int] | None = None,
    ) -> list[Face]:
        where: list[str] = ["1"]
        args: list[object] = []
        if photo_id is not None:
            where.append("photo_id = ?")
            args.append(photo_id)
        if person_id is not None:
            where.append("person_id = ?")
            args.append(person_id)
        if ids is not None:
            id_list = [int(i) for i in ids]
            where.append(f"id IN ({','.join('?' * len(id_list))})" if id_list else "0")
            args.extend(id_list)
        sql = _FACE_SELECT + " WHERE " + " AND ".join(where) + " ORDER BY id"
        return [_face(r) for r in self._conn.execute(sql, args)]

    def set_landmarks(
        self, face_id: int, landmarks: np.ndarray, second_landmarks: str | None
    ) -> None:
        """Record a face's landmarks placed again, and the second network they
        were averaged with (None: the detector's own)."""
        blob = np.asarray(landmarks, np.float32).reshape(5, 2).tobytes()
        with self.transaction():
            self._conn.execute(
                "UPDATE faces SET landmarks = ?, second_landmarks = ? WHERE id = ?",
                (blob, second_landmarks, face_id),
            )

    def set_age(self, face_id: int, age: float | None) -> None:
        """Record a face's apparent age in years (``engine.models.age``); None: unknown."""
        with self.transaction():
            self._conn.execute(
                "UPDATE faces SET age = ? WHERE id = ?",
                (None if age is None or not np.isfinite(age) else float(age), face_id),
            )

    def put_embedding(self, face_id: int, model: str, vector: np.ndarray) -> None:
        blob = np.ascontiguousarray(vector, dtype=np.float32).tobytes()
        with self.transaction():
            self._conn.execute(
                "INSERT OR REPLACE INTO embeddings(face_id, model, vector) VALUES (?,?,?)",
                (face_id, model, blob),
            )

    def embeddings(
        self, model: str, face_ids: Iterable[int] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(face ids, float32 matrix with one L2-normalised row per face)."""
        if face_ids is None:
            rows = self._conn.execute(
                "SELECT face_id, vector FROM embeddings WHERE model = ? ORDER BY face_id", (model,)
            ).fetchall()
        else:
            wanted = [int(i) for i in face_ids]
            rows = []
            for start in range(0, len(wanted), 900):  # SQLite's variable limit
                chunk = wanted[start : start + 900]
                rows += self._conn.execute(
                    f"SELECT face_id, vector FROM embeddings WHERE model = ? AND face_id IN "
                    f"({','.join('?' * len(chunk))})",
                    (model, *chunk),
                ).fetchall()
            rows.sort(key=lambda r: r[0])
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        if not rows:
            return ids, np.zeros((0, 0), np.float32)
        matrix = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32)
        return ids, matrix.reshape(len(rows), -1).copy()

    # -- persons -------------------------------------------------------------

    def person(self, person_id: int) -> Person:
        row = self._conn.execute(_PERSON_SELECT + " WHERE id = ?", (person_id,)).fetchone()
        if row is None:
            raise NotFoundError(
                f"no person with id {person_id}; `facealbum people` lists the valid ids"
            )
        return _person(row)

    def persons(self, *, include_merged: bool = False) -> list[Person]:
        sql = _PERSON_SELECT + ("" if include_merged else " WHERE merged_into IS NULL")
        return [_person(r) for r in self._conn.execute(sql + " ORDER BY id")]


class ScanLock:
    """An OS lock on a file beside the catalog: one scan at a time writes it.

    ``fcntl.flock`` where the system has it (``msvcrt.locking`` on Windows):
    the system releases the lock when its process ends however it ends, even
    SIGKILL, so no stale lock is ever left to clear by hand. The holder
    writes its process id into the file for the message of the next one.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def try_acquire(self) -> bool:
        """Take the lock if nobody holds it; False when another scan does."""
        if self._fd is not None:
            return True
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise CatalogError(
                f"cannot create the lock file {self.path} beside the catalog: "
                f"{exc.strerror or exc}; {_write_advice(self.path, exc)}"
            ) from exc
        if not _lock_file(fd):
            os.close(fd)
            return False
        self._fd = fd
        # The pid only words the next scan's message: a full disk must not stop this scan.
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
            os.write(fd, str(os.getpid()).encode())
        return True

    def holder(self) -> int | None:
        """The process id of the scan holding the lock, if it says."""
        try:
            text = self.path.read_text(encoding="ascii", errors="replace").strip()
        except OSError:
            return None
        return int(text) if text.isdigit() else None

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        with contextlib.suppress(OSError):  # a stale pid only words a message
            os.ftruncate(fd, 0)
        os.close(fd)  # closing releases the lock


def catalog_failure(exc: sqlite3.Error, path: str | os.PathLike[str]) -> CatalogError:
    """The ``CatalogError`` for a failure of SQLite, naming its real cause.

    A full disk, a read-only file or disk, a damaged file and a lock held too
    long need different remedies: only damage calls for a backup.
    """
    path = Path(path)
    code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
    text = str(exc)
    if code == _SQLITE_FULL or "disk is full" in text:
        return CatalogError(
            f"the disk holding the catalog {path} is full{_free_space(path)}; the change "
            "that failed was rolled back and everything before it is kept: free some "
            "space and run the command again"
        )
    if code == _SQLITE_READONLY or "readonly" in text:
        return CatalogError(f"cannot write the catalog {path}: {_write_advice(path, None)}")
    if code in (_SQLITE_CORRUPT, _SQLITE_NOTADB) or "malformed" in text:
        return CatalogError(_damaged(path, text))
    if code in (_SQLITE_BUSY, _SQLITE_LOCKED) or "locked" in text:
        return CatalogError(
            f"the catalog {path} stayed locked by another facealbum (a scan, the app) for "
            "30 s; wait for it to finish and run the command again"
        )
    if code == _SQLITE_IOERR:
        return CatalogError(
            f"the disk holding the catalog {path} failed to read or write ({text}"
            f"{_free_space(path)}); check the disk is connected and has space, then run "
            "the command again"
        )
    if code in (_SQLITE_CANTOPEN, _SQLITE_PERM):
        return CatalogError(
            f"cannot open the catalog {path} ({text}); check the folder exists and is "
            "writable, or pass another --catalog"
        )
    return CatalogError(
        f"the catalog {path} failed: {text}; run the command again, and if it fails "
        "the same way, check the disk holding the catalog"
    )


_PHOTO_SELECT = (
    "SELECT p.id, r.path, p.relpath, p.size, p.mtime_ns, p.sha256, p.width, p.height, p.status,"
    " p.problem, p.detector, p.scanned_at, p.kind,"
    " (SELECT f.frame_seconds FROM faces f WHERE f.photo_id = p.id"
    "  AND f.frame_seconds IS NOT NULL ORDER BY f.quality DESC LIMIT 1),"
    " p.taken, p.taken_read"
    " FROM photos p JOIN roots r ON r.id = p.root_id"
)
_FACE_SELECT = (
    "SELECT id, photo_id, x, y, w, h, landmarks, score, quality, sharpness, detector, source,"
    " person_id, assigned_by, state, created_at, frame_seconds, age, second_landmarks FROM faces"
)
_PERSON_SELECT = "SELECT id, name, hidden, cover_face_id, merged_into, created_at FROM persons"


def _sql(value: object) -> object:
    return str(value) if isinstance(value, StrEnum) else value


def _photo(r: tuple[Any, ...]) -> Photo:
    return Photo(
        id=r[0], root=bytes(r[1]), relpath=bytes(r[2]), size=r[3], mtime_ns=r[4], sha256=r[5],
        width=r[6], height=r[7], status=PhotoStatus(r[8]), problem=r[9], detector=r[10],
        scanned_at=r[11], kind=MediaKind(r[12]), poster_seconds=r[13], taken=r[14],
        taken_read=bool(r[15]),
    )


def _face(r: tuple[Any, ...]) -> Face:
    landmarks = None if r[6] is None else np.frombuffer(r[6], np.float32).reshape(5, 2).copy()
    return Face(
        id=r[0], photo_id=r[1], box=(r[2], r[3], r[4], r[5]), landmarks=landmarks, score=r[7],
        quality=r[8], sharpness=r[9], detector=r[10], source=FaceSource(r[11]),
        person_id=r[12], assigned_by=None if r[13] is None else AssignedBy(r[13]),
        state=FaceState(r[14]), created_at=r[15],
        frame_seconds=None if r[16] is None else float(r[16]),
        age=None if r[17] is None else float(r[17]),
        second_landmarks=r[18],
    )


def _person(r: tuple[Any, ...]) -> Person:
    return Person(
        id=r[0], name=r[1], hidden=bool(r[2]), cover_face_id=r[3], merged_into=r[4],
        created_at=r[5],
    )


# Primary SQLite result codes (the low byte of ``sqlite_errorcode``).
_SQLITE_PERM, _SQLITE_BUSY, _SQLITE_LOCKED, _SQLITE_READONLY = 3, 5, 6, 8
_SQLITE_IOERR, _SQLITE_CORRUPT, _SQLITE_FULL, _SQLITE_CANTOPEN = 10, 11, 13, 14
_SQLITE_NOTADB = 26

_SQLITE_MAGIC = b"SQLite format 3\x00"
# Tables every facealbum catalog has had since its first version.
_OUR_TABLES = {"meta", "roots", "photos", "faces", "persons", "operations"}
# Catalog files this process found whole with ``quick_check``, as (device,
# inode, change time): other ``Catalog``s of an unchanged file skip the check.
_VERIFIED: set[tuple[int, int, int]] = set()

# Catalog files this process has a connection to, by (device, inode), with
# how many. Reading such a file's header through a descriptor of our own
# would, on closing it, drop the POSIX locks SQLite holds on the file for
# every connection of the process; another process would then take itself
# for the file's last user, delete the write-ahead log, and leave our
# connections reading a deleted log that never shows new work again.
_OPEN: dict[tuple[int, int], int] = {}
_OPEN_LOCK = threading.Lock()


def _connect(path: Path) -> tuple[sqlite3.Connection, tuple[int, int] | None]:
    """A connection to ``path``, and the file's key in ``_OPEN``.

    A file the process has no connection to yet is checked first
    (``_refuse_unknown_file``), before SQLite touches it.
    """
    with _OPEN_LOCK:
        if _key(path) not in _OPEN:
            _refuse_unknown_file(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, isolation_level=None, timeout=30.0)
        key = _key(path)  # SQLite has created a new file by now
        if key is not None:
            _OPEN[key] = _OPEN.get(key, 0) + 1
        return conn, key


def _forget(key: tuple[int, int] | None) -> None:
    if key is None:
        return
    with _OPEN_LOCK:
        left = _OPEN.get(key, 0) - 1
        if left > 0:
            _OPEN[key] = left
        else:
            _OPEN.pop(key, None)


def _key(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def _refuse_unknown_file(path: Path) -> None:
    """Refuse, before SQLite opens it, a file that is not an SQLite database or
    is shorter than its own header says (a truncated copy)."""
    try:
        size = path.stat().st_size
    except OSError:
        return  # no file yet: a new catalog
    if size == 0:
        return  # an empty file becomes a new catalog
    try:
        with open(path, "rb") as handle:
            header = handle.read(100)
    except OSError as exc:
        raise CatalogError(
            f"cannot read the catalog {path}: {exc.strerror or exc}; check its "
            "permissions, or pass another --catalog"
        ) from exc
    if not header.startswith(_SQLITE_MAGIC):
        raise CatalogError(
            f"{path} is not a facealbum catalog (it is no SQLite database); nothing was "
            "changed: pass the catalog's path to --catalog, or a new file name"
        )
    if len(header) < 100:
        raise CatalogError(_damaged(path, f"the file ends after {size} bytes"))
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(header[28:32], "big")
    header_is_current = header[24:28] == header[92:96]
    wal = Path(f"{path}-wal")
    # With a write-ahead log present the file may lawfully lag its header.
    if header_is_current and pages and not (wal.exists() and wal.stat().st_size > 0):
        expected = pages * page_size
        if size < expected:
            raise CatalogError(
                _damaged(path, f"the file is truncated: {size} bytes of {expected}")
            )


def _identify(conn: sqlite3.Connection, path: Path) -> int:
    """The catalog's schema version; refuses another program's database
    before anything is written to it."""
    tables = {
        str(r[0]) for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
    }
    version = current_version(conn)
    if (version == 0 and tables) or (version > 0 and not _OUR_TABLES.issubset(tables)):
        listed = ", ".join(sorted(tables)[:5]) or "none"
        raise CatalogError(
            f"{path} is another program's database (tables: {listed}), not a facealbum "
            "catalog; nothing was changed: pass the catalog's path to --catalog, or a new "
            "file name"
        )
    return version


def _damaged(path: Path, detail: str) -> str:
    return (
        f"the catalog {path} is damaged ({detail}); nothing was written to it: restore it "
        f"from a backup, or salvage what can be read with `sqlite3 {path} .recover "
        "| sqlite3 recovered.sqlite`"
    )


def _free_space(path: Path) -> str:
    try:
        free = shutil.disk_usage(path.parent).free
    except OSError:
        return ""
    return f" ({free / 1e6:.1f} MB free)"


def _write_advice(path: Path, exc: OSError | None) -> str:
    """Why a file beside or at ``path`` cannot be written, and what to do."""
    try:
        read_only_disk = bool(os.statvfs(path.parent).f_flag & os.ST_RDONLY)
    except (OSError, AttributeError):
        read_only_disk = exc is not None and exc.errno == errno.EROFS
    if read_only_disk:
        return (
            "the disk holding it is mounted read-only; remount it read-write, or copy the "
            "catalog to a writable disk and pass that copy to --catalog"
        )
    if path.exists() and not os.access(path, os.W_OK):
        return (
            "the file is read-only; make it writable (chmod u+w), or pass a writable copy "
            "to --catalog"
        )
    if exc is not None and exc.errno == errno.ENOSPC:
        return f"the disk is full{_free_space(path)}; free some space and try again"
    return (
        "the folder holding it is not writable (SQLite keeps its journal beside the "
        "catalog); make the folder writable, or pass a catalog in a writable folder"
    )


def _lock_file(fd: int) -> bool:
    """Lock ``fd`` without waiting; False when another process holds it."""
    if sys.platform == "win32":
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True
