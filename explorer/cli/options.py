"""Options several subcommands share, so they read and behave the same everywhere."""

from __future__ import annotations

import argparse

from explorer.devices import DEVICE_CHOICES


def add_device(p: argparse.ArgumentParser, what: str = "run") -> None:
    """`--device auto|cpu|cuda|mps`, resolved later by `devices.resolve_device`."""
    p.add_argument("--device", default="auto", choices=DEVICE_CHOICES,
                   help=f"where to {what} (auto: cuda, else mps, else cpu)")
