"""Render seeds to images headlessly: the engine behind `stylegan-explorer generate`."""

from __future__ import annotations

import math
import re
from typing import Iterator, Sequence

import numpy as np
import torch

from explorer.errors import ExplorerError, InputError
from explorer.latent.compose import DirectionLookup, apply_edits
from explorer.latent.state import DirectionEdit
from explorer.model import Model, to_uint8
from explorer.model_inputs import SEED_LIMIT

MAX_SEEDS = 1_000_000


def parse_seeds(text: str) -> list[int]:
    """'0-3,7,10-11' -> [0, 1, 2, 3, 7, 10, 11]; each seed below 2**32, none twice."""
    ranges: list[tuple[int, int]] = []
    for part in text.split(","):
        part = part.strip()
        m = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if not m:
            raise InputError(f"bad seed list {text!r}: use numbers and ranges like 0-7,12")
        lo = int(m.group(1))
        hi = int(m.group(2)) if m.group(2) else lo
        if hi < lo:
            raise InputError(f"bad seed range {part!r}: the end is before the start")
        if hi >= SEED_LIMIT:
            raise InputError(f"seed {hi} is too large: seeds go from 0 to {SEED_LIMIT - 1} "
                             "(larger ones would repeat smaller ones)")
        ranges.append((lo, hi))
    if sum(hi - lo + 1 for lo, hi in ranges) > MAX_SEEDS:
        raise InputError(f"--seeds {text} lists more than {MAX_SEEDS:,} seeds; split the job")
    seeds = [s for lo, hi in ranges for s in range(lo, hi + 1)]
    seen: set[int] = set()
    for s in seeds:
        if s in seen:
            raise InputError(f"seed {s} is listed twice in {text!r}; its image would be written twice")
        seen.add(s)
    return seeds


def parse_pair(text: str, what: str) -> tuple[float, float]:
    try:
        x, y = (float(v) for v in text.split(","))
    except ValueError:
        raise InputError(f"{what} must be two numbers like 0.1,-0.2, not {text!r}") from None
    if not (math.isfinite(x) and math.isfinite(y)):
        raise InputError(f"{what} must be two finite numbers, not {text!r}")
    return x, y


def iter_images(model: Model, seeds: Sequence[int], psi: float = 1.0, cutoff: int | None = None,
                class_idx: int | None = None, noise_mode: str = "const",
                translate: tuple[float, float] = (0.0, 0.0), rotate: float = 0.0,
                edits: Sequence[DirectionEdit] = (), directions: DirectionLookup | None = None,
                batch_size: int = 8) -> Iterator[tuple[int, np.ndarray]]:
    """(seed, uint8 image [H, W, C]) for `seeds`, in order, a batch at a time (memory stays flat)."""
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
        yield from zip(chunk, to_uint8(img))


def generate_images(model: Model, seeds: Sequence[int], **settings) -> np.ndarray:
    """uint8 images [N, H, W, C] for `seeds`, in the same order (all held in memory)."""
    return np.stack([img for _, img in iter_images(model, seeds, **settings)])
