"""Export one folder per person, with the person's photos inside.

``export_albums`` is long work: a generator that yields ``Progress`` after
each photo and stops between photos when its ``CancelToken`` is set. Folder
names come from ``names.safe_name``, so a hostile person name can only ever
name one folder directly inside the destination. An existing file is never
overwritten: a file already holding the same photo counts as exported (so a
rerun adds only what is new) and a different file makes the new one take a
numbered name (``a (2).jpg``). Copies are written to a temporary name and
linked into place, so a stopped export never leaves half a photo under a
real name; the temporary files a killed export left behind (ours by name,
their process gone, see ``sidecars.is_stale_temp``) are removed by the next
export into the same destination, and nothing else there is. Only regular
files are copied: a pipe or a device swapped in for a photo is that photo's
problem. XMP sidecars beside the exported files carry every named face of
the photo (see ``sidecars``). A failure to write one file (a photo, a
sidecar, the manifest) is a problem in the report, and the export goes on,
so that no failure hides another. Originals are only ever read.
"""

import csv
import errno
import hashlib
import io
import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path

from engine.catalog import Catalog, Person, Photo
from engine.catalog.exports import photos_of_person
from engine.catalog.persons import resolve_merged
from engine.errors import NotFoundError
from engine.export.errors import ExportError, XmpError
from engine.export.names import inside, safe_file_name, safe_name, with_suffix_number
from engine.export.sidecars import (
    SidecarStyle,
    atomic_write,
    is_stale_temp,
    photo_faces,
    sidecar_path,
    temp_prefix,
    write_sidecar,
)
from engine.imageio import open_regular
from engine.progress import CancelToken, Progress

MANIFEST_STEM = "facealbum-export"
_MAX_SUFFIX = 10_000


class LinkMode(StrEnum):
    """How a photo gets into its album folder."""

    COPY = "copy"
    HARDLINK = "hardlink"
    SYMLINK = "symlink"


class ManifestFormat(StrEnum):
    CSV = "csv"
    JSON = "json"


class Action(StrEnum):
    ADDED = "added"  # placed in the album by this run
    PRESENT = "present"  # the album already held this photo
    WOULD_ADD = "would add"  # dry run: would be placed
    FAILED = "failed"  # could not be placed; see the report's problems


@dataclass(frozen=True)
class ExportOptions:
    """What to export, where, and how. ``people`` holds ids or exact names;
    empty means every named person who is not hidden."""

    dest: Path
    people: tuple[str, ...] = ()
    mode: LinkMode = LinkMode.COPY
    xmp: bool = False
    sidecar_style: SidecarStyle = SidecarStyle.FULL
    manifest: ManifestFormat | None = None
    dry_run: bool = False
    include_unnamed: bool = False
    confirmed_only: bool = False  # only faces the user confirmed count
    # Sidecars name only faces the user confirmed, unless this is set.
    unconfirmed_names: bool = False


@dataclass(frozen=True)
class Album:
    """One person's planned folder."""

    person_id: int
    label: str
    folder: str  # a safe name, unique within the destination
    photos: list[Photo]


@dataclass(frozen=True)
class ExportItem:
    """One photo in one album: where it came from and where it is."""

    person_id: int
    person: str
    folder: str
    photo_id: int
    source: str
    file: str  # relative to the destination
    action: str
    sidecar: str | None = None  # relative to the destination


