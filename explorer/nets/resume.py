"""Restart synthesis at the first stage whose input changed: the render thread's incremental frames.

A synthesis network is a chain of stages (StyleGAN2: three per block, its upsampling conv up to
the noise, that conv's noise and activation, and the rest; StyleGAN3: the input and then one
layer each). A stage's input depends only on the W+ rows and the noise gains of the stages
before it, so after a pass that kept every stage's input, the next pass can start at the first
stage that reads a changed row or uses a changed noise gain, and it gives exactly the pixels of a
full pass: the same ops run on the same tensors. Everything else a pass depends on (the network
and its weights, the code path, noise mode and seed, transform, batch size) is part of a key, and
any change there starts from the beginning.

A pass may also stop early (a preview at a low resolution); the stages it ran are kept, so the
full pass that follows starts where the preview stopped.
"""

from __future__ import annotations

import time
import weakref
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import torch


@dataclass(frozen=True)
class Stage:
    """What one stage reads besides its input: W+ rows, and the noise of one resolution; and
    the resolution of the maps it computes (where a low-resolution preview may stop)."""

    rows: tuple[int, ...]
    noise_resolution: int | None = None
    capture_names: tuple[str, ...] = ()
    resolution: int | None = None


@dataclass
class _Pass:
    net: "weakref.ref[torch.nn.Module]"
    key: tuple
    ws: torch.Tensor
    gains: dict[int, float]
    inputs: dict[int, Any] = field(default_factory=dict)  # stage -> what entered it; N: the output
    captures: dict[int, dict[str, torch.Tensor] | None] = field(default_factory=dict)


def weights_key(net: torch.nn.Module) -> tuple:
    """Identity and version of every parameter and buffer: changes on load, EMA update or move."""
    # Straight from each module's tables: `parameters()` builds names and a seen-set, which cost
    # more than the rest of a batch-1 frame's bookkeeping. A shared tensor is listed twice.
    return tuple((t.data_ptr(), t._version) for m in net.modules()
                 for t in (*m._parameters.values(), *m._buffers.values()) if t is not None)


class SynthesisResume:
    """The kept stage inputs of the last pass of one network. One owner (not thread-safe).

    `last_start` is the first stage the last pass ran (the stage count when it ran none) and
    `stage_ms` the latest wall time of each stage, from which callers predict what a pass costs
    now, and `stage_best_ms` each stage's fastest time since `clear`: their ratios are the stages'
    relative costs, which a busy CPU does not change but blurs in any single pass.
    """

    def __init__(self) -> None:
        self._last: _Pass | None = None
        self.last_start: int | None = None
        self.stage_ms: dict[int, float] = {}
        self.stage_best_ms: dict[int, float] = {}

    def clear(self) -> None:
        self._last = None
        self.last_start = None
        self.stage_ms.clear()
        self.stage_best_ms.clear()

    def first_stage(self, net: torch.nn.Module, key: tuple, ws: torch.Tensor,
                    gains: dict[int, float], stages: Sequence[Stage], capture: bool) -> int:
        """The first stage whose kept input cannot serve this pass (0: start afresh)."""
        last = self._last
        if (last is None or last.net() is not net or last.key != key
                or last.ws.shape != ws.shape or last.ws.device != ws.device):
            return 0
        changed = (last.ws != ws).flatten(2).any(dim=2).any(dim=0).tolist()  # per W+ row
        start = len(stages)
        for i, stage in enumerate(stages):
            res = stage.noise_resolution
            if any(changed[r] for r in stage.rows) or (
                    res is not None and gains.get(res, 1.0) != last.gains.get(res, 1.0)):
                start = i
                break
        # Only a kept input can be used (a preview keeps the first few), and a capturing pass
        # needs the captures of every stage it skips.
        while start > 0 and (start not in last.inputs or (
                capture and any(last.captures.get(i) is None for i in range(start)))):
            start -= 1
        return start

    def run(self, net: torch.nn.Module, key: tuple, ws: torch.Tensor, gains: dict[int, float],
            stages: Sequence[Stage], capture: dict[str, torch.Tensor] | None,
            run_stage: Callable[[int, Any], Any], stop_after: int | None = None) -> Any:
        """Run stages from the first changed one through `stop_after` (default: the last) with
        `run_stage(i, entering) -> leaving`, keeping what enters each; returns what leaves the
        last. Skipped stages' captures are put back into `capture`, in forward order."""
        end = len(stages) - 1 if stop_after is None else stop_after
        valid = self.first_stage(net, key, ws, gains, stages, capture is not None)
        start = min(valid, end + 1)
        old = self._last if valid > 0 else None
        now = _Pass(net=weakref.ref(net), key=key, ws=ws.detach().clone(), gains=dict(gains))
        entering = None
        if old is not None:  # keep what still holds, also beyond a preview's last stage
            now.inputs = {i: old.inputs[i] for i in range(valid + 1) if i in old.inputs}
            now.captures = {i: old.captures.get(i) for i in range(valid)}
            if capture is not None:
                for i in range(start):
                    capture.update(old.captures[i] or {})
            entering = old.inputs[start]
        self._last, self.last_start = now, start
        for i in range(start, end + 1):
            now.inputs[i] = entering
            t0 = time.perf_counter()
            entering = run_stage(i, entering)
            ms = self.stage_ms[i] = 1000 * (time.perf_counter() - t0)
            self.stage_best_ms[i] = min(ms, self.stage_best_ms.get(i, ms))
            now.captures[i] = (None if capture is None
                               else {n: capture[n] for n in stages[i].capture_names if n in capture})
        now.inputs[end + 1] = entering
        return entering


def run_stages(resume: SynthesisResume | None, net: torch.nn.Module, key: tuple, ws: torch.Tensor,
               gains: dict[int, float], stages: Sequence[Stage],
               capture: dict[str, torch.Tensor] | None, run_stage: Callable[[int, Any], Any],
               stop_after: int | None = None) -> Any:
    """`resume.run(...)`, or every stage in turn when there is nothing to resume from."""
    if resume is not None:
        return resume.run(net, key, ws, gains, stages, capture, run_stage, stop_after)
    entering = None
    for i in range(len(stages) if stop_after is None else stop_after + 1):
        entering = run_stage(i, entering)
    return entering
