"""An LRU of mapped latents, so moving mixing, noise, edit or view controls never re-runs the mapping net.

The composition mirrors `explorer.latent.compose.state_ws` step for step (the tests hold the two
to bit-equality); only the per-source mapping is looked up here instead of recomputed.
"""

from __future__ import annotations

from collections import OrderedDict

import torch

from explorer.errors import ExplorerError
from explorer.latent.compose import DirectionLookup, mix_weights_tensor, source_ws
from explorer.latent.state import LatentState
from explorer.model import Model


class MappingCache:
    """Truncated W+ per (model hash, device, seed, class, psi, cutoff). Not thread-safe: one owner."""

    def __init__(self, capacity: int = 256) -> None:
        self.capacity = capacity
        self.hits = 0
        self.misses = 0
        self._entries: OrderedDict[tuple, torch.Tensor] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        self._entries.clear()

    def source_ws(self, model: Model, seed: int | None, latent, state: LatentState) -> torch.Tensor:
        """As `compose.source_ws`; seeds are cached, explicit latents (no mapping) are not."""
        if latent is not None:
            return source_ws(model, seed, latent, state)
        key = (model.info.content_hash, str(model.device), int(seed or 0), state.class_idx,
               float(state.psi), state.cutoff)
        ws = self._entries.get(key)
        if ws is not None:
            self.hits += 1
            self._entries.move_to_end(key)
            return ws
        self.misses += 1
        ws = source_ws(model, seed, None, state)
        self._entries[key] = ws
        if len(self._entries) > self.capacity:
            self._entries.popitem(last=False)
        return ws

    def state_ws(self, model: Model, state: LatentState,
                 directions: DirectionLookup | None = None) -> torch.Tensor:
        """The W+ [1, num_ws, w_dim] of `state`, equal to `compose.state_ws`. Do not modify it in place."""
        ws = self.source_ws(model, state.seed, state.source_latent(), state)
        if state.has_mixing:
            ws_b = self.source_ws(model, state.mix_seed, state.mix_source_latent(), state)
            weights = mix_weights_tensor(model, state.mix_weights)
            ws = ws.lerp(ws_b, weights[None, :, None])
        for edit in state.edits:
            if edit.strength == 0:
                continue
            if directions is None:
                raise ExplorerError(f"direction set {edit.direction_set!r} is not loaded")
            vector, sigma = directions.direction(edit.direction_set, edit.index)
            end = model.num_ws if edit.layer_end is None else edit.layer_end
            ws = ws.clone()
            ws[:, edit.layer_start:end] += (edit.strength * sigma) * vector.to(ws)
        return ws
