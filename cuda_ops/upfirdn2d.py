"""Upsample (zero insertion), pad, FIR-filter and downsample a batch of images.

The one resampling primitive of StyleGAN2 and StyleGAN3. Filters are symmetric in practice, but
the op *convolves* (flips the filter) unless `flip_filter` is set, so odd filters work too.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from cuda_ops.dispatch import fused_kernel

Pair = int | Sequence[int]


def _pair(v: Pair) -> tuple[int, int]:
    if isinstance(v, int):
        return v, v
    a, b = v
    return int(a), int(b)


def _padding(p: int | Sequence[int]) -> tuple[int, int, int, int]:
    """(x0, x1, y0, y1) from an int, an (x, y) pair or four values."""
    if isinstance(p, int):
        return p, p, p, p
    p = [int(v) for v in p]
    if len(p) == 2:
        return p[0], p[0], p[1], p[1]
    return p[0], p[1], p[2], p[3]


def setup_filter(
    f: Sequence[float] | np.ndarray | torch.Tensor | None,
    device: torch.device | str = "cpu",
    normalize: bool = True,
    flip_filter: bool = False,
    gain: float = 1.0,
    separable: bool | None = None,
) -> torch.Tensor:
    """Turn taps into a float32 filter tensor: 1-D (separable) or 2-D (outer product).

    Short 1-D filters (< 8 taps) become 2-D, long ones stay separable, which is what checkpoints
    store in their `resample_filter` / `up_filter` / `down_filter` buffers.
    """
    if f is None:
        f = 1
    f = torch.as_tensor(f, dtype=torch.float32)
    if f.ndim == 0:
        f = f[None]
    if separable is None:
        separable = f.ndim == 1 and f.numel() >= 8
    if f.ndim == 1 and not separable:
        f = torch.outer(f, f)
    if normalize:
        f = f / f.sum()
    if flip_filter:
        f = f.flip(list(range(f.ndim)))
    f = f * (gain ** (f.ndim / 2))
    return f.to(device=device)


def filter_taps(f: torch.Tensor | None) -> tuple[int, int]:
    """(width, height) of a filter; (1, 1) for None."""
    if f is None:
        return 1, 1
    if f.ndim == 1:
        return f.shape[0], f.shape[0]
    return f.shape[1], f.shape[0]


def upfirdn2d(
    x: torch.Tensor,
    f: torch.Tensor | None,
    up: Pair = 1,
    down: Pair = 1,
    padding: int | Sequence[int] = 0,
    flip_filter: bool = False,
    gain: float = 1.0,
) -> torch.Tensor:
    """Zero-insert by `up`, pad (negative = crop), convolve with `f`, keep every `down`-th sample.

    A 1-D filter is applied along x then y, each pass scaled by sqrt(gain); a 2-D filter by gain.
    """
    kernel = fused_kernel("upfirdn2d", x)
    if kernel is not None:
        return kernel(x, f, up, down, padding, flip_filter, gain)
    if f is None:
        f = torch.ones([1, 1], dtype=torch.float32, device=x.device)
    upx, upy = _pair(up)
    downx, downy = _pair(down)
    px0, px1, py0, py1 = _padding(padding)
    n, c, h, w = x.shape

    if upx > 1 or upy > 1:
        x = x.reshape(n, c, h, 1, w, 1)
        x = F.pad(x, [0, upx - 1, 0, 0, 0, upy - 1])
        x = x.reshape(n, c, h * upy, w * upx)

    x = F.pad(x, [max(px0, 0), max(px1, 0), max(py0, 0), max(py1, 0)])
    x = x[:, :, max(-py0, 0): x.shape[2] - max(-py1, 0), max(-px0, 0): x.shape[3] - max(-px1, 0)]

    f = f.to(x.dtype) * (gain ** (f.ndim / 2))
    if not flip_filter:
        f = f.flip(list(range(f.ndim)))
    if f.ndim == 2:
        x = F.conv2d(x, f[None, None].repeat(c, 1, 1, 1), groups=c)
    else:
        x = F.conv2d(x, f[None, None, None, :].repeat(c, 1, 1, 1), groups=c)
        x = F.conv2d(x, f[None, None, :, None].repeat(c, 1, 1, 1), groups=c)

    return x[:, :, ::downy, ::downx]


def upsample2d(x: torch.Tensor, f: torch.Tensor, up: Pair = 2, padding: int | Sequence[int] = 0,
               flip_filter: bool = False, gain: float = 1.0) -> torch.Tensor:
    """Upsample by `up` with anti-imaging filter `f`; output is exactly `up` times larger."""
    upx, upy = _pair(up)
    fw, fh = filter_taps(f)
    px0, px1, py0, py1 = _padding(padding)
    pad = [px0 + (fw + upx - 1) // 2, px1 + (fw - upx) // 2,
           py0 + (fh + upy - 1) // 2, py1 + (fh - upy) // 2]
    return upfirdn2d(x, f, up=up, padding=pad, flip_filter=flip_filter, gain=gain * upx * upy)


def downsample2d(x: torch.Tensor, f: torch.Tensor, down: Pair = 2, padding: int | Sequence[int] = 0,
                 flip_filter: bool = False, gain: float = 1.0) -> torch.Tensor:
    """Downsample by `down` with anti-aliasing filter `f`; output is exactly `down` times smaller."""
    downx, downy = _pair(down)
    fw, fh = filter_taps(f)
    px0, px1, py0, py1 = _padding(padding)
    pad = [px0 + (fw - downx + 1) // 2, px1 + (fw - downx) // 2,
           py0 + (fh - downy + 1) // 2, py1 + (fh - downy) // 2]
    return upfirdn2d(x, f, down=down, padding=pad, flip_filter=flip_filter, gain=gain)
