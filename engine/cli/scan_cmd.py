"""``facealbum scan``, ``problems`` and ``purge``: getting photos into the catalog."""

import argparse
from pathlib import Path

from engine import people
from engine.catalog import Catalog, PhotoStatus
from engine.catalog.scans import folder_problems
from engine.cli.common import add_command, open_catalog, stop_on_interrupt
from engine.cli.output import ProgressBar, emit, emit_json, table
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
