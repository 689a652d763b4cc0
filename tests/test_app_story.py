"""The desktop app driven like a user would: real widgets, a real scanned catalog.

Each test opens the main window on a private copy of the scanned demo album
(people grouped by the engine), clicks, types and presses keys, then checks
both the catalog and what the views show. Background work runs on a
synchronous runner so it finishes before the next line, except in the scan
test, which runs the real worker threads and waits for their signals.
"""

import shutil
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from PySide6.QtCore import QItemSelectionModel, QMimeData, QModelIndex, Qt, QTimer
from PySide6.QtGui import QDropEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QDialog,
    QLabel,
    QLineEdit,
    QMessageBox,
)
from pytestqt.qtbot import QtBot

from app.images import ImageCache
from app.main_window import MainWindow
from app.models import PERSON_MIME, Role
from app.session import Session
from app.settings import Settings, SettingsStore
from app.views.choose_person import ChoosePersonDialog
from app.views.export_dialog import ExportDialog
from app.views.people_page import MergeDialog
from app.views.photo_viewer import PhotoViewer
from app.views.settings_dialog import SettingsDialog
from app.workers import Runner, SyncRunner, ThreadRunner
from engine import people
from engine.catalog import Catalog

DEMO = Path(__file__).resolve().parent.parent / "resources" / "demo"


@pytest.fixture
def clustered_demo(scanned_demo: Path) -> Path:
    """The scanned demo album with its faces grouped into people, as after a GUI scan."""
    with Catalog(scanned_demo) as catalog:
        for _ in people.update_people(catalog):
            pass
    return scanned_demo


def open_window(qtbot: QtBot, catalog: Path, tmp_path: Path, runner: Runner | None = None
                ) -> MainWindow:
    runner = runner or SyncRunner()
    settings = Settings(catalog_path=str(catalog), device="cpu")
    session = Session(catalog, settings, runner, ImageCache(tmp_path / "thumbs", runner))
    window = MainWindow(session, SettingsStore(tmp_path / "settings.ini"))
    qtbot.addWidget(window)
    window.show()
    window.activateWindow()
    assert QTest.qWaitForWindowActive(window, 5000)  # keys reach the focused widget
    return window


def person_in(window: MainWindow, photo_name: str) -> int:
    """The id of the person whose album holds ``photo_name``."""
    for summary in people.people(window.session.catalog, include_hidden=True):
        if photo_name in summary.photos:
            return summary.id
    raise AssertionError(f"nobody is in {photo_name}")


def grid_index(window: MainWindow, person_id: int) -> QModelIndex:
    proxy = window.people_page.proxy
    for row in range(proxy.rowCount()):
        index = proxy.index(row, 0)
        if index.data(Role.ID) == person_id:
            return index
    raise AssertionError(f"person {person_id} is not shown in the grid")


def shown_names(window: MainWindow) -> list[str]:
    proxy = window.people_page.proxy
    return [str(proxy.index(r, 0).data()) for r in range(proxy.rowCount())]


def answer_dialog(action: Callable[[QDialog], None]) -> None:
    """Act on the next modal dialog as soon as it opens (exec() blocks the test)."""

    def handle() -> None:
        dialog = QApplication.activeModalWidget()
        if isinstance(dialog, QDialog):
            action(dialog)
        else:
            QTimer.singleShot(10, handle)

    QTimer.singleShot(0, handle)


def select(view: QAbstractItemView, indexes: list[QModelIndex]) -> None:
    """Select items as Ctrl+click would."""
    model = view.selectionModel()
    model.clearSelection()
    view.setCurrentIndex(indexes[0])
    for index in indexes:
        model.select(index, QItemSelectionModel.SelectionFlag.Select)


# -- first run and scanning -----------------------------------------------------------


