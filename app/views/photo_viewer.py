"""One photo, large, with its faces framed and named: the place to fix faces.

Opened by double-clicking a photo in a person's album. Click a face's box to
act on it in the panel beside the photo: type a name (a person who has it
gets the face, confirmed; a new name makes a new person), "Move to…"
another person, "Not This Person", "Not a Face". A face the detector missed
is drawn with the mouse (Draw Face, D, or Shift+drag): it is measured off
the GUI thread (``engine.people.tagging``) and added by the same engine
operation as ``facealbum tag``. B shows or hides the boxes, the Left and
Right arrows step through the album, + and - zoom (Ctrl+wheel too), 0 fits
the photo; the photo's date and path are shown, and "Show in Folder" opens
its folder; a video, shown by the frame of its best face, has "Play" to open
it in the system's player. Ctrl+Z and Ctrl+Shift+Z undo and redo here as in
the window.

Every change goes through ``Session.apply`` to an engine operation, and the
faces shown are read off the GUI thread (``CatalogReader``), again whenever
the session says something changed. The viewer never writes the catalog
itself and keeps no fact of its own.
"""

import datetime
import os
from collections.abc import Callable
from dataclasses import dataclass

from PIL import Image
from PySide6.QtCore import QPointF, QRectF, QSize, QStringListModel, Qt, QUrl, Signal
from PySide6.QtGui import (
    QAction,
    QColor,
    QDesktopServices,
    QFont,
    QKeyEvent,
    QKeySequence,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPalette,
    QPen,
    QPixmap,
    QWheelEvent,
)
from PySide6.QtWidgets import (
    QCompleter,
    QDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.models import THUMB_SIZE, CatalogReader, PeopleModel
from app.resources import icon
from app.session import Session
from app.views.choose_person import choose_person
from app.views.common import SPACING, heading, muted
from engine import people
from engine.catalog import Catalog, FaceSource, FaceState, Photo
from engine.catalog.faces import DrawnFace
from engine.catalog.persons import resolve_merged
from engine.catalog.records import MediaKind
from engine.errors import FaceAlbumError
from engine.models.base import Detector, Embedder
from engine.people.facts import (
    SAME_FACE_IOU,
    box_overlap,
    check_face_box,
    name_faces,
    tag_face,
)
from engine.people.tagging import measure_photo_face

VIEW_SIZE = 1600
ZOOM_STEP = 1.25
MAX_ZOOM = 8.0
# A drag shorter than this (screen pixels) is a click, not a drawn box.
MIN_DRAG = 6

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class ShownFace:
    """One face as the viewer frames it."""

    id: int
    box: Box  # pixels of the upright photo
    label: str  # the person's name, "Unnamed", or "?" for a face in no person
    named: bool
    person_id: int | None  # the person holding the face now (merges followed)
    confirmed: bool
    drawn: bool  # drawn by the user rather than found by the detector


@dataclass(frozen=True)
class _PhotoRead:
    photo_id: int
    faces: list[ShownFace]
    date: str


class PhotoCanvas(QWidget):
    """Paints a photo scaled to fit, a named frame around each face, and the box
    being drawn; says which face was clicked and which box was drawn."""

    face_clicked = Signal(object)  # face id, or None for a click beside every face
    box_drawn = Signal(object)  # Box, in pixels of the photo
    zoom_asked = Signal(int)  # +1 in, -1 out (Ctrl+wheel)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.pixmap: QPixmap | None = None
        self.photo_size = QSize(1, 1)
        self.shown: list[ShownFace] = []
        self.selected: int | None = None
        self.show_boxes = True
        self.upscale_limit = 1.0  # the viewer raises it as the user zooms in
        self.draw_mode = False
        self.pending: Box | None = None  # a drawn box being measured
        self._drag: tuple[QPointF, QPointF] | None = None
        self.setMinimumSize(480, 360)
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.ClickFocus)  # a click on the photo leaves the name field

    @property
    def faces(self) -> list[tuple[Box, str, bool]]:
        """(box, label, named) of each face shown."""
        return [(f.box, f.label, f.named) for f in self.shown]

    def set_draw_mode(self, on: bool) -> None:
        self.draw_mode = on
        self.setCursor(Qt.CursorShape.CrossCursor if on else Qt.CursorShape.ArrowCursor)

    # -- geometry ----------------------------------------------------------------

    def photo_rect(self) -> QRectF:
        """Where the photo is painted, in widget pixels: fitted, but never
        enlarged past ``upscale_limit`` times its own size (a small photo
        blown up to the window only shows its pixels)."""
        w, h = self.photo_size.width(), self.photo_size.height()
        scale = min(self.width() / w, self.height() / h, self.upscale_limit)
        return QRectF((self.width() - w * scale) / 2, (self.height() - h * scale) / 2,
                      w * scale, h * scale)

    def widget_box(self, box: Box) -> QRectF:
        shown = self.photo_rect()
        scale = shown.width() / self.photo_size.width()
        return QRectF(shown.x() + box[0] * scale, shown.y() + box[1] * scale,
                      box[2] * scale, box[3] * scale)

    def photo_box(self, a: QPointF, b: QPointF) -> Box:
        """The box between two widget points, in photo pixels, clipped to the photo."""
        shown = self.photo_rect()
        scale = shown.width() / self.photo_size.width()
        w, h = self.photo_size.width(), self.photo_size.height()

        def to_photo(p: QPointF) -> tuple[float, float]:
            return (min(max((p.x() - shown.x()) / scale, 0.0), w),
                    min(max((p.y() - shown.y()) / scale, 0.0), h))

        (x0, y0), (x1, y1) = to_photo(a), to_photo(b)
        return (min(x0, x1), min(y0, y1), abs(x1 - x0), abs(y1 - y0))

    def face_at(self, point: QPointF) -> int | None:
        """The smallest face box holding ``point`` (boxes of a crowd overlap)."""
        hits = [f for f in self.shown if self.widget_box(f.box).contains(point)]
        if not hits:
            return None
        return min(hits, key=lambda f: f.box[2] * f.box[3]).id

    # -- events ------------------------------------------------------------------

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if event.button() != Qt.MouseButton.LeftButton:
            super().mousePressEvent(event)
            return
        point = event.position()
        shift = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
        if self.draw_mode or shift:
            self._drag = (point, point)
        elif self.show_boxes:
            self.face_clicked.emit(self.face_at(point))
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self._drag is not None:
            self._drag = (self._drag[0], event.position())
            self.update()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self._drag is None or event.button() != Qt.MouseButton.LeftButton:
            return
        start, end = self._drag[0], event.position()
        self._drag = None
        self.update()
        if abs(end.x() - start.x()) >= MIN_DRAG and abs(end.y() - start.y()) >= MIN_DRAG:
            self.box_drawn.emit(self.photo_box(start, end))

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self.zoom_asked.emit(1 if event.angleDelta().y() > 0 else -1)
            event.accept()
        else:
            super().wheelEvent(event)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        painter.fillRect(self.rect(), self.palette().color(QPalette.ColorRole.Window).darker(115))
        if self.pixmap is None or self.pixmap.isNull():
            painter.setPen(self.palette().color(QPalette.ColorRole.PlaceholderText))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "Loading…")
            return
        painter.drawPixmap(self.photo_rect(), self.pixmap, QRectF(self.pixmap.rect()))
        font = QFont(self.font())
        font.setWeight(QFont.Weight.DemiBold)
        painter.setFont(font)
        if self.show_boxes:
            for face in self.shown:
                self._paint_face(painter, face)
        dashed = QPen(QColor("#ffd166"), 2, Qt.PenStyle.DashLine)
        if self.pending is not None:
            painter.setPen(dashed)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRoundedRect(self.widget_box(self.pending), 6, 6)
        if self._drag is not None:
            painter.setPen(dashed)
            painter.setBrush(QColor(255, 209, 102, 40))
            painter.drawRect(QRectF(self._drag[0], self._drag[1]).normalized())

    def _paint_face(self, painter: QPainter, face: ShownFace) -> None:
        box = self.widget_box(face.box)
        selected = face.id == self.selected
        color = QColor("#ffd166") if face.named else QColor(255, 255, 255, 200)
        if selected:
            color = self.palette().color(QPalette.ColorRole.Highlight).lighter(130)
        painter.setPen(QPen(QColor(0, 0, 0, 120), 6 if selected else 4))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRoundedRect(box, 6, 6)
        painter.setPen(QPen(color, 4 if selected else 2))
        painter.drawRoundedRect(box, 6, 6)
        metrics = painter.fontMetrics()
        text_w = metrics.horizontalAdvance(face.label) + 12
        tag = QRectF(box.center().x() - text_w / 2, box.bottom() + 4, text_w,
                     metrics.height() + 4)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(0, 0, 0, 170))
        painter.drawRoundedRect(tag, tag.height() / 2, tag.height() / 2)
        painter.setPen(color)
        painter.drawText(tag, Qt.AlignmentFlag.AlignCenter, face.label)


