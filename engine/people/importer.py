"""Bring face names that other tools wrote into the catalog, as one user operation.

Names come from, in this order (``read_names``): the photo's ``photo.jpg.xmp``
or ``photo.xmp`` sidecar, the XMP embedded in the photo (JPEG, PNG, TIFF,
WebP, HEIC), Picasa's ``.picasa.ini`` and Google Takeout's JSON
(``engine.people.other_tools``). The first of them that holds face regions
gives the regions (a sidecar wins over the embedded packet); names without a
region (``PersonInImage``, people keywords, Takeout's list) are gathered from
all of them. Regions are stored in files on the image *as stored*, and turned
here to the upright photo by its EXIF orientation (all eight; a writer that
used the upright frame is recognised by its ``AppliedToDimensions`` for the
quarter turns). The detected face that overlaps a named region best (by IoU)
is confirmed as the person of exactly that name: the person holding the name
now, or a new person made for it and named by the operation. A region with no
detected face becomes a face row of its own (``FaceSource.XMP``, no
embedding). Names without a region are shown as "in this photo"
(``engine.catalog.imports.photo_people``), as part of the same operation.
Applying the same names twice changes nothing the second time.

Every import is one operation of the operation log (``engine.people.oplog``),
so one undo takes back every name it gave and a redo gives them again; a face
added for a region stays a face after undo, in no person. During a scan the
reading threads call ``read_regions``, the scan queues each photo's regions
with the photo itself (``queue_regions``) and calls ``import_queued`` once at
its end: a scan killed at any moment leaves its regions queued, and the next
scan imports them, once. ``import_folder`` reads the metadata of photos
already in the catalog again (for files another tool wrote since their scan)
and imports it as one operation too.

A region's name meets the person whose name is the same after Unicode NFC,
trimming, collapsing inner whitespace and ignoring case
(``engine.export.names.name_key``): "alice " and "ALICE" are Alice. A new
person takes the first spelling met, tidied (``tidy_name``); a name the user
gave is never respelled.

Facts the user already decided in the catalog win over a sidecar: a face
confirmed as someone, marked not a face or a stranger, or rejected for the
region's person is left as it is. ``read_regions`` never raises on a
malformed file: it is untrusted input, and a scan must go on. Metadata that
is refused as a whole raises ``MetadataRefusedError``, so that the scan
records it as that photo's problem: more than ``MAX_REGIONS`` face regions
(instead of making thousands of people), or a sidecar or packet outside the
bounds of ``engine.export.xmp`` (not a regular file, too large, too deep).
With ``engine.people.facts``, this is the only code that writes facts; it
never reads a file inside a transaction.
"""

import os
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from engine.catalog import AssignedBy, Catalog, Face, FaceSource, FaceState, PhotoStatus
from engine.catalog.imports import (
    QueuedRegion,
    is_rejected,
    named_persons,
    photo_people,
    set_photo_people,
    take_queued,
)
from engine.catalog.imports import queue_regions as queue_in_catalog
from engine.catalog.persons import new_person, resolve_merged
from engine.errors import NotFoundError
from engine.export.errors import XmpError
from engine.export.names import name_key, tidy_name
from engine.export.sidecars import sidecar_candidates
from engine.export.xmp import (
    PEOPLE_PARENTS,
    PhotoMetadata,
    RefusedXmpError,
    Region,
    photo_metadata,
    read_face_metadata,
    read_xmp_file,
    to_upright,
)
from engine.people.oplog import Change, commit
from engine.people.other_tools import picasa_regions, takeout_names
from engine.progress import CancelToken, Progress

__all__ = [
    "MAX_REGIONS",
    "MIN_IOU",
    "Imported",
    "MetadataRefusedError",
    "PersonInPhoto",
    "PhotoNames",
    "Region",
    "apply_regions",
    "import_folder",
    "import_queued",
    "import_regions",
    "persons_in_photo",
    "queue_regions",
    "read_names",
    "read_regions",
]

