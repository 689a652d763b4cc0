"""More Like This Face in the app: a face of a person's page, searched across the library.

A small synthetic library (tiny Pillow photos, embeddings placed around
identity centres, ``tests.test_app_bugs.Library``) where two of Anna's photos
ended up elsewhere: one in a person of its own, one in nobody. No model is
loaded; background work runs on a synchronous runner, except where the test
is that the search leaves the GUI thread.
"""

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QMenu, QMessageBox
from pytestqt.qtbot import QtBot

from app.main_window import MainWindow
from app.models import Role
from app.views.choose_person import ChoosePersonDialog
from app.views.person_page import PersonPage
from app.views.similar_faces_dialog import SimilarFacesDialog
from engine import people
from engine.catalog import AssignedBy, Catalog
from engine.people import search
from tests.test_app_bugs import Library, open_window, open_window_on_threads
from tests.test_app_story import select


class Album:
    """Anna (six photos, two of them no longer hers), Bert and Carl."""

    def __init__(self, lib: Library) -> None:
        self.lib = lib
        faces = lib.person("anna", 6)
        self.bert_faces = lib.person("bert", 4)
        self.carl_faces = lib.person("carl", 4)
        lib.group()
        cat = lib.cat
        self.anna = _person(cat, faces[0])
        assert all(_person(cat, f) == self.anna for f in faces), "the library groups Anna"
        people.name_person(cat, self.anna, "Anna")
        people.name_person(cat, _person(cat, self.bert_faces[0]), "Bert")
        # One photo went to a person of its own, one to nobody.
        self.elsewhere = faces[4]
        people.split_faces(cat, [self.elsewhere])
        self.loose = faces[5]
        people.mark_faces(cat, [self.loose], "stranger")
        people.mark_faces(cat, [self.loose], "face")
        self.hers = faces[:4]
        cat.checkpoint()


ELSEWHERE = "Unnamed \u00b7 1 photo"  # the unnamed person of Anna's photo held elsewhere


def _person(cat: Catalog, face_id: int) -> int:
    person = cat.face(face_id).person_id
    assert person is not None
    return person


@pytest.fixture
def album(tmp_path: Path) -> Iterator[Album]:
    lib = Library(tmp_path / "photos", tmp_path / "catalog.sqlite")
    yield Album(lib)
    lib.cat.close()


def faces_of(window: MainWindow, person_id: int | None) -> PersonPage:
    """The person's page, on its Faces tab."""
    window.show_person(person_id)
    window.person_page.tabs.setCurrentIndex(1)
    return window.person_page


def search_from_page(
    qtbot: QtBot, window: MainWindow, person_id: int | None, face_id: int
) -> SimilarFacesDialog:
    """Open the person's faces, select one face and press L, as a user would."""
    page = faces_of(window, person_id)
    rows = [r for r in range(page.faces.rowCount())
            if page.faces.index(r).data(Role.ID) == face_id]
    select(page.face_grid, [page.faces.index(rows[0])])
    assert page.similar_action.isEnabled()
    page.face_grid.setFocus()
    qtbot.keyClick(page.face_grid, Qt.Key.Key_L)
    dialog = page.findChild(SimilarFacesDialog)
    assert dialog is not None and dialog.isVisible()
    dialog.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is dialog, timeout=5000)  # keys reach it
    return dialog


def listed(dialog: SimilarFacesDialog) -> list[tuple[int, str]]:
    model = dialog.model
    return [(int(model.index(r).data(Role.ID)), str(model.index(r).data()))
            for r in range(model.rowCount())]


def test_more_like_this_face_lists_the_persons_photos_held_elsewhere_first(
    qtbot: QtBot, album: Album, tmp_path: Path
) -> None:
    window = open_window(qtbot, tmp_path)
    dialog = search_from_page(qtbot, window, album.anna, album.hers[0])

    found = listed(dialog)
    assert sorted(found[:2]) == sorted([(album.elsewhere, ELSEWHERE), (album.loose, "No one")])
    assert {face for face, _ in found[2:]} == set(album.bert_faces + album.carl_faces)
    assert not {face for face, _ in found} & set(album.hers), "hers already: not offered"
    assert {words for face, words in found if face in album.bert_faces} == {"Bert"}
    distances = [dialog.model.row(r).distance for r in range(dialog.model.rowCount())]
    assert distances == sorted(distances)
    assert dialog.stack.currentWidget() is dialog.grid
    assert "Anna’s already are not listed" in dialog.details.text()
    assert dialog.add_button.text() == "Add to Anna"
    assert not dialog.add_button.isEnabled()  # nothing chosen for the user


