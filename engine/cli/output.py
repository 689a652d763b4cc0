"""The command line's output layer: the only engine code that prints.

Progress bars go to stderr when it is a terminal (and nowhere otherwise), so
``--json`` output on stdout stays machine-readable.
"""

import json
import shutil
import sys
import time
from collections.abc import Iterator
from typing import Any, TypeVar

from engine.progress import Progress

T = TypeVar("T")


def emit(text: str = "") -> None:
    print(text)


def emit_json(data: Any) -> None:
    print(json.dumps(data, indent=2, sort_keys=True, default=str))


def warn(text: str) -> None:
    print(text, file=sys.stderr)


def table(rows: list[list[str]], header: list[str]) -> None:
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=False)]
    for row in [header, *rows]:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=False)).rstrip())


class ProgressBar:
    """Draws ``Progress`` reports as one updating line on a terminal."""

    def __init__(self, enabled: bool | None = None, unit: str = "photos") -> None:
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.unit = unit
        self.start = time.perf_counter()
        self._last_draw = 0.0
        self._drawn = False

    def update(self, p: Progress) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        if now - self._last_draw < 0.1 and p.done != p.total:
            return
        self._last_draw = now
        elapsed = now - self.start
        rate = p.done / elapsed if elapsed > 0 else 0.0
        eta = (p.total - p.done) / rate if rate > 0 and p.total else None
        width = max(10, min(40, shutil.get_terminal_size((80, 20)).columns - 60))
        filled = int(width * p.fraction)
        bar = "#" * filled + "-" * (width - filled)
        extra = " ".join(f"{k}={v}" for k, v in p.info.items() if isinstance(v, int))
        eta_text = f"ETA {_clock(eta)}" if eta is not None else "ETA --:--"
        line = (
            f"\r{p.stage} [{bar}] {p.done}/{p.total or '?'} {self.unit} "
            f"{rate:.1f}/s {eta_text} {extra}"
        )
        sys.stderr.write(line[: shutil.get_terminal_size((120, 20)).columns - 1])
        sys.stderr.flush()
        self._drawn = True

    def close(self) -> None:
        if self._drawn:
            sys.stderr.write("\n")
            sys.stderr.flush()

    def drive(self, work: Iterator[Progress]) -> None:
        """Run ``work`` to its end, drawing each report."""
        try:
            for report in work:
                self.update(report)
        finally:
            self.close()


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"
