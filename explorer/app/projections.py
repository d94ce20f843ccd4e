"""The Projection panel's logic: invert a dropped image in the background and use the latent found.

A `ProjectionRun` is one image: its job thread writes progress into it (step, losses, the target
beside the current reconstruction) and the UI reads it each frame, so the window stays live for
the whole optimisation. The projector works on its own copy of the synthesis network and only
reads the shared model, so the job holds no lock and renders go on beside it. Pausing blocks the
job between steps; Stop ends it early and keeps the best latent so far; Refine continues the same
projector (optimiser state included). The result becomes picture A as a W+ latent, so truncation,
mixing, noise and direction edits all apply to it afterwards.
"""

from __future__ import annotations

import itertools
import threading
import time
from pathlib import Path

import numpy as np

from explorer.app.host import AppHost, Feature, JobHandler
from explorer.app.job_kinds import JobKind
from explorer.imageinput import LoadedImage, load_image
from explorer.jobs import JobHandle, Progress
from explorer.latent.state import encode_latent
from explorer.model import ModelInfo
from explorer.project import ProjectionConfig, ProjectionResult, Projector

PAD = 2  # transparent columns between target and reconstruction
RATE_WINDOW = 50  # steps the time left is measured over


def space_plan(config: ProjectionConfig, steps: int | None = None) -> str:
    """How the header and status line name the space: the W phase of a W+ run is part of its name."""
    steps = config.steps if steps is None else steps
    if config.space == "w":
        return "W"
    w_steps = round(config.w_phase * steps)
    return f"W+ (W for the first {w_steps} steps)" if w_steps > 0 else "W+"


def rgba(image: np.ndarray) -> np.ndarray:
    """[H, W, 1|3|4] uint8 -> [H, W, 4], the layout textures take."""
    if image.shape[2] == 4:
        return image
    rgb = np.repeat(image, 3, axis=2) if image.shape[2] == 1 else image
    return np.concatenate([rgb, np.full(rgb.shape[:2] + (1,), 255, np.uint8)], axis=2)


def side_by_side(target: np.ndarray, current: np.ndarray | None) -> np.ndarray:
    """Target | current reconstruction (blank until the first one), as one RGBA picture."""
    left = rgba(target)
    right = np.zeros_like(left) if current is None else rgba(current)
    gap = np.zeros((left.shape[0], PAD, 4), np.uint8)
    return np.ascontiguousarray(np.concatenate([left, gap, right], axis=1))


def coarse_rows(info: ModelInfo, presets: dict[str, tuple[int, int]]) -> tuple[int, int]:
    """[start, end) of the coarse W+ rows: the model's preset (explorer/directions/layers.py),
    else, while the presets are not known yet, the rows up to 8 px."""
    if "coarse" in presets:
        return presets["coarse"]
    limit = max(8, min(info.ws_resolutions))
    return 0, sum(1 for r in info.ws_resolutions if r <= limit)


def crop_note(loaded: LoadedImage) -> str | None:
    """A warning when the centre crop drops over a quarter of the picture (a wide banner, a
    grid of faces): the user should know only the middle is being projected."""
    (left, top, right, bottom), (w, h) = loaded.crop_box, loaded.source_size
    if (right - left) * (bottom - top) >= 0.75 * w * h:
        return None
    return f"only the centre square of this {w} x {h} picture: crop it first to project another part"


