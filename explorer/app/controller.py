"""The app's logic without the drawing: the state being edited, history, files, engine traffic.

Panels read `AppController` and call its methods; the window calls `poll()` once per frame and
`end_frame()` after drawing. Nothing here touches imgui or OpenGL, and nothing blocks on the
render thread, so it is unit-tested headless with a real engine. Paths dropped on the window may
arrive from another thread (GLFW's callback, or a test), so they go through a deque.

The bigger features keep their logic in `Feature` objects of their own (app/host.py) that the
controller owns and that see it only as an `AppHost`: `directions` (direction sets and slider
edits), `training` (the trainer process and its run folder), `projection` (inverting dropped
images), `downloads` (models from a URL or the catalogue), `mixing` (pictures A and B alone, the
mixing grid), `doctor` (the artifact doctor) and `recorder` (keyframes, previews, takes and video
export); `files` (native file dialogs) is a plain helper. Jobs they start end in the handlers
they declare.
"""

from __future__ import annotations

import random
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np

from cuda_ops import fused
from explorer.app.direction_edits import only_sets
from explorer.app.direction_sets import DirectionSets
from explorer.app.doctor import Doctor
from explorer.app.downloads import Downloads
from explorer.app.dropped_files import (LoadCheckpoint, LoadLatent, OpenRemote, ProjectImage, Rejected,
                                        RestoreState, classify_dropped_file)
from explorer.app.file_dialogs import CHECKPOINT_FILTERS, DialogRequest, FileDialogs
from explorer.app.history import History
from explorer.app.host import Feature, JobHandler
from explorer.app.job_kinds import JobKind
from explorer.app.messages import MessageLog, Status
from explorer.app.mixing_views import MixingViews
from explorer.app.projections import Projections
from explorer.app.recording import Recorder
from explorer.app.session import SavedImage, save_image, save_latent
from explorer.app.settings import Settings
from explorer.app.train_runs import TrainRuns
from explorer.cli_values import MAX_APP_SEED
from explorer.directions import DirectionCache, DirectionLibrary, layer_presets, row_resolutions
from explorer.download import is_url, remote_source
from explorer.engine import ErrorEvent, Frame, JobFinished, ModelLoaded, RenderThread
from explorer.errors import ExplorerError
from explorer.jobs import JobHandle
from explorer.latent.compose import DirectionLookup
from explorer.latent.npz import load_latent_npz
from explorer.latent.state import LatentState, encode_latent
from explorer.model import Model, ModelInfo
from explorer.train.snapshot import trained_kimg


@dataclass(frozen=True)
class JobResult:
    """A finished job's result (a picture's job: its picture); `version` changes whenever a new
    one arrives (for re-upload)."""

    version: int
    value: Any


# A saved PNG's edits give its saved W+ again when the max difference is below this fraction of
# the W+'s largest value (float32 rounding, another thread count); a recomputed set moves it by ~1.
SAME_W_TOLERANCE = 1e-4


def latent_layout(info: ModelInfo) -> tuple:
    """What a `LatentState` means on a model: two models alike here read every state the same way."""
    return (info.architecture, info.resolution, info.num_ws, info.w_dim, info.z_dim, info.c_dim)


def display_folder(folder: Path) -> str:
    """A folder as the Model panel shows it: under the home folder as ~/..., else in full."""
    home = Path.home().resolve()
    return f"~/{folder.relative_to(home).as_posix()}" if folder.is_relative_to(home) and folder != home else str(folder)


