"""StyleGAN Explorer: load, render, invert, edit and train StyleGAN2/StyleGAN3 generators."""

import os

# How OpenMP threads wait between ops. Spinning for long (GNU OpenMP's default: 5-7 ms of CPU
# after each op here) takes the cores a UI or other jobs need: CPU frames were 2-3x slower
# (median) on a shared 2-core box. Sleeping at once costs a wake-up per op instead, and a forward
# is some 350 ops: a short spin (GOMP_SPINCOUNT 30000, under 1 ms here) keeps the threads awake
# within a forward and asleep between frames (bench/generator.py, 64 px StyleGAN2 on 2 threads:
# 62-66 % -> 70-77 % of the matmul peak). Takes effect only if torch is not loaded yet; a user's OMP_WAIT_POLICY or
# GOMP_SPINCOUNT wins (the spin count is GNU OpenMP's; other runtimes see PASSIVE alone).
if "OMP_WAIT_POLICY" not in os.environ:
    os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    os.environ.setdefault("GOMP_SPINCOUNT", "30000")

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
