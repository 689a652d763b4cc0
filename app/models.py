"""Qt item models over the catalog: people, a person's faces and photos, the photos of
several people together, the faces most like one face, Review's questions side by
side, the scanned folders, skipped files, and what Undo and Redo would act on.

Each model adapts one engine query to the shape a Qt view wants and re-reads
it when asked (the people, skipped files and undo history whenever the session
says something ``changed``; a person's faces and photos when their page is on
screen); none of them keeps facts of its own or writes to the catalog (edits
go through ``Session.apply``). The queries run on the runner's query lane
(``CatalogReader``, which pages use too) with their own catalog connection and
their results are applied on the GUI thread, so a large catalog never stalls
the window; the one read the GUI thread makes itself is the people grid's
covers for the tiles being painted, by primary key (a screenful costs the
same at 100 or 100k faces). Images come from the ``ImageCache`` and arrive
lazily: a row shows a placeholder until its thumbnail is ready, then repaints.
"""

import logging
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import IntEnum
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar

import shiboken6
from PySide6.QtCore import (
    QAbstractListModel,
    QAbstractTableModel,
    QMimeData,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    Signal,
)

from app.describe import describe_operation
from app.images import ImageCache, crop_key, thumb_key, with_play_icon
from app.session import Session
from engine import people
from engine.catalog import Catalog, DatabaseError, Face, FaceState, Operation, Photo, PhotoStatus
from engine.catalog.folders import Folder, FolderState, folders
from engine.catalog.people import photos_with_all
from engine.catalog.persons import resolve_merged
from engine.catalog.records import MediaKind
from engine.errors import FaceAlbumError, NotFoundError
from engine.people import PersonSummary

log = logging.getLogger(__name__)

PERSON_MIME = "application/x-facealbum-person-ids"
CROP_SIZE = 160  # pixels of a face crop on disk (shown at up to 128 logical px)
THUMB_SIZE = 320
COVER_BATCH = 64  # covers read at once when a row without one is painted

_Index = QModelIndex | QPersistentModelIndex


Row = TypeVar("Row")

class Role(IntEnum):
    ID = Qt.ItemDataRole.UserRole + 1
    HIDDEN = Qt.ItemDataRole.UserRole + 3
    NAMED = Qt.ItemDataRole.UserRole + 4
    SUBTITLE = Qt.ItemDataRole.UserRole + 5


class CatalogReader(QObject):
    """Runs one read of the catalog at a time off the GUI thread.

    ``read(query)`` runs ``query(catalog)`` on the runner's query lane with a
    connection of its own and hands the result to ``apply`` on the GUI
    thread. Asked again while a read runs, it reads once more afterwards
    with the newest query, so bursts of changes cost two reads, not many.

    When ``apply`` is a method of a Qt object (a model, a page, a dialog),
    a result that arrives after that object was deleted (a dialog closed
    while its read ran) is dropped, and so is a failure to read: nobody is
    left to show it to.
    """

    _done = Signal(object)

    def __init__(self, session: Session, apply: Callable[[Any], None]) -> None:
        super().__init__()
        self.session = session
        self._apply = apply
        owner = getattr(apply, "__self__", None)
        self._owner = owner if isinstance(owner, QObject) else None
        self._next: Callable[[Catalog], Any] | None = None
        self.loading = False
        # Direct when the runner is synchronous, queued from a worker thread.
        self._done.connect(self._finish)

    def read(self, query: Callable[[Catalog], Any]) -> None:
        if self.loading:
            self._next = query
            return
        self.loading = True
        self.session.runner.submit(lambda: self._run(query), lane="queries")

    def _run(self, query: Callable[[Catalog], Any]) -> None:
        result: Any
        try:
            with Catalog(self.session.catalog_path) as catalog:
                result = query(catalog)
        except (FaceAlbumError, DatabaseError) as exc:
            log.warning("reading the catalog failed: %s", exc)
            result = exc
        self._done.emit(result)

    def _finish(self, result: Any) -> None:
        self.loading = False
        if self.session.closed:
            return
        if self._owner is not None and not shiboken6.isValid(self._owner):
            self._next = None
            return
        if isinstance(result, FaceAlbumError | DatabaseError):
            self.session.error.emit(
                "Reading the catalog",
                f"the catalog could not be read ({result}); close other programs using it "
                "and try again",
            )
        else:
            self._apply(result)
        if self._next is not None:
            query, self._next = self._next, None
            self.read(query)


