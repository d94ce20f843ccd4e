"""What the render thread publishes: one finished picture and the facts about how it was made."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from explorer.latent.state import LatentState


@dataclass(frozen=True)
class LayerStats:
    """Activation statistics of one synthesis layer.

    `spike` = max|x| / std: a few activations far above the rest are the signature of StyleGAN1/AdaIN
    "droplet" artefacts, so a high value tells the user which layer to look at.
    """

    name: str
    resolution: int
    channels: int
    mean: float
    std: float
    max_abs: float
    spike: float


@dataclass(frozen=True)
class Frame:
    """One published picture. `rgba` is [H, W, 4] uint8, C-contiguous and read-only (it is shared)."""

    serial: int
    state: LatentState
    rgba: np.ndarray
    render_ms: float
    layer_stats: tuple[LayerStats, ...]
    model_hash: str
    device: str
    preview: bool = False  # a cheap low-resolution stand-in; the full frame of its state follows
