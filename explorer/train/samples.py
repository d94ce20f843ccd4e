"""Sample grids: the same latents every time, so successive grids show how the model evolves."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from explorer.fileio import image_grid, save_png
from explorer.model import to_uint8


def grid_shape(resolution: int) -> tuple[int, int]:
    """(columns, rows): about 1024 px wide, at least 4 and at most 16 images across."""
    cols = int(np.clip(1024 // resolution, 4, 16))
    return cols, max(cols // 2, 2)


def fixed_latents(G: nn.Module, count: int, labels: torch.Tensor, seed: int,
                  device: torch.device) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(z, c) for the grid, drawn from their own generator so training randomness is untouched."""
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn([count, G.z_dim], generator=gen).to(device)
    if G.c_dim == 0:
        return z, None
    idx = torch.randint(0, labels.shape[0], [count], generator=gen)
    return z, labels[idx].to(device)


@torch.no_grad()
def save_fake_grid(path: Path, G_ema: nn.Module, z: torch.Tensor, c: torch.Tensor | None, cols: int,
                   batch: int = 16) -> None:
    images = []
    for i in range(0, z.shape[0], batch):
        ci = None if c is None else c[i:i + batch]
        images.append(to_uint8(G_ema(z[i:i + batch], ci, noise_mode="const")))
    save_png(path, image_grid(np.concatenate(images), cols=cols))


def save_real_grid(path: Path, images: torch.Tensor, cols: int) -> None:
    """uint8 [N, C, H, W] dataset images as one grid."""
    save_png(path, image_grid(images.permute(0, 2, 3, 1).cpu().numpy(), cols=cols))
