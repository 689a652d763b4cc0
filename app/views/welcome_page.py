"""The first thing a new user sees: choose a folder of photos, or try the demo.

It never starts work itself: it signals what the user chose.
"""

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from app import APP_TITLE
from app.resources import app_icon, icon
from app.views.common import SPACING, heading, muted


class WelcomePage(QWidget):
    choose_folder = Signal()
    open_demo = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setSpacing(SPACING)
        layout.addStretch(2)
        logo = QLabel()
        logo.setPixmap(app_icon().pixmap(QSize(96, 96)))
        logo.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(logo)
        title = heading(f"Welcome to {APP_TITLE}", 2.0)
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(title)
        intro = muted("Find the people in your photos and make an album for each of them.\n"
                      "Everything happens on this computer; your photos are never changed.")
        intro.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(intro)
        layout.addSpacing(2 * SPACING)
        buttons = QHBoxLayout()
        buttons.setSpacing(2 * SPACING)
        buttons.addStretch(1)
        self.folder_button = QPushButton(icon("folder"), "  Choose a Photo Folder…")
        self.folder_button.setToolTip("Look for faces in every photo of a folder and its "
                                      "subfolders (Ctrl+O)")
        self.demo_button = QPushButton(icon("demo"), "  Open the Demo Album")
        self.demo_button.setToolTip("48 example photos with a few famous faces, to try things out")
        for button in (self.folder_button, self.demo_button):
            button.setIconSize(QSize(22, 22))
            button.setMinimumSize(QSize(240, 48))
            buttons.addWidget(button)
        self.folder_button.setDefault(True)
        buttons.addStretch(1)
        layout.addLayout(buttons)
        layout.addSpacing(SPACING)
        self.recent = muted()
        self.recent.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(self.recent)
        layout.addStretch(3)
        self.folder_button.clicked.connect(self.choose_folder.emit)
        self.demo_button.clicked.connect(self.open_demo.emit)