# A region and a detected face overlapping less than this are different faces.
MIN_IOU = 0.3
# More face regions than any real photo holds (a crowd shot has a few hundred
# at most): a file with more is broken or hostile, and is not imported.
MAX_REGIONS = 500


class MetadataRefusedError(RefusedXmpError):
    """A photo's metadata refused as a whole, none of its names imported: more
    than ``MAX_REGIONS`` face regions, or a sidecar or packet that
    ``engine.export.xmp`` refuses to read. The message names the file."""


@dataclass(frozen=True)
class Imported:
    """What one import did."""

    names: int = 0  # faces confirmed as a named person
    photos: int = 0  # photos where at least one face, or one name without a face, was added
    applied: int = 0  # regions that changed the catalog: a face named, or added
    persons: int = 0  # names without a face added to photos ("in this photo")

    @property
    def summary(self) -> str:
        names = "1 name" if self.names == 1 else f"{self.names} names"
        photos = "1 photo's" if self.photos == 1 else f"{self.photos} photos'"
        if self.persons:
            without = "1 name" if self.persons == 1 else f"{self.persons} names"
            return f"Imported {names} and {without} without a face from {photos} metadata"
        return f"Imported {names} from {photos} metadata"


@dataclass(frozen=True)
class PhotoNames:
    """What other tools say about the people in one photo: face ``regions``
    of the upright photo, and ``persons`` named with no region."""

    regions: list[Region] = field(default_factory=list)
    persons: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class PersonInPhoto:
    """Someone in a photo: by a face (``face_id``; ``confirmed`` when the user
    said so), or only by the photo's metadata (``face_id`` None)."""

    name: str
    face_id: int | None
    confirmed: bool


def persons_in_photo(cat: Catalog, photo_id: int) -> list[PersonInPhoto]:
    """Who is in photo ``photo_id``: the named people of its faces, then the
    names its metadata gives without a face, less those a face already has.
    Raises ``NotFoundError`` for an unknown photo."""
    cat.photo(photo_id)
    found: list[PersonInPhoto] = []
    for face in cat.faces(photo_id=photo_id):
        if face.person_id is None or face.state is not FaceState.FACE:
            continue
        person = cat.person(resolve_merged(cat, face.person_id))
        if person.name and not person.hidden:
            found.append(PersonInPhoto(person.name, face.id, face.assigned_by is AssignedBy.USER))
    on_faces = {name_key(p.name) for p in found}
    found += [
        PersonInPhoto(name, None, False)
        for key, name in photo_people(cat, photo_id).items() if key not in on_faces
    ]
    return found


def read_regions(path: str | os.PathLike[str], image_size: tuple[int, int]) -> list[Region]:
    """The face regions of ``read_names``, alone."""
    return read_names(path, image_size).regions


def read_names(
    path: str | os.PathLike[str],
    image_size: tuple[int, int],
    people_parents: Collection[str] = PEOPLE_PARENTS,
) -> PhotoNames:
    """The face regions and the names without a region that other tools
    stored for the photo at ``path``.

    ``image_size`` is the photo's (width, height) after EXIF orientation, and
    the regions are of that upright photo. ``people_parents`` are the
    keyword parents under which names are people (``People/Ann``). Returns
    nothing when there is nothing or nothing is readable; raises
    ``MetadataRefusedError`` when that metadata holds more than
    ``MAX_REGIONS`` face regions, or when a sidecar or packet is refused
    unread (not a regular file, larger or deeper than any real XMP).
    """
    file_meta: PhotoMetadata | None = None

    def from_file() -> PhotoMetadata:
        nonlocal file_meta
        if file_meta is None:
            file_meta = photo_metadata(path)
        return file_meta

    regions: list[Region] = []
    persons: list[str] = []
    for source, data in _packets(path, from_file):
        try:
            meta = read_face_metadata(data)
        except RefusedXmpError as exc:
            raise MetadataRefusedError(f"{source}: {exc}; none of its names were imported") \
                from exc
        except XmpError:
            continue
        faces = _at_most(meta.face_regions, source)
        if faces and not regions:
            regions = _as_displayed(
                faces, meta.applied_to, image_size, from_file().orientation
            )
        persons += meta.person_names(people_parents)
        if regions:
            break  # the regions' own packet names the people; others are older words
    if not regions:
        found = _at_most([r for r in picasa_regions(path) if r.is_face], ".picasa.ini")
        regions = [to_upright(r, from_file().orientation) for r in found]
    persons += takeout_names(path)
    given = {name_key(r.name) for r in regions if r.name}
    without: dict[str, str] = {}
    for person in persons:
        if person.strip():
            without.setdefault(name_key(person), tidy_name(person))  # the first spelling met
    return PhotoNames(
        regions=regions,
        persons=[n for k, n in without.items() if k not in given][:MAX_REGIONS],
    )


