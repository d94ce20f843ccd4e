"""The Doctor panel's logic: diagnose the loaded model in the background, then point at findings.

The job copies the model while it holds the model lock (a moment), then runs every model check
on the copy without the lock, so the picture keeps rendering for the minutes a diagnosis takes.
Choosing a finding shows its layer for its seed in the main view (the Layers view) and keeps its
position as a marker for the image window to draw.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from explorer.app.host import AppHost, Feature, JobHandler
from explorer.app.job_kinds import JobKind
from explorer.diagnose import Diagnosis, diagnose
from explorer.diagnose.diversity import MIN_SEEDS as DIVERSITY_MIN_SEEDS
from explorer.diagnose.doctor import MODEL_CHECKS
from explorer.diagnose.noise import NOISE_SEEDS
from explorer.diagnose.sticking import WALK_SEEDS
from explorer.jobs import JobHandle
from explorer.model import ModelInfo

DEFAULT_APP_SEEDS = 16
MIN_APP_SEEDS = max(NOISE_SEEDS, WALK_SEEDS)  # the seeds noise and sticking use; fewer judge them on less
MAX_APP_SEEDS = 512


@dataclass(frozen=True)
class Marker:
    """Where a finding points: a (y, x) fraction of `layer`'s map."""

    layer: str | None
    position: tuple[float, float]


class Doctor(Feature):
    """The controller's `doctor`."""

    def __init__(self, host: AppHost) -> None:
        super().__init__(host)
        self.seeds = DEFAULT_APP_SEEDS
        self.diagnosis: Diagnosis | None = None
        self.selected: int | None = None
        self.marker: Marker | None = None
        self.serial = 0     # changes with every new diagnosis (for picture uploads)

    def job_handlers(self) -> dict[JobKind, JobHandler]:
        return {JobKind.DOCTOR: self.finished}

    def model_loaded(self, info: ModelInfo) -> None:
        """A diagnosis (finished or under way) is about the model that was loaded before: it goes,
        with its selection and marker, rather than pointing at another model's layers."""
        if self.diagnosis is not None and self.diagnosis.model_hash != info.content_hash:
            self.diagnosis, self.selected, self.marker = None, None, None
        self.cancel()

    @property
    def busy(self) -> bool:
        return self.host.job(JobKind.DOCTOR) is not None

    def set_seeds(self, seeds: int) -> None:
        """The seed count the next diagnosis uses, kept within the panel's range."""
        self.seeds = min(max(int(seeds), MIN_APP_SEEDS), MAX_APP_SEEDS)

    @property
    def unjudged(self) -> str | None:
        """What the chosen seed count cannot judge (the panel says so under the control), or None.

        Diversity gives no verdict below its minimum (`diagnose.diversity.MIN_SEEDS`), as in the CLI."""
        if self.seeds < DIVERSITY_MIN_SEEDS:
            return (f"diversity (mode collapse) is judged from {DIVERSITY_MIN_SEEDS} seeds up; "
                    f"with {self.seeds} it is not measured")
        return None

    def start(self) -> None:
        """Diagnose the loaded model on seeds 0..seeds-1 (replacing a diagnosis under way)."""
        info = self.host.model_info
        if info is None:
            self.host.set_status("load a model before asking the doctor", error=True)
            return
        engine, seeds = self.host.engine, max(int(self.seeds), 1)

        def job(report, cancelled) -> Diagnosis:
            with engine.borrow_model() as model:
                own = copy.deepcopy(model)
            return diagnose(own, seeds=seeds, checks=tuple(MODEL_CHECKS), report=report, cancelled=cancelled)
        self.host.track_job(JobKind.DOCTOR, engine.run_job("artifact doctor", job))
        self.host.set_status(f"the doctor is examining {self.host.model_label} on {seeds} seeds ...")

    def cancel(self) -> None:
        self.host.cancel_job(JobKind.DOCTOR)

    def finished(self, handle: JobHandle) -> None:
        """JobFinished (UI thread)."""
        if handle.status != "done":
            self.host.report_job_end(handle)
            return
        info = self.host.model_info
        if info is None or handle.result.model_hash != info.content_hash:
            self.host.set_status("the doctor's diagnosis was of the previous model: run it again on this one")
            return
        self.diagnosis, self.selected, self.marker = handle.result, None, None
        self.serial += 1
        found = self.diagnosis.findings
        warn, note, skip = (sum(f.severity == s for f in found) for s in ("warn", "note", "skip"))
        skipped = f", {skip} check(s) not judged" if skip else ""
        self.host.set_status(f"doctor: {warn} warning(s), {note} note(s){skipped} in {self.diagnosis.seconds:.0f} s")

    def select(self, index: int) -> None:
        """Show finding `index`: its layer (if the model has it) for its seed, marker at its position."""
        if self.diagnosis is None or not 0 <= index < len(self.diagnosis.findings):
            return
        self.selected = index
        f = self.diagnosis.findings[index]
        info = self.host.model_info
        if info is None or info.content_hash != self.diagnosis.model_hash:
            self.host.set_status("this diagnosis was made for another model; run the doctor again", error=True)
            return
        layers = {name for names in info.layer_names.values() for name in names}
        changes: dict = {"view_layer": f.layer if f.layer in layers else None, "view_reduce": "norm"}
        if f.seed is not None:
            changes.update(seed=f.seed, latent=None, latent_label="")
        self.host.edit(**changes)
        shown = [f"seed {f.seed}"] if f.seed is not None else []
        if changes["view_layer"] is not None:
            shown.append(f"layer {changes['view_layer']}")
        if shown:  # the picture A the user had is replaced: say so, and how to get it back
            self.host.set_status(f"the {f.check} finding: showing {', '.join(shown)} (Undo goes back)")
        else:  # no layer or seed of its own: the picture itself (a previous finding's layer goes)
            self.host.set_status(f"the {f.check} finding: it is about the model as a whole; showing the picture")
        self.marker = None if f.position is None else Marker(changes["view_layer"], f.position)
