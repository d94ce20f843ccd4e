"""Run the checks: on a model, or on a run folder (its history, then its newest snapshot).

One `StepCounter` spans every check, so a job shows one progress bar and a cancel stops the
check under way at its next batch. Seeds are 0..N-1, drawn as everywhere else, so a finding's
seed opens the same picture in the app.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from explorer.diagnose import diversity, droplets, noise, sticking, training, w_space
from explorer.diagnose.findings import CHECKS, Finding
from explorer.directions.progress import StepCounter
from explorer.jobs import Cancelled, Report
from explorer.errors import InputError
from explorer.model import Model

DEFAULT_SEEDS = 32
MODEL_CHECKS: dict[str, tuple[ModuleType, str]] = {
    "droplets": (droplets, "check_droplets"), "sticking": (sticking, "check_sticking"),
    "noise": (noise, "check_noise"), "w_space": (w_space, "check_w_space"),
    "diversity": (diversity, "check_diversity")}


@dataclass(frozen=True)
class Diagnosis:
    """Everything one run of the doctor found, worst first within the checks' order."""

    source: str
    findings: tuple[Finding, ...]
    seconds: float
    model_hash: str | None = None
    snapshot: str | None = None    # the snapshot a run folder's model checks used

    def by_check(self, check: str) -> list[Finding]:
        return [f for f in self.findings if f.check == check]


def parse_checks(text: str | None) -> tuple[str, ...]:
    """'droplets,noise' -> ('droplets', 'noise'); None or 'all' -> every check."""
    if text is None or text.strip() in ("", "all"):
        return CHECKS
    names = tuple(dict.fromkeys(t.strip() for t in text.split(",") if t.strip()))
    unknown = [n for n in names if n not in CHECKS]
    if unknown:
        raise InputError(f"unknown check {unknown[0]!r}: choose from {', '.join(CHECKS)}")
    return names


def model_steps(model: Model, seeds: list[int], checks: tuple[str, ...]) -> int:
    return sum(MODEL_CHECKS[c][0].steps(model, seeds) for c in checks if c in MODEL_CHECKS)


def diagnose_model(model: Model, seeds: int = DEFAULT_SEEDS, checks: tuple[str, ...] = CHECKS,
                   report: Report | None = None, cancelled: Cancelled | None = None,
                   counter: StepCounter | None = None) -> list[Finding]:
    """The model checks among `checks`, in order, on seeds 0..seeds-1."""
    if seeds < 1:
        raise InputError(f"the doctor needs at least one seed, not {seeds}")
    seed_list = list(range(int(seeds)))
    counter = counter or StepCounter(model_steps(model, seed_list, checks), report, cancelled)
    found = []
    for name in checks:
        if name in MODEL_CHECKS:
            module, function = MODEL_CHECKS[name]
            found.append(getattr(module, function)(model, seed_list, counter))
    return found


def diagnose(source: str | Path | Model, seeds: int = DEFAULT_SEEDS, checks: tuple[str, ...] = CHECKS,
             device: str = "auto", report: Report | None = None,
             cancelled: Cancelled | None = None) -> Diagnosis:
    """Diagnose a checkpoint (file, URL, published name), a loaded `Model`, or a run folder."""
    import explorer
    from explorer.devices import resolve_device
    start = time.monotonic()
    if isinstance(source, Model):
        found = diagnose_model(source, seeds, checks, report, cancelled)
        return Diagnosis(source.info.source or "model", tuple(found), time.monotonic() - start,
                         source.info.content_hash)
    path = Path(str(source)).expanduser()
    if path.is_dir() and not training.is_run_folder(path):
        raise InputError(f"{path} is a folder but not a training run (no metrics.jsonl or snapshots/)")
    if not path.is_dir():
        if not any(c in MODEL_CHECKS for c in checks):
            raise InputError(f"the {', '.join(checks)} check reads a training run folder "
                             f"(metrics.jsonl, snapshots/), and {path.name} is a model file")
        model = explorer.load(str(source), device=resolve_device(device))
        found = diagnose_model(model, seeds, checks, report, cancelled)
        return Diagnosis(str(source), tuple(found), time.monotonic() - start, model.info.content_hash)
    from explorer.train.run_folder import RunFolder
    snapshot = RunFolder(path).newest_snapshot()
    model = None
    if snapshot is not None and any(c in MODEL_CHECKS for c in checks):
        model = explorer.load(snapshot, device=resolve_device(device))
    seed_list = list(range(int(seeds)))
    total = (training.steps(path) if "training" in checks else 0) + \
        (model_steps(model, seed_list, checks) if model is not None else 0)
    counter = StepCounter(total, report, cancelled)
    found = [training.check_training(path, counter)] if "training" in checks else []
    if model is not None:
        found += diagnose_model(model, seeds, checks, counter=counter)
    return Diagnosis(str(path), tuple(found), time.monotonic() - start,
                     None if model is None else model.info.content_hash,
                     None if snapshot is None else snapshot.name)
