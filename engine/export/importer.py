"""Bring face names that other tools wrote into the catalog, as user facts.

During a scan, after a photo's faces are stored, the scan calls
``read_regions`` and then ``apply_regions``. Regions come from the photo's
``photo.jpg.xmp`` or ``photo.xmp`` sidecar, or from the XMP embedded in a
JPEG. The detected face that overlaps a named region best (by IoU) is
confirmed as that person; a region with no detected face becomes a face row
of its own (``source='xmp'``, no embedding). Applying the same regions twice
changes nothing the second time.

Facts the user already decided in the catalog win over a sidecar: a face
confirmed as someone else, marked not a face or a stranger, or rejected for
the region's person is left as it is. ``read_regions`` never raises on a
malformed file: it is untrusted input, and a scan must go on.
"""

import os
import time
from collections.abc import Iterator, Sequence

from PIL import Image

from engine.catalog import Catalog, FaceSource
from engine.export.errors import XmpError
from engine.export.sidecars import sidecar_candidates
from engine.export.xmp import Region, jpeg_xmp_packets, read_face_metadata

__all__ = ["MIN_IOU", "Region", "apply_regions", "read_regions"]

# A region and a detected face overlapping less than this are different faces.
MIN_IOU = 0.3
_ORIENTATION = 0x0112


def read_regions(path: str | os.PathLike[str], image_size: tuple[int, int]) -> list[Region]:
    """The face regions other tools stored for the photo at ``path``.

    ``image_size`` is the photo's (width, height) after EXIF orientation.
    Sidecars are read first, then the embedded XMP; the first that holds
    face regions wins. Returns [] when there are none or nothing is readable.
    """
    for data in _packets(path):
        try:
            meta = read_face_metadata(data)
        except XmpError:
            continue
        faces = [r for r in meta.regions if r.is_face]
        if faces:
            return _as_displayed(faces, meta.applied_to, image_size, path)
    return []


def apply_regions(catalog: Catalog, photo_id: int, regions: Sequence[Region]) -> int:
    """Turn ``regions`` of photo ``photo_id`` into facts; returns how many applied.

    Runs in one transaction. A named region confirms the best-overlapping
    face (IoU >= ``MIN_IOU``) as the person of that exact name, created if
    there is none; a region with no such face is added as an ``xmp`` face.
    """
    photo = catalog.photo(photo_id)
    if not photo.width or not photo.height:
        return 0
    size = (int(photo.width), int(photo.height))
    faces = [r for r in regions if r.is_face]
    applied = 0
    with catalog.transaction():
        existing = catalog.faces(photo_id=photo_id)
        boxes = [Region.from_box(None, f.box, size) for f in existing]
        matched: dict[int, int] = {}  # region index -> face index
        for _, r, f in sorted(_pairs(faces, boxes), reverse=True):
            if r not in matched and f not in matched.values():
                matched[r] = f
        for r, region in enumerate(faces):
            if r in matched:
                face = existing[matched[r]]
                if region.name and _confirm(catalog, face.id, region.name):
                    applied += 1
                continue
            face_id = catalog.add_face(
                photo_id, region.box(size), None, score=1.0, quality=0.0, sharpness=0.0,
                detector="xmp", source=FaceSource.XMP,
            )
            if region.name:
                _confirm(catalog, face_id, region.name)
            applied += 1
    return applied


def _packets(path: str | os.PathLike[str]) -> Iterator[bytes]:
    for candidate in sidecar_candidates(path):
        try:
            yield candidate.read_bytes()
        except OSError:
            continue
    yield from jpeg_xmp_packets(path)


def _pairs(
    regions: Sequence[Region], boxes: Sequence[Region]
) -> Iterator[tuple[float, int, int]]:
    for r, region in enumerate(regions):
        for f, box in enumerate(boxes):
            iou = region.iou(box)
            if iou >= MIN_IOU:
                yield iou, r, f


def _confirm(catalog: Catalog, face_id: int, name: str) -> bool:
    """Confirm the face as ``name`` unless a user fact says otherwise."""
    face = catalog.face(face_id)
    person_id = _person_named(catalog, name)
    if face.state != "face":
        return False
    if face.assigned_by == "user" and face.person_id not in (None, person_id):
        return False
    if face.person_id == person_id and face.assigned_by == "user":
        return False
    rejected = catalog.conn.execute(
        "SELECT 1 FROM rejections WHERE face_id = ? AND person_id = ?", (face_id, person_id)
    ).fetchone()
    if rejected:
        return False
    catalog.conn.execute(
        "UPDATE faces SET person_id = ?, assigned_by = 'user', state = 'face' WHERE id = ?",
        (person_id, face_id),
    )
    return True


def _person_named(catalog: Catalog, name: str) -> int:
    """The person called exactly ``name`` (following merges), created if none."""
    row = catalog.conn.execute(
        "SELECT id FROM persons WHERE name = ? ORDER BY merged_into IS NOT NULL, id LIMIT 1",
        (name,),
    ).fetchone()
    if row is None:
        cur = catalog.conn.execute(
            "INSERT INTO persons(name, created_at) VALUES (?, ?)", (name, time.time())
        )
        return int(cur.lastrowid or 0)
    person_id, seen = int(row[0]), set()
    while person_id not in seen:
        seen.add(person_id)
        merged = catalog.conn.execute(
            "SELECT merged_into FROM persons WHERE id = ?", (person_id,)
        ).fetchone()
        if merged is None or merged[0] is None:
            break
        person_id = int(merged[0])
    return person_id


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
        with Image.open(path) as image:
            return int(image.getexif().get(_ORIENTATION, 1))
    except (OSError, ValueError, SyntaxError):
        return 1
