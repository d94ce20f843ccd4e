"""Adaptive discriminator augmentation (ADA): random, differentiable distortions of what D sees.

Every image D looks at, real or fake, goes through the same random pipeline, each transform
applied with probability p. Because G is only ever judged through the pipeline, the
distortions do not leak into its images as long as p stays below about 0.8; and because D
never sees the same clean real twice, it overfits far later on small datasets.

The geometric transforms are composed into one 3x3 sampling matrix per image and applied with a
single `grid_sample` (reflection padding, so no black borders appear); the colour transforms are
composed into one 4x4 affine colour matrix per image. Both are differentiable, as G's gradient
must pass through them. `AdaTuner` moves p so that sign(D(real)) averages to a target.
"""

from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F

# Spread of each random transform (the values of NVIDIA's "bgc" pipeline).
INT_TRANSLATE_MAX = 0.125  # fraction of the image size
SCALE_STD = 0.2            # log2 of the isotropic scale factor
ANISO_STD = 0.2            # log2 of the x/y scale ratio
FRAC_TRANSLATE_STD = 0.125  # fraction of the image size
BRIGHTNESS_STD = 0.2
CONTRAST_STD = 0.5         # log2
HUE_MAX = math.pi
SATURATION_STD = 1.0       # log2


def _batch_eye(n: int, size: int, device: torch.device) -> torch.Tensor:
    return torch.eye(size, device=device).expand(n, size, size).clone()


def _chosen(n: int, p: float, device: torch.device) -> torch.Tensor:
    """[n] mask: True where this transform applies to that image."""
    return torch.rand(n, device=device) < p


def _translation(tx: torch.Tensor, ty: torch.Tensor) -> torch.Tensor:
    m = _batch_eye(tx.shape[0], 3, tx.device)
    m[:, 0, 2], m[:, 1, 2] = tx, ty
    return m


def _scaling(sx: torch.Tensor, sy: torch.Tensor) -> torch.Tensor:
    m = _batch_eye(sx.shape[0], 3, sx.device)
    m[:, 0, 0], m[:, 1, 1] = sx, sy
    return m


def _rotation(angle: torch.Tensor) -> torch.Tensor:
    m = _batch_eye(angle.shape[0], 3, angle.device)
    cos, sin = angle.cos(), angle.sin()
    m[:, 0, 0], m[:, 0, 1], m[:, 1, 0], m[:, 1, 1] = cos, -sin, sin, cos
    return m


def geometric_matrices(n: int, size: int, p: float, device: torch.device) -> torch.Tensor:
    """[n, 3, 3] maps from output to input coordinates (both in grid_sample's [-1, 1] units).

    Each factor is the identity for the images it skips. The two free rotations each use
    1 - sqrt(1 - p) so that "rotated at all" has probability p, as for the other transforms.
    """
    zeros, ones = torch.zeros(n, device=device), torch.ones(n, device=device)
    m = _batch_eye(n, 3, device)
    flip = 1 - 2 * torch.randint(0, 2, (n,), device=device).float()
    m = m @ _scaling(torch.where(_chosen(n, p, device), flip, ones), ones)
    quarter = torch.randint(0, 4, (n,), device=device).float() * (math.pi / 2)
    m = m @ _rotation(torch.where(_chosen(n, p, device), quarter, zeros))
    # Whole-pixel shifts: 2 / size grid units per pixel.
    shift = torch.round((torch.rand(n, 2, device=device) * 2 - 1) * INT_TRANSLATE_MAX * size) * (2 / size)
    shift = torch.where(_chosen(n, p, device)[:, None], shift, 0.0)
    m = m @ _translation(shift[:, 0], shift[:, 1])
    scale = torch.exp2(torch.randn(n, device=device) * SCALE_STD)
    scale = torch.where(_chosen(n, p, device), scale, ones)
    m = m @ _scaling(scale, scale)
    p_rot = 1 - math.sqrt(max(1 - p, 0.0))
    angle = (torch.rand(n, device=device) * 2 - 1) * math.pi
    m = m @ _rotation(torch.where(_chosen(n, p_rot, device), angle, zeros))
    aniso = torch.exp2(torch.randn(n, device=device) * ANISO_STD)
    aniso = torch.where(_chosen(n, p, device), aniso, ones)
    m = m @ _scaling(aniso, 1 / aniso)
    angle = (torch.rand(n, device=device) * 2 - 1) * math.pi
    m = m @ _rotation(torch.where(_chosen(n, p_rot, device), angle, zeros))
    frac = torch.randn(n, 2, device=device) * (FRAC_TRANSLATE_STD * 2)
    frac = torch.where(_chosen(n, p, device)[:, None], frac, 0.0)
    return m @ _translation(frac[:, 0], frac[:, 1])


