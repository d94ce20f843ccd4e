"""`LatentState`: a frozen, JSON-serialisable description of exactly one picture.

Equal states render equal pixels. The GUI edits states, undo/redo keeps a list of them, saved PNGs
embed one, and the render thread receives nothing else. Latents that do not come from a seed
(projections, loaded .npz files) travel inline as base64 float32, so a state is self-contained.
"""

from __future__ import annotations

import base64
import dataclasses
import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from explorer.model_inputs import NOISE_MODES

STATE_FORMAT = "stylegan-explorer/latent-state"
STATE_VERSION = 1
VIEW_REDUCTIONS = ("mean", "norm", "channel")


def encode_latent(array: np.ndarray) -> str:
    """[num_ws, w_dim] float array -> compact text ('rows x cols:' + base64 of float32)."""
    a = np.ascontiguousarray(np.asarray(array, dtype=np.float32))
    if a.ndim == 3 and a.shape[0] == 1:
        a = a[0]
    if a.ndim != 2:
        raise ValueError(f"a W+ latent must be [num_ws, w_dim], got shape {a.shape}")
    return f"{a.shape[0]}x{a.shape[1]}:" + base64.b64encode(a.tobytes()).decode("ascii")


def decode_latent(text: str) -> np.ndarray:
    shape, data = text.split(":", 1)
    rows, cols = (int(v) for v in shape.split("x"))
    return np.frombuffer(base64.b64decode(data), dtype=np.float32).reshape(rows, cols).copy()


@dataclass(frozen=True)
class DirectionEdit:
    """Move along direction `index` of a direction set by `strength` sigmas on W+ rows [start, end)."""

    direction_set: str
    index: int
    strength: float
    layer_start: int = 0
    layer_end: int | None = None  # None = through the last row


@dataclass(frozen=True)
class LatentState:
    """Source -> truncation -> style mixing -> direction edits -> synthesis (noise, transform) -> view."""

    # Source A: a seed (z as NVIDIA's gen_images draws it) unless an explicit W+ latent is given.
    seed: int = 0
    class_idx: int | None = None
    latent: str | None = None  # encode_latent([num_ws, w_dim]); overrides seed
    latent_label: str = ""     # where `latent` came from, e.g. "projection of cat.jpg"
    # Truncation in W towards w_avg, over W+ rows [0, cutoff) (None = all rows).
    psi: float = 1.0
    cutoff: int | None = None
    # Style mixing with source B: per W+ row, 0 = A and 1 = B, blended linearly in W.
    mix_seed: int | None = None
    mix_latent: str | None = None
    mix_weights: tuple[float, ...] = ()
    # Noise inputs (StyleGAN2): mode, seed for "random", per-resolution gain (missing = 1).
    noise_mode: str = "const"
    noise_seed: int = 0
    noise_gains: tuple[tuple[int, float], ...] = ()
    # Latent-space edits, applied in order after mixing.
    edits: tuple[DirectionEdit, ...] = ()
    # StyleGAN3 input transform, as gen_images.py's --translate/--rotate.
    translate: tuple[float, float] = (0.0, 0.0)
    rotate: float = 0.0
    # What to show: the image (None) or one synthesis layer, reduced over channels or one channel.
    view_layer: str | None = None
    view_reduce: str = "mean"
    view_channel: int = 0

    def __post_init__(self) -> None:
        if self.noise_mode not in NOISE_MODES:
            raise ValueError(f"noise_mode must be one of {NOISE_MODES}")
        if self.view_reduce not in VIEW_REDUCTIONS:
            raise ValueError(f"view_reduce must be one of {VIEW_REDUCTIONS}")

    def replace(self, **changes: Any) -> "LatentState":
        return dataclasses.replace(self, **changes)

    @property
    def has_mixing(self) -> bool:
        return (self.mix_seed is not None or self.mix_latent is not None) and any(self.mix_weights)

    def noise_gain_by_res(self) -> dict[int, float] | None:
        return {int(r): float(g) for r, g in self.noise_gains} or None

    def source_latent(self) -> np.ndarray | None:
        return None if self.latent is None else decode_latent(self.latent)

    def mix_source_latent(self) -> np.ndarray | None:
        return None if self.mix_latent is None else decode_latent(self.mix_latent)

    # --- serialisation -------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["edits"] = [dataclasses.asdict(e) for e in self.edits]
        d["noise_gains"] = [list(p) for p in self.noise_gains]
        d["mix_weights"] = list(self.mix_weights)
        d["translate"] = list(self.translate)
        return {"format": STATE_FORMAT, "version": STATE_VERSION, **d}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"))

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "LatentState":
        if d.get("format") != STATE_FORMAT:
            raise ValueError("not a StyleGAN Explorer latent state")
        if int(d.get("version", 0)) > STATE_VERSION:
            raise ValueError("this latent state was written by a newer StyleGAN Explorer")
        names = {f.name for f in dataclasses.fields(cls)}
        kw = {k: v for k, v in d.items() if k in names}
        kw["edits"] = tuple(DirectionEdit(**e) for e in kw.get("edits", ()))
        kw["noise_gains"] = tuple((int(r), float(g)) for r, g in kw.get("noise_gains", ()))
        kw["mix_weights"] = tuple(float(v) for v in kw.get("mix_weights", ()))
        kw["translate"] = tuple(float(v) for v in kw.get("translate", (0.0, 0.0)))
        return cls(**kw)

    @classmethod
    def from_json(cls, text: str) -> "LatentState":
        return cls.from_dict(json.loads(text))
