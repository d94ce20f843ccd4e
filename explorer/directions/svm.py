"""InterFaceGAN: an attribute's direction is the normal of a linear SVM separating w's by label.

Conditional editing moves along one attribute while holding others: the primal direction minus
its components along the conditions, renormalised, so edits along it leave the conditioned
attributes' SVM scores unchanged.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from explorer.directions.directionset import DirectionSet
from explorer.directions.labels import LabelledLatents
from explorer.directions.progress import StepCounter
from explorer.directions.sampling import DEFAULT_BATCH, projection_sigmas
from explorer.errors import ExplorerError
from explorer.jobs import Cancelled, Report
from explorer.model import Model

HELD_OUT = 0.2  # share of labelled latents kept back to measure the SVM's accuracy
MIN_PER_CLASS = 2


def binary_labels(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mask of labelled rows, 0/1 labels for them). Two distinct values: the larger is 1;
    more: above the median is 1, so a score column works too."""
    mask = ~np.isnan(values)
    v = values[mask]
    distinct = np.unique(v)
    if len(distinct) == 1:  # one class only: keep 0 as 0 and anything else as 1, and let the fit say
        return mask, (v > 0).astype(np.int64)
    threshold = distinct[0] if len(distinct) == 2 else np.median(v)
    return mask, (v > threshold).astype(np.int64)


def svm_direction(w: np.ndarray, y: np.ndarray, seed: int = 0) -> tuple[np.ndarray, float | None]:
    """(unit normal pointing towards label 1, held-out accuracy or None when too few to hold out)."""
    from sklearn.svm import LinearSVC  # seconds to import: only when fitting

    counts = np.bincount(y, minlength=2)
    if counts.min() < MIN_PER_CLASS:
        raise ExplorerError(f"an attribute needs at least {MIN_PER_CLASS} latents with each label, "
                            f"got {counts[0]} negative and {counts[1]} positive")
    # One scalar scale keeps the geometry of W (a per-axis scale would tilt the normal).
    x = (w - w.mean(0)) / max(float(w.std()), 1e-12)
    order = np.random.default_rng(seed).permutation(len(x))
    held = order[:int(len(x) * HELD_OUT)] if counts.min() >= 10 else order[:0]
    train = np.setdiff1d(order, held)
    if np.bincount(y[train], minlength=2).min() == 0:
        train, held = order, order[:0]
    svm = LinearSVC(C=1.0, class_weight="balanced", max_iter=20_000, random_state=seed)
    svm.fit(x[train], y[train])
    normal = svm.coef_[0].astype(np.float64)
    accuracy = float(svm.score(x[held], y[held])) if len(held) else None
    return normal / np.linalg.norm(normal), accuracy


def project_out(primal: np.ndarray, conditions: Sequence[np.ndarray]) -> np.ndarray:
    """`primal` with its components along every condition removed, renormalised.

    For one condition this is primal - (primal . cond) cond; several are orthonormalised first
    so the result is orthogonal to all of them.
    """
    p = np.asarray(primal, dtype=np.float64)
    if len(conditions):
        basis, _ = np.linalg.qr(np.stack([np.asarray(c, np.float64) for c in conditions], axis=1))
        p = p - basis @ (basis.T @ p)
    norm = np.linalg.norm(p)
    if norm < 1e-6:
        raise ExplorerError("the direction lies in the span of its conditions: nothing is left to edit")
    return p / norm


def fit_attributes(model: Model, data: LabelledLatents, attributes: Sequence[str] | None = None,
                   condition: Sequence[str] = (), sigma_samples: int = 10_000, seed: int = 0,
                   class_idx: int | None = None, batch: int = DEFAULT_BATCH, name: str = "svm",
                   report: Report | None = None, cancelled: Cancelled | None = None) -> DirectionSet:
    """One direction per attribute; those not in `condition` are made orthogonal to the ones that are."""
    attributes = list(attributes or data.labels)
    unknown = [a for a in [*attributes, *condition] if a not in data.labels]
    if unknown:
        raise ExplorerError(f"no labels for {', '.join(unknown)}; the labels have "
                            f"{', '.join(data.labels)}")
    for c in condition:
        if c not in attributes:
            attributes.append(c)
    counter = StepCounter(len(attributes) + sigma_samples, report, cancelled)
    primal: dict[str, np.ndarray] = {}
    accuracy: dict[str, float | None] = {}
    for a in attributes:
        mask, y = binary_labels(data.labels[a])
        try:
            primal[a], accuracy[a] = svm_direction(data.w[mask], y, seed)
        except ExplorerError as e:
            raise ExplorerError(f"attribute {a!r}: {e}") from None
        counter.advance(1, f"SVM for {a}")
    vectors, labels = [], []
    for a in attributes:
        if a in condition or not condition:  # the conditions themselves stay as fitted
            vectors.append(primal[a])
            labels.append(a)
        else:
            vectors.append(project_out(primal[a], [primal[c] for c in condition]))
            labels.append(f"{a} | {', '.join(condition)}")
    vectors_arr = np.stack(vectors).astype(np.float32)
    sigmas, _ = projection_sigmas(model, vectors_arr, sigma_samples, seed, counter, class_idx, batch)
    return DirectionSet(
        name=name, method="svm", vectors=vectors_arr, sigmas=sigmas, labels=tuple(labels),
        metadata={"attributes": attributes, "condition": list(condition), "accuracy": accuracy,
                  "labelled": {a: int((~np.isnan(data.labels[a])).sum()) for a in attributes},
                  "label_source": data.source, "label_metadata": data.metadata,
                  "sigma_samples": int(sigma_samples), "seed": int(seed),
                  "class_idx": class_idx},
        model_hash=model.info.content_hash)
