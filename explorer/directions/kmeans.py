"""k-means centres of W: typical regions of the latent space, to start from or pull towards.

A set of method "kmeans" keeps the centres themselves (`centres`) and, so that the same set also
works as edits, unit vectors from the samples' mean towards each centre with their sigmas.
"""

from __future__ import annotations

import numpy as np
import torch

from explorer.directions.directionset import DirectionSet
from explorer.directions.progress import StepCounter
from explorer.directions.sampling import (DEFAULT_BATCH, FIT_STREAM, batch_sizes, projection_sigmas,
                                          sampled_w)
from explorer.errors import ExplorerError
from explorer.jobs import Cancelled, Report
from explorer.latent.compose import apply_truncation
from explorer.latent.state import LatentState, encode_latent
from explorer.model import Model


def fit_kmeans(model: Model, clusters: int = 16, samples: int = 100_000, epochs: int = 3,
               sigma_samples: int = 10_000, seed: int = 0, class_idx: int | None = None,
               batch: int = DEFAULT_BATCH, name: str = "kmeans", report: Report | None = None,
               cancelled: Cancelled | None = None) -> DirectionSet:
    """MiniBatchKMeans over `samples` w, `epochs` shuffled passes of `batch` (one pass rarely settles)."""
    from sklearn.cluster import MiniBatchKMeans  # seconds to import: only when fitting

    k = int(clusters)
    if not 1 <= k <= samples:
        raise ExplorerError(f"k-means needs 1 <= clusters <= samples, not {k} clusters of {samples}")
    counter = StepCounter(samples * (1 + epochs) + sigma_samples, report, cancelled)
    parts = []
    for w in sampled_w(model, batch_sizes(samples, batch), seed, FIT_STREAM, class_idx):
        parts.append(w)
        counter.advance(len(w), "sampling W")
    x = np.concatenate(parts)
    kmeans = MiniBatchKMeans(n_clusters=k, random_state=seed, n_init=1)
    rng = np.random.default_rng([int(seed), 2])
    sizes = batch_sizes(samples, batch, minimum=k)
    for epoch in range(epochs):
        order = rng.permutation(samples)
        start = 0
        for n in sizes:
            kmeans.partial_fit(x[order[start:start + n]])
            start += n
            counter.advance(n, f"k-means pass {epoch + 1}/{epochs}")
    centres = kmeans.cluster_centers_.astype(np.float32)
    shares = np.bincount(kmeans.predict(x), minlength=k) / samples
    offsets = centres - x.mean(0)
    vectors = offsets / np.maximum(np.linalg.norm(offsets, axis=1, keepdims=True), 1e-12)
    sigmas, _ = projection_sigmas(model, vectors, sigma_samples, seed, counter, class_idx, batch)
    return DirectionSet(
        name=name, method="kmeans", vectors=vectors, sigmas=sigmas, centres=centres,
        labels=tuple(f"centre {j}" for j in range(k)),
        metadata={"samples": int(samples), "epochs": int(epochs), "sigma_samples": int(sigma_samples),
                  "seed": int(seed), "class_idx": class_idx, "cluster_shares": shares.tolist()},
        model_hash=model.info.content_hash)


def centre(s: DirectionSet, index: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """Centre `index` [w_dim] of a k-means set."""
    if s.centres is None:
        raise ExplorerError(f"direction set {s.name!r} ({s.method}) has no k-means centres")
    if not 0 <= index < s.count:
        raise ExplorerError(f"{s.name!r} has centres 0-{s.count - 1}, not {index}")
    return torch.from_numpy(s.centres[index].copy()).to(device)


def towards_centre(ws: torch.Tensor, target: torch.Tensor, psi: float,
                   cutoff: int | None = None) -> torch.Tensor:
    """Truncation with a centre instead of w_avg as its target: target + psi (w - target)."""
    return apply_truncation(ws, target.to(ws), psi, cutoff)


def near_centre(model: Model, s: DirectionSet, index: int, seed: int, psi: float = 0.5,
                class_idx: int | None = None) -> torch.Tensor:
    """W+ [1, num_ws, w_dim] of `seed` pulled towards centre `index`: a varied sample of that region."""
    ws = model.map(model.z_from_seed(seed), model.class_vector(class_idx))
    return towards_centre(ws, centre(s, index, model.device), psi)


def centre_state(model: Model, s: DirectionSet, index: int, seed: int, psi: float = 0.5,
                 base: LatentState | None = None) -> LatentState:
    """A state whose source is `near_centre(...)`: it renders, saves and undoes like any other.

    Its own truncation is reset (psi 1), since the pull towards the centre replaces it.
    """
    base = base or LatentState()
    ws = near_centre(model, s, index, seed, psi, base.class_idx)
    return base.replace(latent=encode_latent(ws[0].cpu().numpy()), psi=1.0, cutoff=None,
                        latent_label=f"seed {seed} near {s.name} centre {index} (psi {psi:g})")
