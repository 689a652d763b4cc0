"""What importing names from other tools' metadata asks of the catalog.

A scan reads a photo's face regions before it writes, and queues them here in
the same transaction that stores the photo (``queue_regions``); at its end the
import takes every queued photo (``take_queued_regions``) in the transaction
of its one operation. A scan killed in between loses nothing and doubles
nothing: the regions wait in the catalog until an import takes them, and
taking them is part of the import's own transaction. The queue is the
``queued_regions`` table, one row per photo with the content hash the
regions were read for, so regions never land on a photo whose file changed
since.

Besides the queue: the people that have names, and whether a face was
rejected for a person, the questions the import asks before it confirms a
face. This module never reads a file, never decides which face a region is,
and never writes a fact: the import does that through the operation log.
"""

import json
from collections.abc import Sequence

from engine.catalog.store import Catalog

# One region as queued: (name or None, centre x, centre y, width, height, MWG kind),
# coordinates as fractions of the displayed photo.
QueuedRegion = tuple[str | None, float, float, float, float, str]

def queue_regions(
    cat: Catalog, photo_id: int, sha256: str | None, regions: Sequence[QueuedRegion]
) -> None:
    """Queue ``regions`` read from the metadata of photo ``photo_id`` (content ``sha256``)
    for the next import, replacing any queued before; none clears the queue entry."""
    with cat.transaction():
        if not regions:
            cat._conn.execute("DELETE FROM queued_regions WHERE photo_id = ?", (photo_id,))
            return
        cat._conn.execute(
            "INSERT OR REPLACE INTO queued_regions(photo_id, sha256, regions) VALUES (?, ?, ?)",
            (photo_id, sha256, json.dumps([list(r) for r in regions])),
        )


def take_queued_regions(cat: Catalog) -> dict[int, list[QueuedRegion]]:
    """Every queued photo's regions, by photo id, removed from the queue.

    Must run in the transaction that imports them, so that they are either
    imported and gone, or still queued. Photos deleted since, or whose file
    changed since, are left out.
    """
    rows = cat._conn.execute(
        "SELECT q.photo_id, q.regions FROM queued_regions q JOIN photos p ON p.id = q.photo_id"
        " WHERE q.sha256 IS p.sha256 AND p.sha256 IS NOT NULL ORDER BY q.photo_id"
    ).fetchall()
    out: dict[int, list[QueuedRegion]] = {
        int(photo_id): [
            (None if r[0] is None else str(r[0]), float(r[1]), float(r[2]), float(r[3]),
             float(r[4]), str(r[5]))
            for r in json.loads(regions)
        ]
        for photo_id, regions in rows
    }
    with cat.transaction():
        cat._conn.execute("DELETE FROM queued_regions")
    return out


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
