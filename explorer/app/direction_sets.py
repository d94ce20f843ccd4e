"""The Directions panel's logic: the loaded model's direction sets, their jobs, and slider edits.

Sets live in a `DirectionLibrary` that the render thread reads; after every add or remove it is
handed to the engine again, which re-renders the picture with it. Computing a set runs as a
background job on the model captured when it starts: inference on an eval-mode model keeps no
state, so the job needs no lock and renders never wait for a minute-long PCA. The preview strip
is short, so it borrows the model like the other picture jobs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from explorer.app.direction_edits import (LayerRange, find_edit, only_sets, with_layers, with_strength,
                                          without_sets)
from explorer.app.host import AppHost, Feature, JobHandler
from explorer.app.job_kinds import JobKind
from explorer.directions import (DirectionCache, DirectionLibrary, DirectionSet, DirectionSpec,
                                 cached_library, direction_job, direction_strip, load_direction_set,
                                 save_direction_set)
from explorer.errors import ExplorerError
from explorer.jobs import JobHandle, Progress
from explorer.latent.state import LatentState
from explorer.model import ModelInfo

STRIP_STRENGTHS = (-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0)
SIGMA_SAMPLES = 10_000  # as the CLI's default, so the app reuses sets the CLI computed


@dataclass(frozen=True)
class StripKey:
    """What a preview strip shows: one direction on some rows, around a state without that edit."""

    set_name: str
    index: int
    layers: LayerRange
    state: LatentState
    model_hash: str


@dataclass(frozen=True)
class Strip:
    key: StripKey
    version: int
    rgba: np.ndarray


class DirectionSets(Feature):
    """The controller's `directions`; the panel draws from it and calls it."""

    def __init__(self, host: AppHost, cache: DirectionCache | None = None) -> None:
        super().__init__(host)
        self.cache = cache or DirectionCache()
        self.library = DirectionLibrary()
        self.current: str | None = None          # the set the panel shows
        self.strip: Strip | None = None
        self._strip_requested: StripKey | None = None
        self._strip_versions = 0

    def job_handlers(self) -> dict[JobKind, JobHandler]:
        return {JobKind.DIRECTIONS: self.computed, JobKind.DIRECTION_STRIP: self.strip_finished}

    # --- the model's sets ------------------------------------------------------------------------
    def model_loaded(self, info: ModelInfo) -> None:
        """Open the sets cached for the new model and give them to the render thread."""
        self.library = cached_library(info.content_hash, self.cache)
        self.host.engine.set_directions(self.library)
        names = self.library.names()
        self.current = names[0] if names else None
        self.strip, self._strip_requested = None, None

    def fit_edits(self, state: LatentState) -> LatentState:
        """Drop edits whose set is not loaded (another model's sets)."""
        edits = only_sets(state.edits, self.library.names())
        return state if edits == state.edits else state.replace(edits=edits)

    def names(self) -> list[str]:
        return self.library.names()

    def current_set(self) -> DirectionSet | None:
        if self.current is None or self.current not in self.library:
            return None
        return self.library.get(self.current)

    def select(self, name: str) -> None:
        if name in self.library:
            self.current = name

    def _add(self, s: DirectionSet) -> str:
        """Add (or replace) a set; a replaced set takes its edits with it, from the state and every
        undo step, since index i of the new set is another direction. Returns a note on that."""
        old = self.library.get(s.name) if s.name in self.library else None
        replaced = old is not None and not np.array_equal(old.vectors, s.vectors)
        self.library.add(s)
        self.host.engine.set_directions(self.library)
        self.current = s.name
        if not replaced:
            return ""
        had_edits = any(e.direction_set == s.name for e in self.host.state.edits)
        self.host.rewrite_history(lambda state: state.replace(edits=without_sets(state.edits, [s.name])))
        return f"; it replaces the old {s.name}" + (", whose edits were reset" if had_edits else "")

    def remove(self, name: str) -> None:
        """Forget a set: out of the library, out of the cache, and its edits out of the state."""
        info = self.host.model_info
        self.library.remove(name)
        self.host.engine.set_directions(self.library)
        if info is not None:
            try:
                self.cache.path(info.content_hash, name).unlink(missing_ok=True)
            except (OSError, ExplorerError) as e:
                self.host.set_status(f"could not delete the cached set {name}: {e}", error=True)
                return
        # Out of every undo step too: an Undo must not bring back an edit nothing can render.
        self.host.rewrite_history(lambda s: s.replace(edits=without_sets(s.edits, [name])))
        if self.current == name:
            names = self.library.names()
            self.current = names[0] if names else None
        self.host.set_status(f"deleted the direction set {name}")

    # --- computing, importing, exporting ---------------------------------------------------------
    def start_compute(self, method: str, samples: int, components: int, name: str = "") -> None:
        """Compute (or reuse from the cache) a set for the loaded model, in the background."""
        model = self.host.engine.model
        if model is None or self.host.model_info is None:
            self.host.set_status("load a model first", error=True)
            return
        try:
            spec = DirectionSpec(method, name=name, samples=int(samples), components=int(components),
                                 sigma_samples=min(SIGMA_SAMPLES, max(int(samples), 2)))
        except ExplorerError as e:
            self.host.set_status(str(e), error=True)
            return
        job = direction_job(model, spec, self.cache)
        self.host.track_job(JobKind.DIRECTIONS, self.host.engine.run_job(job.name, job.run))
        self.host.set_status(f"computing {spec.set_name} directions ...")

    def compute_progress(self) -> Progress | None:
        handle = self.host.job(JobKind.DIRECTIONS)
        if handle is None:
            return None
        return handle.progress or Progress(0, 1, "starting")

    def computed(self, handle: JobHandle) -> None:
        """JobFinished for a compute job (on the UI thread)."""
        if handle.status != "done":
            self.host.report_job_end(handle)
            return
        s: DirectionSet = handle.result
        info = self.host.model_info
        if info is None or s.model_hash != info.content_hash:
            self.host.set_status(f"{s.name} directions were computed for the previous model; "
                                "they are cached for it")
            return
        replaced = self._add(s)
        self.host.set_status(f"{s.count} {s.method} directions ready as {s.name}{replaced}")

    def import_set(self, path: str | Path) -> None:
        """Load an exported .npz for this model and cache it, so it is there next time too."""
        info = self.host.model_info
        if info is None:
            self.host.set_status("load a model first", error=True)
            return
        try:
            s = load_direction_set(Path(path).expanduser())
            if s.w_dim != info.w_dim:
                raise ExplorerError(f"{Path(path).name} has w_dim {s.w_dim}, but this model's is {info.w_dim}")
            if s.model_hash and s.model_hash != info.content_hash:
                raise ExplorerError(f"{Path(path).name} was computed for another model ({s.model_hash})")
            s = s.replace(model_hash=info.content_hash)
            self.cache.store(s)
        except (ExplorerError, OSError) as e:
            self.host.set_status(str(e), error=True)
            return
        replaced = self._add(s)
        self.host.set_status(f"imported {s.count} directions as {s.name}{replaced}")

    def export_set(self, name: str, path: str | Path) -> None:
        """Write the set to a new file; an existing file (the box also names sets to import) is kept."""
        try:
            save_direction_set(self.library.get(name), Path(path).expanduser(), overwrite=False)
        except FileExistsError:
            self.host.set_status(f"{path} already exists and was left as it is: export {name} to a new "
                                 "file name", error=True)
            return
        except (ExplorerError, OSError) as e:
            self.host.set_status(f"could not export {name}: {e}", error=True)
            return
        self.host.set_status(f"exported {name} to {path}")

    # --- sliders ---------------------------------------------------------------------------------
    def strength(self, set_name: str, index: int) -> float:
        edit = find_edit(self.host.state.edits, set_name, index)
        return 0.0 if edit is None else edit.strength

    def edit_layers(self, set_name: str, index: int) -> LayerRange | None:
        edit = find_edit(self.host.state.edits, set_name, index)
        return None if edit is None else (edit.layer_start, edit.layer_end)

    def set_strength(self, set_name: str, index: int, strength: float, layers: LayerRange) -> None:
        self.host.edit(edits=with_strength(self.host.state.edits, set_name, index, strength, layers))

    def set_layers(self, set_name: str, index: int, layers: LayerRange) -> None:
        edits = with_layers(self.host.state.edits, set_name, index, layers)
        if edits != self.host.state.edits:
            self.host.edit(edits=edits)

    def reset_all(self) -> None:
        if self.host.state.edits:
            self.host.edit(edits=())

    # --- preview strip ---------------------------------------------------------------------------
    def request_strip(self, set_name: str, index: int, layers: LayerRange) -> None:
        """Render the strip for this direction unless it is already shown or on its way."""
        info = self.host.model_info
        if info is None or set_name not in self.library:
            return
        base = self.host.state.replace(edits=with_strength(self.host.state.edits, set_name, index, 0.0, layers))
        key = StripKey(set_name, index, layers, base, info.content_hash)
        if key == self._strip_requested:
            return
        self._strip_requested = key
        engine, library = self.host.engine, self.library

        def job(report, cancelled) -> Strip:
            with engine.borrow_model() as model:
                rgba = direction_strip(model, base, library, set_name, index, STRIP_STRENGTHS, layers[0],
                                       layers[1], on_step=lambda s, t: report(Progress(s, t, "strip")))
            return Strip(key, 0, rgba)
        self.host.track_job(JobKind.DIRECTION_STRIP, engine.run_job("direction strip", job))

    def strip_finished(self, handle: JobHandle) -> None:
        if handle.status != "done":
            if handle.status == "failed":
                self.host.report_job_end(handle)
            return
        self._strip_versions += 1
        result: Strip = handle.result
        self.strip = Strip(result.key, self._strip_versions, result.rgba)
