"""User decisions about people: with ``importer``, the only code that writes facts.

Each public function here is one user operation: it checks its ids, declares
the rows it changes as a ``Change`` and commits it through the operation log
in one catalog transaction, so it can be undone and redone. The facts are
plain columns: ``faces.assigned_by = AssignedBy.USER`` (a confirmed face),
``faces.state``, ``persons.name / hidden / merged_into / cover_face_id`` and
the ``rejections`` table. ``plan_merge`` is the one rule for which person a
merge keeps and under which name, for the engine and the GUI's question alike.
Each operation's summary (what ``facealbum history`` and ``undo`` print)
names people as a user knows them, by name or as "an unnamed person (N
photos)", never by an internal id. ``tag_face`` adds a face the user drew (measured beforehand by
``engine.people.tagging``, outside any transaction) and ``name_faces`` gives
faces to the person of a name, or to a new person of that name.

This module never clusters, never writes an automatic assignment and never
speaks SQL; the clustering code (``engine.people.update``) never calls into it.
"""

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from engine.catalog import AssignedBy, Catalog, FaceState
from engine.catalog.faces import DrawnFace, add_drawn_face
from engine.catalog.persons import live_person, merged_ids, new_person
from engine.catalog.records import Face, Person, Photo
from engine.errors import FaceAlbumError, NotFoundError
from engine.people.oplog import Change, commit
from engine.people.wording import count_words, join_words, person_words, photo_count

# The states a face can be marked with, as the command line offers them.
FACE_STATES = tuple(FaceState)
# A drawn face's box: no side shorter than this many pixels of the photo (no
# embedder sees a face in fewer), and no side more than this many times the other.
MIN_FACE_SIDE = 8.0
MAX_FACE_ASPECT = 3.0
# A drawn box overlapping a face of the photo this much (IoU) is that face.
SAME_FACE_IOU = 0.5


class PeopleError(FaceAlbumError):
    """A people operation that cannot be done as asked (merge into itself, ...)."""


class FaceBoxError(PeopleError):
    """A drawn face's box that is not inside its photo, or of no face's size or shape."""


@dataclass(frozen=True)
class MergePlan:
    """Who a merge keeps, who joins them, and the name the merged person has."""

    sources: list[int]
    target: int
    name: str | None


def plan_merge(names: Mapping[int, str | None], target: int | None = None) -> MergePlan:
    """Which person a merge of these people keeps, and under which name.

    ``names`` maps each person's id to their name, in the order the user gave
    them. Without a ``target``, the first named person is kept, else the first
    one. The kept person keeps their name; an unnamed one takes the name of
    the first source that has one.
    """
    ids = list(names)
    if target is None:
        if not ids:
            raise PeopleError("a merge needs the people to merge; none was given")
        target = next((i for i in ids if names[i]), ids[0])
    sources = [i for i in ids if i != target]
    name = names.get(target) or next((names[s] for s in sources if names[s]), None)
    return MergePlan(sources=sources, target=target, name=name)


def name_person(cat: Catalog, person_id: int, name: str | None) -> None:
    """Give a person a name; an empty name makes them unnamed again."""
    clean = (name or "").strip() or None
    with cat.transaction():
        person = live_person(cat, person_id)
        change = Change(persons={person.id: {"name": clean}})
        if clean and person.name:
            summary = f"Renamed \u201c{person.name}\u201d to \u201c{clean}\u201d"
        elif clean:
            photos = count_words(photo_count(cat, person.id), "photo")
            summary = f"Named the person in {photos} \u201c{clean}\u201d"
        else:
            summary = (f"Removed the name \u201c{person.name}\u201d" if person.name
                       else "Removed a name")
        commit(cat, "name", summary, change)


