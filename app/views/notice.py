"""The short note that says what the last change did, with Undo (or Redo) on it.

Shown in the window, not as a dialog: it never takes the focus nor stops the
user, and goes away by itself after a while or when closed. Its button acts on
the very operation it describes (``Session.undo(operation_id)``), never on
whatever happens to be latest by then. It never changes anything itself.
"""

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QToolButton

from app.resources import icon
from app.views.common import SPACING

SHOWN_MS = 10_000  # long enough to read and reach the button; a new notice restarts it


class Notice(QFrame):
    undo = Signal(int)  # operation id
    redo = Signal(int)

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("notice")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(2 * SPACING, 6, SPACING, 6)
        layout.setSpacing(SPACING)
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.text.setTextFormat(Qt.TextFormat.PlainText)
        self.button = QPushButton()
        self.button.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        self.close_button = QToolButton()
        self.close_button.setIcon(icon("cancel"))
        self.close_button.setAutoRaise(True)
        self.close_button.setToolTip("Hide this message")
        layout.addWidget(self.text, 1)
        layout.addWidget(self.button)
        layout.addWidget(self.close_button)
        self.offer = ""
        self.operation_id = 0
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(SHOWN_MS)
        self._timer.timeout.connect(self.hide)
        self.button.clicked.connect(self._clicked)
        self.close_button.clicked.connect(self.hide)
        self.hide()

    def tell(self, text: str, offer: str, operation_id: int) -> None:
        """Say ``text``; ``offer`` is "undo" or "redo", acting on ``operation_id``."""
        self.text.setText(text if text.endswith((".", "!", "?")) else f"{text}.")
        self.offer, self.operation_id = offer, operation_id
        self.button.setText("Undo" if offer == "undo" else "Redo")
        self.button.setIcon(icon(offer))
        self.button.setEnabled(True)
        self.show()
        self._timer.start()

    def _clicked(self) -> None:
        self.button.setEnabled(False)  # one click, one step
        (self.undo if self.offer == "undo" else self.redo).emit(self.operation_id)
