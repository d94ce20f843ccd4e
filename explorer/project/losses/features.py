"""Distances between lists of feature maps, shared by the discriminator and ImageNet losses."""

from __future__ import annotations

import torch


def unit_channels(features: list[torch.Tensor], eps: float = 1e-8) -> list[torch.Tensor]:
    """Scale every pixel's channel vector to unit length (as LPIPS does), so each layer counts
    by the direction of its activations and no single loud layer dominates the sum."""
    return [f / (f.square().sum(1, keepdim=True) + eps).sqrt() for f in features]


def feature_distance(a: list[torch.Tensor], b: list[torch.Tensor]) -> torch.Tensor:
    """Mean over layers of the per-pixel squared distance of unit channel vectors; [N]."""
    per_layer = [(x - y).square().sum(1).flatten(1).mean(1) for x, y in zip(a, b)]
    return torch.stack(per_layer).mean(0)
