"""Face names as digiKam, Lightroom, Windows, Picasa and Google Takeout store
them (built here the way those tools write them) reach the right faces, names
without a face are shown as "in this photo", each import is one undoable
operation, and export names only what the user confirmed."""

import json
import os
from pathlib import Path

import pytest
from PIL import Image
from test_export_support import add_face, exiftool_json, exiftool_write, make_photo, needs_exiftool
from test_xmp_orientation import _catalog_photo, _stored_region

from engine import people
from engine.catalog import Catalog
from engine.catalog.clustering import assign_automatically
from engine.catalog.persons import new_person
from engine.cli.main import main
from engine.export.sidecars import photo_faces, write_sidecar
from engine.people.importer import import_regions, persons_in_photo, read_names

STORED = (480, 320)
UPRIGHT_6 = (320, 480)
# Two faces, as fractions of the upright photo.
LEFT = (0.10, 0.15, 0.20, 0.20)
RIGHT = (0.60, 0.55, 0.22, 0.20)


def _pixels(f: tuple[float, ...], size: tuple[int, int]) -> tuple[float, float, float, float]:
    return (f[0] * size[0], f[1] * size[1], f[2] * size[0], f[3] * size[1])


def _turned_photo(path: Path, orientation: int = 6) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.new("RGB", STORED, (80, 90, 100)).save(path, "JPEG", exif=exif.tobytes())
    return path


def _two_faces(catalog: Catalog, folder: Path, name: str = "p.jpg", orientation: int = 6
               ) -> tuple[int, int, int]:
    photo_id = _catalog_photo(catalog, folder, name, orientation)
    size = UPRIGHT_6 if orientation >= 5 else STORED
    return (photo_id, add_face(catalog, photo_id, _pixels(LEFT, size)),
            add_face(catalog, photo_id, _pixels(RIGHT, size)))


def _import(catalog: Catalog, folder: Path, photo_id: int, name: str = "p.jpg") -> None:
    import_regions(catalog, {photo_id: read_names(folder / name, UPRIGHT_6)})


def _name_of(catalog: Catalog, face_id: int) -> str | None:
    face = catalog.face(face_id)
    return catalog.person(face.person_id).name if face.person_id is not None else None


def _mp_rectangle(stored: tuple[float, float, float, float]) -> str:
    cx, cy, w, h = stored
    return f"{cx - w / 2:.6f}, {cy - h / 2:.6f}, {w:.6f}, {h:.6f}"


