"""Exported albums: one folder per person, nothing overwritten, reruns add only what is new."""

import csv
import json
import os
from pathlib import Path

import pytest
from test_export_support import Shot, add_face, add_photo, build, files_under, make_photo

from engine.catalog import Catalog
from engine.cli.main import main
from engine.export.albums import (
    Action,
    ExportOptions,
    ExportReport,
    LinkMode,
    ManifestFormat,
    export_albums,
)
from engine.export.errors import ExportError
from engine.people import merge_people
from engine.progress import CancelToken

ANN, BOB = "Ann Lee", "Bob Marsh"
SHOTS = [
    Shot("ann1.jpg", [((20, 30, 60, 60), ANN)], colour=(10, 20, 30)),
    Shot("ann2.jpg", [((100, 40, 50, 50), ANN)], colour=(40, 50, 60)),
    Shot("both.jpg", [((20, 30, 60, 60), ANN), ((200, 40, 60, 60), BOB)], colour=(70, 80, 90)),
    Shot("nobody.jpg", [((50, 50, 40, 40), None)], colour=(100, 110, 120)),
]


def _export(catalog: Catalog, dest: Path, **options: object) -> ExportReport:
    report = ExportReport()
    for _ in export_albums(catalog, ExportOptions(dest=dest, **options), report=report):  # type: ignore[arg-type]
        pass
    return report


def test_export_makes_one_folder_per_named_person_with_their_photos(tmp_path: Path) -> None:
    catalog, folder = build(tmp_path, SHOTS)
    report = _export(catalog, tmp_path / "out")
    files = files_under(tmp_path / "out")
    assert sorted(files) == [
        f"{ANN}/ann1.jpg", f"{ANN}/ann2.jpg", f"{ANN}/both.jpg", f"{BOB}/both.jpg"
    ]
    assert files[f"{BOB}/both.jpg"] == (folder / "both.jpg").read_bytes()
    assert report.count(Action.ADDED) == 4
    assert not report.problems


def test_unnamed_people_are_exported_only_on_request(tmp_path: Path) -> None:
    catalog, _ = build(tmp_path, SHOTS)
    photo = next(p for p in catalog.photos() if p.display_path == "nobody.jpg")
    face = catalog.faces(photo_id=photo.id)[0]
    from engine.people import split_faces

    unnamed = split_faces(catalog, [face.id])
    _export(catalog, tmp_path / "named")
    assert not any("Unnamed" in name for name in files_under(tmp_path / "named"))
    _export(catalog, tmp_path / "all", include_unnamed=True)
    assert f"Unnamed {unnamed}/nobody.jpg" in files_under(tmp_path / "all")
    _export(catalog, tmp_path / "asked", people=(str(unnamed),))
    assert list(files_under(tmp_path / "asked")) == [f"Unnamed {unnamed}/nobody.jpg"]


def test_people_are_chosen_by_id_or_name(tmp_path: Path) -> None:
    catalog, _ = build(tmp_path, SHOTS)
    bob = next(p.id for p in catalog.persons() if p.name == BOB)
    _export(catalog, tmp_path / "by-name", people=(ANN,))
    assert {n.split("/")[0] for n in files_under(tmp_path / "by-name")} == {ANN}
    _export(catalog, tmp_path / "by-id", people=(str(bob),))
    assert list(files_under(tmp_path / "by-id")) == [f"{BOB}/both.jpg"]


def test_unknown_person_is_a_clear_error_and_writes_nothing(tmp_path: Path) -> None:
    catalog, _ = build(tmp_path, SHOTS)
    with pytest.raises(ExportError, match="no person is called"):
        _export(catalog, tmp_path / "out", people=("Nobody Here",))
    with pytest.raises(ExportError, match="no person's id"):
        _export(catalog, tmp_path / "out", people=("999",))
    assert not (tmp_path / "out").exists()


def test_a_merged_person_exports_as_the_person_it_was_merged_into(tmp_path: Path) -> None:
    catalog, _ = build(tmp_path, SHOTS)
    ann = next(p.id for p in catalog.persons() if p.name == ANN)
    bob = next(p.id for p in catalog.persons() if p.name == BOB)
    merge_people(catalog, [bob], ann)
    _export(catalog, tmp_path / "out", people=(str(bob),))
    assert {n.split("/")[0] for n in files_under(tmp_path / "out")} == {ANN}


