"""The people commands on real photos: the demo album, and a few LFW identities."""

import csv
import json
from pathlib import Path

import pytest

from engine.cli.main import main

DEMO = Path(__file__).resolve().parent.parent / "resources" / "demo"


def run_cli(capsys: pytest.CaptureFixture[str], catalog: Path, *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["--catalog", str(catalog), *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_people_of_the_demo_album_match_its_labels(
    scanned_demo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(capsys, scanned_demo, "recluster")[0] == 0
    code, out, _ = run_cli(capsys, scanned_demo, "people", "--json")
    assert code == 0
    found = json.loads(out)
    assert found, "the demo album has people seen several times"
    for person in found:
        assert set(person) >= {"id", "name", "face_count", "photos", "hidden", "cover_face_id"}
        assert all(not Path(p).is_absolute() for p in person["photos"])
    with (DEMO / "labels.csv").open() as f:
        label = {row["file"]: row["identity"] for row in csv.DictReader(f)}
    # The two babies are different children, but SFace (trained on adults)
    # puts them at squared distance 0.93, nearer than many photos of one
    # adult; they are the album's one known confusion and are left out here.
    babies = {"pexels_baby_happy", "pexels_baby_sad"}
    groups = [{label.get(p) for p in person["photos"]} - babies for person in found]
    # Each person found is one labelled identity, and each identity seen
    # several times is found as one person.
    assert all(len(g) <= 1 for g in groups), groups
    for identity in ("Barack_Obama", "Jacques_Chirac"):
        photos = {p for p, who in label.items() if who == identity}
        assert any(set(person["photos"]) == photos for person in found), identity


def test_name_undo_redo_and_history_from_the_command_line(
    scanned_demo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_cli(capsys, scanned_demo, "recluster")
    person = json.loads(run_cli(capsys, scanned_demo, "people", "--json")[1])[0]["id"]
    assert run_cli(capsys, scanned_demo, "name", str(person), "Anna")[0] == 0
    assert run_cli(capsys, scanned_demo, "hide", str(person))[0] == 0
    listed = json.loads(run_cli(capsys, scanned_demo, "people", "--json")[1])
    assert person not in {p["id"] for p in listed}
    assert "Undid" in run_cli(capsys, scanned_demo, "undo")[1]
    listed = json.loads(run_cli(capsys, scanned_demo, "people", "--json")[1])
    assert {p["id"]: p["name"] for p in listed}[person] == "Anna"
    assert "Redid" in run_cli(capsys, scanned_demo, "redo")[1]
    history = json.loads(run_cli(capsys, scanned_demo, "history", "--json")[1])
    assert [h["kind"] for h in history] == ["hide", "name"]


def test_unknown_ids_end_the_command_with_how_to_list_valid_ones(
    scanned_demo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_cli(capsys, scanned_demo, "name", "999", "Nobody")
    assert code == 2
    assert "no person with id 999" in err and "facealbum people" in err
    code, _, err = run_cli(capsys, scanned_demo, "reject", "123456", "--from", "1")
    assert code == 2
    assert "123456" in err


def test_clustering_parameters_can_be_set_and_out_of_range_ones_are_refused(
    scanned_demo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(capsys, scanned_demo, "recluster")[0] == 0
    pairs = [p for p in json.loads(run_cli(capsys, scanned_demo, "people", "--json")[1])
             if p["face_count"] == 2]
    assert pairs, "the demo album has people seen exactly twice"
    # Groups of two are not people when a person needs three faces.
    assert run_cli(capsys, scanned_demo, "recluster", "--min-size", "3")[0] == 0
    listed = json.loads(run_cli(capsys, scanned_demo, "people", "--json")[1])
    sizes = [p["face_count"] for p in listed]
    assert sizes and min(sizes) >= 3
    code, _, err = run_cli(capsys, scanned_demo, "recluster", "--attach-rate", "1.5")
    assert code == 2 and "attach_rate" in err
    code, _, err = run_cli(capsys, scanned_demo, "recluster", "--strictness", "2")
    assert code == 2 and "strictness" in err


def test_eval_scores_a_few_lfw_identities(
    lfw_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run_cli(
        capsys, tmp_path / "unused.sqlite", "eval", str(lfw_dir / "images"),
        "--min-images", "30", "--max-per-identity", "3", "--device", "cpu", "--json",
    )
    assert code == 0
    result = json.loads(out)
    for key in ("bcubed_f1", "bcubed_precision", "bcubed_recall", "pairwise_f1",
                "pairwise_precision", "pairwise_recall", "clusters", "identities", "faces",
                "unassigned_fraction", "verification_accuracy"):
        assert key in result
    assert result["identities"] >= 3
    assert result["bcubed_f1"] > 0.9
