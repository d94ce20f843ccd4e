"""Time left, as the progress lines of the Train and Projection panels show it."""

from __future__ import annotations


def format_duration(seconds: float) -> str:
    """'1h 05m' for long waits, '3m 07s' for short ones."""
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h {seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m {seconds % 60:02d}s"
