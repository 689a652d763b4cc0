"""Where the app's bundled files are, and its icons drawn in the palette's colours.

Resources live in ``resources/`` beside the packages in a source tree and in
the bundle's own folder after PyInstaller; this module is the one place that
knows the difference. Icons are SVGs drawn with ``currentColor`` strokes and
are rendered here in the palette's text colour at every size and pixel ratio
asked for, so they stay crisp on high-DPI screens and legible in dark mode. It
never reads photos or the catalog.
"""

import sys
from functools import cache
from pathlib import Path

from PySide6.QtCore import QByteArray, QRectF, QSize, Qt
from PySide6.QtGui import QGuiApplication, QIcon, QIconEngine, QPainter, QPalette, QPixmap
from PySide6.QtSvg import QSvgRenderer


def resource_dir() -> Path:
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle is not None:
        return Path(bundle) / "resources"
    return Path(__file__).resolve().parent.parent / "resources"


def demo_album() -> Path:
    """The built-in example album."""
    return resource_dir() / "demo"


@cache
def icon(name: str) -> QIcon:
    """The icon ``resources/icons/<name>.svg``, drawn in the palette's text colour."""
    return QIcon(_SvgEngine(_svg_text(name)))


def app_icon() -> QIcon:
    return QIcon(str(resource_dir() / "icons" / "app.svg"))


@cache
def _svg_text(name: str) -> str:
    path = resource_dir() / "icons" / f"{name}.svg"
    return path.read_text(encoding="utf-8")


class _SvgEngine(QIconEngine):
    """Renders one SVG at whatever size and device pixel ratio a view asks."""

    def __init__(self, svg: str) -> None:
        super().__init__()
        self._svg = svg
        self._renderers: dict[str, QSvgRenderer] = {}  # by colour
        self._pixmaps: dict[tuple[int, int, float, str], QPixmap] = {}

    def paint(self, painter: QPainter, rect: object, mode: QIcon.Mode, state: QIcon.State) -> None:
        self._renderer(_color(mode)).render(painter, QRectF(rect))  # type: ignore[call-overload]

    def _renderer(self, color: str) -> QSvgRenderer:
        renderer = self._renderers.get(color)
        if renderer is None:
            svg = self._svg.replace("currentColor", color)
            renderer = self._renderers[color] = QSvgRenderer(QByteArray(svg.encode("utf-8")))
        return renderer

    def pixmap(self, size: QSize, mode: QIcon.Mode, state: QIcon.State) -> QPixmap:
        return self.scaledPixmap(size, mode, state, 1.0)

    def scaledPixmap(  # noqa: N802 - Qt's name
        self, size: QSize, mode: QIcon.Mode, state: QIcon.State, scale: float
    ) -> QPixmap:
        color = _color(mode)
        key = (size.width(), size.height(), scale, color)
        cached = self._pixmaps.get(key)
        if cached is not None:
            return cached
        pixmap = QPixmap(size * scale)
        pixmap.setDevicePixelRatio(scale)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        self._renderer(color).render(painter, QRectF(0, 0, size.width(), size.height()))
        painter.end()
        self._pixmaps[key] = pixmap
        return pixmap

    def clone(self) -> QIconEngine:
        return _SvgEngine(self._svg)


def _color(mode: QIcon.Mode) -> str:
    """The palette colour an icon is drawn in for ``mode``, as #rrggbb."""
    palette = QGuiApplication.palette()
    if mode == QIcon.Mode.Selected:
        return palette.color(QPalette.ColorRole.HighlightedText).name()
    group = QPalette.ColorGroup.Disabled if mode == QIcon.Mode.Disabled else \
        QPalette.ColorGroup.Normal
    return palette.color(group, QPalette.ColorRole.WindowText).name()