class _ImageListModel(QAbstractListModel):
    """Rows that each show one lazily loaded image, keyed for repaint."""

    refreshed = Signal()  # the rows now show the catalog as it was just read

    def __init__(self, session: Session, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self._rows_by_key: dict[str, list[int]] = {}
        self._reader = CatalogReader(session, self._apply)
        session.images.ready.connect(self._image_ready)

    @property
    def loading(self) -> bool:
        return self._reader.loading

    def _apply(self, data: Any) -> None:
        raise NotImplementedError

    @property
    def images(self) -> ImageCache:
        return self.session.images

    def _image_ready(self, key: str) -> None:
        for row in self._rows_by_key.get(key, ()):
            if row < self.rowCount():
                index = self.index(row)
                self.dataChanged.emit(index, index, [Qt.ItemDataRole.DecorationRole])


class PeopleModel(_ImageListModel):
    """Every person the engine knows (hidden ones included), largest first.

    A read brings one ``PersonRow`` per person (counts and the cover's face
    id, no records). Covers are resolved when a row is painted or asked for:
    the face and photo records of that row and its neighbours, read by
    primary key on the GUI thread's connection (a few milliseconds for a
    screenful, whatever the size of the catalog), so a grid of 30k people
    never reads 30k faces and photos, nor asks for 30k thumbnails.
    """

    def __init__(self, session: Session, parent: QObject | None = None) -> None:
        super().__init__(session, parent)
        self._rows: list[people.PersonRow] = []
        self._row_of: dict[int, int] = {}  # person id -> row
        self._ids: list[int] = []
        self._summaries: dict[int, PersonSummary] = {}  # made when first asked for
        self._covers: dict[int, tuple[Face, Photo] | None] = {}  # resolved so far
        self.unassigned = 0
        # When each person's newest photo was taken, read only once a view sorts by it.
        self.latest: dict[int, float] = {}
        self.wants_dates = False
        session.changed.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        dates = self.wants_dates
        self._reader.read(lambda cat: _read_people(cat, dates))

    def want_dates(self) -> None:
        """Read each person's newest photo time too, from now on (sorting by it)."""
        if not self.wants_dates:
            self.wants_dates = True
            self.refresh()

    def _apply(self, data: "_People") -> None:
        self.unassigned = data.unassigned
        if data.latest is not None:
            self.latest = data.latest
        same_rows = data.ids == self._ids
        if not same_rows:
            self.beginResetModel()
        self._rows, self._row_of, self._ids = data.rows, data.row_of, data.ids
        self._summaries, self._covers, self._rows_by_key = {}, {}, {}
        if not same_rows:
            self.endResetModel()
        elif data.rows:
            self.dataChanged.emit(self.index(0), self.index(len(data.rows) - 1))
        self.refreshed.emit()

    def person_ids(self) -> list[int]:
        return list(self._ids)

    def names(self) -> list[str]:
        return sorted({p.name for p in self._rows if p.name})

    def find_named(self, name: str) -> int | None:
        wanted = name.strip().casefold()
        for p in self._rows:
            if p.name and p.name.casefold() == wanted:
                return int(p.id)
        return None

    def row_at(self, row: int) -> people.PersonRow:
        """What row ``row`` shows, without making a record (filters call this per row)."""
        return self._rows[row]

    def summary_at(self, row: int) -> PersonSummary:
        return self._summary(self._rows[row])

    def summary(self, person_id: int | None) -> PersonSummary | None:
        row = self._row_of.get(person_id) if person_id is not None else None
        return self._summary(self._rows[row]) if row is not None else None

    def cover(self, person_id: int) -> tuple[Face, Photo] | None:
        if person_id not in self._covers and person_id in self._row_of:
            self._resolve_covers([person_id])
        return self._covers.get(person_id)

    def _summary(self, row: people.PersonRow) -> PersonSummary:
        summary = self._summaries.get(row.id)
        if summary is None:
            summary = self._summaries[row.id] = PersonSummary(
                id=row.id, name=row.name, face_count=row.face_count,
                photo_count=row.photo_count, photos=[], hidden=bool(row.hidden),
                cover_face_id=row.cover_face_id, confirmed_count=row.confirmed_count,
            )
        return summary

    def _cover_at(self, row: int) -> tuple[Face, Photo] | None:
        person_id = self._rows[row].id
        if person_id not in self._covers:
            # The rows around it are likely on screen too: one read for all.
            near = self._rows[max(0, row - COVER_BATCH // 4) : row + COVER_BATCH]
            self._resolve_covers([p.id for p in near if p.id not in self._covers])
        return self._covers.get(person_id)

    def _resolve_covers(self, person_ids: list[int]) -> None:
        """Read the cover face and photo of each person, by primary key."""
        wanted = {pid: self._rows[self._row_of[pid]].cover_face_id for pid in person_ids}
        faces: dict[int, Face] = {}
        photos: dict[int, Photo] = {}
        if not self.session.closed:
            try:
                ids = [i for i in wanted.values() if i is not None]
                faces = {f.id: f for f in self.session.catalog.faces(ids=ids)}
                photos = _photos_by_id(self.session.catalog, {f.photo_id for f in faces.values()})
            except (FaceAlbumError, DatabaseError) as exc:  # changed meanwhile: a re-read comes
                log.info("cannot read the covers of %d people: %s", len(wanted), exc)
                faces, photos = {}, {}
        for pid, face_id in wanted.items():
            face = faces.get(face_id) if face_id is not None else None
            photo = photos.get(face.photo_id) if face is not None else None
            if face is None or photo is None:
                self._covers[pid] = None
                continue
            self._covers[pid] = (face, photo)
            key = crop_key(photo, face.box, CROP_SIZE, face.frame_seconds)
            self._rows_by_key.setdefault(key, []).append(self._row_of[pid])

    # -- QAbstractListModel ----------------------------------------------------

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self._rows)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self._rows):
            return None
        p = self._rows[index.row()]
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            return p.name or "Unnamed" if role == Qt.ItemDataRole.DisplayRole else p.name or ""
        if role == Qt.ItemDataRole.DecorationRole:
            cover = self._cover_at(index.row())
            if cover is None:
                return None
            return self.images.crop_of(cover[0], cover[1], CROP_SIZE)
        if role == Qt.ItemDataRole.ToolTipRole:
            state = " (hidden)" if p.hidden else ""
            return (f"{p.name or 'Unnamed'}{state}\n{count_text(p.photo_count, 'photo')}, "
                    f"{count_text(p.face_count, 'face')}\nDouble-click to open, F2 to name")
        if role == Role.ID:
            return p.id
        if role == Role.SUBTITLE:
            return count_text(p.photo_count, "photo")
        if role == Role.HIDDEN:
            return bool(p.hidden)
        if role == Role.NAMED:
            return bool(p.name)
        return None

    def flags(self, index: _Index) -> Qt.ItemFlag:
        base = super().flags(index)
        if not index.isValid():
            return base | Qt.ItemFlag.ItemIsDropEnabled
        return (base | Qt.ItemFlag.ItemIsEditable | Qt.ItemFlag.ItemIsDragEnabled
                | Qt.ItemFlag.ItemIsDropEnabled)

    def setData(self, index: _Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:  # noqa: N802
        # Names change through the view's rename flow (it may offer a merge);
        # the model itself stays read-only.
        return False

    def mimeTypes(self) -> list[str]:  # noqa: N802
        return [PERSON_MIME]

    def mimeData(self, indexes: Sequence[QModelIndex]) -> QMimeData:  # noqa: N802
        data = QMimeData()
        ids = sorted({int(self.data(i, Role.ID)) for i in indexes if i.isValid()})
        data.setData(PERSON_MIME, ",".join(map(str, ids)).encode())
        return data

    def supportedDropActions(self) -> Qt.DropAction:  # noqa: N802
        return Qt.DropAction.MoveAction

    def supportedDragActions(self) -> Qt.DropAction:  # noqa: N802
        return Qt.DropAction.MoveAction


class PeopleFilter(QSortFilterProxyModel):
    """Shows all, named, unnamed or hidden people whose name contains a text,
    in the order chosen (``SORTS``)."""

    MODES = ("all", "named", "unnamed", "hidden")
    # Each order, and its words; "photos" is the engine's own (largest first).
    SORTS: ClassVar[dict[str, str]] = {
        "photos": "Most photos", "name": "Name", "recent": "Most recent photo",
    }

    def __init__(self, source: PeopleModel, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.people = source
        self.setSourceModel(source)
        self.mode = "all"
        self.text = ""
        self.order = "photos"

    def set_order(self, order: str) -> None:
        self.order = order if order in self.SORTS else "photos"
        if self.order == "recent":
            self.people.want_dates()
        if self.order == "photos":
            self.sort(-1)  # the model's own order
        else:
            self.invalidate()
            self.sort(0)

    def lessThan(self, left: _Index, right: _Index) -> bool:  # noqa: N802
        a, b = self.people.row_at(left.row()), self.people.row_at(right.row())
        if self.order == "name":
            if bool(a.name) != bool(b.name):
                return bool(a.name)  # named people first
            if a.name and b.name and a.name.casefold() != b.name.casefold():
                return a.name.casefold() < b.name.casefold()
        elif self.order == "recent":
            ta, tb = self.people.latest.get(a.id, -1), self.people.latest.get(b.id, -1)
            if ta != tb:
                return ta > tb
        return left.row() < right.row()  # then the model's order: largest first

    def set_mode(self, mode: str) -> None:
        self.beginFilterChange()
        self.mode = mode if mode in self.MODES else "all"
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def set_text(self, text: str) -> None:
        self.beginFilterChange()
        self.text = text.strip().casefold()
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def filterAcceptsRow(self, row: int, parent: _Index) -> bool:  # noqa: N802
        # Called for every row on each change: read the row directly rather
        # than through data(), which costs a round trip through Qt per role.
        person = self.people.row_at(row)
        named = bool(person.name)
        if self.mode == "hidden":
            keep = bool(person.hidden)
        elif person.hidden:
            keep = False
        else:
            keep = {"all": True, "named": named, "unnamed": not named}[self.mode]
        if keep and self.text:
            keep = named and self.text in (person.name or "").casefold()
        return keep


class FacesModel(_ImageListModel):
    """The faces of one person, or (``person_id`` None) the faces of nobody yet."""

    def __init__(self, session: Session, parent: QObject | None = None) -> None:
        super().__init__(session, parent)
        self.person_id: int | None = None
        self._faces: list[Face] = []
        self._photos: dict[int, Photo] = {}

    def show_person(self, person_id: int | None) -> None:
        self.person_id = person_id
        self.refresh()

    def refresh(self) -> None:
        person_id = self.person_id
        self._reader.read(lambda cat: (person_id, *_read_faces(cat, person_id)))

    def _apply(
        self,
        data: tuple[int | None, list[Face], dict[int, Photo], dict[str, list[int]]],
    ) -> None:
        person_id, faces, photos, rows_by_key = data
        if person_id != self.person_id:
            return  # another person was opened since; their read comes next
        self.beginResetModel()
        self._faces, self._photos, self._rows_by_key = faces, photos, rows_by_key
        self.endResetModel()
        self.refreshed.emit()

    def face_ids(self, indexes: Sequence[QModelIndex]) -> list[int]:
        return sorted({int(i.data(Role.ID)) for i in indexes if i.isValid()})

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self._faces)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self._faces):
            return None
        face = self._faces[index.row()]
        photo = self._photos[face.photo_id]
        if role == Qt.ItemDataRole.DecorationRole:
            return self.images.crop_of(face, photo, CROP_SIZE)
        if role == Qt.ItemDataRole.ToolTipRole:
            how = "confirmed by you" if face.confirmed else "suggested"
            return f"{photo.display_path}\n{how}"
        if role == Role.ID:
            return face.id
        if role == Role.NAMED:
            return face.confirmed
        return None


class PhotosModel(_ImageListModel):
    """The photos one person appears in, in the order they were taken."""

    def __init__(self, session: Session, parent: QObject | None = None) -> None:
        super().__init__(session, parent)
        self.person_id: int | None = None
        self._photos: list[Photo] = []

    def show_person(self, person_id: int | None) -> None:
        self.person_id = person_id
        self.refresh()

    def refresh(self) -> None:
        person_id = self.person_id
        self._reader.read(lambda cat: (person_id, *_read_photos(cat, person_id)))

    def _apply(self, data: tuple[int | None, list[Photo], dict[str, list[int]]]) -> None:
        person_id, photos, rows_by_key = data
        if person_id != self.person_id:
            return
        self.beginResetModel()
        self._photos, self._rows_by_key = photos, rows_by_key
        self.endResetModel()
        self.refreshed.emit()

    def photos(self) -> list[Photo]:
        return list(self._photos)

    def years(self) -> tuple[int, int] | None:
        """The first and last year these photos were taken, by their own
        metadata (a file's time may be when it was copied); None if none says."""
        years = [taken_year(p) for p in self._photos if p.taken is not None]
        return (min(years), max(years)) if years else None

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self._photos)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self._photos):
            return None
        photo = self._photos[index.row()]
        if role == Qt.ItemDataRole.DecorationRole:
            pixmap = self.images.photo_thumb(photo, THUMB_SIZE)
            if pixmap is not None and photo.kind is MediaKind.VIDEO:
                return with_play_icon(pixmap)  # a video, as the album shows it
            return pixmap
        if role == Qt.ItemDataRole.ToolTipRole:
            if photo.kind is MediaKind.VIDEO:
                return f"{photo.display_path}\nA video; double-click to open it"
            return f"{photo.display_path}\nDouble-click to view"
        if role == Role.ID:
            return photo.id
        return None


