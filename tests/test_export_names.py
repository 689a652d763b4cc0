"""Person names are untrusted: whatever they hold, an album lands inside the destination."""

import unicodedata
from pathlib import Path

import pytest
from test_export_support import Shot, build, files_under

from engine.export.albums import ExportOptions, ExportReport, export_albums
from engine.export.errors import ExportError
from engine.export.names import inside, safe_file_name, safe_name

HOSTILE = [
    "../../etc",
    "..",
    ".",
    "/etc/passwd",
    "a/b",
    "a\\b",
    "con",
    "CON.txt",
    "nul.tar.gz",
    "lpt1",
    "tab\tnew\nline\x00nul\x1besc\x7fdel\u200bzw",
    " .hidden. ",
    'wild<>:"|?*chars',
    "x" * 400,
    "Zoë " * 80,
]


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_name_becomes_one_plain_folder_inside_the_destination(
    name: str, tmp_path: Path
) -> None:
    folder = safe_name(name)
    assert folder and folder not in (".", "..")
    assert "/" not in folder and "\\" not in folder
    assert not any(unicodedata.category(c).startswith("C") for c in folder)
    assert not folder.startswith(".") and not folder.endswith((".", " "))
    assert len(folder.encode("utf-8")) <= 200
    assert folder.split(".")[0].lower() not in {"con", "prn", "aux", "nul", "lpt1", "com1"}
    assert (tmp_path / folder).resolve().parent == tmp_path.resolve()
    (tmp_path / folder).mkdir()  # the file system takes it as it is


def test_long_names_are_cut_without_splitting_a_character() -> None:
    cut = safe_name("é" * 300)
    assert cut == "é" * 100


def test_exported_file_names_keep_their_extension_and_lose_their_path() -> None:
    assert safe_file_name("../../evil.jpg") == "evil.jpg"
    assert safe_file_name("con.jpg") == "con_.jpg"
    assert safe_file_name("IMG 0001.JPG") == "IMG 0001.JPG"


def test_inside_refuses_anything_that_is_not_a_direct_child(tmp_path: Path) -> None:
    for bad in ("..", "a/b", "", "../x"):
        with pytest.raises(ExportError):
            inside(tmp_path, bad)


def test_export_of_hostile_names_writes_only_inside_the_destination(tmp_path: Path) -> None:
    names = ["../../etc", "con", "a/b", "evil\x1b[31m\x00name", "..", "/tmp/abs"]
    shots = [
        Shot(f"p{i}.jpg", [((10, 10, 50, 50), name)], colour=(i * 30, 20, 20))
        for i, name in enumerate(names)
    ]
    catalog, _ = build(tmp_path / "lib", shots)
    outside_before = sorted(p for p in tmp_path.rglob("*"))
    dest = tmp_path / "box" / "out"
    report = ExportReport()
    for _ in export_albums(catalog, ExportOptions(dest=dest, xmp=True), report=report):
        pass
    assert not report.problems
    exported = files_under(dest)
    assert len([n for n in exported if n.endswith(".jpg")]) == len(names)
    folders = {n.split("/")[0] for n in exported}
    assert len(folders) == len(names)  # one folder each, even ".." and "/tmp/abs"
    for path in dest.rglob("*"):
        assert path.resolve().is_relative_to(dest.resolve())
        assert not path.is_symlink()
    after = sorted(p for p in tmp_path.rglob("*") if not p.is_relative_to(tmp_path / "box"))
    assert after == [p for p in outside_before if p.exists()]
    assert not (tmp_path / "etc").exists() and not (tmp_path / "box" / "etc").exists()
    assert all(part not in ("..", ".") for n in exported for part in Path(n).parts)
