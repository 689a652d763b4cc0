"""XMP sidecar files: where they live, what the catalog says goes in them,
and how they are written.

A sidecar is named after its photo in one of two conventions other tools
use: ``photo.jpg.xmp`` (digiKam, darktable) or ``photo.xmp`` (Lightroom).
Writing merges into an existing sidecar (other tools' fields survive, see
``xmp.merge_face_metadata``), happens only when the bytes would change, and
is atomic: a temporary file in the same folder renamed over the old one.
An existing sidecar that cannot be parsed, or that is refused unread (not a
regular file, larger or deeper than any real XMP), is never overwritten.
This module never writes into a photo file itself.

Temporary files are named ``.facealbum-<pid>-<random>.tmp`` (``temp_prefix``),
so that a later export can tell one a killed process left behind from one
being written now (``is_stale_temp``).
"""

import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from engine.catalog import AssignedBy, Catalog, FaceSource, FaceState, Photo, PhotoStatus
from engine.catalog.exports import photo_ids_by_person
from engine.catalog.persons import final_persons
from engine.export.errors import ExportError, XmpError
from engine.export.xmp import Region, merge_face_metadata, read_xmp_file
from engine.progress import CancelToken, Progress


class SidecarStyle(StrEnum):
    """How a sidecar is named after its photo."""

    FULL = "photo.jpg.xmp"  # the photo's whole name plus .xmp
    STEM = "photo.xmp"  # the photo's extension replaced by .xmp


@dataclass(frozen=True)
class PhotoFaces:
    """What the catalog says about one photo's faces, ready for XMP.

    ``regions`` are written (faces of named, visible people, and faces that
    came from XMP); ``known`` holds every face the catalog has for the photo,
    so stale regions of those faces are replaced rather than kept.
    """

    regions: list[Region]
    known: list[Region]
    size: tuple[int, int]


@dataclass
class SidecarReport:
    """What writing sidecars did."""

    written: list[str] = field(default_factory=list)  # created or changed
    unchanged: int = 0
    problems: list[str] = field(default_factory=list)  # "path: why", file left alone


# Our temporary files: the writing process's id, then mkstemp's random part.
_TEMP = re.compile(r"\.facealbum-(?:(?P<pid>[0-9]+)-)?[A-Za-z0-9_]+\.(?:tmp|part)")


def sidecar_path(photo_path: str | os.PathLike[str], style: SidecarStyle) -> Path:
    """The sidecar of ``photo_path`` in the ``style`` convention."""
    path = Path(photo_path)
    if style is SidecarStyle.STEM:
        return path.with_suffix(".xmp")
    return path.with_name(path.name + ".xmp")


def sidecar_candidates(photo_path: str | os.PathLike[str]) -> list[Path]:
    """Sidecars that may describe ``photo_path``, most specific first."""
    path = Path(photo_path)
    names = [path.name + ".xmp", path.name + ".XMP", path.stem + ".xmp", path.stem + ".XMP"]
    return [path.with_name(n) for n in dict.fromkeys(names)]


def photo_faces(catalog: Catalog, photo: Photo, confirmed_only: bool = False) -> PhotoFaces:
    """The regions the catalog holds for ``photo`` (needs its width and height)."""
    if not photo.width or not photo.height:
        raise ExportError(
            f"expected the size of {photo.display_path} in the catalog, but it has none "
            f"(status {photo.status}); rescan the folder so the photo is read again"
        )
    size = (int(photo.width), int(photo.height))
    names = _shown_names(catalog)
    regions: list[Region] = []
    known: list[Region] = []
    for face in catalog.faces(photo_id=photo.id):
        region_name = names.get(face.person_id) if face.person_id is not None else None
        if confirmed_only and face.assigned_by is not AssignedBy.USER:
            region_name = None
        region = Region.from_box(region_name, face.box, size)
        known.append(region)
        if face.state is FaceState.FACE and (
            region_name or face.source in (FaceSource.XMP, FaceSource.MANUAL)
        ):
            regions.append(region)
    return PhotoFaces(regions=regions, known=known, size=size)


