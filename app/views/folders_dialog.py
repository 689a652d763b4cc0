"""File > Folders: the scanned folders with their photos and state, and Remove.

Each folder the library holds is listed with its photo count and whether it
is still there (missing, empty, cannot be opened). Remove forgets a folder
and its photos in the catalog, after asking; when faces there carry the
user's decisions (names, confirmations, marks) the question says so, and
only "Forget Anyway" forgets them. The files on disk are never touched, and
the dialog never writes the catalog itself: the engine's ``remove_root``
does, through ``Session.apply``.
"""

from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QMessageBox,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.models import FoldersModel, count_text
from app.resources import icon
from app.session import Session
from app.views.common import SPACING, heading, muted
from engine.catalog import Catalog
from engine.catalog.folders import Folder, remove_root


class FoldersDialog(QDialog):
    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.setWindowTitle("Folders")
        self.resize(760, 420)
        layout = QVBoxLayout(self)
        layout.setSpacing(SPACING)
        layout.addWidget(heading("Scanned folders", 1.2))
        layout.addWidget(muted(
            "Removing a folder forgets it and its photos here; the files on disk stay as "
            "they are, and scanning the folder again brings them back."))
        self.model = FoldersModel(session, self)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().hide()
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        layout.addWidget(self.table, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.remove_button = QPushButton(icon("cancel"), "Remove…")
        self.remove_button.setToolTip("Forget the selected folder and its photos")
        buttons.addButton(self.remove_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.remove_button.clicked.connect(self.remove_selected)
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._update())
        self.model.modelReset.connect(self._update)
        self._update()

    def selected(self) -> Folder | None:
        rows = self.table.selectionModel().selectedRows()
        return self.model.folder(rows[0].row()) if rows else None

    def remove_selected(self) -> None:
        folder = self.selected()
        if folder is None:
            return
        photos = count_text(folder.photos + folder.missing + folder.problems, "photo")
        if folder.facts:
            text = (f"{count_text(folder.facts, 'face')} in {folder.display_path} carry your "
                    "decisions (names, confirmations, corrections). Forgetting the folder "
                    f"forgets them and its {photos}, and this cannot be undone. If the folder "
                    "is on a disk that is not connected, connect it instead and scan again.")
            answer = "Forget Anyway"
        else:
            text = (f"Forget {folder.display_path} and its {photos}? The files on disk are "
                    "not touched.")
            answer = "Remove"
        box = QMessageBox(QMessageBox.Icon.Question, "Remove Folder", text, parent=self)
        go = box.addButton(answer, QMessageBox.ButtonRole.DestructiveRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        if box.clickedButton() is not go:
            return
        self.session.apply("Remove folder", _remove, folder.id, folder.facts > 0)

    def _update(self) -> None:
        self.remove_button.setEnabled(self.selected() is not None)


def _remove(cat: Catalog, root_id: int, force: bool) -> int:
    # ``Session.apply`` passes positional arguments; ``force`` is keyword-only.
    return remove_root(cat, root_id, force=force)
