"""The render thread: owns the device and the model, turns submitted states into published frames.

The UI thread never waits on torch: `submit` drops a state into a one-slot mailbox (latest wins;
stale requests are dropped, never queued), `latest_frame` swaps a pointer, `poll_events` drains a
list. Renders and background jobs share one model lock, so they never run the model concurrently.

Frames are incremental: the synthesis keeps each stage's input (StyleGAN2: half a block) from the
last frame and restarts at the first stage the new state changes (fine W+ rows, one resolution's noise), with the pixels of a
full render. When the change reaches the coarse blocks and the rest would take long, a cheap preview
(the 32 px image, scaled up) is published first; if a newer state is waiting by then (a slider
being dragged), that one is served next, else the full frame continues from the preview's blocks.

A UI that sleeps while nothing happens (to leave the CPU to the render) registers a wake-up with
`set_wake`: it is called, on this thread, after every published frame and posted event.
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import torch

from explorer.devices import resolve_device
from explorer.engine.events import ErrorEvent, Event, JobFinished, ModelLoaded
from explorer.engine.frame import Frame
from explorer.engine.mapping_cache import MappingCache
from explorer.engine.render import (NoiseVariance, mixing_grid, noise_variance, preview_resolution,
                                    render_preview, render_ws)
from explorer.engine.threads import RENDER_NICE, configure_render_thread
from explorer.errors import ExplorerError, one_line_error
from explorer.jobs import Job, JobFn, JobHandle, Progress
from explorer.latent.compose import DirectionLookup
from explorer.latent.state import LatentState
from explorer.model import Model, ModelInfo
from explorer.nets.resume import SynthesisResume

PREVIEW_AFTER_MS = 100.0  # a full frame expected to take longer than this gets a preview first
# ... and only when the blocks after the preview cost this many times the preview's own: a 64 px
# StyleGAN2's 64 px block costs less than its blocks up to 32 px (0.9x), so there a preview saves
# nothing, and one render slowed past PREVIEW_AFTER_MS by a busy CPU (its stage times then stay,
# as the skipped blocks are not timed again) kept a whole drag at 32 px previews. A ratio of
# stage times does not change with the load; at 256 px it is ~5. It is taken from each stage's
# best time: single passes under a spinning UI scattered it enough to skip previews at random.
PREVIEW_MIN_GAIN = 2.0

@dataclass(frozen=True)
class RenderStats:
    frames_rendered: int
    last_render_ms: float
    requests_dropped: int  # submitted states replaced by a newer one before they were rendered
    mapping_cache_hits: int
    mapping_cache_misses: int
    previews_rendered: int = 0
    last_first_stage: int | None = None  # where the last frame's synthesis started (0: full)


class RenderThread:
    """Renders `LatentState`s on a background thread; see the module docstring for the contract."""

    def __init__(self, device: str = "auto", fp16: bool = False, nice: int = RENDER_NICE,
                 threads: int | None = None) -> None:
        """`nice` lowers the render thread's priority below the UI's (see `engine.threads`);
        `threads` sets torch's thread count (default: one per core but one, left to the UI)."""
        self._device = resolve_device(device)
        self._nice, self._threads = int(nice), threads
        self._fp16 = bool(fp16)
        self._with_stats = False
        self._directions: DirectionLookup | None = None
        # Mailbox and settings, guarded by _cond (never held while rendering).
        self._cond = threading.Condition()
        self._pending_state: LatentState | None = None
        self._pending_source: str | Path | Model | None = None
        self._stopping = False
        self._settings_serial = 0
        self._taken_state: LatentState | None = None  # the newest state the thread took
        # Render-thread side.
        self._model_lock = threading.Lock()
        self._model: Model | None = None
        self._model_serial = 0
        self._cache = MappingCache()
        self._resume = SynthesisResume()
        self._last_key: tuple | None = None  # the state, model and settings of the frame on screen
        self._previews_rendered = 0
        self._frames_rendered = 0
        self._last_render_ms = 0.0
        self._requests_dropped = 0
        # Published results.
        self._frame_lock = threading.Lock()
        self._frame: Frame | None = None
        self._events_lock = threading.Lock()
        self._events: list[Event] = []
        self._jobs: set[JobHandle] = set()
        self._wake: Callable[[], None] | None = None
        self._thread = threading.Thread(target=self._loop, name="render-thread", daemon=True)

    # --- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread.ident is None:
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop rendering, ask running jobs to cancel, and join the thread. Safe to call twice."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        with self._events_lock:
            jobs = list(self._jobs)
        for handle in jobs:
            handle.cancel()
        if self._thread.is_alive():
            self._thread.join(timeout)

    # --- UI-thread API (never blocks on rendering) ----------------------------------------------
    def load_model(self, source: str | Path | Model) -> None:
        """Load a checkpoint (or adopt a Model) on the render thread; answers with an event."""
        with self._cond:
            self._pending_source = source
            self._cond.notify_all()

    def submit(self, state: LatentState) -> None:
        with self._cond:
            if self._pending_state is not None:
                self._requests_dropped += 1
            self._pending_state = state
            self._cond.notify_all()

    def latest_frame(self) -> Frame | None:
        with self._frame_lock:
            return self._frame

    def set_wake(self, wake: Callable[[], None] | None) -> None:
        """Call `wake` (from the render or a job thread; it must be thread-safe and quick) whenever
        a frame is published or an event posted; None stops it (before the UI goes away)."""
        self._wake = wake

    def poll_events(self) -> list[Event]:
        with self._events_lock:
            events, self._events = self._events, []
        return events

    def set_directions(self, lookup: DirectionLookup | None) -> None:
        """The direction sets that state edits refer to; the current state is re-rendered."""
        self._change_setting("_directions", lookup)

    @property
    def fp16(self) -> bool:
        return self._fp16

    @fp16.setter
    def fp16(self, value: bool) -> None:
        self._change_setting("_fp16", bool(value))

    @property
    def force_fp32(self) -> bool:
        """fp16 layers run only on CUDA; elsewhere the flag changes nothing."""
        return not (self._fp16 and self._device.type == "cuda")

    @property
    def with_stats(self) -> bool:
        """Compute layer statistics for every frame, even when the image (not a layer) is shown."""
        return self._with_stats

    @with_stats.setter
    def with_stats(self, value: bool) -> None:
        self._change_setting("_with_stats", bool(value))

    @property
    def model(self) -> Model | None:
        return self._model

    @property
    def model_info(self) -> ModelInfo | None:
        model = self._model
        return None if model is None else model.info

    @property
    def device(self) -> str:
        return str(self._device)

    @property
    def frames_rendered(self) -> int:
        return self._frames_rendered

    @property
    def stats(self) -> RenderStats:
        return RenderStats(self._frames_rendered, self._last_render_ms, self._requests_dropped,
                           self._cache.hits, self._cache.misses, self._previews_rendered,
                           self._resume.last_start)

    # --- jobs ------------------------------------------------------------------------------------
    @contextmanager
    def borrow_model(self) -> Iterator[Model]:
        """The current model for a job, exclusively: renders wait, so borrow per step in long jobs."""
        with self._model_lock:
            if self._model is None:
                raise ExplorerError("no model is loaded: open a checkpoint first")
            yield self._model

    def run_job(self, name: str, fn: JobFn) -> JobHandle:
        """Run `fn(report, cancelled)` on its own thread; a JobFinished event follows its end."""
        handle = JobHandle(Job(name, fn), on_finish=self._job_finished)
        with self._events_lock:
            self._jobs.add(handle)
        return handle.start()

    def start_noise_variance(self, state: LatentState, samples: int = 16) -> JobHandle:
        """Job whose result (a `NoiseVariance`) maps where noise changes `state`'s picture."""
        directions, force_fp32 = self._directions, self.force_fp32

        def fn(report, cancelled) -> NoiseVariance:
            with self.borrow_model() as model, torch.no_grad():
                return noise_variance(model, state, samples, directions, force_fp32,
                                      on_step=lambda s, t: report(Progress(s, t, "noise variance")))
        return self.run_job("noise variance", fn)

    def start_mixing_grid(self, row_seeds: list[int], col_seeds: list[int],
                          layer_weights: tuple[float, ...], psi: float = 1.0,
                          cutoff: int | None = None, class_idx: int | None = None,
                          noise_mode: str = "const", noise_seed: int = 0) -> JobHandle:
        """Job whose result is the RGBA style-mixing grid (see `render.mixing_grid`)."""
        force_fp32 = self.force_fp32

        def fn(report, cancelled) -> np.ndarray:
            with self.borrow_model() as model, torch.no_grad():
                return mixing_grid(model, row_seeds, col_seeds, layer_weights, psi, cutoff,
                                   class_idx, noise_mode, noise_seed, force_fp32,
                                   on_step=lambda s, t: report(Progress(s, t, "mixing grid")))
        return self.run_job("mixing grid", fn)

    # --- internals -------------------------------------------------------------------------------
    def _post(self, event: Event) -> None:
        with self._events_lock:
            self._events.append(event)
        self._wake_ui()

    def _job_finished(self, handle: JobHandle) -> None:
        with self._events_lock:
            self._jobs.discard(handle)
            self._events.append(JobFinished(handle))
        self._wake_ui()

    def _wake_ui(self) -> None:
        wake = self._wake
        if wake is not None:
            wake()

    def _change_setting(self, attr: str, value: Any) -> None:
        """Change a render setting and re-render the state on screen with it (unless a newer waits)."""
        with self._cond:
            setattr(self, attr, value)
            self._settings_serial += 1
            if self._pending_state is None:
                self._pending_state = self._taken_state
            self._cond.notify_all()

    def _loop(self) -> None:
        configure_render_thread(self._nice, self._threads)  # before any torch op on this thread
        torch.set_grad_enabled(False)  # grad mode is per thread
        while True:
            with self._cond:
                while not self._stopping and self._pending_source is None and (
                        self._pending_state is None or self._model is None):
                    self._cond.wait()
                if self._stopping:
                    return
                source, self._pending_source = self._pending_source, None
                if source is None:
                    state, self._pending_state = self._pending_state, None
                    self._taken_state = state
                    settings = (self._settings_serial, self._directions, self.force_fp32, self._with_stats)
            if source is not None:
                self._load(source)
            else:
                self._render(state, *settings)

    def _load(self, source: str | Path | Model) -> None:
        try:
            if isinstance(source, Model):
                model, label = source.to(self._device), source.info.source
            else:
                from explorer.checkpoints import load
                # download=False: a URL must already be cached (the app downloads in a job), so
                # this thread never waits on the network while the current model should render.
                model, label = load(source, device=str(self._device), download=False), str(source)
        except Exception as exc:  # the old model stays; the user gets a message
            message = one_line_error(exc)  # checkpoint errors already name the file
            if not isinstance(exc, ExplorerError):
                message = f"could not load {source}: {message}"
            self._post(ErrorEvent(message))
            return
        with self._model_lock:
            self._model = model
            self._model_serial += 1
            self._cache.clear()
            self._resume.clear()
        self._post(ModelLoaded(model.info, label))

    def _render(self, state: LatentState, settings_serial: int, directions: DirectionLookup | None,
                force_fp32: bool, with_stats: bool) -> None:
        key = (self._model_serial, settings_serial, state)
        if key == self._last_key:
            return  # already on screen (or already failed: don't repeat the error every UI frame)
        try:
            with self._model_lock:
                start = time.perf_counter()  # not counting the wait for a job to let go
                model = self._model
                ws = self._cache.state_ws(model, state, directions)
                if self._preview(model, state, ws, force_fp32, with_stats, start):
                    return  # a newer state is waiting: serve it (its preview) first
                self._last_key = key
                out = render_ws(model, state, ws, force_fp32=force_fp32, with_stats=with_stats,
                                resume=self._resume)
        except torch.cuda.OutOfMemoryError:
            self._last_key = key
            torch.cuda.empty_cache()  # once, after a failure; never per frame
            self._post(ErrorEvent("out of GPU memory while rendering: close other GPU programs, "
                                  "turn on fp16, or use --device cpu", state))
            return
        except Exception as exc:  # a bad state must not kill the thread
            self._last_key = key
            self._post(ErrorEvent(f"render failed: {one_line_error(exc)}", state))
            return
        self._last_render_ms = (time.perf_counter() - start) * 1000
        self._frames_rendered += 1
        self._publish(model, state, out.rgba, self._last_render_ms, out.layer_stats)

    def _preview(self, model: Model, state: LatentState, ws: torch.Tensor, force_fp32: bool,
                 with_stats: bool, start: float) -> bool:
        """Publish a low-resolution frame first when the full one will be slow; True when a newer
        request is waiting afterwards (the full frame is then skipped: its blocks up to the
        preview's stay kept, so nothing computed is lost)."""
        resolution = preview_resolution(model)
        if resolution is None or state.view_layer is not None or with_stats:
            return False
        stages = model.generator.synthesis.stages
        stop = max(i for i, stage in enumerate(stages)
                   if stage.resolution is not None and stage.resolution <= resolution)
        rest = range(stop + 1, len(stages))
        rest_ms = sum(self._resume.stage_ms.get(i, float("inf")) for i in rest)  # at today's load
        best = self._resume.stage_best_ms  # relative costs: one slowed pass must not flip the choice
        if rest_ms < PREVIEW_AFTER_MS or (sum(best.get(i, float("inf")) for i in rest)
                                          < PREVIEW_MIN_GAIN * sum(best.get(i, 0.0) for i in range(stop + 1))):
            return False
        rgba = render_preview(model, state, ws, resolution, force_fp32, resume=self._resume)
        if self._resume.last_start > stop:
            return False  # only finer blocks change: the preview would be the old picture
        current = self.latest_frame()
        if not (current is not None and current.state == state and not current.preview):
            self._previews_rendered += 1
            self._last_key = None  # the screen no longer shows a final frame
            self._publish(model, state, rgba, (time.perf_counter() - start) * 1000, (), preview=True)
        with self._cond:
            return self._pending_state is not None or self._pending_source is not None or self._stopping

    def _publish(self, model: Model, state: LatentState, rgba: np.ndarray, render_ms: float,
                 layer_stats: tuple, preview: bool = False) -> None:
        rgba = np.ascontiguousarray(rgba)
        rgba.flags.writeable = False
        frame = Frame(serial=self._frames_rendered + self._previews_rendered, state=state, rgba=rgba,
                      render_ms=render_ms, layer_stats=layer_stats,
                      model_hash=model.info.content_hash, device=str(self._device), preview=preview)
        with self._frame_lock:
            self._frame = frame
        self._wake_ui()
