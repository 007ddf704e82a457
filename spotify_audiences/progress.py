"""A one-line progress display for long exports and uploads, only on an interactive terminal."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """Counts up and redraws ``label: done/total unit`` at most ten times a second.

    Silent unless ``stream`` is a TTY, so logs, pipes, CI and orchestrators never see it.
    """

    def __init__(
        self, label: str, *, total: int | None = None, unit: str = "", stream: TextIO | None = None
    ) -> None:
        self.label = label
        self.total = total
        self.unit = unit
        self.done = 0
        self._stream = stream or sys.stderr
        self._enabled = bool(getattr(self._stream, "isatty", lambda: False)())
        self._last = 0.0

    def advance(self, amount: int) -> None:
        """Add ``amount`` and redraw if it is time."""
        self.done += amount
        now = time.monotonic()
        if self._enabled and now - self._last >= 0.1:
            self._last = now
            self._draw()

    def _draw(self) -> None:
        if self.total:
            share = min(self.done / self.total, 1.0)
            bar = "#" * int(share * 30)
            text = f"{self.label} [{bar:<30}] {share:4.0%} {self.done:,}/{self.total:,} {self.unit}"
        else:
            text = f"{self.label} {self.done:,} {self.unit}"
        self._stream.write("\r" + text.ljust(79))
        self._stream.flush()

    def close(self) -> None:
        """Clear the line."""
        if self._enabled:
            self._stream.write("\r" + " " * 79 + "\r")
            self._stream.flush()


class NoProgress(Progress):
    """Shows nothing, ever (``--quiet`` and ``--json``)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__("")
        self._enabled = False
