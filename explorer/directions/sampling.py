"""Sampling w in batches, reproducibly, and measuring spreads along directions.

Fitting and measuring use separate random streams of the same seed: a sigma measured on the very
samples a direction was fitted to would be biased upwards (the fit chases their variance).
"""

from __future__ import annotations

import math
from typing import Iterator

import numpy as np
import torch

from explorer.directions.progress import StepCounter
from explorer.errors import ExplorerError
from explorer.model import Model

FIT_STREAM = 0
SIGMA_STREAM = 1
DEFAULT_BATCH = 4096


def batch_sizes(count: int, batch: int, minimum: int = 1) -> list[int]:
    """Near-equal chunks of at most `batch` (when possible) and at least `minimum` that sum to `count`."""
    chunks = max(1, min(math.ceil(count / max(batch, 1)), count // max(minimum, 1)))
    base, extra = divmod(count, chunks)
    return [base + (i < extra) for i in range(chunks)]


def class_batch(model: Model, n: int, rng: np.random.Generator, class_idx: int | None) -> torch.Tensor | None:
    """Labels for a conditional model: the given class, else classes drawn uniformly."""
    if model.c_dim == 0:
        return None
    if class_idx is not None:
        return model.class_vector(class_idx, n)
    c = torch.zeros(n, model.c_dim)
    c[torch.arange(n), torch.from_numpy(rng.integers(0, model.c_dim, n))] = 1
    return c.to(model.device)


@torch.no_grad()
def sampled_w(model: Model, sizes: list[int], seed: int, stream: int,
              class_idx: int | None = None) -> Iterator[np.ndarray]:
    """Batches of w ([n, w_dim] float32, untruncated) for z drawn from (seed, stream)."""
    rng = np.random.default_rng([int(seed), int(stream)])
    for n in sizes:
        z = torch.from_numpy(rng.standard_normal((n, model.z_dim), dtype=np.float32))
        c = class_batch(model, n, rng, class_idx)
        yield model.map(z.to(model.device), c)[:, 0].float().cpu().numpy()


def projection_sigmas(model: Model, vectors: np.ndarray, count: int, seed: int,
                      counter: StepCounter, class_idx: int | None = None,
                      batch: int = DEFAULT_BATCH) -> tuple[np.ndarray, np.ndarray]:
    """(std of fresh w projected on each row of `vectors` [k], mean of those w [w_dim])."""
    if count < 2:
        raise ExplorerError(f"measuring sigmas needs at least 2 samples, not {count}")
    v = np.asarray(vectors, dtype=np.float64)
    n_total = 0
    sum_w = np.zeros(v.shape[1])
    sum_p = np.zeros(v.shape[0])
    sum_p2 = np.zeros(v.shape[0])
    for w in sampled_w(model, batch_sizes(count, batch), seed, SIGMA_STREAM, class_idx):
        w = w.astype(np.float64)
        p = w @ v.T
        n_total += len(w)
        sum_w += w.sum(0)
        sum_p += p.sum(0)
        sum_p2 += np.square(p).sum(0)
        counter.advance(len(w), "measuring sigmas")
    mean_p = sum_p / n_total
    var = np.maximum(sum_p2 / n_total - np.square(mean_p), 0.0)
    return np.sqrt(var).astype(np.float32), (sum_w / n_total).astype(np.float32)
