"""Read and merge XMP face metadata that other photo tools understand.

The names of the people in a photo travel in several vocabularies, all read
here and all written by a merge: Metadata Working Group regions
(``mwg-rs:RegionInfo``: a normalised centre x, y, width and height per face,
its ``Type`` and ``Name``, and the image dimensions they were applied to),
Microsoft People Tagging (``MP:RegionInfo``: ``MPReg:Rectangle`` "x, y, w, h"
from the top left corner, normalised, and ``MPReg:PersonDisplayName``, as
Windows Photo Gallery writes and Windows Explorer reads them), IPTC's
``Iptc4xmpExt:PersonInImage``, and keywords: digiKam's ``digiKam:TagsList``
``People/<Name>`` (or a localised parent such as ``Personnes/<Name>``),
Lightroom's ``lr:hierarchicalSubject`` ``People|<Name>`` and the plain name in
``dc:subject``. This module turns XMP bytes into ``FaceMetadata`` and merges
our regions into existing XMP bytes so that every field another tool wrote
survives.

Coordinates in a file are fractions of the image *as stored*, before its EXIF
orientation is applied (the MWG guidelines say so, and exiftool, digiKam and
Windows follow them), and ``AppliedToDimensions`` is the stored image's size.
The catalog's boxes are in the upright photo; ``to_upright`` and
``to_stored`` turn a region between the two frames for each of the eight
EXIF orientations, and ``photo_metadata`` reads a photo's orientation and its
embedded XMP packets (JPEG, PNG, TIFF, WebP, HEIC). Reading and merging
packets never turns anything itself: the callers decide the frame.

This module never writes a file (``sidecars`` does, atomically), never
touches the catalog, and parses untrusted XML only through ``defusedxml``.

Metadata is untrusted input, so reading it is bounded: only regular files
are read (a FIFO or ``/dev/zero`` in a sidecar's place is refused unopened),
at most ``MAX_XMP_BYTES`` of them, and a packet nested deeper than
``MAX_XMP_DEPTH`` or holding more than ``MAX_XMP_ELEMENTS`` elements is
refused while it is parsed (``RefusedXmpError``), so time and memory stay
bounded whatever a file holds. Writing never touches ElementTree's
process-wide namespace table: a packet declaring thousands of prefixes is
written in time proportional to its size and leaves nothing behind.
"""

import itertools
import math
import os
import re
import struct
import xml.etree.ElementTree as ET
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from io import BytesIO

import defusedxml.ElementTree as SafeET
from PIL import Image, UnidentifiedImageError

from engine.catalog.records import box_in_photo
from engine.export.errors import XmpError
from engine.imageio import NotRegularFileError, open_regular

X = "adobe:ns:meta/"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
MWG_RS = "http://www.metadataworkinggroup.com/schemas/regions/"
ST_AREA = "http://ns.adobe.com/xmp/sType/Area#"
ST_DIM = "http://ns.adobe.com/xap/1.0/sType/Dimensions#"
IPTC_EXT = "http://iptc.org/std/Iptc4xmpExt/2008-02-29/"
DIGIKAM = "http://www.digikam.org/ns/1.0/"
XMP_NOTE = "http://ns.adobe.com/xmp/note/"
MP = "http://ns.microsoft.com/photo/1.2/"
MPRI = "http://ns.microsoft.com/photo/1.2/t/RegionInfo#"
MPREG = "http://ns.microsoft.com/photo/1.2/t/Region#"
LR = "http://ns.adobe.com/lightroom/1.0/"
DC = "http://purl.org/dc/elements/1.1/"

# Prefixes we write; other namespaces keep the prefixes their file used.
PREFIXES = {
    "x": X,
    "rdf": RDF,
    "mwg-rs": MWG_RS,
    "stArea": ST_AREA,
    "stDim": ST_DIM,
    "Iptc4xmpExt": IPTC_EXT,
    "digiKam": DIGIKAM,
    "xmpNote": XMP_NOTE,
    "MP": MP,
    "MPRI": MPRI,
    "MPReg": MPREG,
    "lr": LR,
    "dc": DC,
}

PEOPLE_TAG = "People/"
LIGHTROOM_PEOPLE = "People|"
# The parent tags under which other tools file people, in the languages
# digiKam and Lightroom are used in; a packet may add its own (see
# ``FaceMetadata.person_names``), and callers may pass more.
PEOPLE_PARENTS = frozenset({
    "People", "Persons", "Personnes", "Personen", "Persone", "Personas", "Pessoas",
    "Mensen", "Personer", "Henkilöt", "Osoby", "Ludzie", "Люди", "Personajes", "人物",
})
# Tags digiKam keeps under its people tag for faces it has no name for.
_NOT_NAMES = frozenset({"unknown", "unconfirmed", "ignored"})
# The properties a merge rewrites; every other property is left as it was.
_MANAGED = (
    f"{{{MWG_RS}}}Regions",
    f"{{{IPTC_EXT}}}PersonInImage",
    f"{{{DIGIKAM}}}TagsList",
    f"{{{MP}}}RegionInfo",
    f"{{{LR}}}hierarchicalSubject",
    f"{{{DC}}}subject",
)
# Where a tag path's levels are split: digiKam writes "/", Lightroom "|".
_TAG_SEPARATORS = re.compile(r"[/|]")
# A stored region and a catalog face this close are the same face.
SAME_FACE_IOU = 0.3

