"""GANSpace: the principal axes of W, fitted incrementally over many sampled w.

IncrementalPCA keeps memory flat whatever the sample count (100k w of 512 floats would be 200 MB
at once) and lets a long fit report progress and be cancelled between batches.
"""

from __future__ import annotations

import numpy as np

from explorer.directions.directionset import DirectionSet
from explorer.directions.progress import StepCounter
from explorer.directions.sampling import (DEFAULT_BATCH, FIT_STREAM, batch_sizes, projection_sigmas,
                                          sampled_w)
from explorer.engine.jobs import Cancelled, Report
from explorer.errors import ExplorerError
from explorer.model import Model


def fit_pca(model: Model, components: int = 64, samples: int = 100_000, sigma_samples: int = 10_000,
            seed: int = 0, class_idx: int | None = None, batch: int = DEFAULT_BATCH,
            name: str = "pca", report: Report | None = None,
            cancelled: Cancelled | None = None) -> DirectionSet:
    """The top principal directions of W, strongest first, with sigmas from fresh samples.

    At most w_dim components exist; asking for more gives w_dim.
    """
    from sklearn.decomposition import IncrementalPCA  # seconds to import: only when fitting

    k = min(int(components), model.w_dim)
    if k < 1:
        raise ExplorerError("PCA needs at least one component")
    if samples < k:
        raise ExplorerError(f"PCA with {k} components needs at least {k} samples, not {samples}")
    counter = StepCounter(samples + sigma_samples, report, cancelled)
    pca = IncrementalPCA(n_components=k)
    for w in sampled_w(model, batch_sizes(samples, batch, minimum=k), seed, FIT_STREAM, class_idx):
        pca.partial_fit(w)
        counter.advance(len(w), "fitting PCA")
    vectors = pca.components_ / np.linalg.norm(pca.components_, axis=1, keepdims=True)
    sigmas, _ = projection_sigmas(model, vectors, sigma_samples, seed, counter, class_idx, batch)
    return DirectionSet(
        name=name, method="pca", vectors=vectors, sigmas=sigmas,
        explained_variance=pca.explained_variance_ratio_, labels=tuple(f"PC{i}" for i in range(k)),
        metadata={"samples": int(samples), "sigma_samples": int(sigma_samples), "seed": int(seed),
                  "class_idx": class_idx},
        model_hash=model.info.content_hash)