class TogetherModel(PhotosModel):
    """The photos where every one of several people appears, in the order they were taken."""

    def __init__(self, session: Session, parent: QObject | None = None) -> None:
        super().__init__(session, parent)
        self.person_ids: tuple[int, ...] = ()

    def show_people(self, person_ids: Sequence[int]) -> None:
        self.person_ids = tuple(person_ids)
        self.refresh()

    def refresh(self) -> None:
        person_ids = self.person_ids
        self._reader.read(lambda cat: (person_ids, *_read_together(cat, person_ids)))

    def _apply(self, data: tuple[Any, list[Photo], dict[str, list[int]]]) -> None:
        person_ids, photos, rows_by_key = data
        if person_ids != self.person_ids:
            return  # other people were chosen since; their read comes next
        self.beginResetModel()
        self._photos, self._rows_by_key = photos, rows_by_key
        self.endResetModel()
        self.refreshed.emit()


class QuestionsModel(_ImageListModel):
    """Review's questions side by side, each shown by its cover face and
    checked at first: which of them "Confirm All Remaining" is to confirm.

    The questions are the engine's (``people.suggest``), as the review page
    read them; only their cover faces and photos are read here, off the GUI
    thread, and a tile shows a placeholder until then. The checks are the
    user's choice in a dialog, not facts: nothing is written here.
    """

    def __init__(
        self, session: Session, questions: Sequence[people.Suggestion],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(session, parent)
        self._questions = list(questions)
        self._checked = [True] * len(self._questions)
        self._covers: dict[int, tuple[Face, Photo]] = {}  # face id -> its face and photo
        covers = [q.cover_face_id for q in self._questions]
        self._reader.read(lambda cat: _read_covers(cat, covers))

    def question(self, row: int) -> people.Suggestion:
        return self._questions[row]

    def chosen(self) -> list[int]:
        """The rows checked, in order."""
        return [row for row, on in enumerate(self._checked) if on]

    def _apply(self, data: tuple[dict[int, tuple[Face, Photo]], dict[str, list[int]]]) -> None:
        self._covers, self._rows_by_key = data
        if self._questions:
            self.dataChanged.emit(self.index(0), self.index(len(self._questions) - 1),
                                  [Qt.ItemDataRole.DecorationRole])
        self.refreshed.emit()

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self._questions)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self._questions):
            return None
        question = self._questions[index.row()]
        cover = self._covers.get(question.cover_face_id)
        others = len(question.face_ids) - 1
        if role == Qt.ItemDataRole.DecorationRole:
            return self.images.crop_of(*cover, CROP_SIZE) if cover is not None else None
        if role == Qt.ItemDataRole.DisplayRole:
            return f"+{others} more" if others else ""
        if role == Qt.ItemDataRole.ToolTipRole:
            where = cover[1].display_path if cover is not None else ""
            group = (f"\nA group of {len(question.face_ids)} faces that look alike, "
                     "confirmed together" if others else "")
            return where + group
        if role == Qt.ItemDataRole.CheckStateRole:
            return Qt.CheckState.Checked if self._checked[index.row()] else Qt.CheckState.Unchecked
        return None

    def setData(self, index: _Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:  # noqa: N802
        if role != Qt.ItemDataRole.CheckStateRole or not index.isValid():
            return False
        self._checked[index.row()] = Qt.CheckState(value) == Qt.CheckState.Checked
        self.dataChanged.emit(index, index, [role])
        return True

    def flags(self, index: _Index) -> Qt.ItemFlag:
        return (Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
                | Qt.ItemFlag.ItemIsUserCheckable)


@dataclass(frozen=True)
class SimilarFace:
    """A face found like the one searched, and who holds it now."""

    face: Face
    photo: Photo
    distance: float  # context distance to the face searched, nearest first
    holder: int | None  # the person holding the face now (merges followed); None: no one
    holder_name: str | None


class SimilarFacesModel(_ImageListModel):
    """"More Like This Face": the faces most likely the same person as one face.

    ``search`` asks the engine (``engine.people.search``) on the runner's
    query lane and shows its matches nearest first, each with who holds it
    now; faces the person being viewed holds already are not listed. When the
    session says something changed, only who holds each match is read again
    (a face added to the person leaves the list; Undo brings it back), so the
    order stays the one the search gave. A holder is named as the people
    grid's ``PeopleModel`` knows them (``person_label``: an unnamed person
    with their photos), "No one" for a face in no person. A search the engine
    refuses leaves no rows and its message in ``error``.
    """

    LIMIT = 30  # faces listed at most

    def __init__(
        self, session: Session, people_model: PeopleModel, parent: QObject | None = None
    ) -> None:
        super().__init__(session, parent)
        self.people_model = people_model
        self.face_id: int | None = None
        self.person_id: int | None = None  # whose faces are not listed
        self.searched: tuple[Face, Photo] | None = None
        self.error: str | None = None
        self._target: int | None = None  # ``person_id`` with merges followed
        self._found: list[SimilarFace] = []  # every match, nearest first
        self._own = 0  # the person's other faces, never searched for
        self._rows: list[SimilarFace] = []
        self._stale = False  # something changed while the search ran
        self._holders = CatalogReader(session, self._holders_read)
        session.changed.connect(self.refresh)
        people_model.refreshed.connect(self._people_read)  # names and photo counts

    @property
    def found(self) -> int:
        """How many faces the search found (the person's own included)."""
        return len(self._found) + self._own

    def search(self, face_id: int, person_id: int | None) -> None:
        """Search for faces like ``face_id``, leaving out those ``person_id`` holds."""
        self.face_id, self.person_id = face_id, person_id
        self.searched, self.error, self._stale = None, None, False
        self.beginResetModel()
        self._found, self._rows, self._rows_by_key, self._own = [], [], {}, 0
        self.endResetModel()
        self.refreshed.emit()  # say that it is searching
        limit = self.LIMIT
        self._reader.read(lambda cat: _read_similar(cat, face_id, person_id, limit))

    def refresh(self) -> None:
        """Read again who holds each face found."""
        if self.loading:
            self._stale = True
            return
        if self._found:
            face_id, person_id = self.face_id, self.person_id
            ids = [s.face.id for s in self._found]
            self._holders.read(lambda cat: (face_id, *_read_holders(cat, person_id, ids)))

    def taken(self, face_ids: Iterable[int]) -> None:
        """These faces are the person's now: they leave the list at once (the
        re-read that follows the change says so too)."""
        ids = set(face_ids)
        self._found = [replace(s, holder=self._target) if s.face.id in ids else s
                       for s in self._found]
        self._show()

    def face_ids(self, indexes: Sequence[QModelIndex]) -> list[int]:
        return sorted({int(i.data(Role.ID)) for i in indexes if i.isValid()})

    def row(self, row: int) -> SimilarFace:
        return self._rows[row]

    def _apply(self, data: "_Similar") -> None:
        if data.face_id != self.face_id:
            return  # another face was searched since; its result comes next
        self.searched, self.error, self._target = data.searched, data.error, data.target
        self._found, self._own = data.found, data.own
        self._show()
        if self._stale:
            self._stale = False
            self.refresh()

    def _holders_read(
        self, data: tuple[int, int | None, dict[int, tuple[int | None, str | None]]]
    ) -> None:
        face_id, target, holders = data
        if face_id != self.face_id or self.loading:
            return
        self._target = target
        # A face since marked not a face or a stranger, or gone, leaves the list.
        self._found = [replace(s, holder=holders[s.face.id][0],
                               holder_name=holders[s.face.id][1])
                       for s in self._found if s.face.id in holders]
        self._show()

    def _people_read(self) -> None:
        if self._rows:
            self.dataChanged.emit(self.index(0), self.index(len(self._rows) - 1),
                                  [Qt.ItemDataRole.DisplayRole, Role.NAMED])

    def _show(self) -> None:
        mine = self._target
        rows = [s for s in self._found if mine is None or s.holder != mine][: self.LIMIT]
        self.beginResetModel()
        self._rows = rows
        self._rows_by_key = _rows_by_key(
            crop_key(s.photo, s.face.box, CROP_SIZE, s.face.frame_seconds) for s in rows)
        self.endResetModel()
        self.refreshed.emit()

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self._rows)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self._rows):
            return None
        found = self._rows[index.row()]
        if role == Qt.ItemDataRole.DecorationRole:
            return self.images.crop_of(found.face, found.photo, CROP_SIZE)
        if role == Qt.ItemDataRole.DisplayRole:
            return self._holder_words(found)
        if role == Qt.ItemDataRole.ToolTipRole:
            # In the tile's words: two unnamed people are told apart by their photos.
            whose = ("in no person yet" if found.holder is None
                     else f"now in {self._holder_words(found)}")
            return f"{found.photo.display_path}\n{whose}"
        if role == Role.ID:
            return found.face.id
        if role == Role.NAMED:
            return bool(found.holder_name)
        return None

    def _holder_words(self, found: SimilarFace) -> str:
        if found.holder is None:
            return "No one"
        summary = self.people_model.summary(found.holder)
        if summary is None:  # new since the people were read: they come next
            return found.holder_name or "Unnamed"
        return person_label(summary)


