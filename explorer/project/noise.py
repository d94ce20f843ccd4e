"""StyleGAN2 noise maps as optimisation variables, and the penalty that keeps them noise-like.

Left free, noise maps would happily encode the target's details and leave w unused; penalising
their autocorrelation at every scale keeps them white, so the picture must come from w.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

NOISE_BUFFER = "noise_const"


def noise_buffers(synthesis: torch.nn.Module) -> dict[str, torch.Tensor]:
    """Every per-layer constant noise map of a synthesis network, by buffer name (empty for SG3)."""
    return {name: buf for name, buf in synthesis.named_buffers() if name.endswith(NOISE_BUFFER)}


def autocorrelation_penalty(maps: list[torch.Tensor], min_side: int = 8) -> torch.Tensor:
    """Sum over maps and scales of the squared one-pixel autocorrelation along x and y."""
    total = maps[0].new_zeros(())
    for noise in maps:
        v = noise.reshape(1, 1, *noise.shape[-2:])
        while True:
            total = total + (v * v.roll(1, dims=3)).mean().square() + (v * v.roll(1, dims=2)).mean().square()
            if v.shape[-1] <= min_side:
                break
            v = F.avg_pool2d(v, 2)
    return total


@torch.no_grad()
def renormalize(maps: list[torch.Tensor]) -> None:
    """Zero mean, unit variance: the statistics the generator was trained with."""
    for v in maps:
        v.sub_(v.mean()).mul_((v.square().mean() + 1e-12).rsqrt())
