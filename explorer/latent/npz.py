"""W+ latents as .npz files, in the layout of NVIDIA's projected_w.npz so either tool reads the other's.

Key `w` holds float32 [1, num_ws, w_dim]. Fitted StyleGAN2 noise maps ride along under
`noise/<buffer name>`; NVIDIA's scripts ignore keys they do not know. The app's saves, the
projector's output and the labelled latents of attribute directions all use this one format.
"""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path
from typing import Mapping

import numpy as np
import torch

from explorer.errors import ExplorerError
from explorer.fileio import atomic_write_bytes

LATENT_KEY = "w"
NOISE_PREFIX = "noise/"

ArrayLike = np.ndarray | torch.Tensor


def _float32(value: ArrayLike) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().float().cpu().numpy()
    return np.asarray(value, dtype=np.float32)


def latent_npz_bytes(ws: ArrayLike, noise: Mapping[str, ArrayLike] | None = None) -> bytes:
    """The .npz file for W+ `ws` ([num_ws, w_dim] or [1, num_ws, w_dim]) and optional noise maps."""
    w = _float32(ws)
    if w.ndim == 2:
        w = w[None]
    if w.ndim != 3 or w.shape[0] != 1:
        raise ExplorerError(f"a W+ latent must be [1, num_ws, w_dim], got shape {list(w.shape)}")
    arrays = {LATENT_KEY: w}
    arrays.update({NOISE_PREFIX + name: _float32(m) for name, m in (noise or {}).items()})
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def save_latent_npz(path: str | os.PathLike[str], ws: ArrayLike, noise: Mapping[str, ArrayLike] | None = None,
                    overwrite: bool = True) -> None:
    """Write the .npz atomically (with overwrite=False, FileExistsError rather than replacing)."""
    atomic_write_bytes(path, latent_npz_bytes(ws, noise), overwrite=overwrite)


def load_latent_npz(path: str | os.PathLike[str]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(W+ [num_ws, w_dim] float32, noise maps by buffer name) from ours or NVIDIA's file."""
    name = Path(path).name
    if not Path(path).is_file():
        raise ExplorerError(f"no latent file {path}" + (" (it is a folder)" if Path(path).is_dir() else ""))
    try:
        with np.load(path, allow_pickle=False) as data:
            if LATENT_KEY not in data.files:
                raise ExplorerError(f"{name} has no array named 'w' (found: {', '.join(data.files) or 'nothing'}); "
                                    "it is not a W+ latent")
            w = np.asarray(data[LATENT_KEY], dtype=np.float32)
            noise = {k[len(NOISE_PREFIX):]: np.asarray(data[k], np.float32)
                     for k in data.files if k.startswith(NOISE_PREFIX)}
    except ValueError as e:  # numpy's words for "not an .npz" speak of pickles and allow_pickle
        raise ExplorerError(f"{name} is not a latent .npz file") from e
    except (OSError, EOFError, zipfile.BadZipFile) as e:
        raise ExplorerError(f"could not read {name} as a latent .npz ({e})") from e
    if w.ndim == 3 and w.shape[0] == 1:
        w = w[0]
    if w.ndim != 2:
        raise ExplorerError(f"{name}: 'w' must be [1, num_ws, w_dim], got shape {list(w.shape)}")
    return w, noise
