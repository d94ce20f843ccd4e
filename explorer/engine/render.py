"""Pure rendering: a `LatentState` becomes RGBA pixels. The reference every front end is checked against.

RGBA because the GUI uploads it straight into an RGBA8 texture (RGB uploads are ~10x slower).
Feature-map capture and statistics cost time and memory, so the plain image path skips them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from explorer.engine.frame import LayerStats
from explorer.engine.mapping_cache import MappingCache
from explorer.errors import ExplorerError
from explorer.latent.compose import DirectionLookup, state_ws
from explorer.latent.state import LatentState
from explorer.model import Model, quantised
from explorer.nets.resume import SynthesisResume

StepCallback = Callable[[int, int], None]
PREVIEW_RESOLUTION = 32  # by FLOPs ~4x cheaper than a 256 px StyleGAN2 frame, ~50x than 1024 px


@dataclass(frozen=True)
class RenderOutput:
    rgba: np.ndarray  # [H, W, 4] uint8
    ws: torch.Tensor  # [1, num_ws, w_dim], the W+ that was synthesised
    layer_stats: tuple[LayerStats, ...]


def render_state(model: Model, state: LatentState, directions: DirectionLookup | None = None,
                 force_fp32: bool = True, with_stats: bool = False) -> RenderOutput:
    """Render `state` exactly as the app shows it."""
    return render_ws(model, state, state_ws(model, state, directions), force_fp32, with_stats)


def render_ws(model: Model, state: LatentState, ws: torch.Tensor, force_fp32: bool = True,
              with_stats: bool = False, resume: SynthesisResume | None = None) -> RenderOutput:
    """Synthesise a W+ already composed from `state` (lets callers cache the composition).

    With `resume` (kept from the previous frame), only the blocks from the first one the new
    state changes are computed; the pixels are those of a full render.
    """
    resolutions = model.generator.synthesis.layer_resolutions()
    if state.view_layer is not None and state.view_layer not in resolutions:
        raise ExplorerError(f"this model has no layer {state.view_layer!r}; "
                            f"choose one of {', '.join(resolutions)}")
    capture: dict[str, torch.Tensor] | None = {} if state.view_layer is not None or with_stats else None
    img = synthesize_state(model, state, ws, force_fp32, capture=capture, resume=resume)
    if state.view_layer is None:
        rgba = image_rgba(img)
    else:
        rgba = layer_rgba(capture[state.view_layer], state.view_reduce, state.view_channel)
    stats = () if capture is None else layer_statistics(capture, resolutions)
    return RenderOutput(rgba=rgba, ws=ws, layer_stats=stats)


def synthesize_state(model: Model, state: LatentState, ws: torch.Tensor, force_fp32: bool = True,
                     capture: dict[str, torch.Tensor] | None = None,
                     noise_mode: str | None = None, noise_seed: int | None = None,
                     resume: SynthesisResume | None = None,
                     stop_resolution: int | None = None) -> torch.Tensor:
    """`model.synthesize` with the state's noise and transform settings (noise overridable)."""
    return model.synthesize(
        ws, noise_mode=noise_mode or state.noise_mode,
        noise_seed=state.noise_seed if noise_seed is None else noise_seed,
        translate=state.translate, rotate=state.rotate,
        noise_gain_by_res=state.noise_gain_by_res(), capture=capture, force_fp32=force_fp32,
        resume=resume, stop_resolution=stop_resolution)


def preview_resolution(model: Model) -> int | None:
    """Where a preview can stop: a StyleGAN2 skip model's RGB at 32 px, if it has larger blocks.

    The skip architecture sums every block's RGB, so its image after the 32 px block is the
    final picture's coarse content; other architectures have no image before the last block.
    """
    synthesis = model.generator.synthesis
    if (model.architecture != "stylegan2" or getattr(synthesis, "block_architecture", "") != "skip"
            or model.resolution <= PREVIEW_RESOLUTION):
        return None
    return PREVIEW_RESOLUTION