def write_sidecar(path: str | os.PathLike[str], faces: PhotoFaces, dry_run: bool = False) -> bool:
    """Merge ``faces`` into the sidecar at ``path``; True when the file changed
    (or, with ``dry_run``, would change; nothing is written then).

    Raises ``XmpError`` (and leaves the file alone) when an existing sidecar
    cannot be parsed, ``ExportError`` when it cannot be written.
    """
    target = Path(path)
    try:
        existing: bytes | None = read_xmp_file(target)
    except FileNotFoundError:
        existing = None
    except XmpError as exc:
        raise XmpError(f"{target}: {exc}; it was left as it is") from exc
    except OSError as exc:
        raise ExportError(
            f"cannot read the existing sidecar {target}: {exc}; check its permissions"
        ) from exc
    if existing is None and not faces.regions:
        return False  # nothing to say, and no file to correct
    try:
        data = merge_face_metadata(existing, faces.regions, faces.size, faces.known)
    except XmpError as exc:
        raise XmpError(f"{target}: {exc}") from exc
    if data == existing:
        return False
    if dry_run:
        return True
    atomic_write(target, data)
    return True


def temp_prefix() -> str:
    """The start of this process's temporary file names."""
    return f".facealbum-{os.getpid()}-"


def is_stale_temp(name: str) -> bool:
    """Whether ``name`` is a temporary file of ours whose writer is gone: its
    process id names no running process, or it has none (older names)."""
    match = _TEMP.fullmatch(name)
    if match is None:
        return False
    if match["pid"] is None:
        return True
    pid = int(match["pid"])
    if pid == os.getpid() or os.name == "nt":
        return False  # ours now; or Windows, where os.kill would end the process
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OverflowError, OSError):
        return False  # alive under another user, or cannot tell: leave it
    return False


def atomic_write(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` so a reader sees the old or the new file, never half."""
    mode = path.stat().st_mode & 0o7777 if path.exists() else 0o644
    try:
        fd, tmp = tempfile.mkstemp(prefix=temp_prefix(), suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise ExportError(
            f"cannot write into {path.parent}: {exc}; choose a writable folder"
        ) from exc
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise ExportError(f"cannot write {path}: {exc}; check the disk and permissions") from exc


def write_beside_originals(
    catalog: Catalog,
    style: SidecarStyle,
    person_ids: Iterable[int] | None = None,
    *,
    confirmed_only: bool = False,
    dry_run: bool = False,
    cancel: CancelToken | None = None,
    report: SidecarReport | None = None,
) -> Iterator[Progress]:
    """Write a sidecar beside every original photo with named faces.

    ``person_ids`` limits it to photos showing those people (all named people
    otherwise). ``report``, when given, is filled as the work goes. Yields
    ``Progress("sidecars", done, total)``; stops between photos on ``cancel``.
    """
    report = report if report is not None else SidecarReport()
    photos = _photos_with_named_faces(catalog, person_ids)
    yield Progress("sidecars", 0, len(photos))
    for done, photo in enumerate(photos, start=1):
        if cancel is not None and cancel.cancelled:
            return
        target = sidecar_path(photo.path, style)
        try:
            faces = photo_faces(catalog, photo, confirmed_only)
            if write_sidecar(target, faces, dry_run=dry_run):
                report.written.append(str(target))
            else:
                report.unchanged += 1
        except (XmpError, ExportError) as exc:
            report.problems.append(str(exc))
        yield Progress("sidecars", done, len(photos), {"written": len(report.written)})


def _photos_with_named_faces(catalog: Catalog, person_ids: Iterable[int] | None) -> list[Photo]:
    wanted = None if person_ids is None else {int(p) for p in person_ids}
    names = _shown_names(catalog)
    final = final_persons(catalog)
    photo_ids: set[int] = set()
    for person_id, photos in photo_ids_by_person(catalog).items():
        if person_id in names and (wanted is None or final.get(person_id, person_id) in wanted):
            photo_ids |= photos
    return [p for p in catalog.photos(PhotoStatus.OK) if p.id in photo_ids]


def _shown_names(catalog: Catalog) -> dict[int, str]:
    """Name of every person id whose (merged-into) person is named and not hidden."""
    persons = {p.id: p for p in catalog.persons(include_merged=True)}
    final = final_persons(catalog)
    names: dict[int, str] = {}
    for person_id in persons:
        holder = persons.get(final.get(person_id, person_id))
        if holder is not None and holder.name and not holder.hidden:
            names[person_id] = holder.name.strip()
    return names
