"""Reading and writing models: NVIDIA .pkl, rosinality .pt and our own .safetensors.

`load` takes a path, a URL or a catalogue name (downloads go through the cache, see `remote`),
sniffs the content (never the file name), dispatches to the reader for that format and
returns a `Model`. Whatever goes wrong with a user's file surfaces as a one-line
`CheckpointError`, never as a traceback from deep inside a parser.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import torch

from explorer.checkpoints.nvidia_pickle import read_nvidia_pickle
from explorer.checkpoints.rosinality import read_rosinality
from explorer.checkpoints.safetensors_format import (read_checkpoint, read_safetensors, save,
                                                     save_checkpoint)
from explorer.checkpoints.sniff import PICKLE, SAFETENSORS, TORCH_LEGACY, TORCH_ZIP, sniff_format
from explorer.devices import resolve_device
from explorer.errors import CheckpointError
from explorer.model import Model

_READERS: dict[str, Callable[[Path], Model]] = {
    PICKLE: read_nvidia_pickle,
    TORCH_ZIP: read_rosinality,
    TORCH_LEGACY: read_rosinality,
    SAFETENSORS: read_safetensors,
}


def load(path: str | os.PathLike[str], device: str | torch.device = "cpu", progress: bool | None = None,
         download: bool = True) -> Model:
    """Load any supported checkpoint as a `Model` whose networks live on `device`.

    `path` may be a URL or a catalogue name: it is downloaded once into the cache (`progress`:
    a terminal bar, None = only on a terminal; `download=False`: the cache must have it)."""
    from explorer.checkpoints.remote import local_checkpoint
    device = resolve_device(device)  # a bad device name fails before anything is read or fetched
    path = local_checkpoint(path, progress=progress, download=download)
    if not path.exists():
        hint = "" if path.suffix else " (nor a model name: `stylegan-explorer models` lists them)"
        raise CheckpointError(f"no such file: {path}{hint}")
    if path.is_dir():
        raise CheckpointError(folder_given(path))
    try:
        model = _READERS[sniff_format(path)](path)
    except CheckpointError as e:
        if path.name in str(e):
            raise
        raise CheckpointError(f"{path.name}: {e}") from e
    except Exception as e:  # noqa: BLE001 - a user's file must never surface as a traceback
        lines = str(e).strip().splitlines()
        cause = lines[0] if lines else ""
        raise CheckpointError(f"could not read {path.name}: {type(e).__name__}"
                              + (f": {cause}" if cause else "")) from e
    return model.to(device)


CHECKPOINT_SUFFIXES = (".safetensors", ".pkl", ".pt", ".pth")


def folder_given(folder: Path) -> str:
    """What to say when a folder is given where a checkpoint is expected: its newest one, if any."""
    newest = newest_checkpoint_in(folder)
    return f"{folder} is a folder; choose a checkpoint file inside it" + (
        f" (the newest there: {newest})" if newest else "")


def newest_checkpoint_in(folder: Path) -> Path | None:
    """The newest file with a checkpoint's usual name in `folder` or one level down (a training
    run keeps its snapshots in a subfolder), for a hint when a folder is given instead."""
    found = [p for pattern in ("*", "*/*") for p in folder.glob(pattern)
             if p.suffix in CHECKPOINT_SUFFIXES and p.is_file() and not p.name.startswith(".")]
    return max(found, key=lambda p: (p.stat().st_mtime, p.name)) if found else None


__all__ = ["load", "save", "folder_given", "newest_checkpoint_in", "save_checkpoint", "read_checkpoint", "CheckpointError"]
