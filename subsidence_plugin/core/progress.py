"""Progress reporting and cancellation for long core computations, free of QGIS.

Core functions take an optional ``progress(percent, message)`` callback and an optional ``is_cancelled()``
callable; `Steps` checks both and raises `Cancelled` so callers can clean up.
"""
from __future__ import annotations

from typing import Callable, Optional

ProgressCallback = Callable[[float, str], None]
CancelCheck = Callable[[], bool]


class Cancelled(Exception):
    """The user cancelled the computation."""


class Steps:
    """Reports weighted steps of a computation as percentages and honours cancellation."""

    def __init__(self, total: float, progress: Optional[ProgressCallback] = None,
                 is_cancelled: Optional[CancelCheck] = None):
        self.total = float(total)
        self.done = 0.0
        self.progress = progress
        self.is_cancelled = is_cancelled

    def check(self) -> None:
        """Raise `Cancelled` if the user asked to stop."""
        if self.is_cancelled is not None and self.is_cancelled():
            raise Cancelled()

    def advance(self, message: str = "", weight: float = 1.0) -> None:
        """Mark ``weight`` units done, report, and stop if cancelled."""
        self.check()
        self.done += weight
        if self.progress is not None:
            self.progress(min(100.0, 100.0 * self.done / self.total), message)
