"""Turn a `LatentState` into the W+ tensor the synthesis network consumes.

Order: source (seed or explicit latent) -> truncation towards w_avg -> per-row style mixing ->
direction edits. Both mixing sources are truncated alike, as in the StyleGAN papers' figures.
"""

from __future__ import annotations

from typing import Callable, Iterable, Protocol

import torch

from explorer import model_inputs as checks
from explorer.errors import ExplorerError, InputError
from explorer.latent.state import DirectionEdit, LatentState
from explorer.model import Model


class DirectionLookup(Protocol):
    """Anything that can give a unit direction [w_dim] and its sigma for (set name, index)."""

    def direction(self, set_name: str, index: int) -> tuple[torch.Tensor, float]: ...


def apply_truncation(ws: torch.Tensor, w_avg: torch.Tensor, psi: float, cutoff: int | None) -> torch.Tensor:
    """w_avg + psi * (w - w_avg) on rows [0, cutoff); the same arithmetic as the mapping network."""
    psi = checks.finite_number(psi, "psi")
    cutoff = checks.cutoff(cutoff, ws.shape[1])
    if psi == 1:
        return ws
    if cutoff is None:
        return w_avg.lerp(ws, psi)
    ws = ws.clone()
    ws[:, :cutoff] = w_avg.lerp(ws[:, :cutoff], psi)
    return ws


def source_ws(model: Model, seed: int | None, latent, state: LatentState) -> torch.Tensor:
    """[1, num_ws, w_dim] for one source: an explicit latent if given, else the seed's z."""
    if latent is not None:
        w = torch.as_tensor(latent, dtype=torch.float32, device=model.device)
        if w.ndim == 1:
            w = w[None].repeat(model.num_ws, 1)
        if tuple(w.shape) != (model.num_ws, model.w_dim):
            raise ExplorerError(f"this latent has shape {tuple(w.shape)} but the model needs "
                                f"[{model.num_ws}, {model.w_dim}]")
        return apply_truncation(w[None], model.w_avg, state.psi, state.cutoff)
    z = model.z_from_seed(int(seed or 0))
    return model.map(z, model.class_vector(state.class_idx), psi=state.psi, cutoff=state.cutoff)


def mix_weights_tensor(model: Model, weights: tuple[float, ...]) -> torch.Tensor:
    w = torch.zeros(model.num_ws, device=model.device)
    n = min(len(weights), model.num_ws)
    w[:n] = torch.tensor(weights[:n], dtype=torch.float32)
    return w


SourceFn = Callable[[Model, "int | None", object, LatentState], torch.Tensor]


def apply_edits(model: Model, ws: torch.Tensor, edits: Iterable[DirectionEdit],
                directions: DirectionLookup | None) -> torch.Tensor:
    """Add each edit (strength in sigmas along a unit direction) to its W+ rows; works on a batch."""
    for edit in edits:
        strength = checks.finite_number(edit.strength, "edit strength")
        end = model.num_ws if edit.layer_end is None else edit.layer_end
        if not 0 <= edit.layer_start < end <= model.num_ws:
            raise InputError(f"edit rows {edit.layer_start}-{end - 1} are outside this model's W+ rows "
                             f"0-{model.num_ws - 1}")
        if strength == 0:
            continue
        if directions is None:
            raise ExplorerError(f"direction set {edit.direction_set!r} is not loaded")
        vector, sigma = directions.direction(edit.direction_set, edit.index)
        ws = ws.clone()
        ws[:, edit.layer_start:end] += (strength * sigma) * vector.to(ws)
    return ws


def state_ws(model: Model, state: LatentState, directions: DirectionLookup | None = None,
             source: SourceFn = source_ws) -> torch.Tensor:
    """The final W+ [1, num_ws, w_dim] that `state` describes.

    `source` maps one source (seed or explicit latent) to truncated W+; the render thread passes
    a cached version so that only the cheap steps run while a user drags mixing or edit sliders.
    """
    ws = source(model, state.seed, state.source_latent(), state)
    if state.has_mixing:
        ws_b = source(model, state.mix_seed, state.mix_source_latent(), state)
        weights = mix_weights_tensor(model, state.mix_weights)
        ws = ws.lerp(ws_b, weights[None, :, None])
    return apply_edits(model, ws, state.edits, directions)
