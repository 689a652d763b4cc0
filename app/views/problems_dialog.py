"""The files a scan skipped, each with the reason it could not be read.

It shows the ``ProblemsModel``, which reads the catalog off the GUI thread;
the count in the heading follows the model as its reads arrive (while the
first read runs it says so, rather than "0 files"). Each file is shown with
its folder. It only
reads: it never retries, moves or deletes a file.
"""

from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.models import ProblemsModel
from app.views.common import SPACING, heading, muted


class ProblemsDialog(QDialog):
    def __init__(self, model: ProblemsModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Skipped Files")
        self.resize(760, 420)
        layout = QVBoxLayout(self)
        layout.setSpacing(SPACING)
        self.model = model
        self.heading = heading("", 1.2)
        layout.addWidget(self.heading)
        layout.addWidget(muted(
            "These files were skipped; everything else was scanned. Fix or replace a file and "
            "scan again to include it. Files you cannot read (permissions) are retried on "
            "every scan."))
        self.table = QTableView()
        self.table.setModel(model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        layout.addWidget(self.table, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        model.modelReset.connect(self._count)
        model.refreshed.connect(self._count)
        self._count()

    def _count(self) -> None:
        count = self.model.rowCount()
        if self.model.loading and count == 0:
            self.heading.setText("Reading the list of skipped files…")
            return
        self.heading.setText(f"{count} file{'s' if count != 1 else ''} could not be read")