class PhotoViewer(QDialog):
    """The photos of an album, one at a time, with their faces to correct.

    ``people_model`` lists the people for the name completer and "Move to…"
    (the window's own, when the caller has it); ``models`` overrides the
    detector and embedder that measure a drawn face (tests).
    """

    # A drawn face measured on a worker: (photo id, DrawnFace or FaceAlbumError).
    _measured = Signal(object, object)

    def __init__(
        self,
        session: Session,
        photos: list[Photo],
        row: int,
        parent: QWidget | None = None,
        *,
        people_model: PeopleModel | None = None,
        models: tuple[Detector, Embedder] | None = None,
    ) -> None:
        super().__init__(parent)
        self.session = session
        self.photos = photos
        self.row = row
        self.zoom = 1.0
        self.models = models
        self.date = ""
        self.people_model = people_model or PeopleModel(session, self)
        self.resize(1200, 820)
        self._reader = CatalogReader(session, self._apply)
        self._measured.connect(self._add_measured)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, SPACING)
        middle = QHBoxLayout()
        middle.setSpacing(0)
        self.canvas = PhotoCanvas()
        self.photo_area = QScrollArea()
        self.photo_area.setFrameShape(QFrame.Shape.NoFrame)
        self.photo_area.setWidgetResizable(True)
        self.photo_area.setWidget(self.canvas)
        self.photo_area.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.photo_area.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # arrows page, not scroll
        middle.addWidget(self.photo_area, 1)
        middle.addWidget(self._face_panel())
        layout.addLayout(middle, 1)
        layout.addLayout(self._bottom_bar())
        self._add_shortcuts()

        self.canvas.face_clicked.connect(self.select_face)
        self.canvas.box_drawn.connect(self.add_face)
        self.canvas.zoom_asked.connect(lambda step: self.zoom_by(ZOOM_STEP ** step))
        self.people_model.refreshed.connect(self._update_names)
        session.changed.connect(self._reread)
        session.images.ready.connect(self._image_ready)
        self._update_names()
        self.show_row(row)

    # -- building ------------------------------------------------------------------

    def _face_panel(self) -> QWidget:
        panel = QWidget()
        panel.setFixedWidth(280)
        box = QVBoxLayout(panel)
        box.setContentsMargins(SPACING, SPACING, SPACING, SPACING)
        box.setSpacing(8)
        self.face_title = heading("", 1.3)
        self.face_title.setWordWrap(True)
        self.face_details = muted()
        box.addWidget(self.face_title)
        box.addWidget(self.face_details)
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("Type a name")
        self.name_edit.setClearButtonEnabled(True)
        self.name_edit.setToolTip("Whose face this is: someone's name gives it to them, "
                                  "a new name makes a new person (Enter)")
        self._names = QStringListModel(self)
        completer = QCompleter(self._names, self)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        self.name_edit.setCompleter(completer)
        self.name_button = QPushButton(icon("rename"), "Name")
        self.move_button = QPushButton(icon("move"), "Move to…")
        self.move_button.setToolTip("Give this face to another person")
        self.reject_button = QPushButton(icon("not-person"), "Not This Person")
        self.reject_button.setToolTip("This face is someone else: it leaves this person and is "
                                      "never suggested for them again")
        self.not_face_button = QPushButton(icon("no"), "Not a Face")
        self.not_face_button.setToolTip("This is no face: it leaves every person and list")
        name_row = QHBoxLayout()
        name_row.addWidget(self.name_edit, 1)
        name_row.addWidget(self.name_button)
        box.addLayout(name_row)
        for button in (self.move_button, self.reject_button, self.not_face_button):
            box.addWidget(button)
        box.addStretch(1)
        box.addWidget(muted(
            "Click a face to name or correct it. To add a face that was missed, turn on "
            "Draw Face (D) or hold Shift, and drag a box around it."))
        self.name_edit.returnPressed.connect(self.name_selected)
        self.name_button.clicked.connect(self.name_selected)
        self.move_button.clicked.connect(self.move_selected)
        self.reject_button.clicked.connect(self.reject_selected)
        self.not_face_button.clicked.connect(self.mark_selected_not_face)
        return panel

    def _bottom_bar(self) -> QHBoxLayout:
        bar = QHBoxLayout()
        bar.setContentsMargins(SPACING, 0, SPACING, 0)
        self.previous = QPushButton(icon("back"), "")
        self.previous.setToolTip("Previous photo (Left arrow)")
        self.next = QPushButton(icon("forward"), "")
        self.next.setToolTip("Next photo (Right arrow)")
        texts = QVBoxLayout()
        texts.setSpacing(0)
        self.caption = QLabel()
        self.caption.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.date_label = muted()
        texts.addWidget(self.caption)
        texts.addWidget(self.date_label)
        self.position = muted()
        self.boxes_button = QToolButton()
        self.boxes_button.setText("Boxes")
        self.boxes_button.setIcon(icon("face"))
        self.boxes_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.boxes_button.setCheckable(True)
        self.boxes_button.setChecked(True)
        self.boxes_button.setToolTip("Show or hide the face boxes (B)")
        self.draw_button = QToolButton()
        self.draw_button.setText("Draw Face")
        self.draw_button.setIcon(icon("new-person"))
        self.draw_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.draw_button.setCheckable(True)
        self.draw_button.setToolTip("Drag a box around a face that was missed (D, or "
                                    "Shift+drag at any time)")
        self.zoom_out_button = QToolButton()
        self.zoom_out_button.setText("−")
        self.zoom_out_button.setToolTip("Zoom out (-, Ctrl+wheel)")
        self.fit_button = QToolButton()
        self.fit_button.setText("Fit")
        self.fit_button.setToolTip("Fit the photo to the window (0)")
        self.zoom_in_button = QToolButton()
        self.zoom_in_button.setText("+")
        self.zoom_in_button.setToolTip("Zoom in (+, Ctrl+wheel)")
        self.folder_button = QPushButton(icon("folder"), "Show in Folder")
        self.folder_button.setToolTip("Open the folder that holds this photo")
        self.play_button = QPushButton("\u25b6 Play")
        self.play_button.setToolTip("Play this video in your video player")
        self.play_button.hide()  # for videos only
        for button in (self.previous, self.next, self.boxes_button, self.draw_button,
                       self.zoom_out_button, self.fit_button, self.zoom_in_button,
                       self.folder_button, self.play_button):
            # Arrow keys page through photos; they must not move focus between buttons.
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        bar.addWidget(self.previous)
        bar.addWidget(self.next)
        bar.addSpacing(SPACING)
        bar.addLayout(texts, 1)
        bar.addWidget(self.position)
        bar.addSpacing(SPACING)
        for widget in (self.play_button, self.boxes_button, self.draw_button,
                       self.zoom_out_button, self.fit_button, self.zoom_in_button,
                       self.folder_button):
            bar.addWidget(widget)
        self.previous.clicked.connect(lambda: self.show_row(self.row - 1))
        self.next.clicked.connect(lambda: self.show_row(self.row + 1))
        self.boxes_button.toggled.connect(self.set_boxes_shown)
        self.draw_button.toggled.connect(self.canvas.set_draw_mode)
        self.zoom_out_button.clicked.connect(lambda: self.zoom_by(1 / ZOOM_STEP))
        self.zoom_in_button.clicked.connect(lambda: self.zoom_by(ZOOM_STEP))
        self.fit_button.clicked.connect(lambda: self.set_zoom(1.0))
        self.folder_button.clicked.connect(self.show_in_folder)
        self.play_button.clicked.connect(self.play)
        return bar

    def _add_shortcuts(self) -> None:
        def add(keys: list[str | QKeySequence.StandardKey], do: Callable[[], object]) -> None:
            action = QAction(self)
            action.setShortcuts([QKeySequence(k) for k in keys])
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            action.triggered.connect(lambda _checked=False: do())
            self.addAction(action)

        # Plain keys, also handled by keyPressEvent when they reach the dialog
        # itself (before its window is active, shortcuts do not see them).
        self._keys: dict[int, Callable[[], object]] = {
            Qt.Key.Key_Left: lambda: self.show_row(self.row - 1),
            Qt.Key.Key_Right: lambda: self.show_row(self.row + 1),
            Qt.Key.Key_B: self.boxes_button.toggle,
            Qt.Key.Key_D: self.draw_button.toggle,
            Qt.Key.Key_Plus: lambda: self.zoom_by(ZOOM_STEP),
            Qt.Key.Key_Equal: lambda: self.zoom_by(ZOOM_STEP),
            Qt.Key.Key_Minus: lambda: self.zoom_by(1 / ZOOM_STEP),
            Qt.Key.Key_0: lambda: self.set_zoom(1.0),
        }
        # A line edit keeps its own keys (arrows, letters) while it has the focus.
        for key, do in self._keys.items():
            add([QKeySequence(key).toString()], do)
        add(["Ctrl++", "Ctrl+="], lambda: self.zoom_by(ZOOM_STEP))
        add(["Ctrl+-"], lambda: self.zoom_by(1 / ZOOM_STEP))
        add(["Ctrl+0"], lambda: self.set_zoom(1.0))
        add([QKeySequence.StandardKey.Undo], self.session.undo)
        add([QKeySequence.StandardKey.Redo, "Ctrl+Shift+Z"], self.session.redo)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        do = self._keys.get(Qt.Key(event.key()))
        plain = event.modifiers() in (Qt.KeyboardModifier.NoModifier,
                                      Qt.KeyboardModifier.KeypadModifier)
        if do is not None and plain:
            do()
            event.accept()
        else:
            super().keyPressEvent(event)

    # -- the photo ------------------------------------------------------------------

    @property
    def photo(self) -> Photo:
        return self.photos[self.row]

    def show_row(self, row: int) -> None:
        if not self.photos:
            return
        self.row = max(0, min(row, len(self.photos) - 1))
        photo = self.photo
        self.setWindowTitle(photo.display_path)
        self.caption.setText(photo.path)
        self.caption.setToolTip(photo.path)
        self.position.setText(f"{self.row + 1} of {len(self.photos)}")
        self.canvas.photo_size = QSize(photo.width or 1, photo.height or 1)
        self.canvas.shown, self.canvas.selected, self.canvas.pending = [], None, None
        self.date = ""
        self.date_label.setText("")
        self.previous.setEnabled(self.row > 0)
        self.next.setEnabled(self.row < len(self.photos) - 1)
        self.play_button.setVisible(photo.kind is MediaKind.VIDEO)
        self._update_panel()
        self._reread()
        self._load()

    def _reread(self) -> None:
        photo = self.photo
        self._reader.read(lambda cat: _read_photo(cat, photo))

    def _apply(self, data: _PhotoRead) -> None:
        if data.photo_id != self.photo.id:
            return  # another photo is shown since; its read comes next
        self.canvas.shown = data.faces
        if self.canvas.selected not in {f.id for f in data.faces}:
            self.canvas.selected = None
        self.date = data.date
        self.date_label.setText(data.date)
        self._update_panel()
        self.canvas.update()

    def _load(self) -> None:
        photo = self.photo
        pixmap = self.session.images.photo_thumb(photo, VIEW_SIZE)
        if pixmap is None:  # the small copy while the large one is made
            pixmap = self.session.images.photo_thumb(photo, THUMB_SIZE)
        self.canvas.pixmap = pixmap
        self.canvas.update()

    def _image_ready(self, key: str) -> None:
        if self.isVisible():
            self._load()

    def set_boxes_shown(self, shown: bool) -> None:
        if self.boxes_button.isChecked() != shown:
            self.boxes_button.setChecked(shown)  # comes back here through toggled
            return
        self.canvas.show_boxes = shown
        if not shown:
            self.canvas.selected = None
            self._update_panel()
        self.canvas.update()

    def zoom_by(self, factor: float) -> None:
        self.set_zoom(self.zoom * factor)

    def set_zoom(self, zoom: float) -> None:
        """1 fits the photo to the window; more enlarges it, scrolled by the bars."""
        self.zoom = min(max(zoom, 1.0), MAX_ZOOM)
        self.canvas.upscale_limit = self.zoom
        if self.zoom == 1.0:
            self.photo_area.setWidgetResizable(True)
        else:
            self.photo_area.setWidgetResizable(False)
            view = self.photo_area.viewport().size()
            self.canvas.resize(round(view.width() * self.zoom), round(view.height() * self.zoom))
        self.fit_button.setEnabled(self.zoom > 1.0)
        self.zoom_out_button.setEnabled(self.zoom > 1.0)
        self.zoom_in_button.setEnabled(self.zoom < MAX_ZOOM)

    def play(self) -> None:
        """A video is shown by its face's frame; its own player shows the rest."""
        path = self.photo.path
        if not QDesktopServices.openUrl(QUrl.fromLocalFile(path)):
            self.session.error.emit("Play", (
                f"no program opened the video {path}; open it in your video player"))

    def show_in_folder(self) -> None:
        folder = os.path.dirname(self.photo.path)
        if not QDesktopServices.openUrl(QUrl.fromLocalFile(folder)):
            self.session.error.emit("Show in Folder", (
                f"no program opened the folder {folder}; open it in your file manager"))

    # -- the chosen face ----------------------------------------------------------------

    def selected_face(self) -> ShownFace | None:
        return next((f for f in self.canvas.shown if f.id == self.canvas.selected), None)

    def select_face(self, face_id: int | None) -> None:
        self.canvas.selected = face_id
        self._update_panel()
        self.canvas.update()
        if face_id is not None:
            self.name_edit.setFocus()

    def _update_panel(self) -> None:
        face = self.selected_face()
        for widget in (self.name_edit, self.name_button, self.move_button,
                       self.not_face_button):
            widget.setEnabled(face is not None)
        self.reject_button.setEnabled(face is not None and face.person_id is not None)
        if face is None:
            self.face_title.setText("No face chosen")
            count = len(self.canvas.shown)
            self.face_details.setText(
                f"{count} {'face' if count == 1 else 'faces'} in this photo. Click one to "
                "name or correct it." if count else "No face was found in this photo.")
            self.name_edit.clear()
            return
        if face.person_id is None:
            title, how = "In no person yet", "Type a name to say whose face this is."
        else:
            title = face.label if face.named else "Unnamed person"
            how = "Confirmed by you." if face.confirmed else "Grouped automatically."
        if face.drawn:
            how = f"Drawn by you. {how}"
        self.face_title.setText(title)
        self.face_details.setText(how)
        self.name_edit.setText(face.label if face.named else "")

    def _update_names(self) -> None:
        self._names.setStringList(self.people_model.names())

    def name_selected(self) -> None:
        face = self.selected_face()
        name = self.name_edit.text().strip()
        if face is None or not name:
            return
        if face.named and face.confirmed and face.label.casefold() == name.casefold():
            return  # already theirs, confirmed
        self.session.apply("Name the face", name_faces, [face.id], name)

    def move_selected(self) -> None:
        face = self.selected_face()
        if face is None:
            return
        target = choose_person(self.people_model, face.person_id, 1, self)
        if isinstance(target, str):
            self.session.apply("Move the face", name_faces, [face.id], target)
        elif isinstance(target, int):
            self.session.apply("Move the face", people.split_faces, [face.id], target)

    def reject_selected(self) -> None:
        face = self.selected_face()
        if face is not None and face.person_id is not None:
            self.session.apply("Not this person", people.reject_faces, [face.id],
                               face.person_id)

    def mark_selected_not_face(self) -> None:
        face = self.selected_face()
        if face is not None:
            self.session.apply("Not a face", people.mark_faces, [face.id], FaceState.NOT_FACE)

    # -- drawing a missed face ------------------------------------------------------------

    def add_face(self, box: Box) -> None:
        """Measure the face drawn in ``box`` off the GUI thread, then add it."""
        photo = self.photo
        try:
            box = check_face_box(photo, box)
        except FaceAlbumError as exc:
            self.session.error.emit("Add a face", str(exc))
            return
        there = [f for f in self.canvas.shown if box_overlap(f.box, box) >= SAME_FACE_IOU]
        if there:  # drawn around a face already framed: that face is meant
            self.draw_button.setChecked(False)
            self.select_face(there[0].id)
            return
        self.canvas.pending = box
        self.canvas.selected = None
        self.face_title.setText("Adding the face…")
        self.face_details.setText("Finding its eyes and nose, to recognise it later.")
        self.canvas.update()
        catalog_path, models = self.session.catalog_path, self.models
        device = "cpu"  # one face: not worth waking a GPU a scan may be using

        def measure() -> None:
            result: DrawnFace | FaceAlbumError
            try:
                with Catalog(catalog_path) as cat:
                    result = measure_photo_face(
                        cat, photo, box, detector=models[0] if models else None,
                        embedder=models[1] if models else None, device=device)
            except FaceAlbumError as exc:
                result = exc
            self._measured.emit(photo.id, result)

        self.session.runner.submit(measure, lane="queries")

    def _add_measured(self, photo_id: int, result: object) -> None:
        if self.session.closed:
            return
        self.canvas.pending = None
        self.canvas.update()
        if isinstance(result, FaceAlbumError):
            self.session.error.emit("Add a face", str(result))
            self._update_panel()
            return
        if not isinstance(result, DrawnFace):
            return
        face_id = self.session.call("Add a face", tag_face, photo_id, result)
        self.draw_button.setChecked(False)
        if face_id is not None and photo_id == self.photo.id:
            self.select_face(int(face_id))