def test_a_person_with_more_faces_than_the_search_reaches_still_gets_others(
    qtbot: QtBot, album: Album, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The search looks at a bounded number of nearest faces (2,000); a
    person holding more must still be shown faces that are not theirs.
    Here the reach is cut to three, under Anna's four faces."""
    search_all = search.similar_faces

    def short_reach(*args: object, **kwargs: object) -> list[search.Match]:
        return search_all(*args, **{**kwargs, "reach": 3})  # type: ignore[arg-type]

    monkeypatch.setattr(search, "similar_faces", short_reach)
    window = open_window(qtbot, tmp_path)
    dialog = search_from_page(qtbot, window, album.anna, album.hers[0])
    found = {face for face, _ in listed(dialog)}
    assert {album.elsewhere, album.loose} <= found
    assert not found & set(album.hers)


def test_faces_of_different_unnamed_people_read_differently_as_in_review(
    qtbot: QtBot, album: Album, tmp_path: Path
) -> None:
    window = open_window(qtbot, tmp_path)
    dialog = search_from_page(qtbot, window, album.anna, album.hers[0])
    words = dict(listed(dialog))
    assert words[album.elsewhere] == "Unnamed \u00b7 1 photo"
    assert {words[face] for face in album.carl_faces} == {"Unnamed \u00b7 4 photos"}
    assert words[album.loose] == "No one"
    assert {words[face] for face in album.bert_faces} == {"Bert"}


def test_the_tooltip_of_a_found_face_names_its_holder_as_the_tile_does(
    qtbot: QtBot, album: Album, tmp_path: Path
) -> None:
    window = open_window(qtbot, tmp_path)
    dialog = search_from_page(qtbot, window, album.anna, album.hers[0])
    model = dialog.model
    tips = {int(model.index(r).data(Role.ID)): str(model.index(r).data(Qt.ItemDataRole.ToolTipRole))
            for r in range(model.rowCount())}
    assert tips[album.elsewhere].endswith("now in Unnamed \u00b7 1 photo")
    assert {tips[face].splitlines()[-1] for face in album.carl_faces} == {
        "now in Unnamed \u00b7 4 photos"}
    assert {tips[face].splitlines()[-1] for face in album.bert_faces} == {"now in Bert"}
    assert tips[album.loose].endswith("in no person yet")


def test_adding_found_faces_moves_them_into_the_person_and_undo_puts_them_back(
    qtbot: QtBot, album: Album, tmp_path: Path
) -> None:
    window = open_window(qtbot, tmp_path)
    page = window.person_page
    dialog = search_from_page(qtbot, window, album.anna, album.hers[1])
    catalog = window.session.catalog
    before = {f: catalog.face(f).person_id for f in (album.elsewhere, album.loose)}
    assert page.faces.rowCount() == 4

    select(dialog.grid, [dialog.model.index(0), dialog.model.index(1)])
    assert dialog.selection_label.text() == "2 faces selected"
    dialog.add_button.click()

    for face in (album.elsewhere, album.loose):
        assert catalog.face(face).person_id == album.anna
        assert catalog.face(face).assigned_by is AssignedBy.USER
    assert not {face for face, _ in listed(dialog)} & {album.elsewhere, album.loose}
    assert page.faces.rowCount() == 6  # the page behind re-read, as after any correction
    assert window.history.undo_text == "Moved 2 faces to Anna"

    qtbot.keyClick(dialog.grid, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert {f: catalog.face(f).person_id for f in before} == before
    assert sorted(listed(dialog)[:2]) == sorted(
        [(album.elsewhere, ELSEWHERE), (album.loose, "No one")])
    assert page.faces.rowCount() == 4


def test_a_face_that_cannot_be_searched_shows_the_engines_message(
    qtbot: QtBot, album: Album, tmp_path: Path
) -> None:
    window = open_window(qtbot, tmp_path)
    page = faces_of(window, album.anna)
    select(page.face_grid, [page.faces.index(0)])
    face = page.selected_face_ids()[0]
    # Meanwhile another program marks that face a stranger: it is no longer
    # a face the engine searches.
    people.mark_faces(album.lib.cat, [face], "stranger")
    page.similar_action.trigger()

    dialog = page.findChild(SimilarFacesDialog)
    assert dialog is not None
    assert dialog.stack.currentWidget() is dialog.empty
    assert dialog.empty.title.text() == "Cannot search this face"
    message = dialog.empty.text.text()
    assert f"Face {face} cannot be searched for" in message
    assert "Traceback" not in message and message.endswith(".")
    assert dialog.model.rowCount() == 0
    assert not dialog.add_button.isEnabled()
    assert window.findChild(QMessageBox) is None  # said in place, not as a failure of reading


def test_a_search_that_finds_nothing_new_says_so(
    qtbot: QtBot, tmp_path: Path
) -> None:
    lib = Library(tmp_path / "photos", tmp_path / "catalog.sqlite")
    dora = lib.person("dora", 3)
    lib.group()
    lib.cat.close()
    window = open_window(qtbot, tmp_path)
    dialog = search_from_page(qtbot, window, _person(window.session.catalog, dora[0]), dora[0])
    assert dialog.model.found == 2 and dialog.model.rowCount() == 0
    assert dialog.stack.currentWidget() is dialog.empty
    assert dialog.empty.title.text() == "Nothing new"
    assert "all this person’s already" in dialog.empty.text.text()


def face_menu(page: PersonPage, row: int) -> list[str]:
    """The words of the face grid's context menu, right-clicked on ``row``."""
    seen: list[str] = []

    def read() -> None:
        menu = QApplication.activePopupWidget()
        if not isinstance(menu, QMenu):
            QTimer.singleShot(10, read)
            return
        seen.extend(a.text() for a in menu.actions() if a.isVisible())
        menu.close()

    QTimer.singleShot(0, read)
    rect = page.face_grid.visualRect(page.faces.index(row))
    page.face_grid.customContextMenuRequested.emit(rect.center())
    return seen


def test_only_one_selected_face_can_be_searched_for(
    qtbot: QtBot, album: Album, tmp_path: Path
) -> None:
    window = open_window(qtbot, tmp_path)
    page = faces_of(window, album.anna)
    assert not page.similar_action.isEnabled()
    select(page.face_grid, [page.faces.index(0), page.faces.index(1)])
    assert not page.similar_action.isEnabled()
    shown = face_menu(page, 1)
    assert "Move to…" in shown and "More Like This Face" not in shown
    page.face_grid.setFocus()
    qtbot.keyClick(page.face_grid, Qt.Key.Key_L)
    assert page.findChild(SimilarFacesDialog) is None
    select(page.face_grid, [page.faces.index(1)])
    assert page.similar_action.isEnabled()
    assert "More Like This Face" in face_menu(page, 1)


def test_the_pile_of_faces_of_nobody_offers_move_to_rather_than_add(
    qtbot: QtBot, album: Album, tmp_path: Path
) -> None:
    window = open_window(qtbot, tmp_path)
    dialog = search_from_page(qtbot, window, None, album.loose)
    found = listed(dialog)
    assert {face for face, _ in found[:5]} == set(album.hers) | {album.elsewhere}
    assert {words for face, words in found[:5]} == {"Anna", ELSEWHERE}
    assert dialog.add_button.isHidden()
    assert not dialog.move_button.isHidden() and not dialog.move_button.isEnabled()
    assert dialog.selection_label.text() == "Select faces to move them to a person"


def test_a_person_s_search_offers_add_and_not_move_to(
    qtbot: QtBot, album: Album, tmp_path: Path
) -> None:
    window = open_window(qtbot, tmp_path)
    dialog = search_from_page(qtbot, window, album.anna, album.hers[0])
    assert not dialog.add_button.isHidden()
    assert dialog.move_button.isHidden()


def choose_in_mover(action: Callable[[ChoosePersonDialog], None]) -> None:
    """Act in the "Move to…" chooser as soon as it opens over the dialog."""

    def handle() -> None:
        chooser = QApplication.activeModalWidget()
        if isinstance(chooser, ChoosePersonDialog):
            try:  # whatever happens, the chooser closes and the test goes on
                action(chooser)
            finally:
                chooser.accept()
        else:
            QTimer.singleShot(10, handle)

    QTimer.singleShot(0, handle)


def test_faces_found_from_the_pile_of_nobody_move_to_the_person_chosen_and_undo_puts_them_back(
    qtbot: QtBot, album: Album, tmp_path: Path
) -> None:
    window = open_window(qtbot, tmp_path)
    dialog = search_from_page(qtbot, window, None, album.loose)
    catalog = window.session.catalog
    bert = _person(catalog, album.bert_faces[0])
    before = catalog.face(album.elsewhere).person_id
    rows = [r for r, (face, _) in enumerate(listed(dialog)) if face == album.elsewhere]
    select(dialog.grid, [dialog.model.index(rows[0])])
    assert dialog.move_button.isEnabled()

    def pick_bert(chooser: ChoosePersonDialog) -> None:
        chooser.search.setText("ber")
        assert chooser.chosen() == bert

    choose_in_mover(pick_bert)
    dialog.move_button.click()

    assert catalog.face(album.elsewhere).person_id == bert
    assert catalog.face(album.elsewhere).assigned_by is AssignedBy.USER
    assert (album.elsewhere, "Bert") in listed(dialog)  # shown with whose it is now
    assert window.history.undo_text == "Moved 1 face to Bert"

    dialog.activateWindow()  # back from the chooser
    qtbot.waitUntil(lambda: QApplication.activeWindow() is dialog, timeout=5000)
    qtbot.keyClick(dialog.grid, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert catalog.face(album.elsewhere).person_id == before
    assert (album.elsewhere, ELSEWHERE) in listed(dialog)


def test_faces_found_from_the_pile_of_nobody_can_make_a_new_person_named_in_the_chooser(
    qtbot: QtBot, album: Album, tmp_path: Path
) -> None:
    window = open_window(qtbot, tmp_path)
    dialog = search_from_page(qtbot, window, None, album.loose)
    catalog = window.session.catalog
    mine = [r for r, (face, _) in enumerate(listed(dialog)) if face in album.hers[:2]]
    select(dialog.grid, [dialog.model.index(r) for r in mine])

    choose_in_mover(lambda chooser: chooser.search.setText("Dora"))
    dialog.move_button.click()

    dora = catalog.face(album.hers[0]).person_id
    assert dora is not None and dora != album.anna
    assert catalog.person(dora).name == "Dora"
    assert catalog.face(album.hers[1]).person_id == dora
    assert {words for face, words in listed(dialog) if face in album.hers[:2]} == {"Dora"}


class HeldSearch:
    """The engine's search, held on its worker thread until ``go`` is set."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.threads: list[threading.Thread] = []
        self.go = threading.Event()
        self.returned = threading.Event()
        similar_faces = search.similar_faces

        def held(cat: Catalog, face_id: int, limit: int = 20,
                 **options: int | None) -> list[search.Match]:
            self.threads.append(threading.current_thread())
            self.go.wait(10)
            try:
                return similar_faces(cat, face_id, limit, **options)  # type: ignore[arg-type]
            finally:
                self.returned.set()

        monkeypatch.setattr(search, "similar_faces", held)


def search_on_threads(qtbot: QtBot, album: Album, tmp_path: Path) -> SimilarFacesDialog:
    """The window on the app's real worker threads; More Like This Face on Anna's first face."""
    window = open_window_on_threads(qtbot, tmp_path)
    page = faces_of(window, album.anna)
    qtbot.waitUntil(lambda: page.faces.rowCount() == 4, timeout=10_000)
    select(page.face_grid, [page.faces.index(0)])
    page.similar_action.trigger()
    dialog = page.findChild(SimilarFacesDialog)
    assert dialog is not None
    return dialog


def test_the_search_runs_off_the_gui_thread_and_says_so_meanwhile(
    qtbot: QtBot, album: Album, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    held = HeldSearch(monkeypatch)
    dialog = search_on_threads(qtbot, album, tmp_path)
    try:
        assert dialog.model.loading
        assert dialog.empty.title.text() == "Searching…"
        assert dialog.stack.currentWidget() is dialog.empty
    finally:
        held.go.set()
    qtbot.waitUntil(lambda: not dialog.model.loading, timeout=10_000)
    assert held.threads and threading.main_thread() not in held.threads
    assert dialog.stack.currentWidget() is dialog.grid
    assert {int(dialog.model.index(r).data(Role.ID)) for r in range(2)} == {
        album.elsewhere, album.loose}


def test_closing_the_dialog_while_it_searches_drops_the_result_quietly(
    qtbot: QtBot, album: Album, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    held = HeldSearch(monkeypatch)
    dialog = search_on_threads(qtbot, album, tmp_path)
    page = dialog.parent()
    dialog.close()
    qtbot.waitUntil(lambda: page.findChild(SimilarFacesDialog) is None, timeout=5000)
    held.go.set()
    qtbot.waitUntil(held.returned.is_set, timeout=5000)
    qtbot.wait(200)  # the result arrives for a dialog that is gone: nothing may fail
