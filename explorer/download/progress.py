"""How far a download is, how fast it goes and how long it has left, for the app and the CLI.

The rate is measured over the last few seconds, not since the start, so the time left follows a
connection that speeds up or slows down. Numbers are written the way tqdm writes them, so the
app's line and the terminal's bar read alike.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from typing import Callable

from tqdm import tqdm

RATE_WINDOW_S = 3.0


def format_bytes(n: float) -> str:
    """'512 B', '1.50kB', '23.5MB' (binary multiples); whole bytes below 1 kB, not '0.00B'."""
    return f"{n:.0f} B" if n < 999.5 else tqdm.format_sizeof(n, suffix="B", divisor=1024)


@dataclass(frozen=True)
class TransferProgress:
    done: int                    # bytes on disk, including those from before a resume
    total: int | None            # None when the server does not say
    rate: float                  # bytes per second, recent
    seconds_left: float | None
    resumed_from: int = 0        # bytes that were already there when this transfer started

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 0.0

    def describe(self) -> str:
        """e.g. '12.3MB of 300MB, 45.1MB/s, 00:06 left' (one line for a status bar)."""
        text = format_bytes(self.done) + (f" of {format_bytes(self.total)}" if self.total else "")
        if self.rate > 0:
            text += f", {format_bytes(self.rate)}/s"
        if self.seconds_left is not None:
            text += f", {tqdm.format_interval(self.seconds_left)} left"
        if self.resumed_from:
            text += f" (resumed at {format_bytes(self.resumed_from)})"
        return text


OnProgress = Callable[[TransferProgress], None]


class RateMeter:
    """Turns (bytes done, time) samples into a recent rate and an estimate of the time left."""

    def __init__(self, start: int, total: int | None, clock: Callable[[], float] = time.monotonic) -> None:
        self.start, self.total, self._clock = start, total, clock
        self._samples: deque[tuple[float, int]] = deque([(clock(), start)])

    def update(self, done: int) -> TransferProgress:
        now = self._clock()
        self._samples.append((now, done))
        while len(self._samples) > 2 and now - self._samples[1][0] >= RATE_WINDOW_S:
            self._samples.popleft()
        t0, d0 = self._samples[0]
        rate = (done - d0) / (now - t0) if now > t0 else 0.0
        left = None
        if self.total is not None and rate > 0:
            left = max(self.total - done, 0) / rate
        return TransferProgress(done, self.total, rate, left, self.start)
