"""Reading what ``facealbum eval`` is given: identity folders and LFW pairs files."""

from pathlib import Path

import pytest

from engine.people.evaluate import EvaluationError, read_pairs, select_photos


def write_pairs(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_pairs_are_read_fold_by_fold(tmp_path: Path) -> None:
    pairs = read_pairs(write_pairs(tmp_path / "pairs.txt", (
        "2 1\n"
        "Anna 1 2\n"
        "Anna 1 Ben 3\n"
        "Cara 2 4\n"
        "Cara 1 Dan 1\n"
    )))
    assert pairs == [
        ("Anna", 1, "Anna", 2, 0),
        ("Anna", 1, "Ben", 3, 0),
        ("Cara", 2, "Cara", 4, 1),
        ("Cara", 1, "Dan", 1, 1),
    ]


def test_a_pairs_file_that_does_not_add_up_is_refused(tmp_path: Path) -> None:
    with pytest.raises(EvaluationError, match="announces 3 folds"):
        read_pairs(write_pairs(tmp_path / "pairs.txt", "3 1\nAnna 1 2\nAnna 1 Ben 3\n"))
    with pytest.raises(EvaluationError, match="not an LFW pairs file"):
        read_pairs(write_pairs(tmp_path / "bad.txt", "two folds\n"))


def test_identities_with_too_few_photos_are_left_out_and_big_ones_capped(tmp_path: Path) -> None:
    for name, count in (("Anna", 5), ("Ben", 1), ("Cara", 3)):
        (tmp_path / name).mkdir()
        for i in range(count):
            (tmp_path / name / f"{name}_{i + 1:04d}.jpg").write_bytes(b"")
    chosen = select_photos(tmp_path, min_images=2, max_per_identity=4)
    assert [c[0] for c in chosen] == ["Anna"] * 4 + ["Cara"] * 3
    with pytest.raises(EvaluationError, match="lower --min-images"):
        select_photos(tmp_path, min_images=10)
