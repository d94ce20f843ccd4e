"""A path of keyframes and the `LatentState` of every frame along it.

Each keyframe is a whole `LatentState`. Between two keyframes the picture moves in W+ (lerp of
the final W+ of both, so truncation, mixing and direction edits all blend), or with `space="z"`
the seeds' z vectors are slerped and mapped (the truncation, mixing and edit offsets of both
keyframes still blend linearly on top). Synthesis settings blend too: the StyleGAN3 transform and
the per-resolution noise gains linearly, the discrete ones (noise mode and seed, the layer shown)
switch at the half-way point.

A frame that falls on a keyframe *is* that keyframe's state; every other frame is a state with an
explicit W+ latent (psi 1, nothing mixed or edited on top), so `render_state` of a frame's state
is exactly the picture the exporter renders for it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterator, Sequence

import torch

from explorer.errors import InputError
from explorer.latent.compose import DirectionLookup, source_ws, state_ws
from explorer.latent.state import LatentState, encode_latent
from explorer.model import Model

SPACES = ("w", "z")
EASINGS = ("smooth", "linear")
MAX_FRAMES_PER_KEY = 100_000
MAX_FRAMES = 1_000_000


def ease(t: float, kind: str) -> float:
    """Where along a segment the picture is at time fraction t: `smooth` starts and stops gently
    (half a cosine), so a walk rests a moment on each keyframe; `linear` keeps one speed."""
    if kind == "linear":
        return t
    if kind == "smooth":
        return 0.5 - 0.5 * math.cos(math.pi * t)
    raise InputError(f"easing must be one of {', '.join(EASINGS)}, not {kind!r}")


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation of z vectors a, b [1, D] at fractions t [N] -> [N, D].

    Gaussian z has most of its mass near a sphere, where a straight line would cut through
    the low-probability middle; nearly parallel vectors fall back to a lerp."""
    a64, b64, t64 = a.double(), b.double(), t.to(a.device, torch.float64)[:, None]
    cos = (a64 * b64).sum() / (a64.norm() * b64.norm()).clamp_min(1e-30)
    omega = torch.arccos(cos.clamp(-1.0, 1.0))
    if float(omega) < 1e-6:
        out = a64 + t64 * (b64 - a64)
    else:
        s = torch.sin(omega)
        out = (torch.sin((1 - t64) * omega) / s) * a64 + (torch.sin(t64 * omega) / s) * b64
    return out.to(a.dtype)


@dataclass(frozen=True)
class VideoPath:
    """Keyframes, the frames from each to the next, and how to move between them.

    Without `loop` the path ends on its last keyframe (frames: sum of `frames` + 1); with it the
    last segment returns to the first keyframe, whose frame is not repeated (frames: the sum).
    """

    keys: tuple[LatentState, ...]
    frames: tuple[int, ...]  # one count per segment: len(keys) - 1, or len(keys) with loop
    space: str = "w"
    easing: str = "smooth"
    loop: bool = False

    def __post_init__(self) -> None:
        if len(self.keys) < 2:
            raise InputError("a path needs at least two keyframes")
        if len(self.frames) != self.segment_count:
            raise InputError(f"a path of {len(self.keys)} keyframes{' with loop' if self.loop else ''} has "
                             f"{self.segment_count} segments, but {len(self.frames)} frame counts were given")
        for n in self.frames:
            if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_FRAMES_PER_KEY:
                raise InputError(f"frames between keyframes must be whole numbers from 1 to "
                                 f"{MAX_FRAMES_PER_KEY}, not {n!r}")
        if self.space not in SPACES:
            raise InputError(f"space must be one of {', '.join(SPACES)}, not {self.space!r}")
        ease(0.0, self.easing)
        if self.frame_count > MAX_FRAMES:
            raise InputError(f"this path has {self.frame_count:,} frames; at most {MAX_FRAMES:,}")

    @classmethod
    def uniform(cls, keys: Sequence[LatentState], frames_per_key: int, space: str = "w",
                easing: str = "smooth", loop: bool = False) -> "VideoPath":
        segments = len(keys) if loop else len(keys) - 1
        return cls(tuple(keys), (frames_per_key,) * max(segments, 0), space, easing, loop)

    @property
    def segment_count(self) -> int:
        return len(self.keys) if self.loop else len(self.keys) - 1

    @property
    def frame_count(self) -> int:
        return sum(self.frames) + (0 if self.loop else 1)

    def position(self, index: int) -> tuple[int, int]:
        """Frame `index` -> (segment, step within it); the last frame of an open path is
        (last segment, its frame count), i.e. the last keyframe."""
        if not 0 <= index < self.frame_count:
            raise IndexError(f"frame {index} is outside 0-{self.frame_count - 1}")
        for segment, n in enumerate(self.frames):
            if index < n:
                return segment, index
            index -= n
        return self.segment_count - 1, self.frames[-1]

    def key_at(self, index: int) -> int:
        return index % len(self.keys)


