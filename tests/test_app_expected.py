"""What users of the app expected and did not find, each as a user would look for it.

The window runs on a small synthetic library (tiny photos drawn with Pillow,
faces placed around identity centres, grouped by the engine); no model is
loaded, and background work runs on a synchronous runner.
"""

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtWidgets import QDialog, QMessageBox
from pytestqt.qtbot import QtBot

from app.models import Role
from app.settings import Settings, SettingsStore
from app.views.confirm_all_dialog import ConfirmAllDialog
from engine import people
from engine.catalog import AssignedBy
from tests.test_app_bugs import Library, open_window, shown_ids
from tests.test_app_story import answer_dialog, select


@pytest.fixture
def library(tmp_path: Path) -> Iterator[Library]:
    """Anna (3 photos), Bert (2) and Carl (2), grouped; Anna is with Bert in two more."""
    lib = Library(tmp_path / "photos", tmp_path / "catalog.sqlite")
    lib.person("anna", 3)
    lib.person("bert", 2)
    lib.person("carl", 2)
    lib.photo("anna", "bert")
    lib.photo("bert", "anna")
    lib.group()
    lib.cat.checkpoint()
    yield lib
    lib.cat.close()


def person_with(lib: Library, name: str) -> int:
    first = {"anna": 0, "bert": 3, "carl": 5}[name]
    person = lib.cat.faces()[first].person_id
    assert person is not None
    return person


def click_in_dialog(button_text: str) -> None:
    """Click the button of that text on the next question box."""

    def click(dialog: QDialog) -> None:
        assert isinstance(dialog, QMessageBox)
        for button in dialog.buttons():
            if button.text() == button_text:
                button.click()
                return
        raise AssertionError(f"no {button_text!r} in {[b.text() for b in dialog.buttons()]}")

    answer_dialog(click)


# -- 1. a review queue across people ------------------------------------------------------


def test_review_confirms_all_remaining_at_once_and_goes_on_to_the_next_person(
    qtbot: QtBot, library: Library, tmp_path: Path
) -> None:
    cat = library.cat
    anna, bert = person_with(library, "anna"), person_with(library, "bert")
    people.name_person(cat, anna, "Anna")
    people.name_person(cat, bert, "Bert")
    # New photos of Anna and of Bert, not grouped yet: each is a suggestion.
    loose_anna = [library.photo("anna")[0] for _ in range(3)]
    loose_bert = [library.photo("bert")[0] for _ in range(2)]
    window = open_window(qtbot, tmp_path)
    review = window.review_page

    window.review_action.trigger()
    assert review.person_id == anna
    assert sorted(f for s in review.suggestions for f in s.face_ids) == sorted(loose_anna)
    assert review.all_button.isVisible()
    review.all_button.click()  # shows every question left, each checked
    (dialog,) = review.findChildren(ConfirmAllDialog)
    dialog.ok.click()
    assert all(cat.face(f).person_id == anna for f in loose_anna)
    assert all(cat.face(f).assigned_by is AssignedBy.USER for f in loose_anna)
    assert review.empty.title.text() == "All done"

    review.next_button.click()
    assert review.person_id == bert
    assert review.person_box.currentText() == "Bert"
    assert sorted(f for s in review.suggestions for f in s.face_ids) == sorted(loose_bert)

    # "Confirm all" was one change: one Undo takes every face back.
    window.undo_action.trigger()
    assert all(cat.face(f).person_id is None for f in loose_anna)


# -- 2. a person's cover chosen from their faces -------------------------------------------------


def test_a_face_chosen_as_cover_is_what_the_people_grid_shows(
    qtbot: QtBot, library: Library, tmp_path: Path
) -> None:
    anna = person_with(library, "anna")
    window = open_window(qtbot, tmp_path)
    before = window.people_model.cover(anna)
    assert before is not None
    window.show_person(anna)
    page = window.person_page
    page.tabs.setCurrentIndex(1)
    rows = [page.faces.index(r) for r in range(page.faces.rowCount())]
    other = next(i for i in rows if i.data(Role.ID) != before[0].id)
    assert not page.cover_button.isEnabled()
    select(page.face_grid, [other])
    assert page.cover_button.isVisible() and page.cover_button.isEnabled()
    page.cover_button.click()
    after = window.people_model.cover(anna)
    assert after is not None and after[0].id == other.data(Role.ID)
    assert window.notice.text.text().startswith("Chose a new cover")


# -- 3. photos of several people together -----------------------------------------------


