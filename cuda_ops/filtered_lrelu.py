"""Bias, upsample, leaky ReLU, clamp and downsample in one call: StyleGAN3's alias-free nonlinearity.

The activation runs at a higher sampling rate (between an anti-imaging upsampler and an
anti-aliasing downsampler) so that the new frequencies it creates are filtered out instead of
folding back into the signal as aliases.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch

from cuda_ops.bias_act import bias_act
from cuda_ops.dispatch import fused_kernel
from cuda_ops.upfirdn2d import upfirdn2d


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
    that zero insertion keeps the signal's magnitude.
    """
    kernel = fused_kernel("filtered_lrelu", x)
    if kernel is not None:
        return kernel(x, fu, fd, b, up, down, padding, gain, slope, clamp, flip_filter)
    x = bias_act(x, b)
    x = upfirdn2d(x, fu, up=up, padding=padding, flip_filter=flip_filter, gain=up ** 2)
    x = bias_act(x, act="lrelu", alpha=slope, gain=gain, clamp=clamp)
    return upfirdn2d(x, fd, down=down, flip_filter=flip_filter)
