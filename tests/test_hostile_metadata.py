"""Hostile metadata and photo files: XMP nested thousands of levels deep, a
named pipe or /dev/zero where a sidecar or a photo should be, sidecars far
larger than any real one, and names that differ only in case or spaces. Each
is a clear problem for that one file, or the same person, never a crash, a
hang or a second person."""

import json
import os
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from test_export_support import Shot, add_face, build, make_photo

from engine.cli.main import main
from engine.errors import PhotoError
from engine.export import xmp
from engine.export.errors import XmpError
from engine.export.sidecars import photo_faces, write_sidecar
from engine.export.xmp import Region, merge_face_metadata, read_face_metadata
from engine.imageio import read_bytes
from engine.people import importer
from engine.people.importer import apply_regions, read_regions

SIZE = (320, 240)
BOX = (40.0, 60.0, 80.0, 100.0)
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
needs_dev_zero = pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero here")


def _deep_xmp(levels: int = 3000) -> bytes:
    """A 25 kB packet whose one property nests ``levels`` elements deep."""
    head = (f'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="{RDF}">'
            '<rdf:Description rdf:about="" xmlns:a="urn:a"><a:p>')
    tail = "</a:p></rdf:Description></rdf:RDF></x:xmpmeta>"
    return (head + "<b>" * levels + "</b>" * levels + tail).encode()


def _named_sidecar(name: str = "Ann Lee") -> bytes:
    return merge_face_metadata(None, [Region.from_box(name, BOX, SIZE)], SIZE)


def _jpeg_with_xmp(path: Path, packet: bytes) -> Path:
    """A real JPEG carrying ``packet`` in its XMP APP1 segment."""
    make_photo(path, SIZE, (90, 120, 150))
    data = path.read_bytes()
    payload = b"http://ns.adobe.com/xap/1.0/\x00" + packet
    segment = b"\xff\xe1" + (len(payload) + 2).to_bytes(2, "big") + payload
    path.write_bytes(data[:2] + segment + data[2:])
    return path


@contextmanager
def _fifo(path: Path) -> Iterator[Path]:
    """A named pipe at ``path``. A writer waits on it, so a reader that opens
    it gets end-of-file at once instead of hanging the test; at the end the
    writer is released whether or not anyone opened it."""
    os.mkfifo(path)

    def writer() -> None:
        os.close(os.open(path, os.O_WRONLY))  # waits for a reader

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    try:
        yield path
    finally:
        release = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        thread.join()
        os.close(release)


# -- deep nesting ----------------------------------------------------------------


def test_xmp_nested_3000_levels_deep_is_refused_with_a_clear_error_not_a_crash() -> None:
    packet = _deep_xmp()
    assert len(packet) < 30_000
    with pytest.raises(XmpError, match="nested more than"):
        read_face_metadata(packet)
    with pytest.raises(XmpError, match="nested more than"):
        merge_face_metadata(packet, [Region.from_box("Ann Lee", BOX, SIZE)], SIZE)


def test_a_deeply_nested_sidecar_is_a_problem_of_its_photo(tmp_path: Path) -> None:
    photo = make_photo(tmp_path / "p.jpg", SIZE, (1, 2, 3))
    (tmp_path / "p.jpg.xmp").write_bytes(_deep_xmp())
    with pytest.raises(importer.MetadataRefusedError, match=r"p\.jpg\.xmp.*nested") as caught:
        read_regions(photo, SIZE)
    # The scan catches refusals by this name, and records them as the photo's problem.
    assert isinstance(caught.value, importer.MetadataRefusedError)


def test_deeply_nested_xmp_inside_a_jpeg_is_a_problem_of_that_photo(tmp_path: Path) -> None:
    photo = _jpeg_with_xmp(tmp_path / "p.jpg", _deep_xmp())
    assert read_bytes(str(photo))  # still a photo that reads and decodes
    with pytest.raises(importer.MetadataRefusedError, match=r"embedded XMP.*nested"):
        read_regions(photo, SIZE)


