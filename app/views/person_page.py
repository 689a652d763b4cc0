"""One person: their album of photos and the faces that make them, to correct.

The Album tab shows every photo the person is in (thumbnails load lazily;
double-click opens the photo large with its faces named). The Faces tab shows
the face crops: select some, then "Not this person", "Move to…" or "New person
from selection"; one face selected can become the person's cover ("Use as
Cover"), the face the people grid shows for them, or be searched for
("More Like This Face", L: the faces of the whole library most like it, to
add to the person). Opened without a person, the page shows the pile of
faces that belong to nobody yet, with "Move to…", "New person from selection"
and "Not a face". The page never moves a face itself; every correction is an
engine operation.
"""

from collections.abc import Callable

from PySide6.QtCore import QModelIndex, QPoint, QSize, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QCompleter,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QStackedWidget,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.models import (
    CROP_SIZE,
    FacesModel,
    PeopleModel,
    PhotosModel,
    count_text,
)
from app.resources import icon
from app.session import Session
from app.views.choose_person import choose_person, move_faces
from app.views.common import (
    SPACING,
    EmptyState,
    TileDelegate,
    heading,
    icon_grid,
    muted,
    round_pixmap,
)
from app.views.photo_viewer import PhotoViewer
from app.views.similar_faces_dialog import SimilarFacesDialog
from engine import people
from engine.catalog import FaceState