@dataclass
class ExportReport:
    """What an export did; filled while it runs."""

    items: list[ExportItem] = field(default_factory=list)
    sidecars_written: int = 0
    sidecars_unchanged: int = 0
    problems: list[str] = field(default_factory=list)
    manifest: str | None = None  # written (or, in a dry run, to be written)
    cancelled: bool = False
    stale_removed: int = 0  # temporary files of a killed export, removed

    counts: dict[str, int] = field(default_factory=dict)

    def add(self, item: ExportItem) -> None:
        self.items.append(item)
        self.counts[item.action] = self.counts.get(item.action, 0) + 1

    def count(self, action: Action) -> int:
        return self.counts.get(action, 0)

    def to_json(self) -> dict[str, object]:
        return {
            "added": self.count(Action.ADDED),
            "present": self.count(Action.PRESENT),
            "would_add": self.count(Action.WOULD_ADD),
            "failed": self.count(Action.FAILED),
            "sidecars_written": self.sidecars_written,
            "sidecars_unchanged": self.sidecars_unchanged,
            "problems": self.problems,
            "manifest": self.manifest,
            "cancelled": self.cancelled,
            "stale_removed": self.stale_removed,
            "items": [asdict(i) for i in self.items],
        }


def plan_albums(catalog: Catalog, options: ExportOptions) -> list[Album]:
    """The albums an export would make, in person-id order; reads only."""
    persons = _select_people(catalog, options.people, options.include_unnamed)
    reserved = {f"{MANIFEST_STEM}.{f}".casefold() for f in ManifestFormat}
    albums: list[Album] = []
    for person in persons:
        photos = photos_of_person(catalog, person.id, confirmed_only=options.confirmed_only)
        if not photos:
            continue
        label = person.name.strip() if person.name else f"Unnamed {person.id}"
        folder = safe_name(label, fallback=f"Person {person.id}")
        if folder.casefold() in reserved:
            folder = f"{folder} ({person.id})"
        reserved.add(folder.casefold())
        albums.append(Album(person.id, label, folder, photos))
    return albums


def export_albums(
    catalog: Catalog,
    options: ExportOptions,
    *,
    cancel: CancelToken | None = None,
    report: ExportReport | None = None,
) -> Iterator[Progress]:
    """Export albums as ``options`` say, yielding ``Progress("export", ...)``.

    Pass an ``ExportReport`` to read what happened afterwards. Raises
    ``ExportError`` before touching anything when the destination or a
    person cannot be used.
    """
    report = report if report is not None else ExportReport()
    dest = Path(os.path.abspath(options.dest))
    if dest.exists() and not dest.is_dir():
        raise ExportError(
            f"expected a folder to export into, but {dest} is a file; pass another --to"
        )
    albums = plan_albums(catalog, options)
    total = sum(len(a.photos) for a in albums)
    yield Progress("export", 0, total)
    if not options.dry_run:
        _make_folder(dest)
        report.stale_removed = _remove_stale_temps(dest)
    done = 0
    for album in albums:
        folder = _album_folder(dest, album.folder)
        if not options.dry_run:
            _make_folder(folder)
        claimed: set[str] = set()
        seen_content: set[str] = set()
        for photo in album.photos:
            if cancel is not None and cancel.cancelled:
                report.cancelled = True
                break
            done += 1
            if photo.sha256 and photo.sha256 in seen_content:
                yield _progress(done, total, report)
                continue  # the same bytes twice in one album is one photo
            if photo.sha256:
                seen_content.add(photo.sha256)
            report.add(_export_one(catalog, photo, album, folder, dest, options, claimed,
                                   report))
            yield _progress(done, total, report)
        if report.cancelled:
            break
    if options.manifest is not None:
        path = dest / f"{MANIFEST_STEM}.{options.manifest}"
        try:
            if not options.dry_run:
                atomic_write(path, _manifest(report.items, options.manifest))
            report.manifest = str(path)
        except ExportError as exc:
            report.problems.append(f"the manifest was not written: {exc}")


# -- one photo ----------------------------------------------------------------


