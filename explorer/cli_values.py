"""argparse `type=` checks for numbers, so a bad value is a usage error before anything loads.

argparse accepts `--psi nan`, `--steps -5` or `--seed 99999999999` as valid numbers; these
types refuse them at parse time with a message naming the allowed range.
"""

from __future__ import annotations

import argparse
import math
from typing import Callable

SEED_LIMIT = 2**32


def finite_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, not {text!r}")
    return value


def float_in(low: float, high: float | None = None, open_low: bool = False) -> Callable[[str], float]:
    """A finite float in [low, high] ((low, high] with open_low)."""
    def parse(text: str) -> float:
        value = finite_float(text)
        if value < low or (open_low and value == low) or (high is not None and value > high):
            where = f"{'above' if open_low else 'at least'} {low:g}" + ("" if high is None else f" and at most {high:g}")
            raise argparse.ArgumentTypeError(f"must be {where}, not {text}")
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
            where = f"from {low} to {high}" if high is not None else f"at least {low}"
            raise argparse.ArgumentTypeError(f"must be {where}, not {value}")
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
