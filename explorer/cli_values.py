"""Checks on command-line values, so a bad value is refused before anything loads.

argparse accepts `--psi nan`, `--steps -5` or `--seed 99999999999` as valid numbers; the `type=`
functions here refuse them at parse time with a message naming the allowed range. Lists
(`parse_seeds`, `parse_pair`) raise `InputError` instead, so the same text typed into the app
gets the same one-line message.
"""

from __future__ import annotations

import argparse
import math
import re
from typing import Callable

from explorer.errors import InputError

SEED_LIMIT = 2**32  # numpy's RandomState, which draws z, takes seeds below this
MAX_APP_SEED = 2**31 - 1  # the app's seed boxes are imgui's 32-bit signed integer widgets
MAX_SEEDS = 1_000_000


def finite_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, not {text!r}")
    return value


def number_text(x: float) -> str:
    """A bound or value as people write it: 10, not 10.0; 0.5 as 0.5."""
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def range_text(low: float, high: float | None = None, open_low: bool = False) -> str:
    """The allowed range in words, for "must be ...": "from 0 to 1", "above 0 and at most 10",
    "at least 1"; the one wording of every range check (CLI flags, settings, checkpoints)."""
    if open_low:
        return f"above {number_text(low)}" + ("" if high is None else f" and at most {number_text(high)}")
    return f"at least {number_text(low)}" if high is None else f"from {number_text(low)} to {number_text(high)}"


def float_in(low: float, high: float | None = None, open_low: bool = False) -> Callable[[str], float]:
    """A finite float in [low, high] ((low, high] with open_low)."""
    def parse(text: str) -> float:
        value = finite_float(text)
        if value < low or (open_low and value == low) or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"must be {range_text(low, high, open_low)}, not {text}")
        return value
    return parse


def int_in(low: int, high: int | None = None) -> Callable[[str], int]:
    """A whole number in [low, high]."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"must be {range_text(low, high)}, not {value}")
        return value
    return parse


def power_of_two(low: int, high: int) -> Callable[[str], int]:
    """A power of two in [low, high] (image resolutions)."""
    whole = int_in(low, high)

    def parse(text: str) -> int:
        value = whole(text)
        if value & (value - 1):
            raise argparse.ArgumentTypeError(f"must be a power of two from {low} to {high}, not {value}")
        return value
    return parse


seed_value = int_in(0, SEED_LIMIT - 1)
app_seed_value = int_in(0, MAX_APP_SEED)


def parse_seeds(text: str, repeats: bool = False, limit: int | None = None,
                what: str = "seeds") -> list[int]:
    """'0-3,7,10-11' -> [0, 1, 2, 3, 7, 10, 11]; each seed below 2**32. None twice, unless
    `repeats` (a video's keyframes may come back to a seed); at most `limit` (default MAX_SEEDS)."""
    limit = MAX_SEEDS if limit is None else limit
    ranges: list[tuple[int, int]] = []
    for part in text.split(","):
        part = part.strip()
        m = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if not m:
            raise InputError(f"bad seed list {text!r}: use numbers and ranges like 0-7,12")
        lo = int(m.group(1))
        hi = int(m.group(2)) if m.group(2) else lo
        if hi < lo:
            raise InputError(f"bad seed range {part!r}: the end is before the start")
        if hi >= SEED_LIMIT:
            raise InputError(f"seed {hi} is too large: seeds go from 0 to {SEED_LIMIT - 1} "
                             "(larger ones would repeat smaller ones)")
        ranges.append((lo, hi))
        if sum(b - a + 1 for a, b in ranges) > limit:
            raise InputError(f"--seeds {text} lists more than {limit:,} {what}; split the job")
    seeds = [s for lo, hi in ranges for s in range(lo, hi + 1)]
    if not repeats:
        seen: set[int] = set()
        for s in seeds:
            if s in seen:
                raise InputError(f"seed {s} is listed twice in {text!r}; its image would be written twice")
            seen.add(s)
    return seeds


def parse_pair(text: str, what: str) -> tuple[float, float]:
    """'0.1,-0.2' -> (0.1, -0.2): two finite numbers."""
    try:
        x, y = (float(v) for v in text.split(","))
    except ValueError:
        raise InputError(f"{what} must be two numbers like 0.1,-0.2, not {text!r}") from None
    if not (math.isfinite(x) and math.isfinite(y)):
        raise InputError(f"{what} must be two finite numbers, not {text!r}")
    return x, y
