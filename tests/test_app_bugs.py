"""What a new user tripped on in the app, each as the user met it.

The window runs on a small synthetic library: real little photos drawn with
Pillow, faces placed by hand with embeddings around chosen identity centres,
grouped into people by the engine. No model is loaded; background work runs
on a synchronous runner, so it has finished before the next line.
"""

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QSize, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QDialog
from pytestqt.qtbot import QtBot

from app.images import ImageCache, crop_key
from app.main import main
from app.main_window import MainWindow
from app.models import CROP_SIZE, Role
from app.session import Session
from app.settings import Settings, SettingsStore
from app.views.choose_person import ChoosePersonDialog
from app.views.export_dialog import ExportDialog
from app.views.settings_dialog import SettingsDialog
from app.views.shortcuts_dialog import ShortcutsDialog
from app.workers import SyncRunner, ThreadRunner
from engine import people
from engine.catalog import Catalog, PhotoStatus
from engine.catalog.scans import record_taken
from engine.errors import Cancelled
from engine.models.registry import available_devices
from engine.progress import CancelToken, Progress
from tests.test_app_story import answer_dialog, select

DIM = 128


class Library:
    """A folder of tiny photos and its catalog, faces placed around identity centres."""

    def __init__(self, folder: Path, catalog: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.cat = Catalog(catalog)
        self.cat.set_meta("embedder", "sface")
        self.root = self.cat.root_id(folder)
        self.rng = np.random.default_rng(3)
        self.centres: dict[str, np.ndarray] = {}
        self.count = 0

    def person(self, name: str, photos: int) -> list[int]:
        v = self.rng.normal(size=DIM)
        self.centres[name] = v / np.linalg.norm(v)
        return [self.photo(name)[0] for _ in range(photos)]

    def photo(
        self, *names: str, mtime_ns: int | None = None, taken: float | None = None
    ) -> list[int]:
        """A photo of these people; ``taken``: its capture time by its metadata."""
        self.count += 1
        rel = f"p{self.count:03d}.jpg"
        Image.new("RGB", (120, 90), (40 * self.count % 255, 120, 90)).save(self.folder / rel)
        photo = self.cat.add_photo(
            self.root, rel.encode(), size=1, mtime_ns=mtime_ns or self.count,
            sha256=f"{self.count:064x}", width=120, height=90, status=PhotoStatus.OK,
        )
        if taken is not None:
            record_taken(self.cat, photo, taken)
        faces = []
        for i, name in enumerate(names):
            face = self.cat.add_face(photo, (10.0 + 40 * i, 20, 30, 30), None, score=1.0,
                                     quality=0.5 + 0.01 * i, sharpness=1.0, detector="test")
            v = self.centres[name] + self.rng.normal(size=DIM) * 0.03
            self.cat.put_embedding(face, "sface", v / np.linalg.norm(v))
            faces.append(face)
        return faces

    def group(self) -> None:
        for _ in people.update_people(self.cat):
            pass


@pytest.fixture
def library(tmp_path: Path) -> Iterator[Library]:
    lib = Library(tmp_path / "photos", tmp_path / "catalog.sqlite")
    lib.person("anna", 3)
    lib.person("bert", 2)
    lib.person("carl", 2)
    lib.group()
    lib.cat.checkpoint()
    yield lib
    lib.cat.close()


def open_window(qtbot: QtBot, tmp_path: Path, catalog: Path | None = None,
                settings: Settings | None = None) -> MainWindow:
    catalog = catalog or tmp_path / "catalog.sqlite"
    runner = SyncRunner()
    settings = settings or Settings(catalog_path=str(catalog), device="cpu")
    session = Session(catalog, settings, runner, ImageCache(tmp_path / "thumbs", runner))
    window = MainWindow(session, SettingsStore(tmp_path / "settings.ini"))
    qtbot.addWidget(window)
    window.show()
    window.activateWindow()
    assert QTest.qWaitForWindowActive(window, 5000)
    return window


def open_window_on_threads(qtbot: QtBot, tmp_path: Path) -> MainWindow:
    """The window on the app's own worker threads, not run on the calling thread."""
    runner = ThreadRunner(child_processes=False)
    catalog = tmp_path / "catalog.sqlite"
    session = Session(catalog, Settings(catalog_path=str(catalog), device="cpu"), runner,
                      ImageCache(tmp_path / "thumbs", runner))
    window = MainWindow(session, SettingsStore(tmp_path / "settings.ini"))
    qtbot.addWidget(window)
    window.show()
    return window


def person_of(window: MainWindow, face_id: int) -> int:
    person = window.session.catalog.face(face_id).person_id
    assert person is not None
    return person


# -- 1. every change, and every undo, says what happened -----------------------------------


def test_every_change_and_every_undo_say_what_happened_with_undo_on_the_notice(
    qtbot: QtBot, library: Library, tmp_path: Path
) -> None:
    anna_face = library.cat.faces()[0].id
    window = open_window(qtbot, tmp_path)
    anna = person_of(window, anna_face)
    others = [p for p in window.people_model.person_ids() if p != anna]
    window.session.apply("Hide", people.hide_person, others[0])
    notice = window.notice
    assert notice.isVisible()
    assert notice.text.text() == "Hid an unnamed person (2 photos)."
    assert notice.button.text() == "Undo"

    window.people_page.rename(anna, "Anna")
    assert notice.text.text() == "Named the person in 3 photos \u201cAnna\u201d."

    # Much later, on the Review page, Ctrl+Z: the window says what it took back.
    window.show_review(anna)
    window.undo_action.trigger()
    assert notice.text.text() == "Undone: named the person in 3 photos \u201cAnna\u201d."
    assert notice.button.text() == "Redo"
    notice.button.click()
    assert library.cat.person(anna).name == "Anna"
    assert notice.text.text().startswith("Redone: named")


def test_the_undo_on_a_notice_takes_back_that_change_and_no_other(
    qtbot: QtBot, library: Library, tmp_path: Path
) -> None:
    window = open_window(qtbot, tmp_path)
    first, second = window.people_model.person_ids()[:2]
    window.session.apply("Hide", people.hide_person, first)
    old_notice = window.notice.operation_id
    window.session.apply("Hide", people.hide_person, second)
    errors: list[str] = []
    window.session.error.connect(lambda _title, message: errors.append(message))
    window.session.undo(old_notice)  # what the first notice's button would do
    assert library.cat.person(first).hidden and library.cat.person(second).hidden
    assert errors and "came after it" in errors[0]


def test_the_review_page_does_not_promise_that_ctrl_z_takes_back_its_last_answer(
    qtbot: QtBot, library: Library, tmp_path: Path
) -> None:
    window = open_window(qtbot, tmp_path)
    review = window.review_page
    window.show_review(window.people_model.person_ids()[0])
    review.suggestions, review.position, review.loading = [object()], 1, False
    review._show()
    assert review.empty.title.text() == "All done"
    assert "Ctrl+Z takes back the last answer" not in review.empty.text.text()


# -- 2. skipped files -----------------------------------------------------------------------------


def test_skipped_files_are_listed_with_their_folder_while_the_scan_still_runs(
    qtbot: QtBot, library: Library, tmp_path: Path
) -> None:
    window = open_window(qtbot, tmp_path)
    assert not window.problems_action.isEnabled()
    seen: dict[str, object] = {}

    def scan(cat: Catalog, cancel: CancelToken) -> Iterator[Progress]:
        cat.add_photo(library.root, b"sub/broken.jpg", size=5, mtime_ns=1, sha256=None,
                      width=None, height=None, status=PhotoStatus.PROBLEM,
                      problem="not a photo")
        yield Progress("scanning", 1, 2, {"faces": 0, "problems": 1})
        # The scan goes on; the user opens File > Skipped Files now.
        seen["enabled"] = window.problems_action.isEnabled()
        seen["rows"] = window.problems_model.rowCount()
        seen["file"] = window.problems_model.index(0, 0).data()
        yield Progress("scanning", 2, 2, {"faces": 0, "problems": 1})

    window.session.start_job("Scanning photos", scan, prepare=window._follow)
    assert seen["enabled"] and seen["rows"] == 1
    assert seen["file"] == str(library.folder / "sub" / "broken.jpg")


# -- 3, 4, 9. settings -----------------------------------------------------------------------------


def test_the_strictness_in_force_shows_the_people_the_catalog_holds(
    qtbot: QtBot, library: Library, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The preview is an estimate (a cut of one tree); on a large library it
    # can differ from the grouping the catalog holds (982 against 974).
    monkeypatch.setattr(people, "preview_cluster_count", lambda _cat, _s: 982)
    holds = len(people.people_rows(library.cat, include_hidden=True))
    window = open_window(qtbot, tmp_path, settings=Settings(
        catalog_path=str(tmp_path / "catalog.sqlite"), device="cpu", strictness=0.5))
    dialog = SettingsDialog(window.session.settings, window.session, window)
    qtbot.addWidget(dialog)
    assert f"<b>{holds}</b>" in dialog.preview_label.text()
    assert "now" in dialog.preview_label.text()
    dialog.strictness.setValue(80)
    dialog.update_preview()  # what the debounce timer does once dragging stops
    assert "about <b>982</b>" in dialog.preview_label.text()


def test_settings_show_the_catalog_that_is_open_and_keep_the_saved_one(
    qtbot: QtBot, library: Library, tmp_path: Path
) -> None:
    opened = tmp_path / "catalog.sqlite"
    saved = str(tmp_path / "elsewhere.sqlite")
    window = open_window(qtbot, tmp_path, opened, Settings(catalog_path=saved, device="cpu"))
    dialog = SettingsDialog(window.session.settings, window.session, window)
    qtbot.addWidget(dialog)
    assert dialog.catalog.text() == str(opened)
    assert dialog.result_settings().catalog_path == saved


def test_settings_offer_only_the_devices_this_computer_has(
    qtbot: QtBot, library: Library, tmp_path: Path
) -> None:
    window = open_window(qtbot, tmp_path)
    dialog = SettingsDialog(window.session.settings, window.session, window)
    qtbot.addWidget(dialog)
    offered = {dialog.device.itemData(i) for i in range(dialog.device.count())}
    assert offered == {"auto", *available_devices()}


# -- 5. actions after an export -------------------------------------------------------------------


def test_scanning_is_offered_again_as_soon_as_an_export_ends(
    qtbot: QtBot, library: Library, tmp_path: Path
) -> None:
    window = open_window(qtbot, tmp_path)
    people.name_person(window.session.catalog, window.people_model.person_ids()[0], "Anna")
    window.session.announce_change()
    dialog = ExportDialog(window.session, window.people_model, str(tmp_path / "albums"), window)
    qtbot.addWidget(dialog)
    dialog.start()
    assert "exported" in dialog.status.text()
    for action in (window.open_action, window.rescan_action, window.demo_action):
        assert action.isEnabled(), action.text()


# -- 6. the selection after a correction -----------------------------------------------------------


def test_after_not_this_person_nothing_is_selected_any_more(
    qtbot: QtBot, library: Library, tmp_path: Path
) -> None:
    window = open_window(qtbot, tmp_path)
    anna = person_of(window, library.cat.faces()[0].id)
    window.show_person(anna)
    page = window.person_page
    page.tabs.setCurrentIndex(1)
    select(page.face_grid, [page.faces.index(0)])
    assert page.selection_label.text() == "1 face selected"
    page.reject_button.click()
    assert page.faces.rowCount() == 2
    assert page.selection_label.text() == "Select faces to correct them"
    assert not page.reject_button.isEnabled() and not page.move_button.isEnabled()


# -- 7. the Move dialog ----------------------------------------------------------------------------


def test_the_move_dialog_asks_plainly_chooses_nobody_and_makes_a_new_person_from_a_name(
    qtbot: QtBot, library: Library, tmp_path: Path
) -> None:
    window = open_window(qtbot, tmp_path)
    anna = person_of(window, library.cat.faces()[0].id)
    window.show_person(anna)
    page = window.person_page
    page.tabs.setCurrentIndex(1)
    select(page.face_grid, [page.faces.index(0)])
    face = page.selected_face_ids()[0]

    seen: dict[str, object] = {}

    def check(dialog: QDialog) -> None:
        try:  # whatever happens, the dialog closes and the test goes on
            assert isinstance(dialog, ChoosePersonDialog)
            seen["titles"] = [w.text() for w in dialog.findChildren(type(page.name_label))]
            seen["at first"] = (dialog.chosen(), dialog.ok.isEnabled())
            dialog.search.setText("Dora")
            seen["typed"] = (dialog.chosen(), dialog.ok.isEnabled())
        finally:
            dialog.accept()

    answer_dialog(check)
    page.move_button.click()
    assert "Whose face is this?" in seen["titles"]  # type: ignore[operator]
    assert seen["at first"] == (None, False)  # nobody chosen for the user
    assert seen["typed"] == ("Dora", True)
    moved_to = library.cat.face(face).person_id
    assert moved_to is not None and moved_to != anna
    assert library.cat.person(moved_to).name == "Dora"
    # One correction, one Undo: the face goes back to Anna and no Dora is left.
    window.session.undo()
    assert library.cat.face(face).person_id == anna
    assert all(p.name != "Dora" for p in library.cat.persons(include_merged=True))


# -- 8. no internal ids ----------------------------------------------------------------------------


def test_the_edit_menu_and_the_review_chooser_never_show_internal_ids(
    qtbot: QtBot, library: Library, tmp_path: Path
) -> None:
    window = open_window(qtbot, tmp_path)
    anna = person_of(window, library.cat.faces()[0].id)
    others = [p for p in window.people_model.person_ids() if p != anna]
    window.people_page.rename(anna, "Anna")
    window.session.apply("Merge", people.merge_people, [others[0]], anna)
    assert window.history.undo_text == "Merged an unnamed person (2 photos) into Anna"
    assert window.undo_action.text() == "&Undo Merged an unnamed person (2 photos) into Anna"

    window.show_review(anna)
    box = window.review_page.person_box
    labels = [box.itemText(i) for i in range(box.count())]
    assert labels == ["Anna", "Unnamed \u00b7 2 photos"]
    assert not box.itemIcon(1).isNull()  # the face tells look-alike labels apart


# -- 9. messages -----------------------------------------------------------------------------------


def test_a_scan_that_found_nothing_new_says_so_rather_than_zero_faces(
    qtbot: QtBot, library: Library, tmp_path: Path
) -> None:
    window = open_window(qtbot, tmp_path)

    def unchanged(cat: Catalog, cancel: CancelToken) -> Iterator[Progress]:
        yield Progress("listing", 0, 0)
        yield Progress("scanning", 0, 0, {"faces": 0, "problems": 0})

    window.session.start_job("Scanning photos", unchanged, prepare=window._follow)
    assert "0 faces" not in window.banner.detail.text()
    assert "No new or changed photos" in window.banner.detail.text()


def test_a_stopped_scan_says_how_far_it_got(
    qtbot: QtBot, library: Library, tmp_path: Path
) -> None:
    window = open_window(qtbot, tmp_path)

    def stopped(cat: Catalog, cancel: CancelToken) -> Iterator[Progress]:
        yield Progress("listing", 0, 0)
        yield Progress("scanning", 120, 500, {"faces": 80, "problems": 0})
        raise Cancelled("stopped on request")

    window.session.start_job("Scanning photos", stopped, prepare=window._follow)
    assert window.banner.title.text() == "Stopped"
    assert "Stopped after 120 of 500 photos" in window.banner.detail.text()


def test_a_folder_that_is_gone_is_explained_in_the_apps_words(
    qtbot: QtBot, library: Library, tmp_path: Path
) -> None:
    window = open_window(qtbot, tmp_path)
    shown: list[str] = []
    window.show_error = lambda _title, message: shown.append(message)  # type: ignore[method-assign]
    assert window.scan([tmp_path / "unplugged"]) is None
    assert shown and "pass the folder" not in shown[0] and "Add Photo Folder" in shown[0]


# -- 10. review ------------------------------------------------------------------------------------


def test_review_from_the_toolbar_starts_with_someone_who_has_suggestions(
    qtbot: QtBot, library: Library, tmp_path: Path
) -> None:
    cat = library.cat
    ids = [p.id for p in people.people_rows(cat)]
    anna, bert = ids[0], ids[1]
    people.name_person(cat, anna, "Anna")
    people.name_person(cat, bert, "Bert")
    loose = [f.id for f in people.person_faces(cat, bert)][:1]
    people.mark_faces(cat, loose, "stranger")
    people.mark_faces(cat, loose, "face")
    assert not people.suggest(cat, anna) and people.suggest(cat, bert)
    window = open_window(qtbot, tmp_path)
    window.review_action.trigger()
    review = window.review_page
    assert review.person_id == bert
    assert review.person_box.currentText() == "Bert"
    assert review.stack.currentWidget() is review.card


def test_review_of_an_unnamed_person_asks_whether_it_is_the_same_person(
    qtbot: QtBot, library: Library, tmp_path: Path
) -> None:
    cat = library.cat
    carl = people.people_rows(cat)[-1].id
    loose = [f.id for f in people.person_faces(cat, carl)][:1]
    people.mark_faces(cat, loose, "stranger")
    people.mark_faces(cat, loose, "face")
    window = open_window(qtbot, tmp_path)
    window.show_review(carl)
    review = window.review_page
    assert review.stack.currentWidget() is review.card
    assert review.question.text() == "Is this the same person?"
    review.yes()
    box = review.person_box
    assert box.itemText(box.findData(carl)) == "Unnamed \u00b7 2 photos"


# -- 11. small things ------------------------------------------------------------------------------


def test_an_empty_hidden_filter_says_nobody_is_hidden(
    qtbot: QtBot, library: Library, tmp_path: Path
) -> None:
    window = open_window(qtbot, tmp_path)
    page = window.people_page
    hidden = next(b for b in page.filters.buttons() if b.property("mode") == "hidden")
    hidden.click()
    assert page.stack.currentWidget() is page.empty
    assert page.empty.title.text() == "Nobody is hidden"


def test_the_people_grid_uses_the_whole_width(
    qtbot: QtBot, library: Library, tmp_path: Path
) -> None:
    for name in ("dora", "emil", "fred", "gina", "hans", "ines", "jan"):
        library.person(name, 2)
    library.group()
    window = open_window(qtbot, tmp_path)
    window.resize(QSize(1180, 780))
    grid = window.people_page.grid
    QTest.qWait(0)  # the resize reaches the grid
    grid.doItemsLayout()  # what Qt's delayed layout does next
    proxy = window.people_page.proxy
    first_row = [grid.visualRect(proxy.index(r, 0)) for r in range(proxy.rowCount())]
    top = min(r.top() for r in first_row)
    row = [r for r in first_row if r.top() == top]
    left_gap = row[0].left()
    right_gap = grid.viewport().width() - 1 - max(r.right() for r in row)
    assert len(row) < proxy.rowCount()  # the row is full
    assert right_gap - left_gap < row[0].width() // 2


# -- 12. no window on this machine -----------------------------------------------------------------


def test_without_a_display_the_check_says_so_and_fails(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.setattr("sys.platform", "linux")
    assert main(["--check-display"]) == 3
    assert "No display found" in capsys.readouterr().err


def test_missing_xcb_libraries_are_named_with_the_packages_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from app import display

    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.setattr("sys.platform", "linux")
    monkeypatch.setattr(display, "missing_libraries",
                        lambda _plugin: ["libxcb-icccm.so.4", "libxcb-keysyms.so.1"])
    assert main(["--check-display"]) == 3
    said = capsys.readouterr().err
    assert "sudo apt-get install libxcb-icccm4 libxcb-keysyms1\n" in said
    assert "libxcb-cursor0" in said and "libxkbcommon-x11-0" in said


def test_library_files_map_to_their_debian_packages() -> None:
    from app.display import package_of

    assert package_of("libxcb-cursor.so.0") == "libxcb-cursor0"
    assert package_of("libxkbcommon-x11.so.0") == "libxkbcommon-x11-0"
    assert package_of("libX11-xcb.so.1") == "libx11-xcb1"
    assert package_of("libxcb-render-util.so.0") == "libxcb-render-util0"


# -- what users expected and did not find ----------------------------------------------------------


def shown_ids(window: MainWindow) -> list[int]:
    proxy = window.people_page.proxy
    return [int(proxy.index(r, 0).data(Role.ID)) for r in range(proxy.rowCount())]


def test_people_can_be_sorted_by_name_by_photos_and_by_most_recent_photo(
    qtbot: QtBot, library: Library, tmp_path: Path
) -> None:
    library.person("zoe", 1)
    library.photo("zoe", mtime_ns=10**18)  # the newest photo of all
    library.group()
    cat = library.cat
    rows = people.people_rows(cat)
    by_size = [r.id for r in rows]
    zoe = person_of_face(cat, cat.faces()[-1].id)
    people.name_person(cat, by_size[1], "Bert")
    people.name_person(cat, by_size[0], "Carla")
    window = open_window(qtbot, tmp_path)
    box = window.people_page.sort_box
    assert shown_ids(window)[:2] == by_size[:2]
    box.setCurrentIndex(box.findData("name"))
    assert shown_ids(window)[:2] == [by_size[1], by_size[0]]
    box.setCurrentIndex(box.findData("recent"))
    assert shown_ids(window)[0] == zoe
    box.setCurrentIndex(box.findData("photos"))
    assert shown_ids(window) == by_size


def year(y: int) -> float:
    """Seconds since 1970 at the start of year ``y`` (a camera's clock read as UTC)."""
    return datetime(y, 1, 1, 12, tzinfo=UTC).timestamp()


def test_most_recent_means_the_newest_photo_taken_not_the_newest_file(
    qtbot: QtBot, library: Library, tmp_path: Path
) -> None:
    library.person("eve", 0)
    library.person("finn", 0)
    for _ in range(2):  # copied onto the disk last, taken long ago
        library.photo("eve", mtime_ns=2 * 10**18, taken=year(2001))
    for _ in range(2):
        library.photo("finn", taken=year(2020))
    library.group()
    cat = library.cat
    eve, finn = (person_of_face(cat, cat.faces()[i].id) for i in (-4, -1))
    assert eve != finn
    window = open_window(qtbot, tmp_path)
    box = window.people_page.sort_box
    box.setCurrentIndex(box.findData("recent"))
    assert shown_ids(window)[:2] == [finn, eve]


def test_a_persons_album_runs_in_the_order_the_photos_were_taken_with_its_years(
    qtbot: QtBot, library: Library, tmp_path: Path
) -> None:
    library.person("dora", 0)
    for y in (2015, 2009, 2012):
        library.photo("dora", taken=year(y))
    library.photo("dora")  # no date of its own: its file's time, long ago
    library.group()
    cat = library.cat
    dora = person_of_face(cat, cat.faces()[-1].id)
    window = open_window(qtbot, tmp_path)
    window.show_person(dora)
    page = window.person_page
    qtbot.waitUntil(lambda: page.photos.rowCount() == 4)
    assert [p.taken for p in page.photos.photos()] == [None, year(2009), year(2012), year(2015)]
    assert page.details.text().endswith("· 2009–2015")


def person_of_face(cat: Catalog, face_id: int) -> int:
    person = cat.face(face_id).person_id
    assert person is not None
    return person


def test_help_lists_every_keyboard_shortcut_of_the_window(
    qtbot: QtBot, library: Library, tmp_path: Path
) -> None:
    window = open_window(qtbot, tmp_path)
    window.shortcuts_action.trigger()
    dialog = window.findChild(ShortcutsDialog)
    assert dialog is not None and dialog.isVisible()
    text = dialog.plain_text()
    for action in window.findChildren(type(window.undo_action)):
        for key in action.shortcuts():
            native = key.toString(key.SequenceFormat.NativeText)
            if native and len(native) > 1:  # the page's single letters are listed by page
                assert native in text, f"{native} ({action.text()}) is not listed"
    for key in ("Y", "N", "Delete", "F2", "Ctrl+M"):
        assert key in text


# -- the scanned folders, read off the GUI thread --------------------------------------------------


def test_the_window_reads_its_folders_off_the_gui_thread_to_open_on_people_and_scan_again(
    qtbot: QtBot, library: Library, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: list[threading.Thread] = []
    roots = Catalog.roots

    def recording_roots(cat: Catalog) -> list[tuple[int, bytes]]:
        threads.append(threading.current_thread())
        return roots(cat)

    monkeypatch.setattr(Catalog, "roots", recording_roots)
    window = open_window_on_threads(qtbot, tmp_path)
    session = window.session
    qtbot.waitUntil(lambda: window.stack.currentWidget() is window.people_page, timeout=10_000)
    assert window.rescan_action.isEnabled() and window.folders_action.isEnabled()

    scanned: list[list[Path]] = []
    monkeypatch.setattr(window, "scan", lambda folders, **_: scanned.append(folders))
    window.rescan_action.trigger()
    qtbot.waitUntil(lambda: bool(scanned), timeout=10_000)
    assert scanned == [[library.folder]]

    dialog = SettingsDialog(session.settings, session, window)
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: "now" in dialog.preview_label.text(), timeout=10_000)
    assert threads and threading.main_thread() not in threads


def test_settings_on_a_catalog_without_folders_ask_for_photos_first(
    qtbot: QtBot, tmp_path: Path
) -> None:
    window = open_window(qtbot, tmp_path)
    assert window.stack.currentWidget() is window.welcome
    assert not window.rescan_action.isEnabled() and not window.folders_action.isEnabled()
    dialog = SettingsDialog(window.session.settings, window.session, window)
    qtbot.addWidget(dialog)
    assert dialog.preview_label.text() == "Scan some photos to see how many people this makes."


def test_scan_again_looks_for_its_folders_on_disk_off_the_gui_thread(
    qtbot: QtBot, library: Library, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A folder on a network drive that went away can hang a look at it for minutes.
    gone = tmp_path / "unplugged"
    gone.mkdir()
    with Catalog(library.cat.path) as cat:
        cat.root_id(gone)
    gone.rmdir()
    looked: list[tuple[Path, threading.Thread]] = []
    is_dir = Path.is_dir

    def recording_is_dir(path: Path) -> bool:
        looked.append((path, threading.current_thread()))
        return is_dir(path)

    window = open_window_on_threads(qtbot, tmp_path)
    session = window.session
    qtbot.waitUntil(window.rescan_action.isEnabled, timeout=10_000)
    started: list[str] = []
    monkeypatch.setattr(session, "start_job", lambda title, *_a, **_k: started.append(title))
    shown: list[str] = []
    window.show_error = lambda _title, message: shown.append(message)  # type: ignore[method-assign]
    monkeypatch.setattr(Path, "is_dir", recording_is_dir)
    window.rescan_action.trigger()
    qtbot.waitUntil(lambda: bool(started) and bool(shown), timeout=10_000)
    assert started == [f"Scanning {library.folder.name}"]
    assert str(gone) in shown[0] and "not connected" in shown[0]
    checked = {path for path, _ in looked}
    assert {library.folder, gone} <= checked
    assert all(thread is not threading.main_thread() for path, thread in looked
               if path in (library.folder, gone))


def test_a_person_whose_cover_is_a_video_frame_repaints_when_it_arrives(
    qtbot: QtBot, library: Library, tmp_path: Path
) -> None:
    """A face of a video is cropped from its own frame, and its crop is announced
    under a name that says which frame: the people grid must listen for that name."""
    cat = library.cat
    cat._conn.execute("UPDATE faces SET frame_seconds = 2.5")
    cat.checkpoint()
    window = open_window(qtbot, tmp_path)
    model = window.people_model
    row = 0
    person_id = model.index(row).data(Role.ID)
    model.index(row).data(Qt.ItemDataRole.DecorationRole)  # asks for the cover's crop
    summary = people.people_rows(window.session.catalog)
    cover = next(p.cover_face_id for p in summary if p.id == person_id)
    face = window.session.catalog.face(cover)
    photo = window.session.catalog.photo(face.photo_id)
    with qtbot.waitSignal(model.dataChanged, timeout=1000) as changed:
        window.session.images.ready.emit(crop_key(photo, face.box, CROP_SIZE, 2.5))
    assert changed.args[0].row() == row
