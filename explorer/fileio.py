"""Atomic file writes and PNG helpers: a crash never leaves a half-written file behind.

This is the one place files are written atomically; everything else calls it.
"""

from __future__ import annotations

import io
import os
import secrets
import stat
from pathlib import Path
from typing import Any, Callable

import numpy as np
from PIL import Image, PngImagePlugin


TEMP_SUFFIX = ".tmp"


def temp_path_for(path: Path) -> Path:
    """A hidden temp name beside `path` that records the writer's pid (see `stale_temp_files`)."""
    return path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(6)}{TEMP_SUFFIX}")


def write_atomically(path: str | os.PathLike, write: Callable[[Path], Any], overwrite: bool = True) -> None:
    """Call `write(temp_path)` on a temp file beside `path`, fsync, then move it to `path`.

    An error, Ctrl-C or SIGTERM (when the CLI has turned it into an exception) at any point
    leaves the previous file (if any) untouched and no temp file. With `overwrite=False` an
    existing `path` is never replaced: FileExistsError instead. A killed process (SIGKILL)
    can still leave a temp file; `stale_temp_files` finds those by the dead pid in their name.
    The temp file is made with plain `open`, so the result gets the usual umask permissions,
    also when `write` re-creates the file with its own (safetensors makes it 0600).
    """
    path = Path(path).resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path_for(path)
    try:
        with open(tmp, "xb"):
            pass
        mode = stat.S_IMODE(tmp.stat().st_mode)
        write(tmp)
        if stat.S_IMODE(tmp.stat().st_mode) != mode:
            os.chmod(tmp, mode)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        if overwrite:
            os.replace(tmp, path)
        else:
            _move_without_replacing(tmp, path)
    finally:
        try:
            tmp.unlink(missing_ok=True)
        except BaseException:  # Ctrl-C / SIGTERM landed inside the clean-up itself: finish it, then go on
            tmp.unlink(missing_ok=True)
            raise


def _move_without_replacing(tmp: Path, path: Path) -> None:
    try:
        os.link(tmp, path)  # fails if `path` exists, unlike rename
    except FileExistsError:
        raise
    except OSError:  # a file system without hard links: check, then rename
        if path.exists():
            raise FileExistsError(path) from None
        os.replace(tmp, path)


def atomic_write_bytes(path: str | os.PathLike, data: bytes, overwrite: bool = True) -> None:
    """Replace (or, with overwrite=False, create) `path` with `data` atomically."""
    write_atomically(path, lambda tmp: tmp.write_bytes(data), overwrite=overwrite)


def write_new_file(path: str | os.PathLike, data: bytes) -> None:
    """Atomically create `path`; FileExistsError if something is already there (never replaced)."""
    atomic_write_bytes(path, data, overwrite=False)


def stale_temp_files(folder: str | os.PathLike) -> list[Path]:
    """Temp files in `folder` left by writers that no longer run (killed mid-write)."""
    found = []
    for tmp in Path(folder).glob(f".*{TEMP_SUFFIX}"):
        pid_part = tmp.name[:-len(TEMP_SUFFIX)].rsplit(".", 1)[-1].split("-", 1)[0]
        if pid_part.isdigit() and not pid_alive(int(pid_part)):
            found.append(tmp)
    return found


def remove_stale_temp_files(folder: str | os.PathLike) -> int:
    """Delete the temp files killed writers left in `folder` (live writers' are kept); how many."""
    stale = stale_temp_files(folder) if Path(folder).is_dir() else []
    for tmp in stale:
        tmp.unlink(missing_ok=True)
    return len(stale)


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists (a writer or trainer that may still be working)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, but someone else's
        return True
    return True


def png_bytes(image: np.ndarray, text: dict[str, str] | None = None) -> bytes:
    """Encode an [H, W, C] uint8 array as PNG, with optional iTXt chunks (e.g. the latent state)."""
    info = PngImagePlugin.PngInfo()
    for key, value in (text or {}).items():
        info.add_itxt(key, value, zip=True)
    buf = io.BytesIO()
    mode = {1: "L", 3: "RGB", 4: "RGBA"}[image.shape[2]]
    Image.fromarray(image[..., 0] if mode == "L" else image, mode).save(buf, format="PNG", pnginfo=info)
    return buf.getvalue()


def save_png(path: str | os.PathLike, image: np.ndarray, text: dict[str, str] | None = None,
             overwrite: bool = True) -> None:
    atomic_write_bytes(path, png_bytes(image, text), overwrite=overwrite)


def grid_columns(n: int) -> int:
    """Columns for n pictures: a near-square grid with no empty cells when n allows it (8 -> 4 x 2,
    not 3 x 3 with a black cell), else the square root rounded up."""
    square = int(np.ceil(np.sqrt(n)))
    for cols in range(square, n + 1):
        if n % cols == 0 and cols <= 3 * (n // cols):
            return cols
    return max(square, 1)


def image_grid(images: np.ndarray, cols: int | None = None, pad: int = 0) -> np.ndarray:
    """Tile [N, H, W, C] images into one [rows*H, cols*W, C] picture (row-major)."""
    n, h, w, c = images.shape
    cols = cols or grid_columns(n)
    rows = int(np.ceil(n / cols))
    grid = np.zeros((rows * (h + pad) - pad, cols * (w + pad) - pad, c), dtype=images.dtype)
    for i, img in enumerate(images):
        r, k = divmod(i, cols)
        grid[r * (h + pad): r * (h + pad) + h, k * (w + pad): k * (w + pad) + w] = img
    return grid