def queue_regions(
    cat: Catalog,
    photo_id: int,
    sha256: str | None,
    regions: Sequence[Region] | PhotoNames,
) -> None:
    """Queue the regions (or ``PhotoNames``) read for photo ``photo_id``
    (content ``sha256``) for ``import_queued``, in the caller's transaction:
    the scan queues them with the photo they belong to, so neither is stored
    without the other."""
    names = regions if isinstance(regions, PhotoNames) else PhotoNames(list(regions))
    queue_in_catalog(
        cat, photo_id, sha256, [_queued(r) for r in names.regions if r.is_face], names.persons
    )


def import_queued(cat: Catalog) -> Imported:
    """Import every queued photo's regions as one operation; the queue empties with it."""
    with cat.transaction():
        queued = take_queued(cat)
        return _import(cat, {
            p: PhotoNames([Region(*r) for r in rs], persons) for p, (rs, persons) in queued.items()
        })


def import_regions(
    cat: Catalog, regions_by_photo: Mapping[int, Sequence[Region] | PhotoNames]
) -> Imported:
    """Turn regions (or ``PhotoNames``) of several photos into facts as one
    operation (none if nothing changes)."""
    with cat.transaction():
        return _import(cat, {
            p: r if isinstance(r, PhotoNames) else PhotoNames(list(r))
            for p, r in regions_by_photo.items()
        })


def import_folder(
    cat: Catalog,
    folder: str | os.PathLike[str] | None = None,
    *,
    people_parents: Collection[str] = PEOPLE_PARENTS,
    cancel: CancelToken | None = None,
    result: list[Imported] | None = None,
    problems: list[str] | None = None,
) -> Iterator[Progress]:
    """Read again the metadata of every photo of the catalog (under ``folder``
    when given: sidecars, embedded XMP, Picasa, Takeout) and import it as one
    operation. Files are read before the transaction; a stop between photos
    imports nothing. ``result`` receives the ``Imported``, ``problems`` one
    "path: why" per photo whose metadata was refused. A ``folder`` holding no
    scanned photo raises ``NotFoundError``."""
    root = None if folder is None else os.path.realpath(folder)
    photos = [
        p for p in cat.photos(PhotoStatus.OK)
        if p.width and p.height and (root is None or _under(p.path, root))
    ]
    if folder is not None and not photos:
        # A mistyped folder, or one not scanned yet: not "0 names imported".
        raise NotFoundError(
            f"no scanned photo lies under {os.fspath(folder)}: names are read for photos "
            f"already scanned, so scan that folder first"
        )
    found: dict[int, PhotoNames] = {}
    yield Progress("reading metadata", 0, len(photos))
    for done, photo in enumerate(photos, start=1):
        if cancel is not None and cancel.cancelled:
            return
        try:
            names = read_names(photo.path, (int(photo.width or 0), int(photo.height or 0)),
                               people_parents)
        except MetadataRefusedError as exc:
            if problems is not None:
                problems.append(f"{photo.display_path}: {exc}")
            names = PhotoNames()
        if names.regions or names.persons:
            found[photo.id] = names
        yield Progress("reading metadata", done, len(photos))
    imported = import_regions(cat, found)
    if result is not None:
        result.append(imported)


