"""Confirm All Remaining: every question Review has left, seen at once before any is confirmed.

Review asks "Is this Anna?" one question at a time, and its later questions
are the far-fetched ones, while a confirmation is the user's word that no
regrouping undoes. So before saying Yes to all of them, this dialog shows
each question left as a tile (its cover face; "+2 more" for a group of
faces confirmed together), every tile checked. A click or Space turns a
tile's check over, the arrow keys move, Enter confirms, Escape cancels.
The dialog only chooses: the review page confirms the questions chosen
through ``Session.apply`` (one operation, one Undo), and those left
unchecked stay in the review, neither confirmed nor rejected. The cover
faces are read off the GUI thread by ``models.QuestionsModel``; the dialog
never reads nor writes the catalog itself.
"""

from PySide6.QtCore import (
    QAbstractItemModel,
    QEvent,
    QModelIndex,
    QPersistentModelIndex,
    QRectF,
    Qt,
)
from PySide6.QtGui import QIcon, QKeyEvent, QMouseEvent, QPainter, QPalette, QPen
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

from app.images import crop_key
from app.models import CROP_SIZE, PeopleModel, QuestionsModel, count_text, person_label
from app.resources import icon
from app.session import Session
from app.views.common import (
    SPACING,
    TileDelegate,
    face_header,
    heading,
    icon_grid,
    muted,
    round_pixmap,
)
from engine import people


class ConfirmAllDialog(QDialog):
    """The questions left for ``person_id``, each checked; ``chosen()`` once accepted."""

    def __init__(
        self,
        session: Session,
        people_model: PeopleModel,
        person_id: int,
        questions: list[people.Suggestion],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.session = session
        self.people_model = people_model
        self.person_id = person_id
        self.setWindowTitle("Confirm All Remaining")
        self.resize(640, 520)
        self.model = QuestionsModel(session, questions, self)

        summary = people_model.summary(person_id)
        who = summary.name if summary is not None and summary.name else "this person"
        layout = QVBoxLayout(self)
        layout.setSpacing(SPACING)
        self.heading = heading(f"Confirm these as {who}?", 1.3)
        self.cover = face_header(layout, self.heading, muted(
            f"The {count_text(len(questions), 'question')} not answered yet. Uncheck those "
            f"that are not {who}: they stay in the review, to be answered one by one."))
        self.cover.setToolTip(person_label(summary) if summary is not None else "")

        self.grid = icon_grid(_CheckTile(96, text_lines=1, parent=self), multi=False)
        self.grid.setModel(self.model)
        layout.addWidget(self.grid, 1)

        footer = QHBoxLayout()
        footer.setSpacing(8)
        self.checked_label = muted()
        footer.addWidget(self.checked_label, 1)
        buttons = QDialogButtonBox()
        self.ok = buttons.addButton("", QDialogButtonBox.ButtonRole.AcceptRole)
        self.ok.setIcon(icon("yes"))
        self.ok.setToolTip(f"These are {who}: confirmed as one change (Undo takes them back)")
        self.ok.setDefault(True)  # Enter
        buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        footer.addWidget(buttons)
        layout.addLayout(footer)

        self.model.dataChanged.connect(self._update)
        session.images.ready.connect(self._image_ready)
        self.grid.setCurrentIndex(self.model.index(0))
        self.grid.setFocus()
        self._show_cover()
        self._update()

    def chosen(self) -> list[people.Suggestion]:
        """The questions checked, in the order they were asked."""
        return [self.model.question(row) for row in self.model.chosen()]

    def _update(self) -> None:
        chosen = self.chosen()
        faces = sum(len(q.face_ids) for q in chosen)
        self.ok.setText(f"Confirm {count_text(faces, 'Face')}")
        self.ok.setEnabled(faces > 0)
        self.checked_label.setText(f"{len(chosen)} of {self.model.rowCount()} checked")

    def _show_cover(self) -> None:
        cover = self.people_model.cover(self.person_id)
        pixmap = (self.session.images.crop_of(cover[0], cover[1], CROP_SIZE)
                  if cover is not None else None)
        self.cover.setPixmap(round_pixmap(pixmap, 72, self.palette()))

    def _image_ready(self, key: str) -> None:
        cover = self.people_model.cover(self.person_id)
        if cover is not None:
            face, photo = cover
            if key == crop_key(photo, face.box, CROP_SIZE, face.frame_seconds):
                self._show_cover()


class _CheckTile(TileDelegate):
    """A face with a check on it, turned over by a click or Space; an
    unchecked face is veiled, so what will be confirmed stands out."""

    def paint(
        self, painter: QPainter, option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        super().paint(painter, option, index)
        on = index.data(Qt.ItemDataRole.CheckStateRole) == Qt.CheckState.Checked
        palette = option.palette
        target = QRectF(self.image_rect(option.rect))
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        if not on:
            veil = palette.color(QPalette.ColorRole.Base)
            veil.setAlpha(170)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(veil)
            painter.drawEllipse(target)
        side = 24
        badge = QRectF(target.right() - side + 2, target.bottom() - side + 2, side, side)
        pen = QPen(palette.color(QPalette.ColorRole.Base))
        pen.setWidthF(2)
        painter.setPen(pen)
        painter.setBrush(palette.color(QPalette.ColorRole.Highlight if on
                                       else QPalette.ColorRole.Midlight))
        painter.drawEllipse(badge)
        if on:
            icon("yes").paint(painter, badge.adjusted(5, 5, -5, -5).toRect(),
                              mode=QIcon.Mode.Selected)
        painter.restore()

    def editorEvent(  # noqa: N802
        self, event: QEvent, model: QAbstractItemModel, option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> bool:
        # The view hands over a click's release (not the one that ends a
        # double click: that one comes as the double click itself) and Space.
        clicked = (isinstance(event, QMouseEvent)
                   and event.button() == Qt.MouseButton.LeftButton
                   and event.type() in (QEvent.Type.MouseButtonRelease,
                                        QEvent.Type.MouseButtonDblClick))
        pressed = (isinstance(event, QKeyEvent) and event.type() == QEvent.Type.KeyPress
                   and event.key() in (Qt.Key.Key_Space, Qt.Key.Key_Select))
        if not (clicked or pressed):
            return False
        on = index.data(Qt.ItemDataRole.CheckStateRole) == Qt.CheckState.Checked
        return model.setData(index, Qt.CheckState.Unchecked if on else Qt.CheckState.Checked,
                             Qt.ItemDataRole.CheckStateRole)
