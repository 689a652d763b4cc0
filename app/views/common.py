"""Pieces every page uses: the tile delegate, empty states, small dialogs.

``TileDelegate`` paints one item of an icon grid (a round face crop or a
rounded photo thumbnail, with an optional title and subtitle) in the
palette's colours, with a placeholder while the image loads. Nothing here
reads the catalog.
"""

from collections.abc import Callable

from PySide6.QtCore import (
    QEvent,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QRect,
    QRectF,
    QSize,
    Qt,
)
from PySide6.QtGui import (
    QColor,
    QFont,
    QIcon,
    QPainter,
    QPainterPath,
    QPalette,
    QPen,
    QPixmap,
    QPixmapCache,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCompleter,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

from app.models import Role
from app.resources import icon

SPACING = 12  # the grid of the whole app: margins and gaps are multiples of 4

_Index = QModelIndex | QPersistentModelIndex


class TileDelegate(QStyledItemDelegate):
    """A round face or a rounded photo, with a name and a line under it."""

    def __init__(
        self,
        image_size: int,
        *,
        round_image: bool = True,
        text_lines: int = 2,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.image_size = image_size
        self.round_image = round_image
        self.text_lines = text_lines
        self.on_rename: Callable[[int, str], None] | None = None
        self.completions: Callable[[], list[str]] = list

    def sizeHint(self, option: QStyleOptionViewItem, index: _Index) -> QSize:  # noqa: N802
        line = option.fontMetrics.height()
        text = self.text_lines * (line + 2) + (8 if self.text_lines else 0)
        return QSize(self.image_size + 2 * SPACING, self.image_size + text + 2 * SPACING - 4)

    def image_rect(self, cell: QRect) -> QRect:
        x = cell.x() + (cell.width() - self.image_size) // 2
        return QRect(x, cell.y() + SPACING - 2, self.image_size, self.image_size)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: _Index) -> None:
        palette = option.palette
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        cell = option.rect.adjusted(3, 3, -3, -3)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        hovered = bool(option.state & QStyle.StateFlag.State_MouseOver)
        highlight = palette.color(QPalette.ColorRole.Highlight)
        if selected or hovered:
            fill = QColor(highlight)
            fill.setAlpha(70 if selected else 28)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(fill)
            painter.drawRoundedRect(QRectF(cell), 10, 10)

        target = self.image_rect(option.rect)
        clip = QPainterPath()
        if self.round_image:
            clip.addEllipse(QRectF(target))
        else:
            clip.addRoundedRect(QRectF(target), 8, 8)
        pixmap = index.data(Qt.ItemDataRole.DecorationRole)
        painter.save()
        painter.setClipPath(clip)
        if isinstance(pixmap, QPixmap) and not pixmap.isNull():
            ratio = painter.device().devicePixelRatioF()
            painter.drawPixmap(target, _cover(pixmap, target.size() * ratio))
        else:
            painter.fillRect(target, palette.color(QPalette.ColorRole.Midlight))
            glyph = icon("person" if self.round_image else "photo")
            inner = target.adjusted(target.width() // 3, target.height() // 3,
                                    -target.width() // 3, -target.height() // 3)
            glyph.paint(painter, inner, mode=QIcon.Mode.Disabled)
        painter.restore()
        if selected:
            ring = QColor(highlight)
            painter.setPen(_pen(ring, 3))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawPath(clip)
        if bool(index.data(Role.NAMED)) and not self.text_lines:
            _draw_check(painter, target, palette)

        if self.text_lines:
            text_rect = QRect(cell.x() + 4, target.bottom() + 8, cell.width() - 8,
                              option.fontMetrics.height() + 2)
            title_font = QFont(option.font)
            title_font.setWeight(QFont.Weight.DemiBold)
            painter.setFont(title_font)
            named = index.data(Role.NAMED)
            color = palette.color(QPalette.ColorRole.Text)
            if named is False:
                color = palette.color(QPalette.ColorRole.PlaceholderText)
            painter.setPen(color)
            title = str(index.data(Qt.ItemDataRole.DisplayRole) or "")
            elided = painter.fontMetrics().elidedText(title, Qt.TextElideMode.ElideRight,
                                                      text_rect.width())
            painter.drawText(text_rect, Qt.AlignmentFlag.AlignHCenter, elided)
            subtitle = index.data(Role.SUBTITLE)
            if subtitle and self.text_lines > 1:
                painter.setFont(option.font)
                painter.setPen(palette.color(QPalette.ColorRole.PlaceholderText))
                painter.drawText(text_rect.translated(0, text_rect.height() + 2),
                                 Qt.AlignmentFlag.AlignHCenter, str(subtitle))
        painter.restore()

    # -- naming in place --------------------------------------------------------

    def createEditor(  # noqa: N802
        self, parent: QWidget, option: QStyleOptionViewItem, index: _Index
    ) -> QWidget:
        editor = QLineEdit(parent)
        editor.setPlaceholderText("Name")
        editor.setAlignment(Qt.AlignmentFlag.AlignCenter)
        completer = QCompleter(self.completions(), editor)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        editor.setCompleter(completer)
        return editor

    def setEditorData(self, editor: QWidget, index: _Index) -> None:  # noqa: N802
        # Views call this again whenever the row changes (a thumbnail arriving);
        # what the user has typed so far must survive that.
        if isinstance(editor, QLineEdit) and not editor.isModified():
            editor.setText(str(index.data(Qt.ItemDataRole.EditRole) or ""))
            editor.selectAll()

    def updateEditorGeometry(  # noqa: N802
        self, editor: QWidget, option: QStyleOptionViewItem, index: _Index
    ) -> None:
        target = self.image_rect(option.rect)
        height = editor.sizeHint().height()
        editor.setGeometry(option.rect.x() + 4, target.bottom() + 4, option.rect.width() - 8,
                           height)

    def setModelData(self, editor: QWidget, model: object, index: _Index) -> None:  # noqa: N802
        if isinstance(editor, QLineEdit) and self.on_rename is not None:
            old = str(index.data(Qt.ItemDataRole.EditRole) or "")
            new = editor.text().strip()
            if new != old:
                self.on_rename(int(index.data(Role.ID)), new)


class EmptyState(QWidget):
    """A friendly message where a list has nothing to show yet."""

    def __init__(
        self, icon_name: str, title: str, text: str, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        picture = QLabel()
        picture.setPixmap(icon(icon_name).pixmap(QSize(64, 64)))
        picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        picture.setEnabled(False)
        self.title = QLabel(title)
        font = self.title.font()
        font.setPointSizeF(font.pointSizeF() * 1.4)
        font.setWeight(QFont.Weight.DemiBold)
        self.title.setFont(font)
        self.title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.text = QLabel(text)
        self.text.setWordWrap(True)
        self.text.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.text.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        for w in (picture, self.title, self.text):
            layout.addWidget(w)
        layout.addStretch(2)


class RoundIconDelegate(QStyledItemDelegate):
    """A plain list row whose picture is a small round face."""

    def __init__(self, size: int = 32, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.size = size

    def initStyleOption(self, option: QStyleOptionViewItem, index: _Index) -> None:  # noqa: N802
        super().initStyleOption(option, index)
        pixmap = index.data(Qt.ItemDataRole.DecorationRole)
        face = round_pixmap(pixmap if isinstance(pixmap, QPixmap) else None, self.size,
                            option.palette)
        option.icon = QIcon(face)
        option.decorationSize = QSize(self.size, self.size)
        option.features |= QStyleOptionViewItem.ViewItemFeature.HasDecoration


def icon_grid(
    delegate: TileDelegate, *, multi: bool = True, view: QListView | None = None
) -> QListView:
    """A list view laid out as a wrapping grid of tiles (``view``, or a new one)."""
    view = view if view is not None else QListView()
    view.setViewMode(QListView.ViewMode.IconMode)
    view.setResizeMode(QListView.ResizeMode.Adjust)
    view.setMovement(QListView.Movement.Static)
    view.setUniformItemSizes(True)
    view.setSpacing(4)
    view.setWordWrap(True)
    view.setMouseTracking(True)
    view.setItemDelegate(delegate)
    view.setFrameShape(QListView.Shape.NoFrame)
    view.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
    view.setSelectionMode(
        QAbstractItemView.SelectionMode.ExtendedSelection if multi
        else QAbstractItemView.SelectionMode.SingleSelection
    )
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    spread_tiles(view, delegate)
    return view


class _TileSpreader(QObject):
    """Widens a grid's cells so its columns fill the view's width."""

    def __init__(self, view: QListView, delegate: TileDelegate) -> None:
        super().__init__(view)
        self.view = view
        self.delegate = delegate
        view.viewport().installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        if event.type() == QEvent.Type.Resize:
            self.spread()
        return False

    def spread(self) -> None:
        option = QStyleOptionViewItem()
        option.initFrom(self.view)
        tile = self.delegate.sizeHint(option, QModelIndex())
        gap = 2 * self.view.spacing()
        # Qt keeps the view's spacing free at the end of a row, and room for a
        # scroll bar that may yet appear.
        width = self.view.viewport().width() - gap - 1
        if not self.view.verticalScrollBar().isVisible():
            width -= self.view.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent)
        columns = max(1, width // (tile.width() + gap))
        cell = QSize(max(tile.width() + gap, width // columns), tile.height() + gap)
        if self.view.gridSize() != cell:
            self.view.setGridSize(cell)


def spread_tiles(view: QListView, delegate: TileDelegate) -> None:
    """Lay a grid's tiles out across the whole width: without this the columns
    keep their natural width and up to a tile's width stays empty at the right."""
    _TileSpreader(view, delegate).spread()


def heading(text: str, scale: float = 1.6) -> QLabel:
    label = QLabel(text)
    font = label.font()
    font.setPointSizeF(font.pointSizeF() * scale)
    font.setWeight(QFont.Weight.DemiBold)
    label.setFont(font)
    return label


def muted(text: str = "") -> QLabel:
    label = QLabel(text)
    label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
    label.setWordWrap(True)
    return label


def face_header(layout: QVBoxLayout, title: QLabel, details: QLabel) -> QLabel:
    """A dialog's header added to ``layout``: a face picture (returned, to fill
    when it is read) beside a title with a line of details under it."""
    header = QHBoxLayout()
    header.setSpacing(SPACING)
    picture = QLabel()
    header.addWidget(picture)
    words = QVBoxLayout()
    words.setSpacing(2)
    words.addStretch(1)
    words.addWidget(title)
    words.addWidget(details)
    words.addStretch(1)
    header.addLayout(words, 1)
    layout.addLayout(header)
    return picture


def round_pixmap(pixmap: QPixmap | None, size: int, palette: QPalette) -> QPixmap:
    """``pixmap`` cut to a circle of ``size`` logical pixels (a placeholder when None)."""
    ratio = 2.0
    out = QPixmap(QSize(size, size) * ratio)
    out.setDevicePixelRatio(ratio)
    out.fill(Qt.GlobalColor.transparent)
    painter = QPainter(out)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    path = QPainterPath()
    path.addEllipse(QRectF(0, 0, size, size))
    painter.setClipPath(path)
    if pixmap is not None and not pixmap.isNull():
        painter.drawPixmap(QRect(0, 0, size, size), _cover(pixmap, QSize(size, size) * ratio))
    else:
        painter.fillRect(QRect(0, 0, size, size), palette.color(QPalette.ColorRole.Midlight))
        third = size // 3
        icon("person").paint(painter, QRect(third, third, third, third),
                             mode=QIcon.Mode.Disabled)
    painter.end()
    return out


def _cover(pixmap: QPixmap, size: QSize) -> QPixmap:
    """Scale and centre-crop so the pixmap fills ``size`` (like CSS object-fit: cover)."""
    key = f"cover-{pixmap.cacheKey()}-{size.width()}x{size.height()}"
    found = QPixmap()
    if QPixmapCache.find(key, found):
        return found
    scaled = pixmap.scaled(size, Qt.AspectRatioMode.KeepAspectRatioByExpanding,
                           Qt.TransformationMode.SmoothTransformation)
    x = (scaled.width() - size.width()) // 2
    y = (scaled.height() - size.height()) // 2
    result = scaled.copy(x, y, size.width(), size.height())
    QPixmapCache.insert(key, result)
    return result


def _pen(color: QColor, width: float) -> QPen:
    pen = QPen(color)
    pen.setWidthF(width)
    return pen


def _draw_check(painter: QPainter, target: QRect, palette: QPalette) -> None:
    """A small badge on a face the user confirmed."""
    d = max(18, target.width() // 5)
    badge = QRect(target.right() - d + 2, target.bottom() - d + 2, d, d)
    painter.setPen(_pen(palette.color(QPalette.ColorRole.Base), 2))
    painter.setBrush(palette.color(QPalette.ColorRole.Highlight))
    painter.drawEllipse(badge)
    icon("yes").paint(painter, badge.adjusted(4, 4, -4, -4), mode=QIcon.Mode.Selected)