_XPACKET_BEGIN = "<?xpacket begin=\"\ufeff\" id=\"W5M0MpCehiHzreSzNTczkc9d\"?>\n"
_XPACKET_END = "\n<?xpacket end=\"w\"?>\n"
# Characters XML 1.0 cannot carry at all; a name holding them loses them.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_JPEG_XMP = b"http://ns.adobe.com/xap/1.0/\x00"
_JPEG_XMP_EXT = b"http://ns.adobe.com/xmp/extension/\x00"
_XML_NS = "http://www.w3.org/XML/1998/namespace"

# Real sidecars hold a few kB to a few hundred kB (about a MB for a photo
# edited with many masks); the embedded packet of a JPEG is 64 kB at most.
# Beyond this the file is broken or hostile, and parsing it would cost
# seconds and hundreds of MB for no face data.
MAX_XMP_BYTES = 4 * 1024 * 1024
# Real XMP nests about a dozen levels (regions: xmpmeta, RDF, Description,
# Regions, RegionList, Bag, li, Area, x). Reading and writing recurse once or
# twice per level, so this also keeps them far below Python's recursion limit.
MAX_XMP_DEPTH = 100
# A packet with 500 face regions holds about 6,000 elements; a large edited
# sidecar some tens of thousands. Each parsed element costs about 200 bytes.
MAX_XMP_ELEMENTS = 200_000

RdfValue = str | list["RdfValue"] | dict[str, "RdfValue"]


class RefusedXmpError(XmpError):
    """Metadata refused as a whole without being read to its end: not a
    regular file, or larger, deeper or with more elements than any real XMP."""


@dataclass(frozen=True)
class Region:
    """One MWG region: centre ``cx, cy`` and size ``w, h`` as fractions (0..1)
    of the displayed photo, the person's ``name`` (None when unnamed), and the
    MWG ``kind`` (``Face``, ``Pet``, ``Focus``, ``BarCode``)."""

    name: str | None
    cx: float
    cy: float
    w: float
    h: float
    kind: str = "Face"

    @classmethod
    def from_box(
        cls, name: str | None, box: Sequence[float], size: tuple[int, int], kind: str = "Face"
    ) -> "Region":
        """The region of a pixel box ``(x, y, w, h)`` in a photo of ``size`` (w, h):
        its part inside the photo (a face filling the frame, found on a padded
        copy, has a box running past the photo's edges; a region is a part of
        the photo to every tool that reads it)."""
        width, height = size
        x, y, w, h = box_in_photo((float(box[0]), float(box[1]), float(box[2]), float(box[3])),
                                  width, height)
        return cls(name, (x + w / 2) / width, (y + h / 2) / height, w / width, h / height, kind)

    def box(self, size: tuple[int, int]) -> tuple[float, float, float, float]:
        """The pixel box ``(x, y, w, h)`` of this region in a photo of ``size`` (w, h)."""
        width, height = size
        return (
            (self.cx - self.w / 2) * width,
            (self.cy - self.h / 2) * height,
            self.w * width,
            self.h * height,
        )

    def iou(self, other: "Region") -> float:
        """Intersection over union of the two rectangles (0 when apart)."""
        left = max(self.cx - self.w / 2, other.cx - other.w / 2)
        right = min(self.cx + self.w / 2, other.cx + other.w / 2)
        top = max(self.cy - self.h / 2, other.cy - other.h / 2)
        bottom = min(self.cy + self.h / 2, other.cy + other.h / 2)
        inter = max(0.0, right - left) * max(0.0, bottom - top)
        union = self.w * self.h + other.w * other.h - inter
        return inter / union if union > 0 else 0.0

    @property
    def is_face(self) -> bool:
        return self.kind.lower() == "face"

    def named(self, name: str | None) -> "Region":
        return Region(name, self.cx, self.cy, self.w, self.h, self.kind)


def to_upright(region: Region, orientation: int) -> Region:
    """``region`` of the stored image as a region of the photo shown upright by
    EXIF ``orientation`` (1..8; anything else is taken as 1)."""
    cx, cy, w, h = region.cx, region.cy, region.w, region.h
    cx, cy = {
        2: (1 - cx, cy),
        3: (1 - cx, 1 - cy),
        4: (cx, 1 - cy),
        5: (cy, cx),
        6: (1 - cy, cx),
        7: (1 - cy, 1 - cx),
        8: (cy, 1 - cx),
    }.get(orientation, (cx, cy))
    if orientation in _QUARTER_TURNS:
        w, h = h, w
    return Region(region.name, cx, cy, w, h, region.kind)


