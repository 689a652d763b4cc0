"""Entry point of the ``facealbum`` command: global options and dispatch.

Each group of commands lives in its own module with a ``register(subparsers)``
function that adds its sub-commands and sets ``func(args) -> int`` on them.
Engine errors (``FaceAlbumError``) end the command with their message and
exit status 2, and so does a failure of the catalog file that surfaced
outside a transaction (a damaged page met by a read): it is told as its cause,
never as a traceback. A reader that closes the pipe early ends it quietly (141).
"""

import argparse
import importlib
import os
import signal
import sys
from pathlib import Path

from engine import __version__
from engine.catalog import DatabaseError, default_catalog_path
from engine.catalog.store import catalog_failure
from engine.cli.common import catalog_path
from engine.cli.output import warn
from engine.errors import FaceAlbumError

# Command groups, in the order ``--help`` lists them.
COMMAND_MODULES = [
    "engine.cli.scan_cmd",
    "engine.cli.people_cmd",
    "engine.cli.export_cmd",
    "engine.cli.train_cmd",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="facealbum",
        description="Find the people in a folder of photos and make albums of them.",
    )
    parser.add_argument("--version", action="version", version=f"facealbum {__version__}")
    parser.add_argument(
        "--catalog",
        type=Path,
        default=None,
        help=f"catalog file (default: {default_catalog_path()}, or $FACEALBUM_CATALOG)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 1
    try:
        code = int(args.func(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, not at exit
        return code
    except BrokenPipeError:
        # The reader stopped early (`facealbum people | head -1`): stop quietly,
        # as other command-line tools do, with the status of a closed pipe.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + signal.SIGPIPE
    except FaceAlbumError as exc:
        warn(f"facealbum: {exc}")
        return 2
    except DatabaseError as exc:
        warn(f"facealbum: {catalog_failure(exc, catalog_path(args))}")
        return 2
    except KeyboardInterrupt:
        warn("facealbum: stopped")
        return 130


if __name__ == "__main__":
    sys.exit(main())
