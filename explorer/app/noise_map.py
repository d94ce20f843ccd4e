"""The colour scale under the noise variance map, drawn by the same colour map as the map itself."""

from __future__ import annotations

from functools import lru_cache

import numpy as np


@lru_cache(maxsize=1)
def heat_scale_rgba(width: int = 256, height: int = 12) -> np.ndarray:
    """A left-to-right ramp 0 -> 1 through `heat_rgba` (the map's colours), [height, width, 4] uint8."""
    import torch

    from explorer.engine.render import heat_rgba
    ramp = torch.linspace(0.0, 1.0, width)[None].repeat(height, 1)
    scale = heat_rgba(ramp)
    scale.flags.writeable = False
    return scale
