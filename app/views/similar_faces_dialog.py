"""More Like This Face: the faces of the whole library most like one face.

Opened from a face of a person's page (its context menu, or L). The faces
are listed nearest first, each with who holds it now (a name, "Unnamed ·
4 photos" as Review and the people grid tell unnamed people apart, or "No
one"); faces the person holds already are not listed. Select some and
"Add to Anna" moves them to the person by the same engine operation as
"Move to…", so the window's Undo (and Ctrl+Z here) takes them back; added
faces leave the list and the person's page re-reads as after any other
correction. Opened from the pile of faces of nobody, "Move to…" gives the
faces chosen to a person picked in the same chooser as the person page's
"Move to…" (or to a new person named there), by the same operations, so
Undo takes that back too; moved faces stay listed under whoever holds them
now.

The search itself is the engine's (``engine.people.search``), run off the
GUI thread by ``SimilarFacesModel``; while it runs the dialog says so, and a
face the engine cannot search shows the engine's own words. The dialog
never ranks faces nor writes the catalog itself.
"""

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.images import crop_key
from app.models import CROP_SIZE, PeopleModel, SimilarFacesModel, count_text
from app.resources import icon
from app.session import Session
from app.views.choose_person import choose_person, move_faces
from app.views.common import (
    SPACING,
    EmptyState,
    TileDelegate,
    face_header,
    heading,
    icon_grid,
    muted,
    round_pixmap,
)
from engine import people