def test_a_new_user_scans_a_folder_on_a_worker_and_people_appear(
    qtbot: QtBot, tmp_path: Path
) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("obama_1.jpg", "obama_2.jpg", "chirac_1.jpg", "chirac_2.jpg", "noface_pen.jpg"):
        shutil.copy(DEMO / name, folder / name)
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not a photo")
    catalog = tmp_path / "catalog.sqlite"
    window = open_window(qtbot, catalog, tmp_path, ThreadRunner())
    assert window.stack.currentWidget() is window.welcome

    window.scan([folder])
    job = window.session.jobs[0]
    assert window.banner.isVisible() and window.banner.cancel_button.isVisible()
    # Before the first people are in, the empty grid says they are being looked for.
    assert window.people_page.empty.title.text() == "Looking for people…"
    with qtbot.waitSignal(job.ended, timeout=180_000):
        pass
    qtbot.waitUntil(lambda: window.people_model.rowCount() == 2, timeout=10_000)
    assert window.people_page.empty.title.text() == "No people yet"

    assert window.stack.currentWidget() is window.people_page
    assert shown_names(window) == ["Unnamed", "Unnamed"]
    assert window.banner.title.text() == "Done"
    assert "1 skipped" in window.banner.problems_button.text()
    problems = window.problems_model
    qtbot.waitUntil(lambda: problems.rowCount() == 1)  # read off the GUI thread
    assert problems.index(0, 0).data() == str(folder / "broken.jpg")  # with its folder
    assert problems.index(0, 1).data()  # the reason is shown
    assert window.rescan_action.isEnabled()


def test_cancel_stops_a_scan_and_scanning_again_finishes_it(
    qtbot: QtBot, tmp_path: Path
) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("obama_1.jpg", "obama_2.jpg", "obama_3.jpg", "obama_4.jpg"):
        shutil.copy(DEMO / name, folder / name)
    window = open_window(qtbot, tmp_path / "catalog.sqlite", tmp_path, ThreadRunner())
    job = window.scan([folder])
    assert job is not None
    with qtbot.waitSignal(job.ended, timeout=180_000):
        window.banner.cancel_button.click()
    assert window.banner.title.text() == "Stopped"
    assert "Scan again" in window.banner.detail.text()
    assert len(window.session.catalog.photos()) < 4

    again = window.scan([folder])
    assert again is not None
    with qtbot.waitSignal(again.ended, timeout=180_000):
        pass
    assert window.banner.title.text() == "Done"
    assert len(window.session.catalog.photos()) == 4


def test_scanning_again_is_one_click_and_reads_only_what_changed(
    qtbot: QtBot, clustered_demo: Path, tmp_path: Path
) -> None:
    window = open_window(qtbot, clustered_demo, tmp_path)
    assert window.stack.currentWidget() is window.people_page
    before = shown_names(window)
    scanned_at = {p.id: p.scanned_at for p in window.session.catalog.photos()}
    window.rescan_action.trigger()  # synchronous runner: the scan is over
    assert window.banner.title.text() == "Done"
    assert shown_names(window) == before
    assert {p.id: p.scanned_at for p in window.session.catalog.photos()} == scanned_at


# -- naming, merging ------------------------------------------------------------------


