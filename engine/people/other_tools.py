"""Face data that photo tools other than XMP writers left beside the photos.

Picasa keeps the faces of a folder's photos in that folder's ``.picasa.ini``
(or ``Picasa.ini``): a section per photo with ``faces=rect64(HEX),CONTACT;...``,
where the 16 hex digits are four 16-bit fractions of the *stored* image (left,
top, right, bottom) and the contact is an id that the same file's
``[Contacts2]`` section (``ID=Name;email;``) or Picasa's ``contacts.xml``
(``<contact id="ID" name="Name"/>``, looked for in the photo's folder and the
folders above it) turns into a name. Google Takeout puts a JSON file beside
each photo (``photo.jpg.json``, ``photo.jpg.supplemental-metadata.json``, or
a name Takeout cut short) whose ``"people": [{"name": ...}]`` says who is in
the photo, without boxes.

These files are untrusted input read during a scan: only regular files are
read, each at most ``MAX_FILE_BYTES``, XML only through ``defusedxml``, and
nothing here raises for a damaged, hostile or missing file: it then holds no
faces. This module only reads: it never writes a file, never touches the
catalog, and never turns a region to the upright photo (the importer does).
"""

import functools
import json
import os
import re
import threading
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from xml.etree.ElementTree import ParseError

import defusedxml.ElementTree as SafeET

from engine.export.xmp import Region
from engine.imageio import open_regular

__all__ = ["MAX_FILE_BYTES", "picasa_regions", "takeout_names"]

# A .picasa.ini holds about a hundred bytes per photo of its folder, a
# contacts.xml about a hundred per contact, a Takeout JSON file about one kB.
# Beyond this a file is broken or hostile, and is not read.
MAX_FILE_BYTES = 8 * 1024 * 1024
# More names than any real photo lists, from Takeout's JSON or one Picasa section.
MAX_NAMES = 500
# A contacts.xml holds a few elements per contact; a hostile one is stopped
# at this many, before it costs memory (depth alone cannot: every element
# is cleared once read).
MAX_CONTACT_ELEMENTS = 200_000
# How many folders above a photo may hold Picasa's contacts.xml.
CONTACTS_LEVELS = 4

_PICASA_FILES = (".picasa.ini", "Picasa.ini", ".Picasa.ini", "picasa.ini")
_RECT64 = re.compile(r"rect64\(\s*([0-9a-fA-F]{1,16})\s*\)")
_NO_CONTACT = "ffffffffffffffff"  # Picasa's "a face, nobody in particular"
_TAKEOUT_LONGEST = 51  # Takeout cuts a JSON file's name to this many characters


@dataclass(frozen=True)
class _PicasaFolder:
    faces: dict[str, str]  # file name (casefolded) -> its faces= value
    contacts: dict[str, str]  # contact id (lower case) -> name


def picasa_regions(photo_path: str | os.PathLike[str]) -> list[Region]:
    """The faces Picasa stored for ``photo_path``, as regions of the stored
    image (named when the contact's name is known); [] when there are none."""
    path = Path(photo_path)
    folder = _picasa_folder(path.parent)
    if folder is None:
        return []
    value = folder.faces.get(path.name.casefold())
    if not value:
        return []
    contacts: dict[str, str] | None = None
    regions: list[Region] = []
    for part in value.split(";")[:MAX_NAMES + 1]:
        rect, _, contact = part.partition(",")
        match = _RECT64.search(rect)
        if match is None:
            continue
        bits = int(match[1], 16)
        left, top, right, bottom = ((bits >> shift) & 0xFFFF for shift in (48, 32, 16, 0))
        if right <= left or bottom <= top:
            continue
        contact = contact.strip().lower()
        name = folder.contacts.get(contact)
        if name is None and contact and contact != _NO_CONTACT:
            if contacts is None:
                contacts = _contacts_xml(path.parent)
            name = contacts.get(contact)
        regions.append(Region(
            name=name or None,
            cx=(left + right) / 2 / 65535, cy=(top + bottom) / 2 / 65535,
            w=(right - left) / 65535, h=(bottom - top) / 65535,
        ))
    return regions


