"""The command line's output layer: the only engine code that prints.

Progress bars go to stderr when it is a terminal (and nowhere otherwise), so
``--json`` output on stdout stays machine-readable. Text goes out through
``printable``: file names are the user's data, and a name holding terminal
escape sequences or bytes that are not UTF-8 is shown escaped, never sent
raw to the terminal nor allowed to end the command with an encoding error.
"""

import json
import re
import shutil
import sys
import time
from collections.abc import Iterator
from typing import Any, TypeVar

from engine.progress import Progress

T = TypeVar("T")


# C0 and C1 control characters (but newline and tab), DEL, and the Unicode
# marks that reorder what follows them on screen.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
# A file name's bytes that are not UTF-8 arrive as lone surrogates (os.fsdecode).
_SURROGATE = re.compile("[\ud800-\udfff]")


def printable(text: str) -> str:
    """``text`` safe for a terminal: controls as ``\\xNN``, undecodable bytes as ``\\xNN``."""
    text = _SURROGATE.sub(_escape_surrogate, text)
    return _UNSAFE.sub(lambda m: _escape_code(ord(m.group())), text)


def _escape_surrogate(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code - 0xDC00:02x}" if 0xDC80 <= code <= 0xDCFF else f"\\u{code:04x}"


def _escape_code(code: int) -> str:
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _write(text: str, stream: Any) -> None:
    """One line to ``stream``; characters its encoding lacks are written escaped."""
    line = printable(text) + "\n"
    encoding = getattr(stream, "encoding", None) or "utf-8"
    try:
        line.encode(encoding)
    except (UnicodeEncodeError, LookupError):
        line = line.encode(encoding, errors="backslashreplace").decode(encoding)
    stream.write(line)


def emit(text: str = "") -> None:
    _write(text, sys.stdout)


def emit_json(data: Any) -> None:
    # ASCII JSON: names that are not UTF-8 travel as \udcNN escapes, readable by any client.
    _write(json.dumps(data, indent=2, sort_keys=True, default=str), sys.stdout)


def warn(text: str) -> None:
    _write(text, sys.stderr)


def table(rows: list[list[str]], header: list[str]) -> None:
    cells = [[printable(str(c)) for c in row] for row in [header, *rows]]
    widths = [max(len(c) for c in col) for col in zip(*cells, strict=False)]
    for row in cells:
        emit("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)).rstrip())


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
