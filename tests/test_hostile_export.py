"""Exports that meet a failing disk, a killed earlier export or a photo file
swapped for a pipe: every failure is reported, none hides another, and what
a killed export left behind is cleaned up, but only that."""

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_export_support import Shot, build

from engine.catalog import Catalog
from engine.cli.main import main
from engine.export.albums import (
    Action,
    ExportOptions,
    ExportReport,
    ManifestFormat,
    export_albums,
)

ANN = "Ann Lee"
SHOTS = [
    Shot("a.jpg", [((20, 30, 60, 60), ANN)], colour=(10, 20, 30)),
    Shot("b.jpg", [((20, 30, 60, 60), ANN)], colour=(40, 50, 60)),
    Shot("c.jpg", [((20, 30, 60, 60), ANN)], colour=(70, 80, 90)),
]


def _export(catalog: Catalog, dest: Path, **options: object) -> ExportReport:
    report = ExportReport()
    for _ in export_albums(catalog, ExportOptions(dest=dest, **options), report=report):  # type: ignore[arg-type]
        pass
    return report


def test_a_manifest_that_cannot_be_written_does_not_hide_the_photos_that_failed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    catalog, folder = build(tmp_path, SHOTS)
    catalog.close()
    (folder / "b.jpg").unlink()  # this photo's copy fails
    dest = tmp_path / "out"
    (dest / "facealbum-export.csv").mkdir(parents=True)  # and so does the manifest

    code = main(["--catalog", str(tmp_path / "catalog.sqlite"), "export", "--to", str(dest),
                 "--manifest", "csv"])

    out = capsys.readouterr().out
    assert code == 1
    problems = [line for line in out.splitlines() if "problem:" in line]
    assert len(problems) == 2
    assert any("b.jpg" in p for p in problems)
    assert any("manifest was not written" in p for p in problems)
    assert sorted(os.listdir(dest / ANN)) == ["a.jpg", "c.jpg"]


@pytest.mark.skipif(not hasattr(signal, "SIGXFSZ"), reason="no file size limits here")
def test_writes_failing_as_on_a_full_disk_are_each_reported_with_the_manifest(
    tmp_path: Path,
) -> None:
    import resource

    catalog, _ = build(tmp_path, SHOTS)
    dest = tmp_path / "out"
    dest.mkdir()
    # A file size limit makes every write past 64 bytes fail, as a full disk does.
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (64, hard))
    try:
        report = _export(catalog, dest, manifest=ManifestFormat.JSON)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)

    assert report.count(Action.FAILED) == 3
    assert len(report.problems) == 4
    assert sum("a.jpg" in p or "b.jpg" in p or "c.jpg" in p for p in report.problems) == 3
    assert "manifest was not written" in report.problems[-1]
    assert report.manifest is None
    assert [p.name for p in (dest / ANN).iterdir()] == []  # no half photo, no temporary file


def _finished_pid() -> int:
    """The id of a process that has ended."""
    child = subprocess.Popen([sys.executable, "-c", ""])
    child.wait()
    return child.pid


def test_the_next_export_removes_the_temporary_files_a_killed_export_left(
    tmp_path: Path,
) -> None:
    catalog, _ = build(tmp_path, SHOTS)
    dest = tmp_path / "out"
    _export(catalog, dest)
    album = dest / ANN
    dead = _finished_pid()
    left = [album / f".facealbum-{dead}-k2j4x9.part", album / ".facealbum-a8Zq_1x0.part",
            dest / f".facealbum-{dead}-q1w2e3.tmp"]
    running = [album / f".facealbum-{os.getpid()}-abcdef.part",  # being written now
               album / ".facealbum-1-abcdef.part"]  # process 1 is alive
    others = [album / "holiday.part", album / ".facealbum-notes.txt", dest / "x.part"]
    outside = tmp_path / f".facealbum-{dead}-zzzzzz.part"
    for path in [*left, *running, *others, outside]:
        path.write_bytes(b"half a photo")
    (album / "a.jpg").unlink()  # and one photo to add again

    report = _export(catalog, dest)

    assert report.stale_removed == len(left)
    assert not any(p.exists() for p in left)
    assert all(p.exists() for p in [*running, *others, outside])
    assert report.count(Action.ADDED) == 1 and not report.problems


@pytest.fixture
def pipe_for_a_photo(tmp_path: Path) -> Iterator[tuple[Catalog, Path]]:
    """A catalog whose photo b.jpg was swapped for a named pipe after the scan.
    A writer waits on the pipe so that a reader never hangs the test."""
    if not hasattr(os, "mkfifo"):
        pytest.skip("no named pipes here")
    catalog, folder = build(tmp_path, SHOTS)
    pipe = folder / "b.jpg"
    pipe.unlink()
    os.mkfifo(pipe)
    writer = threading.Thread(target=lambda: os.close(os.open(pipe, os.O_WRONLY)), daemon=True)
    writer.start()
    yield catalog, tmp_path / "out"
    release = os.open(pipe, os.O_RDONLY | os.O_NONBLOCK)
    writer.join()
    os.close(release)


def test_a_photo_swapped_for_a_named_pipe_is_that_photos_problem(
    pipe_for_a_photo: tuple[Catalog, Path],
) -> None:
    catalog, dest = pipe_for_a_photo
    report = _export(catalog, dest)
    (problem,) = report.problems
    assert "b.jpg" in problem and "not a regular file but a named pipe" in problem
    assert sorted(os.listdir(dest / ANN)) == ["a.jpg", "c.jpg"]


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero here")
def test_a_photo_swapped_for_a_link_to_dev_zero_is_refused_not_copied_without_end(
    tmp_path: Path,
) -> None:
    catalog, folder = build(tmp_path, SHOTS)
    (folder / "b.jpg").unlink()
    os.symlink("/dev/zero", folder / "b.jpg")
    report = _export(catalog, tmp_path / "out")
    (problem,) = report.problems
    assert "b.jpg" in problem and "not a regular file but a character device" in problem
    assert sorted(os.listdir(tmp_path / "out" / ANN)) == ["a.jpg", "c.jpg"]
