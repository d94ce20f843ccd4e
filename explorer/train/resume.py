"""The settings of a resumed run: the run folder's own config, checked against what was asked.

A resumed run trains in the `--out` it is given (a copied run folder trains in the copy, from
any working directory), with the settings its config.json records. Flags that would change
the network or the optimisation, and a config.json that no longer matches the snapshots next
to it, are refused unless `--force` says to go on with the stored settings.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Mapping

from explorer.errors import InputError
from explorer.train.config import TrainConfig
from explorer.train.run_folder import RunFolder

# Settings a resumed run may change; every other one shapes the networks or the optimisation.
# (ema_kimg only sets how G_ema averages G: G and D train the same. lr may be lowered to anneal a
# run: Adam's moments carry over, only the step size changes.)
RESUME_OVERRIDES = ("data", "kimg", "device", "workers", "cache_dir", "tick_kimg", "sample_kimg", "snap_kimg",
                    "fused_kernels", "ema_kimg", "lr")
# Settings a snapshot's weights were trained with and cannot be loaded without.
NETWORK_SETTINGS = ("resolution", "z_dim", "w_dim", "map_layers", "channel_base", "channel_max", "cond")


def absolute_paths(cfg: TrainConfig) -> TrainConfig:
    """data, out and cache_dir as absolute paths, so config.json works from any working directory."""
    from dataclasses import replace
    return replace(cfg, data=os.path.abspath(cfg.data), out=os.path.abspath(cfg.out),
                   cache_dir=None if cfg.cache_dir is None else os.path.abspath(cfg.cache_dir))


def resumed_config(out: str, given: Mapping[str, Any], force: bool) -> TrainConfig:
    """The config for `train --resume --out OUT` with the flags in `given`."""
    run = RunFolder(out)
    try:
        stored = json.loads(run.config_path.read_text())
    except (OSError, ValueError) as e:
        raise InputError(f"cannot resume: {run.config_path} is unreadable ({e})") from None
    if not isinstance(stored, dict):
        raise InputError(f"cannot resume: {run.config_path} is not a training config")
    if not force:
        _refuse_conflicts(stored, given)
        _refuse_snapshot_mismatch(run, stored)
    values = {**stored, **{k: v for k, v in given.items() if k in RESUME_OVERRIDES}}
    values["out"] = str(run.path)
    return TrainConfig.from_dict(values)


def _refuse_conflicts(stored: Mapping[str, Any], given: Mapping[str, Any]) -> None:
    for name, value in given.items():
        if name in RESUME_OVERRIDES or name == "out" or name not in stored or stored[name] == value:
            continue
        raise InputError(f"this run was trained with {name}={stored[name]!r}, not {value!r}; drop the "
                         "flag to resume it, or pass --force to resume with the stored setting")


def _refuse_snapshot_mismatch(run: RunFolder, stored: Mapping[str, Any]) -> None:
    snapshot = run.newest_snapshot()
    if snapshot is None:
        return
    trained = _snapshot_config(snapshot)
    for name in NETWORK_SETTINGS:
        if name in trained and name in stored and trained[name] != stored[name]:
            raise InputError(f"{run.config_path} says {name}={stored[name]!r} but {snapshot.name} was "
                             f"trained with {trained[name]!r}; this folder's config does not match its "
                             "snapshots (pass --force to resume anyway)")


def _snapshot_config(path: Path) -> dict[str, Any]:
    """The config a snapshot records in its metadata (read without loading its tensors)."""
    from safetensors import SafetensorError, safe_open
    try:
        with safe_open(str(path), framework="pt") as f:
            training = json.loads((f.metadata() or {}).get("training", "{}"))
    except (SafetensorError, OSError, ValueError) as e:
        raise InputError(f"cannot resume: {path} is damaged ({e})") from None
    config = training.get("config") if isinstance(training, dict) else None
    return config if isinstance(config, dict) else {}
