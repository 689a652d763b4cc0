"""Settings: device and model, the Ray cluster scans run on, clustering
strictness, catalog location.

Moving the strictness slider shows how many people the current faces would
make (``people.preview_cluster_count``, counted off the GUI thread and
debounced, so dragging stays smooth even on a large catalog); at the setting
in force it shows the people the catalog holds, so the number matches the
People page. Only the devices this computer has are offered. The catalog
shown is the one open now. A malformed cluster address is explained under
its field and OK stays off until it is fixed or emptied. The dialog
edits a copy of ``Settings``; the window saves it and decides what must
happen (a re-clustering, a new catalog at next start). It never changes the
catalog.
"""

import dataclasses

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from app.models import CatalogReader
from app.session import Session
from app.settings import DEVICES, EMBEDDER_LABELS, Settings, embedders, ray_address_problem
from app.views.common import SPACING, heading, muted
from engine import people
from engine.catalog import Catalog
from engine.models.registry import available_devices

DEVICE_LABELS = {
    "auto": "Automatic (the fastest found)",
    "cpu": "Processor (CPU)",
    "cuda": "NVIDIA graphics card (CUDA)",
    "mps": "Apple graphics (Metal)",
}
MISSING_DEVICE = " \u2014 not found on this computer"


class SettingsDialog(QDialog):
    def __init__(
        self,
        settings: Settings,
        session: Session,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.setMinimumWidth(560)
        self._settings = settings
        self._session = session
        self._counter = CatalogReader(session, self._show_count)
        # The catalog open now (a --catalog or $FACEALBUM_CATALOG one may differ
        # from the one saved in the settings); unchanged, the saved one stays.
        self._open_catalog = str(session.catalog_path)
        layout = QVBoxLayout(self)
        layout.setSpacing(SPACING)
        layout.addWidget(heading("Settings", 1.3))
        form = QFormLayout()
        form.setSpacing(SPACING)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)

        self.device = QComboBox()
        found = set(available_devices())
        for name in DEVICES:
            if name == "auto" or name in found:
                self.device.addItem(DEVICE_LABELS[name], name)
            elif name == settings.device:  # chosen on another computer: say so
                self.device.addItem(DEVICE_LABELS[name] + MISSING_DEVICE, name)
        self.device.setCurrentIndex(max(0, self.device.findData(settings.device)))
        self.device.setToolTip("Where faces are found and recognised")
        form.addRow("Run on", self.device)

        cluster_row = QVBoxLayout()
        self.ray_address = QLineEdit(settings.ray_address)
        self.ray_address.setPlaceholderText(
            "address, e.g. 127.0.0.1:6379 \u2014 empty scans on this computer")
        self.ray_address.setToolTip("Scans run on the Ray cluster at this address, as "
                                    "\u201cray start\u201d prints it, or auto for the "
                                    "cluster this computer has joined")
        self.ray_address_error = QLabel()
        self.ray_address_error.setWordWrap(True)
        self.ray_address_error.hide()
        cluster_row.addWidget(self.ray_address)
        cluster_row.addWidget(self.ray_address_error)
        cluster_row.addWidget(muted("Every computer of the cluster must reach your photos at "
                                    "the same paths as this one (shared storage)."))
        form.addRow("Scan on a Ray cluster", cluster_row)

        self.embedder = QComboBox()
        for name in embedders():
            self.embedder.addItem(EMBEDDER_LABELS.get(name, f"{name} (trained here)"), name)
        self.embedder.setCurrentIndex(max(0, self.embedder.findData(settings.embedder)))
        self.embedder.setToolTip("How faces are compared; changing it re-reads faces on the "
                                 "next scan")
        form.addRow("Face model", self.embedder)

        strict_row = QVBoxLayout()
        slider_row = QHBoxLayout()
        slider_row.addWidget(muted("Fewer, larger people"))
        self.strictness = QSlider(Qt.Orientation.Horizontal)
        self.strictness.setRange(0, 100)
        self.strictness.setValue(round(settings.strictness * 100))
        self.strictness.setToolTip("How alike two faces must be to count as one person")
        slider_row.addWidget(self.strictness, 1)
        slider_row.addWidget(muted("More, purer people"))
        strict_row.addLayout(slider_row)
        self.preview_label = QLabel()
        self.preview_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        strict_row.addWidget(self.preview_label)
        form.addRow("Strictness", strict_row)

        catalog_row = QHBoxLayout()
        self.catalog = QLineEdit(self._open_catalog)
        self.catalog.setToolTip("The file that remembers faces, people and names")
        browse = QPushButton("Choose…")
        catalog_row.addWidget(self.catalog, 1)
        catalog_row.addWidget(browse)
        form.addRow("Catalog", catalog_row)
        note = "A new catalog location is used from the next start."
        if self._open_catalog != settings.catalog_path:
            note = (f"Open now for this session only; {settings.catalog_path} is used at "
                    "the next start unless you choose another. " + note)
        form.addRow("", muted(note))
        layout.addLayout(form)

        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self._ok = buttons.button(QDialogButtonBox.StandardButton.Ok)

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(120)
        self._timer.timeout.connect(self.update_preview)
        self.strictness.valueChanged.connect(lambda _v: self._timer.start())
        browse.clicked.connect(self._browse)
        self.ray_address.textChanged.connect(lambda _t: self._check_address())
        self._check_address()
        self.update_preview()

    def accept(self) -> None:
        if self._check_address():
            super().accept()

    def update_preview(self) -> None:
        if self._session.closed:
            return  # a pending slider timer outlived the window's session
        if not self.preview_label.text():
            self.preview_label.setText("Counting…")
        strictness = self.strictness.value() / 100
        in_force = self._in_force(strictness)

        def count(cat: Catalog) -> tuple[float, int | None]:
            if not cat.roots():
                return strictness, None  # nothing scanned: nothing to count
            if in_force:
                return strictness, len(people.people_rows(cat, include_hidden=True))
            return strictness, people.preview_cluster_count(cat, strictness)

        self._counter.read(count)

    def _show_count(self, result: tuple[float, int | None]) -> None:
        strictness, count = result
        if strictness != self.strictness.value() / 100:
            return  # the slider moved on; its own count is on the way
        if count is None:
            self.preview_label.setText("Scan some photos to see how many people this makes.")
            return
        if self._in_force(strictness):
            # The setting in force: the people the catalog holds (what the People
            # page counts), not an estimate that may differ from it.
            self.preview_label.setText(
                f"Your faces make <b>{count}</b> {'person' if count == 1 else 'people'} now.")
            return
        self.preview_label.setText(
            f"With this setting, your faces would make about <b>{count}</b> "
            f"{'person' if count == 1 else 'people'}.")

    def result_settings(self) -> Settings:
        return dataclasses.replace(
            self._settings,
            device=str(self.device.currentData()),
            embedder=str(self.embedder.currentData()),
            strictness=self.strictness.value() / 100,
            catalog_path=self._chosen_catalog(),
            ray_address=self.ray_address.text().strip(),
        )

    def _check_address(self) -> bool:
        """Show why the cluster address is malformed, if it is; True when it is not."""
        problem = ray_address_problem(self.ray_address.text())
        self.ray_address_error.setText(problem[:1].upper() + problem[1:] + "." if problem else "")
        self.ray_address_error.setVisible(bool(problem))
        self._ok.setEnabled(not problem)
        return not problem

    def _in_force(self, strictness: float) -> bool:
        return round(strictness * 100) == round(self._settings.strictness * 100)

    def _chosen_catalog(self) -> str:
        typed = self.catalog.text().strip()
        if not typed or typed == self._open_catalog:
            return self._settings.catalog_path  # left as shown: nothing new to remember
        return typed

    def _browse(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Catalog File", self.catalog.text(), "Catalogs (*.sqlite);;All files (*)",
            options=QFileDialog.Option.DontConfirmOverwrite,
        )
        if path:
            self.catalog.setText(path)
