"""Texture sticking: detail glued to the screen instead of to the object (aliasing).

Render frames of a small walk and average them. Detail that moves with the content blurs out of
the average; detail that stays sharp in it is fixed to pixel coordinates. StyleGAN3 can move its
input by sub-pixel amounts, so its walk is a translation (an alias-free generator moves every
detail along); StyleGAN2 cannot, so its walk is a short step in W around the seed. The score is
the high-frequency power (above a quarter cycle per pixel) of the average divided by the mean
high-frequency power of the frames: near 0 when fine detail moves, near 1 when it sticks.
Windowed spectra (Hann) keep the border's wrap-around jump out of it.
"""

from __future__ import annotations

import numpy as np
import torch

from explorer.diagnose import pictures
from explorer.diagnose.droplets import feature_layers
from explorer.diagnose.findings import Finding
from explorer.diagnose.samples import seed_ws
from explorer.directions.progress import StepCounter
from explorer.model import Model

FRAMES = 16
WALK_SEEDS = 4
SHIFT_PX = 2.0          # StyleGAN3: translations uniform in +-2 pixels
WALK_STEP = 0.3         # StyleGAN2: w + 0.3 (w_other - w)
HIGH_FREQUENCY = 0.25   # cycles per pixel
SG3_WARN, SG3_NOTE, SG2_NOTE = 0.5, 0.3, 0.5
FIX_SG3 = ("A StyleGAN3 should not stick. Check that the filters and the critically sampled last "
           "layers were not changed (num_critical, filter sizes, margin), that training used the "
           "StyleGAN3 config, and train longer: early snapshots alias more.")
FIX_SG2 = ("StyleGAN2 draws fine detail in pixel coordinates (its noise inputs and zero padding "
           "give it absolute positions), so textures stick when the content moves. For video and "
           "animation, train a StyleGAN3 (-T, or -R for rotations), which is alias-free by design.")


def steps(model: Model, seeds: list[int]) -> int:
    return min(WALK_SEEDS, len(seeds)) * FRAMES


def high_frequency_mask(h: int, w: int) -> torch.Tensor:
    fy = torch.fft.fftfreq(h).abs()[:, None]
    fx = torch.fft.fftfreq(w).abs()[None, :]
    return (torch.maximum(fy, fx) >= HIGH_FREQUENCY).float()


def sticking_score(frames: torch.Tensor) -> float:
    """HF power of the frames' average / mean HF power of the frames ([K, C, H, W])."""
    x = frames.float()
    x = (x - x.mean(dim=(2, 3), keepdim=True)) * pictures.hann_window(*x.shape[-2:])
    f = torch.fft.fft2(x)
    mask = high_frequency_mask(*x.shape[-2:])
    each = float((f.abs().square() * mask).sum()) / len(x)
    average = float((f.mean(dim=0).abs().square() * mask).sum())
    return average / each if each > 0 else 0.0


@torch.no_grad()
def walk_frames(model: Model, seed: int) -> torch.Tensor:
    """The FRAMES pictures of the walk around `seed` ([K, C, H, W], on the CPU)."""
    ws = seed_ws(model, [seed])
    rng = np.random.RandomState(seed % 2**32)
    if model.architecture == "stylegan3":
        shifts = rng.uniform(-SHIFT_PX, SHIFT_PX, size=(FRAMES, 2)) / model.resolution
        return torch.cat([model.synthesize(ws, translate=(float(t[0]), float(t[1]))).cpu() for t in shifts])
    z = torch.from_numpy(rng.randn(FRAMES, model.z_dim)).float().to(model.device)
    c = None
    if model.c_dim:
        c = torch.zeros(FRAMES, model.c_dim, device=model.device)
        c[:, seed % model.c_dim] = 1
    others = model.map(z, c)
    return model.synthesize(ws + WALK_STEP * (others - ws)).cpu()


def check_sticking(model: Model, seeds: list[int], counter: StepCounter) -> Finding:
    scores, first = [], None
    for seed in seeds[:WALK_SEEDS]:
        frames = walk_frames(model, seed)
        scores.append(sticking_score(frames))
        if first is None:
            first = frames
        counter.advance(FRAMES, "sticking: averaging a small walk")
    score = float(np.mean(scores))
    sg3 = model.architecture == "stylegan3"
    layer = feature_layers(model)[-1]  # the finest feature map: where aliasing shows most
    capture: dict[str, torch.Tensor] = {}
    with torch.no_grad():
        model.synthesize(seed_ws(model, seeds[:1]), capture=capture)
    feature = capture[layer][:1].float().cpu()
    if sg3:
        severity = "warn" if score > SG3_WARN else "note" if score > SG3_NOTE else "ok"
        walk = f"sub-pixel translations (+-{SHIFT_PX:g} px)"
    else:
        severity = "note" if score > SG2_NOTE else "ok"
        walk = f"a small walk in W (step {WALK_STEP:g})"
    meaning = ("fine detail moves with the content" if score <= SG3_NOTE else
               "part of the fine detail stays put while the content moves" if score <= SG3_WARN else
               "most fine detail is glued to the screen")
    message = (f"sticking score {score:.2f} over {len(scores)} seeds x {FRAMES} frames of {walk}: "
               f"{meaning}" + ("; expected of StyleGAN2" if not sg3 and severity == "note" else ""))
    picture = pictures.strip([pictures.images_rgba(first[:1])[0], pictures.images_rgba(first.mean(0, keepdim=True))[0],
                              pictures.spectrum_rgba(first), pictures.spectrum_rgba(feature[0])], height=128)
    fix = "" if severity == "ok" else FIX_SG3 if sg3 else FIX_SG2
    return Finding("sticking", severity, message, fix, value=score, layer=layer,
                   caption=f"one frame | the average of the {FRAMES} frames (detail that stays put stays "
                           f"sharp) | the picture's spectrum | {layer}'s spectrum",
                   numbers={"score_per_seed": scores, "frames": FRAMES,
                            "walk": "translate" if sg3 else "w", "spectrum_layer": layer},
                   picture=picture)

