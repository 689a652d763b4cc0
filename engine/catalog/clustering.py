"""What the automatic clustering reads from the catalog and writes back.

The clustering (``engine.people.update``) reads the faces that count for
people with their photo, person, quality, capture date, landmarks and
whether the user confirmed them, the user's rejections, and a signature that changes whenever
any of those or a trained adapter changes. It writes one thing: automatic assignments (and
notes, as bookkeeping beside them, what the last people update ran on, so an
update with nothing new to group can return at once).

Nothing here ever writes a fact: a face the user assigned (``AssignedBy.USER``)
or marked as no face or a stranger is never changed by ``assign_automatically``,
and names, merges, hidden flags and rejections are only read. Merged persons
are returned as stored; following ``merged_into`` is ``engine.catalog.persons``'s.
"""

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from engine.catalog.records import AssignedBy, FaceState
from engine.catalog.store import Catalog


@dataclass
class FacesToCluster:
    """Every face that counts for people, by id, one row each."""

    ids: np.ndarray  # face ids, ascending
    photo: np.ndarray  # photo id
    person: np.ndarray  # person id as stored, -1 for none
    confirmed: np.ndarray  # bool: the user put it in that person
    quality: np.ndarray
    # When its photo was taken, in seconds since 1970: the date the photo's
    # metadata gives (``photos.taken``), else the file's modification time,
    # the best guess at when it was taken.
    taken: np.ndarray
    landmarks: np.ndarray  # (N, 5, 2) float32, NaN for a face without them
    age: np.ndarray  # apparent age in years (engine.models.age), NaN where not estimated


def faces_to_cluster(cat: Catalog) -> FacesToCluster:
    """Every face that counts for people (state ``FACE``), with what clustering weighs."""
    rows = cat._conn.execute(
        f"SELECT f.id, f.photo_id, f.person_id, f.assigned_by IS '{AssignedBy.USER}', f.quality, "
        "COALESCE(p.taken, p.mtime_ns / 1e9), f.landmarks, f.age "
        "FROM faces AS f JOIN photos AS p ON p.id = f.photo_id "
        f"WHERE f.state = '{FaceState.FACE}' ORDER BY f.id"
    ).fetchall()
    n = len(rows)
    landmarks = np.full((n, 5, 2), np.nan, dtype=np.float32)
    for i, row in enumerate(rows):
        if row[6] is not None and len(row[6]) == 40:
            landmarks[i] = np.frombuffer(row[6], np.float32).reshape(5, 2)
    return FacesToCluster(
        ids=np.array([r[0] for r in rows], dtype=np.int64),
        photo=np.array([r[1] for r in rows], dtype=np.int64),
        person=np.array([-1 if r[2] is None else r[2] for r in rows], dtype=np.int64),
        confirmed=np.array([bool(r[3]) for r in rows], dtype=bool),
        quality=np.array([r[4] for r in rows], dtype=np.float64),
        taken=np.array([np.nan if r[5] is None else r[5] for r in rows], dtype=np.float64),
        landmarks=landmarks,
        age=np.array([np.nan if r[7] is None else r[7] for r in rows], dtype=np.float64),
    )


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


def want_regroup(cat: Catalog, photo_ids: Iterable[int]) -> None:
    """Note that people should be grouped again, whole, when a face of these
    photos is in a person: a scan read evidence for faces already grouped
    without it (ages or dates of a catalog from an older version, embeddings
    for another embedder). Runs inside the caller's transaction; bookkeeping,
    not a fact. ``engine.people.recluster`` clears it."""
    ids = list(photo_ids)
    for start in range(0, len(ids), 500):
        part = ids[start : start + 500]
        grouped = cat._conn.execute(
            "SELECT 1 FROM faces WHERE person_id IS NOT NULL AND photo_id IN "
            f"({','.join('?' * len(part))}) LIMIT 1",
            part,
        ).fetchone()
        if grouped:
            cat.set_meta(_REGROUP, "1")
            return


def regroup_wanted(cat: Catalog) -> bool:
    """Whether a scan asked for people to be grouped again whole (``want_regroup``)."""
    return cat.get_meta(_REGROUP) == "1"


def regroup_done(cat: Catalog, rules: int) -> None:
    """Every face was grouped again by the clustering's rules of version
    ``rules``: the request of ``want_regroup`` is met."""
    cat.set_meta(_REGROUP, "")
    remember_rules(cat, rules)


def grouping_rules(cat: Catalog) -> int | None:
    """The version of the clustering's rules the people were grouped by
    (``remember_rules``); None for a catalog grouped before versions were kept."""
    value = cat.get_meta(_RULES)
    return int(value) if value and value.isdigit() else None


def remember_rules(cat: Catalog, rules: int) -> None:
    """Note the version of the clustering's rules the people are grouped by."""
    cat.set_meta(_RULES, str(rules))


def automatic_assignments_exist(cat: Catalog) -> bool:
    """Whether any face is in a person by the clustering's decision, not the user's."""
    row = cat._conn.execute(
        f"SELECT 1 FROM faces WHERE assigned_by = '{AssignedBy.AUTO}' LIMIT 1"
    ).fetchone()
    return row is not None


_REGROUP = "people_regroup"
_RULES = "people_rules"


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
    # Dates a scan read for photos it had not read them for (an upgraded
    # catalog), and ages it estimated for faces it had not.
    dates = cat._conn.execute(
        "SELECT COUNT(taken), COALESCE(SUM(taken), 0) FROM photos"
    ).fetchone()
    ages = cat._conn.execute("SELECT COUNT(age), COALESCE(SUM(age), 0) FROM faces").fetchone()
    return tuple(faces), tuple(facts), tuple(adapters), tuple(dates), tuple(ages)
