"""Render lists of seeds to uint8 images, a batch at a time: `stylegan-explorer generate` and the benches."""

from __future__ import annotations

from typing import Iterator, Sequence

import numpy as np
import torch

from explorer.errors import ExplorerError
from explorer.latent.compose import DirectionLookup, apply_edits
from explorer.latent.state import DirectionEdit
from explorer.model import Model, to_uint8


def iter_images(model: Model, seeds: Sequence[int], psi: float = 1.0, cutoff: int | None = None,
                class_idx: int | None = None, noise_mode: str = "const",
                translate: tuple[float, float] = (0.0, 0.0), rotate: float = 0.0,
                edits: Sequence[DirectionEdit] = (), directions: DirectionLookup | None = None,
                batch_size: int = 8) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """(seed, uint8 image [H, W, C], its final W+ [num_ws, w_dim]) for `seeds`, in order, a batch
    at a time (memory stays flat)."""
    if cutoff is not None and not 0 <= cutoff <= model.num_ws:
        raise ExplorerError(f"--cutoff must be between 0 and num_ws={model.num_ws}")
    if noise_mode == "random":
        batch_size = 1  # each image's noise comes from its own seed, whatever the batching
    for start in range(0, len(seeds), batch_size):
        chunk = seeds[start:start + batch_size]
        z = torch.cat([model.z_from_seed(s) for s in chunk])
        c = model.class_vector(class_idx, len(chunk))
        ws = apply_edits(model, model.map(z, c, psi=psi, cutoff=cutoff), edits, directions)
        img = model.synthesize(ws, noise_mode=noise_mode, noise_seed=chunk[0],
                               translate=translate, rotate=rotate)
        yield from zip(chunk, to_uint8(img), ws.detach().float().cpu().numpy())


def generate_images(model: Model, seeds: Sequence[int], **settings) -> np.ndarray:
    """uint8 images [N, H, W, C] for `seeds`, in the same order (all held in memory)."""
    return np.stack([img for _, img, _ in iter_images(model, seeds, **settings)])
