"""Choose between a fused CUDA kernel and the PyTorch reference for one call.

The reference is always correct; a fused kernel is only an optimisation. Kernels register
themselves here once they have been compiled and loaded, so callers never import CUDA code.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Callable, Iterator

import torch

_fused_kernels: dict[str, Callable] = {}

# Per-thread switch set by `reference_only`. Thread-local so that a benchmark or a kernel's own
# fallback in one thread never changes what another thread (the renderer, say) runs.
_local = threading.local()


def register_fused(op_name: str, kernel: Callable) -> None:
    """Make a compiled kernel available for `op_name` (called by the kernel loader)."""
    _fused_kernels[op_name] = kernel


def fused_kernel(op_name: str, x: torch.Tensor) -> Callable | None:
    """The fused kernel for `op_name` when `x` lives on CUDA and one is loaded, else None."""
    if x.device.type != "cuda" or reference_requested():
        return None
    return _fused_kernels.get(op_name)


def cpu_inference(x: torch.Tensor) -> bool:
    """Float32 CPU work without autograd recording, outside `reference_only`: where the CPU
    inference paths (StyleGAN2's `sg2_fast`, the folded fully connected layers) may run."""
    return (x.device.type == "cpu" and x.dtype == torch.float32 and not torch.is_grad_enabled()
            and not reference_requested())


def reference_requested() -> bool:
    """Whether this thread is inside `reference_only` (other fast paths honour it too)."""
    return getattr(_local, "reference_only", False)


@contextmanager
def reference_only() -> Iterator[None]:
    """Within the block, in this thread, every op runs its PyTorch reference, even on CUDA.

    Fused kernels use it to fall back for arguments they do not handle; benchmarks and tests use
    it to run the reference on the same device as the kernels.
    """
    previous = getattr(_local, "reference_only", False)
    _local.reference_only = True
    try:
        yield
    finally:
        _local.reference_only = previous
