"""The pictures findings carry: heat maps, spectra, strips of images and small line plots.

All are RGBA uint8 [H, W, 4], the layout the app uploads and `save_png` writes. Plots are drawn
with Pillow so the headless core needs no plotting library.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch
from PIL import Image, ImageDraw

from explorer.engine.render import heat_rgba
from explorer.model import to_uint8

PAD = 4
PLOT_COLORS = ((230, 80, 60), (60, 140, 230), (80, 190, 90), (220, 170, 40), (170, 90, 200),
               (40, 190, 190), (240, 120, 180), (140, 140, 140))


def images_rgba(images: torch.Tensor) -> np.ndarray:
    """Native-range images [N, C, H, W] -> RGBA uint8 [N, H, W, 4]."""
    from explorer.diagnose.samples import rgb3
    rgb = to_uint8(rgb3(images))
    alpha = np.full(rgb.shape[:3] + (1,), 255, np.uint8)
    return np.concatenate([rgb, alpha], axis=3)


def heat(values: torch.Tensor | np.ndarray) -> np.ndarray:
    """[h, w] non-negative values -> hot colour map scaled to their maximum."""
    t = torch.as_tensor(np.asarray(values), dtype=torch.float32)
    peak = t.max()
    return heat_rgba(t / peak if peak > 0 else torch.zeros_like(t))


def heat_rgba_scaled(values: torch.Tensor, peak: float) -> np.ndarray:
    """Hot colour map with a shared scale: several maps drawn with one `peak` compare by colour."""
    t = torch.as_tensor(values, dtype=torch.float32)
    return heat_rgba((t / peak).clamp(0, 1) if peak > 0 else torch.zeros_like(t))


def enlarge(rgba: np.ndarray, size: int) -> np.ndarray:
    """Nearest-neighbour scale of a small picture so that its longer side is about `size`."""
    factor = max(1, size // max(rgba.shape[:2]))
    return np.ascontiguousarray(rgba.repeat(factor, axis=0).repeat(factor, axis=1))


def resize(rgba: np.ndarray, height: int) -> np.ndarray:
    """Scale to `height` (nearest when enlarging by a whole factor, else bilinear)."""
    h, w = rgba.shape[:2]
    if h == height:
        return rgba
    if height % h == 0:
        return enlarge(rgba, height * max(h, w) // h)
    img = Image.fromarray(rgba, "RGBA").resize((max(1, round(w * height / h)), height), Image.BILINEAR)
    return np.asarray(img)


def strip(pictures: Sequence[np.ndarray], height: int = 128) -> np.ndarray:
    """Pictures side by side at one height, separated by transparent gaps."""
    scaled = [resize(p, height) for p in pictures]
    width = sum(p.shape[1] for p in scaled) + PAD * (len(scaled) - 1)
    out = np.zeros((height, width, 4), np.uint8)
    x = 0
    for p in scaled:
        out[:, x:x + p.shape[1]] = p
        x += p.shape[1] + PAD
    return out


def stack(pictures: Sequence[np.ndarray]) -> np.ndarray:
    """Pictures one under the other, left-aligned."""
    width = max(p.shape[1] for p in pictures)
    height = sum(p.shape[0] for p in pictures) + PAD * (len(pictures) - 1)
    out = np.zeros((height, width, 4), np.uint8)
    y = 0
    for p in pictures:
        out[y:y + p.shape[0], :p.shape[1]] = p
        y += p.shape[0] + PAD
    return out


def hann_window(h: int, w: int) -> torch.Tensor:
    """A 2-D Hann window: without it the jump between opposite borders fills the spectrum's high
    frequencies with energy that belongs to no detail (and never moves)."""
    return torch.hann_window(h, periodic=False)[:, None] * torch.hann_window(w, periodic=False)[None, :]


def power_spectrum(x: torch.Tensor) -> torch.Tensor:
    """Mean power spectrum over every leading axis of [..., H, W], windowed, DC centred."""
    x = x.float().reshape(-1, *x.shape[-2:])
    x = (x - x.mean(dim=(1, 2), keepdim=True)) * hann_window(*x.shape[-2:])
    p = torch.fft.fft2(x).abs().square().mean(dim=0)
    return torch.fft.fftshift(p)


def spectrum_rgba(x: torch.Tensor, size: int = 128) -> np.ndarray:
    """log10 power spectrum (6 decades below its peak) as a heat map."""
    p = power_spectrum(x)
    db = torch.log10(p.clamp_min(p.max() * 1e-6) / p.max()) + 6
    return enlarge(heat(db), size)


def line_plot(series: dict[str, Sequence[float]], x: Sequence[float] | None = None, title: str = "",
              log_y: bool = False, size: tuple[int, int] = (420, 220)) -> np.ndarray:
    """Lines on a dark background with a legend; `x` defaults to 0, 1, 2, ..."""
    w, h = size
    img = Image.new("RGBA", (w, h), (24, 24, 28, 255))
    draw = ImageDraw.Draw(img)
    columns = min(3, max(1, len(series)))
    legend_rows = -(-len(series) // columns)
    # the legend sits in its own band under the title, never over the lines
    left, right, top, bottom = 44, 8, 18 + 12 * legend_rows, 16
    column_width = (w - left) // columns
    values = [v for vs in series.values() for v in vs if v is not None and math.isfinite(v)]
    if log_y:
        values = [v for v in values if v > 0]
    if not values:
        draw.text((left, h // 2), "no data", fill=(200, 200, 200, 255))
        return np.asarray(img)
    tf = (lambda v: math.log10(v)) if log_y else (lambda v: v)
    lo, hi = tf(min(values)), tf(max(values))
    if hi - lo < 1e-9:
        lo, hi = lo - 0.5, hi + 0.5
    n = max(len(vs) for vs in series.values())
    xs = list(x) if x is not None else list(range(n))
    x_lo, x_hi = min(xs), max(xs) if max(xs) > min(xs) else min(xs) + 1
    draw.rectangle([left, top, w - right, h - bottom], outline=(90, 90, 90, 255))
    for k, (name, vs) in enumerate(series.items()):
        color = PLOT_COLORS[k % len(PLOT_COLORS)] + (255,)
        points = [(left + (xs[i] - x_lo) / (x_hi - x_lo) * (w - left - right),
                   h - bottom - (tf(v) - lo) / (hi - lo) * (h - top - bottom))
                  for i, v in enumerate(vs) if v is not None and math.isfinite(v) and (v > 0 or not log_y)]
        if len(points) > 1:
            draw.line(points, fill=color, width=2)
        elif points:
            draw.ellipse([points[0][0] - 2, points[0][1] - 2, points[0][0] + 2, points[0][1] + 2], fill=color)
        draw.text((left + column_width * (k % columns), 16 + 12 * (k // columns)),
                  name[:column_width // 6], fill=color)
    label = (lambda v: f"{10 ** v:.3g}") if log_y else (lambda v: f"{v:.3g}")
    draw.text((2, top - 4), label(hi), fill=(200, 200, 200, 255))
    draw.text((2, h - bottom - 8), label(lo), fill=(200, 200, 200, 255))
    draw.text((left, 2), title, fill=(230, 230, 230, 255))
    return np.asarray(img)


def bar_chart(values: Sequence[float], labels: Sequence[str], title: str = "",
              highlight: int | None = None, size: tuple[int, int] = (420, 200)) -> np.ndarray:
    """Vertical bars, one per value, labelled underneath (every other label when crowded)."""
    w, h = size
    img = Image.new("RGBA", (w, h), (24, 24, 28, 255))
    draw = ImageDraw.Draw(img)
    top, bottom, left = 18, 28, 6
    peak = max([v for v in values if math.isfinite(v)] + [1e-9])
    slot = (w - 2 * left) / max(len(values), 1)
    every = max(1, math.ceil(len(values) * 40 / w))
    for i, v in enumerate(values):
        x0 = left + i * slot
        bh = (h - top - bottom) * (v / peak if math.isfinite(v) else 0)
        color = (230, 80, 60, 255) if i == highlight else (120, 160, 220, 255)
        draw.rectangle([x0 + 1, h - bottom - bh, x0 + slot - 1, h - bottom], fill=color)
        if i % every == 0:  # staggered in two rows, so a label may take two slots' width
            text = _fit(draw, labels[i], 2 * every * slot - 4)
            x = min(x0, w - 2 - draw.textlength(text))  # the last label stays inside the picture
            draw.text((x, h - bottom + 2 + 10 * ((i // every) % 2)), text, fill=(200, 200, 200, 255))
    named = f", red: {labels[highlight]}" if highlight is not None else ""
    draw.text((left, 2), f"{title}  (max {peak:.3g}{named})", fill=(230, 230, 230, 255))
    return np.asarray(img)


def _fit(draw: ImageDraw.ImageDraw, text: str, width: float) -> str:
    """`text`, shortened from the left (layer names differ at the end: b16.conv0 / b16.conv1)."""
    if draw.textlength(text) <= width:
        return text
    while len(text) > 1 and draw.textlength("~" + text) > width:
        text = text[1:]
    return "~" + text
