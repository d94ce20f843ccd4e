"""What the training loop measures: running loss statistics and the top singular value per layer.

Statistics are summed on the device and only read back once per tick, so measuring never
makes a step wait for the GPU. The top singular value of each weight matrix (a conv kernel is
read as [out, in * k * k]) shows layers whose scale runs away before the losses do.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn


class RunningStats:
    """Sums of named scalars since the last `collect`, reduced over ranks when asked."""

    def __init__(self) -> None:
        self._sums: dict[str, torch.Tensor] = {}

    def add(self, name: str, value: torch.Tensor) -> None:
        value = value.detach().float().mean()
        pair = torch.stack([value, torch.ones([], device=value.device)])
        if name in self._sums:
            self._sums[name] += pair
        else:
            self._sums[name] = pair

    def collect(self, all_reduce_sum: Callable[[torch.Tensor], None] | None = None) -> dict[str, float]:
        """Means since the last call (over all ranks), then start afresh."""
        names = sorted(self._sums)
        if not names:
            return {}
        packed = torch.stack([self._sums[n] for n in names])
        if all_reduce_sum is not None:
            all_reduce_sum(packed)
        self._sums.clear()
        return {n: float(s / max(float(c), 1.0)) for n, (s, c) in zip(names, packed.cpu(), strict=True)}


@torch.no_grad()
def top_singular_values(net: nn.Module, prefix: str) -> dict[str, float]:
    """layer name -> largest singular value of its weight, as the layer applies it (times its gain).

    Modulated convolutions report their stored kernel: demodulation rescales it per sample,
    so only its changes over time mean something.
    """
    out: dict[str, float] = {}
    for name, module in net.named_modules():
        weight = getattr(module, "weight", None)
        if not isinstance(weight, nn.Parameter) or weight.ndim < 2:
            continue
        matrix = weight.detach().float().reshape(weight.shape[0], -1)
        gain = float(getattr(module, "weight_gain", 1.0))
        sigma = torch.linalg.matrix_norm(matrix, ord=2)
        out[f"{prefix}.{name}"] = round(float(sigma) * gain, 5)
    return out
