"""Progress of a long loop: a tqdm bar on a terminal, a plain line every few seconds in a log.

tqdm redraws its bar with carriage returns, which floods a log file or a CI console with thousands
of partial lines. :class:`Progress` draws the bar only when its stream is a terminal; otherwise it
writes one plain line every ``interval`` seconds (``KPRTRACK_PROGRESS_INTERVAL``, default 10 s) and
one when it closes::

    match: 250/1500 frames (16.7 %), 9.8 frames/s, 20.5 s
"""

from __future__ import annotations

import os
import sys
import time
from typing import IO, Any

from kprtrack.errors import KprtrackError

#: environment variable overriding the seconds between two plain progress lines.
INTERVAL_ENV = "KPRTRACK_PROGRESS_INTERVAL"
DEFAULT_INTERVAL = 10.0


def progress_interval() -> float:
    """Seconds between two plain progress lines: ``$KPRTRACK_PROGRESS_INTERVAL`` or 10.

    Raises:
        KprtrackError: the variable is not a non-negative number.
    """
    raw = os.environ.get(INTERVAL_ENV)
    if raw is None or not raw.strip():
        return DEFAULT_INTERVAL
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value >= 0:  # also refuses NaN
        raise KprtrackError(f"{INTERVAL_ENV}: expected a number of seconds >= 0, got {raw!r}")
    return value


def _is_terminal(stream: IO[str]) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty()) if isatty is not None else False
    except (ValueError, OSError):  # a closed stream
        return False


class Progress:
    """Count the items of a loop and show it: a tqdm bar on a terminal, periodic plain lines otherwise.

    Args:
        total: expected number of items (``None`` if unknown).
        desc: what is counted over (e.g. the video name), first on every line.
        unit: the item's name.
        enabled: ``False`` shows nothing (the count is still kept).
        stream: where to write; ``None`` is ``sys.stderr`` at construction time.
        interval: seconds between plain lines; ``None`` reads :func:`progress_interval`. ``0`` writes a
            line after every item.
    """

    def __init__(
        self,
        total: int | None,
        desc: str,
        unit: str = "frame",
        enabled: bool = True,
        stream: IO[str] | None = None,
        interval: float | None = None,
    ) -> None:
        self.total = total
        self.desc = desc
        self.unit = unit
        self.done = 0
        self.stream = stream if stream is not None else sys.stderr
        self.interval = progress_interval() if interval is None else interval
        self._start = time.monotonic()
        self._last_line = self._start
        self._closed = False
        self._bar: Any = None
        self._lines = enabled and not _is_terminal(self.stream)
        if enabled and not self._lines:
            from tqdm import tqdm

            self._bar = tqdm(total=total, unit=unit, desc=desc, file=self.stream, dynamic_ncols=True)

    def update(self, n: int = 1) -> None:
        """Count ``n`` more items."""
        self.done += n
        if self._bar is not None:
            self._bar.update(n)
        elif self._lines:
            now = time.monotonic()
            if now - self._last_line >= self.interval:
                self._last_line = now
                self._write(now)

    def line(self, now: float | None = None) -> str:
        """The plain progress line for the current count."""
        elapsed = (time.monotonic() if now is None else now) - self._start
        rate = self.done / elapsed if elapsed > 0 else 0.0
        of = f"/{self.total}" if self.total is not None else ""
        share = f" ({100 * self.done / self.total:.1f} %)" if self.total else ""
        return f"{self.desc}: {self.done}{of} {self.unit}s{share}, {rate:.1f} {self.unit}s/s, {elapsed:.1f} s"

    def _write(self, now: float | None = None) -> None:
        self.stream.write(self.line(now) + "\n")
        self.stream.flush()

    def close(self) -> None:
        """Finish the bar, or write a last plain line (when any item was counted)."""
        if self._closed:
            return
        self._closed = True
        if self._bar is not None:
            self._bar.close()
        elif self._lines and self.done:
            self._write()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
