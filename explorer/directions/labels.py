"""Labelled latents for attribute directions: w's paired with one or more attribute values.

A label CSV has a header. Each row names its latent by `seed` (mapped exactly as the app maps
seeds) or by `latent`, a projected-latent .npz (relative paths are read from the CSV's folder);
an `image` column may say which picture the row is about and is otherwise ignored. Every other
column is an attribute: numbers, or true/false/yes/no; an empty cell means "not labelled".
"""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass, field
from typing import Any
from pathlib import Path

import numpy as np
import torch

from explorer.errors import ExplorerError
from explorer.model import Model

SOURCE_COLUMNS = ("seed", "latent")
IGNORED_COLUMNS = ("image",)
WORDS = {"true": 1.0, "yes": 1.0, "false": 0.0, "no": 0.0}


@dataclass(frozen=True)
class LabelledLatents:
    """w [n, w_dim] and, per attribute, a value per row ([n] float32, NaN = unlabelled).

    `metadata` says how the labels were made (e.g. a classifier's accuracy); it travels into the
    direction set so a user can judge the directions by their labels.
    """

    w: np.ndarray
    labels: dict[str, np.ndarray]
    source: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)


@torch.no_grad()
def seeds_to_w(model: Model, seeds: list[int], class_idx: int | None = None, batch: int = 512) -> np.ndarray:
    """w [n, w_dim] of seeds, with `model.z_from_seed` as everywhere else in the program."""
    out = []
    for start in range(0, len(seeds), batch):
        chunk = seeds[start:start + batch]
        z = torch.cat([model.z_from_seed(s) for s in chunk])
        out.append(model.map(z, model.class_vector(class_idx, len(chunk)))[:, 0].float().cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, model.w_dim), np.float32)


def latent_file_w(model: Model, path: Path) -> np.ndarray:
    """A projected latent as one w: W+ rows are averaged (attribute directions live in W)."""
    from explorer.latent.npz import load_latent_npz
    w, _ = load_latent_npz(path)
    if w.shape[-1] != model.w_dim:
        raise ExplorerError(f"{path} has w_dim {w.shape[-1]}, but this model's is {model.w_dim}")
    return w.mean(0)


def parse_value(text: str, where: str) -> float:
    text = text.strip()
    if not text:
        return math.nan
    if text.lower() in WORDS:
        return WORDS[text.lower()]
    try:
        return float(text)
    except ValueError:
        raise ExplorerError(f"{where}: label {text!r} is not a number or true/false") from None


def read_label_csv(model: Model, path: str | os.PathLike[str],
                   class_idx: int | None = None) -> LabelledLatents:
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = [{k.strip(): (v or "").strip() for k, v in row.items() if k is not None}
                    for row in csv.DictReader(f)]
    except OSError as e:
        raise ExplorerError(f"could not read label file {path}: {e.strerror or e}") from e
    if not rows:
        raise ExplorerError(f"{path} has no labelled rows (it needs a header and one row per latent)")
    columns = list(rows[0])
    if not any(c in columns for c in SOURCE_COLUMNS):
        raise ExplorerError(f"{path} needs a 'seed' or 'latent' column naming each row's latent")
    attributes = [c for c in columns if c not in SOURCE_COLUMNS + IGNORED_COLUMNS]
    if not attributes:
        raise ExplorerError(f"{path} has no attribute column besides {', '.join(SOURCE_COLUMNS)}")
    seeds: dict[int, int] = {}
    files: dict[int, Path] = {}
    for i, row in enumerate(rows):
        where = f"{path.name} row {i + 2}"
        if row.get("latent"):
            files[i] = path.parent / row["latent"]
        elif row.get("seed"):
            try:
                seeds[i] = int(row["seed"])
            except ValueError:
                raise ExplorerError(f"{where}: seed {row['seed']!r} is not an integer") from None
        else:
            raise ExplorerError(f"{where} names no latent: fill in its seed or latent column")
    w = np.zeros((len(rows), model.w_dim), np.float32)
    if seeds:
        w[list(seeds)] = seeds_to_w(model, list(seeds.values()), class_idx)
    for i, file in files.items():
        w[i] = latent_file_w(model, file)
    labels = {a: np.array([parse_value(r.get(a, ""), f"{path.name} row {i + 2}")
                           for i, r in enumerate(rows)], np.float32) for a in attributes}
    return LabelledLatents(w=w, labels=labels, source=str(path))
