"""GANSpace: the principal axes of W, the eigenvectors of the covariance of many sampled w.

The covariance is accumulated over batches (float64 sums of w and of its outer products), so
memory stays flat whatever the sample count (100k w of 512 floats would be 200 MB at once) and a
long fit reports progress and can be cancelled between batches; one eigendecomposition of the
w_dim x w_dim matrix then gives the exact components. That is what scikit-learn's IncrementalPCA
approximates with an SVD per batch, at ~10x the cost (166 s for 100k samples of 512-d w here).
"""

from __future__ import annotations

import numpy as np

from explorer.directions.directionset import DirectionSet
from explorer.directions.progress import StepCounter
from explorer.directions.sampling import (DEFAULT_BATCH, FIT_STREAM, batch_sizes, projection_sigmas,
                                          sampled_w)
from explorer.errors import ExplorerError
from explorer.jobs import Cancelled, Report
from explorer.model import Model


def fit_pca(model: Model, components: int = 64, samples: int = 100_000, sigma_samples: int = 10_000,
            seed: int = 0, class_idx: int | None = None, batch: int = DEFAULT_BATCH,
            name: str = "pca", report: Report | None = None,
            cancelled: Cancelled | None = None) -> DirectionSet:
    """The top principal directions of W, strongest first, with sigmas from fresh samples.

    At most w_dim components exist; asking for more gives w_dim.
    """
    k = min(int(components), model.w_dim)
    if k < 1:
        raise ExplorerError("PCA needs at least one component")
    if samples < max(k, 2):
        raise ExplorerError(f"PCA with {k} components needs at least {max(k, 2)} samples, not {samples}")
    counter = StepCounter(samples + sigma_samples, report, cancelled)
    moments = CovarianceMoments(model.w_dim)
    for w in sampled_w(model, batch_sizes(samples, batch, minimum=k), seed, FIT_STREAM, class_idx):
        moments.add(w)
        counter.advance(len(w), "fitting PCA")
    vectors, explained = principal_axes(moments.covariance(), k)
    sigmas, _ = projection_sigmas(model, vectors, sigma_samples, seed, counter, class_idx, batch)
    return DirectionSet(
        name=name, method="pca", vectors=vectors, sigmas=sigmas,
        explained_variance=explained, labels=tuple(f"PC{i}" for i in range(k)),
        metadata={"samples": int(samples), "sigma_samples": int(sigma_samples), "seed": int(seed),
                  "class_idx": class_idx},
        model_hash=model.info.content_hash)


class CovarianceMoments:
    """Running float64 sums for a covariance, taken around the first batch's mean (a fixed shift
    keeps the final subtraction from cancelling away the digits that matter)."""

    def __init__(self, dim: int) -> None:
        self.count = 0
        self.shift: np.ndarray | None = None
        self.sum = np.zeros(dim)
        self.outer = np.zeros((dim, dim))

    def add(self, w: np.ndarray) -> None:
        x = np.asarray(w, dtype=np.float64)
        if self.shift is None:
            self.shift = x.mean(axis=0)
        x = x - self.shift
        self.count += len(x)
        self.sum += x.sum(axis=0)
        self.outer += x.T @ x

    def covariance(self) -> np.ndarray:
        """Unbiased (n - 1) covariance of everything added."""
        mean = self.sum / self.count
        return (self.outer - self.count * np.outer(mean, mean)) / (self.count - 1)


def principal_axes(covariance: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(top-k unit eigenvectors [k, dim], strongest first, with scikit-learn's sign convention:
    each one's largest entry positive; their share of the total variance [k])."""
    values, vectors = np.linalg.eigh(covariance)
    values, vectors = values[::-1][:k], vectors[:, ::-1][:, :k].T
    signs = np.sign(vectors[np.arange(k), np.abs(vectors).argmax(axis=1)])
    vectors = vectors * np.where(signs == 0, 1.0, signs)[:, None]
    total = float(np.trace(covariance))  # the sum of all eigenvalues
    return vectors.astype(np.float32), (np.clip(values, 0, None) / total).astype(np.float32)