def color_matrices(n: int, p: float, device: torch.device) -> torch.Tensor:
    """[n, 4, 4] affine maps of homogeneous RGB (in [-1, 1] units, so 0 is mid-grey)."""
    eye = _batch_eye(n, 4, device)
    luma = torch.tensor([1, 1, 1, 0], dtype=torch.float32, device=device) / math.sqrt(3)
    luma_outer = torch.outer(luma, luma)
    m = eye.clone()
    brightness = torch.randn(n, device=device) * BRIGHTNESS_STD
    brightness = torch.where(_chosen(n, p, device), brightness, 0.0)
    shift = eye.clone()
    shift[:, :3, 3] = brightness[:, None]
    m = shift @ m
    contrast = torch.exp2(torch.randn(n, device=device) * CONTRAST_STD)
    contrast = torch.where(_chosen(n, p, device), contrast, 1.0)
    scale = eye.clone()
    scale[:, :3, :3] *= contrast[:, None, None]
    m = scale @ m
    flip = torch.randint(0, 2, (n,), device=device).float()
    flip = torch.where(_chosen(n, p, device), flip, 0.0)
    m = (eye - 2 * luma_outer * flip[:, None, None]) @ m
    angle = (torch.rand(n, device=device) * 2 - 1) * HUE_MAX
    angle = torch.where(_chosen(n, p, device), angle, 0.0)
    m = _rotation_about(luma, angle) @ m
    saturation = torch.exp2(torch.randn(n, device=device) * SATURATION_STD)
    saturation = torch.where(_chosen(n, p, device), saturation, 1.0)
    grey = (eye - luma_outer) * saturation[:, None, None] + luma_outer
    grey[:, 3, 3] = 1
    return grey @ m


def _rotation_about(axis: torch.Tensor, angle: torch.Tensor) -> torch.Tensor:
    """[n, 4, 4] rotations of RGB about the unit `axis` (its first three entries), by Rodrigues."""
    a = axis[:3]
    cross = torch.tensor([[0, -a[2], a[1]], [a[2], 0, -a[0]], [-a[1], a[0], 0]], device=axis.device)
    cos, sin = angle.cos()[:, None, None], angle.sin()[:, None, None]
    rot = cos * torch.eye(3, device=axis.device) + sin * cross + (1 - cos) * torch.outer(a, a)
    m = _batch_eye(angle.shape[0], 4, axis.device)
    m[:, :3, :3] = rot
    return m


def _reflect(coord: torch.Tensor, size: int) -> torch.Tensor:
    """Pixel coordinates mirrored about the image's outer edges (-0.5 and size - 0.5), then
    clamped onto the pixel centres, as grid_sample's reflection padding does."""
    period = 2 * size
    folded = torch.remainder(coord + 0.5, period)
    folded = torch.where(folded > size, period - folded, folded)
    return (folded - 0.5).clamp(0, size - 1)


