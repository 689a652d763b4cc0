"""Review suggestions: "Is this Anna?", one face or group of faces at a time.

Yes (Y), No (N) and Skip (Right arrow) answer and move on; Left arrow goes
back to the previous question. Yes confirms the faces for the person, No
rejects them forever; both are engine operations, and the notice after each
answer has Undo on it for that answer. "Confirm All Remaining" first shows
every question left at once (``ConfirmAllDialog``), each checked: the later
questions are the far-fetched ones, and no regrouping undoes a
confirmation, so nothing is confirmed unseen. The questions still checked
are confirmed as one operation (one Undo); those unchecked stay, neither
confirmed nor rejected, and the page goes on to the first of them. Opened
without a person, the page starts on the first person who has something to
review; "Next Person" goes on to the next one who has (in the chooser's
order, coming round to the start). The suggestions themselves come from
the engine (``people.suggest``). The page never ranks faces itself, and
never reads the catalog on the GUI thread: the suggestions, and the faces
each question shows, are read by a ``CatalogReader`` and shown when they
arrive.
"""

from typing import Any

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QAction, QIcon, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.models import CROP_SIZE, CatalogReader, PeopleModel, person_label
from app.resources import icon
from app.session import Session
from app.views.common import SPACING, EmptyState, heading, muted, round_pixmap
from app.views.confirm_all_dialog import ConfirmAllDialog
from engine import people
from engine.catalog import Catalog, Face, Photo
from engine.errors import NotFoundError

EXAMPLES = 4  # faces of the person shown beside the question
SHOWN = 6  # faces of one suggestion shown at most


