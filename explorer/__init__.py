"""StyleGAN Explorer: load, render, invert, edit and train StyleGAN2/StyleGAN3 generators."""

import os

# OpenMP threads that wait by spinning take the cores a UI or other jobs need, and on a shared
# machine they wait a lot: sleeping instead made CPU frames 2-3x faster (median) on a shared
# 2-core box (bench/generator.py). Takes effect only if torch is not loaded yet; a set value wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from explorer.allocator import keep_freed_memory  # noqa: E402

keep_freed_memory()  # glibc keeps freed activations: no page faults in every frame

from explorer.errors import CheckpointError, DownloadError, ExplorerError, ImageInputError
from explorer.model import Model, ModelInfo, to_uint8


def load(path, device="cpu", progress=None) -> Model:
    """Load any supported checkpoint (sniffed by content) as a `Model` on `device`.

    `path` may also be an http(s) URL or a catalogue name (`stylegan3-t-ffhq-1024`): it is
    downloaded once into the per-user cache, with a progress bar on a terminal (`progress`)."""
    from explorer.checkpoints import load as _load
    return _load(path, device=device, progress=progress)


def save(model: Model, path, **kwargs) -> None:
    """Write `model` in our .safetensors format (atomically)."""
    from explorer.checkpoints import save as _save
    _save(model, path, **kwargs)


__all__ = ["load", "save", "Model", "ModelInfo", "to_uint8", "CheckpointError", "DownloadError",
           "ExplorerError", "ImageInputError"]
__version__ = "0.1.0"
