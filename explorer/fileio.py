"""Atomic file writes and PNG helpers: a crash never leaves a half-written file behind."""

from __future__ import annotations

import io
import os
import secrets
from pathlib import Path
from typing import Any, Callable

import numpy as np
from PIL import Image, PngImagePlugin


def write_atomically(path: str | os.PathLike, write: Callable[[Path], Any]) -> None:
    """Call `write(temp_path)` on a temp file beside `path`, fsync, then rename it over `path`.

    A crash or error at any point leaves the previous file (if any) untouched and no temp file.
    The temp file is made with plain `open`, so the result gets the usual umask permissions.
    """
    path = Path(path).resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    with open(tmp, "xb"):
        pass
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Replace `path` with `data` atomically."""
    write_atomically(path, lambda tmp: tmp.write_bytes(data))


def png_bytes(image: np.ndarray, text: dict[str, str] | None = None) -> bytes:
    """Encode an [H, W, C] uint8 array as PNG, with optional iTXt chunks (e.g. the latent state)."""
    info = PngImagePlugin.PngInfo()
    for key, value in (text or {}).items():
        info.add_itxt(key, value, zip=True)
    buf = io.BytesIO()
    mode = {1: "L", 3: "RGB", 4: "RGBA"}[image.shape[2]]
    Image.fromarray(image[..., 0] if mode == "L" else image, mode).save(buf, format="PNG", pnginfo=info)
    return buf.getvalue()


def save_png(path: str | os.PathLike, image: np.ndarray, text: dict[str, str] | None = None) -> None:
    atomic_write_bytes(path, png_bytes(image, text))


def image_grid(images: np.ndarray, cols: int | None = None, pad: int = 0) -> np.ndarray:
    """Tile [N, H, W, C] images into one [rows*H, cols*W, C] picture (row-major)."""
    n, h, w, c = images.shape
    cols = cols or int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / cols))
    grid = np.zeros((rows * (h + pad) - pad, cols * (w + pad) - pad, c), dtype=images.dtype)
    for i, img in enumerate(images):
        r, k = divmod(i, cols)
        grid[r * (h + pad): r * (h + pad) + h, k * (w + pad): k * (w + pad) + w] = img
    return grid