class ReviewPage(QWidget):
    back = Signal()

    def __init__(
        self, session: Session, people_model: PeopleModel, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.session = session
        self.people_model = people_model
        self.person_id: int | None = None
        self.suggestions: list[Any] = []
        self.loading = False  # the person's suggestions are being read
        self.position = 0
        self.answered = 0
        self._examples: list[tuple[Face, Photo]] = []
        self._candidates: list[tuple[Face, Photo]] = []
        self._suggestion_reader = CatalogReader(session, self._suggestions_read)
        self._question_reader = CatalogReader(session, self._question_read)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(2 * SPACING, SPACING, 2 * SPACING, 2 * SPACING)
        layout.setSpacing(SPACING)
        top = QHBoxLayout()
        self.back_button = QToolButton()
        self.back_button.setIcon(icon("back"))
        self.back_button.setIconSize(QSize(24, 24))
        self.back_button.setAutoRaise(True)
        self.back_button.setToolTip("Back to people (Escape)")
        top.addWidget(self.back_button)
        top.addWidget(heading("Review Suggestions"))
        top.addStretch(1)
        top.addWidget(QLabel("Person:"))
        self.person_box = QComboBox()
        self.person_box.setMinimumWidth(220)
        self.person_box.setToolTip("Whose suggestions to go through")
        top.addWidget(self.person_box)
        self.next_button = QPushButton(icon("skip"), "Next Person")
        self.next_button.setToolTip("Go on to the next person who has suggestions")
        self.next_button.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        top.addWidget(self.next_button)
        layout.addLayout(top)

        self.stack = QStackedWidget()
        layout.addWidget(self.stack, 1)

        card = QFrame()
        card.setObjectName("reviewCard")
        card_layout = QGridLayout(card)
        card_layout.setContentsMargins(3 * SPACING, 2 * SPACING, 3 * SPACING, 2 * SPACING)
        card_layout.setHorizontalSpacing(4 * SPACING)
        card_layout.setVerticalSpacing(SPACING)
        known = QVBoxLayout()
        known.setSpacing(8)
        self.known_cover = QLabel()
        self.known_cover.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.known_name = heading("", 1.2)
        self.known_name.setAlignment(Qt.AlignmentFlag.AlignCenter)
        known.addWidget(self.known_cover)
        known.addWidget(self.known_name)
        self.examples = QHBoxLayout()
        self.examples.setSpacing(6)
        self.example_labels = [QLabel() for _ in range(EXAMPLES)]
        for label in self.example_labels:
            self.examples.addWidget(label)
        known.addLayout(self.examples)
        known.addStretch(1)
        card_layout.addLayout(known, 0, 0, Qt.AlignmentFlag.AlignTop)

        ask = QVBoxLayout()
        ask.setSpacing(SPACING)
        self.question = heading("", 2.0)
        self.question.setAlignment(Qt.AlignmentFlag.AlignCenter)
        ask.addStretch(1)
        ask.addWidget(self.question)
        self.candidates = QHBoxLayout()
        self.candidates.setSpacing(SPACING)
        self.candidate_labels = [QLabel() for _ in range(SHOWN)]
        self.candidates.addStretch(1)
        for label in self.candidate_labels:
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            self.candidates.addWidget(label)
        self.candidates.addStretch(1)
        ask.addLayout(self.candidates)
        self.hint = muted()
        self.hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        ask.addWidget(self.hint)
        ask.addSpacing(3 * SPACING)
        buttons = QHBoxLayout()
        buttons.setSpacing(SPACING)
        buttons.addStretch(1)
        self.no_button = QPushButton(icon("no"), "No   N")
        self.no_button.setToolTip("Not this person: never suggest these faces for them again")
        self.skip_button = QPushButton(icon("skip"), "Skip   →")
        self.skip_button.setToolTip("Decide later (Right arrow); Left arrow goes back")
        self.yes_button = QPushButton(icon("yes"), "Yes   Y")
        self.yes_button.setToolTip("Yes, this is them")
        self.yes_button.setDefault(True)
        for button in (self.no_button, self.skip_button, self.yes_button):
            button.setMinimumSize(QSize(128, 40))
            button.setFocusPolicy(Qt.FocusPolicy.TabFocus)
            buttons.addWidget(button)
        buttons.addStretch(1)
        ask.addLayout(buttons)
        self.counter = muted()
        self.counter.setAlignment(Qt.AlignmentFlag.AlignCenter)
        ask.addWidget(self.counter)
        self.all_button = QPushButton(icon("yes"), "Confirm All Remaining")
        self.all_button.setToolTip(
            "See this question and every one after it at once, uncheck any that are not "
            "them, and confirm the rest as one change (one Undo)")
        self.all_button.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        ask.addWidget(self.all_button, 0, Qt.AlignmentFlag.AlignCenter)
        ask.addStretch(1)
        card_layout.addLayout(ask, 0, 1)
        card_layout.setColumnStretch(1, 1)
        self.stack.addWidget(card)
        self.card = card

        self.empty = EmptyState("review", "Nothing to review",
                                "There are no suggestions for this person right now. "
                                "Name more people, or scan more photos, and come back.")
        self.stack.addWidget(self.empty)

        for key, slot in (
            (Qt.Key.Key_Y, self.yes), (Qt.Key.Key_N, self.no), (Qt.Key.Key_Right, self.skip),
            (Qt.Key.Key_Left, self.previous), (Qt.Key.Key_Escape, self.back.emit),
        ):
            action = QAction(self)
            action.setShortcut(QKeySequence(key))
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            action.triggered.connect(slot)
            self.addAction(action)
        self.back_button.clicked.connect(self.back.emit)
        self.yes_button.clicked.connect(self.yes)
        self.no_button.clicked.connect(self.no)
        self.skip_button.clicked.connect(self.skip)
        self.all_button.clicked.connect(self.confirm_all)
        self.next_button.clicked.connect(self.next_person)
        self.person_box.activated.connect(
            lambda i: self.review(int(self.person_box.itemData(i))))
        session.images.ready.connect(self._image_ready)
        # Counts and names in the chooser follow the people as answers change them.
        people_model.refreshed.connect(self._people_refreshed)

    # -- reviewing -----------------------------------------------------------------

    def review(self, person_id: int | None = None) -> None:
        """Start on a person's suggestions; without one, on the first person in the
        chooser's order who has any (named people first)."""
        self._fill_people()
        if person_id is None:
            self._first_of(self._order())
            return
        self.person_id = person_id
        found = self.person_box.findData(person_id)
        if found >= 0:
            self.person_box.setCurrentIndex(found)
        self.suggestions = []
        self.position = 0
        self.answered = 0
        self.loading = bool(person_id)
        self._show()
        self.setFocus()
        if person_id:
            self._suggestion_reader.read(
                lambda cat: (person_id, person_id, _suggestions(cat, person_id)))

    def next_person(self) -> None:
        """Go on to the next person in the chooser who has suggestions, coming
        round to the first ones; worked out off the GUI thread."""
        order = self._order()
        if self.person_id in order:
            at = order.index(self.person_id)
            order = order[at + 1:] + order[:at]
        self._first_of(order)

    def _order(self) -> list[int]:
        return [int(self.person_box.itemData(i)) for i in range(self.person_box.count())]

    def _first_of(self, order: list[int]) -> None:
        """Start on the first of ``order`` who has something to review."""
        self.person_id = None
        self.suggestions = []
        self.position = self.answered = 0
        self.loading = bool(order)
        self._show()
        self.setFocus()
        if order:
            self._suggestion_reader.read(
                lambda cat: (None, *people.first_with_suggestions(cat, order)))

    def _suggestions_read(self, data: tuple[int | None, int | None, list[Any]]) -> None:
        asked, person_id, suggestions = data
        if asked != self.person_id or not self.loading:
            return  # another person was chosen since; their read comes next
        if asked is None:  # the first person with suggestions
            self.person_id = person_id
            found = self.person_box.findData(person_id)
            if found >= 0:
                self.person_box.setCurrentIndex(found)
        if person_id != self.person_id:
            return  # another person was chosen since; their read comes next
        self.loading = False
        self.suggestions = suggestions
        self.position = 0
        self.answered = 0
        self._show()

    def current(self) -> Any:
        if 0 <= self.position < len(self.suggestions):
            return self.suggestions[self.position]
        return None

    def yes(self) -> None:
        self._answer(people.confirm_faces, "Yes")

    def no(self) -> None:
        self._answer(people.reject_faces, "No")

    def confirm_all(self) -> None:
        """Show the question shown and every one after it at once; those the
        user leaves checked are confirmed (``_confirm_chosen``)."""
        remaining = self.suggestions[self.position:]
        if not remaining or self.person_id is None:
            return
        dialog = ConfirmAllDialog(self.session, self.people_model, self.person_id, remaining,
                                  self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.accepted.connect(lambda: self._confirm_chosen(dialog.chosen()))
        dialog.open()

    def _confirm_chosen(self, chosen: list[Any]) -> None:
        """Yes to the questions chosen, as one operation; the others stay to be
        answered one by one, the first of them asked next."""
        remaining = self.suggestions[self.position:]
        yes = [q for q in remaining if q in chosen]
        if not yes or self.person_id is None:
            return
        face_ids = [face_id for suggestion in yes for face_id in suggestion.face_ids]
        if not self.session.apply("Yes to all", people.confirm_faces, face_ids, self.person_id):
            return
        # The answered ones go before the rest, as after Yes: Left goes back to them.
        self.suggestions[self.position:] = yes + [q for q in remaining if q not in chosen]
        self.answered += len(yes)
        self.position += len(yes)
        self._show()

    def skip(self) -> None:
        if self.current() is not None:
            self.position += 1
            self._show()

    def previous(self) -> None:
        if self.position > 0:
            self.position -= 1
            self._show()

    def _answer(self, operation: Any, title: str) -> None:
        suggestion = self.current()
        if suggestion is None or self.person_id is None:
            return
        if not self.session.apply(title, operation, list(suggestion.face_ids), self.person_id):
            return
        self.answered += 1
        self.position += 1
        self._show()

    # -- drawing ---------------------------------------------------------------------

    def _fill_people(self) -> None:
        """Named people, then unnamed ones, each with their face (unnamed people
        look alike in words: their face tells them apart)."""
        self.person_box.clear()
        for named in (True, False):
            for person_id in self.people_model.person_ids():
                summary = self.people_model.summary(person_id)
                if summary is None or summary.hidden or bool(summary.name) != named:
                    continue
                self.person_box.addItem(self._face_icon(person_id), person_label(summary),
                                        person_id)

    def _face_icon(self, person_id: int) -> QIcon:
        cover = self.people_model.cover(person_id)
        pixmap = (self.session.images.crop_of(cover[0], cover[1], CROP_SIZE)
                  if cover is not None else None)
        return QIcon(round_pixmap(pixmap, 24, self.palette()))

    def _people_refreshed(self) -> None:
        if not self.isVisible():
            return  # opening the page fills the chooser afresh
        current = self.person_id
        self._fill_people()
        found = self.person_box.findData(current)
        if found >= 0:
            self.person_box.setCurrentIndex(found)
        if self.current() is not None:
            self._show()

    def _image_ready(self, _key: str) -> None:
        if not self.isVisible():
            return
        for i in range(self.person_box.count()):
            self.person_box.setItemIcon(i, self._face_icon(int(self.person_box.itemData(i))))
        self._show_faces()

    def _show(self) -> None:
        suggestion = self.current()
        self.next_button.setEnabled(not self.loading)
        if suggestion is None:
            self.stack.setCurrentWidget(self.empty)
            if self.loading:
                self.empty.title.setText("Looking for suggestions…")
                self.empty.text.setText("")
            elif self.suggestions:
                self.empty.title.setText("All done")
                self.empty.text.setText(
                    f"You answered {self.answered} of {len(self.suggestions)} suggestions. "
                    "Undo on the note at the top takes back the answer it names; "
                    "Edit > Undo takes back the latest change made anywhere.")
            elif self.person_id is None:
                self.empty.title.setText("Nothing to review")
                self.empty.text.setText(
                    "Nobody has suggestions right now. Name more people, or scan more "
                    "photos, and come back.")
            else:
                self.empty.title.setText("Nothing to review")
                self.empty.text.setText(
                    "There are no suggestions for this person right now. "
                    "Name more people, or scan more photos, and come back.")
            return
        self.stack.setCurrentWidget(self.card)
        summary = self.people_model.summary(self.person_id) if self.person_id else None
        count = len(suggestion.face_ids)
        if summary is not None and summary.name:
            name = summary.name
            self.question.setText(f"Is this {name}?" if count == 1 else f"Are these {name}?")
            self.known_name.setText(name)
        else:  # nobody to name: compare with the faces on the left
            self.question.setText("Is this the same person?" if count == 1
                                  else "Are these the same person?")
            self.known_name.setText(person_label(summary) if summary is not None else "")
        self.hint.setText(
            "One face." if count == 1 else f"A group of {count} faces that look alike"
            f"{f' (first {SHOWN} shown)' if count > SHOWN else ''}."
        )
        self.counter.setText(f"{self.position + 1} of {len(self.suggestions)}")
        left = len(self.suggestions) - self.position
        self.all_button.setText(f"Confirm All Remaining ({left})…")
        self.all_button.setVisible(left > 1)  # for one question left, Yes says it
        self._load_faces()
        self._show_faces()

    def _load_faces(self) -> None:
        """Ask for the faces the question shows, read once per question."""
        suggestion = self.current()
        asked = (self.person_id, self.position)
        face_ids = list(suggestion.face_ids)[:SHOWN] if suggestion else []
        self._candidates = []  # not the previous question's faces while these load
        self._question_reader.read(
            lambda cat: (asked, *_question_faces(cat, asked[0], face_ids)))

    def _question_read(
        self,
        data: tuple[tuple[int | None, int], list[tuple[Face, Photo]], list[tuple[Face, Photo]]],
    ) -> None:
        asked, examples, candidates = data
        if asked != (self.person_id, self.position):
            return  # the page moved on; the newest question's read comes next
        self._examples, self._candidates = examples, candidates
        self._show_faces()

    def _show_faces(self) -> None:
        """Draw the faces; called again as their crops arrive from the cache."""
        if self.current() is None:
            return
        palette, images = self.palette(), self.session.images
        cover = self.people_model.cover(self.person_id) if self.person_id else None
        cover_pixmap = images.crop_of(cover[0], cover[1], CROP_SIZE) if cover else None
        self.known_cover.setPixmap(round_pixmap(cover_pixmap, 120, palette))
        size = 200 if len(self._candidates) == 1 else 150 if len(self._candidates) <= 3 else 112
        for labels, faces, side in ((self.example_labels, self._examples, 48),
                                    (self.candidate_labels, self._candidates, size)):
            for i, label in enumerate(labels):
                label.setVisible(i < len(faces))
                if i < len(faces):
                    face, photo = faces[i]
                    pixmap = images.crop_of(face, photo, CROP_SIZE)
                    label.setPixmap(round_pixmap(pixmap, side, palette))
                    label.setToolTip(photo.display_path)


def _suggestions(cat: Catalog, person_id: int) -> list[Any]:
    try:
        return list(people.suggest(cat, person_id))
    except NotFoundError:  # merged into someone else meanwhile: nothing to ask
        return []


def _question_faces(
    cat: Catalog, person_id: int | None, face_ids: list[int]
) -> tuple[list[tuple[Face, Photo]], list[tuple[Face, Photo]]]:
    """(a few of the person's own faces, the faces asked about), each with its photo."""
    try:
        mine = people.person_faces(cat, person_id) if person_id else []
    except NotFoundError:  # merged into someone else meanwhile
        mine = []
    examples = [(f, cat.photo(f.photo_id)) for f in mine[:EXAMPLES]]
    asked = cat.faces(ids=face_ids) if face_ids else []
    return examples, [(f, cat.photo(f.photo_id)) for f in asked]
