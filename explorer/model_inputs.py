"""Checks on the values callers hand the Model API, each failing with a one-line `InputError`.

A NaN in z, ws, psi or a transform goes through the networks without complaint and comes out
as a black image; a wrong W+ row count can come out as a feature map mistaken for the image;
an out-of-range cutoff is silently clipped by slicing. So every value is checked where it
enters, and the message says what was expected.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Sequence

import torch

from explorer.cli_values import SEED_LIMIT
from explorer.errors import InputError

NOISE_MODES = ("const", "random", "none")  # StyleGAN2 per-pixel noise: stored maps, fresh draws, or off


def finite_number(value: Any, name: str, low: float | None = None, high: float | None = None) -> float:
    """`value` as a float, refused unless it is a real, finite number within [low, high]."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InputError(f"{name} must be a number, not {type(value).__name__}")
    number = float(value)
    if not math.isfinite(number):
        raise InputError(f"{name} must be a finite number, not {number}")
    if (low is not None and number < low) or (high is not None and number > high):
        raise InputError(f"{name} must be between {low:g} and {high:g}, not {number:g}"
                         if low is not None and high is not None else
                         f"{name} must be at least {low:g}, not {number:g}" if low is not None else
                         f"{name} must be at most {high:g}, not {number:g}")
    return number


def whole_number(value: Any, name: str, low: int, high: int | None = None) -> int:
    """`value` as an int, refused unless it is a whole number (not a bool) within [low, high]."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InputError(f"{name} must be a whole number, not {type(value).__name__}")
    number = int(value)
    if number < low or (high is not None and number > high):
        bound = f"from {low} to {high}" if high is not None else f"of at least {low}"
        raise InputError(f"{name} must be a whole number {bound}, not {number}")
    return number


def seed(value: Any, name: str = "seed") -> int:
    """A seed numpy's RandomState accepts as it is: 0 <= seed < 2**32 (larger ones would wrap)."""
    return whole_number(value, name, 0, SEED_LIMIT - 1)


def noise_mode(value: Any) -> str:
    """One of NOISE_MODES."""
    if value not in NOISE_MODES:
        raise InputError(f"noise_mode must be one of {', '.join(NOISE_MODES)}, not {value!r}")
    return value


def cutoff(value: Any, num_ws: int) -> int | None:
    """None (truncate every W+ row) or how many leading rows to truncate, 0..num_ws."""
    return None if value is None else whole_number(value, "cutoff", 0, num_ws)


def latent(value: Any, name: str, shape: Sequence[int | None], integers_ok: bool = False) -> torch.Tensor:
    """A finite floating-point tensor of `shape` (None: any size >= 1 on that axis).

    `integers_ok` also admits integer tensors (one-hot labels are often built as ints).
    """
    if not isinstance(value, torch.Tensor):
        raise InputError(f"{name} must be a torch.Tensor of shape {_shape_text(shape)}, "
                         f"not {type(value).__name__}")
    if value.ndim != len(shape) or any(got != n if n is not None else got < 1
                                       for got, n in zip(value.shape, shape)):
        raise InputError(f"{name} must have shape {_shape_text(shape)}, not {list(value.shape)}")
    integer = value.dtype in (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8)
    if not (value.is_floating_point() or (integers_ok and integer)):
        raise InputError(f"{name} must be a floating-point tensor, not {value.dtype}")
    if not bool(torch.isfinite(value).all()):
        raise InputError(f"{name} holds NaN or infinite values")
    return value


def pair(value: Any, name: str) -> tuple[float, float]:
    """Two finite numbers, e.g. a translation (x, y)."""
    try:
        x, y = value
    except (TypeError, ValueError):
        raise InputError(f"{name} must be two numbers (x, y), not {value!r}") from None
    return finite_number(x, f"{name} x"), finite_number(y, f"{name} y")


def noise_gains(value: Any) -> dict[int, float] | None:
    """None, or {resolution: finite gain}."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InputError(f"noise gains must be a dict of resolution -> gain, not {type(value).__name__}")
    return {whole_number(r, "noise gain resolution", 1): finite_number(g, f"noise gain at {r} px")
            for r, g in value.items()}


def _shape_text(shape: Sequence[int | None]) -> str:
    return "[" + ", ".join("N" if n is None else str(n) for n in shape) + "]"
