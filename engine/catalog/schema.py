"""The catalog's schema, its version, and the migrations between versions.

This is the only module that creates or alters tables. ``migrate`` brings any
older catalog up to ``SCHEMA_VERSION`` inside one transaction, so an upgrade
either happens whole or not at all; a catalog written by a newer program is
refused rather than guessed at. Never edit a released migration: add one.

Facts a user decided live in plain columns and tables that no automatic step
writes: ``faces.assigned_by = 'user'``, ``faces.state``, ``persons.name``,
``persons.hidden``, ``persons.merged_into``, ``rejections``.
"""

import sqlite3
from collections.abc import Callable

from engine.errors import CatalogError

_V1 = """
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- A folder the user scanned; photo paths are stored relative to it so a
-- moved library keeps its faces.
CREATE TABLE roots (
    id   INTEGER PRIMARY KEY,
    path BLOB NOT NULL UNIQUE          -- os.fsencode(absolute path)
);

CREATE TABLE photos (
    id         INTEGER PRIMARY KEY,
    root_id    INTEGER NOT NULL REFERENCES roots(id),
    relpath    BLOB NOT NULL,          -- os.fsencode: names need not be UTF-8
    size       INTEGER NOT NULL,
    mtime_ns   INTEGER NOT NULL,
    sha256     TEXT,                   -- of the file's bytes; NULL for problems
    width      INTEGER,                -- after EXIF orientation
    height     INTEGER,
    status     TEXT NOT NULL CHECK (status IN ('ok', 'missing', 'problem')),
    problem    TEXT,                   -- why it could not be read
    detector   TEXT,                   -- model that looked for faces
    scanned_at REAL NOT NULL,
    UNIQUE (root_id, relpath)
);
CREATE INDEX photos_sha256 ON photos(sha256);
CREATE INDEX photos_status ON photos(status);

CREATE TABLE persons (
    id            INTEGER PRIMARY KEY,
    name          TEXT,                -- NULL: unnamed
    hidden        INTEGER NOT NULL DEFAULT 0,
    cover_face_id INTEGER,
    merged_into   INTEGER REFERENCES persons(id),
    created_at    REAL NOT NULL
);

CREATE TABLE faces (
    id          INTEGER PRIMARY KEY,
    photo_id    INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
    x REAL NOT NULL, y REAL NOT NULL, w REAL NOT NULL, h REAL NOT NULL,
    landmarks   BLOB,                  -- 5 x 2 float32, pixels of the oriented photo
    score       REAL NOT NULL,         -- detector confidence, 1.0 for manual faces
    quality     REAL NOT NULL,         -- 0..1 from size and sharpness
    sharpness   REAL NOT NULL,         -- variance of the Laplacian of the crop
    detector    TEXT NOT NULL,         -- model name, or 'manual' / 'xmp'
    source      TEXT NOT NULL DEFAULT 'detected'
                CHECK (source IN ('detected', 'manual', 'xmp')),
    person_id   INTEGER REFERENCES persons(id) ON DELETE SET NULL,
    assigned_by TEXT CHECK (assigned_by IN ('auto', 'user')),
    state       TEXT NOT NULL DEFAULT 'face'
                CHECK (state IN ('face', 'not_face', 'stranger')),
    created_at  REAL NOT NULL
);
CREATE INDEX faces_photo ON faces(photo_id);
CREATE INDEX faces_person ON faces(person_id);

CREATE TABLE embeddings (
    face_id INTEGER NOT NULL REFERENCES faces(id) ON DELETE CASCADE,
    model   TEXT NOT NULL,             -- embedder that made it
    vector  BLOB NOT NULL,             -- float32, L2-normalised
    PRIMARY KEY (face_id, model)
);

-- "Not this person": a fact kept forever.
CREATE TABLE rejections (
    face_id    INTEGER NOT NULL REFERENCES faces(id) ON DELETE CASCADE,
    person_id  INTEGER NOT NULL REFERENCES persons(id) ON DELETE CASCADE,
    created_at REAL NOT NULL,
    PRIMARY KEY (face_id, person_id)
);

-- The operation log behind undo and redo, shared by the GUI and the CLI.
CREATE TABLE operations (
    id      INTEGER PRIMARY KEY,
    at      REAL NOT NULL,
    kind    TEXT NOT NULL,
    summary TEXT NOT NULL,
    payload TEXT NOT NULL,             -- JSON: what changed, before and after
    undone  INTEGER NOT NULL DEFAULT 0
);

-- A projection head learned from the user's facts, per embedder.
CREATE TABLE adapters (
    model      TEXT PRIMARY KEY,
    created_at REAL NOT NULL,
    facts      INTEGER NOT NULL,       -- how many facts it was trained on
    enabled    INTEGER NOT NULL DEFAULT 1,
    state      BLOB NOT NULL,          -- torch state dict, serialised
    metrics    TEXT NOT NULL DEFAULT '{}'
);
"""

