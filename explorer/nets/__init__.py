"""Generator and discriminator architectures, as plain `torch.nn.Module`s.

Every generator (StyleGAN2 and StyleGAN3) follows one contract so the rest of the program never
asks which family it has:

* attributes `z_dim, w_dim, c_dim, num_ws, img_resolution, img_channels`, `architecture`
  ("stylegan2" | "stylegan3") and `init_kwargs` (JSON-serialisable, enough to rebuild it);
* `mapping(z, c=None, truncation_psi=1.0, truncation_cutoff=None) -> ws [N, num_ws, w_dim]`,
  with the running mean of w in the buffer `mapping.w_avg`;
* `synthesis(ws, noise_mode="const", noise_seed=None, noise_gain_by_res=None, capture=None,
  transform=None, force_fp32=False) -> img [N, C, H, W]`, float32, native range, not clamped;
* `synthesis.layer_resolutions() -> dict[str, int]` (capturable layer name -> output resolution,
  in forward order) and `synthesis.ws_resolutions() -> list[int]` (the resolution each W+ row
  drives, for labelling per-layer sliders);
* state_dict names identical to NVIDIA's, so their checkpoints load with `load_state_dict`.
"""

from __future__ import annotations

from typing import Any

import torch


def build_generator(architecture: str, init_kwargs: dict[str, Any]) -> torch.nn.Module:
    """A freshly initialised generator of the given family from its constructor kwargs."""
    if architecture == "stylegan2":
        from explorer.nets.stylegan2 import StyleGAN2Generator
        return StyleGAN2Generator(**init_kwargs)
    if architecture == "stylegan3":
        from explorer.nets.stylegan3 import StyleGAN3Generator
        return StyleGAN3Generator(**init_kwargs)
    raise ValueError(f"unknown generator architecture {architecture!r}")


def build_discriminator(init_kwargs: dict[str, Any]) -> torch.nn.Module:
    """A freshly initialised StyleGAN2 discriminator from its constructor kwargs."""
    from explorer.nets.discriminator import StyleGAN2Discriminator
    return StyleGAN2Discriminator(**init_kwargs)
