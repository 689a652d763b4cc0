"""Help > Keyboard Shortcuts: every key the app knows, page by page.

The window's own commands are listed from its menus' actions, so their keys
are the ones in force on this system (Preferences differs between desktops);
keys that belong to one page are listed here by hand, and a test checks that
every shortcut the window and its pages set appears in the list. It only
shows text.
"""

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QMainWindow,
    QMenu,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from app.views.common import SPACING, heading

# Keys that act on one page, as the page's own tooltips and buttons name them.
PAGE_KEYS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    ("People", (
        ("F2", "Name the selected person (or double-click the name)"),
        ("Ctrl+M", "Merge the selected people"),
        ("Ctrl+H", "Hide the selected people, or show them again"),
        ("Ctrl+F", "Search by name"),
        ("Return", "Open the selected person (or double-click the face)"),
    )),
    ("A person", (
        ("F2", "Name this person"),
        ("Delete", "Selected faces are not this person"),
        ("M", "Move the selected faces to another person"),
        ("S", "Make a new person from the selected faces"),
        ("L", "More faces like the selected one, to add to this person"),
        ("Backspace", "Back to people (also Alt+Left)"),
    )),
    ("Review suggestions", (
        ("Y", "Yes, this is them"),
        ("N", "No, not this person"),
        ("Right", "Skip: decide later"),
        ("Left", "Back to the previous question"),
        ("Esc", "Back to people"),
    )),
    ("A photo", (
        ("Right", "Next photo"),
        ("Left", "Previous photo"),
        ("Esc", "Close the photo"),
    )),
)


class ShortcutsDialog(QDialog):
    def __init__(self, window: QMainWindow, parent: QWidget | None = None) -> None:
        super().__init__(parent or window)
        self.setWindowTitle("Keyboard Shortcuts")
        self.resize(560, 620)
        layout = QVBoxLayout(self)
        layout.setSpacing(SPACING)
        layout.addWidget(heading("Keyboard shortcuts", 1.3))
        self.text = QTextBrowser()
        self.text.setOpenLinks(False)
        self.text.setHtml(shortcuts_html(window))
        layout.addWidget(self.text, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def plain_text(self) -> str:
        return self.text.toPlainText()


def shortcuts_html(window: QMainWindow) -> str:
    sections = [("Everywhere", window_keys(window)), *PAGE_KEYS]
    parts = []
    for title, rows in sections:
        parts.append(f"<h3>{_escape(title)}</h3><table cellspacing='4'>")
        parts.extend(
            f"<tr><td width='140'><b>{_escape(keys)}</b></td><td>{_escape(what)}</td></tr>"
            for keys, what in rows
        )
        parts.append("</table>")
    return "".join(parts)


def window_keys(window: QMainWindow) -> tuple[tuple[str, str], ...]:
    """(keys, what) for each menu command that has a key, in menu order."""
    rows = []
    seen: set[int] = set()
    for menu_action in window.menuBar().actions():
        menu = menu_action.menu()
        if not isinstance(menu, QMenu):
            continue
        for action in menu.actions():
            if id(action) in seen or not isinstance(action, QAction):
                continue
            seen.add(id(action))
            keys = " or ".join(
                k.toString(QKeySequence.SequenceFormat.NativeText) for k in action.shortcuts()
                if not k.isEmpty()
            )
            if keys:
                rows.append((keys, _plain(action.iconText() or action.text())))
    return tuple(rows)


def _plain(text: str) -> str:
    return text.replace("&&", "\0").replace("&", "").replace("\0", "&").rstrip("…")


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