class ProjectionRun:
    """One image being projected; written by its job thread, read by the UI."""

    _serials = itertools.count(1)

    def __init__(self, path: Path, model_hash: str) -> None:
        self.serial = next(ProjectionRun._serials)  # tells runs apart (e.g. for texture uploads)
        self.path = path
        self.model_hash = model_hash
        self.loaded: LoadedImage | None = None
        self.projector: Projector | None = None
        self.result: ProjectionResult | None = None
        self.step = 0
        self.total = 0
        self.message = "loading the image"
        self.losses: list[float] = []
        self.plan = ""                    # the space, as the header says it (see `space_plan`)
        self.phase = ""                   # the space of the latest step: "W" or "W+"
        self.switch_step: int | None = None  # index into `losses` of the first W+ step after a W phase
        self.picture: np.ndarray | None = None  # target | reconstruction
        self.picture_version = 0
        self._step_seconds: list[float] = []
        self._last: float | None = None
        self._running = threading.Event()
        self._running.set()
        self._stop = threading.Event()
        self._held = threading.Event()  # the job is waiting at a step boundary (a pause took effect)

    @property
    def name(self) -> str:
        return self.path.name

    # --- the job thread's side -------------------------------------------------------------------
    def loaded_image(self, loaded: LoadedImage) -> None:
        self.loaded = loaded
        self._show(None)

    def on_progress(self, p: Progress) -> None:
        """The projector's callback: record the step, then wait here while paused.

        The time to step 1 includes choosing the start (seconds of k-means and scoring), so only
        steps 2 onwards are timed: one slow setup must not inflate the time left tenfold."""
        now = time.monotonic()
        if p.step >= 2 and self._last is not None:
            self._step_seconds.append(now - self._last)
        if p.loss is not None:
            self.losses.append(float(p.loss))
            phase = "W+" if p.message.endswith("W+") else "W" if p.message.endswith(" W") else self.phase
            if self.phase == "W" and phase == "W+" and self.switch_step is None:
                self.switch_step = len(self.losses) - 1
            self.phase = phase
        self.step, self.total, self.message = p.step, p.total, p.message
        if p.preview is not None:
            self._show(p.preview)
        while not self._running.wait(0.1) and not self._stop.is_set():
            self._held.set()
        self._held.clear()
        self._last = time.monotonic()  # time spent paused is not a step's time

    def should_stop(self) -> bool:
        return self._stop.is_set()

    def segment_started(self) -> None:
        self._stop.clear()
        self._last = None
        self._step_seconds.clear()

    def _show(self, reconstruction: np.ndarray | None) -> None:
        if self.loaded is not None:
            self.picture = side_by_side(self.loaded.pixels, reconstruction)
            self.picture_version += 1

    # --- the UI's side ---------------------------------------------------------------------------
    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    @property
    def holding(self) -> bool:
        """Paused, and the job has finished its step and is waiting (`paused` is only the request)."""
        return self._held.is_set()

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    def stop(self) -> None:
        self._stop.set()
        self._running.set()

    @property
    def seconds_left(self) -> float | None:
        """From the measured time per step (the recent ones: a W+ step costs a little more)."""
        recent = self._step_seconds[-RATE_WINDOW:]
        if not recent or self.total <= 0:
            return None
        return float(np.mean(recent)) * max(self.total - self.step, 0)


