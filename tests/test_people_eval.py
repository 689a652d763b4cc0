"""Reading what ``facealbum eval`` is given: identity folders and LFW pairs files."""

from pathlib import Path

import pytest

from engine.people.evaluate import (
    EvalResult,
    EvaluationError,
    _score_pairs,
    read_pairs,
    select_photos,
)
from tests.test_context import album_with_profiles


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


def test_pairs_are_scored_alone_and_in_the_context_of_all_faces() -> None:
    # Person 0's profiles (rows 120-122) lie farther from person 0's photos
    # than the look-alikes 2 and 3 lie from each other: alone, no threshold
    # tells the pairs apart; among the album's faces, every pair is right.
    vectors = album_with_profiles()
    names = {0: "Anna", 2: "Sam", 3: "Tom"}
    central: dict[str, int] = {}
    for person, name in names.items():
        for i in range(10):
            central[f"{name}/{name}_{i + 1:04d}.jpg"] = 1000 + 10 * person + i
    for j in range(3):
        central[f"Anna/Anna_{11 + j:04d}.jpg"] = 2000 + j
    row_of = {
        face: (face - 1000 if face < 2000 else 120 + face - 2000) for face in central.values()
    }
    pairs = [
        ("Anna", 11, "Anna", 1, 1), ("Sam", 1, "Tom", 1, 1),
        ("Anna", 12, "Anna", 2, 2), ("Sam", 2, "Tom", 2, 2),
        ("Anna", 13, "Anna", 3, 3), ("Sam", 3, "Tom", 3, 3),
    ]
    result = EvalResult()
    _score_pairs(result, pairs, central, row_of, vectors)
    assert result.pairs == 6
    assert result.verification_accuracy is not None and result.verification_accuracy <= 0.5
    assert result.context_verification_accuracy == 1.0
    assert result.to_json()["context_verification_accuracy"] == 1.0

    # A photo without a face makes its pair "different", alone and in context.
    del central["Anna/Anna_0011.jpg"]
    _score_pairs(result, pairs, central, row_of, vectors)
    assert result.context_verification_accuracy is not None
    assert result.context_verification_accuracy < 1.0