class PersonPage(QWidget):
    back = Signal()
    review_person = Signal(int)
    person_created = Signal(int)

    def __init__(
        self, session: Session, people_model: PeopleModel, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.session = session
        self.people_model = people_model
        self.person_id: int | None = None
        # How a new name is given; the window routes it through the people page,
        # which offers a merge when the name is taken.
        self.renamer: Callable[[int, str], object] = lambda pid, name: self.session.apply(
            "Name", people.name_person, pid, name or None)
        self.photos = PhotosModel(session, self)
        self.faces = FacesModel(session, self)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(2 * SPACING, SPACING, 2 * SPACING, SPACING)
        layout.setSpacing(SPACING)

        header = QHBoxLayout()
        header.setSpacing(SPACING)
        self.back_button = QToolButton()
        self.back_button.setIcon(icon("back"))
        self.back_button.setIconSize(QSize(24, 24))
        self.back_button.setAutoRaise(True)
        self.back_button.setToolTip("Back to people (Alt+Left, Backspace)")
        header.addWidget(self.back_button)
        self.cover = QLabel()
        header.addWidget(self.cover)
        names = QVBoxLayout()
        names.setSpacing(2)
        self.name_label = heading("")
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("Add a name")
        self.name_edit.hide()
        self.details = muted()
        names.addStretch(1)
        names.addWidget(self.name_label)
        names.addWidget(self.name_edit)
        names.addWidget(self.details)
        names.addStretch(1)
        header.addLayout(names, 1)
        self.rename_button = QPushButton(icon("rename"), "Name")
        self.rename_button.setToolTip("Give this person a name (F2)")
        self.review_button = QPushButton(icon("review"), "Review Suggestions")
        self.review_button.setToolTip("Go through faces that may be this person")
        self.hide_button = QPushButton(icon("hide"), "Hide")
        self.hide_button.setToolTip("Hide this person from the people list")
        for button in (self.rename_button, self.review_button, self.hide_button):
            header.addWidget(button)
        layout.addLayout(header)

        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        layout.addWidget(self.tabs, 1)

        self.album = icon_grid(TileDelegate(180, round_image=False, text_lines=0, parent=self))
        self.album.setModel(self.photos)
        self.album_empty = EmptyState("photo", "No photos", "This person is in no photo any more.")
        self.album_stack = QStackedWidget()
        self.album_stack.addWidget(self.album)
        self.album_stack.addWidget(self.album_empty)
        self.tabs.addTab(self.album_stack, icon("photo"), "Album")

        faces_tab = QWidget()
        faces_layout = QVBoxLayout(faces_tab)
        faces_layout.setContentsMargins(0, SPACING, 0, 0)
        actions = QHBoxLayout()
        actions.setSpacing(8)
        self.selection_label = muted("Select faces to correct them")
        actions.addWidget(self.selection_label, 1)
        self.reject_button = QPushButton(icon("not-person"), "Not This Person")
        self.reject_button.setToolTip("These faces are someone else: they leave this person "
                                      "and are never suggested for them again (Delete)")
        self.move_button = QPushButton(icon("move"), "Move to…")
        self.move_button.setToolTip("Give these faces to another person (M)")
        self.split_button = QPushButton(icon("new-person"), "New Person from Selection")
        self.split_button.setToolTip("These faces are one new person (S)")
        self.not_face_button = QPushButton(icon("no"), "Not a Face")
        self.not_face_button.setToolTip("The detector was wrong: these are not faces")
        self.cover_button = QPushButton(icon("person"), "Use as Cover")
        self.cover_button.setToolTip("Show this person with the selected face, in the people "
                                     "list and everywhere else")
        for button in (self.reject_button, self.move_button, self.split_button,
                       self.not_face_button, self.cover_button):
            actions.addWidget(button)
        faces_layout.addLayout(actions)
        self.face_delegate = TileDelegate(96, text_lines=0, parent=self)
        self.face_grid = icon_grid(self.face_delegate)
        self.face_grid.setModel(self.faces)
        self.face_grid.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.faces_empty = EmptyState("face", "No faces here", "Every face has found its person.")
        self.faces_stack = QStackedWidget()
        self.faces_stack.addWidget(self.face_grid)
        self.faces_stack.addWidget(self.faces_empty)
        faces_layout.addWidget(self.faces_stack, 1)
        self.tabs.addTab(faces_tab, icon("face"), "Faces")

        self.reject_action = QAction(icon("not-person"), "Not This Person", self)
        self.reject_action.setShortcut(QKeySequence(Qt.Key.Key_Delete))
        self.move_action = QAction(icon("move"), "Move to…", self)
        self.move_action.setShortcut(QKeySequence(Qt.Key.Key_M))
        self.split_action = QAction(icon("new-person"), "New Person from Selection", self)
        self.split_action.setShortcut(QKeySequence(Qt.Key.Key_S))
        self.not_face_action = QAction(icon("no"), "Not a Face", self)
        self.cover_action = QAction(icon("person"), "Use as Cover", self)
        self.similar_action = QAction(icon("search"), "More Like This Face", self)
        self.similar_action.setShortcut(QKeySequence(Qt.Key.Key_L))
        self.similar_action.setToolTip("The faces of the whole library most like this one (L)")
        self.rename_action = QAction(self)
        self.rename_action.setShortcut(QKeySequence(Qt.Key.Key_F2))
        back_action = QAction(self)
        back_action.setShortcuts([QKeySequence("Alt+Left"), QKeySequence(Qt.Key.Key_Backspace)])
        back_action.triggered.connect(self.back.emit)
        for action in (self.rename_action, back_action):
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            self.addAction(action)
        # Single keys act on the faces only while the faces grid has focus, so
        # they never fire while a name is typed.
        for action in (self.reject_action, self.move_action, self.split_action,
                       self.similar_action):
            action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
            self.face_grid.addAction(action)

        self.back_button.clicked.connect(self.back.emit)
        self.rename_button.clicked.connect(self.start_rename)
        self.rename_action.triggered.connect(self.start_rename)
        self.name_edit.editingFinished.connect(self._finish_rename)
        self.review_button.clicked.connect(
            lambda: self.review_person.emit(self.person_id) if self.person_id else None)
        self.hide_button.clicked.connect(self.toggle_hidden)
        self.reject_button.clicked.connect(self.reject_selected)
        self.reject_action.triggered.connect(self.reject_selected)
        self.move_button.clicked.connect(self.move_selected)
        self.move_action.triggered.connect(self.move_selected)
        self.split_button.clicked.connect(self.split_selected)
        self.split_action.triggered.connect(self.split_selected)
        self.not_face_button.clicked.connect(self.mark_not_face)
        self.not_face_action.triggered.connect(self.mark_not_face)
        self.cover_action.triggered.connect(self.use_as_cover)
        self.cover_button.clicked.connect(self.use_as_cover)
        self.similar_action.triggered.connect(self.find_similar)
        self.album.activated.connect(self.open_photo)
        self.album.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.album.customContextMenuRequested.connect(self._album_menu)
        self.face_grid.selectionModel().selectionChanged.connect(self._update_actions)
        # A re-read after a correction resets the grid and drops the selection
        # without a selectionChanged: the header and buttons must follow it.
        self.faces.modelReset.connect(self._update_actions)
        self.face_grid.customContextMenuRequested.connect(self._face_menu)
        for model in (self.photos, self.faces, self.people_model):
            model.refreshed.connect(self._update_header)
        session.changed.connect(self._catalog_changed)

    # -- showing -----------------------------------------------------------------

    def show_person(self, person_id: int | None) -> None:
        """A person's page, or (None) the faces that belong to nobody yet."""
        self.person_id = person_id
        self.photos.show_person(person_id)
        self.faces.show_person(person_id)
        self.tabs.setCurrentIndex(1 if person_id is None else 0)
        self.name_edit.hide()
        self.name_label.show()
        self._update_header()
        self._update_actions()

    def _catalog_changed(self) -> None:
        # Only the page on screen re-reads; opening a page reads it afresh.
        if self.isVisible():
            self.photos.refresh()
            self.faces.refresh()

    def _update_header(self) -> None:
        summary = self.people_model.summary(self.person_id) if self.person_id else None
        pid = self.person_id
        if pid is not None and summary is None:
            if not self.people_model.loading and self.isVisible():
                # Merged away or gone (undo of a split): nothing left to show here.
                self.back.emit()
            return
        cover = self.people_model.cover(pid) if pid is not None else None
        pixmap = None
        if cover is not None:
            pixmap = self.session.images.crop_of(cover[0], cover[1], CROP_SIZE)
        self.cover.setPixmap(round_pixmap(pixmap, 72, self.palette()))
        if pid is None:
            self.name_label.setText("Faces without a person")
            self.details.setText(f"{self.faces.rowCount()} faces in {self.photos.rowCount()} "
                                 "photos. Select some and say who they are.")
        elif summary is not None:
            self.name_label.setText(summary.label)
            details = (f"{count_text(self.photos.rowCount(), 'photo')} · "
                       f"{count_text(self.faces.rowCount(), 'face')}")
            years = self.photos.years()
            if years is not None:
                first, last = years
                details += f" · {first}" if first == last else f" · {first}–{last}"
            self.details.setText(details)
            self.hide_button.setText("Show Again" if summary.hidden else "Hide")
        for button in (self.rename_button, self.review_button, self.hide_button):
            button.setVisible(pid is not None)
        has_photos, has_faces = self.photos.rowCount() > 0, self.faces.rowCount() > 0
        self.album_stack.setCurrentWidget(self.album if has_photos else self.album_empty)
        self.faces_stack.setCurrentWidget(self.face_grid if has_faces else self.faces_empty)
        self.tabs.setTabText(1, f"Faces ({self.faces.rowCount()})")
        self.tabs.setTabText(0, f"Album ({self.photos.rowCount()})")

    def _update_actions(self) -> None:
        count = len(self.selected_face_ids())
        anyone = self.person_id is not None
        self.reject_button.setVisible(anyone)
        self.not_face_button.setVisible(not anyone)
        for widget in (self.reject_button, self.move_button, self.split_button,
                       self.not_face_button, self.reject_action, self.move_action,
                       self.split_action, self.not_face_action):
            widget.setEnabled(count > 0)
        self.reject_action.setEnabled(count > 0 and anyone)
        self.cover_button.setVisible(anyone)
        for widget in (self.cover_button, self.cover_action):
            widget.setEnabled(count == 1 and anyone)
        self.similar_action.setEnabled(count == 1)
        self.selection_label.setText(
            f"{count_text(count, 'face')} selected" if count else "Select faces to correct them"
        )

    # -- what the user does --------------------------------------------------------

    def selected_face_ids(self) -> list[int]:
        return self.faces.face_ids(self.face_grid.selectionModel().selectedIndexes())

    def start_rename(self) -> None:
        if self.person_id is None:
            return
        summary = self.people_model.summary(self.person_id)
        self.name_label.hide()
        self.name_edit.setText(summary.name or "" if summary else "")
        completer = QCompleter(self.people_model.names(), self.name_edit)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.name_edit.setCompleter(completer)
        self.name_edit.show()
        self.name_edit.setFocus()
        self.name_edit.selectAll()

    def _finish_rename(self) -> None:
        if not self.name_edit.isVisible() or self.person_id is None:
            return
        self.name_edit.hide()
        self.name_label.show()
        name = self.name_edit.text().strip()
        summary = self.people_model.summary(self.person_id)
        if summary is not None and (summary.name or "") != name:
            self.renamer(self.person_id, name)

    def toggle_hidden(self) -> None:
        summary = self.people_model.summary(self.person_id) if self.person_id else None
        if summary is not None:
            self.session.apply("Hide", people.hide_person, summary.id, not summary.hidden)

    def reject_selected(self) -> None:
        ids = self.selected_face_ids()
        if ids and self.person_id is not None:
            self.session.apply("Not this person", people.reject_faces, ids, self.person_id)

    def move_selected(self) -> None:
        ids = self.selected_face_ids()
        if not ids:
            return
        target = choose_person(self.people_model, self.person_id, len(ids), self)
        if target is not None:
            move_faces(self.session, ids, target)

    def split_selected(self) -> None:
        ids = self.selected_face_ids()
        if ids:
            new_id = self.session.call("New person", people.split_faces, ids)
            if new_id is not None:
                self.person_created.emit(int(new_id))

    def mark_not_face(self) -> None:
        ids = self.selected_face_ids()
        if ids:
            self.session.apply("Not a face", people.mark_faces, ids, FaceState.NOT_FACE)

    def use_as_cover(self) -> None:
        ids = self.selected_face_ids()
        if len(ids) == 1 and self.person_id is not None:
            self.session.apply("Cover", people.set_cover, self.person_id, ids[0])

    def find_similar(self) -> None:
        """More Like This Face: the library's faces most like the one selected."""
        ids = self.selected_face_ids()
        if len(ids) == 1:
            dialog = SimilarFacesDialog(self.session, self.people_model, ids[0],
                                        self.person_id, self)
            dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            dialog.open()

    def open_photo(self, index: QModelIndex) -> None:
        if index.isValid():
            viewer = PhotoViewer(self.session, self.photos.photos(), index.row(), self)
            viewer.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            viewer.open()

    def _album_menu(self, pos: QPoint) -> None:
        index = self.album.indexAt(pos)
        if not index.isValid():
            return
        menu = QMenu(self)
        view = menu.addAction(icon("photo"), "View Photo")
        view.triggered.connect(lambda: self.open_photo(index))
        faces = menu.addAction(icon("face"), "Show Faces")
        faces.triggered.connect(lambda: self.tabs.setCurrentIndex(1))
        menu.exec(self.album.viewport().mapToGlobal(pos))

    def _face_menu(self, pos: QPoint) -> None:
        index = self.face_grid.indexAt(pos)
        if not index.isValid():
            return
        if not self.face_grid.selectionModel().isSelected(index):
            self.face_grid.setCurrentIndex(index)
        self._update_actions()
        menu = QMenu(self)
        if self.person_id is not None:
            menu.addAction(self.reject_action)
        menu.addAction(self.move_action)
        menu.addAction(self.split_action)
        menu.addAction(self.not_face_action)
        if len(self.selected_face_ids()) == 1:
            menu.addSeparator()
            menu.addAction(self.similar_action)
            if self.person_id is not None:
                menu.addAction(self.cover_action)
        menu.exec(self.face_grid.viewport().mapToGlobal(pos))