def _digikam_sidecar(left: tuple[float, ...], right: tuple[float, ...]) -> str:
    """What digiKam 8 writes in French: MWG and Microsoft regions, its tags
    under the localised people tag, Lightroom's keywords and dc:subject."""
    def area(r: tuple[float, ...]) -> str:
        return (f'stArea:x="{r[0]:.6f}" stArea:y="{r[1]:.6f}" stArea:w="{r[2]:.6f}" '
                f'stArea:h="{r[3]:.6f}" stArea:unit="normalized"')
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="XMP Core 4.4.0-Exiv2">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:digiKam="http://www.digikam.org/ns/1.0/"
    xmlns:lr="http://ns.adobe.com/lightroom/1.0/"
    xmlns:dc="http://purl.org/dc/elements/1.1/"
    xmlns:MP="http://ns.microsoft.com/photo/1.2/"
    xmlns:MPRI="http://ns.microsoft.com/photo/1.2/t/RegionInfo#"
    xmlns:MPReg="http://ns.microsoft.com/photo/1.2/t/Region#"
    xmlns:mwg-rs="http://www.metadataworkinggroup.com/schemas/regions/"
    xmlns:stDim="http://ns.adobe.com/xap/1.0/sType/Dimensions#"
    xmlns:stArea="http://ns.adobe.com/xmp/sType/Area#">
   <digiKam:TagsList><rdf:Seq>
     <rdf:li>Personnes/Amélie Poulain</rdf:li>
     <rdf:li>Personnes/Famille/Nino Quincampoix</rdf:li>
     <rdf:li>Personnes/Raymond Dufayel</rdf:li>
     <rdf:li>Lieux/Paris</rdf:li>
   </rdf:Seq></digiKam:TagsList>
   <lr:hierarchicalSubject><rdf:Bag>
     <rdf:li>Personnes|Amélie Poulain</rdf:li>
     <rdf:li>Lieux|Paris</rdf:li>
   </rdf:Bag></lr:hierarchicalSubject>
   <dc:subject><rdf:Bag>
     <rdf:li>Amélie Poulain</rdf:li><rdf:li>Nino Quincampoix</rdf:li><rdf:li>Paris</rdf:li>
   </rdf:Bag></dc:subject>
   <MP:RegionInfo rdf:parseType="Resource"><MPRI:Regions><rdf:Bag>
     <rdf:li MPReg:PersonDisplayName="Amélie Poulain"
             MPReg:Rectangle="{_mp_rectangle(left)}"/>
   </rdf:Bag></MPRI:Regions></MP:RegionInfo>
   <mwg-rs:Regions rdf:parseType="Resource">
    <mwg-rs:AppliedToDimensions stDim:w="{STORED[0]}" stDim:h="{STORED[1]}" stDim:unit="pixel"/>
    <mwg-rs:RegionList><rdf:Bag>
      <rdf:li><rdf:Description mwg-rs:Name="Amélie Poulain" mwg-rs:Type="Face">
        <mwg-rs:Area {area(left)}/></rdf:Description></rdf:li>
      <rdf:li><rdf:Description mwg-rs:Name="Nino Quincampoix" mwg-rs:Type="Face">
        <mwg-rs:Area {area(right)}/></rdf:Description></rdf:li>
    </rdf:Bag></mwg-rs:RegionList>
   </mwg-rs:Regions>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>"""


def _cli(capsys: pytest.CaptureFixture[str], catalog: Path, *args: str) -> str:
    capsys.readouterr()
    assert main(["--catalog", str(catalog), *args]) == 0
    return capsys.readouterr().out


def test_a_digikam_sidecar_in_french_names_the_right_faces_and_the_one_without_a_face(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "photos"
    _turned_photo(folder / "p.jpg")
    (folder / "p.jpg.xmp").write_text(
        _digikam_sidecar(_stored_region(LEFT, 6), _stored_region(RIGHT, 6)), encoding="utf-8")
    with Catalog(tmp_path / "c.sqlite") as catalog:
        photo_id, left, right = _two_faces(catalog, folder)
        _import(catalog, folder, photo_id)
        assert (_name_of(catalog, left), _name_of(catalog, right)) == (
            "Amélie Poulain", "Nino Quincampoix")
        assert len(catalog.faces()) == 2
        assert [(p.name, p.face_id) for p in persons_in_photo(catalog, photo_id)] == [
            ("Amélie Poulain", left), ("Nino Quincampoix", right), ("Raymond Dufayel", None)]
    listed = json.loads(_cli(capsys, tmp_path / "c.sqlite", "persons-in",
                             str(folder / "p.jpg"), "--json"))
    assert [(r["name"], r["how"]) for r in listed][-1] == (
        "Raymond Dufayel", "no face: named by the photo's metadata")


@needs_exiftool
def test_lightroom_regions_and_keywords_embedded_in_the_photo_name_the_faces(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "photos"
    photo = _turned_photo(folder / "p.jpg")
    left = _stored_region(LEFT, 6)
    exiftool_write(
        photo,
        f"-RegionInfo={{AppliedToDimensions={{W={STORED[0]},H={STORED[1]},Unit=pixel}},"
        f"RegionList=[{{Area={{X={left[0]},Y={left[1]},W={left[2]},H={left[3]},"
        "Unit=normalized},Name=Ann Lee,Type=Face}]}",
        "-HierarchicalSubject=People|Ann Lee", "-HierarchicalSubject=People|Dee Dee",
        "-HierarchicalSubject=Places|Oslo", "-Subject=Ann Lee", "-Subject=Dee Dee",
        "-Subject=Oslo",
    )
    with Catalog(tmp_path / "c.sqlite") as catalog:
        photo_id, left_id, right_id = _two_faces(catalog, folder)
        _import(catalog, folder, photo_id)
        assert (_name_of(catalog, left_id), _name_of(catalog, right_id)) == ("Ann Lee", None)
        assert [p.name for p in persons_in_photo(catalog, photo_id)] == ["Ann Lee", "Dee Dee"]


@needs_exiftool
def test_windows_people_tags_alone_name_the_faces_of_a_turned_photo(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    photo = _turned_photo(folder / "p.jpg")
    rectangle = _mp_rectangle(_stored_region(RIGHT, 6)).replace(",", "|,")
    exiftool_write(photo, f"-RegionInfoMP={{Regions=[{{PersonDisplayName=Bo Chen,"
                          f"Rectangle={rectangle}}}]}}")
    assert "RegionInfo" not in exiftool_json(photo)  # Windows writes no MWG regions
    with Catalog(tmp_path / "c.sqlite") as catalog:
        photo_id, left, right = _two_faces(catalog, folder)
        _import(catalog, folder, photo_id)
        assert (_name_of(catalog, left), _name_of(catalog, right)) == (None, "Bo Chen")
        assert len(catalog.faces()) == 2


def _rect64(stored: tuple[float, float, float, float]) -> str:
    cx, cy, w, h = stored
    edges = (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
    value = 0
    for edge in edges:
        value = (value << 16) | round(edge * 65535)
    return f"rect64({value:x})"


def test_picasa_faces_with_contacts_name_the_faces_of_a_turned_photo(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    _turned_photo(folder / "p.jpg")
    (folder / ".picasa.ini").write_text(
        "[Picasa]\nname=Holiday\n"
        "[Contacts2]\n8e62398ebda8c1a5=Carla Diaz;carla@example.org;\n"
        f"[p.jpg]\nfaces={_rect64(_stored_region(LEFT, 6))},8e62398ebda8c1a5;"
        f"{_rect64(_stored_region(RIGHT, 6))},00000000000000d1\nbackuphash=1234\n",
        encoding="utf-8",
    )
    # The second contact is only in Picasa's contacts.xml, one folder up.
    (tmp_path / "contacts.xml").write_text(
        '<contacts><contact id="00000000000000d1" name="Dan Ng" display="Dan"/></contacts>',
        encoding="utf-8",
    )
    with Catalog(tmp_path / "c.sqlite") as catalog:
        photo_id, left, right = _two_faces(catalog, folder)
        _import(catalog, folder, photo_id)
        assert (_name_of(catalog, left), _name_of(catalog, right)) == ("Carla Diaz", "Dan Ng")
        assert len(catalog.faces()) == 2


def test_takeout_names_are_shown_in_the_photo_and_undone_with_their_import(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "photos"
    _turned_photo(folder / "p.jpg")
    (folder / "p.jpg.supplemental-metadata.json").write_text(json.dumps(
        {"title": "p.jpg", "people": [{"name": "Eve Adams"}, {"name": " eve  adams"},
                                      {"name": "Finn Ray"}, {"nom": "x"}, "junk"]}))
    path = tmp_path / "c.sqlite"
    with Catalog(path) as catalog:
        photo_id, _, _ = _two_faces(catalog, folder)
    _cli(capsys, path, "import-faces", str(folder))
    with Catalog(path) as catalog:
        assert [(p.name, p.face_id) for p in persons_in_photo(catalog, photo_id)] == [
            ("Eve Adams", None), ("Finn Ray", None)]
        (operation,) = people.history(catalog)
        assert operation.summary == "Imported 0 names and 2 names without a face " \
                                    "from 1 photo's metadata"
    _cli(capsys, path, "undo")
    with Catalog(path) as catalog:
        assert persons_in_photo(catalog, photo_id) == []
    _cli(capsys, path, "redo")
    with Catalog(path) as catalog:
        assert [p.name for p in persons_in_photo(catalog, photo_id)] == ["Eve Adams", "Finn Ray"]
    _cli(capsys, path, "import-faces", str(folder))  # nothing new: no second operation
    with Catalog(path) as catalog:
        assert len(people.history(catalog)) == 1


def test_import_faces_reads_a_picasa_file_added_after_the_scan_as_one_operation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "photos"
    _turned_photo(folder / "a.jpg")
    _turned_photo(folder / "b.jpg")
    path = tmp_path / "c.sqlite"
    with Catalog(path) as catalog:
        a, a_left, _ = _two_faces(catalog, folder, "a.jpg")
        b, _, b_right = _two_faces(catalog, folder, "b.jpg")
    (folder / "Picasa.ini").write_text(
        "[Contacts2]\nabc=Gil Perez;;\n"
        f"[a.jpg]\nfaces={_rect64(_stored_region(LEFT, 6))},abc\n"
        f"[B.JPG]\nfaces={_rect64(_stored_region(RIGHT, 6))},abc\n", encoding="utf-8")
    out = json.loads(_cli(capsys, path, "import-faces", "--json"))
    assert (out["names"], out["photos"]) == (2, 2)
    with Catalog(path) as catalog:
        assert (_name_of(catalog, a_left), _name_of(catalog, b_right)) == ("Gil Perez",) * 2
        assert len(people.history(catalog)) == 1
    _cli(capsys, path, "undo")
    with Catalog(path) as catalog:
        assert (_name_of(catalog, a_left), _name_of(catalog, b_right)) == (None, None)
    assert a != b


def test_hostile_picasa_contacts_and_takeout_files_import_nothing_and_never_stop(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "photos"
    photo = make_photo(folder / "p.jpg", STORED, (1, 2, 3))
    os.mkfifo(folder / ".picasa.ini")  # would block a reader for ever
    (folder / "p.jpg.json").write_bytes(b"[" * 200_000)  # deeper than any parser's stack
    (folder / "p.jpg.supplemental-metadata.json").write_bytes(b" " * (9 * 1024 * 1024))
    (tmp_path / "contacts.xml").write_bytes(b"<contacts>" + b"<a>" * 300_000)
    names = read_names(photo, STORED)
    assert (names.regions, names.persons) == ([], [])
    (folder / ".picasa.ini").unlink()
    (folder / ".picasa.ini").write_text(
        "[p.jpg]\nfaces=rect64(zz),1;rect64(ffff0000ffff0000),2;rect64(1),3;"
        + "rect64(100010002000200),4;" * 2 + "\n\x00\xff garbage\n[", encoding="utf-8")
    (folder / "p.jpg.json").write_text('{"people": "nobody"}')
    names = read_names(photo, STORED)
    assert [r.name for r in names.regions] == [None, None]  # two usable boxes, no contacts
    assert names.persons == []


def test_sidecars_name_only_confirmed_faces_unless_asked_and_leave_the_photo_alone(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "photos"
    photo = _turned_photo(folder / "p.jpg")
    before = photo.read_bytes()
    with Catalog(tmp_path / "c.sqlite") as catalog:
        photo_id, left, right = _two_faces(catalog, folder)
        people.name_person(catalog, people.split_faces(catalog, [left]), "Hal Confirmed")
        _guess(catalog, right, "Ida Guessed")
        db_photo = catalog.photo(photo_id)
        target = folder / "p.jpg.xmp"
        write_sidecar(target, photo_faces(catalog, db_photo))
        assert read_names(photo, UPRIGHT_6).persons == []
        assert [r.name for r in read_names(photo, UPRIGHT_6).regions] == ["Hal Confirmed"]
        write_sidecar(target, photo_faces(catalog, db_photo, unconfirmed=True))
        assert sorted(r.name or "" for r in read_names(photo, UPRIGHT_6).regions) == [
            "Hal Confirmed", "Ida Guessed"]
    assert photo.read_bytes() == before
    assert sorted(p.name for p in folder.iterdir()) == ["p.jpg", "p.jpg.xmp"]


def _guess(catalog: Catalog, face_id: int, name: str) -> None:
    """Put the face in a person called ``name`` as the grouping would: a guess."""
    with catalog.transaction():
        person_id = new_person(catalog)
        assign_automatically(catalog, [(face_id, person_id)])
    people.name_person(catalog, person_id, name)
    assert catalog.face(face_id).assigned_by == "auto"


def test_import_faces_from_a_folder_never_scanned_says_so_rather_than_importing_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A mistyped folder, or one not scanned yet, is not "0 names imported"."""
    folder = tmp_path / "photos"
    _turned_photo(folder / "a.jpg")
    path = tmp_path / "c.sqlite"
    with Catalog(path) as catalog:
        _two_faces(catalog, folder, "a.jpg")
    empty = tmp_path / "other"
    empty.mkdir()
    for elsewhere in (tmp_path / "typo", empty):  # not there; there, but never scanned
        capsys.readouterr()
        assert main(["--catalog", str(path), "import-faces", str(elsewhere)]) != 0
        err = capsys.readouterr().err
        assert "no scanned photo" in err and str(elsewhere) in err and "Traceback" not in err
    _cli(capsys, path, "import-faces", str(folder))  # the scanned folder still imports