def takeout_names(photo_path: str | os.PathLike[str]) -> list[str]:
    """The names Google Takeout's JSON beside ``photo_path`` lists under
    ``people``; [] when there is no such file or it says nothing usable."""
    path = Path(photo_path)
    for candidate in _takeout_candidates(path):
        data = _read_small(candidate)
        if data is None:
            continue
        try:
            document = json.loads(data)
        except (ValueError, RecursionError):
            continue
        if not isinstance(document, dict):
            continue
        people = document.get("people")
        if not isinstance(people, list):
            return []
        names = [
            " ".join(p["name"].split()) for p in people[:MAX_NAMES]
            if isinstance(p, dict) and isinstance(p.get("name"), str) and p["name"].strip()
        ]
        return list(dict.fromkeys(names))
    return []


# -- private ---------------------------------------------------------------------


def _takeout_candidates(path: Path) -> list[Path]:
    names = [
        path.name + ".supplemental-metadata.json",
        path.name + ".json",
        # Takeout cuts long names: "photo.jpg.supplemental-metad.json" and the like.
        (path.name + ".supplemental-metadata")[:_TAKEOUT_LONGEST - len(".json")] + ".json",
        path.stem + ".json",
    ]
    return [path.with_name(n) for n in dict.fromkeys(names) if n != path.name]


def _read_small(path: Path) -> bytes | None:
    """The bytes of the regular file at ``path`` when it holds at most
    ``MAX_FILE_BYTES``; None otherwise (missing, special, too large, unreadable)."""
    try:
        with open_regular(path) as handle:
            if os.fstat(handle.fileno()).st_size > MAX_FILE_BYTES:
                return None
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError:
        return None
    return data if len(data) <= MAX_FILE_BYTES else None


def _signature(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def _picasa_folder(folder: Path) -> _PicasaFolder | None:
    """The folder's Picasa file, parsed (once per version of the file: a scan
    asks for every photo of the folder)."""
    for name in _PICASA_FILES:
        candidate = folder / name
        signature = _signature(candidate)
        if signature is not None:
            return _parsed_picasa(str(candidate), signature)
    return None


_cache_lock = threading.Lock()


@functools.lru_cache(maxsize=16)
def _parsed_picasa_cached(path: str, signature: tuple[int, int, int]) -> _PicasaFolder | None:
    data = _read_small(Path(path))
    if data is None:
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")  # what older Picasa wrote on Windows
    faces: dict[str, str] = {}
    contacts: dict[str, str] = {}
    section = ""
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip()
            continue
        key, sep, value = line.partition("=")
        if not sep:
            continue
        if section.casefold() == "contacts2":
            name = value.split(";", 1)[0].strip()
            if name:
                contacts[key.strip().lower()] = name
        elif key.strip() == "faces" and section:
            faces[section.casefold()] = value.strip()
    return _PicasaFolder(faces=faces, contacts=contacts)


def _parsed_picasa(path: str, signature: tuple[int, int, int]) -> _PicasaFolder | None:
    with _cache_lock:  # one parse per file, whichever reading thread asks first
        return _parsed_picasa_cached(path, signature)


def _contacts_xml(folder: Path) -> dict[str, str]:
    """Picasa's contacts (id -> name) from the first contacts.xml in ``folder``
    or up to ``CONTACTS_LEVELS`` folders above it; {} when there is none."""
    for level, candidate in enumerate([folder, *folder.parents]):
        if level > CONTACTS_LEVELS:
            break
        path = candidate / "contacts.xml"
        signature = _signature(path)
        if signature is not None:
            return _parsed_contacts(str(path), signature)
    return {}


@functools.lru_cache(maxsize=4)
def _parsed_contacts_cached(path: str, signature: tuple[int, int, int]) -> dict[str, str]:
    data = _read_small(Path(path))
    if data is None:
        return {}
    contacts: dict[str, str] = {}
    elements = 0
    try:
        for _, element in SafeET.iterparse(BytesIO(data), events=("end",)):
            elements += 1
            if elements > MAX_CONTACT_ELEMENTS:
                return {}  # no real contact list holds this much: hostile
            if element.tag == "contact":
                contact_id = element.get("id")
                name = element.get("name") or element.get("display")
                if contact_id and name and name.strip():
                    contacts[contact_id.strip().lower()] = " ".join(name.split())
            element.clear()
    except (ParseError, ValueError, SafeET.DTDForbidden, SafeET.EntitiesForbidden,
            SafeET.ExternalReferenceForbidden):
        return {}
    return contacts


def _parsed_contacts(path: str, signature: tuple[int, int, int]) -> dict[str, str]:
    with _cache_lock:
        return _parsed_contacts_cached(path, signature)