def apply_regions(catalog: Catalog, photo_id: int, regions: Sequence[Region]) -> int:
    """Turn ``regions`` of photo ``photo_id`` into facts, as one operation;
    returns how many faces were named or added."""
    return import_regions(catalog, {photo_id: regions}).applied


# -- private ---------------------------------------------------------------------


def _import(cat: Catalog, names_by_photo: Mapping[int, PhotoNames]) -> Imported:
    """Runs in the caller's transaction: match, then commit one operation."""
    change = Change()
    persons = _Names(cat)
    named_photos: set[int] = set()
    without_face: dict[int, dict[str, str]] = {}
    added_without = 0
    applied = 0
    for photo_id, names in names_by_photo.items():
        try:
            photo = cat.photo(photo_id)
        except NotFoundError:
            continue  # forgotten since its regions were read
        if not photo.width or not photo.height:
            continue
        size = (int(photo.width), int(photo.height))
        faces = [r for r in names.regions if r.is_face]
        existing = cat.faces(photo_id=photo_id)
        matched = _match(faces, existing, size)
        for r, region in enumerate(faces):
            face = matched.get(r)
            if face is None:
                face = cat.face(cat.add_face(
                    photo_id, region.box(size), None, score=1.0, quality=0.0, sharpness=0.0,
                    detector=str(FaceSource.XMP), source=FaceSource.XMP,
                ))
                applied += 1
                if region.name and _name_face(cat, change, persons, face, region.name):
                    named_photos.add(photo_id)
            elif region.name and _name_face(cat, change, persons, face, region.name):
                named_photos.add(photo_id)
                applied += 1
        wanted: dict[str, str] = {}
        for person in names.persons:
            wanted.setdefault(name_key(person), tidy_name(person))
        shown = photo_people(cat, photo_id)
        if names.persons and wanted != shown:
            without_face[photo_id] = wanted
            new = len(set(wanted) - set(shown))
            added_without += new
            if new:
                named_photos.add(photo_id)
    imported = Imported(names=len(change.faces), photos=len(named_photos), applied=applied,
                        persons=added_without)
    if not change.is_empty() or without_face:
        operation = commit(cat, "import", imported.summary, change)
        for photo_id, wanted in without_face.items():
            set_photo_people(cat, photo_id, wanted, operation)
    return imported


def _match(faces: Sequence[Region], existing: Sequence[Face], size: tuple[int, int]
           ) -> dict[int, Face]:
    """Each region's face: best overlap first, each face for one region at most."""
    boxes = [Region.from_box(None, f.box, size) for f in existing]
    pairs = sorted(
        ((region.iou(box), r, f) for r, region in enumerate(faces) for f, box in enumerate(boxes)),
        reverse=True,
    )
    matched: dict[int, Face] = {}
    taken: set[int] = set()
    for iou, r, f in pairs:
        if iou >= MIN_IOU and r not in matched and f not in taken:
            matched[r] = existing[f]
            taken.add(f)
    return matched


def _name_face(
    cat: Catalog, change: Change, persons: "_Names", face: Face, name: str
) -> bool:
    """Add "``face`` is ``name``" to ``change`` unless a user fact says otherwise."""
    if face.state is not FaceState.FACE:
        return False
    if face.assigned_by is AssignedBy.USER and face.person_id is not None:
        return False  # confirmed already, as this person or as another
    person_id = persons.holder(name)
    if person_id is not None and is_rejected(cat, face.id, person_id):
        return False
    if person_id is None:
        # A person for the name; the operation names them, so undo unnames them.
        person_id = new_person(cat)
        change.persons[person_id] = {"name": tidy_name(name)}
        persons.add(name, person_id)
    change.faces[face.id] = (person_id, AssignedBy.USER, FaceState.FACE)
    return True


