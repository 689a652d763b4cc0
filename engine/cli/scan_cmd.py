"""``facealbum scan``, ``problems``, ``purge``, ``import-faces``,
``persons-in``, ``photos`` and ``folders``: getting photos, and what other
tools know of them, into the catalog, and seeing what it holds.

A scan imports the names other tools stored for the photos it reads (XMP
sidecars and embedded XMP, Picasa's ``.picasa.ini``, Google Takeout's JSON)
as one undoable operation; ``import-faces`` reads them again for photos
already scanned (a sidecar or a Picasa file added since). ``persons-in``
lists who is in a photo: its named faces, and the names its metadata gives
without a face. ``photos --with A --with B`` lists the photos where all the
people named appear together; ``folders`` lists the scanned folders and
``folders --remove PATH`` forgets one, refusing without ``--force`` when its
faces carry the user's decisions.
"""

import argparse
import os
from pathlib import Path

from engine import people
from engine.catalog import Catalog, PhotoStatus
from engine.catalog.folders import find_root, folders, remove_root
from engine.catalog.people import photos_with_all
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
        "--ray", default="", metavar="ADDRESS",
        help="analyse the photos on a Ray cluster: its address as `ray start` prints it "
        "(HOST:PORT) or `auto`; every machine must see the folder at the same path "
        "(needs: pip install 'facealbum[cluster]')",
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

    p = add_command(sub, "photos", "list the photos of the catalog, or those where all of "
                    "some people appear together (--with NAME --with NAME)")
    p.add_argument(
        "--with", dest="with_people", action="append", default=[], metavar="PERSON",
        help="a person's name or id; repeat to list the photos holding all of them",
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_photos)

    p = add_command(sub, "folders", "list the scanned folders with their photos and state, "
                    "or forget one (--remove PATH)")
    p.add_argument("--remove", type=Path, default=None, metavar="PATH",
                   help="forget this scanned folder and its photos (the files stay on disk)")
    p.add_argument(
        "--force", action="store_true",
        help="with --remove: forget it even when some of its faces carry your decisions "
        "(names, confirmations, marks)",
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_folders)


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
        ray_address=args.ray.strip(),
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
        "dated": summary.dated,
        "seconds": round(summary.seconds, 3),
        "photos_per_second": round(summary.scanned / summary.seconds, 2)
        if summary.seconds > 0 else 0.0,
        "device": summary.device,
        "models": {"detector": summary.detector, "embedder": summary.embedder},
        "cancelled": summary.cancelled,
        "workers": summary.workers,
        "retried": summary.retried,
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
        if summary.reembedded:
            emit(f"  {summary.reembedded} photos scanned before had their faces read again "
                 "where they were found (for an embedder they lacked, their apparent ages, "
                 "or landmarks placed by two networks)")
        if summary.dated:
            emit(f"  {summary.dated} photos scanned before had their capture dates read")
        if summary.retried:
            emit(f"  {summary.retried} photos were sent again after a worker of the cluster "
                 "was lost; none was lost or written twice")
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


def cmd_photos(args: argparse.Namespace) -> int:
    with open_catalog(args) as catalog:
        if args.with_people:
            chosen = [_person_id(catalog, text) for text in args.with_people]
            photos = [catalog.photo(i) for i in photos_with_all(catalog, chosen)]
        else:
            photos = catalog.photos(status=PhotoStatus.OK)
    if args.json:
        emit_json([{"id": p.id, "path": p.path} for p in photos])
    elif not photos:
        emit("No photo holds all of them together." if args.with_people
             else "No photos yet: `facealbum scan FOLDER` adds some.")
    else:
        table([[str(p.id), p.path] for p in photos], ["id", "path"])
    return 0


def cmd_folders(args: argparse.Namespace) -> int:
    with open_catalog(args) as catalog:
        if args.remove is not None:
            root_id = find_root(catalog, args.remove)
            n = remove_root(catalog, root_id, force=args.force)
            emit(f"Forgot the folder {os.path.abspath(args.remove)} and its {n} photos "
                 "(the files on disk are untouched).")
            return 0
        found = folders(catalog)
    if args.json:
        emit_json([{"id": f.id, "path": os.fsdecode(f.path), "photos": f.photos,
                    "missing": f.missing, "problems": f.problems, "faces": f.faces,
                    "facts": f.facts, "state": str(f.state)} for f in found])
    elif not found:
        emit("No folders scanned yet: `facealbum scan FOLDER` adds one.")
    else:
        table([[str(f.id), os.fsdecode(f.path), str(f.photos), str(f.missing), str(f.problems),
                str(f.state)] for f in found],
              ["id", "folder", "photos", "missing", "unreadable", "state"])
    return 0


def _person_id(catalog: Catalog, text: str) -> int:
    """A person given by id, or by their name (any case)."""
    if text.strip().isdigit():
        return catalog_id(text.strip())
    wanted = text.strip().casefold()
    named = [r.id for r in people.people_rows(catalog, include_hidden=True)
             if r.name and r.name.casefold() == wanted]
    if len(named) == 1:
        return named[0]
    if named:
        raise NotFoundError(
            f"expected one person named {text!r}, found {len(named)} (ids "
            f"{', '.join(map(str, named))}); give one id with --with, or merge them with "
            "`facealbum merge`"
        )
    raise NotFoundError(
        f"expected the name or id of a person, got {text!r}, which nobody is named; "
        "`facealbum people` lists the people with their names and ids"
    )


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