class SimilarFacesDialog(QDialog):
    def __init__(
        self,
        session: Session,
        people_model: PeopleModel,
        face_id: int,
        person_id: int | None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.session = session
        self.people_model = people_model
        self.person_id = person_id
        self.setWindowTitle("More Like This Face")
        self.resize(720, 560)
        self.model = SimilarFacesModel(session, people_model, self)

        layout = QVBoxLayout(self)
        layout.setSpacing(SPACING)
        self.details = muted()
        self.searched = face_header(layout, heading("Faces Like This One", 1.3), self.details)

        self.grid = icon_grid(TileDelegate(96, text_lines=1, parent=self))
        self.grid.setModel(self.model)
        self.empty = EmptyState("search", "", "")
        self.stack = QStackedWidget()
        self.stack.addWidget(self.grid)
        self.stack.addWidget(self.empty)
        layout.addWidget(self.stack, 1)

        footer = QHBoxLayout()
        footer.setSpacing(8)
        self.selection_label = muted()
        footer.addWidget(self.selection_label, 1)
        self.add_button = QPushButton(icon("yes"), "")
        self.add_button.setVisible(person_id is not None)
        footer.addWidget(self.add_button)
        self.move_button = QPushButton(icon("move"), "Move to…")
        self.move_button.setToolTip("Give these faces to a person you choose, or to a new "
                                    "one (M; Undo takes them back)")
        self.move_button.setVisible(person_id is None)
        footer.addWidget(self.move_button)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        footer.addWidget(buttons)
        layout.addLayout(footer)

        # The window's Undo is out of reach while this dialog is open: the
        # same keys work here.
        undo = QAction(self)
        undo.setShortcuts(QKeySequence.keyBindings(QKeySequence.StandardKey.Undo))
        undo.triggered.connect(lambda _checked=False: session.undo())  # not an id
        redo = QAction(self)
        redo.setShortcuts([*QKeySequence.keyBindings(QKeySequence.StandardKey.Redo),
                           QKeySequence("Ctrl+Shift+Z")])
        redo.triggered.connect(lambda _checked=False: session.redo())
        self.addActions([undo, redo])
        if person_id is None:
            # As on the person page: M moves while the grid has focus.
            move = QAction(self)
            move.setShortcut(QKeySequence(Qt.Key.Key_M))
            move.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
            move.triggered.connect(self.move_selected)
            self.grid.addAction(move)

        self.add_button.clicked.connect(self.add_selected)
        self.move_button.clicked.connect(self.move_selected)
        self.grid.selectionModel().selectionChanged.connect(self._update_actions)
        self.model.modelReset.connect(self._update_actions)
        self.model.refreshed.connect(self._show)
        people_model.refreshed.connect(self._show)  # a new name
        session.images.ready.connect(self._image_ready)
        self.model.search(face_id, person_id)
        self._show()

    # -- what the user does ------------------------------------------------------------

    def selected_face_ids(self) -> list[int]:
        return self.model.face_ids(self.grid.selectionModel().selectedIndexes())

    def add_selected(self) -> None:
        """The selected faces are this person: moved to them, as "Move to…" does."""
        ids = self.selected_face_ids()
        if not ids or self.person_id is None:
            return
        if self.session.apply("Add faces", people.split_faces, ids, self.person_id):
            self.model.taken(ids)

    def move_selected(self) -> None:
        """The selected faces are someone the user picks: moved as "Move to…" does."""
        ids = self.selected_face_ids()
        if not ids or self.person_id is not None:
            return
        target = choose_person(self.people_model, None, len(ids), self)
        if target is not None:
            move_faces(self.session, ids, target)  # the re-read shows who holds them now

    # -- drawing ---------------------------------------------------------------------------

    def _name(self) -> str | None:
        """The person's name; None for an unnamed person (or none)."""
        summary = self.people_model.summary(self.person_id) if self.person_id else None
        return summary.name if summary is not None else None

    def _show(self) -> None:
        model = self.model
        self._show_searched()
        name = self._name()
        whose = f"{name}’s" if name else "this person’s"
        if model.loading:
            self.details.setText("Comparing this face with every face in the library…")
            self._empty("Searching…", "The faces most like this one are listed here "
                        "as soon as they are found.")
        elif model.error is not None:
            self.details.setText("This face cannot be searched.")
            self._empty("Cannot search this face", _sentence(model.error))
        elif not model.rowCount():
            self.details.setText("")
            if model.found and self.person_id is not None:
                self._empty("Nothing new", f"The faces most like this one are all {whose} "
                            "already.")
            else:
                self._empty("No faces found", "No face in another photo was found to "
                            "compare this one with.")
        else:
            self.stack.setCurrentWidget(self.grid)
            nearest = f"{count_text(model.rowCount(), 'face')}, the nearest first"
            if self.person_id is not None:
                nearest += f"; faces that are {whose} already are not listed"
            self.details.setText(nearest + ".")
        self._update_actions()

    def _empty(self, title: str, text: str) -> None:
        self.empty.title.setText(title)
        self.empty.text.setText(text)
        self.stack.setCurrentWidget(self.empty)

    def _show_searched(self) -> None:
        searched = self.model.searched
        pixmap = (self.session.images.crop_of(searched[0], searched[1], CROP_SIZE)
                  if searched is not None else None)
        self.searched.setPixmap(round_pixmap(pixmap, 72, self.palette()))

    def _image_ready(self, key: str) -> None:
        searched = self.model.searched
        if searched is not None:
            face, photo = searched
            if key == crop_key(photo, face.box, CROP_SIZE, face.frame_seconds):
                self._show_searched()

    def _update_actions(self) -> None:
        count = len(self.selected_face_ids())
        name = self._name()
        self.add_button.setText(f"Add to {name or 'This Person'}")
        self.add_button.setToolTip(f"These faces are {name or 'this person'}: they move to "
                                   "them (Undo takes them back)")
        self.add_button.setEnabled(count > 0 and self.person_id is not None)
        self.move_button.setEnabled(count > 0 and self.person_id is None)
        if count:
            self.selection_label.setText(f"{count_text(count, 'face')} selected")
        elif self.person_id is None:
            if self.model.rowCount():
                self.selection_label.setText("Select faces to move them to a person")
            else:
                self.selection_label.setText("")
        elif self.model.rowCount():
            self.selection_label.setText(f"Select the faces that are {name or 'this person'}")
        else:
            self.selection_label.setText("")


def _sentence(message: str) -> str:
    """An engine message as a sentence: capital first, full stop last."""
    message = message.strip()
    message = message[:1].upper() + message[1:]
    return message if message.endswith((".", "!", "?")) else message + "."
