"""Noise: how much of the picture each noise scale changes.

StyleGAN2 adds per-pixel noise at every resolution for stochastic detail (hair strands, pores).
For each scale alone (the others switched off), the same W is rendered with several noise draws;
the per-pixel standard deviation between them, relative to the picture's own contrast, says how
much that scale decides. A scale near zero does nothing (learnt away, or never trained); a scale
that changes much of the picture, above all a coarse one, means the picture depends on noise
rather than on the latent: edits and projections then fight it.
"""

from __future__ import annotations

import torch

from explorer.diagnose import pictures
from explorer.diagnose.findings import Finding
from explorer.diagnose.samples import seed_ws
from explorer.directions.progress import StepCounter
from explorer.model import Model

NOISE_SEEDS = 4   # W's per scale
DRAWS = 4         # noise draws per W
NOTHING = 1e-3    # relative std below which a scale does nothing
SLIGHT = 1e-2     # below this everywhere, the noise is barely visible
DOMINATES = 0.25  # relative std above which a scale decides too much of the picture
COARSE_DOMINATES = 0.1  # the same for coarse scales (up to 1/8 of the resolution)
FIX = ("Noise should add detail, not content. Lower that scale's noise (the Noise panel's "
       "strength shows the effect; `noise_gain_by_res` when generating), check the layer's learnt "
       "noise_strength, and in training keep style mixing and the path-length penalty on, which "
       "push content into W.")


def _percent(x: float) -> str:
    """Two decimals below 1 %, so that values clearly either side of NOTHING (0.1 %) do not print
    the same (0.11 % and 0.09 %, not 0.1 % twice)."""
    return f"{x:.1%}" if x >= 0.01 else f"{x:.2%}"


def noise_resolutions(model: Model) -> list[int]:
    """The resolutions whose layers take noise (none for StyleGAN3)."""
    found = set()
    for module in model.generator.synthesis.modules():
        if hasattr(module, "noise_strength") and hasattr(module, "resolution"):
            found.add(int(module.resolution))
    return sorted(found)


def steps(model: Model, seeds: list[int]) -> int:
    return len(noise_resolutions(model)) * min(NOISE_SEEDS, len(seeds)) * DRAWS


def noise_strengths(model: Model) -> dict[str, float]:
    return {name.rsplit(".noise_strength", 1)[0]: round(float(p), 5)
            for name, p in model.generator.synthesis.named_parameters() if name.endswith("noise_strength")}


@torch.no_grad()
def check_noise(model: Model, seeds: list[int], counter: StepCounter) -> Finding:
    scales = noise_resolutions(model)
    if not scales:
        return Finding("noise", "skip", f"this {model.architecture} has no noise inputs: nothing to check")
    seeds = seeds[:NOISE_SEEDS]
    ws = seed_ws(model, seeds).repeat_interleave(DRAWS, dim=0)
    base = model.synthesize(seed_ws(model, seeds), noise_mode="const").cpu()
    contrast = float(base.flatten(1).std(dim=1).mean().clamp_min(1e-8))
    relative, maps = {}, []
    for r in scales:
        gains = {s: (1.0 if s == r else 0.0) for s in scales}
        img = model.synthesize(ws, noise_mode="random", noise_seed=r, noise_gain_by_res=gains).cpu()
        img = img.reshape(len(seeds), DRAWS, *img.shape[1:])
        std = img.std(dim=1, correction=0)                      # [S, C, H, W]
        relative[r] = float(std.mean()) / contrast
        maps.append(std.mean(dim=(0, 1)))
        counter.advance(len(seeds) * DRAWS, f"noise: {r} px scale")
    coarse_limit = model.resolution // 8
    dominant = [r for r in scales if relative[r] > DOMINATES or (r <= coarse_limit and relative[r] > COARSE_DOMINATES)]
    idle = [r for r in scales if relative[r] < NOTHING]
    worst = max(scales, key=lambda r: relative[r])
    table = ", ".join(f"{r}px {_percent(relative[r])}" for r in scales)
    if dominant:
        r = max(dominant, key=lambda s: relative[s])
        severity = "warn"
        message = (f"noise dominates at {', '.join(f'{s} px' for s in dominant)}: the {r} px noise alone "
                   f"changes pixels by {relative[r]:.0%} of the picture's contrast (per scale: {table})")
        fix = FIX
    elif len(idle) == len(scales):
        r, severity = worst, "note"
        message = (f"the noise inputs do nothing at any scale (largest effect {relative[worst]:.2%} at "
                   f"{worst} px): stochastic detail must come from W; untrained or learnt away")
        fix = "Fine if intended; a trained StyleGAN2 usually uses its fine-scale noise for hair and texture."
    else:
        r, severity, fix = worst, "ok", ""
        idle_text = f"; no effect at {', '.join(f'{s} px' for s in idle)}" if idle else ""
        lead = ("noise adds detail without taking over" if relative[worst] >= SLIGHT
                else "noise changes the picture only slightly")
        message = f"{lead} (per scale: {table}){idle_text}"
    peak = max(float(m.max()) for m in maps) or 1.0
    heat_maps = [pictures.enlarge(pictures.heat_rgba_scaled(m, peak), 96) for m in maps]
    bars = pictures.bar_chart([relative[s] for s in scales], [f"{s}px" for s in scales],
                              "noise effect / contrast", highlight=scales.index(r))
    picture = pictures.stack([pictures.strip(heat_maps, height=96), bars])
    return Finding("noise", severity, message, fix, value=relative[r], layer=_layer_at(model, r),
                   caption="per scale, left to right: where its noise changes the picture (per-pixel std over "
                           "random noise, bright = much); below: its effect against the picture's contrast",
                   numbers={"relative_std": {str(s): relative[s] for s in scales},
                                           "dominant": dominant, "idle": idle,
                                           "noise_strength": noise_strengths(model)},
                   picture=picture)


def _layer_at(model: Model, resolution: int) -> str | None:
    """The last feature layer of a resolution (what the Layers view should show)."""
    names = [n for n in model.info.layer_names.get(resolution, []) if not n.endswith((".torgb", ".img"))]
    return names[-1] if names else None
