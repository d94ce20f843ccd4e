"""Choose between a fused CUDA kernel and the PyTorch reference for one call.

The reference is always correct; a fused kernel is only an optimisation. Kernels register
themselves here once they have been compiled and loaded, so callers never import CUDA code.
"""

from __future__ import annotations

from typing import Callable

import torch

_fused_kernels: dict[str, Callable] = {}


def register_fused(op_name: str, kernel: Callable) -> None:
    """Make a compiled kernel available for `op_name` (called by the kernel loader)."""
    _fused_kernels[op_name] = kernel


def fused_kernel(op_name: str, x: torch.Tensor) -> Callable | None:
    """The fused kernel for `op_name` when `x` lives on CUDA and one is loaded, else None."""
    if x.device.type != "cuda":
        return None
    return _fused_kernels.get(op_name)
