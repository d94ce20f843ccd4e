"""Our own checkpoint format: a .safetensors file of named tensor groups plus JSON metadata.

safetensors holds only raw tensors and a string table, so loading one can never run code, and
it loads fast. Tensors are stored as "<group>.<name>" ("G_ema.mapping.fc0.weight", "D.b4.fc.bias",
or any group a trainer adds, e.g. optimizer state); the settings needed to rebuild the networks
are JSON strings in the metadata. Files are written atomically.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Collection, Mapping

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from explorer.checkpoints.assemble import discriminator_from_state, generator_from_state
from explorer.errors import CheckpointError
from explorer.fileio import write_atomically
from explorer.model import Model

FORMAT = "stylegan-explorer .safetensors"
FORMAT_TAG = "stylegan-explorer"
FORMAT_VERSION = 1
GENERATOR_GROUP = "G_ema"
DISCRIMINATOR_GROUP = "D"


def save_checkpoint(path: str | os.PathLike[str],
                    tensors_by_group: Mapping[str, Mapping[str, torch.Tensor]],
                    metadata: Mapping[str, str]) -> None:
    """Write tensor groups and string metadata to `path` atomically (temp file + os.replace)."""
    flat: dict[str, torch.Tensor] = {}
    for group, tensors in tensors_by_group.items():
        if not group or "." in group:
            raise ValueError(f"group names must be non-empty and contain no '.': {group!r}")
        for name, tensor in tensors.items():
            flat[f"{group}.{name}"] = tensor.detach().to("cpu").contiguous().clone()
    header = {str(k): str(v) for k, v in metadata.items()}
    header.update(format=FORMAT_TAG, format_version=str(FORMAT_VERSION),
                  groups=json.dumps(sorted(tensors_by_group)))
    write_atomically(Path(path), lambda tmp: save_file(flat, str(tmp), metadata=header))


def read_checkpoint(path: str | os.PathLike[str], groups: Collection[str] | None = None
                    ) -> tuple[dict[str, dict[str, torch.Tensor]], dict[str, str]]:
    """(tensors by group, metadata) of a file written by `save_checkpoint`, tensors as stored.

    With `groups`, only those groups are read (a training snapshot's optimiser state is not
    needed to render).
    """
    path = Path(path)
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            metadata = dict(f.metadata() or {})
            flat = {key: f.get_tensor(key) for key in f.keys()
                    if groups is None or key.partition(".")[0] in groups}
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"{path.name} is a damaged .safetensors file: {e}") from e
    if metadata.get("format") != FORMAT_TAG:
        raise CheckpointError(f"{path.name} is a .safetensors file but not a StyleGAN Explorer "
                              "checkpoint (no format=stylegan-explorer in its metadata)")
    version = metadata.get("format_version", "")
    if not version.isdigit() or int(version) > FORMAT_VERSION:
        raise CheckpointError(f"{path.name} was written by a newer StyleGAN Explorer "
                              f"(format version {version!r}); please upgrade")
    groups: dict[str, dict[str, torch.Tensor]] = {}
    for key, tensor in flat.items():
        group, _, name = key.partition(".")
        groups.setdefault(group, {})[name] = tensor
    return groups, metadata


def save(model: Model, path: str | os.PathLike[str], include_discriminator: bool = True,
         dtype: torch.dtype = torch.float32,
         extra_tensors: Mapping[str, Mapping[str, torch.Tensor]] | None = None,
         metadata: Mapping[str, Any] | None = None) -> None:
    """Write `model` (and optionally its discriminator and extra tensor groups) atomically.

    `dtype` applies to the networks' floating-point tensors (float16 halves the file); loading
    casts them back to float32. `metadata` entries go into the JSON provenance record.
    """
    if dtype not in (torch.float32, torch.float16):
        raise ValueError(f"dtype must be torch.float32 or torch.float16, not {dtype}")
    groups: dict[str, Mapping[str, torch.Tensor]] = {
        GENERATOR_GROUP: _cast(model.generator.state_dict(), dtype)}
    header = {"architecture": model.architecture,
              "generator_kwargs": json.dumps(model.generator.init_kwargs)}
    d = model.discriminator
    if include_discriminator and d is not None:
        groups[DISCRIMINATOR_GROUP] = _cast(d.state_dict(), dtype)
        header["discriminator_kwargs"] = json.dumps(d.init_kwargs)
    for group, tensors in (extra_tensors or {}).items():
        if group in groups:
            raise ValueError(f"extra tensor group {group!r} clashes with the model's own")
        groups[group] = tensors
    provenance = {"source": model.info.source, "source_format": model.format,
                  "content_hash": model.info.content_hash, "source_extra": model.info.extra,
                  **dict(metadata or {})}
    header["provenance"] = json.dumps(provenance, default=str)
    save_checkpoint(path, groups, header)


def read_safetensors(path: Path) -> Model:
    """Rebuild the Model saved by `save`; float16 files come back as float32."""
    groups, metadata = read_checkpoint(path, (GENERATOR_GROUP, DISCRIMINATOR_GROUP))
    try:
        architecture = metadata["architecture"]
        g_kwargs = json.loads(metadata["generator_kwargs"])
        d_kwargs = json.loads(metadata["discriminator_kwargs"]) if "discriminator_kwargs" in metadata else None
        provenance = json.loads(metadata.get("provenance", "{}"))
    except (KeyError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{path.name} has incomplete StyleGAN Explorer metadata ({e})") from e
    except RecursionError:
        raise CheckpointError(f"{path.name} has metadata nested too deeply to be settings") from None
    if GENERATOR_GROUP not in groups:
        raise CheckpointError(f"{path.name} holds no generator tensors ({GENERATOR_GROUP}.*)")
    generator = generator_from_state(architecture, g_kwargs, _cast(groups[GENERATOR_GROUP], torch.float32))
    discriminator = None
    if d_kwargs is not None and DISCRIMINATOR_GROUP in groups:
        discriminator = discriminator_from_state(d_kwargs, _cast(groups[DISCRIMINATOR_GROUP], torch.float32))
    return Model(generator, discriminator, format=FORMAT, source=str(path),
                 extra=provenance if isinstance(provenance, dict) else {})


def stored_precision(path: str | os.PathLike[str]) -> str | None:
    """"float16" or "float32": how one of our files stores its generator's weights (loading casts
    them to float32 either way), so that `info` can say it and `export` can keep it; None when
    the file is not ours or mixes the two."""
    from explorer.checkpoints.sniff import SAFETENSORS, sniff_format
    try:
        if sniff_format(Path(path)) != SAFETENSORS:
            return None
        with safe_open(str(path), framework="pt") as f:
            kinds = {f.get_slice(k).get_dtype() for k in f.keys() if k.startswith(GENERATOR_GROUP + ".")}
    except (CheckpointError, SafetensorError, OSError):
        return None
    floats = kinds & {"F16", "BF16", "F32", "F64"}
    return {frozenset({"F16"}): "float16", frozenset({"F32"}): "float32"}.get(frozenset(floats))


def _cast(state: Mapping[str, torch.Tensor], dtype: torch.dtype) -> dict[str, torch.Tensor]:
    return {k: v.to(dtype) if v.is_floating_point() else v for k, v in state.items()}
