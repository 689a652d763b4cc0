"""The operations table, and the rows a user operation changes.

A user operation is declared as a ``Change``: the state a few face, person
and rejection rows must have once it is done. This module reads the current
state of exactly those rows, writes a ``Change`` onto them, and keeps the
``operations`` table: each entry stores the state before and after, and
whether it has been undone. It answers which entry is the latest still in
effect and which is the oldest undone one.

It never decides what an operation changes, which entry undo or redo takes
(``engine.people.oplog`` does), nor writes a row that a ``Change`` does not
name.
"""

import json
import time
from dataclasses import dataclass, field
from typing import Any

from engine.catalog.records import AssignedBy, FaceState, Operation
from engine.catalog.store import Catalog

# A face's facts: (person_id, assigned_by, state).
FaceFacts = tuple[int | None, AssignedBy | None, FaceState]

# The person columns an operation may change.
PERSON_FIELDS = ("name", "hidden", "merged_into", "cover_face_id")


@dataclass
class Change:
    """The state some rows must have once an operation is done.

    ``faces`` maps a face id to its new (person_id, assigned_by, state);
    ``persons`` maps a person id to the columns that change (any of
    name, hidden, merged_into, cover_face_id); ``rejections`` maps a
    (face id, person id) pair to whether the rejection exists afterwards.
    """

    faces: dict[int, FaceFacts] = field(default_factory=dict)
    persons: dict[int, dict[str, object]] = field(default_factory=dict)
    rejections: dict[tuple[int, int], bool] = field(default_factory=dict)

    def is_empty(self) -> bool:
        return not (self.faces or self.persons or self.rejections)


def current_state(cat: Catalog, change: Change) -> Change:
    """The state now of exactly the rows ``change`` names (rows that are gone left out)."""
    before = Change()
    for face_id in change.faces:
        row = cat._conn.execute(
            "SELECT person_id, assigned_by, state FROM faces WHERE id = ?", (face_id,)
        ).fetchone()
        if row is not None:
            before.faces[face_id] = _face_facts(row[0], row[1], row[2])
    for person_id, fields in change.persons.items():
        cols = _person_columns(fields)
        row = cat._conn.execute(
            f"SELECT {', '.join(cols)} FROM persons WHERE id = ?", (person_id,)
        ).fetchone()
        if row is not None:
            before.persons[person_id] = dict(zip(cols, row, strict=True))
    for face_id, person_id in change.rejections:
        row = cat._conn.execute(
            "SELECT 1 FROM rejections WHERE face_id = ? AND person_id = ?", (face_id, person_id)
        ).fetchone()
        before.rejections[(face_id, person_id)] = row is not None
    return before


def write_change(cat: Catalog, change: Change) -> None:
    """Set the rows ``change`` names, inside the caller's transaction.

    Rows deleted since the change was declared (a photo gone with its faces,
    a person gone) are skipped: a face is never put back into a person that
    no longer exists, and a rejection needs both its face and its person.
    """
    for face_id, (person_id, assigned_by, state) in change.faces.items():
        gone = person_id is not None and not _exists(cat, "persons", person_id)
        cat._conn.execute(
            "UPDATE faces SET person_id = ?, assigned_by = ?, state = ? WHERE id = ?",
            (
                None if gone else person_id,
                None if gone or assigned_by is None else str(assigned_by),
                str(state),
                face_id,
            ),
        )
    for person_id, fields in change.persons.items():
        cols = _person_columns(fields)
        if cols:
            cat._conn.execute(
                f"UPDATE persons SET {', '.join(f'{c} = ?' for c in cols)} WHERE id = ?",
                (*[fields[c] for c in cols], person_id),
            )
    now = time.time()
    for (face_id, person_id), present in change.rejections.items():
        if present:
            if _exists(cat, "faces", face_id) and _exists(cat, "persons", person_id):
                cat._conn.execute(
                    "INSERT OR IGNORE INTO rejections(face_id, person_id, created_at) "
                    "VALUES (?, ?, ?)",
                    (face_id, person_id, now),
                )
        else:
            cat._conn.execute(
                "DELETE FROM rejections WHERE face_id = ? AND person_id = ?", (face_id, person_id)
            )


