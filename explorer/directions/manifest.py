"""Labels for generated latents from a labelled dataset (e.g. the avatars' manifest.json).

The manifest labels the training images, not latents. As in InterFaceGAN, a classifier learns the
attributes from those images and then labels images the model draws from seeds; only confident
predictions are kept. The classifier is deliberately small (logistic regression on 32x32 pixels):
enough for the bold attributes of a synthetic dataset, and it reports its own held-out accuracy.

Attribute specs: `glasses` = the attribute is present (not null/false/0/empty);
`hair_color=000000` = it has exactly that value.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from PIL import Image

from explorer.directions.labels import LabelledLatents, seeds_to_w
from explorer.directions.progress import StepCounter
from explorer.errors import ExplorerError
from explorer.jobs import Cancelled, Report
from explorer.model import Model, to_uint8

FEATURE_SIZE = 32
CONFIDENCE = 0.8  # keep generated samples the classifier scores below 0.2 or above 0.8
HELD_OUT = 0.2
RENDER_BATCH = 16


def read_manifest(dataset: str | os.PathLike[str]) -> tuple[Path, list[dict[str, Any]]]:
    """(image folder, one dict per image with its 'file' and attributes) from manifest.json."""
    path = Path(dataset)
    path = path / "manifest.json" if path.is_dir() else path
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))["images"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ExplorerError(f"could not read image attributes from {path} (expected a manifest.json "
                            f"with an 'images' list, as `stylegan-explorer dataset avatars` writes)") from e
    if not entries or not all(isinstance(e, dict) and "file" in e for e in entries):
        raise ExplorerError(f"{path} lists no images with a 'file' and attributes")
    return path.parent, entries


def attribute_value(entry: dict[str, Any], spec: str) -> float:
    """1.0 or 0.0 for one image and one spec; NaN when the image does not say."""
    name, _, wanted = spec.partition("=")
    if name not in entry:
        return float("nan")
    value = entry[name]
    if wanted:
        return float(str(value) == wanted)
    return float(value not in (None, False, 0, "", "none"))


def image_features(images: Sequence[np.ndarray] | np.ndarray) -> np.ndarray:
    """uint8 images [H, W, C] -> float32 [N, 32*32*3]: the same reduction for dataset and generated images."""
    out = []
    for img in images:
        pil = Image.fromarray(img[..., :3] if img.shape[-1] >= 3 else img[..., 0]).convert("RGB")
        out.append(np.asarray(pil.resize((FEATURE_SIZE, FEATURE_SIZE), Image.BOX), np.float32).ravel() / 255)
    return np.stack(out)


def dataset_features(folder: Path, entries: list[dict[str, Any]]) -> np.ndarray:
    images = []
    for e in entries:
        try:
            with Image.open(folder / e["file"]) as img:
                images.append(np.asarray(img.convert("RGB")))
        except OSError as err:
            raise ExplorerError(f"could not read dataset image {folder / e['file']}: {err}") from err
    return image_features(images)


def fit_classifier(x: np.ndarray, y: np.ndarray, seed: int) -> tuple[Any, float]:
    """(fitted classifier, held-out accuracy)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    order = np.random.default_rng(seed).permutation(len(x))
    held, train = order[:int(len(x) * HELD_OUT)], order[int(len(x) * HELD_OUT):]
    clf = make_pipeline(StandardScaler(), LogisticRegression(C=0.05, max_iter=2000))
    clf.fit(x[train], y[train])
    accuracy = float(clf.score(x[held], y[held])) if len(held) else float("nan")
    return clf, accuracy


@torch.no_grad()
def manifest_labels(model: Model, dataset: str | os.PathLike[str], attributes: Sequence[str],
                    count: int = 2000, first_seed: int = 0, max_images: int = 4000, seed: int = 0,
                    class_idx: int | None = None, report: Report | None = None,
                    cancelled: Cancelled | None = None) -> LabelledLatents:
    """Label `count` seeds (first_seed, first_seed + 1, ...) with classifiers trained on the dataset."""
    if not attributes:
        raise ExplorerError("name at least one attribute of the dataset, e.g. glasses")
    folder, entries = read_manifest(dataset)
    if len(entries) > max_images:
        entries = [entries[i] for i in np.linspace(0, len(entries) - 1, max_images).astype(int)]
    counter = StepCounter(len(entries) + len(attributes) + count, report, cancelled)
    x = dataset_features(folder, entries)
    counter.advance(len(entries), "reading dataset images")
    classifiers = {}
    accuracy = {}
    for spec in attributes:
        values = np.array([attribute_value(e, spec) for e in entries])
        known = ~np.isnan(values)
        y = values[known].astype(np.int64)
        if np.bincount(y, minlength=2).min() < 5:
            raise ExplorerError(f"attribute {spec!r}: the dataset needs at least 5 images with and "
                                "5 without it")
        classifiers[spec], accuracy[spec] = fit_classifier(x[known], y, seed)
        counter.advance(1, f"classifier for {spec}")
    seeds = list(range(first_seed, first_seed + count))
    w = seeds_to_w(model, seeds, class_idx)
    probs: dict[str, list[np.ndarray]] = {spec: [] for spec in attributes}
    for start in range(0, count, RENDER_BATCH):
        chunk = torch.from_numpy(w[start:start + RENDER_BATCH]).to(model.device)
        ws = chunk[:, None].repeat(1, model.num_ws, 1)
        feats = image_features(to_uint8(model.synthesize(ws)))
        for spec, clf in classifiers.items():
            probs[spec].append(clf.predict_proba(feats)[:, 1])
        counter.advance(len(ws), "labelling generated images")
    labels = {}
    for spec in attributes:
        p = np.concatenate(probs[spec])
        sure = np.where(p >= CONFIDENCE, 1.0, np.where(p <= 1 - CONFIDENCE, 0.0, np.nan))
        labels[spec] = sure.astype(np.float32)
    return LabelledLatents(
        w=w, labels=labels, source=str(folder),
        metadata={"classifier_accuracy": accuracy, "seeds": [first_seed, first_seed + count],
                  "confidence": CONFIDENCE, "dataset_images": len(entries)})
