"""Face regions in rotated photos land where other tools put them: in files,
regions are fractions of the image as stored (before its EXIF orientation),
as the MWG guidelines, exiftool and digiKam have it, and the catalog's boxes
are of the upright photo. Checked for all eight orientations against
exiftool's own reading and Pillow's own turning of the pixels."""

import hashlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageOps
from standins import FaceAt, MeanColourEmbedder
from test_export_support import add_face, assign, exiftool_json, exiftool_write, needs_exiftool

from engine.catalog import Catalog, FaceSource, PhotoStatus
from engine.export.sidecars import SidecarStyle, photo_faces, sidecar_path, write_sidecar
from engine.people.importer import read_regions
from engine.scan import ScanOptions, scan_folder

ORIENTATIONS = range(1, 9)
STORED = (480, 320)  # the pixels as the file stores them
# The face, in fractions of the upright photo: far from every axis of symmetry,
# so a region turned the wrong way lands elsewhere.
FACE = (0.12, 0.18, 0.20, 0.22)
# Another region, where no face is detected.
ELSEWHERE = (0.62, 0.60, 0.15, 0.18)
# Pillow's transpose that undoes what EXIF orientation N asks a viewer to do.
_TO_STORED = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


def _upright_size(orientation: int) -> tuple[int, int]:
    return (STORED[1], STORED[0]) if orientation >= 5 else STORED


def _pixels(fractions: tuple[float, float, float, float], size: tuple[int, int]
            ) -> tuple[float, float, float, float]:
    x, y, w, h = fractions
    return (x * size[0], y * size[1], w * size[0], h * size[1])


def _with_orientation(image: Image.Image, orientation: int) -> Image.Image:
    exif = Image.Exif()
    exif[0x0112] = orientation
    image.info["exif"] = exif.tobytes()
    image.getexif()[0x0112] = orientation
    return image


def _stored_mask(upright_box: tuple[float, float, float, float], orientation: int) -> Image.Image:
    """A white box on black, drawn on the upright photo, as the file stores it."""
    upright = Image.new("L", _upright_size(orientation), 0)
    x, y, w, h = upright_box
    ImageDraw.Draw(upright).rectangle([x, y, x + w - 1, y + h - 1], fill=255)
    return upright.transpose(_TO_STORED[orientation]) if orientation in _TO_STORED else upright


def _bbox(mask: Image.Image) -> tuple[float, float, float, float]:
    """The box (x, y, w, h) of the white pixels, in fractions of the mask."""
    box = mask.getbbox()
    assert box is not None, "nothing drawn"
    left, top, right, bottom = box
    width, height = mask.size
    return (left / width, top / height, (right - left) / width, (bottom - top) / height)


def _stored_region(fractions: tuple[float, float, float, float], orientation: int
                   ) -> tuple[float, float, float, float]:
    """Where a box of the upright photo lies in the stored image, as an MWG
    centre and size, found by Pillow turning pixels: no code under test."""
    mask = _stored_mask(_pixels(fractions, _upright_size(orientation)), orientation)
    x, y, w, h = _bbox(mask)
    return (x + w / 2, y + h / 2, w, h)


def _as_upright(area: dict[str, float], orientation: int) -> tuple[float, float, float, float]:
    """An MWG area of the stored image drawn, then turned upright by Pillow
    exactly as a viewer shows the photo: (x, y, w, h) of the upright photo."""
    mask = Image.new("L", STORED, 0)
    cx, cy, w, h = area["X"] * STORED[0], area["Y"] * STORED[1], area["W"] * STORED[0], \
        area["H"] * STORED[1]
    ImageDraw.Draw(mask).rectangle(
        [round(cx - w / 2), round(cy - h / 2), round(cx + w / 2) - 1, round(cy + h / 2) - 1],
        fill=255,
    )
    return _bbox(ImageOps.exif_transpose(_with_orientation(mask, orientation)))


