"""What every command shares: the catalog option and opening the catalog."""

import argparse
import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

from engine.catalog import Catalog, default_catalog_path
from engine.cli.output import warn
from engine.progress import CancelToken


def add_command(
    sub: "argparse._SubParsersAction[argparse.ArgumentParser]", name: str, help_text: str
) -> argparse.ArgumentParser:
    """A sub-command that takes ``--catalog PATH`` after its name, too."""
    parser = sub.add_parser(name, help=help_text, description=help_text)
    parser.add_argument(
        "--catalog",
        type=Path,
        default=argparse.SUPPRESS,
        help=f"catalog file (default: {default_catalog_path()}, or $FACEALBUM_CATALOG)",
    )
    return parser


# The largest id SQLite can store (a signed 64-bit integer).
LARGEST_ID = 2**63 - 1


def catalog_id(text: str) -> int:
    """An argparse type for the id of a person, face or photo."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"an id is a whole number such as 3, got {text!r}"
        ) from None
    if not 1 <= value <= LARGEST_ID:
        raise argparse.ArgumentTypeError(
            f"no id is {text}: ids are whole numbers from 1 to {LARGEST_ID}; "
            "`facealbum people` lists the people's ids"
        )
    return value


def catalog_path(args: argparse.Namespace) -> Path:
    given = getattr(args, "catalog", None)
    if given is not None:
        return Path(given)
    env = os.environ.get("FACEALBUM_CATALOG")
    return Path(env) if env else default_catalog_path()


def open_catalog(args: argparse.Namespace) -> Catalog:
    return Catalog(catalog_path(args))


@contextmanager
def stop_on_interrupt(cancel: CancelToken, item: str = "item") -> Iterator[None]:
    """The first Ctrl-C sets ``cancel`` (long work stops after the current
    ``item``); a second one stops at once."""

    def on_interrupt(signum: int, frame: FrameType | None) -> None:
        if cancel.cancelled:
            raise KeyboardInterrupt
        warn(f"\nstopping after the current {item} (Ctrl-C again to stop at once)...")
        cancel.cancel()

    previous = signal.signal(signal.SIGINT, on_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
