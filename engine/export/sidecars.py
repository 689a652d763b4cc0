"""XMP sidecar files: where they live, what the catalog says goes in them,
and how they are written.

A sidecar is named after its photo in one of two conventions other tools
use: ``photo.jpg.xmp`` (digiKam, darktable; digiKam also reads ``photo.xmp``)
or ``photo.xmp`` (Lightroom, Capture One, and most tools that replace the
extension). exiftool reads either when named.

Only names the user confirmed are written unless the caller asks for the
names the grouping guessed too (``unconfirmed``): a sidecar is read by other
tools as the truth. Regions are written in the frame the MWG guidelines
define, the image as stored before its EXIF orientation, with the stored
image's ``AppliedToDimensions``; the catalog's upright boxes are turned by
the photo's orientation, read from the photo when the sidecar is written.
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
from engine.export.xmp import (
    Region,
    merge_face_metadata,
    photo_metadata,
    read_face_metadata,
    read_xmp_file,
    stored_size,
    to_stored,
)
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
    so stale regions of those faces are replaced rather than kept. Both are
    regions of the upright photo, ``size`` (w, h) pixels large; the photo's
    EXIF ``orientation`` turns them to the stored image when written.
    """

    regions: list[Region]
    known: list[Region]
    size: tuple[int, int]
    orientation: int = 1

    @property
    def stored_regions(self) -> list[Region]:
        return [to_stored(r, self.orientation) for r in self.regions]

    @property
    def stored_known(self) -> list[Region]:
        return [to_stored(r, self.orientation) for r in self.known]

    @property
    def stored_size(self) -> tuple[int, int]:
        return stored_size(self.size, self.orientation)


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


def photo_faces(
    catalog: Catalog,
    photo: Photo,
    unconfirmed: bool = False,
    *,
    orientation: int | None = None,
) -> PhotoFaces:
    """The regions the catalog holds for ``photo`` (needs its width and height).

    Names go only on faces the user confirmed, unless ``unconfirmed``.
    ``orientation`` is the photo's EXIF orientation, read from the photo
    when not given (``ExportError`` when it cannot be read: the frame of the
    regions would be a guess).
    """
    if not photo.width or not photo.height:
        raise ExportError(
            f"expected the size of {photo.display_path} in the catalog, but it has none "
            f"(status {photo.status}); rescan the folder so the photo is read again"
        )
    if orientation is None:
        found = photo_metadata(photo.path, packets=False)
        if not found.readable:
            raise ExportError(
                f"expected to read the orientation of {photo.display_path} to place its face "
                "regions, but the photo cannot be opened; check that it is still there "
                "(rescan the folder), then export again"
            )
        orientation = found.orientation
    size = (int(photo.width), int(photo.height))
    names = _shown_names(catalog)
    regions: list[Region] = []
    known: list[Region] = []
    for face in catalog.faces(photo_id=photo.id):
        region_name = names.get(face.person_id) if face.person_id is not None else None
        if not unconfirmed and face.assigned_by is not AssignedBy.USER:
            region_name = None
        region = Region.from_box(region_name, face.box, size)
        known.append(region)
        if face.state is FaceState.FACE and (
            region_name or face.source in (FaceSource.XMP, FaceSource.MANUAL)
        ):
            regions.append(region)
    return PhotoFaces(regions=regions, known=known, size=size, orientation=orientation)


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
    known = faces.stored_known
    if existing is not None and _upright_frame(existing, faces):
        known += faces.known  # regions an older writer put in the upright frame go too
    try:
        data = merge_face_metadata(existing, faces.stored_regions, faces.stored_size, known)
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
    unconfirmed: bool = False,
    dry_run: bool = False,
    cancel: CancelToken | None = None,
    report: SidecarReport | None = None,
) -> Iterator[Progress]:
    """Write a sidecar beside every original photo with named faces.

    ``person_ids`` limits it to photos showing those people (all named people
    otherwise); names go only on faces the user confirmed unless
    ``unconfirmed``. The photos themselves are never written to.
    ``report``, when given, is filled as the work goes. Yields
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
            faces = photo_faces(catalog, photo, unconfirmed)
            if write_sidecar(target, faces, dry_run=dry_run):
                report.written.append(str(target))
            else:
                report.unchanged += 1
        except (XmpError, ExportError) as exc:
            report.problems.append(str(exc))
        yield Progress("sidecars", done, len(photos), {"written": len(report.written)})


def _upright_frame(existing: bytes, faces: PhotoFaces) -> bool:
    """Whether ``existing`` holds regions in the upright frame (as facealbum
    wrote them before it followed the MWG rule): for a photo turned by a
    quarter, its applied-to size has the upright shape, not the stored one."""
    if faces.orientation not in (5, 6, 7, 8) or faces.size[0] == faces.size[1]:
        return False
    try:
        applied = read_face_metadata(existing).applied_to
    except XmpError:
        return False
    return applied is not None and applied[0] * faces.size[1] == applied[1] * faces.size[0]


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
