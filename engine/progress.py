"""Progress reports and cancellation for long work.

Long work in the engine (scan, cluster, train, export) is a generator that
yields ``Progress`` after each item and checks a ``CancelToken`` between
items. The CLI turns the yields into a progress bar, the GUI into Qt signals;
neither the engine nor this module knows which client is listening.
``JobOutcome`` names how such work ended, for whoever ran it to report.
"""

import threading
import time
from dataclasses import dataclass, field
from enum import StrEnum


@dataclass(frozen=True)
class Progress:
    """How far one stage of long work has come.

    ``total`` is 0 while it is not known yet. ``info`` carries stage-specific
    counters a client may show (faces found so far, problems, ...).
    """

    stage: str
    done: int
    total: int
    info: dict[str, float | int | str] = field(default_factory=dict)

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 0.0


class JobOutcome(StrEnum):
    """How one run of long work ended; the value travels as text between processes."""

    SUCCEEDED = "succeeded"
    CANCELLED = "cancelled"  # stopped on request, between two items
    FAILED = "failed"  # the engine refused or could not go on; its message says why
    UNEXPECTED = "unexpected"  # an error nobody foresaw: a bug to report with the log
    DIED = "died"  # the process running it ended without saying how


class CancelToken:
    """A flag another thread (or a signal handler) sets to stop long work."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()


class RateMeter:
    """Items per second and time left, smoothed over the whole run."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.start = time.perf_counter()

    def rate(self, done: int) -> float:
        elapsed = time.perf_counter() - self.start
        return done / elapsed if elapsed > 0 else 0.0

    def eta(self, done: int) -> float | None:
        rate = self.rate(done)
        if rate <= 0 or self.total <= 0:
            return None
        return max(self.total - done, 0) / rate
