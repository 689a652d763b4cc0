"""``facealbum scan``, ``problems``, ``purge``, ``import-faces`` and
``persons-in``: getting photos, and what other tools know of them, into the
catalog.

A scan imports the names other tools stored for the photos it reads (XMP
sidecars and embedded XMP, Picasa's ``.picasa.ini``, Google Takeout's JSON)
as one undoable operation; ``import-faces`` reads them again for photos
already scanned (a sidecar or a Picasa file added since). ``persons-in``
lists who is in a photo: its named faces, and the names its metadata gives
without a face.
"""

import argparse
import os
from pathlib import Path

from engine import people
from engine.catalog import Catalog, PhotoStatus
from engine.catalog.scans import folder_problems
from engine.cli.common import add_command, catalog_id, open_catalog, stop_on_interrupt
from engine.cli.output import ProgressBar, emit, emit_json, table
from engine.errors import NotFoundError
from engine.export.xmp import PEOPLE_PARENTS
from engine.people.importer import Imported, import_folder, persons_in_photo
from engine.progress import CancelToken


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = add_command(sub, "scan", "find the faces in a folder of photos (incremental)")
    p.add_argument("folder", type=Path)
    p.add_argument("--device", choices=["auto", "cpu", "cuda", "mps"], default="auto")
    p.add_argument("--detector", default=None, help="detector model (default: yunet)")
    p.add_argument("--embedder", default=None, help="embedder model: sface (default), facenet")
    p.add_argument("--no-people", action="store_true", help="do not group new faces into people")
    p.add_argument("--json", action="store_true", help="print one JSON summary at the end")
    p.add_argument(
        "--wait", type=float, default=None, metavar="SECONDS",
        help="how long to wait for another scan of the same catalog to end (default: 10)",
    )
    p.add_argument(
        "--folder-emptied", action="store_true",
        help="the folder was emptied on purpose: mark its photos missing (without this, "
        "an empty folder that held photos stops the scan, as for a disk not mounted)",
    )
    p.set_defaults(func=cmd_scan)

    p = add_command(sub, "problems", "list the files a scan could not read, and why")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_problems)

    p = add_command(sub, "purge", "forget photos marked missing (and their faces)")
    p.add_argument(
        "--force", action="store_true",
        help="forget them even when some of their faces carry your decisions (names, "
        "confirmations, marks)",
    )
    p.set_defaults(func=cmd_purge)

    p = add_command(
        sub, "import-faces",
        "read again the names other tools stored for photos already scanned (XMP sidecars "
        "and embedded XMP, Picasa .picasa.ini with contacts.xml, Google Takeout JSON) and "
        "import them as one operation (facealbum undo takes it back)",
    )
    p.add_argument("folder", type=Path, nargs="?", default=None,
                   help="only photos under this folder (default: every photo of the catalog)")
    p.add_argument(
        "--people-tag", action="append", default=[], metavar="NAME",
        help="a keyword parent under which other tools file people, besides "
        f"{', '.join(sorted(PEOPLE_PARENTS)[:6])}... (repeat for several)",
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_import_faces)

    p = add_command(
        sub, "persons-in",
        "who is in a photo: its named faces, and people its metadata names without a face "
        "(PersonInImage, people keywords, Google Takeout)",
    )
    p.add_argument("photo", help="the photo's id (see facealbum problems, faces) or its path")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_persons_in)


def cmd_scan(args: argparse.Namespace) -> int:
    # Imported here: the scan brings torch and the models, which ``--help``
    # and the other commands do not need.
    from engine.scan import ScanOptions, ScanSummary, scan_folder

    defaults = ScanOptions()
    options = ScanOptions(
        detector=args.detector or defaults.detector,
        embedder=args.embedder or defaults.embedder,
        device=args.device,
        wait_for_other_scan=(
            defaults.wait_for_other_scan if args.wait is None else max(0.0, args.wait)
        ),
        folder_emptied=args.folder_emptied,
    )
    cancel = CancelToken()
    summary = ScanSummary()

    with stop_on_interrupt(cancel, "photo"), open_catalog(args) as catalog:
        ProgressBar(unit="photos").drive(
            scan_folder(catalog, args.folder, options, cancel=cancel, summary=summary)
        )
        people_changed = 0
        if not args.no_people and not summary.cancelled:
            people_changed = _update_people(catalog, cancel)

    report = {
        "photos": summary.photos,
        "scanned": summary.scanned,
        "unchanged": summary.unchanged,
        "moved": summary.moved,
        "missing": summary.missing,
        "faces": summary.faces,
        "problems": summary.problems,
        "reembedded": summary.reembedded,
        "seconds": round(summary.seconds, 3),
        "photos_per_second": round(summary.scanned / summary.seconds, 2)
        if summary.seconds > 0 else 0.0,
        "device": summary.device,
        "models": {"detector": summary.detector, "embedder": summary.embedder},
        "cancelled": summary.cancelled,
        "people_updated": people_changed,
        "stage_seconds": {k: round(v, 3) for k, v in summary.stage_seconds.items()},
    }
    if args.json:
        emit_json(report)
    else:
        emit(
            f"{summary.photos} photos in {args.folder}: {summary.scanned} scanned, "
            f"{summary.unchanged} unchanged, {summary.moved} moved, {summary.missing} missing; "
            f"{summary.faces} faces found, {summary.problems} problems "
            f"({summary.seconds:.1f} s on {summary.device}, {summary.detector} + "
            f"{summary.embedder})"
        )
        for name, reason in summary.problem_list[:20]:
            emit(f"  problem: {name}: {reason}")
        if len(summary.problem_list) > 20:
            emit(f"  ... and {len(summary.problem_list) - 20} more (facealbum problems)")
        if summary.cancelled:
            emit("Stopped. Run the same command again to resume.")
    return 130 if summary.cancelled else 0


