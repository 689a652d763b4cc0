"""Helpers shared by the export and XMP tests: tiny real photos in a real
catalog, people named through the people module. Holds no tests itself."""

import hashlib
import json
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image

from engine.catalog import Catalog, PhotoStatus
from engine.people import confirm_faces, name_person, split_faces

EXIFTOOL = shutil.which("exiftool")
needs_exiftool = pytest.mark.skipif(
    EXIFTOOL is None,
    reason="exiftool not found: install Debian's libimage-exiftool-perl (.ci/run does)",
)

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class Shot:
    """A photo to make: file name, size, colour, and its faces as (box, person name)."""

    name: str
    faces: Sequence[tuple[Box, str | None]] = ()
    size: tuple[int, int] = (320, 240)
    colour: tuple[int, int, int] = (90, 120, 150)


def make_photo(path: Path, size: tuple[int, int], colour: tuple[int, int, int]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).save(path, "JPEG", quality=90)
    return path


def add_photo(catalog: Catalog, folder: Path, relpath: str) -> int:
    """Record an existing file of ``folder`` in the catalog, as a scan would."""
    path = folder / relpath
    with Image.open(path) as image:
        width, height = image.size
    stat = path.stat()
    return catalog.add_photo(
        catalog.root_id(folder), relpath.encode(), size=stat.st_size, mtime_ns=stat.st_mtime_ns,
        sha256=hashlib.sha256(path.read_bytes()).hexdigest(), width=width, height=height,
        status=PhotoStatus.OK, detector="yunet",
    )


def add_face(catalog: Catalog, photo_id: int, box: Box) -> int:
    return catalog.add_face(photo_id, box, None, score=0.9, quality=0.8, sharpness=50.0,
                            detector="yunet")


def assign(catalog: Catalog, face_id: int, name: str) -> int:
    """Confirm the face as the person called ``name``, created on first use."""
    for p in catalog.persons():
        if p.name == name:
            confirm_faces(catalog, [face_id], p.id)
            return p.id
    person_id = split_faces(catalog, [face_id])
    name_person(catalog, person_id, name)
    return person_id


def build(tmp_path: Path, shots: Sequence[Shot]) -> tuple[Catalog, Path]:
    """A catalog of ``shots`` in ``tmp_path/photos``, faces confirmed as their people."""
    folder = tmp_path / "photos"
    catalog = Catalog(tmp_path / "catalog.sqlite")
    for shot in shots:
        make_photo(folder / shot.name, shot.size, shot.colour)
        photo_id = add_photo(catalog, folder, shot.name)
        for box, name in shot.faces:
            face_id = add_face(catalog, photo_id, box)
            if name is not None:
                assign(catalog, face_id, name)
    return catalog, folder


def exiftool_json(path: Path) -> dict[str, object]:
    """What exiftool, a real XMP reader, sees in ``path``."""
    out = subprocess.run(
        [str(EXIFTOOL), "-j", "-struct", "-RegionInfo", "-PersonInImage", "-TagsList",
         "-Subject", "-Rating", "-Label", str(path)],
        check=True, capture_output=True, text=True,
    )
    return dict(json.loads(out.stdout)[0])


def exiftool_write(path: Path, *assignments: str) -> None:
    subprocess.run([str(EXIFTOOL), "-q", "-overwrite_original", *assignments, str(path)],
                   check=True, capture_output=True)


def files_under(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*")) if p.is_file()
    }