def merge_people(cat: Catalog, source_ids: Iterable[int], target_id: int) -> None:
    """Make the sources one person with the target.

    Merging says "all these faces are one person", so every face of the
    sources and of the target is confirmed for the target: no recluster can
    pull them apart again. The sources are kept as rows with
    ``merged_into = target`` so that facts about them (rejections) keep
    holding for the merged person. The target keeps its name; an unnamed
    target takes the first source's name (``plan_merge``).
    """
    sources = list(dict.fromkeys(int(s) for s in source_ids))
    if not sources:
        raise PeopleError("merge needs at least one person to merge; none was given")
    if target_id in sources:
        raise PeopleError(
            f"cannot merge person {target_id} into itself; give the other people as sources"
        )
    with cat.transaction():
        target = live_person(cat, target_id)
        change = Change()
        for face in cat.faces(person_id=target.id):
            if face.state is FaceState.FACE and not face.confirmed:
                change.faces[face.id] = (target.id, AssignedBy.USER, face.state)
        names: dict[int, str | None] = {target.id: target.name}
        whom = person_words(cat, target.id)
        merged: list[str] = []
        for source_id in sources:
            source = live_person(cat, source_id)
            names[source.id] = source.name
            merged.append(person_words(cat, source.id))
            for face in cat.faces(person_id=source.id):
                change.faces[face.id] = (target.id, AssignedBy.USER, face.state)
                change.rejections[(face.id, target.id)] = False
            change.persons[source.id] = {"merged_into": target.id}
        name = plan_merge(names, target.id).name
        if name != target.name:
            change.persons[target.id] = {"name": name}
        commit(cat, "merge", f"Merged {join_words(merged)} into {whom}", change)


def split_faces(
    cat: Catalog, face_ids: Iterable[int], target_person_id: int | None = None
) -> int:
    """Move faces to an existing person, or to a new one; returns that person's id.

    The moved faces are confirmed for their new person, and each is rejected
    from the person it left, so no later clustering glues it back.
    """
    faces = _faces(cat, face_ids)
    with cat.transaction():
        if target_person_id is None:
            target_id = new_person(cat)
            summary = f"Made a new person from {_count(faces)}"
        else:
            target = live_person(cat, target_person_id)
            target_id = target.id
            summary = f"Moved {_count(faces)} to {person_words(cat, target.id)}"
        change = Change()
        for face in faces:
            change.faces[face.id] = (target_id, AssignedBy.USER, FaceState.FACE)
            change.rejections[(face.id, target_id)] = False
            if face.person_id is not None and face.person_id != target_id:
                change.rejections[(face.id, face.person_id)] = True
        commit(cat, "split", summary, change)
    return target_id


def confirm_faces(cat: Catalog, face_ids: Iterable[int], person_id: int) -> None:
    """"Yes, this is them": the faces belong to the person, as a fact."""
    faces = _faces(cat, face_ids)
    with cat.transaction():
        person = live_person(cat, person_id)
        change = Change()
        for face in faces:
            change.faces[face.id] = (person.id, AssignedBy.USER, FaceState.FACE)
            change.rejections[(face.id, person.id)] = False
        commit(cat, "confirm", f"Confirmed {_count(faces)} as {person_words(cat, person.id)}",
               change)


def reject_faces(cat: Catalog, face_ids: Iterable[int], person_id: int) -> None:
    """"Not this person": remembered forever; a face in the person leaves it."""
    faces = _faces(cat, face_ids)
    with cat.transaction():
        person = live_person(cat, person_id)
        merged = merged_ids(cat, person.id)
        change = Change()
        whom = person_words(cat, person.id)
        for face in faces:
            change.rejections[(face.id, person.id)] = True
            if face.person_id in merged:
                change.faces[face.id] = (None, None, face.state)
        verb = "is" if len(faces) == 1 else "are"
        commit(cat, "reject", f"Said {_count(faces)} {verb} not {whom}", change)


def hide_person(cat: Catalog, person_id: int, hidden: bool = True) -> None:
    """Hide a person from the people list (or show them again)."""
    with cat.transaction():
        person = live_person(cat, person_id)
        whom = person_words(cat, person.id)
        summary = f"Hid {whom}" if hidden else f"Showed {whom} again"
        commit(cat, "hide", summary, Change(persons={person.id: {"hidden": int(hidden)}}))


