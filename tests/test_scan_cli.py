"""The scan and problems commands, as a script would call them."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from engine.cli.main import main

DEMO = Path(__file__).resolve().parent.parent / "resources" / "demo"


@pytest.mark.slow
def test_scan_json_prints_one_summary_with_counts_device_and_models(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    shutil.copy(DEMO / "group_apollo11_crew.jpg", folder)
    shutil.copy(DEMO / "noface_coffee.jpg", folder)
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 not really")

    code = main(["scan", str(folder), "--catalog", str(tmp_path / "c.sqlite"),
                 "--device", "cpu", "--json"])

    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["photos"] == 3
    assert summary["faces"] == 3
    assert summary["problems"] == 1
    assert summary["device"] == "cpu"
    assert summary["models"] == {"detector": "yunet", "embedder": "sface"}
    assert summary["seconds"] > 0


def test_problems_lists_each_unreadable_file_with_its_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "empty.jpg").write_bytes(b"")
    catalog = str(tmp_path / "c.sqlite")
    main(["scan", str(folder), "--catalog", catalog, "--device", "cpu", "--json"])
    capsys.readouterr()

    assert main(["problems", "--catalog", catalog, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [Path(r["path"]).name for r in rows] == ["empty.jpg"]
    assert "empty" in rows[0]["problem"]


def test_scan_of_a_path_that_is_not_a_folder_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["scan", str(tmp_path / "nowhere"), "--catalog", str(tmp_path / "c.sqlite")])
    assert code == 2
    assert "is not a folder" in capsys.readouterr().err


def test_help_answers_without_loading_torch() -> None:
    # A fresh interpreter: this test process has torch loaded already.
    code = (
        "import sys; from engine.cli.main import build_parser; build_parser(); "
        "print(sorted(m for m in ('torch', 'cv2', 'engine.scan') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert out.stdout.strip() == "[]"
