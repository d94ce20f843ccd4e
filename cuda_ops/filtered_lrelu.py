"""Bias, upsample, leaky ReLU, clamp and downsample in one call: StyleGAN3's alias-free nonlinearity.

The activation runs at a higher sampling rate, between an anti-imaging upsampler and an
anti-aliasing downsampler, so the new frequencies it creates are filtered out instead of folding
back into the signal as aliases.

`filtered_lrelu_ref` spells the op out with `upfirdn2d` and `bias_act` and defines the numerics.
`filtered_lrelu` computes the same thing about 4x faster on CPU, which is where this op spends
almost all of StyleGAN3's time: it never materialises the zero-inserted image (a transposed conv
skips the zero taps), keeps only every `down`-th sample while filtering (a strided conv) instead
of after it, runs on channels-last tensors (depthwise convs are several times faster there) and,
outside autograd, applies the activation in place (allocating a big tensor costs more than the
arithmetic, because of page faults). Results agree with the reference to float32 rounding.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F

from cuda_ops.bias_act import bias_act
from cuda_ops.dispatch import fused_kernel
from cuda_ops.upfirdn2d import _padding, upfirdn2d


def filtered_lrelu(
    x: torch.Tensor,
    fu: torch.Tensor | None = None,
    fd: torch.Tensor | None = None,
    b: torch.Tensor | None = None,
    up: int = 1,
    down: int = 1,
    padding: int | Sequence[int] = 0,
    gain: float = math.sqrt(2),
    slope: float = 0.2,
    clamp: float | None = None,
    flip_filter: bool = False,
) -> torch.Tensor:
    """x + b, upsample by `up` through `fu` (padding applies to the upsampled image), leaky ReLU
    times `gain`, clamp to [-clamp, clamp], then downsample by `down` through `fd`.

    Filters are 1-D (separable) or 2-D; None means the identity. Upsampling uses gain up**2 so
    that zero insertion keeps the signal's magnitude. The result is channels-last: converting it
    back costs more than the next convolution gains from NCHW.
    """
    kernel = fused_kernel("filtered_lrelu", x)
    if kernel is not None:
        return kernel(x, fu, fd, b, up, down, padding, gain, slope, clamp, flip_filter)
    y = x.contiguous(memory_format=torch.channels_last)
    if b is not None:
        y = y + b.to(y.dtype).reshape(1, -1, 1, 1)
    y = _upsample(y, fu, up, _padding(padding), flip_filter, gain=up ** 2)
    y = _activate(y, slope, gain, clamp)
    return _downsample(y, fd, down, flip_filter).contiguous(memory_format=torch.channels_last)


def filtered_lrelu_ref(
    x: torch.Tensor,
    fu: torch.Tensor | None = None,
    fd: torch.Tensor | None = None,
    b: torch.Tensor | None = None,
    up: int = 1,
    down: int = 1,
    padding: int | Sequence[int] = 0,
    gain: float = math.sqrt(2),
    slope: float = 0.2,
    clamp: float | None = None,
    flip_filter: bool = False,
) -> torch.Tensor:
    """The definition of `filtered_lrelu`, step by step (slow: it filters the zero-stuffed image)."""
    x = bias_act(x, b)
    x = upfirdn2d(x, fu, up=up, padding=padding, flip_filter=flip_filter, gain=up ** 2)
    x = bias_act(x, act="lrelu", alpha=slope, gain=gain, clamp=clamp)
    return upfirdn2d(x, fd, down=down, flip_filter=flip_filter)


def _activate(y: torch.Tensor, slope: float, gain: float, clamp: float | None) -> torch.Tensor:
    """Leaky ReLU, gain, clamp. `y` must be a tensor this module allocated: without autograd
    the work is done in place (autograd needs the intermediate results it would overwrite)."""
    if torch.is_grad_enabled() and y.requires_grad:
        return bias_act(y, act="lrelu", alpha=slope, gain=gain, clamp=clamp)
    if slope != 1:
        y = F.leaky_relu_(y, slope)
    if gain != 1:
        y.mul_(gain)
    if clamp is not None and clamp >= 0:
        y.clamp_(-clamp, clamp)
    return y


def _depthwise(f: torch.Tensor, channels: int, shape: Sequence[int]) -> torch.Tensor:
    """The same filter for every channel, as a grouped-conv weight [C, 1, kh, kw]."""
    return f.reshape(1, 1, *shape).expand(channels, 1, *shape)


def _upsample(x: torch.Tensor, f: torch.Tensor | None, up: int,
              pad: tuple[int, int, int, int], flip_filter: bool, gain: float) -> torch.Tensor:
    """upfirdn2d(x, f, up=up, padding=pad, gain=gain) without building the zero-stuffed image.

    A transposed conv with stride `up` is the convolution of the zero-stuffed signal with its
    zero taps skipped. Its output starts `taps - 1` samples before the padded signal would and
    ends `taps - up` samples after it; `_transposed_conv` crops (or pads) the difference.
    Always returns a new tensor.
    """
    px0, px1, py0, py1 = pad
    if f is None:
        if up == 1:
            return F.pad(x, [px0, px1, py0, py1])
        f = torch.ones([1], dtype=torch.float32, device=x.device)
    c = x.shape[1]
    f = f * (gain ** (f.ndim / 2))
    f = (f.flip(list(range(f.ndim))) if flip_filter else f).to(x.dtype)
    if f.ndim == 2:
        th, tw = f.shape
        return _transposed_conv(x, _depthwise(f, c, (th, tw)), (up, up),
                                (th - 1 - py0, th - up - py1), (tw - 1 - px0, tw - up - px1))
    t = f.shape[0]
    x = _transposed_conv(x, _depthwise(f, c, (1, t)), (1, up), (0, 0), (t - 1 - px0, t - up - px1))
    return _transposed_conv(x, _depthwise(f, c, (t, 1)), (up, 1), (t - 1 - py0, t - up - py1), (0, 0))


def _transposed_conv(x: torch.Tensor, weight: torch.Tensor, stride: tuple[int, int],
                     crop_y: tuple[int, int], crop_x: tuple[int, int]) -> torch.Tensor:
    """Grouped conv_transpose2d, then crop (before, after) samples per axis; negative pads.

    Symmetric crops (the usual case) go into the conv's own padding, which saves a copy.
    """
    sym = [lo if lo == hi and lo >= 0 else 0 for lo, hi in (crop_y, crop_x)]
    x = F.conv_transpose2d(x, weight, stride=stride, padding=sym, groups=x.shape[1])
    rest = [sym[1] - crop_x[0], sym[1] - crop_x[1], sym[0] - crop_y[0], sym[0] - crop_y[1]]
    return F.pad(x, rest) if any(rest) else x


def _downsample(x: torch.Tensor, f: torch.Tensor | None, down: int,
                flip_filter: bool) -> torch.Tensor:
    """upfirdn2d(x, f, down=down): a strided conv computes only the samples that are kept."""
    if f is None:
        return x[:, :, ::down, ::down]
    c = x.shape[1]
    # conv2d correlates, so the filter is flipped to convolve (unless told otherwise).
    f = (f if flip_filter else f.flip(list(range(f.ndim)))).to(x.dtype)
    if f.ndim == 2:
        return F.conv2d(x, _depthwise(f, c, f.shape), stride=down, groups=c)
    t = f.shape[0]
    x = F.conv2d(x, _depthwise(f, c, (1, t)), stride=(1, down), groups=c)
    return F.conv2d(x, _depthwise(f, c, (t, 1)), stride=(down, 1), groups=c)
