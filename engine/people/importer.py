"""Bring face names that other tools wrote into the catalog, as one user operation.

Regions come from the photo's ``photo.jpg.xmp`` or ``photo.xmp`` sidecar, or
from the XMP embedded in a JPEG (``read_regions``). The detected face that
overlaps a named region best (by IoU) is confirmed as the person of exactly
that name: the person holding the name now, or a new person made for it and
named by the operation. A region with no detected face becomes a face row of
its own (``FaceSource.XMP``, no embedding). Applying the same regions twice
changes nothing the second time.

Every import is one operation of the operation log (``engine.people.oplog``),
so one undo takes back every name it gave and a redo gives them again; a face
added for a region stays a face after undo, in no person. During a scan the
reading threads call ``read_regions``, the scan queues each photo's regions
with the photo itself (``queue_regions``) and calls ``import_queued`` once at
its end: a scan killed at any moment leaves its regions queued, and the next
scan imports them, once.

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
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from PIL import Image

from engine.catalog import AssignedBy, Catalog, Face, FaceSource, FaceState
from engine.catalog.imports import (
    QueuedRegion,
    is_rejected,
    named_persons,
    take_queued_regions,
)
from engine.catalog.imports import queue_regions as queue_in_catalog
from engine.catalog.persons import new_person, resolve_merged
from engine.errors import NotFoundError
from engine.export.errors import XmpError
from engine.export.names import name_key, tidy_name
from engine.export.sidecars import sidecar_candidates
from engine.export.xmp import (
    RefusedXmpError,
    Region,
    jpeg_xmp_packets,
    read_face_metadata,
    read_xmp_file,
)
from engine.imageio import open_regular
from engine.people.oplog import Change, commit

__all__ = [
    "MAX_REGIONS",
    "MIN_IOU",
    "Imported",
    "MetadataRefusedError",
    "Region",
    "apply_regions",
    "import_queued",
    "import_regions",
    "queue_regions",
    "read_regions",
]

# A region and a detected face overlapping less than this are different faces.
MIN_IOU = 0.3
# More face regions than any real photo holds (a crowd shot has a few hundred
# at most): a file with more is broken or hostile, and is not imported.
MAX_REGIONS = 500
_ORIENTATION = 0x0112


class MetadataRefusedError(RefusedXmpError):
    """A photo's metadata refused as a whole, none of its names imported: more
    than ``MAX_REGIONS`` face regions, or a sidecar or packet that
    ``engine.export.xmp`` refuses to read. The message names the file."""


@dataclass(frozen=True)
class Imported:
    """What one import did."""

    names: int = 0  # faces confirmed as a named person
    photos: int = 0  # photos where at least one face was named
    applied: int = 0  # regions that changed the catalog: a face named, or added

    @property
    def summary(self) -> str:
        names = "1 name" if self.names == 1 else f"{self.names} names"
        photos = "1 photo's" if self.photos == 1 else f"{self.photos} photos'"
        return f"Imported {names} from {photos} metadata"


def read_regions(path: str | os.PathLike[str], image_size: tuple[int, int]) -> list[Region]:
    """The face regions other tools stored for the photo at ``path``.

    ``image_size`` is the photo's (width, height) after EXIF orientation.
    Sidecars are read first, then the embedded XMP; the first that holds
    face regions wins. Returns [] when there are none or nothing is readable;
    raises ``MetadataRefusedError`` when that metadata holds more than
    ``MAX_REGIONS`` face regions, or when a sidecar or packet is refused
    unread (not a regular file, larger or deeper than any real XMP).
    """
    for source, data in _packets(path):
        try:
            meta = read_face_metadata(data)
        except RefusedXmpError as exc:
            raise MetadataRefusedError(f"{source}: {exc}; none of its names were imported") \
                from exc
        except XmpError:
            continue
        faces = [r for r in meta.regions if r.is_face]
        if len(faces) > MAX_REGIONS:
            raise MetadataRefusedError(
                f"expected at most {MAX_REGIONS} face regions in the metadata of a photo, but "
                f"{source} holds {len(faces)} face regions; none of its names were imported "
                "(the photo's faces were). Repair that metadata in the tool that wrote it"
            )
        if faces:
            return _as_displayed(faces, meta.applied_to, image_size, path)
    return []


def queue_regions(
    cat: Catalog, photo_id: int, sha256: str | None, regions: Sequence[Region]
) -> None:
    """Queue the regions read for photo ``photo_id`` (content ``sha256``) for
    ``import_queued``, in the caller's transaction: the scan queues them with
    the photo they belong to, so neither is stored without the other."""
    queue_in_catalog(cat, photo_id, sha256, [_queued(r) for r in regions if r.is_face])


def import_queued(cat: Catalog) -> Imported:
    """Import every queued photo's regions as one operation; the queue empties with it."""
    with cat.transaction():
        queued = take_queued_regions(cat)
        return _import(cat, {p: [Region(*r) for r in rs] for p, rs in queued.items()})


