"""Options several subcommands share, so they read and behave the same everywhere."""

from __future__ import annotations

import argparse

from explorer.devices import DEVICE_CHOICES


def add_device(p: argparse.ArgumentParser, what: str = "run") -> None:
    """`--device auto|cpu|cuda|mps`, resolved later by `devices.resolve_device`."""
    p.add_argument("--device", default="auto", choices=DEVICE_CHOICES,
                   help=f"where to {what} (auto: cuda, else mps, else cpu)")


def check_against_model(model, cutoff: int | None, moves_input: bool, moves_flags: str) -> None:
    """The checks that need the loaded model, the same for every rendering subcommand.

    A StyleGAN2 model has no input grid to move, so a translation or rotation would be silently
    ignored: that is an error, not a picture that looks as if it worked.
    """
    from explorer.errors import InputError
    if cutoff is not None and cutoff > model.num_ws:
        raise InputError(f"--cutoff must be between 0 and num_ws={model.num_ws}, not {cutoff}")
    if moves_input and model.architecture != "stylegan3":
        raise InputError(f"{moves_flags} move a StyleGAN3 model's input grid; this is a "
                         f"{model.architecture} model, which has none")
