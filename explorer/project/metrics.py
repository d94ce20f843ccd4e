"""Quality numbers for a reconstruction, computed on the 8-bit pixels a user actually sees."""

from __future__ import annotations

import math

import numpy as np
import torch

from explorer.project.losses.ssim import ssim


def uint8_to_tensor(pixels: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """[H, W, C] or [N, H, W, C] uint8 -> float [N, C, H, W] in the generator's range [-1, 1]."""
    a = np.array(pixels, dtype=np.uint8)  # a copy: callers' arrays may be read-only
    a = a[None] if a.ndim == 3 else a
    t = torch.from_numpy(a).to(device)
    return t.permute(0, 3, 1, 2).float() / 127.5 - 1


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB between two uint8 images (inf when identical)."""
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(255.0 ** 2 / mse)


def ssim_uint8(a: np.ndarray, b: np.ndarray) -> float:
    """SSIM (Gaussian 11-tap window, shrunk for tiny images) between two uint8 images."""
    return float(ssim(uint8_to_tensor(a), uint8_to_tensor(b))[0])
