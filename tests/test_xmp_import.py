"""Regions other tools wrote become user facts on scan, once, and never at the
cost of a decision the user made in the catalog."""

from pathlib import Path

import pytest
from PIL import Image
from test_export_support import (
    Shot,
    add_face,
    add_photo,
    assign,
    build,
    exiftool_write,
    make_photo,
    needs_exiftool,
)

from engine.catalog import Catalog
from engine.export.xmp import Region, merge_face_metadata
from engine.people import reject_faces
from engine.people.importer import apply_regions, read_regions

SIZE = (640, 480)
LEFT = (40.0, 60.0, 80.0, 100.0)
RIGHT = (300.0, 50.0, 70.0, 90.0)


def _two_faces(tmp_path: Path) -> tuple[Catalog, Path, int, list[int]]:
    catalog, folder = build(tmp_path, [Shot("p.jpg", size=SIZE)])
    photo_id = catalog.photos()[0].id
    faces = [add_face(catalog, photo_id, LEFT), add_face(catalog, photo_id, RIGHT)]
    return catalog, folder, photo_id, faces


def _sidecar(folder: Path, regions: list[Region], name: str = "p.jpg.xmp") -> Path:
    path = folder / name
    path.write_bytes(merge_face_metadata(None, regions, SIZE))
    return path


def _names(catalog: Catalog, photo_id: int) -> dict[int, str | None]:
    return {
        f.id: catalog.person(f.person_id).name if f.person_id else None
        for f in catalog.faces(photo_id=photo_id)
    }


def test_a_named_region_confirms_the_face_it_overlaps_best(tmp_path: Path) -> None:
    catalog, folder, photo_id, (left, right) = _two_faces(tmp_path)
    shifted = (RIGHT[0] + 8, RIGHT[1] - 5, RIGHT[2], RIGHT[3] + 6)  # another tool's box
    _sidecar(folder, [Region.from_box("Carla Diaz", shifted, SIZE)])
    regions = read_regions(folder / "p.jpg", SIZE)
    assert [r.name for r in regions] == ["Carla Diaz"]
    assert apply_regions(catalog, photo_id, regions) == 1
    face = catalog.face(right)
    assert face.assigned_by == "user"
    assert catalog.person(face.person_id or 0).name == "Carla Diaz"
    assert catalog.face(left).person_id is None
    assert len(catalog.faces(photo_id=photo_id)) == 2


def test_a_region_with_no_detected_face_is_kept_as_a_face_of_its_own(tmp_path: Path) -> None:
    catalog, folder, photo_id, _ = _two_faces(tmp_path)
    box = (500.0, 300.0, 40.0, 50.0)
    _sidecar(folder, [Region.from_box("Dan Ng", box, SIZE), Region.from_box(None, LEFT, SIZE)])
    assert apply_regions(catalog, photo_id, read_regions(folder / "p.jpg", SIZE)) == 1
    added = [f for f in catalog.faces(photo_id=photo_id) if f.source == "xmp"]
    assert len(added) == 1
    assert added[0].box == pytest.approx(box, abs=0.01)
    assert added[0].landmarks is None
    assert catalog.person(added[0].person_id or 0).name == "Dan Ng"
    assert catalog.embeddings("sface", [added[0].id])[0].size == 0


def test_applying_the_same_regions_twice_changes_nothing(tmp_path: Path) -> None:
    catalog, folder, photo_id, _ = _two_faces(tmp_path)
    _sidecar(folder, [Region.from_box("Carla Diaz", RIGHT, SIZE),
                      Region.from_box("Dan Ng", (500, 300, 40, 50), SIZE)])
    regions = read_regions(folder / "p.jpg", SIZE)
    assert apply_regions(catalog, photo_id, regions) == 2
    before = (catalog.faces(photo_id=photo_id), catalog.persons())
    assert apply_regions(catalog, photo_id, regions) == 0
    assert (catalog.faces(photo_id=photo_id), catalog.persons()) == before