def mark_faces(cat: Catalog, face_ids: Iterable[int], state: str | FaceState) -> None:
    """Mark faces as not a face or a stranger (they leave their person), or a face again.

    ``state`` is a ``FaceState`` or its stored word ('face', 'not_face', 'stranger').
    """
    try:
        marked = FaceState(state)
    except ValueError:
        raise PeopleError(
            f"a face can be marked {', '.join(FaceState)}; got {state!r}"
        ) from None
    faces = _faces(cat, face_ids)
    with cat.transaction():
        change = Change()
        for face in faces:
            if marked is FaceState.FACE:
                if face.state is not FaceState.FACE:
                    change.faces[face.id] = (None, None, FaceState.FACE)
            else:
                change.faces[face.id] = (None, None, marked)
        one = len(faces) == 1
        how = {
            FaceState.NOT_FACE: "as not a face" if one else "as not faces",
            FaceState.STRANGER: "as a stranger" if one else "as strangers",
            FaceState.FACE: "as a face again" if one else "as faces again",
        }[marked]
        commit(cat, "mark", f"Marked {_count(faces)} {how}", change)


def set_cover(cat: Catalog, person_id: int, face_id: int) -> None:
    """Choose the face shown for a person."""
    with cat.transaction():
        person = live_person(cat, person_id)
        face = cat.face(face_id)
        if face.person_id not in merged_ids(cat, person.id):
            raise PeopleError(
                f"face {face_id} is not one of {person.label}'s faces, so it cannot be their "
                f"cover; `facealbum faces {person.id}` lists them"
            )
        commit(cat, "cover", f"Chose a new cover for {person_words(cat, person.id)}",
               Change(persons={person.id: {"cover_face_id": face.id}}))


def name_faces(cat: Catalog, face_ids: Iterable[int], name: str) -> int:
    """"This is Anna": the faces go to the person named so, or to a new person
    of that name; returns that person's id.

    The faces are confirmed for the person (and become faces again if they
    were marked otherwise); each is rejected from the person it leaves, so
    no later clustering glues it back. One operation, undone as one.
    """
    clean = _checked_name(name)
    faces = _faces(cat, face_ids)
    with cat.transaction():
        change = Change()
        target = _person_named(cat, clean)
        if target is None:
            target_id = new_person(cat)
            change.persons[target_id] = {"name": clean}
        else:
            target_id = target.id
        mine = merged_ids(cat, target_id)
        for face in faces:
            change.faces[face.id] = (target_id, AssignedBy.USER, FaceState.FACE)
            change.rejections[(face.id, target_id)] = False
            if face.person_id is not None and face.person_id not in mine:
                change.rejections[(face.id, face.person_id)] = True
        commit(cat, "identify", f"Named {_count(faces)} \u201c{clean}\u201d", change)
    return target_id


def tag_face(
    cat: Catalog,
    photo_id: int,
    drawn: DrawnFace,
    *,
    name: str | None = None,
    person_id: int | None = None,
) -> int:
    """Add a face the detector missed, drawn by the user; returns its id.

    ``drawn`` is the box with its landmarks and embedding, measured by
    ``engine.people.tagging.measure_face``. With ``name`` the face goes to
    the person so named (a new person if nobody is), with ``person_id`` to
    that person, confirmed either way; without them it is in no person, and
    clustering and suggestions treat it like any other face. Drawing and
    naming are one operation: undo takes the face out of every person and
    list (its row stays, marked as no face), redo brings it back.
    """
    if name is not None and person_id is not None:
        raise PeopleError(
            f"a drawn face goes to one person: give a name ({name!r}) or a person id "
            f"({person_id}), not both"
        )
    clean = None if name is None else _checked_name(name)
    photo = cat.photo(photo_id)
    box = check_face_box(photo, drawn.box)
    with cat.transaction():
        check_no_face_at(cat, photo, box)
        change = Change()
        target_id: int | None = None
        target: Person | None = None
        if person_id is not None:
            target = live_person(cat, person_id)
            target_id = target.id
        elif clean is not None:
            target = _person_named(cat, clean)
            if target is None:
                target_id = new_person(cat)
                change.persons[target_id] = {"name": clean}
            else:
                target_id = target.id
        face_id = add_drawn_face(cat, photo.id, replace(drawn, box=box))
        by = None if target_id is None else AssignedBy.USER
        change.faces[face_id] = (target_id, by, FaceState.FACE)
        whom = ""
        if target is not None:
            whom = (f" as \u201c{target.name}\u201d" if target.name
                    else f" to {person_words(cat, target.id)}")
        elif clean is not None:
            whom = f" as \u201c{clean}\u201d"
        commit(cat, "tag", f"Added a face in {photo.display_path}{whom}", change)
    return face_id


