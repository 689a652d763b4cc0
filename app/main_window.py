"""The main window: pages, menus, the scan banner, and the wiring between them.

The window routes a user's intent to a page or to the session (scan, undo,
export, settings) and navigates between welcome, people, person and review. It
shows engine errors as dialogs that say what happened and what to do. It keeps
no domain state: pages read through item models, what Undo and Redo would do
comes from ``EditHistory`` and the scanned folders (whether there are photos,
what Scan Again scans) from ``ScannedFolders``, both read off the GUI thread;
changes go through ``Session``. It never reads nor changes the catalog itself.
"""

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QFileDialog,
    QMainWindow,
    QMessageBox,
    QStackedWidget,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from app import APP_TITLE, __version__
from app.jobs import PEOPLE_CHANGED, recluster_work, scan_work
from app.models import CatalogReader, EditHistory, PeopleModel, ProblemsModel, ScannedFolders
from app.resources import app_icon, demo_album, icon
from app.session import Session
from app.settings import SettingsStore
from app.views.export_dialog import ExportDialog
from app.views.folders_dialog import FoldersDialog
from app.views.notice import Notice
from app.views.people_page import PeoplePage
from app.views.person_page import PersonPage
from app.views.problems_dialog import ProblemsDialog
from app.views.review_page import ReviewPage
from app.views.scan_banner import ScanBanner
from app.views.settings_dialog import SettingsDialog
from app.views.shortcuts_dialog import ShortcutsDialog
from app.views.welcome_page import WelcomePage
from app.workers import Job
from engine.catalog import Catalog
from engine.progress import Progress
from engine.scan import ScanOptions

STYLE = """
QToolButton#filterChip { padding: 4px 14px; border-radius: 13px; border: 1px solid palette(mid); }
QToolButton#filterChip:checked { background: palette(highlight); color: palette(highlighted-text);
                                 border-color: palette(highlight); }
QFrame#scanBanner { background: palette(alternate-base); border: none;
                    border-bottom: 1px solid palette(mid); }
QFrame#notice { background: palette(tool-tip-base); color: palette(tool-tip-text);
                border: none; border-bottom: 1px solid palette(mid); }
QFrame#reviewCard { background: palette(base); border: 1px solid palette(midlight);
                    border-radius: 14px; }
QProgressBar { border: none; border-radius: 4px; background: palette(midlight); }
QProgressBar::chunk { border-radius: 4px; background: palette(highlight); }
QPushButton { padding: 6px 14px; }
"""