def sample_bilinear_reflect(images: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    """`grid_sample(images, grid, "bilinear", "reflection", align_corners=False)` in gathers.

    R1 differentiates D's gradient with respect to the reals once more, through this sampling.
    PyTorch's CUDA grid_sample has no second derivative (its backward is not differentiable);
    gathers and weighted sums are, on every device. Only `images` may need gradients.
    """
    n, c, h, w = images.shape
    x = _reflect((grid[..., 0] + 1) * (w / 2) - 0.5, w)
    y = _reflect((grid[..., 1] + 1) * (h / 2) - 0.5, h)
    x0, y0 = x.floor(), y.floor()
    fx, fy = (x - x0).unsqueeze(1), (y - y0).unsqueeze(1)
    x0, y0 = x0.long(), y0.long()
    x1, y1 = (x0 + 1).clamp(max=w - 1), (y0 + 1).clamp(max=h - 1)
    flat = images.reshape(n, c, h * w)
    out_hw = grid.shape[1:3]

    def tap(yi: torch.Tensor, xi: torch.Tensor) -> torch.Tensor:
        index = (yi * w + xi).reshape(n, 1, -1).expand(n, c, -1)
        return flat.gather(2, index).reshape(n, c, *out_hw)

    top = tap(y0, x0) * (1 - fx) + tap(y0, x1) * fx
    bottom = tap(y1, x0) * (1 - fx) + tap(y1, x1) * fx
    return top * (1 - fy) + bottom * fy


class AdaptiveAugment:
    """images [N, 3, H, W] in [-1, 1] -> augmented images, each transform with probability `p`.

    `p` is a plain float: reading a device tensor on every call would make each step wait
    for the GPU.
    """

    def __init__(self, p: float = 0.0) -> None:
        self.p = float(p)

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        p = self.p
        if p <= 0:
            return images
        n, c, h, w = images.shape
        if c != 3:
            raise ValueError(f"augmentation expects RGB images, got {c} channels")
        geometry = geometric_matrices(n, w, p, images.device)
        grid = F.affine_grid(geometry[:, :2, :].to(images.dtype), [n, c, h, w], align_corners=False)
        images = sample_bilinear_reflect(images, grid)
        color = color_matrices(n, p, images.device).to(images.dtype)
        flat = images.reshape(n, c, h * w)
        flat = color[:, :3, :3] @ flat + color[:, :3, 3:]
        return flat.reshape(n, c, h, w)


class AdaTuner:
    """Moves the augmentation probability towards the point where D is neither sure nor fooled.

    The overfitting heuristic r_t = E[sign(D(real))] is 0 for a D that cannot tell reals from
    fakes and 1 for one that has memorised the reals. Every `interval` steps p moves by a fixed
    amount towards keeping r_t at `target`; `speed_kimg` images are enough to go from 0 to 1.
    """

    def __init__(self, augment: AdaptiveAugment, batch_size: int, device: torch.device,
                 target: float = 0.6, interval: int = 4, speed_kimg: float = 500.0) -> None:
        self.augment = augment
        self.target = target
        self.interval = interval
        self.step_size = batch_size * interval / (speed_kimg * 1000)
        self.signs = torch.zeros(2, device=device)  # [sum of signs, count]
        self.steps = 0
        self.last_rt = float("nan")

    def observe(self, real_logits: torch.Tensor) -> None:
        """Accumulate on the device; nothing waits for the GPU here."""
        logits = real_logits.detach().float()
        self.signs += torch.stack([logits.sign().sum(), torch.tensor(float(logits.numel()), device=logits.device)])

    def step(self, all_reduce_sum: Callable[[torch.Tensor], None] | None = None) -> None:
        """Once every `interval` calls, adjust p (after summing the statistics over all ranks)."""
        self.steps += 1
        if self.steps % self.interval != 0:
            return
        signs = self.signs.clone()
        if all_reduce_sum is not None:
            all_reduce_sum(signs)
        self.signs.zero_()
        if signs[1] <= 0:
            return
        self.last_rt = float(signs[0] / signs[1])
        direction = 1.0 if self.last_rt > self.target else -1.0
        self.augment.p = min(max(self.augment.p + direction * self.step_size, 0.0), 1.0)