def to_stored(region: Region, orientation: int) -> Region:
    """``region`` of the upright photo as a region of the image as stored: the
    inverse of ``to_upright``."""
    cx, cy, w, h = region.cx, region.cy, region.w, region.h
    cx, cy = {
        2: (1 - cx, cy),
        3: (1 - cx, 1 - cy),
        4: (cx, 1 - cy),
        5: (cy, cx),
        6: (cy, 1 - cx),
        7: (1 - cy, 1 - cx),
        8: (1 - cy, cx),
    }.get(orientation, (cx, cy))
    if orientation in _QUARTER_TURNS:
        w, h = h, w
    return Region(region.name, cx, cy, w, h, region.kind)


def stored_size(upright: tuple[int, int], orientation: int) -> tuple[int, int]:
    """The (width, height) of the stored image of a photo ``upright`` pixels
    large once turned by ``orientation``."""
    return (upright[1], upright[0]) if orientation in _QUARTER_TURNS else upright


# EXIF orientations that turn the photo by a quarter: width and height swap.
_QUARTER_TURNS = frozenset({5, 6, 7, 8})


@dataclass(frozen=True)
class FaceMetadata:
    """What one XMP packet says about the people in a photo, coordinates as
    the packet stores them (fractions of the stored image)."""

    regions: list[Region] = field(default_factory=list)  # MWG
    applied_to: tuple[int, int] | None = None  # (w, h) in pixels, as written
    persons: list[str] = field(default_factory=list)  # Iptc4xmpExt:PersonInImage
    tags: list[str] = field(default_factory=list)  # digiKam:TagsList, every tag
    mp_regions: list[Region] = field(default_factory=list)  # Microsoft People Tagging
    hierarchical: list[str] = field(default_factory=list)  # lr:hierarchicalSubject
    subjects: list[str] = field(default_factory=list)  # dc:subject

    @property
    def people_tags(self) -> list[str]:
        """The names under digiKam's ``People/`` tag (hierarchy kept below it)."""
        return [t[len(PEOPLE_TAG):] for t in self.tags if t.startswith(PEOPLE_TAG)]

    @property
    def face_regions(self) -> list[Region]:
        """Every face region: MWG's, then Microsoft's that lie on none of them
        (digiKam writes both for the same face)."""
        mwg = [r for r in self.regions if r.is_face]
        extra = [r for r in self.mp_regions if all(r.iou(m) < SAME_FACE_IOU for m in mwg)]
        return [*mwg, *extra]

    def person_names(self, parents: Collection[str] = PEOPLE_PARENTS) -> list[str]:
        """Names of the people the packet says are in the photo, with a region
        or not: ``PersonInImage``, then each keyword path (digiKam ``a/b``,
        Lightroom ``a|b``) whose top level is one of ``parents``, or is the
        top level of a path whose last level names a region or a
        ``PersonInImage`` (a people tag in a language not listed), by its
        last level. ``dc:subject`` alone names no one: its words could be
        anything."""
        known = {_key(r.name) for r in self.face_regions if r.name}
        known |= {_key(p) for p in self.persons}
        paths = [_path(t) for t in (*self.tags, *self.hierarchical)]
        wanted = {_key(p) for p in parents}
        wanted |= {_key(p[0]) for p in paths if len(p) > 1 and _key(p[-1]) in known}
        names = list(self.persons)
        for path in paths:
            if len(path) > 1 and _key(path[0]) in wanted and _key(path[-1]) not in _NOT_NAMES:
                names.append(path[-1])
        return _unique(n.strip() for n in names)


def read_face_metadata(data: bytes) -> FaceMetadata:
    """Parse one XMP packet (a sidecar's bytes or a JPEG's embedded packet).

    Raises ``XmpError`` when the bytes are not XML or hold no ``rdf:RDF``;
    a single malformed region is skipped rather than failing the packet.
    """
    root, _ = _parse(data)
    props = _properties(_rdf(root))
    return _face_metadata(props)