def test_rerun_adds_nothing_and_touches_no_file(tmp_path: Path) -> None:
    catalog, _ = build(tmp_path, SHOTS)
    dest = tmp_path / "out"
    _export(catalog, dest, xmp=True)
    before = {p: (p.stat().st_mtime_ns, p.stat().st_ino) for p in dest.rglob("*")}
    again = _export(catalog, dest, xmp=True)
    assert again.count(Action.ADDED) == 0
    assert again.count(Action.PRESENT) == 4
    assert again.sidecars_written == 0
    assert {p: (p.stat().st_mtime_ns, p.stat().st_ino) for p in dest.rglob("*")} == before


def test_rerun_adds_only_new_photos(tmp_path: Path) -> None:
    catalog, folder = build(tmp_path, SHOTS)
    dest = tmp_path / "out"
    _export(catalog, dest)
    make_photo(folder / "ann3.jpg", (320, 240), (200, 10, 10))
    photo_id = add_photo(catalog, folder, "ann3.jpg")
    from test_export_support import assign

    assign(catalog, add_face(catalog, photo_id, (10, 10, 50, 50)), ANN)
    again = _export(catalog, dest)
    assert [i.file for i in again.items if i.action == Action.ADDED] == [f"{ANN}/ann3.jpg"]
    assert again.count(Action.PRESENT) == 4


def test_a_different_file_in_the_way_is_kept_and_the_photo_takes_a_numbered_name(
    tmp_path: Path,
) -> None:
    catalog, folder = build(tmp_path, SHOTS)
    dest = tmp_path / "out"
    (dest / ANN).mkdir(parents=True)
    (dest / ANN / "ann1.jpg").write_bytes(b"someone else's file")
    report = _export(catalog, dest)
    assert (dest / ANN / "ann1.jpg").read_bytes() == b"someone else's file"
    assert (dest / ANN / "ann1 (2).jpg").read_bytes() == (folder / "ann1.jpg").read_bytes()
    assert report.count(Action.ADDED) == 4
    rerun = _export(catalog, dest)
    assert rerun.count(Action.ADDED) == 0
    assert not (dest / ANN / "ann1 (3).jpg").exists()


def test_two_photos_with_the_same_name_in_one_album_are_both_kept(tmp_path: Path) -> None:
    shots = [
        Shot("2019/img.jpg", [((10, 10, 50, 50), ANN)], colour=(1, 2, 3)),
        Shot("2020/img.jpg", [((10, 10, 50, 50), ANN)], colour=(200, 100, 50)),
    ]
    catalog, folder = build(tmp_path, shots)
    dest = tmp_path / "out"
    _export(catalog, dest)
    files = files_under(dest)
    assert files[f"{ANN}/img.jpg"] == (folder / "2019/img.jpg").read_bytes()
    assert files[f"{ANN}/img (2).jpg"] == (folder / "2020/img.jpg").read_bytes()
    assert _export(catalog, dest).count(Action.ADDED) == 0


def test_hardlinks_and_symlinks_point_at_the_originals(tmp_path: Path) -> None:
    catalog, folder = build(tmp_path, SHOTS)
    _export(catalog, tmp_path / "hard", mode=LinkMode.HARDLINK)
    _export(catalog, tmp_path / "soft", mode=LinkMode.SYMLINK)
    original = folder / "both.jpg"
    assert os.path.samefile(tmp_path / "hard" / BOB / "both.jpg", original)
    assert (tmp_path / "hard" / BOB / "both.jpg").stat().st_nlink >= 2
    link = tmp_path / "soft" / BOB / "both.jpg"
    assert link.is_symlink() and Path(os.readlink(link)) == original
    assert _export(catalog, tmp_path / "soft", mode=LinkMode.SYMLINK).count(Action.ADDED) == 0


