"""NVIDIA network pickles (stylegan2-ada-pytorch and stylegan3): records to state dicts to Model.

The pickle is read by the restricted unpickler; each network is then a tree of persistence
records whose `state` holds the torch Module internals. Walking that tree gives exactly the
original `state_dict()`, and `_init_kwargs` gives the constructor settings for our own classes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from explorer.checkpoints.assemble import discriminator_from_state, generator_from_state
from explorer.checkpoints.load_budget import LoadBudget
from explorer.checkpoints.restricted_pickle import PersistentRecord, TFNetworkRecord, load_restricted
from explorer.checkpoints.tf_pickle import model_from_tf_snapshot
from explorer.errors import CheckpointError
from explorer.model import Model

SG2_ADA = "stylegan2-ada-pytorch"
SG3_REPO = "stylegan3"

# Positional constructor arguments shared by every NVIDIA generator, in order.
_POSITIONAL_NAMES = ("z_dim", "c_dim", "w_dim", "img_resolution", "img_channels")


def read_nvidia_pickle(path: Path) -> Model:
    """Load a PyTorch-era snapshot (dict of records) or hand a TF-era 3-tuple to its converter."""
    with open(path, "rb") as f:
        data = load_restricted(f, LoadBudget.for_file_size(path.stat().st_size))
    if _is_tf_snapshot(data):
        return model_from_tf_snapshot(data, source=str(path))
    g_record, picked = _pick_generator(data)
    g_state = record_state_dict(g_record)
    g_kwargs = record_kwargs(g_record)
    architecture = detect_family(g_state)
    repo = detect_repo(architecture, g_kwargs)
    generator = generator_from_state(architecture, with_repo_defaults(g_kwargs, repo), g_state)

    extra: dict[str, Any] = {"source_repo": repo, "picked": picked, "init_kwargs": g_kwargs}
    snapshot = data if isinstance(data, dict) else {}
    if isinstance(snapshot.get("training_set_kwargs"), dict):
        extra["training_set_kwargs"] = to_plain(snapshot["training_set_kwargs"])
    discriminator = None
    if isinstance(snapshot.get("D"), PersistentRecord):
        d_kwargs = record_kwargs(snapshot["D"])
        try:
            discriminator = discriminator_from_state(with_repo_defaults(d_kwargs, repo, nested=False),
                                                     record_state_dict(snapshot["D"]))
        except CheckpointError as e:
            extra["discriminator_skipped"] = str(e)
    return Model(generator, discriminator, format=f"nvidia-pickle ({repo} repo)", source=str(path),
                 extra=extra)


def _is_tf_snapshot(data: Any) -> bool:
    if isinstance(data, TFNetworkRecord):
        return True
    return isinstance(data, tuple) and len(data) == 3 and all(isinstance(x, TFNetworkRecord) for x in data)


def _pick_generator(data: Any) -> tuple[PersistentRecord, str]:
    """G_ema is what every NVIDIA script renders; G (the raw training weights) only as a fallback."""
    if isinstance(data, PersistentRecord):
        return data, "the pickled network"
    if not isinstance(data, dict):
        raise CheckpointError(f"this pickle holds a {type(data).__name__}, not an NVIDIA network "
                              "snapshot (a dict with G_ema)")
    for key in ("G_ema", "G"):
        if isinstance(data.get(key), PersistentRecord):
            return data[key], key
    raise CheckpointError("this pickle has no generator (no G_ema or G network record); keys: "
                          + ", ".join(map(str, list(data)[:8])))


def record_state_dict(record: PersistentRecord, prefix: str = "") -> dict[str, torch.Tensor]:
    """The `state_dict()` the record's module would have produced, without building it."""
    state = record.state
    skipped = set(state.get("_non_persistent_buffers_set") or ())
    out: dict[str, torch.Tensor] = {}
    for table, skip in (("_parameters", set()), ("_buffers", skipped)):
        for name, value in (state.get(table) or {}).items():
            if value is None or name in skip:
                continue
            if not isinstance(value, torch.Tensor):
                raise CheckpointError(f"{prefix}{name} in the pickle is a {type(value).__name__}, "
                                      "not a tensor")
            out[prefix + name] = value.detach()
    for name, child in (state.get("_modules") or {}).items():
        if child is None:
            continue
        if not isinstance(child, PersistentRecord):
            raise CheckpointError(f"sub-module {prefix}{name} in the pickle is not an NVIDIA "
                                  "network record")
        out.update(record_state_dict(child, f"{prefix}{name}."))
    return out


def record_kwargs(record: PersistentRecord) -> dict[str, Any]:
    """The constructor kwargs, with positional `_init_args` given their names."""
    args = tuple(record.state.get("_init_args") or ())
    kwargs = to_plain(record.state.get("_init_kwargs") or {})
    if not isinstance(kwargs, dict) or len(args) > len(_POSITIONAL_NAMES):
        raise CheckpointError(f"unreadable constructor arguments in the {record.class_name} record")
    kwargs.update(zip(_POSITIONAL_NAMES, to_plain(list(args))))
    return kwargs


def detect_family(state: dict[str, torch.Tensor]) -> str:
    if "synthesis.input.freqs" in state:
        return "stylegan3"
    if "synthesis.b4.const" in state:
        return "stylegan2"
    raise CheckpointError("the pickled generator is neither StyleGAN2 (synthesis.b4.const) nor "
                          "StyleGAN3 (synthesis.input.freqs)")


def detect_repo(architecture: str, kwargs: dict[str, Any]) -> str:
    """stylegan2-ada nests synthesis settings under `synthesis_kwargs`; the stylegan3 repo does not."""
    if architecture == "stylegan3" or "synthesis_kwargs" not in kwargs:
        return SG3_REPO
    return SG2_ADA


def with_repo_defaults(kwargs: dict[str, Any], repo: str, nested: bool = True) -> dict[str, Any]:
    """Make the writing repo's defaults explicit where the two repos disagree.

    conv_clamp defaults to None in stylegan2-ada and to 256 in the stylegan3 repo;
    num_fp16_res to 0 and 4. Our constructors cannot know which repo wrote a pickle, and
    stylegan3's train.py leaves both out.
    """
    defaults = {"conv_clamp": None, "num_fp16_res": 0} if repo == SG2_ADA else \
        {"conv_clamp": 256, "num_fp16_res": 4}
    out = dict(kwargs)
    if nested and "synthesis_kwargs" in out:
        out["synthesis_kwargs"] = {**defaults, **out["synthesis_kwargs"]}
    else:
        out = {**defaults, **out}
    return out


def to_plain(value: Any) -> Any:
    """EasyDicts, OrderedDicts and numpy scalars as plain Python, so settings are JSON-friendly."""
    if isinstance(value, dict):  # includes AttrDict, NVIDIA's EasyDict
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value
