"""A take: what the app showed while the user worked, turned into frames at a steady rate.

The app records (time, state) each time a new picture reaches the screen. Frame k of the video
shows the state on screen at time k / fps after the first picture, so the take plays back at
the speed it was made, whatever the render speed was; each state is rendered again in full
when the take is exported (a low-resolution preview on screen becomes the real picture).
"""

from __future__ import annotations

import bisect
import math
from typing import Sequence

from explorer.errors import InputError
from explorer.latent.state import LatentState

MAX_TAKE_FRAMES = 100_000


def take_frames(shown: Sequence[tuple[float, LatentState]], end: float, fps: int) -> list[LatentState]:
    """States at 0, 1/fps, 2/fps, ... from the first shown picture until `end` (at least one)."""
    if not shown:
        raise InputError("nothing was recorded: no picture reached the screen while recording")
    times = [t for t, _ in shown]
    if any(b < a for a, b in zip(times, times[1:])):
        raise InputError("a take's times must not go backwards")
    start = times[0]
    count = max(1, math.floor((max(end, start) - start) * fps) + 1)
    if count > MAX_TAKE_FRAMES:
        raise InputError(f"this take is {count:,} frames at {fps} fps; at most {MAX_TAKE_FRAMES:,}")
    return [shown[bisect.bisect_right(times, start + k / fps) - 1][1] for k in range(count)]