def _export_one(
    catalog: Catalog,
    photo: Photo,
    album: Album,
    folder: Path,
    dest: Path,
    options: ExportOptions,
    claimed: set[str],
    report: ExportReport,
) -> ExportItem:
    base = safe_file_name(os.path.basename(os.fsdecode(photo.relpath)))
    try:
        target, action = _place(photo, folder, base, options, claimed)
    except OSError as exc:
        report.problems.append(f"{_printable(photo.path)}: {exc.strerror or exc}")
        return ExportItem(album.person_id, album.label, folder.name, photo.id,
                          _printable(photo.path), str(Path(folder.name) / base), Action.FAILED)
    sidecar: str | None = None
    if options.xmp:
        side = sidecar_path(target, options.sidecar_style)
        try:
            faces = photo_faces(catalog, photo, options.unconfirmed_names)
            if write_sidecar(side, faces, dry_run=options.dry_run):
                report.sidecars_written += 1
                sidecar = str(side.relative_to(dest))
            else:
                report.sidecars_unchanged += 1
        except (XmpError, ExportError) as exc:
            report.problems.append(str(exc))
        if sidecar is None and os.path.lexists(side):
            sidecar = str(side.relative_to(dest))
    return ExportItem(album.person_id, album.label, folder.name, photo.id,
                      _printable(photo.path), str(target.relative_to(dest)), action, sidecar)


def _place(
    photo: Photo, folder: Path, base: str, options: ExportOptions, claimed: set[str]
) -> tuple[Path, Action]:
    """Find the photo's file in ``folder`` or a free name for it, and put it there."""
    for number in range(1, _MAX_SUFFIX):
        name = base if number == 1 else with_suffix_number(base, number)
        if name.casefold() in claimed:
            continue
        target = inside(folder, name)
        side = sidecar_path(target, options.sidecar_style) if options.xmp else None
        if side is not None and side.name.casefold() in claimed:
            continue
        names = {name.casefold()} | ({side.name.casefold()} if side is not None else set())
        if os.path.lexists(target):
            if _same_photo(photo, target):
                claimed.update(names)
                return target, Action.PRESENT
            continue
        if side is not None and side.exists():
            continue  # a sidecar without its photo belongs to something else
        claimed.update(names)
        if options.dry_run:
            return target, Action.WOULD_ADD
        if _put(photo, target, options.mode):
            return target, Action.ADDED
        claimed.discard(name.casefold())  # another process took it meanwhile
    raise ExportError(
        f"expected a free name for {base} in {folder}, but {_MAX_SUFFIX} are taken; "
        "export into an empty folder"
    )


def _put(photo: Photo, target: Path, mode: LinkMode) -> bool:
    """Put the photo at ``target`` without ever replacing a file; False if taken."""
    source = photo.path
    try:
        if mode is LinkMode.HARDLINK:
            os.link(source, target)
        elif mode is LinkMode.SYMLINK:
            os.symlink(os.path.abspath(source), target)
        else:
            _copy_no_clobber(source, target)
    except FileExistsError:
        return False
    except OSError as exc:
        if mode is LinkMode.HARDLINK and exc.errno in (errno.EXDEV, errno.EPERM, errno.ENOTSUP):
            raise ExportError(
                f"cannot hard-link {source} into {target.parent}: {exc.strerror} (hard links "
                "need the same file system and support for them); use --mode copy or symlink"
            ) from exc
        if mode is LinkMode.SYMLINK and exc.errno in (errno.EPERM, errno.ENOTSUP):
            raise ExportError(
                f"cannot make symbolic links in {target.parent}: {exc.strerror}; "
                "use --mode copy"
            ) from exc
        raise
    return True


