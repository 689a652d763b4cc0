"""Review's "Confirm All Remaining": every question left is shown before any is confirmed.

Late questions are far-fetched, and a confirmation is a fact no regrouping
undoes, so the button opens a dialog with one checked tile per question;
the user unchecks the strangers, and only the checked ones are confirmed,
as one change. The window runs on a small synthetic library (tiny photos
drawn with Pillow, faces placed around identity centres, grouped by the
engine) on a synchronous runner.
"""

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap
from PySide6.QtTest import QTest
from pytestqt.qtbot import QtBot

from app.main_window import MainWindow
from app.views.confirm_all_dialog import ConfirmAllDialog
from app.views.review_page import ReviewPage
from engine import people
from engine.catalog import AssignedBy
from tests.test_app_bugs import Library, open_window


class Album:
    """Anna (3 photos) and Bert (2), grouped; three people who look like Anna
    (``twins``, grouped apart from her, so one question of three faces); then
    three new photos of Anna, not grouped yet (a question each)."""

    def __init__(self, lib: Library) -> None:
        self.lib = lib
        lib.person("anna", 3)
        lib.person("bert", 2)
        near = lib.centres["anna"] + lib.rng.normal(size=lib.centres["anna"].shape) * 0.2
        lib.centres["twin"] = near / np.linalg.norm(near)
        self.twins = [lib.photo("twin")[0] for _ in range(3)]
        lib.group()
        self.anna = lib.cat.faces()[0].person_id or 0
        self.twin_person = lib.cat.face(self.twins[0]).person_id
        assert self.twin_person not in (None, self.anna)
        self.loose = [lib.photo("anna")[0] for _ in range(3)]
        lib.cat.checkpoint()


@pytest.fixture
def album(tmp_path: Path) -> Iterator[Album]:
    lib = Library(tmp_path / "photos", tmp_path / "catalog.sqlite")
    yield Album(lib)
    lib.cat.close()


def review_anna(qtbot: QtBot, album: Album, tmp_path: Path, name: str = "Anna") -> ReviewPage:
    if name:
        people.name_person(album.lib.cat, album.anna, name)
    window = open_window(qtbot, tmp_path)
    window.show_review(album.anna)
    review = window.review_page
    qtbot.waitUntil(lambda: not review.loading)
    asked = sorted(f for s in review.suggestions for f in s.face_ids)
    assert asked == sorted(album.loose + album.twins)
    return review


def open_confirm_all(qtbot: QtBot, review: ReviewPage) -> ConfirmAllDialog:
    """Click "Confirm All Remaining" and wait for its dialog to take the keyboard."""
    assert review.all_button.isVisible()
    review.all_button.click()
    shown = [d for d in review.findChildren(ConfirmAllDialog) if d.isVisible()]
    assert len(shown) == 1
    qtbot.waitUntil(shown[0].grid.hasFocus)
    return shown[0]


def tile_of(dialog: ConfirmAllDialog, face_id: int) -> int:
    """The row of the tile whose question asks about ``face_id``."""
    rows = [r for r in range(dialog.model.rowCount())
            if face_id in dialog.model.question(r).face_ids]
    assert len(rows) == 1
    return rows[0]


