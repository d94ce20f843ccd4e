"""Does a model draw its dataset's attributes as often as the dataset has them?

Fréchet distances in ImageNet features can be flattered (e.g. by a discriminator built on the
same features) and say nothing about *which* attributes are missing. For a dataset with
per-image labels (the avatars' manifest.json) this check trains one small classifier per
attribute on held-in real images, then compares how often each class is *predicted* on held-out
real images and on generated ones. Comparing predictions with predictions cancels most of the
classifier's own bias; its held-out accuracy says how far to trust the numbers. The gap is the
total-variation distance between the two class frequencies (0 = identical, 1 = disjoint).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np

from explorer.directions.manifest import dataset_features, image_features, read_manifest
from explorer.errors import ExplorerError


def _present(value: Any) -> str:
    return "no" if value in (None, False, 0, "", "none") else "yes"


def _mouth_mood(value: Any) -> str:
    return re.sub(r"\d+$", "", str(value))  # "happy06" -> "happy"


# Attribute -> how an image's manifest value becomes its class. Colours are exact values.
AVATAR_ATTRIBUTES: dict[str, Callable[[Any], str]] = {
    "glasses": _present, "beard": _present, "earrings": _present, "freckles": _present,
    "hair_accessories": _present, "mouth": _mouth_mood,
    "hair_color": str, "skin_color": str, "background_color": str,
}
HELD_OUT = 0.25


@dataclass(frozen=True)
class AttributeResult:
    name: str
    accuracy: float                  # classifier, held-out real images
    real: dict[str, float]           # predicted class frequency on held-out real images
    generated: dict[str, float]      # predicted class frequency on generated images
    tv_distance: float

    def worst_class(self) -> str:
        return max(self.real, key=lambda k: abs(self.real[k] - self.generated.get(k, 0.0)))


def _frequencies(predicted: np.ndarray, classes: list[str]) -> dict[str, float]:
    counts = np.array([(predicted == c).sum() for c in classes], dtype=np.float64)
    return {c: float(n / max(len(predicted), 1)) for c, n in zip(classes, counts)}


def attribute_check(dataset: str | Path, generated: Iterable[np.ndarray], max_real: int = 4000,
                    attributes: dict[str, Callable[[Any], str]] | None = None,
                    seed: int = 0) -> list[AttributeResult]:
    """One result per attribute; `generated` yields uint8 [H, W, C] images."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    attributes = attributes or AVATAR_ATTRIBUTES
    folder, entries = read_manifest(dataset)
    rng = np.random.default_rng(seed)
    entries = [entries[i] for i in sorted(rng.permutation(len(entries))[:max_real])]
    real_x = dataset_features(folder, entries)
    fake_x = image_features(list(generated))
    if len(fake_x) == 0:
        raise ExplorerError("the attribute check needs generated images")
    order = rng.permutation(len(entries))
    held, fit = order[:int(len(entries) * HELD_OUT)], order[int(len(entries) * HELD_OUT):]
    results = []
    for name, to_class in attributes.items():
        if not all(name in e for e in entries):
            continue
        y = np.array([to_class(e[name]) for e in entries])
        classes = sorted(set(y.tolist()))
        if len(classes) < 2:
            continue
        clf = make_pipeline(StandardScaler(), LogisticRegression(C=0.05, max_iter=2000))
        clf.fit(real_x[fit], y[fit])
        accuracy = float(clf.score(real_x[held], y[held]))
        real = _frequencies(clf.predict(real_x[held]), classes)
        fake = _frequencies(clf.predict(fake_x), classes)
        tv = 0.5 * sum(abs(real[c] - fake[c]) for c in classes)
        results.append(AttributeResult(name, accuracy, real, fake, float(tv)))
    if not results:
        raise ExplorerError(f"{dataset}: no image attributes with two or more values to check")
    return results
