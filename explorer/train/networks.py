"""The networks a run trains: G, D and G_ema (the slowly moving average of G that one samples from)."""

from __future__ import annotations

import copy

import torch
from torch import nn

from explorer.nets import build_discriminator, build_generator
from explorer.train.config import TrainConfig

IMG_CHANNELS = 3
# Activations are clamped to +-256 so that float16 (autocast) never overflows; harmless in fp32.
CONV_CLAMP = 256


def generator_kwargs(cfg: TrainConfig, c_dim: int) -> dict:
    return dict(z_dim=cfg.z_dim, c_dim=c_dim, w_dim=cfg.w_dim, img_resolution=cfg.resolution,
                img_channels=IMG_CHANNELS, mapping_kwargs=dict(num_layers=cfg.map_layers),
                channel_base=cfg.channel_base, channel_max=cfg.channel_max,
                conv_clamp=CONV_CLAMP, architecture="skip")


def discriminator_kwargs(cfg: TrainConfig, c_dim: int) -> dict:
    return dict(c_dim=c_dim, img_resolution=cfg.resolution, img_channels=IMG_CHANNELS,
                architecture="resnet", channel_base=cfg.channel_base, channel_max=cfg.channel_max,
                conv_clamp=CONV_CLAMP, epilogue_kwargs=dict(mbstd_group_size=cfg.mbstd_group))


def build_networks(cfg: TrainConfig, c_dim: int, device: torch.device) -> tuple[nn.Module, nn.Module, nn.Module]:
    """(G, D, G_ema), freshly initialised from the current torch seed; G_ema starts as a copy of G."""
    G = build_generator("stylegan2", generator_kwargs(cfg, c_dim)).train().requires_grad_(True).to(device)
    D = build_discriminator(discriminator_kwargs(cfg, c_dim)).train().requires_grad_(True).to(device)
    G_ema = copy.deepcopy(G).eval().requires_grad_(False)
    return G, D, G_ema


def ema_beta(cfg: TrainConfig, nimg: int) -> float:
    """Per-step decay of G_ema: a half-life of `ema_kimg`, shortened early on (ramp-up) so the
    average does not drag the random initialisation along for long.

    `nimg` counts every image the weights have seen, those of `--init-from` included: restarting
    the ramp on trained weights would make G_ema a copy of the noisy G for the first kimg."""
    half_life = cfg.ema_kimg * 1000
    if cfg.ema_rampup:
        half_life = min(half_life, nimg * cfg.ema_rampup)
    return 0.5 ** (cfg.batch / max(half_life, 1e-8))


@torch.no_grad()
def update_ema(G_ema: nn.Module, G: nn.Module, beta: float) -> None:
    for p_ema, p in zip(G_ema.parameters(), G.parameters(), strict=True):
        p_ema.copy_(p.detach().lerp(p_ema, beta))
    for b_ema, b in zip(G_ema.buffers(), G.buffers(), strict=True):
        b_ema.copy_(b)