@dataclass(frozen=True)
class PathFrame:
    """One frame: its number, the state it shows and that state's final W+ [1, num_ws, w_dim]."""

    index: int
    state: LatentState
    ws: torch.Tensor


def frame_state(a: LatentState, b: LatentState, t: float, ws: torch.Tensor, label: str) -> LatentState:
    """The state between keyframes a and b at (eased) fraction t that renders W+ `ws`."""
    near = a if t < 0.5 else b
    gains_a, gains_b = dict(a.noise_gains), dict(b.noise_gains)
    gains = tuple((r, (1 - t) * gains_a.get(r, 1.0) + t * gains_b.get(r, 1.0))
                  for r in sorted(set(gains_a) | set(gains_b)))
    return LatentState(
        seed=near.seed, class_idx=near.class_idx, latent=encode_latent(ws[0].cpu().numpy()), latent_label=label,
        psi=1.0, cutoff=None, noise_mode=near.noise_mode, noise_seed=near.noise_seed, noise_gains=gains,
        translate=(_lerp(a.translate[0], b.translate[0], t), _lerp(a.translate[1], b.translate[1], t)),
        rotate=_lerp(a.rotate, b.rotate, t), view_layer=near.view_layer, view_reduce=near.view_reduce,
        view_channel=near.view_channel)


def _lerp(x: float, y: float, t: float) -> float:
    return float(x + (y - x) * t)


def _segment_ws(model: Model, path: VideoPath, a: LatentState, b: LatentState, ts: torch.Tensor,
                ws_a: torch.Tensor, ws_b: torch.Tensor) -> torch.Tensor:
    """W+ [N, num_ws, w_dim] at eased fractions `ts` between keyframes a and b."""
    weights = ts.to(ws_a)[:, None, None]
    if path.space == "w" or a.latent is not None or b.latent is not None:
        return ws_a.lerp(ws_b, weights)  # explicit latents have no z: they move in W+ in either space
    src_a, src_b = source_ws(model, a.seed, None, a), source_ws(model, b.seed, None, b)
    z = slerp(model.z_from_seed(a.seed), model.z_from_seed(b.seed), ts)
    # One z at a time: a frame's W+ must not depend on how the frames were chunked (a batched
    # matmul rounds differently), so the preview and every export agree bit for bit.
    mapped_a = torch.cat([model.map(zi[None], model.class_vector(a.class_idx), psi=a.psi, cutoff=a.cutoff)
                          for zi in z])
    same = (a.class_idx, a.psi, a.cutoff) == (b.class_idx, b.psi, b.cutoff)
    mapped_b = mapped_a if same else torch.cat([
        model.map(zi[None], model.class_vector(b.class_idx), psi=b.psi, cutoff=b.cutoff) for zi in z])
    source = mapped_a.lerp(mapped_b, weights)
    return source + (ws_a - src_a).lerp(ws_b - src_b, weights)  # mixing and edits on top


def path_frames(model: Model, path: VideoPath, directions: DirectionLookup | None = None,
                start: int = 0, stop: int | None = None) -> Iterator[PathFrame]:
    """The frames [start, stop) of `path`, in order, computed a segment at a time (mapping only,
    no synthesis), so memory stays flat however long the path is."""
    stop = path.frame_count if stop is None else min(stop, path.frame_count)
    keys_ws: dict[int, torch.Tensor] = {}

    def key_ws(k: int) -> torch.Tensor:
        if k not in keys_ws:
            keys_ws[k] = state_ws(model, path.keys[k], directions)
        return keys_ws[k]

    index = start
    while index < stop:
        segment, step = path.position(index)
        n = path.frames[segment]
        last = min(stop - index, n - step + (1 if segment == path.segment_count - 1 and not path.loop else 0))
        steps = range(step, step + last)
        ka, kb = segment, path.key_at(segment + 1)
        a, b = path.keys[ka], path.keys[kb]
        ts = [ease(j / n, path.easing) for j in steps]
        inner = [i for i, j in enumerate(steps) if 0 < j < n]
        inner_ws = None
        if inner:
            inner_ws = _segment_ws(model, path, a, b, torch.tensor([ts[i] for i in inner], dtype=torch.float64),
                                   key_ws(ka), key_ws(kb))
        row = 0
        for i, j in enumerate(steps):
            if j == 0:
                yield PathFrame(index + i, a, key_ws(ka))
            elif j == n:
                yield PathFrame(index + i, b, key_ws(kb))
            else:
                ws = inner_ws[row:row + 1]
                row += 1
                yield PathFrame(index + i, frame_state(a, b, ts[i], ws, f"frame {index + i} of a path"), ws)
        index += last


def path_states(model: Model, path: VideoPath, directions: DirectionLookup | None = None) -> list[LatentState]:
    """Every frame's state (e.g. to preview a path by submitting them to the render thread)."""
    return [frame.state for frame in path_frames(model, path, directions)]
