"""PNGs that carry the `LatentState` that drew them, so that opening one restores the picture.

The state is JSON in an iTXt chunk under STATE_KEY. The app's saves and `stylegan-explorer
generate` write it; the app reads it back when such a PNG is opened or dropped on the window
(any other image is projected instead).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image

from explorer.errors import ExplorerError
from explorer.fileio import png_bytes
from explorer.latent.state import LatentState

STATE_KEY = "stylegan-explorer-state"


def state_png_bytes(rgb: np.ndarray, state: LatentState) -> bytes:
    """A PNG of `rgb` with `state` embedded."""
    return png_bytes(rgb, {STATE_KEY: state.to_json()})


def read_png_state(path: str | os.PathLike[str]) -> LatentState | None:
    """The state embedded in one of our PNGs, or None for any other image."""
    try:
        with Image.open(path) as im:
            if im.format != "PNG":
                return None
            im.load()
            text = dict(getattr(im, "text", {}) or {})
    except (OSError, SyntaxError, ValueError):
        return None
    if STATE_KEY not in text:
        return None
    try:
        return LatentState.from_json(text[STATE_KEY])
    except (ValueError, TypeError, KeyError) as e:
        raise ExplorerError(f"{Path(path).name} carries a damaged latent state ({e})") from e