def test_the_xmp_command_reports_a_deep_sidecar_and_writes_the_others(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    catalog, folder = build(tmp_path, [Shot("a.jpg", [(BOX, "Ann Lee")]),
                                       Shot("b.jpg", [(BOX, "Ann Lee")], colour=(9, 9, 9))])
    catalog.close()
    (folder / "a.jpg.xmp").write_bytes(_deep_xmp())
    code = main(["--catalog", str(tmp_path / "catalog.sqlite"), "xmp", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 1
    assert report["written"] == [str(folder / "b.jpg.xmp")]
    (problem,) = report["problems"]
    assert "a.jpg.xmp" in problem and "nested" in problem
    assert (folder / "a.jpg.xmp").read_bytes() == _deep_xmp()  # left as it was


# -- files that are not regular files ----------------------------------------------


@needs_fifo
def test_a_named_pipe_named_like_a_sidecar_is_refused_unopened(tmp_path: Path) -> None:
    photo = make_photo(tmp_path / "p.jpg", SIZE, (1, 2, 3))
    with _fifo(tmp_path / "p.jpg.xmp"), pytest.raises(importer.MetadataRefusedError,
                                                      match="named pipe"):
        read_regions(photo, SIZE)


@needs_fifo
def test_a_named_pipe_where_an_exported_sidecar_goes_is_left_alone(tmp_path: Path) -> None:
    catalog, folder = build(tmp_path, [Shot("a.jpg", [(BOX, "Ann Lee")])])
    faces = photo_faces(catalog, catalog.photos()[0])
    with _fifo(folder / "a.jpg.xmp") as pipe:
        with pytest.raises(XmpError, match="named pipe"):
            write_sidecar(pipe, faces)
        assert pipe.is_fifo()


@needs_fifo
def test_a_named_pipe_swapped_in_for_a_photo_is_a_problem_not_a_hang(tmp_path: Path) -> None:
    with _fifo(tmp_path / "p.jpg") as pipe, pytest.raises(PhotoError) as caught:
        read_bytes(str(pipe))
    assert "not a regular file but a named pipe" in str(caught.value)


@needs_dev_zero
def test_a_photo_that_links_to_dev_zero_is_refused_unread(tmp_path: Path) -> None:
    os.symlink("/dev/zero", tmp_path / "p.jpg")
    with pytest.raises(PhotoError, match="not a regular file but a character device"):
        read_bytes(str(tmp_path / "p.jpg"))


@needs_dev_zero
def test_a_sidecar_that_links_to_dev_zero_is_refused_unread(tmp_path: Path) -> None:
    photo = make_photo(tmp_path / "p.jpg", SIZE, (1, 2, 3))
    os.symlink("/dev/zero", tmp_path / "p.jpg.xmp")
    with pytest.raises(importer.MetadataRefusedError, match="character device"):
        read_regions(photo, SIZE)


# -- size and parse time --------------------------------------------------------------


def test_a_sidecar_larger_than_any_real_one_is_refused_unread(tmp_path: Path) -> None:
    photo = make_photo(tmp_path / "p.jpg", SIZE, (1, 2, 3))
    with open(tmp_path / "p.jpg.xmp", "wb") as sidecar:
        sidecar.write(_named_sidecar())
        sidecar.truncate(xmp.MAX_XMP_BYTES + 1)  # sparse: costs no disk
    with pytest.raises(importer.MetadataRefusedError, match="MiB"):
        read_regions(photo, SIZE)


def test_a_sidecar_with_too_many_regions_within_the_size_bound_is_still_counted(
    tmp_path: Path,
) -> None:
    photo = make_photo(tmp_path / "p.jpg", SIZE, (1, 2, 3))
    crowd = [Region(f"Person {i}", 0.5, 0.5, 0.01, 0.01) for i in range(importer.MAX_REGIONS + 1)]
    (tmp_path / "p.xmp").write_bytes(merge_face_metadata(None, crowd, SIZE))
    assert (tmp_path / "p.xmp").stat().st_size < xmp.MAX_XMP_BYTES
    with pytest.raises(importer.MetadataRefusedError, match=f"{importer.MAX_REGIONS + 1} face"):
        read_regions(photo, SIZE)


def test_a_packet_with_more_elements_than_any_real_xmp_is_refused() -> None:
    count = xmp.MAX_XMP_ELEMENTS + 1
    packet = (f'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="{RDF}">'
              + "<e/>" * count + "</rdf:RDF></x:xmpmeta>").encode()
    assert len(packet) < xmp.MAX_XMP_BYTES
    with pytest.raises(XmpError, match="more than"):
        read_face_metadata(packet)


def test_writing_a_packet_with_thousands_of_prefixes_leaves_no_trace_in_the_process() -> None:
    # Each prefix a packet declares used to go into ElementTree's process-wide
    # table, one scan of the whole table per prefix: quadratic, and forever.
    declarations = " ".join(f'xmlns:p{i}="urn:example:{i}"' for i in range(3000))
    properties = "".join(f'<p{i}:v>{i}</p{i}:v>' for i in range(3000))
    packet = (f'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="{RDF}">'
              f'<rdf:Description rdf:about="" {declarations}>{properties}'
              "</rdf:Description></rdf:RDF></x:xmpmeta>").encode()
    table = dict(ET._namespace_map)  # type: ignore[attr-defined]

    merged = merge_face_metadata(packet, [Region.from_box("Ann Lee", BOX, SIZE)], SIZE)

    assert ET._namespace_map == table  # type: ignore[attr-defined]
    assert b'xmlns:p2999="urn:example:2999"' in merged and b"<p2999:v>2999</p2999:v>" in merged
    again = read_face_metadata(merged)
    assert [r.name for r in again.regions] == ["Ann Lee"]
    assert merge_face_metadata(merged, [Region.from_box("Ann Lee", BOX, SIZE)], SIZE) == merged


# -- names from sidecars ------------------------------------------------------------


def test_a_name_that_differs_only_in_case_and_spaces_is_the_same_person(tmp_path: Path) -> None:
    catalog, _ = build(tmp_path, [Shot("a.jpg", [(BOX, "Alice Smith")], size=SIZE),
                                       Shot("b.jpg", size=SIZE, colour=(5, 6, 7)),
                                       Shot("c.jpg", size=SIZE, colour=(8, 9, 10))])
    (alice,) = catalog.persons()
    b, c = (p.id for p in catalog.photos() if p.display_path != "a.jpg")
    for photo_id in (b, c):
        add_face(catalog, photo_id, BOX)
    apply_regions(catalog, b, [Region.from_box("alice smith ", BOX, SIZE)])
    apply_regions(catalog, c, [Region.from_box("  ALICE\u00a0 \tSMITH", BOX, SIZE)])
    assert [(p.id, p.name) for p in catalog.persons()] == [(alice.id, "Alice Smith")]
    assert {f.person_id for f in catalog.faces()} == {alice.id}


def test_a_decomposed_accent_is_the_same_name(tmp_path: Path) -> None:
    catalog, _ = build(tmp_path, [Shot("a.jpg", [(BOX, "Zoë Ñúñez")], size=SIZE),
                                       Shot("b.jpg", size=SIZE, colour=(5, 6, 7))])
    (zoe,) = catalog.persons()
    b = next(p.id for p in catalog.photos() if p.display_path == "b.jpg")
    face = add_face(catalog, b, BOX)
    apply_regions(catalog, b, [Region.from_box("zoe\u0308 n\u0303u\u0301n\u0303ez", BOX, SIZE)])
    assert catalog.face(face).person_id == zoe.id
    assert [p.name for p in catalog.persons()] == ["Zoë Ñúñez"]


def test_a_new_name_keeps_its_first_spelling_tidied_and_later_spellings_join_it(
    tmp_path: Path,
) -> None:
    catalog, _ = build(tmp_path, [Shot("a.jpg", size=SIZE), Shot("b.jpg", size=SIZE,
                                                                      colour=(5, 6, 7))])
    a, b = (p.id for p in catalog.photos())
    add_face(catalog, a, BOX)
    add_face(catalog, b, BOX)
    importer.import_regions(catalog, {
        a: [Region.from_box("  bo   Chen ", BOX, SIZE)],
        b: [Region.from_box("BO CHEN", BOX, SIZE)],
    })
    assert [p.name for p in catalog.persons()] == ["bo Chen"]
    assert len({f.person_id for f in catalog.faces()}) == 1