def _photo(folder: Path, orientation: int, name: str = "p.jpg") -> Path:
    """A photo stored STORED pixels large, shown turned by ``orientation``,
    with a bright face at FACE of the upright photo."""
    folder.mkdir(parents=True, exist_ok=True)
    upright = Image.new("RGB", _upright_size(orientation), (40, 60, 90))
    x, y, w, h = _pixels(FACE, upright.size)
    ImageDraw.Draw(upright).rectangle([x, y, x + w - 1, y + h - 1], fill=(230, 190, 160))
    stored = upright.transpose(_TO_STORED[orientation]) if orientation in _TO_STORED else upright
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = folder / name
    stored.save(path, "JPEG", quality=95, exif=exif.tobytes())
    with Image.open(path) as check:  # the photo shows its face where we said
        shown = np.asarray(ImageOps.exif_transpose(check).convert("L"))
    assert shown.shape[::-1] == _upright_size(orientation)
    assert _bbox(Image.fromarray((shown > 150).astype(np.uint8) * 255)) == pytest.approx(
        FACE, abs=0.01)
    return path


def _scan(catalog: Catalog, folder: Path) -> None:
    for _ in scan_folder(catalog, folder, ScanOptions(device="cpu", workers=1),
                         detector=FaceAt(FACE), embedder=MeanColourEmbedder()):
        pass


def _region_arg(name: str, region: tuple[float, float, float, float]) -> str:
    cx, cy, w, h = region
    return (f"{{Area={{X={cx:.6f},Y={cy:.6f},W={w:.6f},H={h:.6f},Unit=normalized}},"
            f"Name={name},Type=Face}}")


def _exiftool_regions(target: Path, photo: Path, *regions: tuple[str, tuple[float, ...]]
                      ) -> None:
    """Regions written by exiftool, in the stored frame with the stored size,
    into ``target`` (the photo itself, or a sidecar made from it)."""
    listed = ",".join(_region_arg(n, r) for n, r in regions)  # type: ignore[arg-type]
    value = (f"-RegionInfo={{AppliedToDimensions={{W={STORED[0]},H={STORED[1]},Unit=pixel}},"
             f"RegionList=[{listed}]}}")
    if target == photo:
        exiftool_write(photo, value)
    else:
        exiftool_write(photo, "-o", str(target), value)


def _catalog_photo(catalog: Catalog, folder: Path, relpath: str, orientation: int) -> int:
    path = folder / relpath
    stat = path.stat()
    width, height = _upright_size(orientation)
    return catalog.add_photo(
        catalog.root_id(folder), relpath.encode(), size=stat.st_size, mtime_ns=stat.st_mtime_ns,
        sha256=hashlib.sha256(path.read_bytes()).hexdigest(), width=width, height=height,
        status=PhotoStatus.OK, detector="yunet",
    )


@needs_exiftool
@pytest.mark.parametrize("orientation", ORIENTATIONS)
def test_exiftool_reads_our_regions_on_the_face_of_a_turned_photo(
    tmp_path: Path, orientation: int
) -> None:
    folder = tmp_path / "photos"
    photo = _photo(folder, orientation)
    with Catalog(tmp_path / "c.sqlite") as catalog:
        photo_id = _catalog_photo(catalog, folder, "p.jpg", orientation)
        face = add_face(catalog, photo_id, _pixels(FACE, _upright_size(orientation)))
        assign(catalog, face, "Ann Lee")
        target = sidecar_path(photo, SidecarStyle.FULL)
        assert write_sidecar(target, photo_faces(catalog, catalog.photo(photo_id)))
    seen = exiftool_json(target)
    info = seen["RegionInfo"]
    assert info["AppliedToDimensions"] == {"W": STORED[0], "H": STORED[1], "Unit": "pixel"}
    (region,) = info["RegionList"]
    assert region["Name"] == "Ann Lee"
    assert _as_upright(region["Area"], orientation) == pytest.approx(FACE, abs=0.01)

    # Windows' rectangle (top left corner and size) is of the stored image too.
    (mp,) = _exiftool_mp(target)
    assert mp["PersonDisplayName"] == "Ann Lee"
    x, y, w, h = (float(v) for v in mp["Rectangle"].split(","))
    area = {"X": x + w / 2, "Y": y + h / 2, "W": w, "H": h}
    assert _as_upright(area, orientation) == pytest.approx(FACE, abs=0.01)