def render_preview(model: Model, state: LatentState, ws: torch.Tensor, resolution: int,
                   force_fp32: bool = True, resume: SynthesisResume | None = None) -> np.ndarray:
    """The image after the `resolution` block, scaled up (bilinear) to the model's size, as RGBA.

    With `resume`, the blocks it runs are kept, so the full frame that follows starts after them.
    """
    img = synthesize_state(model, state, ws, force_fp32, resume=resume, stop_resolution=resolution)
    img = F.interpolate(img, size=(model.resolution, model.resolution), mode="bilinear",
                        align_corners=False)
    return image_rgba(img)


def image_rgba(img: torch.Tensor) -> np.ndarray:
    """The first image of a batch as opaque RGBA; one-channel models are shown as gray.

    Quantised as `to_uint8` does, but assembled in HWC order on the image's device, so the host
    gets one contiguous copy (on a GPU, no per-pixel work is left for the CPU).
    """
    x = quantised(img[0])
    channels, h, w = x.shape
    rgb = x[:3] if channels >= 3 else x[:1].expand(3, h, w)
    rgba = torch.empty((h, w, 4), dtype=torch.uint8, device=x.device)
    rgba[..., 3] = 255
    rgba[..., :3].copy_(rgb.permute(1, 2, 0))  # float -> uint8 truncates, like .to(torch.uint8)
    return rgba.cpu().numpy()


def layer_rgba(x: torch.Tensor, reduce: str, channel: int = 0) -> np.ndarray:
    """A feature map [1, C, h, w] reduced to one gray picture at its own resolution."""
    x = x[0].float()
    if reduce == "mean":
        m = x.mean(dim=0)
    elif reduce == "norm":
        m = x.norm(dim=0)
    elif reduce == "channel":
        m = x[min(max(int(channel), 0), x.shape[0] - 1)]
    else:
        raise ExplorerError(f"view_reduce must be mean, norm or channel, not {reduce!r}")
    gray = normalized_u8(m)
    return torch.stack([gray, gray, gray, torch.full_like(gray, 255)], dim=-1).cpu().numpy()


def normalized_u8(m: torch.Tensor) -> torch.Tensor:
    """Stretch a map's min..max to 0..255 on its device; a constant map becomes 0, not NaN."""
    m = torch.nan_to_num(m.float())
    lo, hi = m.min(), m.max()
    span = hi - lo
    scale = torch.where(span > 0, 255.0 / span, torch.zeros_like(span))
    return ((m - lo) * scale).round().clamp(0, 255).to(torch.uint8)


def layer_statistics(capture: dict[str, torch.Tensor], resolutions: dict[str, int]) -> tuple[LayerStats, ...]:
    """Stats of every captured layer, in forward order, with a single device-to-host copy."""
    if not capture:
        return ()
    tensors = [x.float() for x in capture.values()]
    rows = []
    for x in tensors:
        v = _flat(x)
        lo, hi = v.aminmax()
        rows.append(torch.stack([v.mean(), v.std(correction=0), torch.maximum(hi, -lo)]))
    table = torch.stack(rows).cpu().tolist()
    stats = []
    for (name, x), (mean, std, max_abs) in zip(zip(capture, tensors), table):
        stats.append(LayerStats(name=name, resolution=int(resolutions.get(name, x.shape[-1])),
                                channels=int(x.shape[1]), mean=mean, std=std, max_abs=max_abs,
                                spike=max_abs / std if std > 0 else 0.0))
    return tuple(stats)


def _flat(x: torch.Tensor) -> torch.Tensor:
    """All elements as one vector, without a copy for channels-last maps too (reductions over
    a channels-last tensor's NCHW order are many times slower than over its memory order)."""
    if x.ndim == 4 and not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last):
        return x.permute(0, 2, 3, 1).reshape(-1)
    return x.reshape(-1)


@dataclass(frozen=True)
class NoiseVariance:
    """Where noise matters: a heat map scaled to its own maximum, and that maximum (the largest
    per-pixel std, in 8-bit steps), so a faint effect is not read as a strong one."""

    rgba: np.ndarray
    peak: float


