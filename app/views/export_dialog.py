"""Export albums: which people, where to, copy or link, XMP sidecars, with progress.

The dialog collects plain values and runs the engine's ``export_albums`` on a
worker thread through the session; the progress bar follows its reports and
Cancel stops it between two photos. Nothing is written by the dialog itself.
"""

from pathlib import Path

from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QListView,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from app.jobs import export_work
from app.models import CheckablePeople, PeopleModel
from app.resources import icon
from app.session import Session
from app.views.common import SPACING, RoundIconDelegate, heading, muted
from app.workers import Job
from engine.export.albums import Action, ExportReport, LinkMode
from engine.progress import Progress

MODE_LABELS = {
    LinkMode.COPY: ("Copy the photos", "Safe everywhere; uses disk space"),
    LinkMode.HARDLINK: ("Hard links", "No extra space; same drive only"),
    LinkMode.SYMLINK: ("Shortcuts (symbolic links)", "No extra space; break if originals move"),
}


class ExportDialog(QDialog):
    def __init__(
        self, session: Session, people_model: PeopleModel, destination: str = "",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.session = session
        self.job: Job | None = None
        self.report = ExportReport()
        self.setWindowTitle("Export Albums")
        self.setMinimumSize(640, 640)
        layout = QVBoxLayout(self)
        layout.setSpacing(SPACING)
        layout.addWidget(heading("Export albums", 1.3))
        layout.addWidget(muted("Each person you choose gets a folder with every photo they are "
                               "in. Your original photos are never changed."))

        self.people = CheckablePeople(people_model, self)
        people_row = QHBoxLayout()
        people_row.addWidget(muted("People"), 1)
        self.all_button = QPushButton("All")
        self.none_button = QPushButton("None")
        people_row.addWidget(self.all_button)
        people_row.addWidget(self.none_button)
        layout.addLayout(people_row)
        self.list = QListView()
        self.list.setModel(self.people)
        self.list.setItemDelegate(RoundIconDelegate(32, self.list))
        self.list.setSpacing(1)
        self.list.setUniformItemSizes(True)
        layout.addWidget(self.list, 1)

        form = QFormLayout()
        form.setSpacing(SPACING)
        dest_row = QHBoxLayout()
        self.dest = QLineEdit(destination)
        self.dest.setPlaceholderText("Folder to put the albums in")
        browse = QPushButton(icon("folder"), "Choose…")
        dest_row.addWidget(self.dest, 1)
        dest_row.addWidget(browse)
        form.addRow("Destination", dest_row)
        modes = QVBoxLayout()
        modes.setSpacing(4)
        self.mode_group = QButtonGroup(self)
        self.mode_buttons: dict[LinkMode, QRadioButton] = {}
        for mode, (label, tip) in MODE_LABELS.items():
            button = QRadioButton(f"{label}  —  {tip}")
            self.mode_group.addButton(button)
            self.mode_buttons[mode] = button
            modes.addWidget(button)
        self.mode_buttons[LinkMode.COPY].setChecked(True)
        form.addRow("How", modes)
        self.xmp = QCheckBox("Write XMP sidecars with the names of the faces")
        self.xmp.setToolTip(
            "Lets other programs see who is in each photo. Each copy gets photo.jpg.xmp beside "
            "it, which digiKam, darktable and exiftool read (Lightroom and Capture One read "
            "photo.xmp: use `facealbum export --sidecar-name photo.xmp`). Face regions are "
            "written for digiKam, Lightroom, Immich and Windows; only names you confirmed are "
            "written, and the photos themselves are never changed."
        )
        self.xmp.setChecked(True)
        form.addRow("", self.xmp)
        self.unconfirmed = QCheckBox("Also name the faces grouped automatically")
        self.unconfirmed.setToolTip(
            "Off: sidecars name only the faces you confirmed (by naming, merging, moving or "
            "answering Yes), as digiKam does with its own. On: every face of a named person "
            "is written, including those the grouping placed there."
        )
        form.addRow("", self.unconfirmed)
        self.xmp.toggled.connect(self.unconfirmed.setEnabled)
        layout.addLayout(form)

        self.progress = QProgressBar()
        self.progress.setTextVisible(False)
        self.progress.setMaximumHeight(8)
        self.progress.hide()
        self.status = muted()
        layout.addWidget(self.progress)
        layout.addWidget(self.status)

        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.close_button = QPushButton("Close")
        self.export_button = QPushButton(icon("export"), "Export")
        self.export_button.setDefault(True)
        buttons.addWidget(self.close_button)
        buttons.addWidget(self.export_button)
        layout.addLayout(buttons)

        browse.clicked.connect(self._browse)
        self.all_button.clicked.connect(lambda: self.people.set_all(True))
        self.none_button.clicked.connect(lambda: self.people.set_all(False))
        self.export_button.clicked.connect(self.start)
        self.close_button.clicked.connect(self._close_or_cancel)
        self.dest.textChanged.connect(lambda _t: self._update())
        self.people.dataChanged.connect(lambda *_: self._update())
        self._update()

    def mode(self) -> LinkMode:
        for mode, button in self.mode_buttons.items():
            if button.isChecked():
                return mode
        return LinkMode.COPY

    def start(self) -> None:
        chosen = self.people.chosen()
        dest = self.dest.text().strip()
        if not chosen or not dest:
            return
        self.report = ExportReport()
        work = export_work(chosen, Path(dest).expanduser(), self.mode(), self.xmp.isChecked(),
                           self.report, unconfirmed=self.unconfirmed.isChecked())
        self.progress.setRange(0, 0)
        self.progress.show()
        self.status.setText("Exporting…")
        self.export_button.setEnabled(False)
        self.close_button.setText("Cancel")
        self.session.start_job("Export", work, prepare=self._follow)

    def _follow(self, job: Job) -> None:
        self.job = job
        job.progressed.connect(self._progressed)
        job.ended.connect(self._ended)

    def _progressed(self, report: Progress) -> None:
        if report.total:
            self.progress.setRange(0, report.total)
            self.progress.setValue(report.done)
            self.status.setText(f"Exporting… {report.done} of {report.total} photos")

    def _ended(self) -> None:
        r = self.report
        added, present, failed = (r.count(Action.ADDED), r.count(Action.PRESENT),
                                  r.count(Action.FAILED))
        text = f"{added} photos exported"
        if present:
            text += f", {present} were already there"
        if failed:
            text += f", {failed} failed: {'; '.join(r.problems[:3])}"
        if r.sidecars_written:
            text += f", {r.sidecars_written} XMP sidecars written"
        if r.cancelled:
            text = "Stopped. " + text
        self.status.setText(text + ".")
        self.export_button.setEnabled(True)
        self.close_button.setText("Close")
        self.job = None

    def _close_or_cancel(self) -> None:
        if self.job is not None and self.job.running:
            self.job.cancel()
        else:
            self.accept()

    def _browse(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Export Albums To", self.dest.text())
        if path:
            self.dest.setText(path)

    def _update(self) -> None:
        chosen = len(self.people.chosen())
        self.export_button.setEnabled(bool(chosen and self.dest.text().strip()))
        self.export_button.setText(f"Export {chosen} {'Album' if chosen == 1 else 'Albums'}")
