"""What the command line prints of a user's file names: safe and always printable."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.catalog import Catalog, PhotoStatus
from engine.cli.output import printable

REPO = Path(__file__).resolve().parent.parent


def _catalog_with_problem_photo(tmp_path: Path, name: bytes) -> Path:
    path = tmp_path / "c.sqlite"
    with Catalog(path) as catalog:
        root = catalog.root_id(tmp_path)
        catalog.add_photo(root, name, size=1, mtime_ns=1, sha256=None, width=None,
                          height=None, status=PhotoStatus.PROBLEM, problem="the file is empty")
    return path


def _problems(catalog: Path, *extra: str) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}
    env.pop("PYTHONIOENCODING", None)
    return subprocess.run(
        [sys.executable, "-m", "engine.cli.main", "--catalog", str(catalog), "problems", *extra],
        capture_output=True, env=env, cwd=REPO, timeout=120, check=False,
    )


def test_problems_prints_a_name_that_is_not_utf8_escaped(tmp_path: Path) -> None:
    catalog = _catalog_with_problem_photo(tmp_path, b"caf\xe9.jpg")
    done = _problems(catalog)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    assert b"caf\\xe9.jpg" in done.stdout
    assert b"Traceback" not in done.stderr


def test_problems_never_sends_a_terminal_escape_sequence_raw(tmp_path: Path) -> None:
    catalog = _catalog_with_problem_photo(tmp_path, b"\x1b]0;owned\x07\x1b[2J.jpg")
    done = _problems(catalog)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    assert b"\x1b" not in done.stdout and b"\x07" not in done.stdout
    assert b"\\x1b]0;owned\\x07\\x1b[2J.jpg" in done.stdout


def test_printable_keeps_ordinary_text_and_escapes_reordering_marks() -> None:
    assert printable("Zoë  Ørsted\tx\n") == "Zoë  Ørsted\tx\n"
    assert printable("gpj.\u202eexe") == "gpj.\\u202eexe"


def test_a_reader_that_stops_early_gets_no_traceback(tmp_path: Path) -> None:
    catalog = tmp_path / "c.sqlite"
    with Catalog(catalog) as cat:
        root = cat.root_id(tmp_path)
        for i in range(3000):
            cat.add_photo(root, f"p{i:05d}.jpg".encode(), size=1, mtime_ns=1, sha256=None,
                          width=None, height=None, status=PhotoStatus.PROBLEM,
                          problem="the file is empty")
    command = (f"{sys.executable} -m engine.cli.main --catalog {catalog} problems | head -1; "
               "exit ${PIPESTATUS[0]}")
    done = subprocess.run(["bash", "-c", command], capture_output=True, cwd=REPO,
                          timeout=120, check=False)
    assert done.stdout.startswith(b"id")
    assert b"Traceback" not in done.stderr and b"BrokenPipeError" not in done.stderr, done.stderr
    assert done.returncode == 141


def test_an_id_too_large_for_the_catalog_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from engine.cli.main import main

    catalog = str(tmp_path / "c.sqlite")
    for argv in (["name", str(2**63), "Anna"], ["merge", "1", "--into", str(2**64)],
                 ["faces", "-5"]):
        with pytest.raises(SystemExit) as stop:
            main([*argv, "--catalog", catalog])
        assert stop.value.code == 2
        err = capsys.readouterr().err
        assert "ids are whole numbers from 1 to 9223372036854775807" in err, err
