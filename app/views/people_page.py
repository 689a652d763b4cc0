"""The people grid: everyone found, to open, name, merge or hide.

People are listed with the most photos first, or by name, or by their most
recent photo (the window remembers the choice). A filter or search that
leaves nobody says so and why. "Together…" finds the photos where several
people appear together, named as "Anna, Ben" or taken from the selection.

Naming happens in place (double-click on the name, or F2) with completion from
the names already given; typing a name someone else already has offers to
merge the two. Several selected people merge with the Merge button, and
dragging one person onto another does the same, after a confirmation that
shows both. Every change is an engine operation through ``Session.apply``. The
page never writes names or merges itself; the engine does.
"""

from PySide6.QtCore import QEvent, QModelIndex, QObject, QPoint, Qt, Signal
from PySide6.QtGui import QAction, QDragEnterEvent, QDragMoveEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QMenu,
    QPushButton,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.models import PERSON_MIME, PeopleFilter, PeopleModel, Role, TogetherModel, count_text
from app.resources import icon
from app.session import Session
from app.views.common import (
    SPACING,
    EmptyState,
    TileDelegate,
    heading,
    icon_grid,
    muted,
    round_pixmap,
)
from app.views.photo_viewer import PhotoViewer
from app.workers import Job
from engine import people

TILE_IMAGE = 112


class PeopleGrid(QListView):
    """The grid; dropping people onto a person asks to merge them into it."""

    merge_dropped = Signal(list, int)  # source person ids, target person id

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802
        if event.mimeData().hasFormat(PERSON_MIME):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:  # noqa: N802
        target = self.indexAt(event.position().toPoint())
        if target.isValid() and event.mimeData().hasFormat(PERSON_MIME):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        target = self.indexAt(event.position().toPoint())
        raw = bytes(event.mimeData().data(PERSON_MIME).data()).decode()
        sources = [int(s) for s in raw.split(",") if s]
        if not target.isValid() or not sources:
            event.ignore()
            return
        target_id = int(target.data(Role.ID))
        sources = [s for s in sources if s != target_id]
        event.setDropAction(Qt.DropAction.IgnoreAction)  # the model rows are not moved
        event.accept()
        if sources:
            self.merge_dropped.emit(sources, target_id)


