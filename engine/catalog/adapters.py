"""The ``adapters`` table and the facts a head is trained on.

A head (``engine.train.adapter``) is stored per embedder as an opaque blob
with the number of facts it learned from, whether it is switched on, and
the metrics of its training. This module stores, loads, switches and deletes
those rows, and reads the user's facts training needs: confirmed faces and
rejections, each by the final person they belong to, and strangers.

It never interprets a head's weights (that is training's job), never writes
faces, persons or rejections, and follows merges only through
``engine.catalog.persons``.
"""

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from engine.catalog.persons import final_persons
from engine.catalog.records import AssignedBy, FaceState
from engine.catalog.store import Catalog

Metrics = dict[str, float | int | str]


@dataclass(frozen=True)
class StoredHead:
    """What the catalog keeps about one embedder's head, its weights aside."""

    model: str
    created_at: float
    facts: int  # facts it was trained on
    enabled: bool
    metrics: Metrics = field(default_factory=dict)


def store_head(
    cat: Catalog, model: str, state: bytes, *, facts: int, enabled: bool,
    metrics: Mapping[str, float | int | str],
) -> None:
    """Keep ``state`` as ``model``'s head, replacing any head stored before."""
    with cat.transaction():
        cat._conn.execute(
            "INSERT OR REPLACE INTO adapters(model, created_at, facts, enabled, state, metrics)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (model, time.time(), facts, int(enabled), state,
             json.dumps(dict(metrics), sort_keys=True)),
        )


def enabled_head_state(cat: Catalog, model: str) -> bytes | None:
    """The weights of ``model``'s head if one is stored and switched on."""
    row = cat._conn.execute(
        "SELECT state FROM adapters WHERE model = ? AND enabled = 1", (model,)
    ).fetchone()
    return None if row is None else bytes(row[0])


def stored_head(cat: Catalog, model: str) -> StoredHead | None:
    """What is stored for ``model``'s head, or None when it has none."""
    row = cat._conn.execute(
        "SELECT created_at, facts, enabled, metrics FROM adapters WHERE model = ?", (model,)
    ).fetchone()
    if row is None:
        return None
    return StoredHead(model, float(row[0]), int(row[1]), bool(row[2]), json.loads(row[3]))


def set_head_enabled(cat: Catalog, model: str, enabled: bool) -> bool:
    """Switch ``model``'s head on or off; False when it has no head to switch."""
    with cat.transaction():
        cur = cat._conn.execute(
            "UPDATE adapters SET enabled = ? WHERE model = ?", (int(enabled), model)
        )
    return cur.rowcount > 0


def delete_head(cat: Catalog, model: str) -> bool:
    """Forget ``model``'s head; False when there was none. The facts stay."""
    with cat.transaction():
        cur = cat._conn.execute("DELETE FROM adapters WHERE model = ?", (model,))
    return cur.rowcount > 0


def count_facts(cat: Catalog, model: str) -> int:
    """Confirmed faces, rejections and strangers that have an embedding of ``model``."""
    row = cat._conn.execute(
        "SELECT"
        " (SELECT COUNT(*) FROM faces f JOIN embeddings e ON e.face_id = f.id AND e.model = ?"
        f"   WHERE f.assigned_by = '{AssignedBy.USER}' AND f.person_id IS NOT NULL"
        f"   AND f.state = '{FaceState.FACE}')"
        " + (SELECT COUNT(*) FROM rejections r JOIN embeddings e"
        "   ON e.face_id = r.face_id AND e.model = ?)"
        " + (SELECT COUNT(*) FROM faces f JOIN embeddings e ON e.face_id = f.id AND e.model = ?"
        f"   WHERE f.state = '{FaceState.STRANGER}')",
        (model, model, model),
    ).fetchone()
    return int(row[0])


def confirmed_faces_by_final_person(cat: Catalog) -> dict[int, int]:
    """Face id -> the person holding it now, for every face the user confirmed."""
    final = final_persons(cat)
    return {
        int(face): final.get(int(person), int(person))
        for face, person in cat._conn.execute(
            f"SELECT id, person_id FROM faces WHERE assigned_by = '{AssignedBy.USER}'"
            f" AND person_id IS NOT NULL AND state = '{FaceState.FACE}'"
        )
    }


def rejections_by_final_person(cat: Catalog) -> list[tuple[int, int]]:
    """(face id, person it is not), the person followed through its merges."""
    final = final_persons(cat)
    return [
        (int(face), final.get(int(person), int(person)))
        for face, person in cat._conn.execute("SELECT face_id, person_id FROM rejections")
    ]


def stranger_faces(cat: Catalog) -> set[int]:
    """Faces the user marked as strangers: real faces of nobody they know."""
    return {
        int(r[0]) for r in cat._conn.execute(
            "SELECT id FROM faces WHERE state = ?", (str(FaceState.STRANGER),)
        )
    }