class _ReadTable(QAbstractTableModel, Generic[Row]):
    """A table of rows read off the GUI thread by ``read(catalog)``, again on
    every change of the session; subclasses say how a row is shown."""

    HEADERS: tuple[str, ...] = ()

    refreshed = Signal()  # the rows now show the catalog as it was just read

    def __init__(self, session: Session, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self._rows: list[Row] = []
        self._reader = CatalogReader(session, self._apply)
        session.changed.connect(self.refresh)
        self.refresh()

    @staticmethod
    def read(cat: Catalog) -> list[Row]:
        raise NotImplementedError

    @property
    def loading(self) -> bool:
        return self._reader.loading

    def refresh(self) -> None:
        self._reader.read(self.read)

    def _apply(self, rows: list[Row]) -> None:
        self.beginResetModel()
        self._rows = rows
        self.endResetModel()
        self.refreshed.emit()

    def row_at(self, index: _Index) -> Row | None:
        if not index.isValid() or index.row() >= len(self._rows):
            return None
        return self._rows[index.row()]

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self.HEADERS)

    def headerData(  # noqa: N802
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.HEADERS[section]
        return None


class FoldersModel(_ReadTable[Folder]):
    """The scanned folders: path, photos, and whether each is still there."""

    HEADERS = ("Folder", "Photos", "State")

    @staticmethod
    def read(cat: Catalog) -> list[Folder]:
        return folders(cat)

    def folder(self, row: int) -> Folder:
        return self._rows[row]

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        folder = self.row_at(index)
        if folder is None:
            return None
        if role == Role.ID:
            return folder.id
        if role == Qt.ItemDataRole.ToolTipRole:
            return folder_details(folder)
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        if index.column() == 0:
            return folder.display_path
        if index.column() == 1:
            return str(folder.photos)
        return folder_state_text(folder)


def folder_state_text(folder: Folder) -> str:
    """A folder's state in a few words."""
    words = {
        FolderState.OK: "Scanned",
        FolderState.EMPTY: "Empty: no photos found",
        FolderState.MISSING: "Missing: moved, renamed or on a disk not connected",
        FolderState.UNREADABLE: "Cannot be opened (no permission)",
    }[folder.state]
    if folder.state is FolderState.OK and folder.unreadable_subfolders:
        words += f"; {count_text(folder.unreadable_subfolders, 'subfolder')} could not be read"
    return words


def folder_details(folder: Folder) -> str:
    """What a folder holds, for its tooltip and the question before removing it."""
    parts = [count_text(folder.photos, "photo")]
    if folder.missing:
        parts.append(f"{folder.missing} no longer on disk")
    if folder.problems:
        parts.append(f"{count_text(folder.problems, 'file')} that could not be read")
    parts.append(count_text(folder.faces, "face"))
    return f"{folder.display_path}\n{', '.join(parts)}"


class ScannedFolders(QObject):
    """The folders scanned into the catalog: whether there are any, for the window.

    Read off the GUI thread at start and whenever the session says something
    ``changed`` (a scan adds its folder, File > Folders forgets one);
    ``refreshed`` says the list is new. Until the first read has come,
    ``known`` is False and ``paths`` empty. ``read`` is the query itself,
    for a caller that wants the list as the catalog holds it at that moment
    (Scan Again, since another program may have scanned meanwhile).
    """

    refreshed = Signal()

    def __init__(self, session: Session, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.paths: list[Path] = []
        self.known = False
        self._reader = CatalogReader(session, self._apply)
        session.changed.connect(self.refresh)
        self.refresh()

    @staticmethod
    def read(cat: Catalog) -> list[Path]:
        return [Path(path.decode(errors="surrogateescape")) for _, path in cat.roots()]

    def refresh(self) -> None:
        self._reader.read(self.read)

    def _apply(self, paths: list[Path]) -> None:
        self.paths, self.known = paths, True
        self.refreshed.emit()


# -- reads, run off the GUI thread -------------------------------------------------------


# Each read also works out which rows show which cached image, so that the
# GUI thread only swaps the results in.


@dataclass(frozen=True)
class _People:
    rows: list[people.PersonRow]
    ids: list[int]
    row_of: dict[int, int]
    unassigned: int
    latest: dict[int, float] | None  # when each person's newest photo was taken, when asked for


def _read_people(cat: Catalog, dates: bool = False) -> _People:
    rows = people.people_rows(cat, include_hidden=True)  # largest first
    ids = [r.id for r in rows]
    return _People(rows, ids, {pid: row for row, pid in enumerate(ids)},
                   people.unassigned_count(cat), _newest_photos(cat) if dates else None)


def taken_at(photo: Photo) -> float:
    """When a photo was taken (seconds since 1970): by its metadata, else its file's time."""
    return photo.taken if photo.taken is not None else photo.mtime_ns / 1e9


def taken_year(photo: Photo) -> int:
    """The year on the camera's clock (``Photo.taken`` is that clock read as UTC)."""
    return datetime.fromtimestamp(taken_at(photo), tz=UTC).year


def _newest_photos(cat: Catalog) -> dict[int, float]:
    """When each person's newest photo was taken (``taken_at``)."""
    when = {p.id: taken_at(p) for p in cat.photos(status=PhotoStatus.OK)}
    latest: dict[int, float] = {}
    for face in cat.faces():
        if face.person_id is None or face.state is not FaceState.FACE:
            continue
        t = when.get(face.photo_id)
        if t is not None and t > latest.get(face.person_id, -1):
            latest[face.person_id] = t
    return latest


def _read_faces(
    cat: Catalog, person_id: int | None
) -> tuple[list[Face], dict[int, Photo], dict[str, list[int]]]:
    if person_id is None:
        faces = people.unassigned_faces(cat)
    else:
        try:
            faces = people.person_faces(cat, person_id)
        except NotFoundError:  # merged away or gone: the page goes back
            faces = []
    photos = _photos_by_id(cat, {f.photo_id for f in faces})
    keys = (crop_key(photos[f.photo_id], f.box, CROP_SIZE, f.frame_seconds) for f in faces)
    return faces, photos, _rows_by_key(keys)


def _read_photos(
    cat: Catalog, person_id: int | None
) -> tuple[list[Photo], dict[str, list[int]]]:
    if person_id is None:
        faces = people.unassigned_faces(cat)
    else:
        faces = [f for f in cat.faces(person_id=person_id) if f.state is FaceState.FACE]
    by_id = _photos_by_id(cat, {f.photo_id for f in faces})
    photos = sorted(by_id.values(), key=lambda p: (taken_at(p), p.id))
    return photos, _rows_by_key(thumb_key(p, THUMB_SIZE) for p in photos)


def _read_together(
    cat: Catalog, person_ids: Sequence[int]
) -> tuple[list[Photo], dict[str, list[int]]]:
    try:
        ids = photos_with_all(cat, person_ids)
    except NotFoundError:  # someone was removed meanwhile: a re-read comes
        ids = []
    by_id = _photos_by_id(cat, set(ids))
    photos = sorted((by_id[i] for i in ids), key=lambda p: (taken_at(p), p.id))
    return photos, _rows_by_key(thumb_key(p, THUMB_SIZE) for p in photos)


def _read_covers(
    cat: Catalog, face_ids: list[int]
) -> tuple[dict[int, tuple[Face, Photo]], dict[str, list[int]]]:
    """Each of these faces (those still there) with its photo, and the rows
    (one per face asked, in order) showing each crop."""
    faces = {f.id: f for f in cat.faces(ids=face_ids)}
    photos = _photos_by_id(cat, {f.photo_id for f in faces.values()})
    covers = {i: (f, photos[f.photo_id]) for i, f in faces.items()}
    keys = (crop_key(covers[i][1], covers[i][0].box, CROP_SIZE, covers[i][0].frame_seconds)
            if i in covers else None for i in face_ids)
    return covers, _rows_by_key(keys)


@dataclass(frozen=True)
class _Similar:
    face_id: int
    target: int | None  # the person whose faces are not listed, merges followed
    own: int  # the target's faces besides the one searched: never listed
    searched: tuple[Face, Photo] | None
    found: list[SimilarFace]
    error: str | None  # the engine's words when the face cannot be searched


def _read_similar(cat: Catalog, face_id: int, person_id: int | None, limit: int) -> _Similar:
    """The faces most like ``face_id``, the person's own left out."""
    # scipy comes with the first search, not with the window.
    from engine.people import search

    try:
        target = resolve_merged(cat, person_id) if person_id is not None else None
        matches = search.similar_faces(cat, face_id, limit, exclude_person=target)
        own = len(cat.faces(person_id=target)) if target is not None else 0
        searched = cat.face(face_id)
        faces = {f.id: f for f in cat.faces(ids=[m.face_id for m in matches])}
        photos = _photos_by_id(cat, {f.photo_id for f in faces.values()} | {searched.photo_id})
        holders = _holders(cat, faces.values())
    except FaceAlbumError as exc:
        return _Similar(face_id, None, 0, None, [], str(exc))
    except DatabaseError as exc:
        return _Similar(face_id, None, 0, None, [], (
            f"the catalog could not be read ({exc}); close other programs using it and "
            "try again"))
    found = [
        SimilarFace(faces[m.face_id], photos[faces[m.face_id].photo_id], m.distance,
                    *holders[m.face_id])
        for m in matches if m.face_id in holders
    ]
    own -= int(searched.person_id == target)
    return _Similar(face_id, target, own, (searched, photos[searched.photo_id]), found, None)


def _read_holders(
    cat: Catalog, person_id: int | None, face_ids: list[int]
) -> tuple[int | None, dict[int, tuple[int | None, str | None]]]:
    """(the person with merges followed, who holds each of these faces now)."""
    target = resolve_merged(cat, person_id) if person_id is not None else None
    return target, _holders(cat, cat.faces(ids=face_ids))


def _holders(
    cat: Catalog, faces: Iterable[Face]
) -> dict[int, tuple[int | None, str | None]]:
    """(person, name) holding each face that is still a face (merges followed)."""
    names: dict[int, tuple[int, str | None]] = {}
    out: dict[int, tuple[int | None, str | None]] = {}
    for face in faces:
        if face.state is not FaceState.FACE:
            continue
        if face.person_id is None:
            out[face.id] = (None, None)
            continue
        if face.person_id not in names:
            holder = resolve_merged(cat, face.person_id)
            names[face.person_id] = (holder, cat.person(holder).name)
        out[face.id] = names[face.person_id]
    return out


def _read_problems(cat: Catalog) -> list[Photo]:
    return cat.photos(status=PhotoStatus.PROBLEM)


def _read_history(cat: Catalog) -> tuple[str | None, str | None]:
    return _summary(cat, people.next_undo(cat)), _summary(cat, people.next_redo(cat))


def _summary(cat: Catalog, operation: Operation | None) -> str | None:
    return describe_operation(cat, operation) if operation is not None else None


def _rows_by_key(keys: Iterable[str | None]) -> dict[str, list[int]]:
    rows: dict[str, list[int]] = {}
    for row, key in enumerate(keys):
        if key is not None:
            rows.setdefault(key, []).append(row)
    return rows


def _photos_by_id(cat: Catalog, ids: set[int]) -> dict[int, Photo]:
    if len(ids) > 500:  # one query for all beats thousands of small ones
        return {p.id: p for p in cat.photos() if p.id in ids}
    return {i: cat.photo(i) for i in ids}


def count_text(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def person_label(summary: PersonSummary) -> str:
    """A person in one line: their name, or "Unnamed · 15 photos", the photos
    the people grid counts for them, so unnamed people are told apart."""
    return summary.name or f"Unnamed \u00b7 {count_text(summary.photo_count, 'photo')}"


def face_labels(
    catalog: "Catalog", photo_id: int
) -> list[tuple[tuple[float, float, float, float], str, bool]]:
    """(box, name to show, named?) for each face in a photo, for the photo viewer."""
    labels = []
    names: dict[int, str | None] = {}
    for face in catalog.faces(photo_id=photo_id):
        if face.state is not FaceState.FACE:
            continue
        name = None
        if face.person_id is not None:
            if face.person_id not in names:
                names[face.person_id] = catalog.person(
                    resolve_merged(catalog, face.person_id)).name
            name = names[face.person_id]
        labels.append((face.box, name or "Unnamed" if face.person_id else "?", bool(name)))
    return labels


class CheckablePeople(PeopleFilter):
    """People with a check box each (the export dialog's "which people")."""

    def __init__(self, source: PeopleModel, parent: QObject | None = None) -> None:
        super().__init__(source, parent)
        self.checked: set[int] = {
            p.id for p in map(source.row_at, range(source.rowCount())) if p.name and not p.hidden
        }

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.CheckStateRole:
            checked = index.data(Role.ID) in self.checked
            return Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked
        if role == Qt.ItemDataRole.DisplayRole:
            name = super().data(index, role)
            return f"{name}  ·  {super().data(index, Role.SUBTITLE)}"
        return super().data(index, role)

    def setData(self, index: _Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:  # noqa: N802
        if role != Qt.ItemDataRole.CheckStateRole:
            return False
        person_id = int(index.data(Role.ID))
        if Qt.CheckState(value) == Qt.CheckState.Checked:
            self.checked.add(person_id)
        else:
            self.checked.discard(person_id)
        self.dataChanged.emit(index, index, [role])
        return True

    def flags(self, index: _Index) -> Qt.ItemFlag:
        return (Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
                | Qt.ItemFlag.ItemIsUserCheckable)

    def set_all(self, checked: bool) -> None:
        for row in range(self.rowCount()):
            self.setData(self.index(row, 0),
                         Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked,
                         Qt.ItemDataRole.CheckStateRole)

    def chosen(self) -> list[int]:
        """Checked people in the order the list shows them."""
        shown = [int(self.index(r, 0).data(Role.ID)) for r in range(self.rowCount())]
        return [pid for pid in shown if pid in self.checked]


class ProblemsModel(_ReadTable[Photo]):
    """Files a scan skipped, with the reason each one could not be read."""

    HEADERS = ("File", "Why it was skipped")

    @staticmethod
    def read(cat: Catalog) -> list[Photo]:
        return _read_problems(cat)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        photo = self.row_at(index)
        if photo is None or role not in (Qt.ItemDataRole.DisplayRole,
                                         Qt.ItemDataRole.ToolTipRole):
            return None
        if index.column() == 0:  # the folder too: the same name is often in many
            return os.path.join(photo.root, photo.relpath).decode("utf-8", errors="replace")
        return photo.problem or "unknown"


class EditHistory(QObject):
    """What Undo and Redo would act on now, for the Edit menu and the toolbar.

    Re-read off the GUI thread whenever the session says something
    ``changed`` (and whenever ``refresh`` is called, as when the menu opens,
    since another program may have changed the catalog); ``refreshed`` says
    the texts are new. It only reads the operation log, never undoes anything.
    """

    refreshed = Signal()

    def __init__(self, session: Session, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.undo_text: str | None = None  # what Undo would take back; None: nothing
        self.redo_text: str | None = None  # what Redo would do again; None: nothing
        self._reader = CatalogReader(session, self._apply)
        session.changed.connect(self.refresh)
        self.refresh()

    @property
    def loading(self) -> bool:
        return self._reader.loading

    def refresh(self) -> None:
        self._reader.read(_read_history)

    def _apply(self, texts: tuple[str | None, str | None]) -> None:
        self.undo_text, self.redo_text = texts
        self.refreshed.emit()