class Projections(Feature):
    """The controller's `projection`."""

    def __init__(self, host: AppHost) -> None:
        super().__init__(host)
        self.config = ProjectionConfig()
        self.run: ProjectionRun | None = None
        self._handle: JobHandle | None = None

    def job_handlers(self) -> dict[JobKind, JobHandler]:
        return {JobKind.PROJECTION: self.finished}

    def close(self) -> None:
        if self.run is not None:
            self.run.stop()  # a paused projection must wake up to end

    @property
    def busy(self) -> bool:
        return self.host.job(JobKind.PROJECTION) is not None

    def start(self, path: str | Path) -> None:
        """Project the image at `path` into the loaded model (replacing a projection under way)."""
        model, info = self.host.engine.model, self.host.model_info
        if model is None or info is None or model.info.content_hash != info.content_hash:
            self.host.set_status("load a model before dropping an image to project", error=True)
            return
        replaced = self.run.name if self.busy and self.run is not None else None
        run = ProjectionRun(Path(path).expanduser(), info.content_hash)
        config = self.config
        run.plan = space_plan(config)

        def job(report, cancelled) -> ProjectionResult:
            run.loaded_image(load_image(run.path, model.resolution, model.img_channels))
            run.message = "choosing a starting point"
            run.projector = Projector(model, run.loaded.pixels, config)
            run.segment_started()
            return run.projector.run(on_progress=run.on_progress,
                                     is_cancelled=lambda: cancelled() or run.should_stop())
        self._begin(run, job, f"projection of {run.name}")
        self.host.set_status(f"projecting {run.name} into {run.plan}, {config.steps} steps ..."
                             + (f" (one at a time: the projection of {replaced} is stopped)" if replaced else ""))

    def model_loaded(self, info: ModelInfo) -> None:
        """A projection into the previous model can no longer be used: stop it now, not at its end."""
        if self.busy and self.run is not None and self.run.model_hash != info.content_hash:
            self.run.stop()

    def refine(self, steps: int) -> None:
        """Continue the last projection for `steps` more (same optimiser, lower learning rate)."""
        run = self.run
        if run is None or run.projector is None or self.busy:
            return

        def job(report, cancelled) -> ProjectionResult:
            run.segment_started()
            return run.projector.refine(int(steps), on_progress=run.on_progress,
                                        is_cancelled=lambda: cancelled() or run.should_stop())
        run.plan = "W+" if self.config.space == "w+" else "W"
        self._begin(run, job, f"refining {run.name}")
        self.host.set_status(f"refining {run.name} in {run.plan} for {steps} more steps ...")

    def _begin(self, run: ProjectionRun, job, name: str) -> None:
        if self.run is not None and self.run is not run:
            self.run.stop()  # unblock a paused job before it is cancelled
        self.run = run
        self._handle = self.host.engine.run_job(name, job)
        self.host.track_job(JobKind.PROJECTION, self._handle)

    def finished(self, handle: JobHandle) -> None:
        """JobFinished (UI thread): a stopped run still has a result, a replaced one is ignored."""
        run = self.run
        if handle is not self._handle or run is None:
            return
        if handle.status == "failed" or handle.result is None:
            self.host.report_job_end(handle)
            return
        run.result = handle.result
        info = self.host.model_info
        if info is None or info.content_hash != run.model_hash:
            self.host.set_status(f"the projection of {run.name} was made for the previous model; not used",
                                error=True)
            return
        self.use_result()
        r = run.result
        how = "stopped" if r.cancelled else ("done early" if r.stopped_early else "done")
        self.host.set_status(f"projection of {run.name} {how} after {r.steps} steps: PSNR {r.psnr:.2f} dB, "
                            f"SSIM {r.ssim:.3f}; it is now picture A (Undo goes back)")

    # --- using the result ------------------------------------------------------------------------
    def _latent(self) -> str | None:
        run = self.run
        return None if run is None or run.result is None else encode_latent(run.result.ws[0].numpy())

    def use_result(self) -> None:
        """The projection as picture A, shown as fitted: no truncation, mixing, edits or transform."""
        latent = self._latent()
        if latent is None:
            return
        s = self.host.state
        self.host.edit(latent=latent, latent_label=f"projection of {self.run.name}", psi=1.0, cutoff=None,
                      mix_weights=tuple(0.0 for _ in s.mix_weights), edits=(), noise_mode="const",
                      noise_gains=(), translate=(0.0, 0.0), rotate=0.0, view_layer=None)

    def use_as_mix_source(self) -> None:
        """The projection as picture B (mix it into whatever A is)."""
        latent = self._latent()
        if latent is not None:
            self.host.edit(mix_latent=latent, mix_seed=None)
            if not any(self.host.state.mix_weights):  # else nothing on screen changes
                self.host.set_status("the projection is picture B: raise the Style mixing panel's row "
                                     "weights (or a preset) to take rows from it")

    def mix_with_seed(self, coarse_from_projection: bool, seed_b: int) -> None:
        """One click: coarse rows from the projection and the rest from seed B, or the other way round."""
        latent, info = self._latent(), self.host.model_info
        if latent is None or info is None:
            return
        start, end = coarse_rows(info, self.host.layer_presets)
        coarse = [start <= i < end for i in range(info.num_ws)]
        weights = tuple(float(c != coarse_from_projection) for c in coarse)  # 1 = take B
        self.host.edit(latent=latent, latent_label=f"projection of {self.run.name}", mix_seed=seed_b,
                      mix_latent=None, mix_weights=weights)
