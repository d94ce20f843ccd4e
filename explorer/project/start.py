"""Where optimisation starts: w's statistics, and a cheap search over typical regions of W.

Starting from w_avg makes every projection begin at the same blurry average face; the centre of
the k-means cluster of W that already looks most like the target saves a large share of steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from explorer.model import Model


@dataclass(frozen=True)
class WStatistics:
    """Sampled w ([N, w_dim]), their mean ([1, w_dim]) and their spread (a scalar, as NVIDIA's)."""

    samples: torch.Tensor
    mean: torch.Tensor
    std: float


@torch.no_grad()
def sample_w(model: Model, count: int, c: torch.Tensor | None, seed: int, batch: int = 2048) -> torch.Tensor:
    """`count` w for reproducible random z (and the given label), [count, w_dim] on the model's device."""
    generator = torch.Generator().manual_seed(seed)
    out = []
    for start in range(0, count, batch):
        n = min(batch, count - start)
        z = torch.randn(n, model.z_dim, generator=generator).to(model.device)
        out.append(model.map(z, None if c is None else c.expand(n, -1))[:, 0])
    return torch.cat(out)


def w_statistics(model: Model, count: int, c: torch.Tensor | None, seed: int) -> WStatistics:
    samples = sample_w(model, count, c, seed)
    mean = samples.mean(0, keepdim=True)
    std = float((samples - mean).square().sum(1).mean().sqrt())
    return WStatistics(samples, mean, std)


@torch.no_grad()
def kmeans_centres(samples: torch.Tensor, clusters: int, seed: int, iterations: int = 30) -> torch.Tensor:
    """Centres of k-means over sampled w: typical, distinct regions of W ([K, w_dim]).

    Lloyd's algorithm from a k-means++ start, on the samples' device: a few milliseconds, where
    importing scikit-learn alone takes seconds.
    """
    x = samples.float()
    k = min(clusters, len(x))
    generator = torch.Generator().manual_seed(seed)
    chosen = [int(torch.randint(len(x), (1,), generator=generator))]
    nearest = (x - x[chosen[0]]).square().sum(1)
    for _ in range(1, k):  # k-means++: far-away points are likelier to seed the next cluster
        i = int(torch.multinomial((nearest / nearest.sum()).cpu(), 1, generator=generator))
        chosen.append(i)
        nearest = torch.minimum(nearest, (x - x[i]).square().sum(1))
    centres = x[chosen].clone()
    for _ in range(iterations):
        assign = (centres.square().sum(1) - 2 * x @ centres.T).argmin(1)  # nearest, without |x|^2
        counts = torch.bincount(assign, minlength=k).unsqueeze(1)
        sums = torch.zeros_like(centres).index_add_(0, assign, x)
        updated = torch.where(counts > 0, sums / counts.clamp(min=1), centres)
        if torch.equal(updated, centres):
            break
        centres = updated
    return centres


@torch.no_grad()
def best_candidate(candidates: torch.Tensor, score: Callable[[torch.Tensor], torch.Tensor],
                   batch: int = 4) -> tuple[int, torch.Tensor]:
    """Index of the lowest-scoring w among `candidates` [K, w_dim], and every score ([K])."""
    scores = torch.cat([score(candidates[i:i + batch]) for i in range(0, len(candidates), batch)])
    return int(scores.argmin()), scores