def merge_face_metadata(
    existing: bytes | None,
    regions: Sequence[Region],
    applied_to: tuple[int, int],
    known: Iterable[Region] = (),
    toolkit: str = "facealbum",
) -> bytes:
    """XMP bytes holding ``regions`` merged into ``existing`` (None: a new packet).

    ``regions``, ``known`` and ``applied_to`` are in the frame the file uses
    (the stored image: see ``to_stored``). Our regions are written as MWG
    and as Microsoft regions, and each name as ``PersonInImage``, digiKam's
    ``People/<name>``, Lightroom's ``People|<name>`` and a ``dc:subject``.
    Every property other tools wrote survives, and so do their regions,
    except face regions that lie on one of ``regions`` or ``known`` (every
    face the catalog holds for the photo): the catalog is the newer word on
    those. Names that only such a replaced region carried leave the person
    and keyword lists. The result is deterministic, so merging twice gives
    the same bytes.
    """
    ours = list(regions)
    if existing is None:
        root = ET.Element(_q(X, "xmpmeta"), {_q(X, "xmptk"): toolkit})
        ET.SubElement(root, _q(RDF, "RDF"))
        namespaces: dict[str, str] = {}
    else:
        root, namespaces = _parse(existing)
    rdf = _rdf(root)
    descriptions = [d for d in rdf if d.tag == _q(RDF, "Description")]
    old = _face_metadata(_properties(rdf))

    covered = [*ours, *known]
    kept_items: list[ET.Element] = []
    kept_mp: list[ET.Element] = []
    kept_names: set[str] = set()
    replaced_names: set[str] = set()

    def replaced(region: Region | None) -> bool:
        if region is not None and region.is_face and any(
            region.iou(c) >= SAME_FACE_IOU for c in covered
        ):
            if region.name:
                replaced_names.add(region.name)
            return True
        if region is not None and region.name:
            kept_names.add(region.name)
        return False

    for desc in descriptions:
        for prop in desc.findall(_q(MWG_RS, "Regions")):
            kept_items += [i for i in _region_items(prop) if not replaced(_region(_value(i), None))]
        for prop in desc.findall(_q(MP, "RegionInfo")):
            kept_mp += [i for i in _mp_items(prop) if not replaced(_mp_region(_value(i)))]
        for tag in _MANAGED:
            for prop in desc.findall(tag):
                desc.remove(prop)
    for desc in descriptions[1:]:
        # A description we emptied would be noise; its namespace goes with it.
        if len(desc) == 0 and set(desc.attrib) <= {_q(RDF, "about")}:
            rdf.remove(desc)
            descriptions.remove(desc)

    our_names = _unique(_xml_text(r.name) for r in ours if r.name)
    gone = replaced_names - set(our_names) - kept_names
    persons = _unique([*(p for p in old.persons if p not in gone), *our_names])
    tags = _without_leaves(old.tags, gone, PEOPLE_TAG, our_names)
    hierarchical = _without_leaves(old.hierarchical, gone, LIGHTROOM_PEOPLE, our_names)
    subjects = _unique([*(s for s in old.subjects if s not in gone), *our_names])

    target = descriptions[0] if descriptions else ET.SubElement(
        rdf, _q(RDF, "Description"), {_q(RDF, "about"): ""}
    )
    if ours or kept_items:
        _add_regions(target, ours, kept_items, applied_to)
    if ours or kept_mp:
        _add_mp_regions(target, ours, kept_mp)
    if persons:
        _add_array(target, _q(IPTC_EXT, "PersonInImage"), "Bag", persons)
    if tags:
        _add_array(target, _q(DIGIKAM, "TagsList"), "Seq", tags)
    if hierarchical:
        _add_array(target, _q(LR, "hierarchicalSubject"), "Bag", hierarchical)
    if subjects:
        _add_array(target, _q(DC, "subject"), "Bag", subjects)
    return _serialize(root, namespaces)


def read_xmp_file(path: str | os.PathLike[str]) -> bytes:
    """The bytes of the XMP sidecar at ``path``.

    Raises ``RefusedXmpError`` (having read nothing; the message does not
    name the file, the caller does) when it is not a regular file or holds
    more than ``MAX_XMP_BYTES``, and ``OSError`` when it cannot be read
    (``FileNotFoundError`` when there is none).
    """
    try:
        handle = open_regular(path)
    except NotRegularFileError as exc:
        raise RefusedXmpError(
            f"expected an XMP sidecar file, but it is {exc.kind}; it was not read: "
            "remove it, or put the sidecar file itself there"
        ) from exc
    with handle:
        size = os.fstat(handle.fileno()).st_size
        data = b"" if size > MAX_XMP_BYTES else handle.read(MAX_XMP_BYTES + 1)
    if size > MAX_XMP_BYTES or len(data) > MAX_XMP_BYTES:
        raise RefusedXmpError(
            f"expected an XMP sidecar of at most {_mib(MAX_XMP_BYTES)}, but it holds "
            f"{_mib(max(size, len(data)))} (real sidecars hold a few kB to a few hundred kB); "
            "it was not read: check what wrote it, then remove it"
        )
    return data


