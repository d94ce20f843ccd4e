"""A preview strip for one direction: the current picture at several strengths, side by side.

Each tile is exactly what the app would show with that edit appended to the state's edits (same
composition, same noise), so the middle tile at strength 0 is the picture on screen.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from explorer.directions.library import DirectionLibrary
from explorer.engine.mapping_cache import MappingCache
from explorer.engine.render import render_ws
from explorer.latent.state import DirectionEdit, LatentState
from explorer.model import Model

DEFAULT_STRENGTHS = (-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0)


def strip_states(state: LatentState, library: DirectionLibrary, set_name: str, index: int,
                 strengths: Sequence[float] = DEFAULT_STRENGTHS, layer_start: int | None = None,
                 layer_end: int | None = None) -> list[LatentState]:
    """The state with one more edit per strength; the layer range defaults to the set's own."""
    default_start, default_end = library.get(set_name).layer_range
    start = default_start if layer_start is None else layer_start
    end = default_end if layer_start is None and layer_end is None else layer_end
    return [state.replace(edits=state.edits + (DirectionEdit(set_name, index, float(s), start, end),))
            for s in strengths]


def direction_strip(model: Model, state: LatentState, library: DirectionLibrary, set_name: str,
                    index: int, strengths: Sequence[float] = DEFAULT_STRENGTHS,
                    layer_start: int | None = None, layer_end: int | None = None, pad: int = 0,
                    on_step: Callable[[int, int], None] | None = None) -> np.ndarray:
    """RGBA uint8 [H, n * W + (n - 1) * pad] of `state` edited along (set_name, index) by each strength."""
    states = strip_states(state, library, set_name, index, strengths, layer_start, layer_end)
    cache = MappingCache(capacity=4)  # the mapping of the state's seeds is shared by every tile
    tiles = []
    for step, s in enumerate(states, start=1):
        tiles.append(render_ws(model, s, cache.state_ws(model, s, library)).rgba)
        if on_step is not None:
            on_step(step, len(states))
    h, w = tiles[0].shape[:2]
    strip = np.zeros((h, len(tiles) * (w + pad) - pad, 4), np.uint8)
    for i, tile in enumerate(tiles):
        strip[:, i * (w + pad):i * (w + pad) + w] = tile
    return strip