def test_a_region_names_an_existing_person_rather_than_a_new_one(tmp_path: Path) -> None:
    catalog, folder, photo_id, (left, right) = _two_faces(tmp_path)
    carla = assign(catalog, left, "Carla Diaz")
    _sidecar(folder, [Region.from_box("Carla Diaz", RIGHT, SIZE)])
    apply_regions(catalog, photo_id, read_regions(folder / "p.jpg", SIZE))
    assert catalog.face(right).person_id == carla
    assert [p.name for p in catalog.persons()] == ["Carla Diaz"]


def test_a_decision_made_in_the_catalog_wins_over_the_sidecar(tmp_path: Path) -> None:
    catalog, folder, photo_id, (left, right) = _two_faces(tmp_path)
    bob = assign(catalog, left, "Bob Marsh")
    carla = assign(catalog, right, "Carla Diaz")
    reject_faces(catalog, [right], carla)
    _sidecar(folder, [Region.from_box("Carla Diaz", LEFT, SIZE),
                      Region.from_box("Carla Diaz", RIGHT, SIZE)])
    assert apply_regions(catalog, photo_id, read_regions(folder / "p.jpg", SIZE)) == 0
    assert catalog.face(left).person_id == bob
    assert catalog.face(right).person_id != carla


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not xml at all \x00\xff",
        b"<x:xmpmeta xmlns:x='adobe:ns:meta/'><unclosed>",
        b"<?xml version='1.0'?><!DOCTYPE r [<!ENTITY a 'aaaaaaaaaa'><!ENTITY b '&a;&a;&a;&a;'>]>"
        b"<r>&b;</r>",
        b"<?xml version='1.0'?><!DOCTYPE r [<!ENTITY e SYSTEM 'file:///etc/passwd'>]><r>&e;</r>",
        b"<svg xmlns='http://www.w3.org/2000/svg'/>",
        merge_face_metadata(None, [Region("Nan", float("nan"), 0.5, 0.1, 0.1)], SIZE),
        merge_face_metadata(None, [Region("Huge", 0.5, 0.5, 0.9, 0.1)], SIZE).replace(
            b"<stArea:w>0.9</stArea:w>", b"<stArea:w>90</stArea:w>"
        ).replace(b"0.05, 0.45, 0.9, 0.1", b"0.05, 0.45, 90, 0.1"),
    ],
)
def test_a_malformed_sidecar_reads_as_no_regions(tmp_path: Path, data: bytes) -> None:
    photo = make_photo(tmp_path / "p.jpg", SIZE, (1, 2, 3))
    (tmp_path / "p.jpg.xmp").write_bytes(data)
    assert read_regions(photo, SIZE) == []


def test_regions_in_the_photo_xmp_convention_are_read(tmp_path: Path) -> None:
    photo = make_photo(tmp_path / "p.jpg", SIZE, (1, 2, 3))
    _sidecar(tmp_path, [Region.from_box("Eve", LEFT, SIZE)], name="p.xmp")
    assert [r.name for r in read_regions(photo, SIZE)] == ["Eve"]


def test_digikam_style_regions_written_as_attributes_are_read(tmp_path: Path) -> None:
    photo = make_photo(tmp_path / "p.jpg", SIZE, (1, 2, 3))
    (tmp_path / "p.jpg.xmp").write_text(
        """<?xml version="1.0" encoding="UTF-8"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="XMP Core 4.4.0-Exiv2">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:mwg-rs="http://www.metadataworkinggroup.com/schemas/regions/"
    xmlns:stDim="http://ns.adobe.com/xap/1.0/sType/Dimensions#"
    xmlns:stArea="http://ns.adobe.com/xmp/sType/Area#">
   <mwg-rs:Regions rdf:parseType="Resource">
    <mwg-rs:AppliedToDimensions stDim:w="640" stDim:h="480" stDim:unit="pixel"/>
    <mwg-rs:RegionList>
     <rdf:Bag>
      <rdf:li>
       <rdf:Description mwg-rs:Name="Fay Wong" mwg-rs:Type="Face">
        <mwg-rs:Area stArea:x="0.125" stArea:y="0.229167" stArea:w="0.125"
            stArea:h="0.208333" stArea:unit="normalized"/>
       </rdf:Description>
      </rdf:li>
     </rdf:Bag>
    </mwg-rs:RegionList>
   </mwg-rs:Regions>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>""",
        encoding="utf-8",
    )
    (region,) = read_regions(photo, SIZE)
    assert region.name == "Fay Wong"
    assert region.box(SIZE) == pytest.approx(LEFT, abs=0.5)