def jpeg_xmp_packets(path: str | os.PathLike[str]) -> list[bytes]:
    """The XMP packets embedded in a JPEG's APP1 segments: the main packet
    first, then the reassembled extended packet if there is one. An empty
    list for other files (or anything but a regular file), or for a JPEG
    without XMP. Reads headers only; an extended packet larger than
    ``MAX_XMP_BYTES`` (depth maps and such, never faces) is left out."""
    main: bytes | None = None
    chunks: dict[bytes, dict[int, bytes]] = {}
    kept = 0
    try:
        with open_regular(path) as f:
            if f.read(2) != b"\xff\xd8":
                return []
            while True:
                byte = f.read(1)
                if not byte:
                    break
                if byte != b"\xff":
                    continue  # not at a marker: the file is damaged here
                marker = f.read(1)
                while marker == b"\xff":  # fill bytes
                    marker = f.read(1)
                if not marker or marker in (b"\xd9", b"\xda"):  # end, or image data
                    break
                if marker == b"\x01" or b"\xd0" <= marker <= b"\xd7":
                    continue  # markers without a length
                raw_length = f.read(2)
                if len(raw_length) < 2:
                    break
                length = int.from_bytes(raw_length, "big")
                if length < 2:
                    break
                if marker != b"\xe1":
                    f.seek(length - 2, os.SEEK_CUR)
                    continue
                payload = f.read(length - 2)
                if payload.startswith(_JPEG_XMP) and main is None:
                    main = payload[len(_JPEG_XMP):]
                elif payload.startswith(_JPEG_XMP_EXT) and len(payload) >= len(_JPEG_XMP_EXT) + 40:
                    rest = payload[len(_JPEG_XMP_EXT):]
                    if kept + len(rest) > MAX_XMP_BYTES:
                        continue  # bounded memory, whatever the file holds
                    kept += len(rest)
                    guid, offset = rest[:32], int.from_bytes(rest[36:40], "big")
                    chunks.setdefault(guid, {})[offset] = rest[40:]
    except OSError:
        return []
    packets = [main] if main is not None else []
    for parts in chunks.values():
        packets.append(b"".join(parts[k] for k in sorted(parts)))
    return packets


@dataclass(frozen=True)
class PhotoMetadata:
    """What a photo file itself says about its frame and faces: its EXIF
    orientation (1 when none or unreadable) and its embedded XMP packets."""

    orientation: int = 1
    packets: list[bytes] = field(default_factory=list)
    readable: bool = False  # whether the photo could be opened as an image at all


def photo_metadata(path: str | os.PathLike[str], *, packets: bool = True) -> PhotoMetadata:
    """The EXIF orientation and (unless ``packets`` is False) the embedded XMP
    of the photo at ``path``: JPEG (APP1, extended XMP included), PNG
    (iTXt), TIFF (tag 700), WebP and HEIC. Reads headers only, and only of a
    regular file; never raises for a damaged or hostile file (it has no
    metadata then). A packet larger than ``MAX_XMP_BYTES`` is kept, so that
    reading it refuses it with a message."""
    found: list[bytes] = []
    jpeg = packets and _is_jpeg(path)
    if jpeg:
        found = jpeg_xmp_packets(path)
    orientation = 1
    readable = False
    try:
        with open_regular(path) as handle, Image.open(handle) as image:
            orientation = _exif_orientation(image)
            readable = True
            if packets and not jpeg:
                xmp = image.info.get("xmp")
                if isinstance(xmp, str):
                    xmp = xmp.encode("utf-8")
                if isinstance(xmp, bytes) and xmp:
                    found.append(xmp)
    except (OSError, ValueError, SyntaxError, EOFError, KeyError, IndexError, TypeError,
            struct.error, UnidentifiedImageError, Image.DecompressionBombError):
        pass  # not an image Pillow can open: no orientation, no embedded XMP
    return PhotoMetadata(orientation=orientation, packets=found, readable=readable)


# -- parsing ------------------------------------------------------------------


def _is_jpeg(path: str | os.PathLike[str]) -> bool:
    try:
        with open_regular(path) as handle:
            return handle.read(2) == b"\xff\xd8"
    except OSError:
        return False


def _exif_orientation(image: Image.Image) -> int:
    """The photo's EXIF orientation. HEIC's decoder turns the image itself and
    hides the tag, but keeps what it said as ``original_orientation``."""
    value = image.info.get("original_orientation")
    if not isinstance(value, int):
        try:
            value = image.getexif().get(0x0112)
        except (OSError, ValueError, SyntaxError, struct.error):
            return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _q(ns: str, name: str) -> str:
    return f"{{{ns}}}{name}"