class MainWindow(QMainWindow):
    def __init__(self, session: Session, store: SettingsStore) -> None:
        super().__init__()
        self.session = session
        self.store = store
        self.setWindowTitle(APP_TITLE)
        self.setWindowIcon(app_icon())
        self.resize(1180, 780)
        self.setStyleSheet(STYLE)

        # First on the query lane: the page the window opens on waits for it.
        self.folders = ScannedFolders(session, self)
        self.people_model = PeopleModel(session, self)
        self.problems_model = ProblemsModel(session, self)
        self.history = EditHistory(session, self)
        self.welcome = WelcomePage()
        self.people_page = PeoplePage(session, self.people_model)
        self.person_page = PersonPage(session, self.people_model)
        self.person_page.renamer = self.people_page.rename
        self.review_page = ReviewPage(session, self.people_model)
        self.stack = QStackedWidget()
        for page in (self.welcome, self.people_page, self.person_page, self.review_page):
            self.stack.addWidget(page)
        self.banner = ScanBanner()
        self.notice = Notice()
        central = QWidget()
        column = QVBoxLayout(central)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(self.banner)
        column.addWidget(self.notice)
        column.addWidget(self.stack, 1)
        self.setCentralWidget(central)

        self._make_actions()
        self._make_menus()
        self._make_toolbar()

        self.welcome.choose_folder.connect(self.choose_folder)
        self.welcome.open_demo.connect(self.open_demo)
        self.people_page.open_person.connect(self.show_person)
        self.people_page.open_unassigned.connect(lambda: self.show_person(None))
        self.people_page.review_person.connect(self.show_review)
        self.people_page.set_order(session.settings.people_sort)
        self.people_page.sort_changed.connect(self._sort_chosen)
        self.person_page.back.connect(self.show_people)
        self.person_page.review_person.connect(self.show_review)
        self.person_page.person_created.connect(self.show_person)
        self.review_page.back.connect(self.show_people)
        self.banner.show_problems.connect(self.show_problems)
        session.error.connect(self.show_error)
        session.notice.connect(self.notice.tell)
        self.notice.undo.connect(session.undo)
        self.notice.redo.connect(session.redo)
        # Any job (an export too) disables scanning while it runs, and enables
        # it again once it has ended.
        session.job_started.connect(lambda _job: self.update_actions())
        session.job_ended.connect(self.update_actions)
        session.changed.connect(self.update_actions)
        self.people_model.refreshed.connect(self.update_actions)
        self.problems_model.refreshed.connect(self.update_actions)
        self.history.refreshed.connect(self.update_actions)
        self.folders.refreshed.connect(self._folders_read)
        self.stack.currentChanged.connect(lambda _i: self.update_actions())
        self._problems_seen = 0
        self._opened = False  # the first read of the folders has chosen the page
        self._rescan = CatalogReader(session, self._scan_folders_again)

        # The welcome page until the folders are read; people then, if there are any.
        self.stack.setCurrentWidget(self.welcome)
        last = session.settings.last_folder
        self.welcome.recent.setText(f"Last folder: {last}" if last else "")
        self._folders_read()  # read already when the runner is synchronous

    # -- actions ---------------------------------------------------------------------

    def _make_actions(self) -> None:
        def action(
            name: str, text: str, slot: Callable[[], object],
            shortcut: QKeySequence | QKeySequence.StandardKey | list[QKeySequence] | None = None,
            tip: str = "",
        ) -> QAction:
            a = QAction(icon(name), text, self) if name else QAction(text, self)
            if isinstance(shortcut, list):
                a.setShortcuts(shortcut)
            elif shortcut is not None:
                a.setShortcut(shortcut)
            if tip:
                a.setToolTip(tip)
                a.setStatusTip(tip)
            a.triggered.connect(slot)
            return a

        self.open_action = action("folder", "Add Photo &Folder…", self.choose_folder,
                                  QKeySequence.StandardKey.Open,
                                  "Look for faces in a folder of photos")
        self.demo_action = action("demo", "Open the &Demo Album", self.open_demo)
        self.rescan_action = action("scan", "&Scan Again", self.scan_again,
                                    [QKeySequence("Ctrl+R"), QKeySequence(Qt.Key.Key_F5)],
                                    "Look for new and changed photos in every folder (F5)")
        self.export_action = action("export", "&Export Albums…", self.show_export,
                                    QKeySequence("Ctrl+E"), "Make a folder of photos per person")
        self.problems_action = action("warning", "S&kipped Files…", self.show_problems)
        self.folders_action = action("folder", "F&olders…", self.show_folders, None,
                                     "The scanned folders: photos, state, and Remove")
        self.settings_action = action("settings", "Se&ttings…", self.show_settings,
                                      QKeySequence.StandardKey.Preferences,
                                      "Device, face model, strictness, catalog")
        self.quit_action = action("", "&Quit", self.close, QKeySequence.StandardKey.Quit)
        self.undo_action = action("undo", "&Undo", self.undo_latest,
                                  QKeySequence.StandardKey.Undo)
        self.redo_action = action("redo", "&Redo", self.redo_latest,
                                  [QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        self.people_action = action("people", "&People", self.show_people,
                                    QKeySequence("Ctrl+1"), "Everyone found (Ctrl+1)")
        self.review_action = action("review", "&Review Suggestions", lambda: self.show_review(None),
                                    QKeySequence("Ctrl+2"),
                                    "Answer \u201cIs this Anna?\u201d for faces that may be "
                                    "someone you named (Ctrl+2)")
        self.back_action = action("back", "&Back", self.show_people, QKeySequence("Alt+Left"))
        self.shortcuts_action = action("", "&Keyboard Shortcuts", self.show_shortcuts,
                                       [QKeySequence("Ctrl+/"), QKeySequence(Qt.Key.Key_F1)],
                                       "Every key the app knows, page by page (F1)")
        self.about_action = action("", f"&About {APP_TITLE}", self.show_about)

    def _make_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        for a in (self.open_action, self.demo_action, self.rescan_action, None,
                  self.export_action, self.problems_action, self.folders_action, None,
                  self.settings_action, None,
                  self.quit_action):
            file_menu.addSeparator() if a is None else file_menu.addAction(a)
        self.edit_menu = bar.addMenu("&Edit")
        self.edit_menu.addAction(self.undo_action)
        self.edit_menu.addAction(self.redo_action)
        self.edit_menu.addSeparator()
        for a in (self.people_page.rename_action, self.people_page.merge_action,
                  self.people_page.hide_action):
            self.edit_menu.addAction(a)
        # Another program may have changed the catalog: read what Undo would do again.
        self.edit_menu.aboutToShow.connect(self.history.refresh)
        view_menu = bar.addMenu("&View")
        for a in (self.people_action, self.review_action, self.back_action):
            view_menu.addAction(a)
        help_menu = bar.addMenu("&Help")
        help_menu.addAction(self.shortcuts_action)
        help_menu.addSeparator()
        help_menu.addAction(self.about_action)

    def _make_toolbar(self) -> None:
        toolbar = QToolBar("Main")
        toolbar.setMovable(False)
        toolbar.setFloatable(False)
        toolbar.setIconSize(QSize(20, 20))
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        toolbar.setContextMenuPolicy(Qt.ContextMenuPolicy.PreventContextMenu)
        for a in (self.people_action, self.review_action, None, self.undo_action,
                  self.redo_action, None, self.open_action, self.rescan_action,
                  self.export_action, self.settings_action):
            toolbar.addSeparator() if a is None else toolbar.addAction(a)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, toolbar)
        self.toolbar = toolbar

    def update_actions(self) -> None:
        if self.session.closed:
            return
        undo = self.history.undo_text
        redo = self.history.redo_text
        self.undo_action.setEnabled(undo is not None)
        self.undo_action.setText(f"&Undo {undo}" if undo else "&Undo")
        self.undo_action.setIconText("Undo")  # the toolbar stays short; the menu says what
        self.undo_action.setToolTip(f"Undo: {undo} (Ctrl+Z)" if undo else "Nothing to undo")
        self.redo_action.setEnabled(redo is not None)
        self.redo_action.setText(f"&Redo {redo}" if redo else "&Redo")
        self.redo_action.setIconText("Redo")
        self.redo_action.setToolTip(f"Redo: {redo} (Ctrl+Shift+Z)" if redo else "Nothing to redo")
        has_photos = bool(self.folders.paths)
        busy = self.session.busy()
        self.rescan_action.setEnabled(has_photos and not busy and not self._rescan.loading)
        self.open_action.setEnabled(not busy)
        self.demo_action.setEnabled(not busy)
        self.export_action.setEnabled(self.people_model.rowCount() > 0)
        self.problems_action.setEnabled(self.problems_model.rowCount() > 0)
        self.folders_action.setEnabled(has_photos)
        current = self.stack.currentWidget()
        self.back_action.setEnabled(current in (self.person_page, self.review_page))
        self.people_action.setEnabled(has_photos)
        self.review_action.setEnabled(self.people_model.rowCount() > 0)

    def undo_latest(self) -> None:
        self.session.undo()  # not connected directly: ``triggered`` passes a bool

    def redo_latest(self) -> None:
        self.session.redo()

    # -- navigation --------------------------------------------------------------------

    def show_people(self) -> None:
        self.stack.setCurrentWidget(self.people_page)
        self.people_page.grid.setFocus()

    def show_person(self, person_id: int | None) -> None:
        self.person_page.show_person(person_id)
        self.stack.setCurrentWidget(self.person_page)
        self.person_page.album.setFocus()

    def show_review(self, person_id: int | None) -> None:
        self.stack.setCurrentWidget(self.review_page)
        self.review_page.review(person_id)

    # -- long work ------------------------------------------------------------------------

    def choose_folder(self) -> None:
        start = self.session.settings.last_folder or str(Path.home())
        folder = QFileDialog.getExistingDirectory(self, "Choose a Folder of Photos", start)
        if folder:
            self.scan([Path(folder)])

    def open_demo(self) -> None:
        self.scan([demo_album()])

    def scan_again(self) -> None:
        """Scan every folder the catalog lists now (read off the GUI thread first)."""
        if not self._rescan.loading:
            self._rescan.read(_folders_on_disk)
            self.update_actions()

    def _scan_folders_again(self, folders: list[tuple[Path, bool]]) -> None:
        present = [f for f, there in folders if there]
        if present:
            self.scan(present, looked=True)
        if len(present) < len(folders):
            gone = ", ".join(str(f) for f, there in folders if not there)
            self.show_error("Scan Again", (
                f"{gone} cannot be opened now (moved, renamed, or on a drive that is not "
                "connected), so it was not scanned; its photos and people are kept. Connect "
                "the drive and scan again"))
        self.update_actions()  # Scan Again is offered again once its read is in

    def scan(self, folders: list[Path], *, looked: bool = False) -> Job | None:
        """Scan folders on a worker thread; people appear while it runs.

        ``looked``: the folders were just found on disk off the GUI thread
        (Scan Again), so they are not looked at again here.
        """
        if self.session.busy():
            self.show_error("Scan", "A scan is already running. Wait for it to finish, or "
                            "cancel it, then start this one.")
            return None
        missing = [] if looked else [f for f in folders if not f.is_dir()]
        if missing:
            self.show_error("Scan", (
                f"{missing[0]} is not a folder that can be opened now: it may have been moved, "
                "renamed or be on a drive that is not connected. Connect the drive, or choose "
                "the folder again with File > Add Photo Folder"))
            return None
        settings = self.session.settings
        if len(folders) == 1:
            settings.last_folder = str(folders[0])
            self.store.save(settings)
        options = ScanOptions(detector=settings.detector, embedder=settings.embedder,
                              device=settings.device, ray_address=settings.ray_address)
        title = f"Scanning {folders[0].name}" if len(folders) == 1 else "Scanning folders"
        work = scan_work(folders, options, settings.strictness)
        self.show_people()
        job = self.session.start_job(title, work, prepare=self._follow)
        self.update_actions()
        return job

    def _follow(self, job: Job) -> None:
        """Show a scan or re-grouping in the banner; refresh people as they come."""
        self.banner.follow(job)
        self._problems_seen = 0
        job.progressed.connect(self._scan_progressed)
        job.ended.connect(self.update_actions)

    def _scan_progressed(self, report: Progress) -> None:
        if report.info.get(PEOPLE_CHANGED):
            self.session.announce_change()
        problems = report.info.get("problems")
        if isinstance(problems, int) and problems != self._problems_seen:
            # Skipped files are in the catalog as soon as the scan reports
            # them: the list and File > Skipped Files follow now, not only at
            # the end (nor only when people change).
            self._problems_seen = problems
            self.problems_model.refresh()

    def show_export(self) -> None:
        dialog = ExportDialog(self.session, self.people_model, parent=self)
        dialog.exec()

    def show_problems(self) -> None:
        self.problems_model.refresh()  # another program may have scanned meanwhile
        dialog = ProblemsDialog(self.problems_model, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)  # closed: stop following reads
        dialog.exec()

    def show_folders(self) -> FoldersDialog:
        dialog = FoldersDialog(self.session, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)  # closed: stop following reads
        dialog.open()
        return dialog

    def _folders_read(self) -> None:
        """The first read of the folders chooses the page: people if there are any."""
        if self.folders.known and not self._opened:
            self._opened = True
            if self.folders.paths and self.stack.currentWidget() is self.welcome:
                self.stack.setCurrentWidget(self.people_page)
        self.update_actions()

    def _sort_chosen(self, order: str) -> None:
        self.session.settings.people_sort = order
        self.store.save(self.session.settings)

    def show_settings(self) -> None:
        old = self.session.settings
        dialog = SettingsDialog(old, self.session, self)
        if dialog.exec() != SettingsDialog.DialogCode.Accepted:
            return
        new = dialog.result_settings()
        self.store.save(new)
        self.session.settings = new
        if new.strictness != old.strictness and self.people_model.rowCount():
            self.session.start_job("Grouping faces again", recluster_work(new.strictness),
                                   prepare=self._follow)
        if new.catalog_path != old.catalog_path:
            QMessageBox.information(self, "Settings",
                                    f"The catalog {new.catalog_path} will be used from the next "
                                    "start.")

    # -- messages ---------------------------------------------------------------------------

    def show_error(self, title: str, message: str) -> None:
        box = QMessageBox(QMessageBox.Icon.Warning, title, _sentence(message), parent=self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()  # not exec(): a worker's error must not stop the event loop

    def show_shortcuts(self) -> None:
        dialog = ShortcutsDialog(self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()

    def show_about(self) -> None:
        QMessageBox.about(
            self, f"About {APP_TITLE}",
            f"<h3>{APP_TITLE} {__version__}</h3><p>Turns a folder of photos into albums of "
            "the people in them, on this computer.</p><p>Faces are found with YuNet and "
            "recognised with SFace or FaceNet.</p>")

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        self.store.save(self.session.settings)
        self.session.close()
        event.accept()


def _sentence(message: str) -> str:
    message = message.strip()
    if message and message[0].islower():
        message = message[0].upper() + message[1:]
    return message if message.endswith((".", "!", "?")) else message + "."


def _folders_on_disk(cat: Catalog) -> list[tuple[Path, bool]]:
    """Every scanned folder and whether it can be opened now: read off the GUI
    thread, where a look at a network drive that went away may hang."""
    return [(folder, folder.is_dir()) for folder in ScannedFolders.read(cat)]