class PeoplePage(QWidget):
    open_person = Signal(int)
    open_unassigned = Signal()
    review_person = Signal(int)
    sort_changed = Signal(str)  # the order chosen, one of PeopleFilter.SORTS

    def __init__(self, session: Session, model: PeopleModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.model = model
        self.proxy = PeopleFilter(model, self)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(2 * SPACING, SPACING + 4, 2 * SPACING, SPACING)
        layout.setSpacing(SPACING)

        top = QHBoxLayout()
        top.setSpacing(SPACING)
        self.title = heading("People")
        top.addWidget(self.title)
        self.count_label = muted()
        top.addWidget(self.count_label, 0, Qt.AlignmentFlag.AlignBottom)
        top.addStretch(1)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search by name")
        self.search.setClearButtonEnabled(True)
        self.search.addAction(icon("search"), QLineEdit.ActionPosition.LeadingPosition)
        self.search.setMinimumWidth(220)
        self.search.setToolTip("Show only people whose name contains this text (Ctrl+F)")
        top.addWidget(self.search)
        layout.addLayout(top)

        bar = QHBoxLayout()
        bar.setSpacing(6)
        self.filters = QButtonGroup(self)
        for mode, label, tip in (
            ("all", "All", "Everyone who is not hidden"),
            ("named", "Named", "People you have named"),
            ("unnamed", "Unnamed", "People waiting for a name"),
            ("hidden", "Hidden", "People you hid from this list"),
        ):
            button = QToolButton()
            button.setText(label)
            button.setToolTip(tip)
            button.setCheckable(True)
            button.setProperty("mode", mode)
            button.setAutoRaise(True)
            button.setObjectName("filterChip")
            self.filters.addButton(button)
            bar.addWidget(button)
            if mode == "all":
                button.setChecked(True)
        bar.addStretch(1)
        self.sort_box = QComboBox()
        for order, label in PeopleFilter.SORTS.items():
            self.sort_box.addItem(label, order)
        self.sort_box.setToolTip("The order people are listed in")
        bar.addWidget(self.sort_box)
        self.together_button = QPushButton(icon("photo"), "Together…")
        self.together_button.setToolTip(
            "Photos where several people appear together: the selected people, or names "
            "typed as \u201cAnna, Ben\u201d")
        bar.addWidget(self.together_button)
        self.unassigned_button = QPushButton(icon("face"), "")
        self.unassigned_button.setToolTip("Faces found that belong to nobody yet: sort them out")
        bar.addWidget(self.unassigned_button)
        self.merge_button = QPushButton(icon("merge"), "Merge")
        self.merge_button.setToolTip("Make the selected people one person (Ctrl+M)")
        self.merge_button.setEnabled(False)
        bar.addWidget(self.merge_button)
        layout.addLayout(bar)

        self.delegate = TileDelegate(TILE_IMAGE, parent=self)
        self.delegate.on_rename = self.rename
        self.delegate.completions = self.model.names
        self.grid = PeopleGrid()
        icon_grid(self.delegate, view=self.grid)
        self.grid.setModel(self.proxy)
        self.grid.setDragEnabled(True)
        self.grid.setAcceptDrops(True)
        self.grid.setDropIndicatorShown(True)
        self.grid.setDragDropMode(QAbstractItemView.DragDropMode.DragDrop)
        self.grid.setDefaultDropAction(Qt.DropAction.MoveAction)
        self.grid.setEditTriggers(QAbstractItemView.EditTrigger.EditKeyPressed)
        self.grid.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.grid.setToolTip("")
        self.empty = EmptyState("people", *_IDLE_EMPTY)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.grid)
        self.stack.addWidget(self.empty)
        session.job_started.connect(self._job_started)
        layout.addWidget(self.stack, 1)

        self.rename_action = QAction(icon("rename"), "Name…", self)
        self.rename_action.setShortcut(QKeySequence(Qt.Key.Key_F2))
        self.rename_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.merge_action = QAction(icon("merge"), "Merge Selected People", self)
        self.merge_action.setShortcut(QKeySequence("Ctrl+M"))
        self.hide_action = QAction(icon("hide"), "Hide", self)
        self.hide_action.setShortcut(QKeySequence("Ctrl+H"))
        self.open_action = QAction(icon("person"), "Open", self)
        self.review_action = QAction(icon("review"), "Review Suggestions", self)
        for action in (self.rename_action, self.merge_action, self.hide_action):
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            self.addAction(action)
        find = QAction(self)
        find.setShortcut(QKeySequence.StandardKey.Find)
        find.triggered.connect(self._focus_search)
        self.addAction(find)

        self.filters.buttonClicked.connect(lambda b: self._set_mode(str(b.property("mode"))))
        self.search.textChanged.connect(self._search)
        self.sort_box.currentIndexChanged.connect(self._sort_chosen)
        self.together_button.clicked.connect(self._together_clicked)
        self.grid.activated.connect(self._activated)
        self.grid.merge_dropped.connect(self.merge)
        self.grid.customContextMenuRequested.connect(self._context_menu)
        self.grid.selectionModel().selectionChanged.connect(self._selection_changed)
        self.merge_button.clicked.connect(self.merge_selected)
        self.merge_action.triggered.connect(self.merge_selected)
        self.rename_action.triggered.connect(self.rename_current)
        self.hide_action.triggered.connect(self.toggle_hidden)
        self.open_action.triggered.connect(self._open_current)
        self.review_action.triggered.connect(self._review_current)
        self.unassigned_button.clicked.connect(self.open_unassigned.emit)
        model.refreshed.connect(self._update_counts)
        self.grid.viewport().installEventFilter(self)
        self._update_counts()

    # -- what the user does ------------------------------------------------------

    def selected_ids(self) -> list[int]:
        rows = sorted(self.grid.selectionModel().selectedIndexes(), key=lambda i: i.row())
        return [int(i.data(Role.ID)) for i in rows]

    def select_person(self, person_id: int) -> None:
        for row in range(self.proxy.rowCount()):
            index = self.proxy.index(row, 0)
            if index.data(Role.ID) == person_id:
                self.grid.setCurrentIndex(index)
                self.grid.scrollTo(index)
                return

    def rename(self, person_id: int, name: str) -> None:
        """Name a person; a name someone else has offers to merge the two."""
        other = self.model.find_named(name) if name else None
        if other is not None and other != person_id:
            self.merge([person_id], other, reason=f"There is already a person named {name}.")
            return
        self.session.apply("Name", people.name_person, person_id, name or None)

    def rename_current(self) -> None:
        index = self.grid.currentIndex()
        if index.isValid():
            self.grid.edit(index)

    def merge_selected(self) -> None:
        ids = self.selected_ids()
        if len(ids) < 2:
            return
        # Keep the first named person, else the first one: the grid lists the largest first.
        plan = people.plan_merge(_names(self.model, ids))
        self.merge(plan.sources, plan.target)

    def merge(self, sources: list[int], target: int, reason: str = "") -> None:
        if not self.confirm_merge(sources, target, reason):
            return
        self.session.apply("Merge", people.merge_people, sources, target)
        self.select_person(target)

    def confirm_merge(self, sources: list[int], target: int, reason: str = "") -> bool:
        dialog = MergeDialog(self.model, sources, target, reason, self)
        return dialog.exec() == QDialog.DialogCode.Accepted

    def toggle_hidden(self) -> None:
        for person_id in self.selected_ids():
            summary = self.model.summary(person_id)
            if summary is not None:
                self.session.apply("Hide", people.hide_person, person_id, not summary.hidden)

    def set_order(self, order: str) -> None:
        """List people in ``order`` (one of ``PeopleFilter.SORTS``), as if chosen."""
        found = self.sort_box.findData(order)
        self.sort_box.setCurrentIndex(max(found, 0))

    def show_together(self, names: str | None = None) -> "TogetherDialog":
        """The photos of several people together: of ``names`` ("Anna, Ben"), else of
        the named people selected, else of whatever names are typed in the dialog."""
        if names is None:
            chosen = [self.model.summary(pid) for pid in self.selected_ids()]
            names = ", ".join(s.name for s in chosen if s is not None and s.name)
        dialog = TogetherDialog(self.session, self.model, names, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    # -- plumbing -------------------------------------------------------------

    def _together_clicked(self) -> None:
        self.show_together()  # not connected directly: ``clicked`` passes a bool

    def _sort_chosen(self, _index: int) -> None:
        order = str(self.sort_box.currentData())
        self.proxy.set_order(order)
        self.sort_changed.emit(order)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        # Double-click on the name edits it; on the face, opens the person.
        if watched is self.grid.viewport() and event.type() == QEvent.Type.MouseButtonDblClick:
            pos: QPoint = event.position().toPoint()  # type: ignore[attr-defined]
            index = self.grid.indexAt(pos)
            if index.isValid():
                face = self.delegate.image_rect(self.grid.visualRect(index))
                if pos.y() > face.bottom():
                    self.grid.edit(index)
                    return True
        return super().eventFilter(watched, event)

    def _focus_search(self) -> None:
        self.search.setFocus()
        self.search.selectAll()

    def _set_mode(self, mode: str) -> None:
        self.proxy.set_mode(mode)
        self._update_counts()

    def _search(self, text: str) -> None:
        self.proxy.set_text(text)
        self._update_counts()

    def _activated(self, index: QModelIndex) -> None:
        if index.isValid() and self.grid.state() != QAbstractItemView.State.EditingState:
            self.open_person.emit(int(index.data(Role.ID)))

    def _open_current(self) -> None:
        self._activated(self.grid.currentIndex())

    def _review_current(self) -> None:
        ids = self.selected_ids()
        if ids:
            self.review_person.emit(ids[0])

    def _selection_changed(self) -> None:
        ids = self.selected_ids()
        self.merge_button.setEnabled(len(ids) >= 2)
        self.merge_action.setEnabled(len(ids) >= 2)
        self.hide_action.setEnabled(bool(ids))
        self.rename_action.setEnabled(len(ids) == 1)
        if len(ids) == 1 and (summary := self.model.summary(ids[0])) is not None:
            self.hide_action.setText("Show Again" if summary.hidden else "Hide")

    def _context_menu(self, pos: QPoint) -> None:
        index = self.grid.indexAt(pos)
        if not index.isValid():
            return
        if not self.grid.selectionModel().isSelected(index):
            self.grid.setCurrentIndex(index)
        self._selection_changed()
        menu = QMenu(self)
        for action in (self.open_action, self.rename_action, self.review_action):
            menu.addAction(action)
        menu.addSeparator()
        menu.addAction(self.merge_action)
        menu.addAction(self.hide_action)
        menu.exec(self.grid.viewport().mapToGlobal(pos))

    def _update_counts(self, *args: object) -> None:
        shown = self.proxy.rowCount()
        total = self.model.rowCount()
        self.count_label.setText(f"{shown} of {total}" if shown != total else f"{total}")
        unassigned = self.model.unassigned
        self.unassigned_button.setText(f"Faces without a person ({unassigned})")
        self.unassigned_button.setVisible(unassigned > 0)
        self._say_why_empty()
        self.stack.setCurrentWidget(self.empty if shown == 0 else self.grid)
        self._selection_changed()

    def _job_started(self, job: Job) -> None:
        self._say_why_empty()
        job.ended.connect(self._say_why_empty)  # after the session has let it go

    def _say_why_empty(self) -> None:
        if self.model.rowCount() == 0 or self.proxy.rowCount() > 0:
            title, text = _SCANNING_EMPTY if self.session.busy() else _IDLE_EMPTY
        elif self.proxy.text:
            title = f"Nobody named \u201c{self.search.text().strip()}\u201d"
            text = ("Only named people are searched. Clear the search, or look among the "
                    "unnamed people and give them a name.")
            if self.proxy.mode == "hidden":
                text = "Nobody hidden has this name. " + text
        else:
            title, text = _FILTER_EMPTY[self.proxy.mode]
        self.empty.title.setText(title)
        self.empty.text.setText(text)


class TogetherDialog(QDialog):
    """The photos where all of the people named appear; double-click to view one.

    Names are typed separated by commas, in any case; a name nobody has is
    said so. The photos are read off the GUI thread (``TogetherModel``).
    """

    def __init__(
        self, session: Session, model: PeopleModel, names: str = "",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.session = session
        self.model = model
        self.setWindowTitle("Photos Together")
        self.resize(900, 640)
        layout = QVBoxLayout(self)
        layout.setSpacing(SPACING)
        layout.addWidget(heading("Photos of people together", 1.2))
        self.names = QLineEdit()
        self.names.setPlaceholderText("Names, separated by commas: Anna, Ben")
        self.names.setClearButtonEnabled(True)
        layout.addWidget(self.names)
        self.status = muted()
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        self.photos = TogetherModel(session, self)
        self.grid = icon_grid(TileDelegate(160, round_image=False, text_lines=0, parent=self))
        self.grid.setModel(self.photos)
        layout.addWidget(self.grid, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.unknown: list[str] = []
        self.names.textChanged.connect(self._names_changed)
        self.grid.activated.connect(self._open_photo)
        self.photos.refreshed.connect(self._say_what)
        session.changed.connect(self.photos.refresh)
        self.names.setText(names)
        self._names_changed(names)

    def chosen(self) -> list[int]:
        """The people named that exist, in the order typed."""
        ids: list[int] = []
        self.unknown = []
        for name in (n.strip() for n in self.names.text().split(",")):
            if not name:
                continue
            found = self.model.find_named(name)
            if found is None:
                self.unknown.append(name)
            elif found not in ids:
                ids.append(found)
        return ids

    def _names_changed(self, _text: str) -> None:
        self.photos.show_people(self.chosen())
        self._say_what()

    def _say_what(self) -> None:
        ids = self.photos.person_ids
        names = [s.name for s in map(self.model.summary, ids) if s is not None and s.name]
        if self.unknown:
            text = (f"Nobody is named \u201c{self.unknown[0]}\u201d. Only named people can be "
                    "searched: name them on the People page first.")
        elif not ids:
            text = "Type the names of two or more people, separated by commas."
        elif self.photos.loading:
            text = "Looking for photos…"
        else:
            who = names[0] if len(names) == 1 else (
                ", ".join(names[:-1]) + " and " + names[-1])
            count = self.photos.rowCount()
            text = (f"{count_text(count, 'photo')} with {who}" if count
                    else f"No photo shows {who} together.")
        self.status.setText(text)

    def _open_photo(self, index: QModelIndex) -> None:
        if index.isValid():
            viewer = PhotoViewer(self.session, self.photos.photos(), index.row(), self,
                                 people_model=self.model)
            viewer.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            viewer.open()


_IDLE_EMPTY = (
    "No people yet",
    "People appear here as faces are found. Choose a folder of photos, "
    "or open the demo album, to begin.",
)
_FILTER_EMPTY = {
    "all": ("Everyone is hidden", "Hidden people are under the Hidden filter, where they "
            "can be shown again."),
    "named": ("Nobody has a name yet", "Double-click the name under a face, or press F2, "
              "to name someone."),
    "unnamed": ("Everyone has a name", "People found in new photos appear here until you "
                "name them."),
    "hidden": ("Nobody is hidden", "People you hide (Ctrl+H) wait here, out of the way of "
               "the others, and can be shown again."),
}
_SCANNING_EMPTY = (
    "Looking for people…",
    "People appear here as they are found, a few at a time while the scan goes on.",
)


class MergeDialog(QDialog):
    """"Merge these people?", showing each of them."""

    def __init__(
        self, model: PeopleModel, sources: list[int], target: int, reason: str,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Merge People")
        layout = QVBoxLayout(self)
        layout.setSpacing(SPACING)
        name = people.plan_merge(_names(model, [*sources, target]), target).name
        title = heading(f"Merge {len(sources) + 1} people into one?", 1.25)
        layout.addWidget(title)
        if reason:
            layout.addWidget(muted(reason))
        faces = QHBoxLayout()
        faces.setSpacing(2 * SPACING)
        for person_id in [*sources, target][:6]:
            faces.addLayout(_person_badge(model, person_id, self))
        layout.addLayout(faces)
        photos = sum(getattr(model.summary(i), "photo_count", 0) for i in [*sources, target])
        layout.addWidget(muted(
            f"They become one person{f', {name},' if name else ''} with up to {photos} photos. "
            "You can undo this with Ctrl+Z."
        ))
        buttons = QDialogButtonBox()
        self.merge_button = buttons.addButton("Merge", QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.merge_button.setDefault(True)
        layout.addWidget(buttons)


def _names(model: PeopleModel, ids: list[int]) -> dict[int, str | None]:
    """Each person's name as the grid shows it, in the order given."""
    return {i: s.name if (s := model.summary(i)) is not None else None for i in ids}


def _person_badge(model: PeopleModel, person_id: int, widget: QWidget) -> QVBoxLayout:
    column = QVBoxLayout()
    column.setSpacing(6)
    cover = model.cover(person_id)
    pixmap = None
    if cover is not None:
        from app.models import CROP_SIZE

        pixmap = model.images.crop_of(cover[0], cover[1], CROP_SIZE)
    picture = QLabel()
    picture.setPixmap(round_pixmap(pixmap, 88, widget.palette()))
    picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
    summary = model.summary(person_id)
    label = QLabel(summary.name if summary is not None and summary.name else "Unnamed")
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    column.addWidget(picture)
    column.addWidget(label)
    return column