def _parse(data: bytes) -> tuple[ET.Element, dict[str, str]]:
    """The root element and the prefix of each namespace the packet declared.

    Refuses (``RefusedXmpError``) data larger than ``MAX_XMP_BYTES``, and stops
    at the first element nested deeper than ``MAX_XMP_DEPTH`` or past the
    ``MAX_XMP_ELEMENTS``-th, before the tree grows any further.
    """
    if len(data) > MAX_XMP_BYTES:
        raise RefusedXmpError(
            f"expected an XMP packet of at most {_mib(MAX_XMP_BYTES)}, but it holds "
            f"{_mib(len(data))}; it was not read: check what wrote it, then remove it"
        )
    namespaces: dict[str, str] = {}
    root: ET.Element | None = None
    depth = elements = 0
    try:
        for event, item in SafeET.iterparse(BytesIO(data.strip(b"\x00 \t\r\n")),
                                            events=("start-ns", "start", "end")):
            if event == "start-ns":
                prefix, uri = item
                namespaces.setdefault(uri, prefix)
            elif event == "end":
                depth -= 1
                continue
            else:
                depth += 1
                elements += 1
                if root is None:
                    root = item
                if depth > MAX_XMP_DEPTH or elements > MAX_XMP_ELEMENTS:
                    raise RefusedXmpError(_too_big(depth, elements))
    except (ET.ParseError, SafeET.DTDForbidden, SafeET.EntitiesForbidden,
            SafeET.ExternalReferenceForbidden, ValueError) as exc:
        raise XmpError(
            f"expected an XMP packet (XML with an rdf:RDF element) but could not parse it: {exc}; "
            "repair or remove the file (other tools' XMP is never overwritten when unreadable)"
        ) from exc
    if root is None:
        raise XmpError("expected an XMP packet but the data is empty; remove the empty file")
    return root, namespaces


def _too_big(depth: int, elements: int) -> str:
    if depth > MAX_XMP_DEPTH:
        found = f"elements nested more than {MAX_XMP_DEPTH} levels deep"
        usual = "real XMP nests about a dozen"
    else:
        found = f"more than {MAX_XMP_ELEMENTS:,} elements"
        usual = "real XMP holds a few thousand"
    return (
        f"expected XMP metadata ({usual}), but the packet holds {found}; it was not "
        "read (nor overwritten): check what wrote it, then repair or remove it"
    )


def _mib(size: int) -> str:
    """``size`` in MiB, rounded up, so that a size over a bound never reads as the bound."""
    return f"{math.ceil(size * 10 / (1024 * 1024)) / 10:g} MiB"


def _rdf(root: ET.Element) -> ET.Element:
    if root.tag == _q(RDF, "RDF"):
        return root
    found = root.find(f".//{_q(RDF, 'RDF')}")
    if found is None:
        raise XmpError(
            f"expected an rdf:RDF element inside the XMP packet, found only <{root.tag}>; "
            "the file is not XMP metadata: rename or remove it"
        )
    return found


def _properties(rdf: ET.Element) -> dict[str, RdfValue]:
    props: dict[str, RdfValue] = {}
    for desc in rdf:
        if desc.tag == _q(RDF, "Description"):
            props.update(_struct(desc))
    return props


def _struct(element: ET.Element) -> dict[str, RdfValue]:
    """The fields of an RDF resource: its non-RDF attributes and child elements."""
    fields: dict[str, RdfValue] = {
        k: v for k, v in element.attrib.items()
        if not k.startswith((f"{{{RDF}}}", "{http://www.w3.org/XML/1998/namespace}"))
    }
    for child in element:
        fields[child.tag] = _value(child)
    return fields


def _value(element: ET.Element) -> RdfValue:
    """The value of one property element in any of RDF/XML's spellings."""
    resource = element.get(_q(RDF, "resource"))
    if resource is not None:
        return resource
    if element.get(_q(RDF, "parseType")) == "Resource":
        return _struct(element)
    children = list(element)
    if children:
        first = children[0]
        if first.tag in (_q(RDF, "Bag"), _q(RDF, "Seq"), _q(RDF, "Alt")):
            return [_value(li) for li in first if li.tag == _q(RDF, "li")]
        if first.tag == _q(RDF, "Description"):
            return _struct(first)
        return _struct(element)
    fields = _struct(element)
    if fields:
        return fields
    return (element.text or "").strip()


def _region_items(prop: ET.Element) -> list[ET.Element]:
    """The ``rdf:li`` elements of an ``mwg-rs:Regions`` property element."""
    return _list_items(prop, _q(MWG_RS, "RegionList"))


def _mp_items(prop: ET.Element) -> list[ET.Element]:
    """The ``rdf:li`` elements of an ``MP:RegionInfo`` property element."""
    return _list_items(prop, _q(MPRI, "Regions"))


def _list_items(prop: ET.Element, list_tag: str) -> list[ET.Element]:
    """The ``rdf:li`` items of the list ``list_tag`` in a struct property, written
    with or without an ``rdf:Description`` around its fields."""
    description = prop.find(_q(RDF, "Description"))
    holder = prop if description is None else description
    found = holder.find(list_tag)
    if found is None:
        return []
    return [li for container in found for li in container if li.tag == _q(RDF, "li")]


def _key(text: str | None) -> str:
    """How names are compared here: trimmed, without case (``names.name_key``
    is the catalog's rule; this module stays below ``names``)."""
    return " ".join((text or "").split()).casefold()


def _path(tag: str) -> list[str]:
    """The levels of a keyword path, empty levels dropped."""
    return [level.strip() for level in _TAG_SEPARATORS.split(tag) if level.strip()]


