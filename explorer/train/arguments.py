"""Checks on `train` and `dataset` arguments, made before a dataset is prepared or a network built.

argparse takes `--kimg nan`, `--batch 0` or `--resolution 0` (which used to mean "infer it")
as valid numbers; each would fail, or silently do something else, minutes later. These checks
run first and raise one-line `InputError`s naming the flag and its range.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

from explorer.errors import InputError
from explorer.cli_values import SEED_LIMIT, number_text, range_text
from explorer.outputs import check_writable_folder
from explorer.train.dataset import check_resolution_fits
from explorer.train.dataset_source import ImageSource

MAX_RESOLUTION = 4096

# flag -> (attribute, low, high, whole number?, low excluded?)
_NUMBERS: dict[str, tuple[str, float, float, bool, bool]] = {
    "--kimg": ("kimg", 0, 1e9, False, True),
    "--batch": ("batch", 1, 65536, True, False),
    "--gamma": ("gamma", 0, 1e6, False, False),
    "--lr": ("lr", 0, 1.0, False, True),
    "--ema-kimg": ("ema_kimg", 0, 1e9, False, True),
    "--cbase": ("channel_base", 1, 2**24, True, False),
    "--cmax": ("channel_max", 1, 4096, True, False),
    "--z-dim": ("z_dim", 1, 4096, True, False),
    "--map": ("map_layers", 1, 64, True, False),
    "--aug-p": ("augment_p", 0, 1, False, False),
    "--target": ("ada_target", 0, 1, False, True),
    "--tick": ("tick_kimg", 0, 1e9, False, True),
    "--sample-every": ("sample_kimg", 0, 1e9, False, True),
    "--snap": ("snap_kimg", 0, 1e9, False, True),
    "--seed": ("seed", 0, SEED_LIMIT - 1, True, False),
    "--workers": ("workers", 0, 256, True, False),
    "--count": ("count", 1, 10_000_000, True, False),
}


def _check_number(flag: str, value: Any, low: float, high: float, whole: bool, open_low: bool) -> None:
    if whole and (isinstance(value, bool) or not isinstance(value, int)):
        raise InputError(f"{flag} must be a whole number, not {value!r}")
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InputError(f"{flag} must be a finite number, not {value!r}")
    if value < low or (open_low and value == low) or value > high:
        raise InputError(f"{flag} must be {range_text(low, high, open_low)}, not {number_text(value)}")


def check_resolution(value: Any, flag: str = "--resolution") -> None:
    """None (take it from the data) or a power of two from 8 to MAX_RESOLUTION; never 0."""
    if value is None:
        return
    if not isinstance(value, int) or isinstance(value, bool) or not 8 <= value <= MAX_RESOLUTION \
            or value & (value - 1):
        raise InputError(f"{flag} must be a power of two from 8 to {MAX_RESOLUTION}, not {value}")


def check_numbers(args: argparse.Namespace) -> None:
    for flag, (name, low, high, whole, open_low) in _NUMBERS.items():
        value = getattr(args, name, None)
        if value is not None:
            _check_number(flag, value, low, high, whole, open_low)
    check_resolution(getattr(args, "resolution", None))


def check_train_args(args: argparse.Namespace) -> None:
    """Values, the dataset path and the run folder, before anything is prepared or built."""
    check_numbers(args)
    if args.data is not None:
        if not Path(args.data).exists():
            raise InputError(f"no such dataset: {args.data}")
        if args.resolution is not None:
            with ImageSource(args.data) as source:
                check_resolution_fits(source, args.resolution)
    check_writable_folder(Path(args.out))
    if getattr(args, "cache_dir", None):
        check_writable_folder(Path(args.cache_dir), "--cache-dir")


def check_dataset_args(args: argparse.Namespace) -> None:
    """`dataset avatars` / `dataset prepare`: values, input and output folders."""
    check_numbers(args)
    if args.dataset_command == "avatars":
        check_writable_folder(Path(args.out))
        if (Path(args.out) / "manifest.json").exists() and not args.force:
            raise InputError(f"{args.out} already holds a dataset; pass --force to render over it, "
                             "or choose another --out")
    else:
        if not Path(args.data).exists():
            raise InputError(f"no such dataset: {args.data}")
        if args.resolution is not None:
            with ImageSource(args.data) as source:
                check_resolution_fits(source, args.resolution)
        if args.cache_dir:
            check_writable_folder(Path(args.cache_dir), "--cache-dir")
