"""Open a catalog and read and write its records.

``Catalog`` wraps one SQLite connection in WAL mode, so the GUI and the CLI
may have the same catalog open at once (one writer at a time; readers never
block). Every change runs inside ``transaction()``: a crash, a SIGKILL or a
Ctrl-C leaves either the whole change or none of it. A connection belongs to
the thread that opened it; a worker thread opens its own ``Catalog``.

This module holds the queries every part of the engine shares. The named
operations of one part each live beside it in this package (``scans`` for
what a scan writes, ``imports`` and ``exports`` for metadata coming in and
albums going out, ``persons`` for following merges, ...): no module outside
``engine.catalog`` speaks SQL. Nothing here creates or alters a table:
that is ``schema``'s job.
"""

import os
import sqlite3
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
    Person,
    Photo,
    PhotoStatus,
)
from engine.catalog.schema import migrate
from engine.errors import CatalogError, NotFoundError

APP_NAME = "facealbum"


def default_catalog_path() -> Path:
    """The catalog used when a command is given no ``--catalog``."""
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)) / "catalog.sqlite"


class Catalog:
    """One open catalog file."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(self.path, isolation_level=None, timeout=30.0)
        except (OSError, sqlite3.Error) as exc:
            raise CatalogError(
                f"cannot open the catalog {self.path}: {exc}; "
                "check the folder exists and is writable, or pass another --catalog"
            ) from exc
        self._conn.execute("PRAGMA foreign_keys = ON")
        self._conn.execute("PRAGMA busy_timeout = 30000")
        try:
            self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute("PRAGMA synchronous = NORMAL")
            migrate(self._conn)
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            raise CatalogError(
                f"{self.path} is not a facealbum catalog or is damaged ({exc}); "
                "pass another --catalog, or restore the file from a backup"
            ) from exc
        self._depth = 0

    def close(self) -> None:
        self._conn.close()

    def checkpoint(self) -> None:
        """Fold the write-ahead log into the main file, so the file alone is the catalog."""
        self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def __enter__(self) -> "Catalog":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """All-or-nothing changes; nested calls become savepoints."""
        if self._depth == 0:
            self._conn.execute("BEGIN IMMEDIATE")
            name = None
        else:
            name = f"sp{self._depth}"
            self._conn.execute(f"SAVEPOINT {name}")
        self._depth += 1
        try:
            yield self._conn
        except BaseException:
            self._depth -= 1
            if name is None:
                self._conn.execute("ROLLBACK")
            else:
                self._conn.execute(f"ROLLBACK TO {name}")
                self._conn.execute(f"RELEASE {name}")
            raise
        self._depth -= 1
        if name is None:
            self._conn.execute("COMMIT")
        else:
            self._conn.execute(f"RELEASE {name}")

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
    ) -> int:
        """Insert or replace the photo at ``relpath``; its old faces go with it."""
        now = time.time()
        with self.transaction():
            self._conn.execute(
                "DELETE FROM photos WHERE root_id = ? AND relpath = ?", (root_id, relpath)
            )
            cur = self._conn.execute(
                "INSERT INTO photos(root_id, relpath, size, mtime_ns, sha256, width, height,"
                " status, problem, detector, scanned_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (root_id, relpath, size, mtime_ns, sha256, width, height, str(status),
                 problem, detector, now),
            )
            return int(cur.lastrowid or 0)

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

    def purge_missing(self) -> int:
        """Forget photos marked missing, with their faces; returns how many."""
        with self.transaction():
            cur = self._conn.execute(
                "DELETE FROM photos WHERE status = ?", (str(PhotoStatus.MISSING),)
            )
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
    ) -> int:
        lm = None
        if landmarks is not None:
            lm = np.asarray(landmarks, np.float32).reshape(5, 2).tobytes()
        x, y, w, h = (float(v) for v in box)
        with self.transaction():
            cur = self._conn.execute(
                "INSERT INTO faces(photo_id, x, y, w, h, landmarks, score, quality, sharpness,"
                " detector, source, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (photo_id, x, y, w, h, lm, float(score), float(quality), float(sharpness),
                 detector, str(source), time.time()),
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


_PHOTO_SELECT = (
    "SELECT p.id, r.path, p.relpath, p.size, p.mtime_ns, p.sha256, p.width, p.height, p.status,"
    " p.problem, p.detector, p.scanned_at FROM photos p JOIN roots r ON r.id = p.root_id"
)
_FACE_SELECT = (
    "SELECT id, photo_id, x, y, w, h, landmarks, score, quality, sharpness, detector, source,"
    " person_id, assigned_by, state, created_at FROM faces"
)
_PERSON_SELECT = "SELECT id, name, hidden, cover_face_id, merged_into, created_at FROM persons"


def _sql(value: object) -> object:
    return str(value) if isinstance(value, StrEnum) else value


def _photo(r: tuple[Any, ...]) -> Photo:
    return Photo(
        id=r[0], root=bytes(r[1]), relpath=bytes(r[2]), size=r[3], mtime_ns=r[4], sha256=r[5],
        width=r[6], height=r[7], status=PhotoStatus(r[8]), problem=r[9], detector=r[10],
        scanned_at=r[11],
    )


def _face(r: tuple[Any, ...]) -> Face:
    landmarks = None if r[6] is None else np.frombuffer(r[6], np.float32).reshape(5, 2).copy()
    return Face(
        id=r[0], photo_id=r[1], box=(r[2], r[3], r[4], r[5]), landmarks=landmarks, score=r[7],
        quality=r[8], sharpness=r[9], detector=r[10], source=FaceSource(r[11]),
        person_id=r[12], assigned_by=None if r[13] is None else AssignedBy(r[13]),
        state=FaceState(r[14]), created_at=r[15],
    )


def _person(r: tuple[Any, ...]) -> Person:
    return Person(
        id=r[0], name=r[1], hidden=bool(r[2]), cover_face_id=r[3], merged_into=r[4],
        created_at=r[5],
    )
