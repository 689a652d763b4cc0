"""One photo, large, with its faces framed and named.

Opened by double-clicking a photo in a person's album. The left and right
arrow keys step through the album, Escape closes. The photo arrives from the
image cache like every thumbnail (a smaller copy shows while it loads). It
never changes a face or a name.
"""

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QKeyEvent, QPainter, QPaintEvent, QPalette, QPen, QPixmap
from PySide6.QtWidgets import QDialog, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from app.models import THUMB_SIZE, face_labels
from app.resources import icon
from app.session import Session
from app.views.common import SPACING, muted
from engine.catalog import Photo

VIEW_SIZE = 1600


class PhotoCanvas(QWidget):
    """Paints a photo scaled to fit, and a named frame around each face."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.pixmap: QPixmap | None = None
        self.photo_size = QSize(1, 1)
        self.faces: list[tuple[tuple[float, float, float, float], str, bool]] = []
        self.setMinimumSize(480, 360)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        painter.fillRect(self.rect(), self.palette().color(QPalette.ColorRole.Window).darker(115))
        if self.pixmap is None or self.pixmap.isNull():
            painter.setPen(self.palette().color(QPalette.ColorRole.PlaceholderText))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "Loading…")
            return
        w, h = self.photo_size.width(), self.photo_size.height()
        scale = min(self.width() / w, self.height() / h)
        shown = QRectF((self.width() - w * scale) / 2, (self.height() - h * scale) / 2,
                       w * scale, h * scale)
        painter.drawPixmap(shown, self.pixmap, QRectF(self.pixmap.rect()))
        font = QFont(self.font())
        font.setWeight(QFont.Weight.DemiBold)
        painter.setFont(font)
        metrics = painter.fontMetrics()
        for (x, y, fw, fh), name, named in self.faces:
            box = QRectF(shown.x() + x * scale, shown.y() + y * scale, fw * scale, fh * scale)
            color = QColor("#ffd166") if named else QColor(255, 255, 255, 200)
            painter.setPen(QPen(QColor(0, 0, 0, 120), 4))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRoundedRect(box, 6, 6)
            painter.setPen(QPen(color, 2))
            painter.drawRoundedRect(box, 6, 6)
            text_w = metrics.horizontalAdvance(name) + 12
            tag = QRectF(box.center().x() - text_w / 2, box.bottom() + 4, text_w,
                         metrics.height() + 4)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(0, 0, 0, 170))
            painter.drawRoundedRect(tag, tag.height() / 2, tag.height() / 2)
            painter.setPen(color)
            painter.drawText(tag, Qt.AlignmentFlag.AlignCenter, name)


class PhotoViewer(QDialog):
    def __init__(
        self, session: Session, photos: list[Photo], row: int, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.session = session
        self.photos = photos
        self.row = row
        self.resize(1100, 800)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, SPACING)
        self.canvas = PhotoCanvas()
        layout.addWidget(self.canvas, 1)
        bar = QHBoxLayout()
        bar.setContentsMargins(SPACING, 0, SPACING, 0)
        self.previous = QPushButton(icon("back"), "")
        self.previous.setToolTip("Previous photo (Left arrow)")
        self.next = QPushButton(icon("forward"), "")
        self.next.setToolTip("Next photo (Right arrow)")
        self.caption = QLabel()
        self.position = muted()
        bar.addWidget(self.previous)
        bar.addWidget(self.next)
        bar.addSpacing(SPACING)
        bar.addWidget(self.caption, 1)
        bar.addWidget(self.position)
        layout.addLayout(bar)
        self.previous.clicked.connect(lambda: self.show_row(self.row - 1))
        self.next.clicked.connect(lambda: self.show_row(self.row + 1))
        session.images.ready.connect(self._image_ready)
        self.show_row(row)

    def show_row(self, row: int) -> None:
        if not self.photos:
            return
        self.row = max(0, min(row, len(self.photos) - 1))
        photo = self.photos[self.row]
        self.setWindowTitle(photo.display_path)
        self.caption.setText(photo.display_path)
        self.position.setText(f"{self.row + 1} of {len(self.photos)}")
        self.canvas.photo_size = QSize(photo.width or 1, photo.height or 1)
        self.canvas.faces = face_labels(self.session.catalog, photo.id)
        self.previous.setEnabled(self.row > 0)
        self.next.setEnabled(self.row < len(self.photos) - 1)
        self._load()

    def _load(self) -> None:
        photo = self.photos[self.row]
        pixmap = self.session.images.photo_thumb(photo, VIEW_SIZE)
        if pixmap is None:  # the small copy while the large one is made
            pixmap = self.session.images.photo_thumb(photo, THUMB_SIZE)
        self.canvas.pixmap = pixmap
        self.canvas.update()

    def _image_ready(self, key: str) -> None:
        if self.isVisible():
            self._load()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if event.key() == Qt.Key.Key_Left:
            self.show_row(self.row - 1)
        elif event.key() == Qt.Key.Key_Right:
            self.show_row(self.row + 1)
        else:
            super().keyPressEvent(event)
