"""What to do with a file the user drops on the window (or opens by path), decided by its content.

One of our PNGs restores its state; any other image becomes a projection target; a W+ .npz
becomes the latent; a checkpoint is loaded; a URL or a catalogue name is opened through the
download cache; anything else gets a one-line reason.
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from explorer.download import RemoteSource, remote_source
from explorer.errors import ExplorerError
from explorer.latent.state import LatentState


@dataclass(frozen=True)
class RestoreState:
    path: Path
    state: LatentState


@dataclass(frozen=True)
class LoadLatent:
    path: Path
    latent: np.ndarray  # [num_ws, w_dim]


@dataclass(frozen=True)
class LoadCheckpoint:
    path: Path


@dataclass(frozen=True)
class OpenRemote:
    """A URL or catalogue name: downloaded (unless cached), then sniffed and loaded like a file."""

    source: RemoteSource


@dataclass(frozen=True)
class ProjectImage:
    """Any other picture: find the latent that draws it."""

    path: Path


@dataclass(frozen=True)
class Rejected:
    """Nothing to do; `message` says why, in one line for the status bar."""

    path: Path
    message: str


DropAction = RestoreState | LoadLatent | LoadCheckpoint | OpenRemote | ProjectImage | Rejected


def _is_npz_latent(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as archive:
            return "w.npy" in archive.namelist()
    except (zipfile.BadZipFile, OSError):
        return False


def _is_image(path: Path) -> bool:
    try:
        with Image.open(path) as im:
            im.verify()
        return True
    except Exception:  # noqa: BLE001 - PIL raises many types for "not an image"
        return False


def classify_dropped_file(path: str | os.PathLike[str]) -> DropAction:
    """Sniff `path` and say what the app should do with it. Never raises for user files."""
    from explorer.latent.png_state import read_png_state
    from explorer.checkpoints import folder_given
    from explorer.checkpoints.sniff import sniff_format
    from explorer.latent.npz import load_latent_npz
    if isinstance(path, str):
        remote = remote_source(path)
        if remote is not None:
            return OpenRemote(remote)
        path = path.strip()
    path = Path(path).expanduser()
    if not path.exists():
        return Rejected(path, f"no such file: {path}")
    if path.is_dir():
        return Rejected(path, folder_given(path))
    try:
        state = read_png_state(path)
        if state is not None:
            return RestoreState(path, state)
        if _is_npz_latent(path):
            return LoadLatent(path, load_latent_npz(path)[0])
    except ExplorerError as e:
        return Rejected(path, str(e))
    if _is_image(path):
        return ProjectImage(path)
    try:
        sniff_format(path)
    except ExplorerError:
        return Rejected(path, f"{path.name} is not an image, a checkpoint or a W+ .npz that this "
                              "program can read (a photo is projected, a checkpoint opened, a latent loaded)")
    except OSError as e:
        return Rejected(path, f"could not read {path.name}: {e.strerror or e}")
    return LoadCheckpoint(path)
