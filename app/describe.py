"""What a logged operation did, in words a user knows.

The notice after an operation, Undo and Redo, and the Edit menu's "Undo …"
all say what changed. People are named as the user knows them: by name, or
as "an unnamed person (3 photos)"; internal ids never reach the screen. The
words come from the operation's kind and the rows it changed (its logged
``Change``), read with the caller's catalog connection: a few rows by
primary key and one person's faces at most per person named.

This module only reads; it never changes the catalog and never imports Qt.
"""

from collections.abc import Iterable

from engine.catalog import Catalog, Operation
from engine.catalog.operations import Change, changes_of
from engine.errors import FaceAlbumError
from engine.people.wording import count_words, join_words, person_words, photo_count


def describe_operation(cat: Catalog, op: Operation) -> str:
    """One short sentence (no final full stop) saying what ``op`` does."""
    try:
        before, after = changes_of(op)
        text = _describe(cat, op.kind, before, after)
    except (FaceAlbumError, KeyError, ValueError, TypeError):
        text = None  # a log row this version cannot read: the engine's own words
    return text if text is not None else op.summary


# -- one description per kind of operation ------------------------------------------------


def _describe(cat: Catalog, kind: str, before: Change, after: Change) -> str | None:
    faces = count_words(len(after.faces), "face")
    if kind == "name":
        (pid, fields), = after.persons.items()
        old = before.persons.get(pid, {}).get("name")
        new = fields.get("name")
        if new and old:
            return f"Renamed \u201c{old}\u201d to \u201c{new}\u201d"
        if new:
            photos = count_words(photo_count(cat, pid), "photo")
            return f"Named the person in {photos} \u201c{new}\u201d"
        return f"Removed the name \u201c{old}\u201d" if old else "Removed a name"
    if kind == "merge":
        target = _only_person(f.get("merged_into") for f in after.persons.values())
        if target is None:
            return None
        sources = [p for p, f in after.persons.items() if f.get("merged_into") == target]
        listed = join_words([person_words(cat, s, _photos_before(cat, before, s)) for s in sources])
        return f"Merged {listed} into {person_words(cat, target)}"
    if kind == "split":
        target = _only_person(facts[0] for facts in after.faces.values())
        if target is None:
            return None
        others = [f for f in cat.faces(person_id=target) if f.id not in after.faces]
        if not others:
            return f"Made a new person from {faces}"
        return f"Moved {faces} to {person_words(cat, target)}"
    if kind == "confirm":
        target = _only_person(facts[0] for facts in after.faces.values())
        if target is None:
            return None
        return f"Confirmed {faces} as {person_words(cat, target)}"
    if kind == "reject":
        rejected = {(f, p) for (f, p), present in after.rejections.items() if present}
        whom = {p for _, p in rejected}
        if len(whom) != 1:
            return None
        n = count_words(len(rejected), "face")
        verb = "is" if len(rejected) == 1 else "are"
        return f"Said {n} {verb} not {person_words(cat, whom.pop())}"
    if kind == "hide":
        (pid, fields), = after.persons.items()
        who = person_words(cat, pid)
        return f"Hid {who}" if fields.get("hidden") else f"Showed {who} again"
    # "mark": the engine's own summary says it ("Marked 1 face as a face again").
    if kind == "cover":
        (pid, _fields), = after.persons.items()
        return f"Chose a new cover for {person_words(cat, pid)}"
    return None


def _only_person(values: Iterable[object]) -> int | None:
    """The one person id among ``values`` (Nones left out), or None if not just one."""
    ids = {v for v in values if v is not None}
    if len(ids) != 1:
        return None
    only = ids.pop()
    return only if isinstance(only, int) else None


def _photos_before(cat: Catalog, before: Change, person_id: int) -> int:
    """Photos of a person's faces as they were before the operation (a merged
    source has none left afterwards)."""
    ids = [f for f, facts in before.faces.items() if facts[0] == person_id]
    return len({f.photo_id for f in cat.faces(ids=ids)}) if ids else 0

