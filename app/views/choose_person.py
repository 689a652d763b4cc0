"""Where faces go: "Move to…"'s chooser of a person, and the move itself.

The chooser lists everyone but the person the faces leave, named people
first; the user picks one by name or face, or types the name of a new
person. ``move_faces`` then makes the move by the engine's operations
through ``Session.apply``, so Undo takes it back. The person page, the photo
viewer and More Like This Face all move faces so; nothing here decides whose
a face is.
"""

from PySide6.QtCore import QModelIndex
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QLineEdit,
    QListView,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.models import PeopleFilter, PeopleModel, Role
from app.resources import icon
from app.session import Session
from app.views.common import SPACING, RoundIconDelegate, heading
from engine import people
from engine.people.facts import name_faces


class ChoosePersonDialog(QDialog):
    """"Move to…": pick a person by name or face, or type the name of a new one.

    Named people come first; nothing is chosen until the user picks a row or
    types, so Return never sends faces to whoever happens to be listed first.
    A typed name nobody has offers "New person named …" as the first row.
    """

    def __init__(
        self, model: PeopleModel, exclude: int | None, count: int, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Move Faces")
        self.resize(420, 520)
        layout = QVBoxLayout(self)
        layout.setSpacing(SPACING)
        layout.addWidget(heading("Whose face is this?" if count == 1
                                 else f"Whose are these {count} faces?", 1.2))
        self.search = QLineEdit()
        self.search.setPlaceholderText("Type a name, or pick a face below")
        self.search.setClearButtonEnabled(True)
        layout.addWidget(self.search)
        self.model = model
        self.proxy = _Excluding(model, exclude, self)
        self.proxy.sort(0)  # named people first, by name; then unnamed ones, largest first
        self.new_button = QPushButton(icon("new-person"), "")
        self.new_button.setCheckable(True)
        self.new_button.hide()
        layout.addWidget(self.new_button)
        self.list = QListView()
        self.list.setModel(self.proxy)
        self.list.setItemDelegate(RoundIconDelegate(40, self.list))
        self.list.setSpacing(2)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        layout.addWidget(self.list, 1)
        buttons = QDialogButtonBox()
        self.ok = buttons.addButton("Move", QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.search.textChanged.connect(self._filter)
        self.list.doubleClicked.connect(lambda _i: self.accept())
        self.list.selectionModel().currentChanged.connect(lambda *_: self._picked())
        self.new_button.clicked.connect(self._new_clicked)
        self._update()

    def _filter(self, text: str) -> None:
        self.proxy.set_text(text)
        name = text.strip()
        taken = self.model.find_named(name) if name else None
        self.new_button.setVisible(bool(name) and taken is None)
        self.new_button.setText(f"New person named \u201c{name}\u201d")
        if taken is not None or (name and self.proxy.rowCount()):
            self.new_button.setChecked(False)
            self.list.setCurrentIndex(self.proxy.index(0, 0))
        else:
            self.list.setCurrentIndex(QModelIndex())
            self.new_button.setChecked(bool(name))
        self._update()

    def _picked(self) -> None:
        if self.list.currentIndex().isValid():
            self.new_button.setChecked(False)
        self._update()

    def _new_clicked(self) -> None:
        if self.new_button.isChecked():
            self.list.setCurrentIndex(QModelIndex())
        self._update()

    def _update(self) -> None:
        self.ok.setEnabled(self.chosen() is not None)

    def chosen(self) -> int | str | None:
        """The person picked, the name of a new person (str), or None."""
        if not self.new_button.isHidden() and self.new_button.isChecked():  # also once closed
            return self.search.text().strip()
        index = self.list.currentIndex()
        if index.isValid() and self.list.selectionModel().isSelected(index):
            return int(index.data(Role.ID))
        return None


class _Excluding(PeopleFilter):
    """Everyone but one person; hidden people only when their name is searched."""

    def __init__(self, model: PeopleModel, exclude: int | None, parent: QWidget) -> None:
        super().__init__(model, parent)
        self.exclude = exclude

    def lessThan(self, left: QModelIndex, right: QModelIndex) -> bool:  # type: ignore[override]  # noqa: N802
        a, b = self.people.row_at(left.row()), self.people.row_at(right.row())
        if bool(a.name) != bool(b.name):
            return bool(a.name)
        if a.name and b.name:
            return a.name.casefold() < b.name.casefold()
        return left.row() < right.row()  # the model lists the largest first

    def filterAcceptsRow(self, row: int, parent: QModelIndex) -> bool:  # type: ignore[override]  # noqa: N802
        person = self.people.summary_at(row)
        if person.id == self.exclude:
            return False
        if self.text:
            return self.text in person.label.casefold()
        return not person.hidden


def choose_person(
    model: PeopleModel, exclude: int | None, count: int, parent: QWidget | None = None
) -> int | str | None:
    """The person chosen for ``count`` faces, a new name typed (str), or None if cancelled."""
    dialog = ChoosePersonDialog(model, exclude, count, parent)
    if dialog.exec() == QDialog.DialogCode.Accepted:
        return dialog.chosen()
    return None


def move_faces(session: Session, face_ids: list[int], target: int | str) -> int | None:
    """Move the faces to ``target``, a person or the name of a new one, by the
    engine's operations; the person they went to, or None if the engine
    refused (the user has been told why)."""
    if isinstance(target, str):  # a new person, named as typed: one operation, one Undo
        new_id = session.call("Move faces", name_faces, face_ids, target)
        return None if new_id is None else int(new_id)
    return target if session.apply("Move faces", people.split_faces, face_ids, target) else None
