"""``facealbum export`` (albums, one folder per person) and ``facealbum xmp``
(face regions written beside the original photos, opt-in).

Sidecars name only the faces the user confirmed unless
``--unconfirmed-names`` asks for the grouping's guesses too, and never
change a photo file.

This module only turns arguments into engine calls and reports into text;
the work lives in ``engine.export``. When an error ends the work early, the
problems met before it are still printed (to stderr) ahead of the error's
one line, so that no failure hides another.
"""

import argparse
from pathlib import Path

from engine.cli.common import add_command, open_catalog, stop_on_interrupt
from engine.cli.output import ProgressBar, emit, emit_json, warn
from engine.errors import FaceAlbumError
from engine.export.albums import (
    Action,
    ExportOptions,
    ExportReport,
    LinkMode,
    ManifestFormat,
    export_albums,
    plan_albums,
)
from engine.export.sidecars import SidecarReport, SidecarStyle, write_beside_originals
from engine.progress import CancelToken

MAX_LISTED = 20  # problems printed one per line; the rest are counted

SIDECAR_HELP = (
    "sidecar file name: photo.jpg.xmp (default; digiKam, darktable, exiftool) or photo.xmp "
    "(Lightroom, Capture One; digiKam reads it too). Regions are written as MWG regions "
    "(digiKam, Lightroom, exiftool, Immich) and Microsoft People Tagging (Windows), names as "
    "PersonInImage, People/NAME (digiKam), People|NAME (Lightroom) and keywords"
)
UNCONFIRMED_HELP = (
    "also write the names facealbum guessed when grouping (default: only faces you confirmed)"
)


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = add_command(sub, "export", "export one folder per person, with their photos inside")
    p.add_argument("--to", type=Path, required=True, metavar="DIR", help="destination folder")
    p.add_argument("--people", nargs="+", default=[], metavar="ID|NAME",
                   help="only these people (default: every named person who is not hidden)")
    p.add_argument("--mode", choices=[m.value for m in LinkMode], default=LinkMode.COPY.value,
                   help="copy the photos (default), or hard-link or symlink them")
    p.add_argument("--xmp", action="store_true",
                   help="write an XMP sidecar with the face regions beside each exported photo")
    p.add_argument("--sidecar-name", choices=[s.value for s in SidecarStyle],
                   default=SidecarStyle.FULL.value, help=SIDECAR_HELP)
    p.add_argument("--unconfirmed-names", action="store_true", help=UNCONFIRMED_HELP)
    p.add_argument("--manifest", choices=[f.value for f in ManifestFormat], default=None,
                   help="also write facealbum-export.csv or .json listing every exported file")
    p.add_argument("--unnamed", action="store_true", help="export unnamed people too")
    p.add_argument("--confirmed-only", action="store_true",
                   help="only photos whose face the user confirmed")
    p.add_argument("--dry-run", action="store_true", help="say what would be done; write nothing")
    p.add_argument("--json", action="store_true", help="print one JSON report at the end")
    p.set_defaults(func=cmd_export)

    p = add_command(sub, "xmp",
                    "write face regions into XMP sidecars beside the original photos")
    p.add_argument("--people", nargs="+", default=[], metavar="ID|NAME",
                   help="only photos of these people (default: every named person)")
    p.add_argument("--sidecar-name", choices=[s.value for s in SidecarStyle],
                   default=SidecarStyle.FULL.value, help=SIDECAR_HELP)
    p.add_argument("--unconfirmed-names", action="store_true", help=UNCONFIRMED_HELP)
    # What --confirmed-only asked for is now the default; kept so scripts still run.
    p.add_argument("--confirmed-only", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--dry-run", action="store_true", help="say what would be written")
    p.add_argument("--json", action="store_true", help="print one JSON report at the end")
    p.set_defaults(func=cmd_xmp)


def cmd_export(args: argparse.Namespace) -> int:
    options = ExportOptions(
        dest=args.to,
        people=tuple(args.people),
        mode=LinkMode(args.mode),
        xmp=args.xmp,
        sidecar_style=SidecarStyle(args.sidecar_name),
        manifest=ManifestFormat(args.manifest) if args.manifest else None,
        dry_run=args.dry_run,
        include_unnamed=args.unnamed,
        confirmed_only=args.confirmed_only,
        unconfirmed_names=args.unconfirmed_names,
    )
    report = ExportReport()
    cancel = CancelToken()
    with stop_on_interrupt(cancel, "photo"), open_catalog(args) as catalog:
        try:
            ProgressBar(unit="photos").drive(
                export_albums(catalog, options, cancel=cancel, report=report)
            )
        except FaceAlbumError:
            _warn_problems(report.problems)
            raise
    if args.json:
        emit_json(report.to_json())
    else:
        _print_export(report, options)
    if report.cancelled:
        return 130
    return 1 if report.problems else 0


def cmd_xmp(args: argparse.Namespace) -> int:
    report = SidecarReport()
    cancel = CancelToken()
    with stop_on_interrupt(cancel, "photo"), open_catalog(args) as catalog:
        person_ids = None
        if args.people:
            albums = plan_albums(catalog, ExportOptions(dest=Path(), people=tuple(args.people)))
            person_ids = [a.person_id for a in albums]
        try:
            ProgressBar(unit="photos").drive(
                write_beside_originals(
                    catalog, SidecarStyle(args.sidecar_name), person_ids,
                    unconfirmed=args.unconfirmed_names, dry_run=args.dry_run, cancel=cancel,
                    report=report,
                )
            )
        except FaceAlbumError:
            _warn_problems(report.problems)
            raise
    if args.json:
        emit_json({"written": report.written, "unchanged": report.unchanged,
                   "problems": report.problems, "dry_run": args.dry_run})
    else:
        verb = "would write" if args.dry_run else "wrote"
        emit(f"XMP sidecars: {verb} {len(report.written)}, {report.unchanged} already up to date, "
             f"{len(report.problems)} problems")
        _list_problems(report.problems)
    return 1 if report.problems else 0


def _print_export(report: ExportReport, options: ExportOptions) -> None:
    folders = len({item.folder for item in report.items})
    if options.dry_run:
        emit(f"Dry run: would add {report.count(Action.WOULD_ADD)} photos in {folders} albums "
             f"under {options.dest}; {report.count(Action.PRESENT)} are already there.")
        if options.xmp:
            emit(f"Would write {report.sidecars_written} XMP sidecars.")
    else:
        emit(f"Added {report.count(Action.ADDED)} photos in {folders} albums under "
             f"{options.dest}; {report.count(Action.PRESENT)} were already there.")
        if options.xmp:
            emit(f"XMP sidecars: {report.sidecars_written} written, "
                 f"{report.sidecars_unchanged} already up to date.")
    if report.stale_removed:
        emit(f"Removed {report.stale_removed} unfinished files an interrupted export left.")
    if report.manifest:
        emit(f"Manifest: {report.manifest}")
    _list_problems(report.problems)
    if report.cancelled:
        emit("Stopped. Run the same command again to add the rest.")


def _list_problems(problems: list[str]) -> None:
    for problem in problems[:MAX_LISTED]:
        emit(f"  problem: {problem}")
    if len(problems) > MAX_LISTED:
        emit(f"  ... and {len(problems) - MAX_LISTED} more")


def _warn_problems(problems: list[str]) -> None:
    for problem in problems[:MAX_LISTED]:
        warn(f"problem: {problem}")
    if len(problems) > MAX_LISTED:
        warn(f"... and {len(problems) - MAX_LISTED} more problems")
