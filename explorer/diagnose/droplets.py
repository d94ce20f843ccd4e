"""Droplets: a few activations far above the rest of a feature map, at the same place for every seed.

StyleGAN1's AdaIN normalised each feature map, so the generator learnt to smuggle a signal past
it in one huge blob; the image shows it as a "droplet". The spike index of a layer is
max|x| / std over one sample's activations (the Layers panel's column). A layer is suspect when
its median spike over many seeds stands well above the typical layer of the same model; a blob
that sits at the same position for most seeds is the classic droplet. Later layers inherit a
blob, so the earliest suspect layer is named as the source.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from explorer.diagnose import pictures
from explorer.diagnose.findings import Finding, spike_severity
from explorer.diagnose.samples import batches, seed_ws
from explorer.directions.progress import StepCounter
from explorer.model import Model

FIX = ("Droplets come from activations that bypass normalisation. Use weight demodulation "
       "(StyleGAN2's modulated conv) instead of AdaIN; lower the learning rate or raise R1 gamma; "
       "check the layer's noise_const / bias for a single runaway value; resume from a snapshot "
       "before the spike appeared.")


def feature_layers(model: Model) -> list[str]:
    """Layers whose outputs are feature maps: not RGB outputs, not StyleGAN3's input or final ToRGB."""
    names = list(model.generator.synthesis.layer_resolutions())
    if model.architecture == "stylegan3":
        return names[1:-1]
    return [n for n in names if not n.endswith((".torgb", ".img"))]


@dataclass
class LayerEvidence:
    """Per-layer accumulators over all seeds."""

    spikes: list[float] = field(default_factory=list)
    peaks: list[tuple[int, int]] = field(default_factory=list)
    heat: torch.Tensor | None = None


def steps(model: Model, seeds: list[int]) -> int:
    return len(seeds)


@torch.no_grad()
def check_droplets(model: Model, seeds: list[int], counter: StepCounter) -> Finding:
    layers = feature_layers(model)
    evidence = {name: LayerEvidence() for name in layers}
    first_images = None
    for chunk in batches(seed_ws(model, seeds)):
        capture: dict[str, torch.Tensor] = {}
        img = model.synthesize(chunk, capture=capture).cpu()
        first_images = img if first_images is None else torch.cat([first_images, img])
        for name in layers:
            _collect(evidence[name], capture[name].float().cpu())
        counter.advance(len(chunk), "droplets: spike index per layer")
    median = {n: float(np.median(e.spikes)) for n, e in evidence.items()}
    typical = float(np.median(list(median.values())))
    excess = {n: s / typical if typical > 0 else 0.0 for n, s in median.items()}
    severity_of = {n: spike_severity(median[n], typical) for n in layers}
    warn = [n for n in layers if severity_of[n] == "warn"]
    note = [n for n in layers if severity_of[n] in ("warn", "note")]
    suspects = warn or note
    layer = suspects[0] if suspects else max(layers, key=lambda n: median[n])
    severity = "warn" if warn else "note" if note else "ok"
    e = evidence[layer]
    h, w = e.heat.shape
    py, px = np.unravel_index(int(e.heat.argmax()), (h, w))
    radius = max(1.0, max(h, w) / 16)
    same_place = float(np.mean([max(abs(y - py), abs(x - px)) <= radius for y, x in e.peaks]))
    worst_seed_at = int(np.argmax(e.spikes))
    position = ((py + 0.5) / h, (px + 0.5) / w)
    numbers = {"median_spike": {n: round(v, 2) for n, v in median.items()}, "typical_spike": typical,
               "excess": excess[layer], "same_place": same_place, "position_px": [int(py), int(px)],
               "layer_size": [h, w], "suspects": suspects, "seeds": len(seeds)}
    where = f"at ({py}, {px}) of its {h}x{w} map"
    if severity == "ok":
        message = (f"no droplets: the highest median spike index (max|x| / std) is {median[layer]:.1f} "
                   f"in {layer}, {excess[layer]:.1f}x the typical layer's {typical:.1f}")
    else:
        carried = [n for n in suspects if n != layer]
        message = (f"{layer} spikes: median max|x| / std {median[layer]:.1f} over {len(seeds)} seeds, "
                   f"{excess[layer]:.1f}x the typical layer's {typical:.1f}; the blob sits {where} in "
                   f"{same_place:.0%} of seeds"
                   + (f" (carried on into {', '.join(carried[:4])})" if carried else ""))
    bars = pictures.bar_chart([median[n] for n in layers], layers, "median spike per layer",
                              highlight=layers.index(layer))
    picture = pictures.stack([
        pictures.strip([pictures.images_rgba(first_images[worst_seed_at:worst_seed_at + 1])[0],
                        pictures.heat(e.heat)], height=160),
        bars])
    return Finding("droplets", severity, message, FIX if severity != "ok" else "", value=median[layer],
                   layer=layer, seed=seeds[worst_seed_at], position=position, numbers=numbers,
                   caption=f"the worst seed | where {layer} spikes (heat); below: the median spike of each layer",
                   picture=picture)


def _collect(e: LayerEvidence, x: torch.Tensor) -> None:
    """Spike index per sample, where its largest activation is, and a running heat map."""
    flat = x.flatten(1)
    std = flat.std(dim=1, correction=0).clamp_min(1e-12)
    e.spikes.extend((flat.abs().amax(dim=1) / std).tolist())
    amap = x.abs().amax(dim=1) / std[:, None, None]          # [n, h, w], in units of the sample's std
    for m in amap:
        y, xx = np.unravel_index(int(m.argmax()), m.shape)
        e.peaks.append((int(y), int(xx)))
    total = amap.sum(dim=0)
    e.heat = total if e.heat is None else e.heat + total