def _run_script(conn: sqlite3.Connection, script: str) -> None:
    """Run each statement of ``script`` with ``execute``, inside the caller's
    transaction (``executescript`` would commit on its own)."""
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            conn.execute(buffer)
            buffer = ""


# Version 2: the people grid counts faces per person from one index. It
# holds every column those counts and the cover choice read, so SQLite never
# visits the faces table for them (docs/PERFORMANCE.md, the people view), and
# it starts with person_id, so it also serves everything ``faces_person``
# served.
_V2 = """
CREATE INDEX faces_person_live ON faces(person_id, state, quality, assigned_by, photo_id);
DROP INDEX faces_person;
"""


# Version 3: face regions read from a photo's metadata wait here, stored in
# the transaction that stores the photo, until the import that takes them
# (``engine.catalog.imports``). A photo that is deleted or replaced takes its
# queued regions with it.
_V3 = """
CREATE TABLE queued_regions (
    photo_id INTEGER PRIMARY KEY REFERENCES photos(id) ON DELETE CASCADE,
    sha256   TEXT,                     -- the photo's content the regions were read from
    regions  TEXT NOT NULL             -- JSON list of [name, cx, cy, w, h, kind]
);
"""


# Version 4: people another tool says are in a photo without marking their
# face (``Iptc4xmpExt:PersonInImage``, people keywords, Google Takeout's
# names), one row per photo and name (``key``: the name as compared). Rows
# belong to the import operation that added them: they are shown while that
# operation is in effect, so undo and redo take and give them with it
# (``engine.catalog.imports``).
_V4 = """
CREATE TABLE photo_people (
    photo_id     INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
    key          TEXT NOT NULL,            -- engine.export.names.name_key(name)
    name         TEXT NOT NULL,            -- as the metadata spells it, tidied
    operation_id INTEGER,                  -- the import that added it...
    operation_at REAL,                     -- ...and when (an id may be reused)
    PRIMARY KEY (photo_id, key)
);
"""

# Videos are items like photos (one file, one row): ``kind`` says which, and a
# video's faces say at which second of it they were seen (NULL for photos).
_V5 = """
ALTER TABLE photos ADD COLUMN kind TEXT NOT NULL DEFAULT 'photo'
    CHECK (kind IN ('photo', 'video'));
ALTER TABLE faces ADD COLUMN frame_seconds REAL;
"""


# A photo's capture time from its metadata (EXIF DateTimeOriginal and the
# like, a video's creation_time; engine.imageio says how it is read), in
# seconds since 1970 of the camera's wall clock read as UTC; NULL when the
# metadata holds none. ``taken_read`` tells a photo a date reader looked at
# (1; NULL ``taken`` then means "no date in it") from one it never did (0:
# catalogs from before dates, whose next scan reads them).
_V6 = """
ALTER TABLE photos ADD COLUMN taken REAL;
ALTER TABLE photos ADD COLUMN taken_read INTEGER NOT NULL DEFAULT 0;
"""


# A face's apparent age in years (``engine.models.age``), NULL where none was
# estimated: catalogs from before ages, whose next scan estimates them, and
# faces without landmarks to align a chip on.
_V7 = """
ALTER TABLE faces ADD COLUMN age REAL;
"""


# Which second network's landmarks a face's were averaged with
# (``engine.detect.second_landmarks``: "mtcnn-onet"); NULL where the face's
# detector placed them alone: catalogs from before version 8, whose next scan
# places them again, faces drawn by hand on the template, imported regions.
_V8 = """
ALTER TABLE faces ADD COLUMN second_landmarks TEXT;
"""


# MIGRATIONS[i] takes a catalog at version i to version i + 1, using only
# ``conn.execute`` so that ``migrate`` can run every step in one transaction.
MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [
    lambda conn: _run_script(conn, _V1),
    lambda conn: _run_script(conn, _V2),
    lambda conn: _run_script(conn, _V3),
    lambda conn: _run_script(conn, _V4),
    lambda conn: _run_script(conn, _V5),
    lambda conn: _run_script(conn, _V6),
    lambda conn: _run_script(conn, _V7),
    lambda conn: _run_script(conn, _V8),
]

SCHEMA_VERSION = len(MIGRATIONS)


def current_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection) -> int:
    """Bring ``conn``'s catalog to ``SCHEMA_VERSION``; return the version it had.

    ``conn`` must be in autocommit mode (``isolation_level=None``).
    """
    found = current_version(conn)
    if found > SCHEMA_VERSION:
        raise CatalogError(
            f"this catalog has schema version {found}, but this program knows up to "
            f"{SCHEMA_VERSION}; open it with a newer facealbum (nothing was changed)"
        )
    if found == SCHEMA_VERSION:
        return found
    conn.execute("BEGIN IMMEDIATE")
    try:
        # Another process may have migrated while we waited for the lock.
        for version in range(current_version(conn), SCHEMA_VERSION):
            MIGRATIONS[version](conn)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return found
