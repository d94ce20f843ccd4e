"""The model the app opens when the user names none: the shipped checkpoint, else a random one.

The random model is untrained (its pictures are coloured noise) but real: every panel works on
it, so a fresh install shows a live app instead of an empty window. Its weights come from a fixed
torch seed, so screenshots and tests see the same pixels on every run.
"""

from __future__ import annotations

from pathlib import Path

import torch

from explorer.model import Model

SHIPPED_MODEL = Path(__file__).resolve().parents[2] / "assets" / "model.safetensors"
RANDOM_MODEL_LABEL = "untrained random model — load a checkpoint"
RANDOM_MODEL_SEED = 1234


def random_model_kwargs() -> dict:
    """StyleGAN2 constructor kwargs of the random model: 64 px, narrow, quick on any CPU."""
    return dict(z_dim=128, w_dim=128, c_dim=0, img_resolution=64, img_channels=3,
                mapping_kwargs=dict(num_layers=4), channel_base=4096, channel_max=128)


def random_model(seed: int = RANDOM_MODEL_SEED) -> Model:
    """A small StyleGAN2 with seeded random weights, labelled as untrained."""
    from explorer.nets import build_generator
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        generator = build_generator("stylegan2", random_model_kwargs())
    return Model(generator, None, format="random", source=RANDOM_MODEL_LABEL)


def default_model_source(shipped: Path = SHIPPED_MODEL) -> Path | None:
    """The shipped checkpoint if this install has one."""
    return shipped if shipped.is_file() else None
