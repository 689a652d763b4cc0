"""The strip that shows a scan (or any long job) running: progress, counts, ETA, Cancel.

It listens to a ``Job``'s signals and never blocks: every update is a label
and a progress bar. When the job ends it says what happened, offers the list
of skipped files, and can be closed. It tells apart a scan that found no new
photos, one whose photos hold no faces, and one that found faces; a stopped
scan says how far it got.
"""

import time

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QProgressBar, QPushButton, QToolButton

from app.resources import icon
from app.views.common import SPACING
from app.workers import Job
from engine.progress import JobOutcome, Progress

STAGE_NAMES = {
    "listing": "Looking for photos",
    "scanning": "Finding faces",
    "clustering": "Grouping faces into people",
    "people": "Grouping faces into people",
    "exporting": "Exporting",
}


class ScanBanner(QFrame):
    show_problems = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("scanBanner")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(2 * SPACING, 8, SPACING, 8)
        layout.setSpacing(SPACING)
        self.title = QLabel()
        self.title.setMinimumWidth(180)
        font = self.title.font()
        font.setWeight(font.Weight.DemiBold)
        self.title.setFont(font)
        self.bar = QProgressBar()
        self.bar.setTextVisible(False)
        self.bar.setMaximumHeight(8)
        self.bar.setMinimumWidth(160)
        self.detail = QLabel()
        self.detail.setTextInteractionFlags(Qt.TextInteractionFlag.NoTextInteraction)
        self.problems_button = QPushButton(icon("warning"), "")
        self.problems_button.setFlat(True)
        self.problems_button.setToolTip("Files that could not be read, with the reason")
        self.cancel_button = QPushButton(icon("cancel"), "Cancel")
        self.cancel_button.setToolTip("Stop after the current photo; scanning again resumes")
        self.close_button = QToolButton()
        self.close_button.setIcon(icon("cancel"))
        self.close_button.setAutoRaise(True)
        self.close_button.setToolTip("Hide this message")
        layout.addWidget(self.title)
        layout.addWidget(self.bar, 1)
        layout.addWidget(self.detail, 2)
        layout.addWidget(self.problems_button)
        layout.addWidget(self.cancel_button)
        layout.addWidget(self.close_button)
        self.job: Job | None = None
        self._started = 0.0
        self._stage = ""
        self._start_done = 0
        self._faces: int | None = None
        # Scanning reports of the folders finished so far, and of the one now:
        # (photos read, photos to read, faces found).
        self._scanned = (0, 0, 0)
        self._folder: tuple[int, int, int] | None = None
        self.cancel_button.clicked.connect(self._cancel)
        self.close_button.clicked.connect(self.hide)
        self.problems_button.clicked.connect(self.show_problems.emit)
        self.hide()

    def follow(self, job: Job) -> None:
        self.job = job
        self._stage = ""
        self._faces = None
        self._scanned, self._folder = (0, 0, 0), None
        self.title.setText(job.title)
        self.detail.setText("Starting…")
        self.bar.setRange(0, 0)
        self.problems_button.hide()
        self.cancel_button.show()
        self.cancel_button.setEnabled(True)
        self.close_button.hide()
        job.progressed.connect(self.update_progress)
        job.succeeded.connect(lambda: self._finished(JobOutcome.SUCCEEDED))
        job.cancelled.connect(lambda: self._finished(JobOutcome.CANCELLED))
        job.failed.connect(lambda _m: self._finished(JobOutcome.FAILED))
        self.show()

    def update_progress(self, report: Progress) -> None:
        if report.stage == "listing":  # the next folder begins
            self._end_folder()
        elif report.stage == "scanning":
            faces = report.info.get("faces")
            self._folder = (report.done, report.total, faces if isinstance(faces, int) else 0)
        if report.stage != self._stage:
            self._stage = report.stage
            self._started = time.perf_counter()
            self._start_done = report.done
        self.title.setText(STAGE_NAMES.get(report.stage, report.stage.capitalize()))
        if report.total:
            self.bar.setRange(0, report.total)
            self.bar.setValue(report.done)
        else:
            self.bar.setRange(0, 0)
        parts = []
        if report.total:
            parts.append(f"{report.done:,} of {report.total:,}"
                         f"{' photos' if report.stage == 'scanning' else ''}")
        faces = report.info.get("faces")
        if isinstance(faces, int) and report.stage == "scanning":
            self._faces = faces
            parts.append(f"{faces:,} faces found")
        eta = self._eta(report)
        if eta:
            parts.append(eta)
        self.detail.setText("  ·  ".join(parts))
        self._show_problems(report.info.get("problems"))

    def _eta(self, report: Progress) -> str:
        elapsed = time.perf_counter() - self._started
        done = report.done - self._start_done
        if not report.total or done <= 0 or elapsed < 2:
            return ""
        left = (report.total - report.done) * elapsed / done
        if left < 60:
            return "less than a minute left"
        minutes = round(left / 60)
        if minutes < 90:
            return f"about {minutes} min left"
        return f"about {left / 3600:.1f} h left"

    def _show_problems(self, problems: object) -> None:
        if isinstance(problems, int) and problems > 0:
            self.problems_button.setText(f"{problems} skipped")
            self.problems_button.show()

    def _cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()
            self.cancel_button.setEnabled(False)
            self.detail.setText("Stopping after the current photo…")

    def _end_folder(self) -> None:
        if self._folder is not None:
            self._scanned = tuple(a + b for a, b in zip(self._scanned, self._folder, strict=True))  # type: ignore[assignment]
            self._folder = None

    def _finished(self, outcome: JobOutcome) -> None:
        self.cancel_button.hide()
        self.close_button.show()
        self.bar.setRange(0, 1)
        self.bar.setValue(1 if outcome is JobOutcome.SUCCEEDED else 0)
        scanned = self._faces is not None or self._folder is not None
        self._end_folder()
        done, total, faces = self._scanned
        if outcome is JobOutcome.SUCCEEDED:
            self.title.setText("Done")
            if not scanned:  # not a scan: a re-grouping
                self.detail.setText(f"{self.job.title if self.job else 'The work'} finished.")
            elif total == 0:
                self.detail.setText("No new or changed photos since the last scan; "
                                    "nothing needed reading.")
            elif faces == 0:
                self.detail.setText(f"{_photos(total)} read; no faces in "
                                    f"{'it' if total == 1 else 'them'}.")
            else:
                self.detail.setText(f"{_photos(total)} read: {faces:,} "
                                    f"{'face' if faces == 1 else 'faces'} found.")
        elif outcome is JobOutcome.CANCELLED:
            self.title.setText("Stopped")
            if scanned and total:
                self.detail.setText(f"Stopped after {done:,} of {_photos(total)}; what was "
                                    "read is kept. Scan again to go on where it stopped.")
            else:
                self.detail.setText("Scan again to go on where it stopped.")
        else:  # the job's failed signal only says it failed, not how
            self.title.setText("Stopped by an error")
            self.detail.setText("See the message for what happened.")


def _photos(n: int) -> str:
    return f"{n:,} photo" if n == 1 else f"{n:,} photos"