def noise_variance(model: Model, state: LatentState, samples: int = 16,
                   directions: DirectionLookup | None = None, force_fp32: bool = True,
                   on_step: StepCallback | None = None) -> NoiseVariance:
    """Where the noise inputs matter: per-pixel std over `samples` random-noise renders (seeds
    0..samples-1, the state's gains) as shown (clamped to the 8-bit range), averaged over colour
    channels, as a heat map scaled to its max.
    """
    if samples < 2:
        raise ExplorerError("noise variance needs at least 2 samples")
    ws = state_ws(model, state, directions)
    mean = m2 = None
    for k in range(samples):
        x = synthesize_state(model, state, ws, force_fp32, noise_mode="random", noise_seed=k)[0]
        x = x.clamp(-1, 1)  # the picture as shown: what lies beyond white or black does not show
        if mean is None:  # Welford: identical samples give exactly zero, not rounding noise
            mean, m2 = x.clone(), torch.zeros_like(x)
        else:
            delta = x - mean
            mean += delta / (k + 1)
            m2 += delta * (x - mean)
        if on_step is not None:
            on_step(k + 1, samples)
    std = (m2 / samples).sqrt().mean(dim=0)
    peak = std.max()
    t = torch.where(peak > 0, std / peak, torch.zeros_like(std))
    return NoiseVariance(heat_rgba(t), float(peak) * 127.5)  # images span [-1, 1]: 255 steps


def heat_rgba(t: torch.Tensor) -> np.ndarray:
    """[h, w] values in 0..1 -> "hot" colour map (black, red, yellow, white) as opaque RGBA."""
    rgb = torch.stack([(3 * t).clamp(0, 1), (3 * t - 1).clamp(0, 1), (3 * t - 2).clamp(0, 1)], dim=-1)
    u8 = (rgb * 255).round().to(torch.uint8)
    return torch.cat([u8, torch.full_like(u8[..., :1], 255)], dim=-1).cpu().numpy()


def mixing_grid(model: Model, row_seeds: Sequence[int], col_seeds: Sequence[int],
                layer_weights: Sequence[float], psi: float = 1.0, cutoff: int | None = None,
                class_idx: int | None = None, noise_mode: str = "const", noise_seed: int = 0,
                force_fp32: bool = True, on_step: StepCallback | None = None) -> np.ndarray:
    """The StyleGAN paper's style-mixing figure as one RGBA picture.

    Top row: the B images (`col_seeds`); left column: the A images (`row_seeds`); corner:
    transparent. Cell (i, j) is A_i with W+ rows blended towards B_j by `layer_weights`
    (0 = A, 1 = B), i.e. exactly what `render_state` gives for that mixing state.
    """
    if not row_seeds or not col_seeds:
        raise ExplorerError("a mixing grid needs at least one row seed and one column seed")
    base = LatentState(psi=psi, cutoff=cutoff, class_idx=class_idx, noise_mode=noise_mode,
                       noise_seed=noise_seed)
    cache = MappingCache()
    cells: list[tuple[int, int, LatentState]] = [(0, j + 1, base.replace(seed=b))
                                                 for j, b in enumerate(col_seeds)]
    for i, a in enumerate(row_seeds):
        cells.append((i + 1, 0, base.replace(seed=a)))
        cells.extend((i + 1, j + 1, base.replace(seed=a, mix_seed=b,
                                                 mix_weights=tuple(float(v) for v in layer_weights)))
                     for j, b in enumerate(col_seeds))
    grid = None
    for step, (r, c, state) in enumerate(cells, start=1):
        rgba = render_ws(model, state, cache.state_ws(model, state), force_fp32).rgba
        h, w = rgba.shape[:2]
        if grid is None:
            grid = np.zeros(((len(row_seeds) + 1) * h, (len(col_seeds) + 1) * w, 4), dtype=np.uint8)
        grid[r * h:(r + 1) * h, c * w:(c + 1) * w] = rgba
        if on_step is not None:
            on_step(step, len(cells))
    return grid
