"""The full round trip: name people, export albums with XMP, scan the export into
a fresh catalog, and find every name back on the right face."""

import shutil
from collections import Counter
from pathlib import Path

import pytest
from test_export_support import assign

from engine.catalog import Catalog
from engine.export.albums import ExportOptions, ExportReport, export_albums
from engine.scan import ScanOptions, scan_folder

pytestmark = pytest.mark.slow  # every test here runs the real detector and embedder

DEMO = Path(__file__).resolve().parent.parent / "resources" / "demo"
PHOTOS = ["obama_1.jpg", "chirac_1.jpg", "paul_rudd_1.jpg", "group_apollo11_crew.jpg"]
TOLERANCE = 0.005  # of the image's width or height


def _scan(catalog: Catalog, folder: Path) -> None:
    import torch

    torch.set_num_threads(1)
    for _ in scan_folder(catalog, folder, ScanOptions(device="cpu", workers=1)):
        pass


def _named_faces(catalog: Catalog) -> dict[str, list[tuple[str, tuple[float, ...], str]]]:
    """name -> [(photo sha256, box as fractions of the photo, face source)]."""
    out: dict[str, list[tuple[str, tuple[float, ...], str]]] = {}
    for photo in catalog.photos():
        for face in catalog.faces(photo_id=photo.id):
            if face.person_id is None or face.assigned_by != "user":
                continue
            name = catalog.person(face.person_id).name or ""
            x, y, w, h = face.box
            width, height = photo.width or 1, photo.height or 1
            box = (x / width, y / height, w / width, h / height)
            out.setdefault(name, []).append((photo.sha256 or "", box, face.source))
    return out


def test_names_survive_export_with_xmp_and_a_scan_into_a_fresh_catalog(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in PHOTOS:
        shutil.copy(DEMO / name, folder / name)
    with Catalog(tmp_path / "first.sqlite") as first:
        _scan(first, folder)
        by_name = {p.display_path: p for p in first.photos()}
        for file, person in [("obama_1.jpg", "Barack Obama"), ("chirac_1.jpg", "Jacques Chirac"),
                             ("paul_rudd_1.jpg", "Paul Rudd")]:
            (face,) = first.faces(photo_id=by_name[file].id)
            assign(first, face.id, person)
        crew = sorted(first.faces(photo_id=by_name["group_apollo11_crew.jpg"].id),
                      key=lambda f: f.box[0])
        assert len(crew) == 3, "the detector should find the three astronauts"
        for face, person in zip(crew, ["Neil Armstrong", "Michael Collins", "Buzz Aldrin"],
                                strict=True):
            assign(first, face.id, person)
        # A face the detector cannot see (a drawn box on the wall) travels as a region.
        group = by_name["group_apollo11_crew.jpg"]
        drawn = first.add_face(group.id, (10, 10, 40, 40), None, score=1.0, quality=0.0,
                               sharpness=0.0, detector="manual", source="manual")
        assign(first, drawn, "Drawn Face")
        report = ExportReport()
        for _ in export_albums(first, ExportOptions(dest=tmp_path / "out", xmp=True),
                               report=report):
            pass
        assert not report.problems
        before = _named_faces(first)
        copies_of = Counter(first.photo(item.photo_id).sha256 for item in report.items)

    with Catalog(tmp_path / "second.sqlite") as second:
        _scan(second, tmp_path / "out")
        after = _named_faces(second)

    assert set(after) == set(before)
    for name, faces in before.items():
        ((sha, box, _),) = faces
        copies = [f for f in after[name] if f[0] == sha]
        # Every album holding the photo has a copy, and each copy names this face.
        assert len(copies) == len(after[name]) == copies_of[sha]
        for _, restored, _ in copies:
            assert restored == pytest.approx(box, abs=TOLERANCE), name
    assert {f[2] for f in after["Drawn Face"]} == {"xmp"}
    assert {f[2] for f in after["Buzz Aldrin"]} == {"detected"}

