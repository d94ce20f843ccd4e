"""SSIM and multi-scale SSIM in torch, differentiable, for tiny (16 px) to large images.

Wang et al.'s 11-tap window and five scales assume large pictures; here the window shrinks to fit
the smallest scale and the number of scales follows the image size, so a 16 px target still gets
a meaningful structural term.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

# Per-scale exponents from Wang, Simoncelli & Bovik (2003), finest scale first.
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
MIN_SCALE_SIDE = 8


def _window(size: int, sigma: float, channels: int, like: torch.Tensor) -> torch.Tensor:
    """A separable Gaussian as one [C, 1, size, size] depthwise kernel."""
    x = torch.arange(size, dtype=like.dtype, device=like.device) - (size - 1) / 2
    g = torch.exp(-(x ** 2) / (2 * sigma ** 2))
    g = g / g.sum()
    return (g[:, None] * g[None, :]).expand(channels, 1, size, size).contiguous()


def _fitting_window(side: int, window_size: int) -> int:
    """The largest odd window no larger than `window_size` that fits in `side` pixels."""
    size = min(window_size, side)
    return size if size % 2 else size - 1


def _ssim_and_cs(x: torch.Tensor, y: torch.Tensor, window_size: int, sigma: float
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean SSIM and mean contrast-structure term per image ([N] each), over a valid window.

    Inputs are intensities in [0, 1]: the luminance term assumes non-negative values and loses
    its grip on images centred at zero.
    """
    c = x.shape[1]
    size = _fitting_window(min(x.shape[-2:]), window_size)
    win = _window(size, sigma * size / window_size, c, x)

    def blur(t: torch.Tensor) -> torch.Tensor:
        return F.conv2d(t, win, groups=c)

    mu_x, mu_y = blur(x), blur(y)
    var_x = blur(x * x) - mu_x ** 2
    var_y = blur(y * y) - mu_y ** 2
    cov = blur(x * y) - mu_x * mu_y
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    cs = (2 * cov + c2) / (var_x + var_y + c2)
    luminance = (2 * mu_x * mu_y + c1) / (mu_x ** 2 + mu_y ** 2 + c1)
    return (luminance * cs).flatten(1).mean(1), cs.flatten(1).mean(1)


def _unit_range(x: torch.Tensor) -> torch.Tensor:
    """The generator's [-1, 1] -> [0, 1]."""
    return (x.float() + 1) / 2


def ssim(x: torch.Tensor, y: torch.Tensor, window_size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """Single-scale SSIM per image ([N]) of [N, C, H, W] images in the generator's range [-1, 1]."""
    return _ssim_and_cs(_unit_range(x), _unit_range(y), window_size, sigma)[0]


def num_scales(side: int, max_scales: int = len(MS_SSIM_WEIGHTS)) -> int:
    """How many 2x-downsampled scales keep at least MIN_SCALE_SIDE pixels per side."""
    scales = 1
    while scales < max_scales and side >> scales >= MIN_SCALE_SIDE:
        scales += 1
    return scales


def ms_ssim(x: torch.Tensor, y: torch.Tensor, window_size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """Multi-scale SSIM per image ([N]) of images in [-1, 1], with Wang's weights renormalised to
    the scales used.

    Negative contrast-structure terms are clipped at a small positive value, so fractional powers
    stay defined (as in common MS-SSIM losses).
    """
    x, y = _unit_range(x), _unit_range(y)
    scales = num_scales(min(x.shape[-2:]))
    weights = torch.tensor(MS_SSIM_WEIGHTS[:scales], dtype=x.dtype, device=x.device)
    weights = weights / weights.sum()
    value = torch.ones(x.shape[0], dtype=x.dtype, device=x.device)
    for j in range(scales):
        s, cs = _ssim_and_cs(x, y, window_size, sigma)
        term = s if j == scales - 1 else cs
        value = value * term.clamp(min=1e-4) ** weights[j]
        if j < scales - 1:
            x, y = F.avg_pool2d(x, 2), F.avg_pool2d(y, 2)
    return value
