"""The operation log: every user decision, with what it changed, for undo and redo.

A user operation is declared as the state a few rows should have after it
(``Change``); ``commit`` reads the rows' state before, writes the new state and
appends one row to the ``operations`` table with both, all in the caller's
transaction. ``undo`` writes the "before" side back, ``redo`` the "after" side,
so the GUI and the CLI share one mechanism and an undo restores exactly the
facts the operation touched, whatever automatic clustering did in between.

This module never decides anything about people itself and never writes a
row that an operation did not name.
"""

import json
import time
from dataclasses import dataclass, field
from typing import Any

from engine.catalog import Catalog
from engine.catalog.records import Operation

# (person_id, assigned_by, state) of a face.
FaceState = tuple[int | None, str | None, str]

_PERSON_FIELDS = ("name", "hidden", "merged_into", "cover_face_id")


@dataclass
class Change:
    """The state some rows must have once an operation is done.

    ``faces`` maps a face id to its new (person_id, assigned_by, state);
    ``persons`` maps a person id to the columns that change (any of
    name, hidden, merged_into, cover_face_id); ``rejections`` maps a
    (face id, person id) pair to whether the rejection exists afterwards.
    """

    faces: dict[int, FaceState] = field(default_factory=dict)
    persons: dict[int, dict[str, object]] = field(default_factory=dict)
    rejections: dict[tuple[int, int], bool] = field(default_factory=dict)

    def is_empty(self) -> bool:
        return not (self.faces or self.persons or self.rejections)


def commit(cat: Catalog, kind: str, summary: str, change: Change) -> Operation:
    """Apply ``change`` and log it as one undoable operation.

    Must run inside ``cat.transaction()``. Any operations that were undone
    and not redone are dropped: a new decision ends the redo branch.
    """
    before = _read(cat, change)
    _write(cat, change)
    payload = {"before": _to_json(before), "after": _to_json(change)}
    cat.conn.execute("DELETE FROM operations WHERE undone = 1")
    now = time.time()
    cur = cat.conn.execute(
        "INSERT INTO operations(at, kind, summary, payload, undone) VALUES (?, ?, ?, ?, 0)",
        (now, kind, summary, json.dumps(payload, sort_keys=True)),
    )
    return Operation(
        id=int(cur.lastrowid or 0), at=now, kind=kind, summary=summary,
        payload=json.dumps(payload, sort_keys=True), undone=False,
    )


def undo(cat: Catalog) -> Operation | None:
    """Take back the latest operation still in effect; None when there is none."""
    with cat.transaction():
        row = cat.conn.execute(
            "SELECT id FROM operations WHERE undone = 0 ORDER BY id DESC LIMIT 1"
        ).fetchone()
        if row is None:
            return None
        op = _operation(cat, int(row[0]))
        _write(cat, _from_json(json.loads(op.payload)["before"]))
        cat.conn.execute("UPDATE operations SET undone = 1 WHERE id = ?", (op.id,))
    return _operation(cat, op.id)


def redo(cat: Catalog) -> Operation | None:
    """Do again the oldest undone operation; None when nothing was undone."""
    with cat.transaction():
        row = cat.conn.execute(
            "SELECT id FROM operations WHERE undone = 1 ORDER BY id ASC LIMIT 1"
        ).fetchone()
        if row is None:
            return None
        op = _operation(cat, int(row[0]))
        _write(cat, _from_json(json.loads(op.payload)["after"]))
        cat.conn.execute("UPDATE operations SET undone = 0 WHERE id = ?", (op.id,))
    return _operation(cat, op.id)


def history(cat: Catalog, limit: int | None = None) -> list[Operation]:
    """Operations, newest first; undone ones (the redo branch) included."""
    sql = "SELECT id, at, kind, summary, payload, undone FROM operations ORDER BY id DESC"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return [_row(r) for r in cat.conn.execute(sql)]


# -- helpers ------------------------------------------------------------------


def _operation(cat: Catalog, op_id: int) -> Operation:
    row = cat.conn.execute(
        "SELECT id, at, kind, summary, payload, undone FROM operations WHERE id = ?", (op_id,)
    ).fetchone()
    return _row(row)


def _row(r: tuple[int, float, str, str, str, int]) -> Operation:
    return Operation(id=r[0], at=r[1], kind=r[2], summary=r[3], payload=r[4], undone=bool(r[5]))


def _read(cat: Catalog, change: Change) -> Change:
    """The current state of exactly the rows ``change`` names."""
    before = Change()
    for face_id in change.faces:
        row = cat.conn.execute(
            "SELECT person_id, assigned_by, state FROM faces WHERE id = ?", (face_id,)
        ).fetchone()
        if row is not None:
            before.faces[face_id] = (row[0], row[1], row[2])
    for person_id, fields in change.persons.items():
        cols = [f for f in _PERSON_FIELDS if f in fields]
        row = cat.conn.execute(
            f"SELECT {', '.join(cols)} FROM persons WHERE id = ?", (person_id,)
        ).fetchone()
        if row is not None:
            before.persons[person_id] = dict(zip(cols, row, strict=True))
    for face_id, person_id in change.rejections:
        row = cat.conn.execute(
            "SELECT 1 FROM rejections WHERE face_id = ? AND person_id = ?", (face_id, person_id)
        ).fetchone()
        before.rejections[(face_id, person_id)] = row is not None
    return before


def _write(cat: Catalog, change: Change) -> None:
    """Set the rows ``change`` names; rows deleted since (a photo gone) are skipped."""
    for face_id, (person_id, assigned_by, state) in change.faces.items():
        gone = person_id is not None and not _exists(cat, "persons", person_id)
        cat.conn.execute(
            "UPDATE faces SET person_id = ?, assigned_by = ?, state = ? WHERE id = ?",
            (None if gone else person_id, None if gone else assigned_by, state, face_id),
        )
    for person_id, fields in change.persons.items():
        cols = [f for f in _PERSON_FIELDS if f in fields]
        if cols:
            cat.conn.execute(
                f"UPDATE persons SET {', '.join(f'{c} = ?' for c in cols)} WHERE id = ?",
                (*[fields[c] for c in cols], person_id),
            )
    now = time.time()
    for (face_id, person_id), present in change.rejections.items():
        if present:
            if _exists(cat, "faces", face_id) and _exists(cat, "persons", person_id):
                cat.conn.execute(
                    "INSERT OR IGNORE INTO rejections(face_id, person_id, created_at) "
                    "VALUES (?, ?, ?)",
                    (face_id, person_id, now),
                )
        else:
            cat.conn.execute(
                "DELETE FROM rejections WHERE face_id = ? AND person_id = ?", (face_id, person_id)
            )


def _exists(cat: Catalog, table: str, row_id: int) -> bool:
    return (
        cat.conn.execute(f"SELECT 1 FROM {table} WHERE id = ?", (row_id,)).fetchone() is not None
    )


def _to_json(change: Change) -> dict[str, object]:
    return {
        "faces": [[fid, list(state)] for fid, state in sorted(change.faces.items())],
        "persons": [[pid, fields] for pid, fields in sorted(change.persons.items())],
        "rejections": [[f, p, present] for (f, p), present in sorted(change.rejections.items())],
    }


def _from_json(data: Any) -> Change:  # parsed JSON
    return Change(
        faces={int(f): (s[0], s[1], s[2]) for f, s in data["faces"]},
        persons={int(p): dict(fields) for p, fields in data["persons"]},
        rejections={(int(f), int(p)): bool(present) for f, p, present in data["rejections"]},
    )