def _copy_no_clobber(source: str, target: Path) -> None:
    fd, tmp = tempfile.mkstemp(prefix=temp_prefix(), suffix=".part", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as out, open_regular(source) as original:
            shutil.copyfileobj(original, out, 1 << 20)
        shutil.copystat(source, tmp)
        try:
            os.link(tmp, target)  # atomic, and fails rather than replace
        except FileExistsError:
            raise
        except OSError:
            # No hard links here (FAT, some network shares): rename instead.
            if os.path.lexists(target):
                raise FileExistsError(errno.EEXIST, "exists", str(target)) from None
            os.replace(tmp, target)
    finally:
        Path(tmp).unlink(missing_ok=True)


def _same_photo(photo: Photo, existing: Path) -> bool:
    try:
        if os.path.samefile(photo.path, existing):
            return True
        stat = existing.stat()
    except OSError:
        return False  # a broken link, or the original is gone
    if stat.st_size != photo.size or photo.sha256 is None:
        return False
    digest = hashlib.sha256()
    try:
        with existing.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
    except OSError:
        return False
    return digest.hexdigest() == photo.sha256


# -- selection ----------------------------------------------------------------


def _select_people(catalog: Catalog, specs: Sequence[str], include_unnamed: bool) -> list[Person]:
    live = catalog.persons()
    if not specs:
        return [p for p in live if not p.hidden and (p.name or include_unnamed)]
    chosen: dict[int, Person] = {}
    for spec in specs:
        person = _find_person(catalog, live, spec.strip())
        chosen.setdefault(person.id, person)
    return sorted(chosen.values(), key=lambda p: p.id)


def _find_person(catalog: Catalog, live: list[Person], spec: str) -> Person:
    if spec.isdigit():
        try:
            return catalog.person(resolve_merged(catalog, catalog.person(int(spec)).id))
        except NotFoundError as exc:
            raise ExportError(
                f"expected a person id or name after --people, got {spec!r}, which is no "
                "person's id; `facealbum people` lists ids and names"
            ) from exc
    exact = [p for p in live if p.name and p.name.strip() == spec]
    if not exact:
        exact = [p for p in live if p.name and p.name.strip().casefold() == spec.casefold()]
    if len(exact) == 1:
        return exact[0]
    if not exact:
        raise ExportError(
            f"expected a person id or name after --people, got {spec!r}, which no person is "
            "called; `facealbum people` lists ids and names"
        )
    ids = ", ".join(str(p.id) for p in exact)
    raise ExportError(
        f"{len(exact)} people are called {spec!r} (ids {ids}); pass the id instead of the name"
    )


# -- helpers ------------------------------------------------------------------


def _album_folder(dest: Path, name: str) -> Path:
    """The album's folder: ``name``, or ``name (2)``... when a file or a link
    is in the way (a link could lead out of the destination)."""
    for number in range(1, _MAX_SUFFIX):
        folder = inside(dest, name if number == 1 else f"{name} ({number})")
        if not os.path.lexists(folder) or (folder.is_dir() and not folder.is_symlink()):
            return folder
    raise ExportError(
        f"expected a free folder name for {name} in {dest}, but {_MAX_SUFFIX} are taken; "
        "export into an empty folder"
    )


def _printable(path: str) -> str:
    """A path that any text format can hold, even if the name is not UTF-8."""
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _remove_stale_temps(dest: Path) -> int:
    """Remove the temporary files killed exports left in ``dest`` and its
    album folders (links are not followed); how many went."""
    removed = 0
    try:
        albums = [Path(e.path) for e in os.scandir(dest) if e.is_dir(follow_symlinks=False)]
    except OSError:
        return 0
    for folder in [dest, *albums]:
        try:
            stale = [e.path for e in os.scandir(folder)
                     if is_stale_temp(e.name) and e.is_file(follow_symlinks=False)]
        except OSError:
            continue
        for path in stale:
            try:
                os.unlink(path)
            except OSError:
                continue  # gone already, or not ours to remove after all
            removed += 1
    return removed


def _make_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportError(
            f"cannot create the folder {folder}: {exc.strerror or exc}; "
            "choose a writable destination"
        ) from exc


def _progress(done: int, total: int, report: ExportReport) -> Progress:
    return Progress(
        "export", done, total,
        {"added": report.count(Action.ADDED) + report.count(Action.WOULD_ADD),
         "present": report.count(Action.PRESENT)},
    )


def _manifest(items: list[ExportItem], fmt: ManifestFormat) -> bytes:
    rows = [asdict(i) for i in items]
    if fmt is ManifestFormat.JSON:
        return (json.dumps(rows, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    buffer = io.StringIO()
    fields = [f for f in ExportItem.__dataclass_fields__]
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")
