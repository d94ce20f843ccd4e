"""Diversity and mode collapse, in EfficientNet-Lite0 features (offline ImageNet weights).

Two numbers. The *seed share*: of all the variation of the feature maps (over samples and
positions), the part that changes with the seed at a fixed position. A generator that draws the
same layout every time scores low even when colours vary; independent pictures score near 1
(real aligned avatars about 0.65, the shipped model 0.61 at 32 seeds). The *mean pairwise distance*
(1 - cosine) of the pooled features, and clusters of near-duplicates: pairs far closer than the
typical pair, grouped. A big cluster is a partial collapse: one mode drawn again and again.

Below `MIN_SEEDS` there is no verdict, only a note saying so: with 4 seeds the share of the
shipped model scatters by ±0.07 around its value and one chance pair of look-alikes is half the
samples, so a healthy model could read as collapsed.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from explorer.diagnose import pictures
from explorer.diagnose.findings import Finding
from explorer.diagnose.samples import batches, rgb3, seed_ws
from explorer.directions.progress import StepCounter
from explorer.errors import ExplorerError
from explorer.model import Model
from explorer.train.frechet import FEATURE_INPUT_SIZE

FEATURE_BATCH = 16
SHARE_TAPS = (1, 2)          # Lite0 stages at strides 4 and 8: layout, not only class
WARN_SHARE, NOTE_SHARE = 0.45, 0.55
DUPLICATE_FRACTION = 0.25    # a pair closer than this share of the median distance is a near-duplicate
WARN_CLUSTER_SHARE = 0.25
GRID_MAX = 32
MIN_SEEDS = 16               # fewest seeds for a verdict (see the module's docstring)
FIX = ("Mode collapse: the generator found a few pictures that fool D. Resume from an earlier "
       "snapshot with a lower learning rate or a larger R1 gamma, turn ADA on for small datasets, "
       "check D's singular values in the run folder (diagnose RUN), keep minibatch-stddev in D, "
       "and train longer with style mixing.")


def steps(model: Model, seeds: list[int]) -> int:
    return 2 * len(seeds) if len(seeds) >= MIN_SEEDS else 0


def seed_share(features: torch.Tensor) -> float:
    """Variance across samples at each (channel, position), over the total variance per channel.

    The across-sample variance takes Bessel's correction: without it, N samples show (N - 1) / N
    of it while the total (over samples and positions) stays unbiased, so 4 seeds of the shipped
    model read 0.41 where 32 read 0.59. Corrected, the mean over random subsets is 0.60 for any N.
    """
    if features.shape[0] < 2:
        return 0.0
    across = features.var(dim=0, correction=1).mean()
    total = features.transpose(0, 1).reshape(features.shape[1], -1).var(dim=1, correction=0).mean()
    return float(across / total) if total > 0 else 0.0


def duplicate_clusters(distance: np.ndarray, threshold: float) -> list[list[int]]:
    """Groups (size >= 2) of samples linked by distances below `threshold`, biggest first."""
    n = len(distance)
    parent = list(range(n))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i
    for i in range(n):
        for j in range(i + 1, n):
            if distance[i, j] < threshold:
                parent[root(i)] = root(j)
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(root(i), []).append(i)
    return sorted((g for g in groups.values() if len(g) > 1), key=len, reverse=True)


def too_few_seeds(count: int) -> Finding:
    """No verdict: what a run with fewer than `MIN_SEEDS` seeds says."""
    return Finding("diversity", "skip",
                   f"too few seeds to judge diversity ({count} here): mode collapse is told from chance "
                   f"from {MIN_SEEDS} seeds up, so it was not measured",
                   numbers={"samples": count, "min_samples": MIN_SEEDS})


@torch.no_grad()
def lite0_features(model: Model, seeds: list[int], net: torch.nn.Module,
                   counter: StepCounter) -> tuple[torch.Tensor, torch.Tensor, dict[int, torch.Tensor]]:
    """Images [N, 3, H, W], pooled last-stage features [N, C] and the `SHARE_TAPS` maps of `seeds`."""
    images, pooled, taps = [], [], {t: [] for t in SHARE_TAPS}
    for chunk in batches(seed_ws(model, seeds), FEATURE_BATCH):
        img = rgb3(model.synthesize(chunk).cpu()).clamp(-1, 1)
        counter.advance(len(chunk), "diversity: rendering")
        x = F.interpolate(img, size=(FEATURE_INPUT_SIZE, FEATURE_INPUT_SIZE), mode="bilinear",
                          align_corners=False, antialias=img.shape[-1] > FEATURE_INPUT_SIZE)
        feats = net(x)
        pooled.append(feats[-1].mean(dim=(2, 3)))
        for t in SHARE_TAPS:
            taps[t].append(feats[t])
        images.append(img)
        counter.advance(len(chunk), "diversity: EfficientNet-Lite0 features")
    return torch.cat(images), torch.cat(pooled), {t: torch.cat(maps) for t, maps in taps.items()}


def diversity_verdict(share: float, cluster: int, samples: int) -> tuple[str, str]:
    """(severity, headline) from the seed share and the largest near-duplicate cluster's size."""
    if share < WARN_SHARE or cluster / samples >= WARN_CLUSTER_SHARE:
        return "warn", "mode collapse: the samples vary little"
    if share < NOTE_SHARE:
        return "note", "diversity is on the low side"
    if cluster >= 3:  # the note comes from the cluster alone
        return "note", "a few samples are near-duplicates, though overall diversity is normal"
    return "ok", "the samples are diverse"