def test_dry_run_writes_nothing_but_says_what_it_would_do(tmp_path: Path) -> None:
    catalog, _ = build(tmp_path, SHOTS)
    report = _export(catalog, tmp_path / "out", dry_run=True, xmp=True,
                     manifest=ManifestFormat.CSV)
    assert not (tmp_path / "out").exists()
    assert report.count(Action.WOULD_ADD) == 4
    assert report.sidecars_written == 4


def test_manifest_lists_every_exported_file(tmp_path: Path) -> None:
    catalog, folder = build(tmp_path, SHOTS)
    dest = tmp_path / "out"
    _export(catalog, dest, manifest=ManifestFormat.CSV)
    rows = list(csv.DictReader((dest / "facealbum-export.csv").open(encoding="utf-8")))
    assert sorted(r["file"] for r in rows) == sorted(
        n for n in files_under(dest) if not n.startswith("facealbum-export")
    )
    assert {r["source"] for r in rows} == {str(folder / s.name) for s in SHOTS[:3]}
    _export(catalog, dest, manifest=ManifestFormat.JSON)
    items = json.loads((dest / "facealbum-export.json").read_text(encoding="utf-8"))
    assert {i["action"] for i in items} == {"present"}
    assert len(items) == 4


def test_cancel_stops_between_photos_and_a_rerun_finishes(tmp_path: Path) -> None:
    catalog, _ = build(tmp_path, SHOTS)
    dest = tmp_path / "out"
    cancel = CancelToken()
    report = ExportReport()
    for progress in export_albums(catalog, ExportOptions(dest=dest), cancel=cancel,
                                  report=report):
        if progress.done == 1:
            cancel.cancel()
    assert report.cancelled
    assert report.count(Action.ADDED) == 1
    assert not list(dest.rglob("*.part"))
    assert _export(catalog, dest).count(Action.ADDED) == 3


def test_destination_that_is_a_file_is_refused(tmp_path: Path) -> None:
    catalog, _ = build(tmp_path, SHOTS)
    (tmp_path / "out").write_text("not a folder")
    with pytest.raises(ExportError, match="is a file"):
        _export(catalog, tmp_path / "out")


def test_cli_export_reports_what_it_added(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    catalog, _ = build(tmp_path, SHOTS)
    catalog.close()
    args = ["--catalog", str(tmp_path / "catalog.sqlite"), "export", "--to",
            str(tmp_path / "out"), "--xmp", "--manifest", "json"]
    assert main(args) == 0
    assert "Added 4 photos in 2 albums" in capsys.readouterr().out
    assert main([*args, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["added"], report["present"], report["sidecars_written"]) == (0, 4, 0)
    assert main(["--catalog", str(tmp_path / "catalog.sqlite"), "export", "--to",
                 str(tmp_path / "x"), "--people", "Nobody"]) == 2


def test_a_photo_gone_from_disk_is_reported_and_the_rest_exported(tmp_path: Path) -> None:
    catalog, folder = build(tmp_path, SHOTS)
    (folder / "ann2.jpg").unlink()
    report = _export(catalog, tmp_path / "out")
    assert report.count(Action.FAILED) == 1
    assert report.count(Action.ADDED) == 3
    assert len(report.problems) == 1 and "ann2.jpg" in report.problems[0]
    assert not list((tmp_path / "out").rglob("*.part"))


def test_a_file_or_link_named_like_an_album_is_left_and_the_album_takes_a_number(
    tmp_path: Path,
) -> None:
    catalog, _ = build(tmp_path, SHOTS)
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / ANN).write_text("a file, not a folder")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (dest / BOB).symlink_to(elsewhere, target_is_directory=True)
    report = _export(catalog, dest)
    assert (dest / ANN).read_text() == "a file, not a folder"
    assert not list(elsewhere.iterdir())
    assert sorted(n for n in files_under(dest) if n.endswith(".jpg")) == [
        f"{ANN} (2)/ann1.jpg", f"{ANN} (2)/ann2.jpg", f"{ANN} (2)/both.jpg", f"{BOB} (2)/both.jpg"
    ]
    assert {i.folder for i in report.items} == {f"{ANN} (2)", f"{BOB} (2)"}
