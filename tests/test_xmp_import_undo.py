"""Names found in other tools' metadata during a scan arrive as one operation:
one `facealbum undo` takes them all back, `redo` brings them again, and a scan
stopped at any moment neither loses nor doubles them."""

import json
from pathlib import Path

import pytest
from standins import FaceAt, MeanColourEmbedder
from test_export_support import make_photo

from engine import people
from engine.catalog import Catalog, FaceSource, PhotoStatus
from engine.cli.main import main
from engine.export.xmp import Region, merge_face_metadata
from engine.people.importer import MAX_REGIONS
from engine.progress import Progress
from engine.scan import ScanOptions, ScanSummary, scan_folder

SIZE = (640, 480)
# Where the stand-in detector finds the one face of every photo, as fractions.
FACE = (0.45, 0.10, 0.12, 0.20)
FACE_BOX = (FACE[0] * SIZE[0], FACE[1] * SIZE[1], FACE[2] * SIZE[0], FACE[3] * SIZE[1])
ELSEWHERE = (40.0, 300.0, 60.0, 80.0)  # no detected face there


def OneFaceDetector() -> FaceAt:
    """Finds one face at ``FACE`` in every image: the scan's logic without weights."""
    return FaceAt(FACE)




def _folder(tmp_path: Path, sidecars: dict[str, list[Region]]) -> Path:
    folder = tmp_path / "photos"
    for i, name in enumerate(["a.jpg", "b.jpg", "c.jpg"]):
        make_photo(folder / name, SIZE, (60 + 40 * i, 90, 120))
    for name, regions in sidecars.items():
        (folder / f"{name}.xmp").write_bytes(merge_face_metadata(None, regions, SIZE))
    return folder


def _scan(catalog: Catalog, folder: Path, stop_at: str | None = None) -> ScanSummary:
    """Scan with the stand-in models; ``stop_at`` abandons the scan at that stage,
    as a kill would: whatever was committed stays, nothing after it runs."""
    summary = ScanSummary()
    work = scan_folder(
        catalog, folder, ScanOptions(device="cpu", workers=1), summary=summary,
        detector=OneFaceDetector(), embedder=MeanColourEmbedder(),
    )
    for report in work:
        assert isinstance(report, Progress)
        if report.stage == stop_at:
            work.close()
            break
    return summary


def _named_faces(catalog: Catalog) -> dict[str, list[str]]:
    """Each named person's faces, as the photo each face is in."""
    out: dict[str, list[str]] = {}
    for face in catalog.faces():
        if face.person_id is None:
            continue
        name = catalog.person(face.person_id).name
        if name is not None:
            out.setdefault(name, []).append(catalog.photo(face.photo_id).display_path)
    return {k: sorted(v) for k, v in sorted(out.items())}


def _cli(capsys: pytest.CaptureFixture[str], catalog: Path, *args: str) -> str:
    capsys.readouterr()
    assert main(["--catalog", str(catalog), *args]) == 0
    return capsys.readouterr().out


NAMED = {"Ann Lee": ["a.jpg", "b.jpg"], "Bo Chen": ["a.jpg"]}


def _sidecars() -> dict[str, list[Region]]:
    return {
        "a.jpg": [Region.from_box("Ann Lee", FACE_BOX, SIZE),
                  Region.from_box("Bo Chen", ELSEWHERE, SIZE)],
        "b.jpg": [Region.from_box("Ann Lee", FACE_BOX, SIZE)],
    }


def test_one_undo_takes_back_every_name_a_scan_imported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _folder(tmp_path, _sidecars())
    path = tmp_path / "c.sqlite"
    with Catalog(path) as catalog:
        _scan(catalog, folder)
        assert _named_faces(catalog) == NAMED

    history = json.loads(_cli(capsys, path, "history", "--json"))
    assert len(history) == 1
    assert history[0]["summary"] == "Imported 3 names from 2 photos' metadata"

    _cli(capsys, path, "undo")
    with Catalog(path) as catalog:
        assert _named_faces(catalog) == {}
        assert [p.name for p in catalog.persons() if p.name] == []
        # The region that matched no detected face stays a face, in no one.
        (added,) = [f for f in catalog.faces() if f.source is FaceSource.XMP]
        assert added.person_id is None and added.assigned_by is None

    _cli(capsys, path, "redo")
    with Catalog(path) as catalog:
        assert _named_faces(catalog) == NAMED


