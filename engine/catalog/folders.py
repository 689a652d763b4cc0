"""The scanned folders of the library: listed with their photos, and forgotten on request.

A folder the user scanned stays in the catalog until the user removes it,
even when it is empty, moved, or on a disk that is gone: a photo is often
missing only because its disk is not mounted, and its faces may carry the
user's decisions. ``folders`` lists each folder with its photo counts and
state; ``remove_root`` forgets one folder and every photo, face and
embedding under it, refusing (like ``Catalog.purge_missing``) when a face
there carries a user fact, unless forced.

Nothing here touches a file on disk: removing a folder forgets it in the
catalog only. Nothing here writes a fact; forgetting a folder is not an
undoable operation, which is why it asks before losing any fact.
"""

import os
from dataclasses import dataclass
from enum import StrEnum

from engine.catalog.records import AssignedBy, FaceState, PhotoStatus
from engine.catalog.scans import folder_problems_of, forget_folder_problems
from engine.catalog.store import Catalog
from engine.errors import FactsAtRiskError, NotFoundError


class FolderState(StrEnum):
    """How a scanned folder is on disk now."""

    OK = "ok"
    EMPTY = "empty"  # there, with no photo known in it
    MISSING = "missing"  # not there: moved, renamed, or on a disk not connected
    UNREADABLE = "unreadable"  # there, but this user may not list it


@dataclass(frozen=True)
class Folder:
    """One scanned folder, as the folders list shows it."""

    id: int
    path: bytes  # os.fsencode of the absolute path, as stored
    photos: int  # photos read fine
    missing: int  # photos scanned once, not on disk now
    problems: int  # files that could not be read
    faces: int  # faces in its photos
    facts: int  # faces there that carry a user's decision (a remove asks first)
    unreadable_subfolders: int  # folders below it the last scan could not list
    state: FolderState

    @property
    def display_path(self) -> str:
        """The folder's path, printable even when the name is not UTF-8."""
        return self.path.decode("utf-8", errors="replace")


def folders(cat: Catalog) -> list[Folder]:
    """Every scanned folder, in path order, with its counts and its state on disk now."""
    counts = {
        int(r[0]): r[1:]
        for r in cat._conn.execute(
            "SELECT root_id, SUM(status = ?), SUM(status = ?), SUM(status = ?)"
            " FROM photos GROUP BY root_id",
            (str(PhotoStatus.OK), str(PhotoStatus.MISSING), str(PhotoStatus.PROBLEM)),
        )
    }
    faces = {
        int(r[0]): (int(r[1]), int(r[2]))
        for r in cat._conn.execute(
            f"SELECT p.root_id, COUNT(*), TOTAL({_CARRIES_FACT}) FROM faces f"
            " JOIN photos p ON p.id = f.photo_id GROUP BY p.root_id",
            _FACT_ARGS,
        )
    }
    out = []
    for root_id, path in sorted(cat.roots(), key=lambda r: r[1]):
        ok, missing, problems = (int(v or 0) for v in counts.get(root_id, (0, 0, 0)))
        n_faces, facts = faces.get(root_id, (0, 0))
        bad = folder_problems_of(cat, root_id)
        out.append(Folder(
            id=root_id, path=path, photos=ok, missing=missing, problems=problems,
            faces=n_faces, facts=facts,
            unreadable_subfolders=sum(1 for rel, _ in bad if rel not in (b".", b"")),
            state=_state(path, ok + missing + problems),
        ))
    return out


def find_root(cat: Catalog, folder: str | os.PathLike[str]) -> int:
    """The id of the scanned folder at ``folder`` (as given, or with links resolved)."""
    wanted = {os.fsencode(os.path.abspath(folder)), os.fsencode(os.path.realpath(folder))}
    for root_id, path in cat.roots():
        if path in wanted:
            return root_id
    raise NotFoundError(
        f"expected one of the scanned folders, got {os.fsdecode(os.path.abspath(folder))}, "
        "which was never scanned; `facealbum folders` lists the scanned folders"
    )


def remove_root(cat: Catalog, root_id: int, *, force: bool = False) -> int:
    """Forget a scanned folder with its photos, faces and embeddings; returns how
    many photos were forgotten.

    Refuses, changing nothing, when a face there carries a user fact
    (confirmed, marked, rejected, or in a named person), unless ``force``.
    The files on disk are not touched; scanning the folder again brings its
    photos back, without the facts forgotten with them.
    """
    with cat.transaction():
        row = cat._conn.execute("SELECT path FROM roots WHERE id = ?", (root_id,)).fetchone()
        if row is None:
            raise NotFoundError(
                f"no scanned folder has id {root_id}; `facealbum folders` lists them"
            )
        shown = bytes(row[0]).decode("utf-8", errors="replace")
        if not force:
            faces, named, confirmed, marked, rejected = (int(v) for v in cat._conn.execute(
                f"WITH risk AS (SELECT {_FACT_COLUMNS} FROM faces f"
                "  JOIN photos p ON p.id = f.photo_id WHERE p.root_id = ?)"
                " SELECT COUNT(*), TOTAL(named), TOTAL(confirmed), TOTAL(marked),"
                " TOTAL(rejected) FROM risk WHERE confirmed OR marked OR rejected OR named",
                (*_FACT_ARGS, root_id),
            ).fetchone())
            if faces:
                kinds = ", ".join(f"{n} {what}" for n, what in (
                    (named, "in a named person"), (confirmed, "confirmed"),
                    (marked, "marked"), (rejected, "rejected from someone"),
                ) if n)
                raise FactsAtRiskError(
                    f"removing {shown} would forget {faces} faces that carry your decisions "
                    f"({kinds}); nothing was removed. If the folder is on a disk that is not "
                    "connected, connect it and scan again; to forget them anyway, remove it "
                    "with --force (in the app: answer Forget Anyway)"
                )
        removed = cat._conn.execute("DELETE FROM photos WHERE root_id = ?", (root_id,)).rowcount
        forget_folder_problems(cat, root_id)
        cat._conn.execute("DELETE FROM roots WHERE id = ?", (root_id,))
    return int(removed)


# -- private -----------------------------------------------------------------------

# Which faces carry a user's decision: the same four kinds ``purge_missing`` guards.
_FACT_COLUMNS = (
    "COALESCE(f.assigned_by = ?, 0) AS confirmed, f.state != ? AS marked,"
    " EXISTS (SELECT 1 FROM rejections r WHERE r.face_id = f.id) AS rejected,"
    " EXISTS (SELECT 1 FROM persons n WHERE n.id = f.person_id AND n.name IS NOT NULL) AS named"
)
_CARRIES_FACT = (
    "COALESCE(f.assigned_by = ?, 0) OR f.state != ?"
    " OR EXISTS (SELECT 1 FROM rejections r WHERE r.face_id = f.id)"
    " OR EXISTS (SELECT 1 FROM persons n WHERE n.id = f.person_id AND n.name IS NOT NULL)"
)
_FACT_ARGS = (str(AssignedBy.USER), str(FaceState.FACE))


def _state(path: bytes, known: int) -> FolderState:
    if not os.path.isdir(path):
        return FolderState.MISSING
    if not os.access(path, os.R_OK | os.X_OK):
        return FolderState.UNREADABLE
    return FolderState.OK if known else FolderState.EMPTY
