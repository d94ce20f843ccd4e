"""Render frames in batches and bring them to the video's size.

Consecutive frames that share every synthesis setting (noise, StyleGAN3 transform) go through the
generator as one batch; each comes out as `render_state` of its state would give it (up to float
rounding of batched convolutions). Frames with random noise, or showing a layer instead of the
image, are rendered one at a time as the app does: their pixels depend on the batch otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Protocol, Sequence

import numpy as np
import torch
from PIL import Image

from explorer.engine.mapping_cache import MappingCache
from explorer.engine.render import image_rgba, render_ws, synthesize_state
from explorer.errors import InputError
from explorer.latent.compose import DirectionLookup
from explorer.latent.state import LatentState
from explorer.model import Model
from explorer.video.path import PathFrame, VideoPath, path_frames


class FrameSource(Protocol):
    """What a video shows: `frame_count` frames, each a state and its W+."""

    @property
    def frame_count(self) -> int: ...

    def frames(self, model: Model, directions: DirectionLookup | None, start: int,
               stop: int) -> Iterator[PathFrame]: ...


@dataclass(frozen=True)
class PathSource:
    """A keyframe path as a frame source."""

    path: VideoPath

    @property
    def frame_count(self) -> int:
        return self.path.frame_count

    def frames(self, model: Model, directions: DirectionLookup | None, start: int,
               stop: int) -> Iterator[PathFrame]:
        return path_frames(model, self.path, directions, start, stop)


class StateSequence:
    """Explicit states, one per frame (a recorded take)."""

    def __init__(self, states: Sequence[LatentState]) -> None:
        if not states:
            raise InputError("there are no frames to export")
        self.states = tuple(states)
        self._cache = MappingCache()

    @property
    def frame_count(self) -> int:
        return len(self.states)

    def frames(self, model: Model, directions: DirectionLookup | None, start: int,
               stop: int) -> Iterator[PathFrame]:
        for i in range(start, min(stop, len(self.states))):
            state = self.states[i]
            yield PathFrame(i, state, self._cache.state_ws(model, state, directions))


def batch_key(model: Model, state: LatentState) -> tuple | None:
    """Frames with equal keys can share one synthesis call; None: render this one alone."""
    if state.view_layer is not None or state.noise_mode == "random":
        return None
    transform = (state.translate, state.rotate) if model.architecture == "stylegan3" else None
    return state.noise_mode, state.noise_gains, transform


def render_frames(model: Model, frames: Sequence[PathFrame], batch_size: int = 8,
                  force_fp32: bool = True) -> list[np.ndarray]:
    """RGB uint8 [H, W, 3] for each frame, in order."""
    out: list[np.ndarray] = []
    i = 0
    while i < len(frames):
        key = batch_key(model, frames[i].state)
        j = i + 1
        while key is not None and j < len(frames) and j - i < batch_size and \
                batch_key(model, frames[j].state) == key:
            j += 1
        group = frames[i:j]
        if len(group) == 1:
            f = group[0]
            out.append(render_ws(model, f.state, f.ws, force_fp32).rgba[..., :3])
        else:
            with torch.no_grad():
                img = synthesize_state(model, group[0].state, torch.cat([f.ws for f in group]), force_fp32)
            out.extend(image_rgba(img[k:k + 1])[..., :3] for k in range(len(group)))
        i = j
    return out


def fit_size(rgb: np.ndarray, size: int) -> np.ndarray:
    """The frame as a size x size picture: Lanczos when scaling (layer views are smaller)."""
    if rgb.shape[0] == size and rgb.shape[1] == size:
        return np.ascontiguousarray(rgb)
    return np.asarray(Image.fromarray(np.ascontiguousarray(rgb)).resize((size, size), Image.LANCZOS))