def test_naming_a_person_in_place_then_undo_and_redo_from_the_edit_menu(
    qtbot: QtBot, clustered_demo: Path, tmp_path: Path
) -> None:
    window = open_window(qtbot, clustered_demo, tmp_path)
    obama = person_in(window, "obama_1.jpg")
    grid = window.people_page.grid
    grid.setFocus()
    grid.setCurrentIndex(grid_index(window, obama))
    qtbot.keyClick(grid, Qt.Key.Key_F2)
    editor = grid.findChild(QLineEdit)
    assert editor is not None and editor.isVisible()
    qtbot.keyClicks(editor, "Barack Obama")
    qtbot.keyClick(editor, Qt.Key.Key_Return)  # Qt commits on the next turn of the loop
    qtbot.waitUntil(lambda: window.session.catalog.person(obama).name == "Barack Obama")
    assert "Barack Obama" in shown_names(window)
    window.edit_menu.aboutToShow.emit()
    assert "Barack Obama" in window.undo_action.text()

    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert window.session.catalog.person(obama).name is None
    assert "Barack Obama" not in shown_names(window)
    assert "Barack Obama" in window.redo_action.text()

    qtbot.keyClick(window, Qt.Key.Key_Z,
                   Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert window.session.catalog.person(obama).name == "Barack Obama"
    assert "Barack Obama" in shown_names(window)


def test_typing_a_name_someone_has_offers_to_merge_the_two(
    qtbot: QtBot, clustered_demo: Path, tmp_path: Path
) -> None:
    window = open_window(qtbot, clustered_demo, tmp_path)
    obama, chirac = person_in(window, "obama_1.jpg"), person_in(window, "chirac_1.jpg")
    window.session.apply("Name", people.name_person, obama, "Barack Obama")
    asked: list[QDialog] = []

    def merge(dialog: QDialog) -> None:
        asked.append(dialog)
        dialog.accept()

    answer_dialog(merge)
    window.people_page.rename(chirac, "barack obama")

    assert isinstance(asked[0], MergeDialog)
    assert window.session.catalog.person(chirac).merged_into == obama
    assert len(people.person_faces(window.session.catalog, obama)) == 8
    assert shown_names(window).count("Barack Obama") == 1


def test_merging_selected_people_asks_first_and_shows_both(
    qtbot: QtBot, clustered_demo: Path, tmp_path: Path
) -> None:
    window = open_window(qtbot, clustered_demo, tmp_path)
    rudd, chirac = person_in(window, "paul_rudd_1.jpg"), person_in(window, "chirac_1.jpg")
    window.session.apply("Name", people.name_person, rudd, "Paul Rudd")
    before = len(shown_names(window))
    page = window.people_page
    select(page.grid, [grid_index(window, chirac), grid_index(window, rudd)])
    assert page.merge_button.isEnabled()

    answer_dialog(lambda dialog: dialog.reject())
    page.merge_button.click()
    assert window.session.catalog.person(chirac).merged_into is None  # cancelled: nothing changed

    shown: list[str] = []

    def accept(dialog: QDialog) -> None:
        shown.extend(label.text() for label in dialog.findChildren(QLabel))
        dialog.accept()

    answer_dialog(accept)
    page.merge_button.click()
    assert window.session.catalog.person(chirac).merged_into == rudd  # into the named one
    assert "Paul Rudd" in shown and "Unnamed" in shown
    assert len(shown_names(window)) == before - 1


def test_dragging_one_person_onto_another_merges_them_after_confirmation(
    qtbot: QtBot, clustered_demo: Path, tmp_path: Path
) -> None:
    window = open_window(qtbot, clustered_demo, tmp_path)
    chirac, rudd = person_in(window, "chirac_1.jpg"), person_in(window, "paul_rudd_1.jpg")
    grid = window.people_page.grid
    data = QMimeData()
    data.setData(PERSON_MIME, str(chirac).encode())
    target = grid.visualRect(grid_index(window, rudd)).center()
    drop = QDropEvent(target.toPointF(), Qt.DropAction.MoveAction, data,
                      Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    answer_dialog(lambda dialog: dialog.accept())
    grid.dropEvent(drop)
    assert window.session.catalog.person(chirac).merged_into == rudd


# -- correcting a person's faces ---------------------------------------------------------


def open_faces_of(window: MainWindow, person_id: int) -> None:
    window.show_person(person_id)
    window.person_page.tabs.setCurrentIndex(1)


def test_new_person_from_selected_faces_splits_them_off(
    qtbot: QtBot, clustered_demo: Path, tmp_path: Path
) -> None:
    window = open_window(qtbot, clustered_demo, tmp_path)
    obama = person_in(window, "obama_1.jpg")
    open_faces_of(window, obama)
    page = window.person_page
    assert page.faces.rowCount() == 4
    assert page.photos.rowCount() == 4
    select(page.face_grid, [page.faces.index(0)])
    moved = page.selected_face_ids()
    assert page.split_button.isEnabled()
    page.split_button.click()

    new_person = page.person_id
    assert new_person is not None and new_person != obama
    assert [f.id for f in window.session.catalog.faces(person_id=new_person)] == moved
    assert len(people.person_faces(window.session.catalog, obama)) == 3
    assert page.faces.rowCount() == 1  # the window shows the new person

    window.undo_action.trigger()
    assert len(people.person_faces(window.session.catalog, obama)) == 4
    assert window.stack.currentWidget() is window.people_page  # the new person is gone


def test_not_this_person_removes_faces_for_good(
    qtbot: QtBot, clustered_demo: Path, tmp_path: Path
) -> None:
    window = open_window(qtbot, clustered_demo, tmp_path)
    chirac = person_in(window, "chirac_1.jpg")
    open_faces_of(window, chirac)
    page = window.person_page
    select(page.face_grid, [page.faces.index(1), page.faces.index(2)])
    rejected = page.selected_face_ids()
    page.face_grid.setFocus()
    qtbot.keyClick(page.face_grid, Qt.Key.Key_Delete)

    catalog = window.session.catalog
    assert page.faces.rowCount() == 2
    assert sorted(people.rejected_faces(catalog, chirac)) == rejected
    assert all(catalog.face(f).person_id != chirac for f in rejected)
    assert page.tabs.tabText(1) == "Faces (2)"


def test_move_to_gives_faces_to_the_person_chosen_by_name(
    qtbot: QtBot, clustered_demo: Path, tmp_path: Path
) -> None:
    window = open_window(qtbot, clustered_demo, tmp_path)
    obama, chirac = person_in(window, "obama_1.jpg"), person_in(window, "chirac_1.jpg")
    window.session.apply("Name", people.name_person, obama, "Barack Obama")
    open_faces_of(window, chirac)
    page = window.person_page
    select(page.face_grid, [page.faces.index(0)])
    face = page.selected_face_ids()[0]

    def choose(dialog: QDialog) -> None:
        assert isinstance(dialog, ChoosePersonDialog)
        dialog.search.setText("bara")
        assert dialog.chosen() == obama
        dialog.accept()

    answer_dialog(choose)
    page.move_button.click()
    assert window.session.catalog.face(face).person_id == obama
    assert window.session.catalog.face(face).assigned_by == "user"
    assert page.faces.rowCount() == 3


def test_the_pile_of_faces_of_nobody_can_be_given_a_person(
    qtbot: QtBot, clustered_demo: Path, tmp_path: Path
) -> None:
    window = open_window(qtbot, clustered_demo, tmp_path)
    unassigned = len(people.unassigned_faces(window.session.catalog))
    assert unassigned > 0
    page = window.people_page
    assert page.unassigned_button.text() == f"Faces without a person ({unassigned})"
    page.unassigned_button.click()
    person_page = window.person_page
    assert window.stack.currentWidget() is person_page
    assert person_page.faces.rowCount() == unassigned
    select(person_page.face_grid, [person_page.faces.index(0)])
    person_page.not_face_button.click()
    assert len(people.unassigned_faces(window.session.catalog)) == unassigned - 1


def test_double_clicking_a_photo_shows_it_large_with_named_face_boxes(
    qtbot: QtBot, clustered_demo: Path, tmp_path: Path
) -> None:
    window = open_window(qtbot, clustered_demo, tmp_path)
    obama = person_in(window, "obama_1.jpg")
    window.session.apply("Name", people.name_person, obama, "Barack Obama")
    window.show_person(obama)
    page = window.person_page
    album = page.album
    index = page.photos.index(0)
    rect = album.visualRect(index)
    qtbot.mouseClick(album.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.mouseDClick(album.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    viewer = page.findChild(PhotoViewer)
    assert viewer is not None and viewer.isVisible()
    names = [name for _box, name, _named in viewer.canvas.faces]
    assert "Barack Obama" in names
    qtbot.keyClick(viewer, Qt.Key.Key_Right)
    assert viewer.row == 1
    qtbot.waitUntil(lambda: viewer.canvas.pixmap is not None, timeout=5000)


# -- review ---------------------------------------------------------------------------------


def test_review_answers_yes_and_no_with_keys_and_undo_takes_one_back(
    qtbot: QtBot, clustered_demo: Path, tmp_path: Path
) -> None:
    window = open_window(qtbot, clustered_demo, tmp_path)
    obama = person_in(window, "obama_1.jpg")
    catalog = window.session.catalog
    window.session.apply("Name", people.name_person, obama, "Barack Obama")
    # Two of his faces lose their person without being rejected: the engine
    # should then suggest them back.
    loose = [f.id for f in people.person_faces(catalog, obama)[2:]]
    window.session.apply("Unassign", people.mark_faces, loose, "stranger")
    window.session.apply("Unassign", people.mark_faces, loose, "face")

    window.show_review(obama)
    review = window.review_page
    assert review.person_box.currentText() == "Barack Obama"
    suggested = [list(s.face_ids) for s in review.suggestions]
    assert len(suggested) >= 2
    assert review.question.text() in ("Is this Barack Obama?", "Are these Barack Obama?")
    qtbot.keyClick(review, Qt.Key.Key_Y)
    assert all(catalog.face(f).person_id == obama for f in suggested[0])
    assert "2 of" in review.counter.text()
    qtbot.keyClick(review, Qt.Key.Key_N)
    assert set(suggested[1]) <= set(people.rejected_faces(catalog, obama))

    qtbot.keyClick(review, Qt.Key.Key_Left)
    assert "2 of" in review.counter.text()
    window.undo_action.trigger()
    assert not set(suggested[1]) & set(people.rejected_faces(catalog, obama))


def test_review_suggestions_are_worked_out_off_the_gui_thread(
    qtbot: QtBot, clustered_demo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: list[threading.Thread] = []
    suggest = people.suggest

    def recording_suggest(cat: Catalog, person_id: int) -> list[people.Suggestion]:
        threads.append(threading.current_thread())
        return suggest(cat, person_id)

    monkeypatch.setattr(people, "suggest", recording_suggest)
    window = open_window(qtbot, clustered_demo, tmp_path, ThreadRunner())
    qtbot.waitUntil(lambda: window.people_model.rowCount() > 0, timeout=10_000)
    window.show_review(person_in(window, "obama_1.jpg"))
    review = window.review_page
    qtbot.waitUntil(lambda: not review.loading, timeout=10_000)
    assert threads and threading.main_thread() not in threads
    shown = review.stack.currentWidget()
    assert shown is review.card or review.empty.title.text() == "Nothing to review"


# -- export, settings, errors -------------------------------------------------------------------


def test_export_dialog_copies_chosen_people_into_named_folders_with_sidecars(
    qtbot: QtBot, clustered_demo: Path, tmp_path: Path
) -> None:
    window = open_window(qtbot, clustered_demo, tmp_path)
    obama, chirac = person_in(window, "obama_1.jpg"), person_in(window, "chirac_1.jpg")
    window.session.apply("Name", people.name_person, obama, "Barack Obama")
    window.session.apply("Name", people.name_person, chirac, "Jacques Chirac")
    dialog = ExportDialog(window.session, window.people_model, parent=window)
    qtbot.addWidget(dialog)
    dialog.show()
    assert sorted(dialog.people.chosen()) == sorted([obama, chirac])  # the named ones
    dialog.people.setData(grid_for(dialog, chirac), Qt.CheckState.Unchecked,
                          Qt.ItemDataRole.CheckStateRole)
    dest = tmp_path / "albums"
    dialog.dest.setText(str(dest))
    assert not dialog.unconfirmed.isChecked()  # sidecars name only confirmed faces by default
    dialog.unconfirmed.setChecked(True)  # these were grouped automatically, then named
    assert dialog.export_button.text() == "Export 1 Album"
    dialog.export_button.click()

    exported = sorted(p.name for p in (dest / "Barack Obama").iterdir())
    assert [n for n in exported if n.endswith(".jpg")] == [f"obama_{i}.jpg" for i in range(1, 5)]
    assert any(n.endswith(".xmp") for n in exported)
    assert not (dest / "Jacques Chirac").exists()
    assert dialog.status.text().startswith("4 photos exported")
    assert dialog.progress.value() == 4


def grid_for(dialog: ExportDialog, person_id: int) -> QModelIndex:
    for row in range(dialog.people.rowCount()):
        index = dialog.people.index(row, 0)
        if index.data(Role.ID) == person_id:
            return index
    raise AssertionError(f"person {person_id} is not listed")


def test_engine_errors_reach_the_user_as_a_dialog_saying_what_to_do(
    qtbot: QtBot, clustered_demo: Path, tmp_path: Path
) -> None:
    window = open_window(qtbot, clustered_demo, tmp_path)
    obama = person_in(window, "obama_1.jpg")
    assert not window.session.apply("Merge", people.merge_people, [obama], obama)
    box = window.findChild(QMessageBox)
    assert box is not None and box.isVisible()
    assert "cannot merge" in box.text().lower()
    assert box.text()[0].isupper()


def test_people_filters_and_search_show_the_right_people(
    qtbot: QtBot, clustered_demo: Path, tmp_path: Path
) -> None:
    window = open_window(qtbot, clustered_demo, tmp_path)
    obama, rudd = person_in(window, "obama_1.jpg"), person_in(window, "paul_rudd_1.jpg")
    everyone = len(shown_names(window))
    window.session.apply("Name", people.name_person, obama, "Barack Obama")
    window.session.apply("Hide", people.hide_person, rudd, True)
    page = window.people_page
    buttons = {b.property("mode"): b for b in page.filters.buttons()}

    assert len(shown_names(window)) == everyone - 1  # the hidden one is not in "All"
    buttons["named"].click()
    assert shown_names(window) == ["Barack Obama"]
    buttons["unnamed"].click()
    assert shown_names(window) == ["Unnamed"] * (everyone - 2)
    buttons["hidden"].click()
    assert [grid_index(window, rudd).data(Role.ID)] == [rudd]
    buttons["all"].click()
    qtbot.keyClicks(page.search, "obam")
    assert shown_names(window) == ["Barack Obama"]
    assert page.count_label.text() == f"1 of {everyone}"


def test_the_keyboard_opens_a_person_and_goes_back(
    qtbot: QtBot, clustered_demo: Path, tmp_path: Path
) -> None:
    window = open_window(qtbot, clustered_demo, tmp_path)
    grid = window.people_page.grid
    grid.setFocus()
    grid.setCurrentIndex(grid.model().index(0, 0))
    qtbot.keyClick(grid, Qt.Key.Key_Return)
    assert window.stack.currentWidget() is window.person_page
    qtbot.keyClick(window.person_page.album, Qt.Key.Key_Backspace)
    assert window.stack.currentWidget() is window.people_page


def test_a_new_strictness_regroups_people_and_is_remembered(
    qtbot: QtBot, clustered_demo: Path, tmp_path: Path
) -> None:
    window = open_window(qtbot, clustered_demo, tmp_path)
    obama = person_in(window, "obama_1.jpg")
    window.session.apply("Name", people.name_person, obama, "Barack Obama")

    def stricter(dialog: QDialog) -> None:
        assert isinstance(dialog, SettingsDialog)
        dialog.strictness.setValue(90)
        dialog.accept()

    answer_dialog(stricter)
    window.settings_action.trigger()
    assert window.banner.title.text() == "Done"  # grouped again, on the runner
    assert SettingsStore(tmp_path / "settings.ini").load().strictness == 0.9
    assert window.session.catalog.person(obama).name == "Barack Obama"  # facts are kept
    assert "Barack Obama" in shown_names(window)