def check_face_box(photo: Photo, box: Sequence[float]) -> tuple[float, float, float, float]:
    """``box`` (x, y, w, h in pixels of the upright photo) as a face's box of
    ``photo``, or ``FaceBoxError`` saying what is wrong with it."""
    values = [float(v) for v in box]
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise FaceBoxError(
            f"a face's box is four numbers X,Y,W,H in pixels of the photo; got {list(box)}"
        )
    x, y, w, h = values
    width, height = photo.width, photo.height
    if not width or not height:
        raise FaceBoxError(
            f"{photo.display_path} has no known size (it could not be read when scanned); "
            "scan its folder again, then draw the face"
        )
    if x < 0 or y < 0 or x + w > width or y + h > height:
        raise FaceBoxError(
            f"the box {_box_text(values)} is not inside {photo.display_path}, which is "
            f"{width}x{height} pixels upright: give X,Y,W,H with X+W <= {width} and "
            f"Y+H <= {height}"
        )
    if min(w, h) < MIN_FACE_SIDE:
        raise FaceBoxError(
            f"the box {_box_text(values)} is too small for a face: each side needs at least "
            f"{MIN_FACE_SIDE:g} pixels of the photo; draw it around the whole face"
        )
    if max(w, h) > MAX_FACE_ASPECT * min(w, h):
        raise FaceBoxError(
            f"the box {_box_text(values)} is no face's shape: one side is more than "
            f"{MAX_FACE_ASPECT:g} times the other; draw it around one face"
        )
    return (x, y, w, h)


def check_no_face_at(cat: Catalog, photo: Photo, box: Sequence[float]) -> None:
    """``FaceBoxError`` when a face that counts in ``photo`` already is at ``box``."""
    for face in cat.faces(photo_id=photo.id):
        if face.state is FaceState.FACE and box_overlap(face.box, box) >= SAME_FACE_IOU:
            raise FaceBoxError(
                f"there is a face at {_box_text(box)} in {photo.display_path} already "
                f"(face {face.id}); name or correct that one (click it in the photo "
                "viewer, or `facealbum split` / `confirm` with its id) instead of drawing it"
            )


def box_overlap(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two (x, y, w, h) boxes."""
    x1, y1 = max(a[0], b[0]), max(a[1], b[1])
    x2, y2 = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


# -- helpers -------------------------------------------------------------------


def _checked_name(name: str) -> str:
    clean = (name or "").strip()
    if not clean:
        raise PeopleError("a name is needed to name a face; got an empty one")
    return clean


def _person_named(cat: Catalog, name: str) -> Person | None:
    """The one live person called ``name`` (case aside), None if nobody is."""
    wanted = name.casefold()
    found = [p for p in cat.persons() if p.name and p.name.casefold() == wanted]
    if len(found) > 1:
        ids = ", ".join(str(p.id) for p in found)
        raise PeopleError(
            f"{len(found)} people are named {name!r} (ids {ids}); merge them "
            f"(`facealbum merge {found[1].id} --into {found[0].id}`) or choose one by id"
        )
    return found[0] if found else None


def _box_text(values: Sequence[float]) -> str:
    return ",".join(f"{v:g}" for v in values)



def _faces(cat: Catalog, face_ids: Iterable[int]) -> list[Face]:
    wanted = list(dict.fromkeys(int(f) for f in face_ids))
    if not wanted:
        raise PeopleError("no face ids were given; `facealbum faces PERSON` lists a person's faces")
    found = {f.id: f for f in cat.faces(ids=wanted)}
    missing = [f for f in wanted if f not in found]
    if missing:
        raise NotFoundError(
            f"no face with id {', '.join(str(m) for m in missing)}; "
            "`facealbum faces PERSON` lists a person's faces"
        )
    return [found[f] for f in wanted]


def _count(faces: list[Face]) -> str:
    return count_words(len(faces), "face")