def append_operation(
    cat: Catalog, kind: str, summary: str, before: Change, after: Change
) -> Operation:
    """Log one operation in effect, with the rows' state before and after it."""
    payload = json.dumps({"before": _to_json(before), "after": _to_json(after)}, sort_keys=True)
    now = time.time()
    cur = cat._conn.execute(
        "INSERT INTO operations(at, kind, summary, payload, undone) VALUES (?, ?, ?, ?, 0)",
        (now, kind, summary, payload),
    )
    return Operation(
        id=int(cur.lastrowid or 0), at=now, kind=kind, summary=summary, payload=payload,
        undone=False,
    )


def forget_undone_operations(cat: Catalog) -> None:
    """Drop every undone operation (the redo branch)."""
    cat._conn.execute("DELETE FROM operations WHERE undone = 1")


def set_undone(cat: Catalog, operation_id: int, undone: bool) -> Operation:
    """Mark an operation undone (or in effect again); returns it as it now is."""
    cat._conn.execute(
        "UPDATE operations SET undone = ? WHERE id = ?", (int(undone), operation_id)
    )
    row = cat._conn.execute(_SELECT + " WHERE id = ?", (operation_id,)).fetchone()
    return _operation(row)


def latest_in_effect(cat: Catalog) -> Operation | None:
    """The newest operation not undone; None when there is none."""
    row = cat._conn.execute(_SELECT + " WHERE undone = 0 ORDER BY id DESC LIMIT 1").fetchone()
    return None if row is None else _operation(row)


def oldest_undone(cat: Catalog) -> Operation | None:
    """The oldest undone operation; None when nothing is undone."""
    row = cat._conn.execute(_SELECT + " WHERE undone = 1 ORDER BY id ASC LIMIT 1").fetchone()
    return None if row is None else _operation(row)


def operations(cat: Catalog, limit: int | None = None) -> list[Operation]:
    """Logged operations, newest first, undone ones included."""
    sql = _SELECT + " ORDER BY id DESC"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return [_operation(r) for r in cat._conn.execute(sql)]


def changes_of(operation: Operation) -> tuple[Change, Change]:
    """The (before, after) state an operation logged."""
    data = json.loads(operation.payload)
    return _from_json(data["before"]), _from_json(data["after"])


# -- helpers ------------------------------------------------------------------

_SELECT = "SELECT id, at, kind, summary, payload, undone FROM operations"


def _operation(r: tuple[int, float, str, str, str, int]) -> Operation:
    return Operation(id=r[0], at=r[1], kind=r[2], summary=r[3], payload=r[4], undone=bool(r[5]))


def _person_columns(fields: dict[str, object]) -> list[str]:
    # Only known column names ever reach the SQL text.
    return [f for f in PERSON_FIELDS if f in fields]


def _face_facts(person_id: int | None, assigned_by: str | None, state: str) -> FaceFacts:
    return (
        None if person_id is None else int(person_id),
        None if assigned_by is None else AssignedBy(assigned_by),
        FaceState(state),
    )


def _exists(cat: Catalog, table: str, row_id: int) -> bool:
    return (
        cat._conn.execute(f"SELECT 1 FROM {table} WHERE id = ?", (row_id,)).fetchone()
        is not None
    )


def _to_json(change: Change) -> dict[str, object]:
    return {
        "faces": [
            [fid, [pid, None if by is None else str(by), str(state)]]
            for fid, (pid, by, state) in sorted(change.faces.items())
        ],
        "persons": [[pid, fields] for pid, fields in sorted(change.persons.items())],
        "rejections": [[f, p, present] for (f, p), present in sorted(change.rejections.items())],
    }


def _from_json(data: Any) -> Change:  # parsed JSON, as _to_json wrote it
    return Change(
        faces={int(f): _face_facts(s[0], s[1], s[2]) for f, s in data["faces"]},
        persons={int(p): dict(fields) for p, fields in data["persons"]},
        rejections={(int(f), int(p)): bool(present) for f, p, present in data["rejections"]},
    )