def fit_state_to_model(state: LatentState, info: ModelInfo) -> LatentState:
    """Drop or clamp the parts of `state` that the model cannot use (other num_ws, no such layer...)."""
    def fits(latent: str | None) -> bool:
        return latent is None or latent.split(":", 1)[0] == f"{info.num_ws}x{info.w_dim}"

    changes: dict[str, Any] = {}
    if info.c_dim == 0 and state.class_idx is not None:
        changes["class_idx"] = None
    elif info.c_dim > 0 and (state.class_idx is None or not 0 <= state.class_idx < info.c_dim):
        changes["class_idx"] = 0
    if state.cutoff is not None and not 0 <= state.cutoff <= info.num_ws:
        changes["cutoff"] = None
    if not fits(state.latent):
        changes.update(latent=None, latent_label="")
    if not fits(state.mix_latent):
        changes["mix_latent"] = None
    if len(state.mix_weights) != info.num_ws:
        changes["mix_weights"] = tuple(state.mix_weights[:info.num_ws]) + (0.0,) * max(
            0, info.num_ws - len(state.mix_weights))
    noise_res = set(info.layer_names)
    gains = tuple((r, g) for r, g in state.noise_gains if r in noise_res)
    if gains != state.noise_gains:
        changes["noise_gains"] = gains
    layers = {name for names in info.layer_names.values() for name in names}
    if state.view_layer is not None and state.view_layer not in layers:
        changes["view_layer"] = None
    return state.replace(**changes) if changes else state


TRANSLATE_RANGE = 1.0  # the Transform panel's sliders and a drag both stay within +-1 (an image width)


def dragged_transform(translate: tuple[float, float], rotate: float, drag: tuple[float, float],
                      rotate_mode: bool) -> tuple[tuple[float, float], float]:
    """StyleGAN3 (translate, rotate) after the mouse dragged by `drag` image widths/heights.

    One translate unit is about one image width and positive values move the content right/down,
    so adding the drag makes the picture follow the mouse. In rotate mode the horizontal drag
    turns it (one image width = 180 degrees). Translation stays within the sliders' range.
    """
    if rotate_mode:
        return translate, (rotate + 180.0 * drag[0] + 180.0) % 360.0 - 180.0
    x, y = (min(max(t + d, -TRANSLATE_RANGE), TRANSLATE_RANGE) for t, d in zip(translate, drag))
    return (x, y), rotate


JOB_EXIT_WAIT_S = 10.0  # how long closing the app waits for cancelled jobs to end