def _face_metadata(props: dict[str, RdfValue]) -> FaceMetadata:
    info = props.get(_q(MWG_RS, "Regions"))
    regions: list[Region] = []
    applied_to: tuple[int, int] | None = None
    if isinstance(info, dict):
        dims = info.get(_q(MWG_RS, "AppliedToDimensions"))
        if isinstance(dims, dict):
            w = _number(dims.get(_q(ST_DIM, "w")))
            h = _number(dims.get(_q(ST_DIM, "h")))
            if w and h and w > 0 and h > 0:
                applied_to = (round(w), round(h))
        items = info.get(_q(MWG_RS, "RegionList"))
        if isinstance(items, list):
            for item in items:
                region = _region(item, applied_to)
                if region is not None:
                    regions.append(region)
    mp_regions: list[Region] = []
    mp_info = props.get(_q(MP, "RegionInfo"))
    if isinstance(mp_info, dict):
        mp_items = mp_info.get(_q(MPRI, "Regions"))
        if isinstance(mp_items, list):
            for item in mp_items:
                region = _mp_region(item)
                if region is not None:
                    mp_regions.append(region)
    return FaceMetadata(
        regions=regions,
        applied_to=applied_to,
        persons=_strings(props.get(_q(IPTC_EXT, "PersonInImage"))),
        tags=_strings(props.get(_q(DIGIKAM, "TagsList"))),
        mp_regions=mp_regions,
        hierarchical=_strings(props.get(_q(LR, "hierarchicalSubject"))),
        subjects=_strings(props.get(_q(DC, "subject"))),
    )


def _mp_region(item: RdfValue) -> Region | None:
    """One Microsoft region (``MPReg:Rectangle`` "x, y, w, h" from the top left
    corner), or None when it has no usable rectangle."""
    if not isinstance(item, dict):
        return None
    rectangle = item.get(_q(MPREG, "Rectangle"))
    if not isinstance(rectangle, str):
        return None
    parts = [_number(v.strip()) for v in rectangle.split(",")]
    if len(parts) != 4 or any(v is None for v in parts):
        return None
    x, y, w, h = (float(v or 0.0) for v in parts)
    if not (0 < w <= 1 and 0 < h <= 1 and 0 <= x <= 1 and 0 <= y <= 1):
        return None
    name = item.get(_q(MPREG, "PersonDisplayName"))
    return Region(
        name=(name.strip() or None) if isinstance(name, str) else None,
        cx=min(x + w / 2, 1.0), cy=min(y + h / 2, 1.0), w=w, h=h,
    )


def _region(item: RdfValue, applied_to: tuple[int, int] | None) -> Region | None:
    """One region of a RegionList, or None when it has no usable area."""
    if not isinstance(item, dict):
        return None
    area = item.get(_q(MWG_RS, "Area"))
    if not isinstance(area, dict):
        return None
    values = [_number(area.get(_q(ST_AREA, k))) for k in ("x", "y", "w", "h")]
    if any(v is None for v in values):
        return None
    cx, cy, w, h = (float(v or 0.0) for v in values)
    unit = area.get(_q(ST_AREA, "unit"), "normalized")
    if unit == "pixel":  # not MWG, but some writers do it
        if applied_to is None:
            return None
        cx, w = cx / applied_to[0], w / applied_to[0]
        cy, h = cy / applied_to[1], h / applied_to[1]
    if not (0 < w <= 1 and 0 < h <= 1 and 0 <= cx <= 1 and 0 <= cy <= 1):
        return None
    name = item.get(_q(MWG_RS, "Name"))
    kind = item.get(_q(MWG_RS, "Type"))
    return Region(
        name=(name.strip() or None) if isinstance(name, str) else None,
        cx=cx, cy=cy, w=w, h=h,
        kind=kind.strip() if isinstance(kind, str) and kind.strip() else "Face",
    )


def _number(value: RdfValue | None) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _strings(value: RdfValue | None) -> list[str]:
    if isinstance(value, str):
        return [value] if value else []
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str) and v]
    return []


# -- writing ------------------------------------------------------------------