def _update_people(catalog: Catalog, cancel: CancelToken) -> int:
    """Group the new faces into people; returns how many people were added."""
    before = len(people.people(catalog))
    ProgressBar(unit="faces").drive(people.update_people(catalog, cancel=cancel))
    return len(people.people(catalog)) - before


def cmd_problems(args: argparse.Namespace) -> int:
    with open_catalog(args) as catalog:
        photos = catalog.photos(status=PhotoStatus.PROBLEM)
        rows: list[dict[str, object]] = [
            {"path": p.path, "problem": p.problem, "id": p.id} for p in photos
        ]
        # Folders the last scan could not read (their photos kept their state).
        rows += [
            {"path": path + "/", "problem": f"cannot read the folder: {why}", "id": None}
            for path, why in folder_problems(catalog)
        ]
    if args.json:
        emit_json(rows)
    elif not rows:
        emit("No problems: every photo could be read.")
    else:
        table([["-" if r["id"] is None else str(r["id"]), str(r["path"]), str(r["problem"])]
               for r in rows], ["id", "path", "problem"])
    return 0


def cmd_purge(args: argparse.Namespace) -> int:
    with open_catalog(args) as catalog:
        n = catalog.purge_missing(force=args.force)
    emit(f"Forgot {n} missing photos.")
    return 0


def cmd_import_faces(args: argparse.Namespace) -> int:
    cancel = CancelToken()
    result: list[Imported] = []
    problems: list[str] = []
    with stop_on_interrupt(cancel, "photo"), open_catalog(args) as catalog:
        ProgressBar(unit="photos").drive(import_folder(
            catalog, args.folder, people_parents=PEOPLE_PARENTS | set(args.people_tag),
            cancel=cancel, result=result, problems=problems,
        ))
    imported = result[0] if result else Imported()
    if args.json:
        emit_json({"names": imported.names, "without_face": imported.persons,
                   "photos": imported.photos, "problems": problems,
                   "cancelled": cancel.cancelled})
    else:
        emit("Stopped: nothing was imported." if cancel.cancelled else imported.summary + ".")
        for problem in problems[:20]:
            emit(f"  problem: {problem}")
    return 130 if cancel.cancelled else 0


def cmd_persons_in(args: argparse.Namespace) -> int:
    with open_catalog(args) as catalog:
        photo_id = _photo_id(catalog, args.photo)
        found = persons_in_photo(catalog, photo_id)
    rows = [
        {"name": p.name, "face_id": p.face_id,
         "how": "no face: named by the photo's metadata" if p.face_id is None
         else "face, confirmed" if p.confirmed else "face, guessed by grouping"}
        for p in found
    ]
    if args.json:
        emit_json(rows)
    elif not rows:
        emit("Nobody named in this photo.")
    else:
        table([[str(r["name"]), "-" if r["face_id"] is None else str(r["face_id"]), str(r["how"])]
               for r in rows], ["name", "face", "how"])
    return 0


def _photo_id(catalog: Catalog, text: str) -> int:
    """A photo id given as a number, or the id of the photo at a path."""
    if text.isdigit():
        return catalog_id(text)
    wanted = os.path.realpath(text)
    for photo in catalog.photos():
        if os.path.realpath(photo.path) == wanted:
            return photo.id
    raise NotFoundError(
        f"expected a photo id or the path of a scanned photo, got {text!r}, which the catalog "
        "does not hold; scan its folder first, or give the id"
    )
