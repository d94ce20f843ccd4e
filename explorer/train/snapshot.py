"""Training snapshots: everything needed to resume, in a file `explorer.load` opens as a model.

A snapshot is one of our `.safetensors` checkpoints with extra tensor groups: "G_ema" and "D"
(what `explorer.load` reads), "G", the Adam moments of both optimisers ("G_opt", "D_opt", keyed
by parameter name) and "train" (ADA p, the path-length mean, loss scales). Progress and the
config are JSON in the metadata. The write is atomic, so killing the trainer at any moment
leaves the previous snapshot whole.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from explorer.checkpoints import read_checkpoint, save_checkpoint
from explorer.errors import CheckpointError
from explorer.model import Model

OPT_KEY_SEPARATOR = "@"


@dataclass(frozen=True)
class Snapshot:
    groups: dict[str, dict[str, torch.Tensor]]
    progress: dict[str, Any]  # nimg, tick, config, ...

    @property
    def nimg(self) -> int:
        return int(self.progress["nimg"])


def optimizer_tensors(opt: torch.optim.Optimizer, net: nn.Module) -> dict[str, torch.Tensor]:
    """The optimiser's per-parameter state, keyed "<param name>@<state name>"."""
    names = {id(p): n for n, p in net.named_parameters()}
    out: dict[str, torch.Tensor] = {}
    for param, state in opt.state.items():
        for key, value in state.items():
            value = value if torch.is_tensor(value) else torch.tensor(float(value))
            out[f"{names[id(param)]}{OPT_KEY_SEPARATOR}{key}"] = value
    return out


def restore_optimizer(opt: torch.optim.Optimizer, net: nn.Module, tensors: dict[str, torch.Tensor]) -> None:
    """Inverse of `optimizer_tensors`; hyperparameters stay those `opt` was built with."""
    params = dict(net.named_parameters())
    for key, value in tensors.items():
        name, _, state_key = key.rpartition(OPT_KEY_SEPARATOR)
        param = params[name]
        # Adam keeps its step count on the CPU; moments live with the parameter.
        value = value if state_key == "step" else value.to(param.device)
        opt.state[param][state_key] = value.clone()


def save_snapshot(path: Path, *, G: nn.Module, G_ema: nn.Module, D: nn.Module,
                  G_opt: torch.optim.Optimizer, D_opt: torch.optim.Optimizer,
                  train_tensors: dict[str, torch.Tensor], progress: dict[str, Any]) -> None:
    groups = {
        "G_ema": G_ema.state_dict(), "G": G.state_dict(), "D": D.state_dict(),
        "G_opt": optimizer_tensors(G_opt, G), "D_opt": optimizer_tensors(D_opt, D),
        "train": train_tensors,
    }
    # kimg counts every image the weights have seen, a start from another model's (--init-from) included.
    provenance = {"source": "stylegan-explorer training",
                  "kimg": progress.get("kimg_before", 0.0) + progress["nimg"] / 1000,
                  "run": progress.get("run", ""), "dataset_hash": progress.get("dataset_hash", "")}
    metadata = {
        "architecture": G_ema.architecture,
        "generator_kwargs": json.dumps(G_ema.init_kwargs),
        "discriminator_kwargs": json.dumps(D.init_kwargs),
        "provenance": json.dumps(provenance),
        "training": json.dumps(progress),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    save_checkpoint(path, {k: v for k, v in groups.items() if v}, metadata)


def load_snapshot(path: Path) -> Snapshot:
    groups, metadata = read_checkpoint(path)
    return Snapshot(groups, json.loads(metadata["training"]))


def snapshot_model(path: Path, weights: str = "G_ema") -> Model:
    """A snapshot as a Model whose generator is its G_ema (what `explorer.load` gives) or its raw G.

    The raw G is the one to export when it is ahead of its average: in a fine-tune at a low
    learning rate G hardly jitters from step to step, while a G_ema with a half-life of many kimg
    still trails it by most of a short run's progress. The choice is kept in the provenance."""
    from explorer.checkpoints import load
    from explorer.checkpoints.sniff import SAFETENSORS, sniff_format
    if weights not in ("G_ema", "G"):
        raise ValueError(f"weights must be 'G_ema' or 'G', not {weights!r}")
    if weights == "G_ema":
        return load(path)
    # The raw G is checked for first: a big pickle need not load to learn it has none.
    groups = read_checkpoint(path, ("G",))[0] if sniff_format(Path(path)) == SAFETENSORS else {}
    if "G" not in groups:
        raise CheckpointError(f"{Path(path).name} holds no raw G: only a training snapshot of "
                              "stylegan-explorer has one (NVIDIA's pickles load as their G_ema)")
    model = load(path)
    model.generator.load_state_dict(groups["G"])
    return Model(model.generator, model.discriminator, format=model.format, source=model.info.source,
                 extra={**model.info.extra, "generator_weights": "G"})


def trained_kimg(extra: dict) -> float | None:
    """How many thousand images a model from our trainer has seen, from the provenance its file
    carries (a snapshot's own, or the one each export keeps as `source_extra`: an export of an
    export nests it again); None for others."""
    record = extra
    for _ in range(16):  # a bound: provenance is file data, not to be trusted to end
        if not isinstance(record, dict):
            return None
        if isinstance(record.get("kimg"), (int, float)):
            return float(record["kimg"])
        record = record.get("source_extra")
    return None