def _add_regions(
    target: ET.Element,
    regions: Sequence[Region],
    kept: Sequence[ET.Element],
    applied_to: tuple[int, int],
) -> None:
    prop = ET.SubElement(target, _q(MWG_RS, "Regions"), {_q(RDF, "parseType"): "Resource"})
    dims = ET.SubElement(
        prop, _q(MWG_RS, "AppliedToDimensions"), {_q(RDF, "parseType"): "Resource"}
    )
    _leaf(dims, _q(ST_DIM, "w"), str(int(applied_to[0])))
    _leaf(dims, _q(ST_DIM, "h"), str(int(applied_to[1])))
    _leaf(dims, _q(ST_DIM, "unit"), "pixel")
    bag = ET.SubElement(ET.SubElement(prop, _q(MWG_RS, "RegionList")), _q(RDF, "Bag"))
    for item in kept:
        bag.append(item)
    for region in regions:
        li = ET.SubElement(bag, _q(RDF, "li"), {_q(RDF, "parseType"): "Resource"})
        area = ET.SubElement(li, _q(MWG_RS, "Area"), {_q(RDF, "parseType"): "Resource"})
        for key, value in (("x", region.cx), ("y", region.cy), ("w", region.w), ("h", region.h)):
            _leaf(area, _q(ST_AREA, key), _fraction(value))
        _leaf(area, _q(ST_AREA, "unit"), "normalized")
        if region.name:
            _leaf(li, _q(MWG_RS, "Name"), _xml_text(region.name))
        _leaf(li, _q(MWG_RS, "Type"), region.kind)


def _add_mp_regions(
    target: ET.Element, regions: Sequence[Region], kept: Sequence[ET.Element]
) -> None:
    prop = ET.SubElement(target, _q(MP, "RegionInfo"), {_q(RDF, "parseType"): "Resource"})
    bag = ET.SubElement(ET.SubElement(prop, _q(MPRI, "Regions")), _q(RDF, "Bag"))
    for item in kept:
        bag.append(item)
    for region in regions:
        if not region.is_face:
            continue
        li = ET.SubElement(bag, _q(RDF, "li"), {_q(RDF, "parseType"): "Resource"})
        corner = (region.cx - region.w / 2, region.cy - region.h / 2, region.w, region.h)
        _leaf(li, _q(MPREG, "Rectangle"), ", ".join(_fraction(v) for v in corner))
        if region.name:
            _leaf(li, _q(MPREG, "PersonDisplayName"), _xml_text(region.name))


def _without_leaves(
    tags: Sequence[str], gone: set[str], prefix: str, names: Sequence[str]
) -> list[str]:
    """``tags`` less ``prefix + name`` for each name ``gone``, plus ``prefix + name``
    for each of ``names``, each once."""
    gone_tags = {prefix + n for n in gone}
    return _unique([*(t for t in tags if t not in gone_tags), *(prefix + n for n in names)])


def _add_array(target: ET.Element, tag: str, kind: str, values: Sequence[str]) -> None:
    container = ET.SubElement(ET.SubElement(target, tag), _q(RDF, kind))
    for value in values:
        _leaf(container, _q(RDF, "li"), value)


def _leaf(parent: ET.Element, tag: str, text: str) -> None:
    ET.SubElement(parent, tag).text = text


def _fraction(value: float) -> str:
    return f"{min(max(value, 0.0), 1.0):.6f}".rstrip("0").rstrip(".") or "0"


def _xml_text(text: str) -> str:
    return _NOT_XML.sub("", text)


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(v for v in values if v))


def _serialize(root: ET.Element, namespaces: dict[str, str]) -> bytes:
    """The packet's bytes, each namespace under the prefix its file used (ours
    for the namespaces we write), declared once on the root element.

    Names are spelled ``prefix:local`` here rather than through ElementTree's
    process-wide prefix table, which is shared by every thread, keeps whatever
    a packet declares, and costs a scan of the whole table per prefix.
    """
    prefixes: dict[str, str] = {_XML_NS: "xml"}  # uri -> prefix
    ours = {uri: prefix for prefix, uri in PREFIXES.items()}
    # Our prefixes stay ours: a packet that used one for another namespace
    # gives way, as readers expect ``x:`` and ``rdf:`` to mean what they say.
    reserved = {"xml", "xmlns", *PREFIXES}
    fresh = (f"ns{n}" for n in itertools.count())

    def qualified(name: str) -> str:
        if not name.startswith("{"):
            return name
        uri, _, local = name[1:].partition("}")
        prefix = prefixes.get(uri)
        if prefix is None:
            prefix = ours.get(uri)
            if prefix is None:
                prefix = namespaces.get(uri) or ""
                if not prefix or prefix in reserved:
                    prefix = next(p for p in fresh if p not in reserved)
                reserved.add(prefix)
            prefixes[uri] = prefix
        return f"{prefix}:{local}"

    for element in root.iter():
        if isinstance(element.tag, str):
            element.tag = qualified(element.tag)
        if element.attrib:
            attrib = {qualified(k): v for k, v in element.attrib.items()}
            element.attrib.clear()
            element.attrib.update(attrib)
    declarations = {
        f"xmlns:{prefix}": uri
        for uri, prefix in sorted(prefixes.items(), key=lambda item: item[1])
        if uri != _XML_NS
    }
    own = dict(root.attrib)
    root.attrib.clear()
    root.attrib.update({**declarations, **own})
    ET.indent(root, space=" ")
    text = ET.tostring(root, encoding="unicode")
    return (_XPACKET_BEGIN + text + _XPACKET_END).encode("utf-8")

