"""Seeded latents and batched renders shared by the checks.

Seeds draw z exactly as the app and `generate` do (`Model.z_from_seed`), so a finding's seed
opens the very picture the doctor looked at. Renders go in small batches, each counted on the
`StepCounter`, so progress moves and a cancel is seen between batches.
"""

from __future__ import annotations

from typing import Iterator

import torch

from explorer.directions.progress import StepCounter
from explorer.model import Model

BATCH = 8


def seed_ws(model: Model, seeds: list[int], psi: float = 1.0) -> torch.Tensor:
    """W+ [N, num_ws, w_dim] of `seeds`; conditional models take class seed % c_dim."""
    z = torch.cat([model.z_from_seed(s) for s in seeds])
    c = None
    if model.c_dim:
        c = torch.zeros(len(seeds), model.c_dim, device=model.device)
        c[torch.arange(len(seeds)), torch.tensor([s % model.c_dim for s in seeds])] = 1
    return model.map(z, c, psi=psi)


def batches(ws: torch.Tensor, size: int = BATCH) -> Iterator[torch.Tensor]:
    for start in range(0, len(ws), size):
        yield ws[start:start + size]


@torch.no_grad()
def render(model: Model, ws: torch.Tensor, counter: StepCounter | None, message: str,
           **synthesize: object) -> torch.Tensor:
    """Images [N, C, H, W] (native range) of `ws`, batch by batch, one counter step per image."""
    out = []
    for chunk in batches(ws):
        out.append(model.synthesize(chunk, **synthesize).cpu())
        if counter is not None:
            counter.advance(len(chunk), message)
    return torch.cat(out)


def rgb3(images: torch.Tensor) -> torch.Tensor:
    """Images with exactly three channels (gray repeated), for feature nets and pictures."""
    if images.shape[1] == 3:
        return images
    if images.shape[1] == 1:
        return images.repeat(1, 3, 1, 1)
    return images[:, :3]