class AppController:
    """Owns the edited `LatentState` and its history; talks to the `RenderThread`. The `AppHost`
    of the features."""

    def __init__(self, engine: RenderThread, settings: Settings, state: LatentState | None = None,
                 direction_cache: DirectionCache | None = None) -> None:
        self.engine = engine
        self.settings = settings
        self.state = state or LatentState()
        self.history = History(self.state)
        self.status = Status()
        self.messages = MessageLog()
        self.model_info: ModelInfo | None = None
        self.model_source = ""
        self.model_label = ""  # the file name, or the source text of a model built in memory
        self.model_path = ""  # the file's full path, or the URL or source text
        self.model_folder = ""  # where that file is (~/... under the home folder); "" when not a file
        self.row_resolutions: list[int] = []  # nominal px of each W+ row of the model, for labels
        self.layer_presets: dict[str, tuple[int, int]] = {}  # coarse / middle / fine W+ rows
        self.loading: str | None = None
        self.jobs: dict[JobKind, JobHandle] = {}
        self.results: dict[JobKind, JobResult] = {}
        self.last_saved: SavedImage | None = None
        self._restoring: tuple[RestoreState, LatentState, np.ndarray, str] | None = None  # PNG, state, W+, model
        self.frame: Frame | None = None  # the newest frame, as of the last poll()
        self.want_layer_stats = False
        self._dropped: deque[str] = deque()
        self._submitted: LatentState | None = None
        self._rng = random.Random()
        self._result_versions = 0
        self._kernels_told: fused.BuildStatus | None = None
        self.directions = DirectionSets(self, direction_cache)
        self.training = TrainRuns(self)
        self.projection = Projections(self)
        self.downloads = Downloads(self)
        self.files = FileDialogs()
        self.mixing = MixingViews(self)
        self.doctor = Doctor(self)
        self.recorder = Recorder(self)
        # Their hooks run in this order (model loaded, per frame, closing).
        self.features: tuple[Feature, ...] = (self.directions, self.training, self.projection, self.downloads,
                                              self.mixing, self.doctor, self.recorder)
        # How each kind of job ends: the controller's own handlers and the features'; any other
        # kind (a picture job) publishes its result in `results`.
        self._job_handlers = job_handler_table(
            self.features, {JobKind.SAVE_IMAGE: self._image_saved, JobKind.SAVE_LATENT: self._latent_saved,
                            JobKind.RESTORE_CHECK: self._restore_checked})

    # --- models ---------------------------------------------------------------------------------
    def load_model(self, source: str | Path | Model) -> None:
        """Load a checkpoint (path, or the URL of a cached download) or adopt a built `Model`; the
        answer comes back as an event. URLs not downloaded yet go through `open_path`."""
        self.loading = source.info.source if isinstance(source, Model) else str(source)
        self.set_status(f"loading {self.loading} ...")
        self.engine.load_model(source)

    # --- the edited state ------------------------------------------------------------------------
    def set_state(self, state: LatentState) -> None:
        """Show `state` now; it enters the history at the end of the frame (see `end_frame`).

        A new picture is the user moving on, so an error about the previous one leaves the
        status line (the message log keeps it)."""
        if state != self.state and self.status.is_error:
            self.status = Status()
        self.state = state
        self._submit()

    def edit(self, **changes: Any) -> None:
        self.set_state(self.state.replace(**changes))

    def end_frame(self, editing: bool) -> None:
        """Commit the state to history unless a widget is still being dragged or typed into."""
        if not editing:
            self.history.commit(self.state)
        if self.engine.with_stats != self.want_layer_stats:
            self.engine.with_stats = self.want_layer_stats
        self.want_layer_stats = False

    def rewrite_history(self, change: Callable[[LatentState], LatentState]) -> None:
        self.history.rewrite(change)
        self.set_state(change(self.state))

    def undo(self) -> None:
        state = self.history.undo()
        if state is not None:
            self.set_state(state)

    def redo(self) -> None:
        state = self.history.redo()
        if state is not None:
            self.set_state(state)

    def jump_to(self, index: int) -> None:
        self.set_state(self.history.jump(index))

    def drag_transform(self, drag: tuple[float, float], rotate_mode: bool) -> None:
        """A mouse drag on the picture moves (or turns) a StyleGAN3 model's input."""
        if self.model_info is not None and self.model_info.architecture == "stylegan3":
            translate, rotate = dragged_transform(self.state.translate, self.state.rotate, drag, rotate_mode)
            self.edit(translate=translate, rotate=rotate)

    def step_seed(self, delta: int) -> None:
        """Arrow keys and Page Up / Down: the neighbouring seeds of picture A."""
        if self.state.latent is not None:
            self.set_status("picture A is a latent, not a seed: click 'Back to seeds' in the Latent panel first")
            return
        self.edit(seed=min(max(self.state.seed + delta, 0), MAX_APP_SEED))

    def random_seed(self) -> int:
        return self._rng.randint(0, MAX_APP_SEED)

    def _submit(self) -> None:
        if self.model_info is not None and self.state != self._submitted:
            self.engine.submit(self.state)
            self._submitted = self.state

    def show_transient_state(self, state: LatentState) -> None:
        """Show a state that is not the edited one (a video preview's frame); the edited state and
        its history stay as they are, and `show_edited_state` brings its picture back."""
        if self.model_info is not None and state != self._submitted:
            self.engine.submit(state)
            self._submitted = state

    def show_edited_state(self) -> None:
        self._submit()

    # --- per frame -------------------------------------------------------------------------------
    def poll(self) -> Frame | None:
        """Handle engine events and dropped files; the newest frame (None before the first)."""
        for event in self.engine.poll_events():
            if isinstance(event, ModelLoaded):
                self._model_loaded(event)
            elif isinstance(event, ErrorEvent):
                if event.state is None:
                    self.loading = None
                self.status = Status(event.message, True, event.state, time.monotonic())
                self.messages.add(event.message, True)
            elif isinstance(event, JobFinished):
                self._job_finished(event.handle)
        self.files.poll()
        while self._dropped and self.loading is None:  # a latent or an image needs the model it is for
            self.open_path(self._dropped.popleft())
        self._tell_kernel_outcome()
        frame = self.frame = self.engine.latest_frame()
        for feature in self.features:
            feature.poll(frame)
        failed = self.status.failed_state
        if failed is not None and frame is not None and frame.state == self.state != failed:
            self.status = Status()  # the failure is no longer what is on screen
        return frame

    def _tell_kernel_outcome(self) -> None:
        """The launcher shows "building" when it starts the CUDA kernels' background build; say
        once how it ended (ready, or failed, e.g. its self-check: then the reference ops run)."""
        status = fused.build_status()
        if status.state in ("ready", "failed") and status != self._kernels_told:
            self._kernels_told = status
            self.set_status(str(status), error=status.state == "failed")

    def close(self) -> None:
        """The app is closing: stop watching folders and cancel jobs (the engine is stopped apart)."""
        for feature in self.features:
            feature.close()
        self.files.close()
        handles = list(self.jobs.values())
        for handle in handles:
            handle.cancel()
        # Wait for them to notice: a job thread still inside torch when the interpreter exits
        # aborts the whole process ("terminate called without an active exception").
        deadline = time.monotonic() + JOB_EXIT_WAIT_S
        for handle in handles:
            handle.wait(max(deadline - time.monotonic(), 0.0))

    def animating(self) -> bool:
        """A feature changes the picture by the clock, so the UI must draw every frame."""
        return any(feature.animating() for feature in self.features)

    def is_busy(self) -> bool:
        """True while a render, a load or a job is under way."""
        return self.render_pending() or self.loading is not None or bool(self.jobs)

    def render_pending(self) -> bool:
        """The picture of the current state is still being rendered (not failed, not shown)."""
        return (self.model_info is not None and not self.shows_current_state(self.engine.latest_frame())
                and self.status.failed_state != self.state)

    def shows_current_state(self, frame: Frame | None) -> bool:
        """The final (not preview) frame of the current state is on screen."""
        return (frame is not None and self.model_info is not None and frame.state == self.state
                and frame.model_hash == self.model_info.content_hash and not frame.preview)

    def _model_loaded(self, event: ModelLoaded) -> None:
        first, previous = self.model_info is None, self.model_info
        self.model_info = event.info
        self.model_source = event.source
        remote = remote_source(event.source) if is_url(event.source) else None
        is_file = remote is None and Path(event.source).is_file()
        self.model_label = remote.label if remote else Path(event.source).name if is_file else event.source
        self.model_folder = display_folder(Path(event.source).resolve().parent) if is_file else ""
        self.model_path = str(Path(event.source).resolve()) if is_file else event.source
        self.loading = None
        self.results.clear()
        old_rows = self.row_resolutions
        self._read_layers(event.info)
        for feature in self.features:
            feature.model_loaded(event.info)
        fitted = self.directions.fit_edits(fit_state_to_model(self.state, event.info))
        # Mixing weights are per W+ row; a row that now means another resolution would turn "coarse"
        # into something else without a word: it starts again from A.
        new_rows = self.row_resolutions
        kept = tuple(w if i < min(len(old_rows), len(new_rows)) and old_rows[i] == new_rows[i] else 0.0
                     for i, w in enumerate(fitted.mix_weights))
        remixed = not first and kept != fitted.mix_weights
        fitted = fitted.replace(mix_weights=kept) if remixed else fitted
        if previous is not None and latent_layout(previous) == latent_layout(event.info):
            # Another snapshot of the same network (a run followed as it trains): every step still
            # means the same rows, so Undo keeps going back through what was explored.
            self.history.rewrite(lambda s: self.directions.fit_edits(fit_state_to_model(s, event.info)))
            self.history.commit(fitted)
        else:
            self.history.reset(fitted, "start" if first else f"model {self.model_label}")
        self._submitted = None
        self.set_state(fitted)
        if is_file or remote:
            try:
                self.settings.add_recent(event.source)
            except OSError as e:
                self.set_status(f"could not update the recent list: {e.strerror or e}", error=True)
                return
        kimg = trained_kimg(event.info.extra)
        early = ""
        if kimg is not None and kimg < 1000:
            seen = f"{round(kimg * 1000):,} images" if kimg < 10 else f"{kimg:.0f} thousand images"
            early = f" (trained on {seen}: an early model)"
        reset = "; style-mixing weights of rows that are other resolutions here were reset" if remixed else ""
        self.set_status(f"loaded {self.model_label}{early}{reset}")

    def _read_layers(self, info: ModelInfo) -> None:
        """The W+ rows' nominal resolutions and presets of the model just loaded (see
        explorer/directions/layers.py: StyleGAN3's layer sizes carry a margin that comes off)."""
        model = self.engine.model
        if model is not None and model.info.content_hash == info.content_hash:
            self.row_resolutions, self.layer_presets = row_resolutions(model), layer_presets(model)
        else:
            self.row_resolutions, self.layer_presets = list(info.ws_resolutions), {}

    @property
    def direction_library(self) -> DirectionLibrary:
        """The loaded model's direction sets, which every render uses."""
        return self.directions.library

    # --- files -----------------------------------------------------------------------------------
    def queue_dropped(self, paths: Iterable[str]) -> None:
        """Called from the GLFW drop callback (paths, or URLs dragged from a browser) and for text
        pasted on the window: only records them (see `poll`)."""
        self._dropped.extend(str(p) for p in paths)

    def open_path(self, path: str | Path) -> None:
        """Open whatever `path` holds: a checkpoint, a saved PNG, a W+ .npz, an image to project,
        a URL or catalogue name (downloaded in the background), or say why not."""
        action = classify_dropped_file(path)
        if isinstance(action, OpenRemote):
            self.downloads.open(action.source)
        elif isinstance(action, LoadCheckpoint):
            self.load_model(action.path)
        elif isinstance(action, RestoreState):
            self._restore(action)
        elif isinstance(action, LoadLatent):
            self.use_latent(action.latent, action.path.name)
        elif isinstance(action, ProjectImage):
            self.projection.start(action.path)
        elif isinstance(action, Rejected):
            self.set_status(action.message, error=True)

    def _restore(self, action: RestoreState) -> None:
        """The state saved in one of our PNGs. Edits along a direction set this session has not
        loaded, or along a set that now gives another W+ (recomputed or imported under the same
        name since), come back through the W+ saved beside the PNG (the exact picture), or else
        are left out; the status line says which."""
        state, info = action.state, self.model_info
        if info is not None:
            state = fit_state_to_model(state, info)
        fits = state == action.state
        missing = sorted({e.direction_set for e in state.edits} - set(self.directions.names()))
        npz = action.path.with_suffix(".npz")
        try:
            ws = load_latent_npz(npz)[0]
        except ExplorerError:
            ws = None
        if ws is not None and (info is None or ws.shape != (info.num_ws, info.w_dim)):
            ws = None
        if not missing and state.edits and fits and ws is not None:
            library = self.direction_library  # the mapping runs: on a job thread

            def job(report, cancelled) -> float:
                final = self._final_ws(state, library)[0]
                return float(np.abs(final - ws).max() / max(float(np.abs(ws).max()), 1e-12))
            self._restoring = (action, state, ws, info.content_hash)
            self.track_job(JobKind.RESTORE_CHECK, self.engine.run_job("check the saved edits", job))
            return
        if not missing:
            self.set_state(state)
            if fits:
                self.set_status(f"restored the state saved in {action.path.name}")
            else:
                self.set_status(f"{action.path.name} was saved with another model; restored what fits", error=True)
            return
        sets = ", ".join(missing)
        if fits and ws is not None:
            self._restore_as_saved_ws(state, ws, npz)
            self.set_status(f"restored {action.path.name} as the W+ saved in {npz.name}: its edits need the "
                            f"direction set {sets}, which is not loaded (import it to edit along it again)")
            return
        self.set_state(state.replace(edits=only_sets(state.edits, self.directions.names())))
        self.set_status(f"restored {action.path.name} without its edits along {sets}: that direction set is "
                        f"not loaded and {npz.name} is missing or does not fit (import the set, then open "
                        "the PNG again)", error=True)

    def _restore_checked(self, handle: JobHandle) -> None:
        """The saved PNG's edits, recomputed with today's sets, against the W+ saved beside it."""
        restoring, self._restoring = self._restoring, None
        if handle.status != "done":
            self.report_job_end(handle)
            return
        action, state, ws, model_hash = restoring
        if self.model_info is None or self.model_info.content_hash != model_hash:
            return  # another model came meanwhile: the state was fitted to the old one
        if handle.result <= SAME_W_TOLERANCE:
            self.set_state(state)
            self.set_status(f"restored the state saved in {action.path.name}")
            return
        npz = action.path.with_suffix(".npz")
        sets = ", ".join(sorted({e.direction_set for e in state.edits}))
        self._restore_as_saved_ws(state, ws, npz)
        self.set_status(f"restored {action.path.name} as the W+ saved in {npz.name}: the direction set {sets} "
                        "now gives other directions than when it was saved (recomputed or imported since), "
                        "so its edits would show another picture", error=True)

    def _restore_as_saved_ws(self, state: LatentState, ws: np.ndarray, npz: Path) -> None:
        self.set_state(state.replace(latent=encode_latent(ws), latent_label=npz.name, psi=1.0, cutoff=None,
                                     mix_weights=tuple(0.0 for _ in state.mix_weights), edits=()))

    def choose_file(self, request: DialogRequest, on_chosen: Callable[[str], None]) -> None:
        """Ask the user for a path with a native dialog; the UI keeps running while it is open."""
        self.files.ask(request, on_chosen, lambda problem: self.set_status(problem, error=True))

    def browse_and_open(self) -> None:
        """File > Open... (Ctrl+O): whatever the user picks opens as if it were dropped."""
        self.choose_file(DialogRequest("open", "Open a checkpoint, saved picture or latent",
                                       filters=CHECKPOINT_FILTERS,
                                       typed_instead="drop the file on the window, or type its path into "
                                                     "the Model panel's box"), self.open_path)

    def load_latent_file(self, path: str | Path, as_mix_source: bool = False) -> None:
        """Use the W+ in an .npz (key `w`) as picture A, or as the mixing source B."""
        try:
            latent, _ = load_latent_npz(path)
        except ExplorerError as e:
            self.set_status(str(e), error=True)
            return
        self.use_latent(latent, Path(path).name, as_mix_source)

    def use_latent(self, latent: np.ndarray, label: str, as_mix_source: bool = False) -> None:
        """Show a loaded W+ as it was saved: no further truncation, mixing or edits on top."""
        info = self.model_info
        if info is not None and latent.shape[0] == 1:
            latent = np.repeat(latent, info.num_ws, axis=0)  # a W latent drives every W+ row
        if info is not None and latent.shape != (info.num_ws, info.w_dim):
            self.set_status(f"{label} holds a [{latent.shape[0]}, {latent.shape[1]}] latent but this model "
                            f"needs [{info.num_ws}, {info.w_dim}]", error=True)
            return
        if as_mix_source:
            self.edit(mix_latent=encode_latent(latent), mix_seed=None)
        else:
            self.edit(latent=encode_latent(latent), latent_label=label, psi=1.0, cutoff=None,
                      mix_weights=tuple(0.0 for _ in self.state.mix_weights), edits=())
        self.set_status(f"using the latent from {label}")

    def save_image(self) -> None:
        """Save the picture on screen (PNG with its state + W+ .npz) under a fresh name."""
        frame = self.engine.latest_frame()
        if frame is None or self.model_info is None or frame.model_hash != self.model_info.content_hash:
            self.set_status("nothing to save yet: wait for the picture", error=True)
            return
        folder, state, rgba = Path(self.settings.save_dir), frame.state, frame.rgba
        library = self.direction_library

        def job(report, cancelled) -> SavedImage:
            return save_image(folder, rgba, state, self._final_ws(state, library))
        self.track_job(JobKind.SAVE_IMAGE, self.engine.run_job("save image", job))

    def set_save_dir(self, folder: str) -> None:
        """Where saved images go (remembered in the settings file); a missing folder is made on the
        first save, a file is refused."""
        path = Path(folder).expanduser()
        if path.exists() and not path.is_dir():
            self.set_status(f"{path} is a file, not a folder: the save folder stays {self.settings.save_dir}",
                            error=True)
            return
        self.settings.save_dir = str(path)
        try:
            self.settings.save()
        except OSError as e:
            self.set_status(f"could not remember the save folder: {e.strerror or e}", error=True)
            return
        self.set_status(f"pictures will be saved in {path}" + ("" if path.is_dir() else " (made on the first save)"))

    def save_latent(self, path: str | Path) -> None:
        """Write the current state's final W+ to `path` (.npz, key `w`)."""
        state, library = self.state, self.direction_library

        def job(report, cancelled) -> Path:
            return save_latent(path, self._final_ws(state, library))
        self.track_job(JobKind.SAVE_LATENT, self.engine.run_job("save latent", job))

    def _final_ws(self, state: LatentState, directions: DirectionLookup) -> np.ndarray:
        """Runs on a job thread: the W+ that `state` renders from (direction edits included),
        as float32 [1, num_ws, w_dim]."""
        from explorer.latent.compose import state_ws
        with self.engine.borrow_model() as model:
            return state_ws(model, state, directions).detach().cpu().float().numpy()

    # --- background pictures ---------------------------------------------------------------------
    def start_noise_variance(self, samples: int) -> None:
        self.track_job(JobKind.NOISE_VARIANCE, self.engine.start_noise_variance(self.state, samples))

    def job(self, kind: JobKind) -> JobHandle | None:
        return self.jobs.get(kind)

    def cancel_job(self, kind: JobKind) -> None:
        handle = self.jobs.get(kind)
        if handle is not None:
            handle.cancel()

    def track_job(self, kind: JobKind, handle: JobHandle) -> None:
        """Follow a job until it ends; a newer job of the same kind cancels the older one."""
        old = self.jobs.get(kind)
        if old is not None:
            old.cancel()
        self.jobs[kind] = handle

    def _job_finished(self, handle: JobHandle) -> None:
        kind = next((k for k, h in self.jobs.items() if h is handle), None)
        if kind is None:
            return  # replaced by a newer job of the same kind
        del self.jobs[kind]
        if kind in self._job_handlers:
            self._job_handlers[kind](handle)
        elif handle.status != "done":
            self.report_job_end(handle)
        else:
            self._result_versions += 1
            self.results[kind] = JobResult(self._result_versions, handle.result)
            self.set_status(f"{handle.name} ready")

    def _image_saved(self, handle: JobHandle) -> None:
        if handle.status != "done":
            self.report_job_end(handle)
            return
        saved = self.last_saved = handle.result
        layer = (f" (the view of layer {saved.view_layer}: turn the Layers view off to save the picture itself)"
                 if saved.view_layer else "")
        self.set_status(f"saved {saved.png}{layer}")

    def _latent_saved(self, handle: JobHandle) -> None:
        if handle.status != "done":
            self.report_job_end(handle)
            return
        self.set_status(f"saved {handle.result}")

    def report_job_end(self, handle: JobHandle) -> None:
        """The status line for a job that failed or was cancelled."""
        if handle.status == "failed":
            self.set_status(f"{handle.name} failed: {handle.error}", error=True)
        elif handle.status == "cancelled":
            self.set_status(f"{handle.name} cancelled")

    def set_status(self, text: str, error: bool = False) -> None:
        """Say something in the status line; it also goes into the message log."""
        self.status = Status(text, error, at=time.monotonic())
        self.messages.add(text, error)

    def job_progress(self, kind: JobKind) -> float | None:
        handle = self.jobs.get(kind)
        if handle is None:
            return None
        return handle.progress.fraction if handle.progress is not None else 0.0


def job_handler_table(features: Iterable[Feature],
                      own: dict[JobKind, JobHandler]) -> dict[JobKind, JobHandler]:
    """Who handles the end of each kind of job; a kind claimed twice is a programming error."""
    table = dict(own)
    for feature in features:
        for kind, handler in feature.job_handlers().items():
            if kind in table:
                raise ValueError(f"two handlers for the job kind {kind.value!r}")
            table[kind] = handler
    return table
