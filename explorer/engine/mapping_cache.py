"""An LRU of mapped latents, so moving mixing, noise, edit or view controls never re-runs the mapping net.

The composition is `explorer.latent.compose.state_ws` itself; only the per-source mapping is
looked up here instead of recomputed.
"""

from __future__ import annotations

from collections import OrderedDict

import torch

from explorer.latent.compose import DirectionLookup, source_ws, state_ws
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
        return state_ws(model, state, directions, source=self.source_ws)
