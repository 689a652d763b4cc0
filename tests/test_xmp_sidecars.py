"""Our XMP sidecars as exiftool, a real reader, sees them: regions and names match
the catalog, and every field another tool wrote survives our writes."""

import json
import shutil
from pathlib import Path

import pytest
from test_export_support import (
    Shot,
    build,
    exiftool_json,
    exiftool_write,
    needs_exiftool,
)

from engine.catalog import Catalog
from engine.cli.main import main
from engine.export.albums import ExportOptions, ExportReport, export_albums
from engine.export.errors import ExportError, XmpError
from engine.export.sidecars import (
    SidecarReport,
    SidecarStyle,
    photo_faces,
    sidecar_path,
    write_beside_originals,
    write_sidecar,
)
from engine.people import name_person

ANN, BOB = "Ann Lee", "Bob Marsh"
GROUP = Shot(
    "group.jpg",
    [((40, 60, 80, 100), ANN), ((300, 50, 70, 90), BOB), ((500, 300, 40, 40), None)],
    size=(640, 480),
)


def _photo(catalog: Catalog, name: str = "group.jpg"):  # type: ignore[no-untyped-def]
    return next(p for p in catalog.photos() if p.display_path == name)


def _write(catalog: Catalog, target: Path, name: str = "group.jpg") -> bool:
    return write_sidecar(target, photo_faces(catalog, _photo(catalog, name)))


@needs_exiftool
def test_exiftool_reads_the_regions_and_names_the_catalog_holds(tmp_path: Path) -> None:
    catalog, folder = build(tmp_path, [GROUP])
    target = folder / "group.jpg.xmp"
    assert _write(catalog, target)
    seen = exiftool_json(target)
    info = seen["RegionInfo"]
    assert info["AppliedToDimensions"] == {"W": 640, "H": 480, "Unit": "pixel"}
    regions = {r["Name"]: r for r in info["RegionList"]}
    assert set(regions) == {ANN, BOB}  # the unnamed face is not written
    photo = _photo(catalog)
    for face in catalog.faces(photo_id=photo.id):
        if face.person_id is None:
            continue
        x, y, w, h = face.box
        area = regions[catalog.person(face.person_id).name]["Area"]
        assert regions[catalog.person(face.person_id).name]["Type"] == "Face"
        assert area["Unit"] == "normalized"
        assert area["X"] == pytest.approx((x + w / 2) / 640, abs=1e-5)
        assert area["Y"] == pytest.approx((y + h / 2) / 480, abs=1e-5)
        assert area["W"] == pytest.approx(w / 640, abs=1e-5)
        assert area["H"] == pytest.approx(h / 480, abs=1e-5)
    assert sorted(seen["PersonInImage"]) == [ANN, BOB]
    assert sorted(seen["TagsList"]) == [f"People/{ANN}", f"People/{BOB}"]


@needs_exiftool
def test_a_face_cut_by_the_photo_s_edges_is_written_as_the_part_inside_the_photo(
    tmp_path: Path,
) -> None:
    # A face filling the frame is found on a padded copy: its box runs past
    # the photo's edges. Other tools read regions as parts of the photo.
    cut = Shot("cut.jpg", [((-20, -10, 100, 120), ANN), ((600, 400, 80, 100), BOB)],
               size=(640, 480))
    catalog, folder = build(tmp_path, [cut])
    target = folder / "cut.jpg.xmp"
    assert _write(catalog, target, "cut.jpg")
    regions = {r["Name"]: r["Area"] for r in exiftool_json(target)["RegionInfo"]["RegionList"]}
    assert regions[ANN]["X"] == pytest.approx(40 / 640, abs=1e-5)
    assert regions[ANN]["Y"] == pytest.approx(55 / 480, abs=1e-5)
    assert regions[ANN]["W"] == pytest.approx(80 / 640, abs=1e-5)
    assert regions[ANN]["H"] == pytest.approx(110 / 480, abs=1e-5)
    assert regions[BOB]["X"] == pytest.approx(620 / 640, abs=1e-5)
    assert regions[BOB]["Y"] == pytest.approx(440 / 480, abs=1e-5)
    assert regions[BOB]["W"] == pytest.approx(40 / 640, abs=1e-5)
    assert regions[BOB]["H"] == pytest.approx(80 / 480, abs=1e-5)


@needs_exiftool
def test_a_sidecar_with_foreign_fields_keeps_them_after_our_write(tmp_path: Path) -> None:
    catalog, folder = build(tmp_path, [GROUP])
    target = folder / "group.jpg.xmp"
    exiftool_write(
        folder / "group.jpg", "-o", str(target),
        "-XMP-dc:Subject=holiday", "-XMP-xmp:Rating=4", "-XMP-xmp:Label=Red",
        "-XMP-digiKam:TagsList=Places/Paris",
        "-RegionInfo={AppliedToDimensions={W=640,H=480,Unit=pixel},RegionList=["
        "{Area={X=0.9,Y=0.9,W=0.1,H=0.1,Unit=normalized},Name=Rex,Type=Pet},"
        "{Area={X=0.1,Y=0.9,W=0.05,H=0.05,Unit=normalized},Name=Carla Diaz,Type=Face}]}",
        "-XMP-iptcExt:PersonInImage=Carla Diaz",
    )
    assert _write(catalog, target)
    seen = exiftool_json(target)
    assert seen["Subject"] == ["holiday", ANN, BOB]  # names are keywords too
    assert seen["Rating"] == 4
    assert seen["Label"] == "Red"
    names = {r["Name"]: r["Type"] for r in seen["RegionInfo"]["RegionList"]}
    assert names == {"Rex": "Pet", "Carla Diaz": "Face", ANN: "Face", BOB: "Face"}
    assert sorted(seen["PersonInImage"]) == sorted(["Carla Diaz", ANN, BOB])
    assert sorted(seen["TagsList"]) == sorted(["Places/Paris", f"People/{ANN}", f"People/{BOB}"])