def import_regions(cat: Catalog, regions_by_photo: Mapping[int, Sequence[Region]]) -> Imported:
    """Turn regions of several photos into facts as one operation (none if nothing changes)."""
    with cat.transaction():
        return _import(cat, regions_by_photo)


def apply_regions(catalog: Catalog, photo_id: int, regions: Sequence[Region]) -> int:
    """Turn ``regions`` of photo ``photo_id`` into facts, as one operation;
    returns how many faces were named or added."""
    return import_regions(catalog, {photo_id: regions}).applied


# -- private ---------------------------------------------------------------------


def _import(cat: Catalog, regions_by_photo: Mapping[int, Sequence[Region]]) -> Imported:
    """Runs in the caller's transaction: match, then commit one operation."""
    change = Change()
    persons = _Names(cat)
    named_photos: set[int] = set()
    applied = 0
    for photo_id, regions in regions_by_photo.items():
        try:
            photo = cat.photo(photo_id)
        except NotFoundError:
            continue  # forgotten since its regions were read
        if not photo.width or not photo.height:
            continue
        size = (int(photo.width), int(photo.height))
        faces = [r for r in regions if r.is_face]
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
    imported = Imported(names=len(change.faces), photos=len(named_photos), applied=applied)
    if not change.is_empty():
        commit(cat, "import", imported.summary, change)
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


def _packets(path: str | os.PathLike[str]) -> Iterator[tuple[str, bytes]]:
    """(where it came from, XMP bytes) for each metadata packet of the photo.

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
    for packet in jpeg_xmp_packets(path):
        yield "the photo's embedded XMP", packet


def _as_displayed(
    regions: list[Region],
    applied_to: tuple[int, int] | None,
    image_size: tuple[int, int],
    path: str | os.PathLike[str],
) -> list[Region]:
    """Regions in the displayed photo's frame.

    MWG regions belong to the photo as displayed. Some writers used the
    stored, unrotated pixels instead; their applied-to size then has width
    and height swapped against the displayed size of a photo turned by 90
    degrees, and those regions are turned the way the photo is.
    """
    width, height = image_size
    if applied_to is None or not _same_aspect(applied_to, (height, width)):
        return regions
    if _same_aspect(applied_to, (width, height)):
        return regions  # square-ish: nothing tells the two apart
    orientation = _orientation(path)
    if orientation not in (5, 6, 7, 8):
        return regions
    turned = []
    for r in regions:
        cx, cy = {
            5: (r.cy, r.cx),
            6: (1 - r.cy, r.cx),
            7: (1 - r.cy, 1 - r.cx),
            8: (r.cy, 1 - r.cx),
        }[orientation]
        turned.append(Region(r.name, cx, cy, r.h, r.w, r.kind))
    return turned


def _same_aspect(a: tuple[int, int], b: tuple[int, int]) -> bool:
    """Whether two sizes have the same shape (scaled copies of a photo do)."""
    return abs(a[0] * b[1] - a[1] * b[0]) <= 0.01 * max(a[0] * b[1], a[1] * b[0])


def _orientation(path: str | os.PathLike[str]) -> int:
    try:
        with open_regular(path) as handle, Image.open(handle) as image:
            return int(image.getexif().get(_ORIENTATION, 1))
    except (OSError, ValueError, SyntaxError):
        return 1
