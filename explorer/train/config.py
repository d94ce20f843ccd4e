"""Training settings: what the user chose, and the automatic defaults filled in from the data.

Values left as None are derived in `resolve_config` from the resolution and the number of
processes, following NVIDIA's "auto" configuration for StyleGAN2-ADA (their numbers for
32-256 px: half-width channels, a batch that shrinks with the resolution, R1 gamma growing
with the image area). The resolved config is what `config.json` in the run folder records,
so a resumed run continues with exactly the same settings.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

import torch

from explorer.errors import ExplorerError

AUGMENT_MODES = ("ada", "fixed", "none")


@dataclass(frozen=True)
class TrainConfig:
    data: str
    out: str
    resolution: int | None = None      # None: from the data (largest power of two that fits, <= 256)
    kimg: float = 5000.0               # length of training, thousands of real images shown to D
    batch: int | None = None           # total over all processes
    lr: float = 0.0025
    beta1: float = 0.0
    beta2: float = 0.99
    gamma: float | None = None         # R1 weight
    ema_kimg: float | None = None      # half-life of the G_ema average
    ema_rampup: float = 0.05
    z_dim: int = 512
    w_dim: int = 512
    map_layers: int = 2
    channel_base: int = 16384
    channel_max: int = 512
    mbstd_group: int | None = None
    style_mixing: float = 0.9
    pl_weight: float = 2.0
    g_reg_interval: int = 4
    d_reg_interval: int = 16
    augment: str = "ada"
    augment_p: float = 0.0             # starting (ada) or constant (fixed) probability
    ada_target: float = 0.6
    ada_interval: int = 4
    ada_kimg: float = 500.0
    mirror: bool = False
    cond: bool = False                 # train on the dataset.json labels
    tick_kimg: float = 4.0             # metrics and progress line
    sample_kimg: float = 40.0
    snap_kimg: float = 100.0
    seed: int = 0
    device: str = "auto"
    amp: bool | None = None            # mixed precision; None: on with CUDA (never used elsewhere)
    workers: int = 2                   # DataLoader processes
    cache_dir: str | None = None       # preprocessed-dataset cache (None: ~/.cache/stylegan-explorer)
    fused_kernels: bool = True         # our CUDA kernels when they pass their self-check (CUDA only)
    init_from: str | None = None       # start from this model file's G_ema (as G) and D, not at random

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})


def resolve_config(cfg: TrainConfig, resolution: int, world_size: int, device: torch.device) -> TrainConfig:
    """Fill in every automatic value; raise a clear error for settings that cannot work."""
    if cfg.augment not in AUGMENT_MODES:
        raise ExplorerError(f"--aug must be one of {', '.join(AUGMENT_MODES)}, not {cfg.augment!r}")
    if not 0 <= cfg.style_mixing <= 1:
        raise ExplorerError(f"--mixing is a probability between 0 and 1, not {cfg.style_mixing}")
    if not cfg.pl_weight >= 0:
        raise ExplorerError(f"--pl-weight must be 0 or more, not {cfg.pl_weight}")
    batch = cfg.batch or max(min(world_size * min(4096 // resolution, 32), 64), world_size)
    if batch % world_size:
        raise ExplorerError(f"--batch {batch} must be divisible by the number of processes ({world_size})")
    batch_gpu = batch // world_size
    mbstd = cfg.mbstd_group or max(g for g in (1, 2, 3, 4) if batch_gpu % g == 0)
    if batch_gpu % mbstd:
        raise ExplorerError(f"the per-process batch {batch_gpu} must be divisible by mbstd group {mbstd}")
    return replace(
        cfg, resolution=resolution, batch=batch, mbstd_group=mbstd,
        gamma=cfg.gamma if cfg.gamma is not None else 0.0002 * resolution ** 2 / batch,
        ema_kimg=cfg.ema_kimg if cfg.ema_kimg is not None else batch * 10 / 32,
        amp=(cfg.amp is None or cfg.amp) and device.type == "cuda")