@needs_exiftool
def test_a_renamed_person_replaces_the_old_name_on_the_same_face(tmp_path: Path) -> None:
    catalog, folder = build(tmp_path, [GROUP])
    target = folder / "group.jpg.xmp"
    _write(catalog, target)
    bob = next(p.id for p in catalog.persons() if p.name == BOB)
    name_person(catalog, bob, "Robert Marsh")
    assert _write(catalog, target)
    seen = exiftool_json(target)
    assert sorted(r["Name"] for r in seen["RegionInfo"]["RegionList"]) == [ANN, "Robert Marsh"]
    assert sorted(seen["PersonInImage"]) == [ANN, "Robert Marsh"]
    assert f"People/{BOB}" not in seen["TagsList"]


def test_writing_the_same_faces_again_leaves_the_file_untouched(tmp_path: Path) -> None:
    catalog, folder = build(tmp_path, [GROUP])
    target = folder / "group.jpg.xmp"
    assert _write(catalog, target)
    stat = target.stat()
    assert not _write(catalog, target)
    assert (target.stat().st_mtime_ns, target.stat().st_ino) == (stat.st_mtime_ns, stat.st_ino)


@pytest.mark.parametrize("garbage", [b"<x:xmpmeta><rdf:RDF", b"\x00\xffnot xml", b"<a/>"])
def test_an_unreadable_sidecar_is_never_overwritten(tmp_path: Path, garbage: bytes) -> None:
    catalog, folder = build(tmp_path, [GROUP])
    target = folder / "group.jpg.xmp"
    target.write_bytes(garbage)
    with pytest.raises(XmpError, match=r"group\.jpg\.xmp"):
        _write(catalog, target)
    assert target.read_bytes() == garbage
    assert sorted(p.name for p in folder.iterdir()) == ["group.jpg", "group.jpg.xmp"]


@needs_exiftool
def test_a_name_with_control_characters_still_gives_valid_xmp(tmp_path: Path) -> None:
    shot = Shot("p.jpg", [((10, 10, 60, 60), "Eve\x00\x1b[31m <b>&amp;</b>")])
    catalog, folder = build(tmp_path, [shot])
    target = folder / "p.jpg.xmp"
    _write(catalog, target, "p.jpg")
    seen = exiftool_json(target)
    assert seen["RegionInfo"]["RegionList"][0]["Name"] == "Eve[31m <b>&amp;</b>"


@needs_exiftool
@pytest.mark.parametrize("style", list(SidecarStyle))
def test_sidecars_beside_the_originals_follow_the_chosen_convention(
    tmp_path: Path, style: SidecarStyle
) -> None:
    catalog, folder = build(tmp_path, [GROUP, Shot("empty.jpg")])
    report = SidecarReport()
    for _ in write_beside_originals(catalog, style, report=report):
        pass
    expected = folder / ("group.jpg.xmp" if style is SidecarStyle.FULL else "group.xmp")
    assert report.written == [str(expected)]
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        ["group.jpg", "empty.jpg", expected.name]
    )
    assert sorted(exiftool_json(expected)["PersonInImage"]) == [ANN, BOB]
    assert sidecar_path(folder / "group.jpg", style) == expected


@needs_exiftool
def test_exported_copies_get_sidecars_naming_everyone_in_the_photo(tmp_path: Path) -> None:
    catalog, _ = build(tmp_path, [GROUP])
    dest = tmp_path / "out"
    report = ExportReport()
    for _ in export_albums(catalog, ExportOptions(dest=dest, xmp=True), report=report):
        pass
    for person in (ANN, BOB):
        seen = exiftool_json(dest / person / "group.jpg.xmp")
        assert sorted(seen["PersonInImage"]) == [ANN, BOB]
    assert report.sidecars_written == 2


@needs_exiftool
def test_cli_xmp_writes_beside_originals_only_when_asked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    catalog, folder = build(tmp_path, [GROUP])
    catalog.close()
    shutil.copy(folder / "group.jpg", tmp_path / "untouched.jpg")
    args = ["--catalog", str(tmp_path / "catalog.sqlite"), "xmp", "--sidecar-name",
            "photo.xmp", "--json"]
    assert main([*args, "--dry-run"]) == 0
    assert json.loads(capsys.readouterr().out)["written"] == [str(folder / "group.xmp")]
    assert not (folder / "group.xmp").exists()
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out)["written"] == [str(folder / "group.xmp")]
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out)["unchanged"] == 1
    assert (folder / "group.jpg").read_bytes() == (tmp_path / "untouched.jpg").read_bytes()


def test_a_failed_write_leaves_the_old_sidecar_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    catalog, folder = build(tmp_path, [GROUP])
    target = folder / "group.jpg.xmp"
    _write(catalog, target)
    old = target.read_bytes()
    bob = next(p.id for p in catalog.persons() if p.name == BOB)
    name_person(catalog, bob, "Robert Marsh")

    def disk_full(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("os.replace", disk_full)
    with pytest.raises(ExportError, match="No space left"):
        _write(catalog, target)
    assert target.read_bytes() == old
    assert sorted(p.name for p in folder.iterdir()) == ["group.jpg", "group.jpg.xmp"]
