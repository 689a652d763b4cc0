"""What importing names from other tools' metadata asks of the catalog.

A scan reads a photo's face regions before it writes, and queues them here in
the same transaction that stores the photo (``queue_regions``); at its end the
import takes every queued photo (``take_queued``) in the transaction
of its one operation. A scan killed in between loses nothing and doubles
nothing: the regions wait in the catalog until an import takes them, and
taking them is part of the import's own transaction. The queue is the
``queued_regions`` table, one row per photo with the content hash the
regions were read for, so regions never land on a photo whose file changed
since.

A queue entry also holds the names the metadata gives without a face
(``Iptc4xmpExt:PersonInImage`` and the like). The import stores them in
``photo_people`` (``set_photo_people``), each row tagged with the import
operation that added it: a row counts (``photo_people``) only while that
operation is in effect, so undoing the import hides the names it added and
redoing it shows them again, without the operation log knowing the table.

Besides the queue: the people that have names, and whether a face was
rejected for a person, the questions the import asks before it confirms a
face. This module never reads a file, never decides which face a region is,
and never writes a fact: the import does that through the operation log.
"""

import json
from collections.abc import Sequence

from engine.catalog.records import Operation
from engine.catalog.store import Catalog

# One region as queued: (name or None, centre x, centre y, width, height, MWG kind),
# coordinates as fractions of the displayed photo.
QueuedRegion = tuple[str | None, float, float, float, float, str]

def queue_regions(
    cat: Catalog,
    photo_id: int,
    sha256: str | None,
    regions: Sequence[QueuedRegion],
    persons: Sequence[str] = (),
) -> None:
    """Queue ``regions`` and ``persons`` (names without a face) read from the
    metadata of photo ``photo_id`` (content ``sha256``) for the next import,
    replacing any queued before; neither clears the queue entry."""
    with cat.transaction():
        if not regions and not persons:
            cat._conn.execute("DELETE FROM queued_regions WHERE photo_id = ?", (photo_id,))
            return
        listed = [list(r) for r in regions]
        # A plain list when there are no names: what older versions queued.
        stored = {"regions": listed, "persons": list(persons)} if persons else listed
        cat._conn.execute(
            "INSERT OR REPLACE INTO queued_regions(photo_id, sha256, regions) VALUES (?, ?, ?)",
            (photo_id, sha256, json.dumps(stored)),
        )


def take_queued_regions(cat: Catalog) -> dict[int, list[QueuedRegion]]:
    """``take_queued`` without the names that have no face (they are dropped)."""
    return {photo_id: regions for photo_id, (regions, _) in take_queued(cat).items()}


def take_queued(cat: Catalog) -> dict[int, tuple[list[QueuedRegion], list[str]]]:
    """Every queued photo's regions and names without a face, by photo id,
    removed from the queue.

    Must run in the transaction that imports them, so that they are either
    imported and gone, or still queued. Photos deleted since, or whose file
    changed since, are left out.
    """
    rows = cat._conn.execute(
        "SELECT q.photo_id, q.regions FROM queued_regions q JOIN photos p ON p.id = q.photo_id"
        " WHERE q.sha256 IS p.sha256 AND p.sha256 IS NOT NULL ORDER BY q.photo_id"
    ).fetchall()
    out: dict[int, tuple[list[QueuedRegion], list[str]]] = {}
    for photo_id, text in rows:
        stored = json.loads(text)
        regions, persons = (
            (stored.get("regions", []), stored.get("persons", []))
            if isinstance(stored, dict) else (stored, [])
        )
        out[int(photo_id)] = (
            [(None if r[0] is None else str(r[0]), float(r[1]), float(r[2]), float(r[3]),
              float(r[4]), str(r[5])) for r in regions],
            [str(p) for p in persons],
        )
    with cat.transaction():
        cat._conn.execute("DELETE FROM queued_regions")
    return out


def photo_people(cat: Catalog, photo_id: int) -> dict[str, str]:
    """The names the metadata of photo ``photo_id`` gives without a face, by
    key, as far as the imports that added them are in effect."""
    return {
        str(key): str(name)
        for key, name in cat._conn.execute(
            "SELECT pp.key, pp.name FROM photo_people pp" + _IN_EFFECT
            + " AND pp.photo_id = ? ORDER BY pp.name", (photo_id,)
        )
    }


def people_by_photo(cat: Catalog) -> dict[int, list[str]]:
    """``photo_people`` for every photo that has such names."""
    out: dict[int, list[str]] = {}
    for photo_id, name in cat._conn.execute(
        "SELECT pp.photo_id, pp.name FROM photo_people pp" + _IN_EFFECT
        + " ORDER BY pp.photo_id, pp.name"
    ):
        out.setdefault(int(photo_id), []).append(str(name))
    return out


def set_photo_people(
    cat: Catalog, photo_id: int, names: dict[str, str], operation: Operation
) -> None:
    """Make ``names`` (key -> name) the names photo ``photo_id`` has without a
    face: rows for other keys go, rows already shown stay as they are, the
    rest are (re)added as belonging to ``operation``."""
    shown = photo_people(cat, photo_id)
    with cat.transaction():
        keys = list(names)
        cat._conn.execute(
            f"DELETE FROM photo_people WHERE photo_id = ? AND key NOT IN "
            f"({', '.join('?' for _ in keys)})", (photo_id, *keys),
        )
        for key, name in names.items():
            if key not in shown:
                cat._conn.execute(
                    "INSERT OR REPLACE INTO photo_people"
                    "(photo_id, key, name, operation_id, operation_at) VALUES (?, ?, ?, ?, ?)",
                    (photo_id, key, name, operation.id, operation.at),
                )


# A photo_people row counts while the operation that added it is in effect:
# not undone, and not dropped with the redo branch (SQLite may give a later
# operation the same id, never the same time).
_IN_EFFECT = (
    " LEFT JOIN operations o ON o.id = pp.operation_id AND o.at = pp.operation_at"
    " WHERE (pp.operation_id IS NULL OR o.undone = 0)"
)


def named_persons(cat: Catalog) -> list[tuple[int, str]]:
    """Every person that has a name, as ``(id, name)``: people still listed
    first, then those merged away, each group oldest first. Who holds a
    merged person's faces now is ``resolve_merged``'s to say; which name
    matches which is the import's."""
    return [
        (int(person_id), str(name))
        for person_id, name in cat._conn.execute(
            "SELECT id, name FROM persons WHERE name IS NOT NULL AND name != ''"
            " ORDER BY merged_into IS NOT NULL, id"
        )
    ]


def is_rejected(cat: Catalog, face_id: int, person_id: int) -> bool:
    """Whether the user said face ``face_id`` is not person ``person_id``."""
    row = cat._conn.execute(
        "SELECT 1 FROM rejections WHERE face_id = ? AND person_id = ?", (face_id, person_id)
    ).fetchone()
    return row is not None