class _Names:
    """Who holds each name during one import, by ``name_key``: the catalog's
    people (read once, on the first name), then those the import makes."""

    def __init__(self, cat: Catalog) -> None:
        self._cat = cat
        self._by_key: dict[str, list[tuple[str, int]]] | None = None

    def holder(self, name: str) -> int | None:
        """The person called ``name`` or a spelling of it, following merges.

        Of several, the exact spelling wins, then one still listed over one
        merged away, then the oldest.
        """
        candidates = self._table().get(name_key(name), [])
        if not candidates:
            return None
        wanted = tidy_name(name)
        exact = [p for stored, p in candidates if tidy_name(stored) == wanted]
        person_id = exact[0] if exact else candidates[0][1]
        return resolve_merged(self._cat, person_id)

    def add(self, name: str, person_id: int) -> None:
        self._table().setdefault(name_key(name), []).insert(0, (tidy_name(name), person_id))

    def _table(self) -> dict[str, list[tuple[str, int]]]:
        if self._by_key is None:
            self._by_key = {}
            for person_id, stored in named_persons(self._cat):
                self._by_key.setdefault(name_key(stored), []).append((stored, person_id))
        return self._by_key


def _queued(region: Region) -> QueuedRegion:
    return (region.name, region.cx, region.cy, region.w, region.h, region.kind)


def _packets(
    path: str | os.PathLike[str], from_file: Callable[[], PhotoMetadata]
) -> Iterator[tuple[str, bytes]]:
    """(where it came from, XMP bytes) for each metadata packet of the photo:
    sidecars first, then the packets embedded in the photo.

    A sidecar that is refused unread (not a regular file, too large) raises
    ``MetadataRefusedError``; one that cannot be read is passed over.
    """
    for candidate in sidecar_candidates(path):
        try:
            data = read_xmp_file(candidate)
        except RefusedXmpError as exc:
            raise MetadataRefusedError(f"{candidate.name}: {exc}") from exc
        except OSError:
            continue
        yield str(candidate.name), data
    for packet in from_file().packets:
        yield "the photo's embedded XMP", packet


def _at_most(faces: list[Region], source: str) -> list[Region]:
    if len(faces) > MAX_REGIONS:
        raise MetadataRefusedError(
            f"expected at most {MAX_REGIONS} face regions in the metadata of a photo, but "
            f"{source} holds {len(faces)} face regions; none of its names were imported "
            "(the photo's faces were). Repair that metadata in the tool that wrote it"
        )
    return faces


def _as_displayed(
    regions: list[Region],
    applied_to: tuple[int, int] | None,
    image_size: tuple[int, int],
    orientation: int,
) -> list[Region]:
    """Regions of the stored image as regions of the upright photo.

    Some writers (facealbum before it followed the MWG rule among them) used
    the upright photo instead: for a photo turned by a quarter, their
    applied-to size has the upright shape rather than the stored one, and
    their regions are taken as they are.
    """
    width, height = image_size
    if (
        orientation in (5, 6, 7, 8)
        and applied_to is not None
        and _same_aspect(applied_to, (width, height))
        and not _same_aspect(applied_to, (height, width))
    ):
        return regions
    return [to_upright(r, orientation) for r in regions]


def _same_aspect(a: tuple[int, int], b: tuple[int, int]) -> bool:
    """Whether two sizes have the same shape (scaled copies of a photo do)."""
    return abs(a[0] * b[1] - a[1] * b[0]) <= 0.01 * max(a[0] * b[1], a[1] * b[0])


def _under(path: str, root: str) -> bool:
    real = os.path.realpath(path)
    return real == root or real.startswith(root.rstrip(os.sep) + os.sep)
