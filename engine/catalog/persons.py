"""Persons as the rest of the engine sees them: merges followed once, here.

A merge keeps the merged person's row with ``merged_into`` pointing at the
person it joined, so facts about it keep holding; merges may chain. Every
question "who holds this person now" is answered by the functions below and
nowhere else. They never merge anyone nor write a fact: merging is a user
operation (``engine.people.facts``); ``new_person`` only adds an empty row.
"""

import time

from engine.catalog.records import Person
from engine.catalog.store import Catalog
from engine.errors import NotFoundError


def live_person(cat: Catalog, person_id: int) -> Person:
    """The person, or an error naming who holds them now when merged away (or unknown)."""
    person = cat.person(int(person_id))
    if person.merged_into is not None:
        final = resolve_merged(cat, person.id)
        raise NotFoundError(
            f"person {person.id} was merged into person {final}; use {final} instead "
            "(`facealbum people` lists the valid ids)"
        )
    return person


def resolve_merged(cat: Catalog, person_id: int) -> int:
    """Follow ``merged_into`` to the person that holds ``person_id`` now."""
    seen = {person_id}
    current = person_id
    while True:
        row = cat._conn.execute(
            "SELECT merged_into FROM persons WHERE id = ?", (current,)
        ).fetchone()
        if row is None or row[0] is None or row[0] in seen:
            return current
        current = int(row[0])
        seen.add(current)


def merged_ids(cat: Catalog, person_id: int) -> set[int]:
    """The person and everyone merged into them, directly or not."""
    ids = {person_id}
    frontier = [person_id]
    while frontier:
        rows = cat._conn.execute(
            f"SELECT id FROM persons WHERE merged_into IN ({','.join('?' * len(frontier))})",
            frontier,
        ).fetchall()
        frontier = [int(r[0]) for r in rows if int(r[0]) not in ids]
        ids.update(frontier)
    return ids


def final_persons(cat: Catalog) -> dict[int, int]:
    """Each merged person's final person, for every merge in the catalog at once."""
    parent = {
        int(i): int(m)
        for i, m in cat._conn.execute(
            "SELECT id, merged_into FROM persons WHERE merged_into IS NOT NULL"
        )
    }
    out: dict[int, int] = {}
    for start in parent:
        seen: set[int] = set()
        current = start
        while current in parent and current not in seen:
            seen.add(current)
            current = parent[current]
        out[start] = current
    return out


def new_person(cat: Catalog) -> int:
    """Insert an empty, unnamed person; the caller's transaction holds it."""
    cur = cat._conn.execute("INSERT INTO persons(created_at) VALUES (?)", (time.time(),))
    return int(cur.lastrowid or 0)