def _exiftool_mp(path: Path) -> list[dict[str, str]]:
    import json
    import subprocess

    from test_export_support import EXIFTOOL

    out = subprocess.run([str(EXIFTOOL), "-j", "-struct", "-RegionInfoMP", str(path)],
                         check=True, capture_output=True, text=True)
    return list(json.loads(out.stdout)[0]["RegionInfoMP"]["Regions"])


@needs_exiftool
@pytest.mark.parametrize("embedded", [False, True], ids=["sidecar", "embedded"])
@pytest.mark.parametrize("orientation", ORIENTATIONS)
def test_regions_exiftool_wrote_name_the_detected_face_of_a_turned_photo(
    tmp_path: Path, orientation: int, embedded: bool
) -> None:
    folder = tmp_path / "photos"
    photo = _photo(folder, orientation)
    target = photo if embedded else folder / "p.jpg.xmp"
    _exiftool_regions(target, photo, ("Ann Lee", _stored_region(FACE, orientation)))
    with Catalog(tmp_path / "c.sqlite") as catalog:
        _scan(catalog, folder)
        (face,) = catalog.faces()  # no face added for the region: it is the detected one
        assert face.source is FaceSource.DETECTED
        assert face.assigned_by == "user"
        assert catalog.person(face.person_id or 0).name == "Ann Lee"


@needs_exiftool
@pytest.mark.parametrize("orientation", ORIENTATIONS)
def test_regions_come_back_from_an_import_and_an_export_as_they_were(
    tmp_path: Path, orientation: int
) -> None:
    folder = tmp_path / "photos"
    photo = _photo(folder, orientation)
    written = {"Ann Lee": _stored_region(FACE, orientation),
               "Bo Chen": _stored_region(ELSEWHERE, orientation)}
    source = folder / "p.jpg.xmp"
    _exiftool_regions(source, photo, *written.items())
    with Catalog(tmp_path / "c.sqlite") as catalog:
        _scan(catalog, folder)
        assert len(catalog.faces()) == 2  # the detected face, and Bo Chen's region
        source.unlink()  # the export writes a sidecar of its own
        target = sidecar_path(photo, SidecarStyle.STEM)
        (db_photo,) = catalog.photos()
        assert write_sidecar(target, photo_faces(catalog, db_photo))
    back = {r["Name"]: r["Area"] for r in exiftool_json(target)["RegionInfo"]["RegionList"]}
    assert set(back) == set(written)
    for name, (cx, cy, w, h) in written.items():
        area = back[name]
        assert (area["X"], area["Y"], area["W"], area["H"]) == pytest.approx(
            (cx, cy, w, h), abs=0.01)


@pytest.mark.parametrize("orientation", ORIENTATIONS)
def test_our_own_sidecar_reads_back_onto_the_same_upright_box(
    tmp_path: Path, orientation: int
) -> None:
    folder = tmp_path / "photos"
    photo = _photo(folder, orientation)
    with Catalog(tmp_path / "c.sqlite") as catalog:
        photo_id = _catalog_photo(catalog, folder, "p.jpg", orientation)
        size = _upright_size(orientation)
        box = _pixels(FACE, size)
        assign(catalog, add_face(catalog, photo_id, box), "Ann Lee")
        write_sidecar(folder / "p.jpg.xmp", photo_faces(catalog, catalog.photo(photo_id)))
    (region,) = read_regions(photo, size)
    assert region.box(size) == pytest.approx(box, abs=0.01 * max(size))


@needs_exiftool
@pytest.mark.parametrize("suffix", [".png", ".tif", ".heic"])
def test_regions_embedded_in_png_tiff_and_heic_are_read_in_the_stored_frame(
    tmp_path: Path, suffix: str
) -> None:
    orientation = 6
    photo = tmp_path / f"p{suffix}"
    stored = Image.new("RGB", STORED, (1, 2, 3))
    exif = Image.Exif()
    exif[0x0112] = orientation
    stored.save(photo, exif=exif.tobytes())
    _exiftool_regions(photo, photo, ("Cy Twombly", _stored_region(FACE, orientation)))
    size = _upright_size(orientation)
    (region,) = read_regions(photo, size)
    assert region.name == "Cy Twombly"
    assert region.box(size) == pytest.approx(_pixels(FACE, size), abs=0.01 * max(size))
