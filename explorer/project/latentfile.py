"""Projected latents as .npz, in the layout of NVIDIA's projected_w.npz so either tool reads the other's.

Key `w` holds float32 [1, num_ws, w_dim]. Fitted StyleGAN2 noise maps ride along under
`noise/<buffer name>`; NVIDIA's scripts ignore keys they do not know.
"""

from __future__ import annotations

import io
import os
import zipfile

import numpy as np
import torch

from explorer.errors import ExplorerError
from explorer.fileio import atomic_write_bytes

NOISE_PREFIX = "noise/"


def save_projected_w(path: str | os.PathLike[str], ws: torch.Tensor,
                     noise: dict[str, torch.Tensor] | None = None, overwrite: bool = True) -> None:
    arrays = {"w": ws.detach().float().cpu().numpy().reshape(1, *ws.shape[-2:])}
    arrays.update({NOISE_PREFIX + k: v.detach().float().cpu().numpy() for k, v in (noise or {}).items()})
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    atomic_write_bytes(path, buf.getvalue(), overwrite=overwrite)


def load_projected_w(path: str | os.PathLike[str]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(w [1, num_ws, w_dim] float32, noise maps by buffer name) from ours or NVIDIA's file."""
    try:
        with np.load(path, allow_pickle=False) as data:
            if "w" not in data:
                raise ExplorerError(f"{os.fspath(path)} has no 'w' array; it is not a projected latent")
            w = np.asarray(data["w"], dtype=np.float32)
            noise = {k[len(NOISE_PREFIX):]: np.asarray(data[k], np.float32)
                     for k in data.files if k.startswith(NOISE_PREFIX)}
    except (OSError, ValueError, zipfile.BadZipFile) as e:
        raise ExplorerError(f"could not read {os.fspath(path)} as a .npz latent: {e}") from e
    if w.ndim == 2:
        w = w[None]
    if w.ndim != 3 or w.shape[0] != 1:
        raise ExplorerError(f"'w' in {os.fspath(path)} has shape {list(w.shape)}; expected [1, num_ws, w_dim]")
    return w, noise
