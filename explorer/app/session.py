"""Saving what is on screen: PNGs that carry their `LatentState`, and W+ .npz files.

A saved PNG embeds the whole state (`explorer.latent.png_state`, which also reads it back), so
opening it later restores the exact picture; the final W+ goes beside it as `<name>.npz`
(`explorer.latent.npz`, the layout NVIDIA's projector writes). Files are written atomically and never replace an
existing file: a fresh name is picked instead (seed0042.png, seed0042_001.png, ...).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from explorer.errors import ExplorerError
from explorer.fileio import write_new_file
from explorer.latent.npz import latent_npz_bytes
from explorer.latent.png_state import state_png_bytes
from explorer.latent.state import LatentState


@dataclass(frozen=True)
class SavedImage:
    png: Path
    npz: Path
    view_layer: str | None = None  # the PNG shows this layer's features, not the picture


def image_stem(state: LatentState) -> str:
    """A name that says where the picture came from (and which layer, for a layer view): the
    seed, or the latent's label ("projection of cat.jpg" -> projection-of-cat)."""
    stem = f"seed{state.seed:04d}" if state.latent is None else _label_stem(state.latent_label)
    return stem if state.view_layer is None else f"{stem}-{state.view_layer}"


def _label_stem(label: str) -> str:
    """A file-name-safe stem from a latent's label (its file suffix off), or "latent"."""
    label = re.sub(r"\.(png|jpe?g|webp|bmp|tiff?|npz)$", "", label.strip(), flags=re.IGNORECASE)
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", label).strip("-_")[:48]
    return stem or "latent"


def free_name(folder: Path, stem: str, suffixes: tuple[str, ...] = (".png", ".npz")) -> str:
    """The first of stem, stem_001, stem_002, ... for which no file with any suffix exists."""
    for n in range(100_000):
        name = stem if n == 0 else f"{stem}_{n:03d}"
        if not any((folder / (name + s)).exists() for s in suffixes):
            return name
    raise ExplorerError(f"{folder} holds too many images named {stem}*; choose another folder")


def save_image(folder: str | os.PathLike[str], rgba: np.ndarray, state: LatentState,
               ws: np.ndarray) -> SavedImage:
    """Write <stem>.png (with the state) and <stem>.npz (final W+) under a fresh name."""
    folder = Path(folder).expanduser()
    if folder.exists() and not folder.is_dir():
        raise ExplorerError(f"the save folder {folder} is a file: choose a folder (File > Save folder)")
    rgb = np.ascontiguousarray(rgba[..., :3])
    png_data = state_png_bytes(rgb, state)
    npz_data = latent_npz_bytes(ws)
    for _ in range(10):  # another writer may take the name between the check and the link
        name = free_name(folder, image_stem(state))
        try:
            write_new_file(folder / f"{name}.png", png_data)
        except FileExistsError:
            continue
        try:
            write_new_file(folder / f"{name}.npz", npz_data)
        except FileExistsError:
            (folder / f"{name}.png").unlink()
            continue
        return SavedImage(folder / f"{name}.png", folder / f"{name}.npz", state.view_layer)
    raise ExplorerError(f"could not find a free file name in {folder}")


def save_latent(path: str | os.PathLike[str], ws: np.ndarray) -> Path:
    """Write W+ to `path` (atomic, never replacing: a taken name gets a _001 suffix)."""
    path = Path(path).expanduser()
    if path.suffix != ".npz":
        path = path.with_name(path.name + ".npz")
    name = free_name(path.parent, path.stem, (".npz",))
    target = path.with_name(name + ".npz")
    write_new_file(target, latent_npz_bytes(ws))
    return target
