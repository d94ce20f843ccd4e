"""Render seeds to images headlessly: the engine behind `stylegan-explorer generate`."""

from __future__ import annotations

import re
from typing import Sequence

import numpy as np
import torch

from explorer.errors import ExplorerError
from explorer.latent.compose import DirectionLookup, apply_edits
from explorer.latent.state import DirectionEdit
from explorer.model import Model, to_uint8


def parse_seeds(text: str) -> list[int]:
    """'0-3,7,10-11' -> [0, 1, 2, 3, 7, 10, 11]."""
    seeds: list[int] = []
    for part in text.split(","):
        part = part.strip()
        m = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if not m:
            raise ExplorerError(f"bad seed list {text!r}: use numbers and ranges like 0-7,12")
        lo = int(m.group(1))
        hi = int(m.group(2)) if m.group(2) else lo
        if hi < lo:
            raise ExplorerError(f"bad seed range {part!r}: the end is before the start")
        seeds.extend(range(lo, hi + 1))
    return seeds


def parse_pair(text: str, what: str) -> tuple[float, float]:
    try:
        x, y = (float(v) for v in text.split(","))
    except ValueError:
        raise ExplorerError(f"{what} must be two numbers like 0.1,-0.2, not {text!r}") from None
    return x, y


def generate_images(model: Model, seeds: Sequence[int], psi: float = 1.0, cutoff: int | None = None,
                    class_idx: int | None = None, noise_mode: str = "const",
                    translate: tuple[float, float] = (0.0, 0.0), rotate: float = 0.0,
                    edits: Sequence[DirectionEdit] = (), directions: DirectionLookup | None = None,
                    batch_size: int = 8) -> np.ndarray:
    """uint8 images [N, H, W, C] for `seeds`, in the same order."""
    if cutoff is not None and not 0 <= cutoff <= model.num_ws:
        raise ExplorerError(f"--cutoff must be between 0 and num_ws={model.num_ws}")
    if noise_mode == "random":
        batch_size = 1  # each image's noise comes from its own seed, whatever the batching
    out = []
    for start in range(0, len(seeds), batch_size):
        chunk = seeds[start:start + batch_size]
        z = torch.cat([model.z_from_seed(s) for s in chunk])
        c = model.class_vector(class_idx, len(chunk))
        ws = apply_edits(model, model.map(z, c, psi=psi, cutoff=cutoff), edits, directions)
        img = model.synthesize(ws, noise_mode=noise_mode, noise_seed=chunk[0],
                               translate=translate, rotate=rotate)
        out.append(to_uint8(img))
    return np.concatenate(out)