def test_photos_of_people_named_together_are_found_from_the_people_page(
    qtbot: QtBot, library: Library, tmp_path: Path
) -> None:
    cat = library.cat
    people.name_person(cat, person_with(library, "anna"), "Anna")
    people.name_person(cat, person_with(library, "bert"), "Bert")
    window = open_window(qtbot, tmp_path)
    dialog = window.people_page.show_together("anna, Bert")
    assert dialog.photos.rowCount() == 2
    assert {p.relpath for p in dialog.photos.photos()} == {b"p008.jpg", b"p009.jpg"}
    assert dialog.status.text() == "2 photos with Anna and Bert"
    dialog.names.setText("Anna, Zed")
    assert "Nobody is named \u201cZed\u201d" in dialog.status.text()
    dialog.close()

    # The same from the selection: two people selected, then Together.
    page = window.people_page
    select(page.grid, [page.proxy.index(r, 0) for r in range(page.proxy.rowCount())
                       if page.proxy.index(r, 0).data(Role.NAMED)])
    page.together_button.click()
    shown = window.findChildren(type(dialog))[-1]
    assert shown.photos.rowCount() == 2


# -- 4. the library's folders, with remove --------------------------------------------------------


def test_the_folders_are_listed_and_a_missing_one_is_removed_after_asking(
    qtbot: QtBot, library: Library, tmp_path: Path
) -> None:
    cat = library.cat
    gone = tmp_path / "old disk"
    gone.mkdir()
    root = cat.root_id(gone)
    cat.add_photo(root, b"x.jpg", size=1, mtime_ns=1, sha256="f" * 64, width=120, height=90,
                  status=library.cat.photo(1).status)
    shutil.rmtree(gone)
    window = open_window(qtbot, tmp_path)
    dialog = window.show_folders()
    model = dialog.model
    rows = {model.index(r, 0).data(): r for r in range(model.rowCount())}
    assert set(rows) == {str(library.folder), str(gone)}
    assert model.index(rows[str(library.folder)], 1).data() == "9"
    assert model.index(rows[str(gone)], 2).data().startswith("Missing")
    assert not dialog.remove_button.isEnabled()

    dialog.table.selectRow(rows[str(gone)])
    click_in_dialog("Remove")
    dialog.remove_button.click()
    assert [r for r, _ in cat.roots()] == [library.root]
    assert [model.index(r, 0).data() for r in range(model.rowCount())] == [str(library.folder)]


def test_removing_a_folder_whose_faces_carry_names_asks_and_cancel_keeps_it(
    qtbot: QtBot, library: Library, tmp_path: Path
) -> None:
    cat = library.cat
    people.name_person(cat, person_with(library, "anna"), "Anna")
    window = open_window(qtbot, tmp_path)
    dialog = window.show_folders()
    dialog.table.selectRow(0)
    asked: list[str] = []

    def cancel(box: QDialog) -> None:
        assert isinstance(box, QMessageBox)
        asked.append(box.text())
        box.button(QMessageBox.StandardButton.Cancel).click()

    answer_dialog(cancel)
    dialog.remove_button.click()
    assert "5 faces" in asked[0] and "carry your decisions" in asked[0]
    assert len(cat.photos()) == 9  # kept

    click_in_dialog("Forget Anyway")
    dialog.remove_button.click()
    assert cat.roots() == [] and cat.photos() == []
    assert window.people_model.rowCount() == 0


# -- 5. the people sort is remembered -------------------------------------------------------


def test_the_people_order_chosen_is_the_order_at_the_next_start(
    qtbot: QtBot, library: Library, tmp_path: Path
) -> None:
    cat = library.cat
    by_size = [r.id for r in people.people_rows(cat)]
    people.name_person(cat, by_size[0], "Zora")
    people.name_person(cat, by_size[1], "Abe")
    window = open_window(qtbot, tmp_path)
    box = window.people_page.sort_box
    box.setCurrentIndex(box.findData("name"))
    window.close()

    store = SettingsStore(tmp_path / "settings.ini")
    assert store.load().people_sort == "name"
    again = open_window(qtbot, tmp_path, settings=store.load())
    assert again.people_page.sort_box.currentData() == "name"
    assert shown_ids(again)[:2] == [by_size[1], by_size[0]]


def test_a_sort_the_app_does_not_know_falls_back_to_most_photos() -> None:
    assert Settings(people_sort="shoe size").validated().people_sort == "photos"