def click_tile(dialog: ConfirmAllDialog, row: int) -> None:
    rect = dialog.grid.visualRect(dialog.model.index(row))
    QTest.mouseClick(dialog.grid.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def checked(dialog: ConfirmAllDialog) -> list[bool]:
    model = dialog.model
    return [model.index(r).data(Qt.ItemDataRole.CheckStateRole) == Qt.CheckState.Checked
            for r in range(model.rowCount())]


def confirmed_for(album: Album, face_ids: list[int]) -> bool:
    """Every one of these faces is Anna's, by the user's word."""
    cat = album.lib.cat
    return all(cat.face(f).person_id == album.anna
               and cat.face(f).assigned_by is AssignedBy.USER for f in face_ids)


def window_of(review: ReviewPage) -> MainWindow:
    window = review.window()
    assert isinstance(window, MainWindow)
    return window


def test_confirm_all_remaining_shows_every_question_left_checked_before_confirming(
    qtbot: QtBot, album: Album, tmp_path: Path
) -> None:
    review = review_anna(qtbot, album, tmp_path)
    review.skip()  # the first question stays behind: it is not "remaining"
    remaining = review.suggestions[1:]
    dialog = open_confirm_all(qtbot, review)

    assert [dialog.model.question(r) for r in range(dialog.model.rowCount())] == remaining
    assert all(checked(dialog))
    assert dialog.heading.text() == "Confirm these as Anna?"
    faces = sum(len(s.face_ids) for s in remaining)
    assert dialog.ok.text() == f"Confirm {faces} Faces"
    assert dialog.ok.isEnabled()
    group = dialog.model.index(tile_of(dialog, album.twins[0]))
    assert group.data(Qt.ItemDataRole.DisplayRole) == "+2 more"
    # Each tile shows its face, read and decoded off the GUI thread.
    qtbot.waitUntil(lambda: all(
        isinstance(dialog.model.index(r).data(Qt.ItemDataRole.DecorationRole), QPixmap)
        for r in range(dialog.model.rowCount())))
    # Nothing is confirmed before the user says so.
    cat = album.lib.cat
    assert all(cat.face(f).assigned_by is not AssignedBy.USER for f in album.loose + album.twins)
    dialog.reject()


def test_unchecked_questions_are_not_confirmed_and_are_asked_afterwards(
    qtbot: QtBot, album: Album, tmp_path: Path
) -> None:
    review = review_anna(qtbot, album, tmp_path)
    total = len(review.suggestions)
    dialog = open_confirm_all(qtbot, review)
    click_tile(dialog, tile_of(dialog, album.twins[0]))  # the look-alikes are not Anna
    assert checked(dialog).count(False) == 1
    assert dialog.ok.text() == f"Confirm {len(album.loose)} Faces"
    dialog.ok.click()

    cat = album.lib.cat
    assert confirmed_for(album, album.loose)
    # Not rejected either: still theirs, and asked about next.
    assert all(cat.face(f).person_id == album.twin_person for f in album.twins)
    assert sorted(review.current().face_ids) == sorted(album.twins)
    assert review.counter.text() == f"{total} of {total}"
    assert not review.all_button.isVisible()  # one question left: Yes says it
    review.skip()
    assert review.empty.title.text() == "All done"
    assert review.empty.text.text().startswith(f"You answered {total - 1} of {total} ")


def test_one_undo_takes_back_every_face_confirmed_at_once(
    qtbot: QtBot, album: Album, tmp_path: Path
) -> None:
    review = review_anna(qtbot, album, tmp_path)
    dialog = open_confirm_all(qtbot, review)
    dialog.ok.click()
    assert confirmed_for(album, album.loose + album.twins)
    assert review.empty.title.text() == "All done"

    window_of(review).undo_action.trigger()
    cat = album.lib.cat
    assert all(cat.face(f).person_id is None for f in album.loose)
    assert all(cat.face(f).person_id == album.twin_person for f in album.twins)


def test_cancel_changes_nothing(qtbot: QtBot, album: Album, tmp_path: Path) -> None:
    review = review_anna(qtbot, album, tmp_path)
    before = (review.position, review.answered, review.counter.text())
    dialog = open_confirm_all(qtbot, review)
    QTest.keyClick(dialog.grid, Qt.Key.Key_Escape)
    assert not dialog.isVisible()
    cat = album.lib.cat
    assert all(cat.face(f).person_id is None for f in album.loose)
    assert all(cat.face(f).person_id == album.twin_person for f in album.twins)
    assert (review.position, review.answered, review.counter.text()) == before


def test_confirm_is_disabled_when_nothing_is_checked(
    qtbot: QtBot, album: Album, tmp_path: Path
) -> None:
    review = review_anna(qtbot, album, tmp_path)
    dialog = open_confirm_all(qtbot, review)
    for row in range(dialog.model.rowCount()):
        click_tile(dialog, row)
    assert not any(checked(dialog))
    assert not dialog.ok.isEnabled()
    QTest.keyClick(dialog.grid, Qt.Key.Key_Return)  # Enter confirms nothing
    assert dialog.isVisible()
    assert all(album.lib.cat.face(f).person_id is None for f in album.loose)
    dialog.reject()


def test_the_dialog_works_from_the_keyboard(
    qtbot: QtBot, album: Album, tmp_path: Path
) -> None:
    review = review_anna(qtbot, album, tmp_path)
    dialog = open_confirm_all(qtbot, review)
    assert dialog.grid.currentIndex().row() == 0
    QTest.keyClick(dialog.grid, Qt.Key.Key_Right)
    QTest.keyClick(dialog.grid, Qt.Key.Key_Space)  # the second question is unchecked
    assert checked(dialog) == [True, False] + [True] * (dialog.model.rowCount() - 2)
    QTest.keyClick(dialog.grid, Qt.Key.Key_Space)
    QTest.keyClick(dialog.grid, Qt.Key.Key_Space)
    kept = dialog.model.question(1)
    QTest.keyClick(dialog.grid, Qt.Key.Key_Return)
    assert not dialog.isVisible()
    assert review.current() == kept
    cat = album.lib.cat
    asked = [f for s in review.suggestions if s != kept for f in s.face_ids]
    assert confirmed_for(album, asked)
    assert all(cat.face(f).assigned_by is not AssignedBy.USER for f in kept.face_ids)


def test_an_unnamed_person_is_asked_about_as_this_person(
    qtbot: QtBot, album: Album, tmp_path: Path
) -> None:
    review = review_anna(qtbot, album, tmp_path, name="")
    dialog = open_confirm_all(qtbot, review)
    assert dialog.heading.text() == "Confirm these as this person?"
    dialog.reject()
