"""One entry point for every method: a `DirectionSpec` says what to compute, `cached_direction_set`
computes it or reuses the cached result, and `direction_job` wraps that as a background job.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from explorer.directions.cache import DirectionCache, check_set_name
from explorer.directions.directionset import METHODS, DirectionSet
from explorer.directions.labels import LabelledLatents
from explorer.directions.library import DirectionLibrary
from explorer.errors import ExplorerError, InputError
from explorer.jobs import Cancelled, Job, Report
from explorer.model import Model


@dataclass(frozen=True)
class DirectionSpec:
    """What to compute.

    `components` is k (clusters for k-means). `layers` = (start, end) W+ rows: the rows SeFa
    factorises, and for every method the rows its edits touch by default. `labels` is a label CSV
    or a dataset folder / manifest.json (then `attributes` names what to learn from it);
    `condition` lists attributes the other directions are made orthogonal to.
    """

    method: str
    name: str = ""
    samples: int = 100_000
    components: int = 64
    sigma_samples: int = 10_000
    seed: int = 0
    class_idx: int | None = None
    layers: tuple[int, int | None] = (0, None)
    labels: str = ""
    attributes: tuple[str, ...] = ()
    condition: tuple[str, ...] = ()
    labelled_seeds: int = 2000

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ExplorerError(f"unknown direction method {self.method!r}: use {', '.join(METHODS)}")
        if self.method == "svm" and not self.labels:
            raise ExplorerError("attribute directions (svm) need labels: a CSV or a dataset manifest")
        check_set_name(self.set_name)

    @property
    def set_name(self) -> str:
        return self.name or self.method

    def params(self) -> dict[str, Any]:
        """What the result depends on (the cache compares these); the name is the cache key itself."""
        d = dataclasses.asdict(self)
        del d["name"]
        if self.method != "svm":
            for key in ("labels", "attributes", "condition", "labelled_seeds"):
                del d[key]
        else:
            d["labels_digest"] = label_file_digest(self.labels)  # edited labels mean new directions
        return d


def label_file_digest(labels: str) -> str:
    path = Path(labels)
    path = path / "manifest.json" if path.is_dir() else path
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    except OSError as e:
        raise ExplorerError(f"could not read labels {path}: {e.strerror or e}") from e


def compute_direction_set(model: Model, spec: DirectionSpec, report: Report | None = None,
                          cancelled: Cancelled | None = None) -> DirectionSet:
    """Run the method `spec` names (no cache)."""
    return run_method(model, spec, report, cancelled).replace(layer_range=spec.layers)


def run_method(model: Model, spec: DirectionSpec, report: Report | None,
               cancelled: Cancelled | None) -> DirectionSet:
    common = dict(sigma_samples=spec.sigma_samples, seed=spec.seed, class_idx=spec.class_idx,
                  name=spec.set_name, report=report, cancelled=cancelled)
    if spec.method == "pca":
        from explorer.directions.pca import fit_pca
        return fit_pca(model, components=spec.components, samples=spec.samples, **common)
    if spec.method == "sefa":
        from explorer.directions.sefa import fit_sefa
        start, end = spec.layers
        return fit_sefa(model, components=spec.components, layer_start=start, layer_end=end, **common)
    if spec.method == "kmeans":
        from explorer.directions.kmeans import fit_kmeans
        return fit_kmeans(model, clusters=spec.components, samples=spec.samples, **common)
    from explorer.directions.svm import fit_attributes
    return fit_attributes(model, labelled_latents(model, spec, report, cancelled),
                          attributes=spec.attributes or None, condition=spec.condition, **common)


def labelled_latents(model: Model, spec: DirectionSpec, report: Report | None,
                     cancelled: Cancelled | None) -> LabelledLatents:
    """A .csv is read as a label file; anything else as a dataset folder or manifest.json."""
    if spec.labels.lower().endswith(".csv"):
        from explorer.directions.labels import read_label_csv
        return read_label_csv(model, spec.labels, spec.class_idx)
    from explorer.directions.manifest import manifest_labels
    if not spec.attributes:
        raise ExplorerError("with a dataset manifest, name the attributes to learn "
                            "(e.g. --attribute glasses)")
    return manifest_labels(model, spec.labels, spec.attributes, count=spec.labelled_seeds,
                           seed=spec.seed, class_idx=spec.class_idx, report=report, cancelled=cancelled)


def check_spec_fits(model: Model, spec: DirectionSpec) -> None:
    """Limits that depend on the model, checked before any sampling starts."""
    k = spec.components
    if k < 1 or spec.samples < 1 or spec.sigma_samples < 2 or spec.labelled_seeds < 1:
        raise InputError("components, samples and labelled seeds must be at least 1, sigma samples at least 2")
    if spec.method in ("pca", "sefa") and k > model.w_dim:
        raise InputError(f"{k} components are too many: {spec.method} gives at most {model.w_dim} "
                         f"directions (the model's w_dim)")
    if spec.method in ("pca", "kmeans") and k > spec.samples:
        raise InputError(f"{k} components are more than the {spec.samples} samples they are fitted on")
    model.class_vector(spec.class_idx)  # a class for an unconditional model, or out of range


def cached_direction_set(model: Model, spec: DirectionSpec, cache: DirectionCache | None = None,
                         report: Report | None = None, cancelled: Cancelled | None = None) -> DirectionSet:
    """The cached set for this model and spec if there is one, else computed and cached."""
    check_spec_fits(model, spec)
    cache = cache or DirectionCache()
    return cache.get_or_compute(model.info.content_hash, spec.set_name, spec.params(),
                                lambda: compute_direction_set(model, spec, report, cancelled))


def direction_job(model: Model, spec: DirectionSpec, cache: DirectionCache | None = None,
                  library: DirectionLibrary | None = None) -> Job:
    """A background job that yields the set (cached or computed) and adds it to `library` if given."""
    def run(report: Report, cancelled: Cancelled) -> DirectionSet:
        s = cached_direction_set(model, spec, cache, report, cancelled)
        if library is not None:
            library.add(s)
        return s

    return Job(f"directions:{spec.set_name}", run)