@torch.no_grad()
def check_diversity(model: Model, seeds: list[int], counter: StepCounter) -> Finding:
    from explorer.project.losses.efficientnet_lite0 import load_efficientnet_lite0
    if len(seeds) < MIN_SEEDS:
        return too_few_seeds(len(seeds))
    try:
        net = load_efficientnet_lite0(torch.device("cpu"))
    except ExplorerError as e:
        return Finding("diversity", "skip", f"diversity not measured: {e}")
    images, pooled, taps = lite0_features(model, seeds, net, counter)
    share = float(np.mean([seed_share(taps[t]) for t in SHARE_TAPS]))
    unit = F.normalize(pooled.double(), dim=1)
    distance = (1 - unit @ unit.T).clamp_min(0).numpy()
    pairs = distance[np.triu_indices(len(seeds), 1)]
    mean_distance, median_distance = float(pairs.mean()), float(np.median(pairs))
    clusters = duplicate_clusters(distance, DUPLICATE_FRACTION * median_distance)
    biggest = clusters[0] if clusters else []
    severity, verdict = diversity_verdict(share, len(biggest), len(seeds))
    dup_text = (f"; {len(biggest)} near-duplicates in one cluster (seeds {', '.join(str(seeds[i]) for i in biggest[:6])})"
                if biggest else "; no near-duplicates")
    message = (f"{verdict}: seed share {share:.2f} of the variation in EfficientNet-Lite0 features (an "
               f"image classifier's view of layout and content; independent pictures "
               f"~1, real avatars ~0.65), mean pairwise feature distance {mean_distance:.3f} over "
               f"{len(seeds)} seeds{dup_text}")
    return Finding("diversity", severity, message, FIX if severity == "warn" else "", value=share,
                   seed=seeds[biggest[0]] if biggest else None,
                   numbers={"seed_share": share, "mean_pairwise_distance": mean_distance,
                            "median_pairwise_distance": median_distance,
                            "largest_cluster": [seeds[i] for i in biggest], "clusters": len(clusters),
                            "samples": len(seeds)},
                   picture=_grid(images[:GRID_MAX], set(i for i in biggest if i < GRID_MAX)),
                   caption=f"the first {min(len(seeds), GRID_MAX)} seeds, 8 a row; near-duplicates framed in red")


def _grid(images: torch.Tensor, marked: set[int]) -> np.ndarray:
    """Thumbnails, 8 per row; near-duplicates framed in red."""
    from explorer.fileio import image_grid
    size = min(64, images.shape[-1])
    small = F.interpolate(images, size=(size, size), mode="area") if images.shape[-1] != size else images
    tiles = pictures.images_rgba(small)
    for i in marked:
        tile = tiles[i]
        tile[:2] = tile[-2:] = tile[:, :2] = tile[:, -2:] = (230, 40, 40, 255)
    return image_grid(tiles, cols=min(8, len(tiles)), pad=2)
