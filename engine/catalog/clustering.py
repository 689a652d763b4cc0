"""What the automatic clustering reads from the catalog and writes back.

The clustering (``engine.people.update``) reads the faces that count for
people with their photo, person, quality and whether the user confirmed them, the
user's rejections, and a signature that changes whenever any of those or a
trained adapter changes. It writes one thing: automatic assignments (and
notes, as bookkeeping beside them, what the last people update ran on, so an
update with nothing new to group can return at once).

Nothing here ever writes a fact: a face the user assigned (``AssignedBy.USER``)
or marked as no face or a stranger is never changed by ``assign_automatically``,
and names, merges, hidden flags and rejections are only read. Merged persons
are returned as stored; following ``merged_into`` is ``engine.catalog.persons``'s.
"""

from collections.abc import Iterable

from engine.catalog.records import AssignedBy, FaceState
from engine.catalog.store import Catalog


def faces_to_cluster(cat: Catalog) -> list[tuple[int, int, int | None, bool, float]]:
    """Every face that counts for people, by id: (face id, photo id, person id
    as stored or None, whether the user put it in that person, its quality)."""
    rows = cat._conn.execute(
        f"SELECT id, photo_id, person_id, assigned_by IS '{AssignedBy.USER}', quality FROM faces "
        f"WHERE state = '{FaceState.FACE}' ORDER BY id"
    ).fetchall()
    return [(int(f), int(p), None if person is None else int(person), bool(user), float(q))
            for f, p, person, user, q in rows]


def rejections(cat: Catalog) -> list[tuple[int, int]]:
    """(face id, person id as stored) of every rejection: that face is not that person."""
    return [(int(f), int(p)) for f, p in cat._conn.execute(
        "SELECT face_id, person_id FROM rejections"
    )]


def assign_automatically(cat: Catalog, assignments: Iterable[tuple[int, int | None]]) -> None:
    """Put each (face id, person id) in place as an automatic assignment; a
    person id of None takes the face out of its automatic person.

    Runs inside the caller's transaction. Faces the user assigned, and faces
    whose state is not ``FaceState.FACE``, are left as they are.
    """
    cat._conn.executemany(
        "UPDATE faces SET person_id = ?, assigned_by = ? WHERE id = ? "
        f"AND (assigned_by IS NULL OR assigned_by = '{AssignedBy.AUTO}') "
        f"AND state = '{FaceState.FACE}'",
        [
            (person, None if person is None else str(AssignedBy.AUTO), face)
            for face, person in assignments
        ],
    )


def unassigned_faces_exist(cat: Catalog) -> bool:
    """Whether any face that counts for people is in no person (one index seek)."""
    row = cat._conn.execute(
        f"SELECT 1 FROM faces WHERE person_id IS NULL AND state = '{FaceState.FACE}' LIMIT 1"
    ).fetchone()
    return row is not None


def embedding_count(cat: Catalog, model: str) -> int:
    """How many faces have an embedding of ``model`` (a rescan may add some to
    faces that had none, which ``clustering_signature`` does not see)."""
    row = cat._conn.execute("SELECT COUNT(*) FROM embeddings WHERE model = ?", (model,))
    return int(row.fetchone()[0])


def last_update(cat: Catalog) -> str | None:
    """What the last finished people update ran on (``remember_update``), or None."""
    return cat.get_meta(_LAST_UPDATE)


def remember_update(cat: Catalog, key: str) -> None:
    """Note what a finished people update ran on: its embedder, parameters and
    the catalog's ``clustering_signature`` after its writes. Bookkeeping, not a fact."""
    cat.set_meta(_LAST_UPDATE, key)


_LAST_UPDATE = "people_update"


def clustering_signature(cat: Catalog) -> tuple[tuple[float, ...], ...]:
    """A value that changes whenever the clustering's input may have: the faces
    that count for people and their persons, the facts in the undo log, and
    the trained adapters. Equal signatures let a clustering tree be reused."""
    faces = cat._conn.execute(
        "SELECT COUNT(*), COALESCE(MAX(id), 0), COALESCE(SUM(person_id), 0) FROM faces "
        f"WHERE state = '{FaceState.FACE}'"
    ).fetchone()
    facts = cat._conn.execute(
        "SELECT COUNT(*), COALESCE(MAX(id), 0) FROM operations WHERE undone = 0"
    ).fetchone()
    adapters = cat._conn.execute(
        "SELECT COALESCE(MAX(created_at), 0), COALESCE(SUM(enabled), 0) FROM adapters"
    ).fetchone()
    return tuple(faces), tuple(facts), tuple(adapters)