# -- reads, run off the GUI thread ------------------------------------------------------


def _read_photo(cat: Catalog, photo: Photo) -> _PhotoRead:
    """The faces the viewer frames in ``photo`` (those that count as faces), and its date."""
    names: dict[int, str | None] = {}
    shown = []
    for face in cat.faces(photo_id=photo.id):
        if face.state is not FaceState.FACE:
            continue  # not a face, a stranger, or a drawn face taken back by Undo
        person_id = None if face.person_id is None else resolve_merged(cat, face.person_id)
        name = None
        if person_id is not None:
            if person_id not in names:
                names[person_id] = cat.person(person_id).name
            name = names[person_id]
        label = name or ("Unnamed" if person_id is not None else "?")
        shown.append(ShownFace(
            id=face.id, box=face.box, label=label, named=bool(name), person_id=person_id,
            confirmed=face.confirmed, drawn=face.source is FaceSource.MANUAL,
        ))
    return _PhotoRead(photo.id, shown, _photo_date(photo))


def _photo_date(photo: Photo) -> str:
    """When the photo was taken (its EXIF date), else when its file was last changed."""
    taken = None
    try:
        with Image.open(photo.path) as image:
            exif = image.getexif()
            taken = exif.get_ifd(0x8769).get(0x9003) or exif.get(0x0132)
    except (OSError, ValueError, SyntaxError):
        pass  # an unreadable header: the file's own time below
    if isinstance(taken, str):
        try:
            when = datetime.datetime.strptime(taken.strip("\x00 "), "%Y:%m:%d %H:%M:%S")
        except ValueError:
            when = None
        if when is not None:
            return f"Taken {when.day} {when:%B %Y, %H:%M}"
    changed = datetime.datetime.fromtimestamp(photo.mtime_ns / 1e9)
    return f"File changed {changed.day} {changed:%B %Y, %H:%M}"