def test_undoing_an_import_keeps_the_names_the_user_gave_before(tmp_path: Path) -> None:
    folder = _folder(tmp_path, {})
    with Catalog(tmp_path / "c.sqlite") as catalog:
        _scan(catalog, folder)
        face_a = next(f.id for f in catalog.faces() if catalog.photo(f.photo_id).display_path
                      == "a.jpg")
        people.name_person(catalog, people.split_faces(catalog, [face_a]), "Ann Lee")
        (folder / "b.jpg.xmp").write_bytes(
            merge_face_metadata(None, [Region.from_box("Ann Lee", FACE_BOX, SIZE)], SIZE)
        )
        make_photo(folder / "b.jpg", SIZE, (1, 2, 3))  # edited: scanned again
        _scan(catalog, folder)
        assert _named_faces(catalog) == {"Ann Lee": ["a.jpg", "b.jpg"]}
        assert len(people.history(catalog)) == 3

        people.undo(catalog)
        assert _named_faces(catalog) == {"Ann Lee": ["a.jpg"]}


def test_a_scan_stopped_before_its_import_imports_on_the_next_scan_once(tmp_path: Path) -> None:
    folder = _folder(tmp_path, _sidecars())
    with Catalog(tmp_path / "c.sqlite") as catalog:
        _scan(catalog, folder, stop_at="importing")
        assert len(catalog.photos(status=PhotoStatus.OK)) == 3  # committed...
        assert _named_faces(catalog) == {}  # ...but not yet imported
        assert people.history(catalog) == []

        again = _scan(catalog, folder)
        assert again.scanned == 0  # nothing read again, and still the names arrive
        assert _named_faces(catalog) == NAMED
        assert len(people.history(catalog)) == 1

        _scan(catalog, folder)
        assert _named_faces(catalog) == NAMED
        assert len(people.history(catalog)) == 1
        assert sorted(p.name or "" for p in catalog.persons()) == ["Ann Lee", "Bo Chen"]


def test_a_sidecar_with_absurdly_many_regions_is_a_problem_not_a_crowd(tmp_path: Path) -> None:
    crowd = [Region(f"Person {i}", 0.5, 0.5, 0.01, 0.01) for i in range(20_000)]
    assert len(crowd) > MAX_REGIONS
    folder = _folder(tmp_path, {"b.jpg": crowd})
    with Catalog(tmp_path / "c.sqlite") as catalog:
        summary = _scan(catalog, folder)
        assert catalog.persons() == []
        assert people.history(catalog) == []
        photos = catalog.photos(status=PhotoStatus.OK)
        assert sorted(p.display_path for p in photos) == ["a.jpg", "b.jpg", "c.jpg"]
        assert all(len(catalog.faces(photo_id=p.id)) == 1 for p in photos)
    ((where, why),) = summary.problem_list
    assert where == "b.jpg"
    # 20,000 regions make a sidecar larger than any real one: refused unread.
    assert "b.jpg.xmp" in why and "not read" in why


def test_a_sidecar_written_after_the_scan_is_read_by_the_next_scan(tmp_path: Path) -> None:
    """Names another tool writes beside photos already scanned arrive with the
    next scan, without the photos being analysed again, and only once."""
    folder = _folder(tmp_path, {})
    with Catalog(tmp_path / "c.sqlite") as catalog:
        _scan(catalog, folder)
        assert _named_faces(catalog) == {}
        (folder / "a.jpg.xmp").write_bytes(
            merge_face_metadata(None, [Region.from_box("Ann", FACE_BOX, SIZE)], SIZE)
        )
        (folder / "b.xmp").write_bytes(  # the photo.xmp convention
            merge_face_metadata(None, [Region.from_box("Ben", FACE_BOX, SIZE)], SIZE)
        )
        summary = _scan(catalog, folder)
        assert (summary.scanned, summary.unchanged) == (0, 3)  # no photo analysed again
        assert summary.imported_names == 2
        assert _named_faces(catalog) == {"Ann": ["a.jpg"], "Ben": ["b.jpg"]}

        # The user takes Ann's name back: the sidecar, unchanged, does not bring it again.
        main(["--catalog", str(tmp_path / "c.sqlite"), "undo"])
        assert _named_faces(catalog) == {}
        again = _scan(catalog, folder)
        assert again.imported_names == 0
        assert _named_faces(catalog) == {}