@needs_exiftool
def test_regions_embedded_in_a_jpeg_are_read(tmp_path: Path) -> None:
    photo = make_photo(tmp_path / "p.jpg", SIZE, (1, 2, 3))
    exiftool_write(
        photo,
        "-RegionInfo={AppliedToDimensions={W=640,H=480,Unit=pixel},RegionList=["
        "{Area={X=0.125,Y=0.229167,W=0.125,H=0.208333,Unit=normalized},Name=Gil,Type=Face},"
        "{Area={X=0.5,Y=0.5,W=0.2,H=0.2,Unit=normalized},Name=Rex,Type=Pet}]}",
    )
    (region,) = read_regions(photo, SIZE)
    assert region.name == "Gil"
    assert region.box(SIZE) == pytest.approx(LEFT, abs=0.5)
    _sidecar(tmp_path, [Region.from_box("Sidecar Name", LEFT, SIZE)])
    assert [r.name for r in read_regions(photo, SIZE)] == ["Sidecar Name"]


def test_regions_written_on_the_unrotated_pixels_turn_with_the_photo(tmp_path: Path) -> None:
    photo = tmp_path / "p.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # stored landscape, shown turned 90 degrees clockwise
    Image.new("RGB", (640, 480), (1, 2, 3)).save(photo, exif=exif.tobytes())
    stored = Region("Hal", 0.25, 0.5, 0.1, 0.2)
    (tmp_path / "p.jpg.xmp").write_bytes(merge_face_metadata(None, [stored], (640, 480)))
    (region,) = read_regions(photo, (480, 640))
    assert (region.cx, region.cy, region.w, region.h) == pytest.approx((0.5, 0.25, 0.2, 0.1))
    (tmp_path / "p.jpg.xmp").write_bytes(merge_face_metadata(None, [stored], (480, 640)))
    (same,) = read_regions(photo, (480, 640))
    assert (same.cx, same.cy) == pytest.approx((0.25, 0.5))


def test_a_photo_added_by_hand_with_a_sidecar_gets_its_names(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    make_photo(folder / "q.jpg", SIZE, (9, 9, 9))
    _sidecar(folder, [Region.from_box("Ivy", RIGHT, SIZE)], name="q.jpg.xmp")
    with Catalog(tmp_path / "c.sqlite") as catalog:
        photo_id = add_photo(catalog, folder, "q.jpg")
        face = add_face(catalog, photo_id, RIGHT)
        assert apply_regions(catalog, photo_id, read_regions(folder / "q.jpg", SIZE)) == 1
        assert _names(catalog, photo_id) == {face: "Ivy"}


@pytest.mark.parametrize(
    "data",
    [b"", b"\xff\xd8", b"\xff\xd8\xff\xe1\x00", b"\xff\xd8\xff\xe1\x00\x01",
     b"\xff\xd8\xff\xe1\xff\xffhttp://ns.adobe.com/xap/1.0/\x00<x:xmpmeta",
     b"GIF89a not a jpeg at all"],
)
def test_a_damaged_photo_reads_as_no_regions(tmp_path: Path, data: bytes) -> None:
    photo = tmp_path / "p.jpg"
    photo.write_bytes(data)
    assert read_regions(photo, SIZE) == []
