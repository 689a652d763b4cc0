"""Read and merge XMP face metadata that other photo tools understand.

Three vocabularies carry the names of the people in a photo: Metadata Working
Group regions (``mwg-rs:RegionInfo``: a normalised centre x, y, width and
height per face, its ``Type`` and ``Name``, and the image dimensions they were
applied to), IPTC's ``Iptc4xmpExt:PersonInImage``, and digiKam's people tags
(``digiKam:TagsList`` entries ``People/<Name>``). This module turns XMP bytes
into ``FaceMetadata`` and merges our regions into existing XMP bytes so that
every field another tool wrote survives.

Coordinates are relative to the photo as displayed, after its EXIF
orientation, like every box in the catalog. This module only transforms
bytes: it never writes a file (``sidecars`` does, atomically), never touches
the catalog, and parses untrusted XML only through ``defusedxml``.

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
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from io import BytesIO

import defusedxml.ElementTree as SafeET

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
}

PEOPLE_TAG = "People/"
# The properties a merge rewrites; every other property is left as it was.
_MANAGED = (
    f"{{{MWG_RS}}}Regions",
    f"{{{IPTC_EXT}}}PersonInImage",
    f"{{{DIGIKAM}}}TagsList",
)
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
        """The region of a pixel box ``(x, y, w, h)`` in a photo of ``size`` (w, h)."""
        width, height = size
        x, y, w, h = (float(v) for v in box)
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


@dataclass(frozen=True)
class FaceMetadata:
    """What one XMP packet says about the people in a photo."""

    regions: list[Region] = field(default_factory=list)
    applied_to: tuple[int, int] | None = None  # (w, h) in pixels, as written
    persons: list[str] = field(default_factory=list)  # Iptc4xmpExt:PersonInImage
    tags: list[str] = field(default_factory=list)  # digiKam:TagsList, every tag

    @property
    def people_tags(self) -> list[str]:
        """The names under digiKam's ``People/`` tag (hierarchy kept below it)."""
        return [t[len(PEOPLE_TAG):] for t in self.tags if t.startswith(PEOPLE_TAG)]


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

    Every property other tools wrote survives, and so do their regions,
    except face regions that lie on one of ``regions`` or ``known`` (every
    face the catalog holds for the photo): the catalog is the newer word on
    those. Names that only such a replaced region carried leave
    ``PersonInImage`` and the ``People/`` tags; our names are added to both.
    The result is deterministic, so merging twice gives the same bytes.
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
    replaced_names: set[str] = set()
    for desc in descriptions:
        for prop in desc.findall(_q(MWG_RS, "Regions")):
            for item in _region_items(prop):
                region = _region(_value(item), None)
                if region is not None and region.is_face and any(
                    region.iou(c) >= SAME_FACE_IOU for c in covered
                ):
                    if region.name:
                        replaced_names.add(region.name)
                    continue
                kept_items.append(item)
        for tag in _MANAGED:
            for prop in desc.findall(tag):
                desc.remove(prop)
    for desc in descriptions[1:]:
        # A description we emptied would be noise; its namespace goes with it.
        if len(desc) == 0 and set(desc.attrib) <= {_q(RDF, "about")}:
            rdf.remove(desc)
            descriptions.remove(desc)

    our_names = _unique(_xml_text(r.name) for r in ours if r.name)
    kept_names = {r.name for r in (_region(_value(i), None) for i in kept_items) if r and r.name}
    gone = replaced_names - set(our_names) - kept_names
    persons = _unique([*(p for p in old.persons if p not in gone), *our_names])
    gone_tags = {PEOPLE_TAG + n for n in gone}
    tags = _unique([*(t for t in old.tags if t not in gone_tags),
                    *(PEOPLE_TAG + n for n in our_names)])

    target = descriptions[0] if descriptions else ET.SubElement(
        rdf, _q(RDF, "Description"), {_q(RDF, "about"): ""}
    )
    if ours or kept_items:
        _add_regions(target, ours, kept_items, applied_to)
    if persons:
        _add_array(target, _q(IPTC_EXT, "PersonInImage"), "Bag", persons)
    if tags:
        _add_array(target, _q(DIGIKAM, "TagsList"), "Seq", tags)
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


# -- parsing ------------------------------------------------------------------


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
    holder = prop
    description = prop.find(_q(RDF, "Description"))
    if description is not None:
        holder = description
    region_list = holder.find(_q(MWG_RS, "RegionList"))
    if region_list is None:
        return []
    items: list[ET.Element] = []
    for container in region_list:
        items.extend(li for li in container if li.tag == _q(RDF, "li"))
    return items


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
    return FaceMetadata(
        regions=regions,
        applied_to=applied_to,
        persons=_strings(props.get(_q(IPTC_EXT, "PersonInImage"))),
        tags=_strings(props.get(_q(DIGIKAM, "TagsList"))),
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

