"""Start a new training run from a trained model file instead of random weights.

Run folders live outside the repository and may be gone in the next working period; the shipped
asset (G_ema and D in float16) always travels. Training continues from it with G and G_ema both
set to its generator and D to its discriminator; the optimisers start afresh. The architecture
comes from the file, so the flags may only repeat it, never contradict it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import nn

from explorer.errors import ExplorerError

# TrainConfig field -> how to read it from the generator's init kwargs.
_ARCHITECTURE_FIELDS = {
    "resolution": lambda g: g["img_resolution"],
    "z_dim": lambda g: g["z_dim"],
    "w_dim": lambda g: g["w_dim"],
    "map_layers": lambda g: g.get("mapping_kwargs", {}).get("num_layers", 8),
    "channel_base": lambda g: g["channel_base"],
    "channel_max": lambda g: g["channel_max"],
}


def _load(path: str) -> Any:
    import explorer
    model = explorer.load(Path(path))
    if model.info.architecture != "stylegan2":
        raise ExplorerError(f"--init-from needs a StyleGAN2 model; {path} is {model.info.architecture}")
    if model.discriminator is None:
        raise ExplorerError(f"--init-from needs a model with its discriminator; {path} has none")
    return model


def architecture_settings(path: str, given: dict[str, Any]) -> dict[str, Any]:
    """The TrainConfig architecture fields of the model in `path`; a given flag that disagrees
    with the file is an error (the weights could not be loaded into that network)."""
    kwargs = _load(path).generator.init_kwargs
    settings = {name: read(kwargs) for name, read in _ARCHITECTURE_FIELDS.items()}
    clashes = [f"{name} {given[name]} (the model has {value})" for name, value in settings.items()
               if given.get(name) is not None and given[name] != value]
    if clashes:
        raise ExplorerError(f"--init-from {Path(path).name} fixes the architecture; drop or correct: "
                            + ", ".join(clashes))
    return settings


def load_initial_weights(path: str, G: nn.Module, G_ema: nn.Module, D: nn.Module) -> float:
    """Copy the file's generator into G and G_ema and its discriminator into D; returns the kimg
    those weights were already trained for (0 when the file does not say)."""
    from explorer.train.snapshot import trained_kimg
    model = _load(path)
    if model.info.c_dim != G.c_dim:
        raise ExplorerError(f"{Path(path).name} has {model.info.c_dim} classes but this run's data "
                            f"gives {G.c_dim}; use --cond (or not) to match")
    for net, source, name in ((G, model.generator, "generator"), (G_ema, model.generator, "generator"),
                              (D, model.discriminator, "discriminator")):
        try:
            net.load_state_dict(source.state_dict())
        except RuntimeError as e:
            first = str(e).strip().splitlines()[0]
            raise ExplorerError(f"{Path(path).name}: its {name} does not fit this run ({first})") from e
    return trained_kimg(model.info.extra) or 0.0
