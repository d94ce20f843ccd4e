"""Per-pixel distances: cheap, exact on colour, blind to structure."""

from __future__ import annotations

import torch


class PixelL1:
    """Mean absolute difference: robust to a few badly fitting pixels."""

    def __init__(self, target: torch.Tensor) -> None:
        self.target = target

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        return (images - self.target).abs().flatten(1).mean(1)


class PixelMSE:
    """Mean squared difference: what PSNR measures."""

    def __init__(self, target: torch.Tensor) -> None:
        self.target = target

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        return (images - self.target).square().flatten(1).mean(1)
