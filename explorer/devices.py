"""Pick the compute device: cuda, else mps, else cpu, unless the user names one."""

from __future__ import annotations

import torch

from explorer.errors import InputError

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")


def _mps_available() -> bool:
    return getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()


def resolve_device(name: str | torch.device | None = "auto") -> torch.device:
    """A usable torch.device for "auto", "cpu", "cuda", "cuda:N", "mps" or a torch.device.

    Anything else, or a device this machine lacks, is a one-line InputError (torch's own
    message for "banana" runs to a list of every backend it knows).
    """
    if name is None or name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps") if _mps_available() else torch.device("cpu")
    if isinstance(name, torch.device):
        device = name
    elif isinstance(name, str):
        try:
            device = torch.device(name)
        except (RuntimeError, ValueError):
            raise InputError(f"unknown device {name!r}; use auto, cpu, cuda, cuda:N or mps") from None
    else:
        raise InputError(f"device must be a name such as cpu or cuda, not {type(name).__name__}")
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise InputError("device cuda was asked for but no CUDA GPU is available; use cpu")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise InputError(f"device {device} does not exist: this machine has "
                             f"{torch.cuda.device_count()} CUDA GPU(s)")
    elif device.type == "mps":
        if not _mps_available():
            raise InputError("device mps was asked for but MPS is not available; use cpu")
    elif device.type != "cpu":
        raise InputError(f"device {str(device)!r} is not supported; use auto, cpu, cuda, cuda:N or mps")
    return device
