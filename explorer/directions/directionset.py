"""`DirectionSet`: named unit directions in W with their spread, and their .npz file format.

A set is plain data (numpy arrays + JSON-able fields) so it can be cached, exported, shared and
loaded without the model that produced it; `model_hash` says which model it belongs to.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import zipfile
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from explorer.errors import ExplorerError
from explorer.fileio import atomic_write_bytes

FILE_FORMAT = "stylegan-explorer/directions"
FILE_VERSION = 1
METHODS = ("pca", "sefa", "kmeans", "svm")


def _frozen_array(a: Any, ndim: int, what: str) -> np.ndarray:
    """A read-only float32 copy, so a set shared between threads can never change under a reader."""
    arr = np.array(a, dtype=np.float32, copy=True)
    if arr.ndim != ndim:
        raise ValueError(f"{what} must have {ndim} dimension(s), got shape {arr.shape}")
    arr.flags.writeable = False
    return arr


@dataclass(frozen=True, eq=False)
class DirectionSet:
    """k unit directions [k, w_dim] in W, each with the std (sigma) of sampled w along it.

    Edits move by `strength * sigma`, so one unit of strength means the same for every direction.
    `explained_variance` is the share of variance each direction explains (PCA: of W; SeFa: of
    the eigenvalue sum of the style weights). `centres` holds k-means centres (absolute points in
    W) for sets of method "kmeans"; their `vectors` point from the samples' mean towards them.
    `layer_range` is the W+ row range [start, end) edits use unless told otherwise.
    """

    name: str
    method: str
    vectors: np.ndarray
    sigmas: np.ndarray
    explained_variance: np.ndarray | None = None
    layer_range: tuple[int, int | None] = (0, None)
    labels: tuple[str, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)
    model_hash: str = ""
    centres: np.ndarray | None = None

    def __post_init__(self) -> None:
        vectors = _frozen_array(self.vectors, 2, "vectors")
        sigmas = _frozen_array(self.sigmas, 1, "sigmas")
        k = vectors.shape[0]
        if sigmas.shape[0] != k:
            raise ValueError(f"{k} vectors but {sigmas.shape[0]} sigmas")
        norms = np.linalg.norm(vectors, axis=1)
        if k and not np.allclose(norms, 1.0, atol=1e-4):
            raise ValueError("direction vectors must have unit length")
        set_ = object.__setattr__
        set_(self, "vectors", vectors)
        set_(self, "sigmas", sigmas)
        if self.explained_variance is not None:
            ev = _frozen_array(self.explained_variance, 1, "explained_variance")
            if ev.shape[0] != k:
                raise ValueError(f"{k} vectors but {ev.shape[0]} explained variances")
            set_(self, "explained_variance", ev)
        if self.centres is not None:
            centres = _frozen_array(self.centres, 2, "centres")
            if centres.shape != vectors.shape:
                raise ValueError(f"centres {centres.shape} must match vectors {vectors.shape}")
            set_(self, "centres", centres)
        labels = tuple(str(v) for v in self.labels) or tuple(f"{self.method} {i}" for i in range(k))
        if len(labels) != k:
            raise ValueError(f"{k} vectors but {len(labels)} labels")
        set_(self, "labels", labels)
        start, end = self.layer_range
        set_(self, "layer_range", (int(start), None if end is None else int(end)))
        set_(self, "metadata", json.loads(json.dumps(self.metadata)))  # JSON-able, and our own copy

    @property
    def count(self) -> int:
        return int(self.vectors.shape[0])

    @property
    def w_dim(self) -> int:
        return int(self.vectors.shape[1])

    def replace(self, **changes: Any) -> "DirectionSet":
        return dataclasses.replace(self, **changes)


def direction_set_bytes(s: DirectionSet) -> bytes:
    """The .npz encoding: arrays as arrays, everything else as one JSON string (no pickles)."""
    meta = {"format": FILE_FORMAT, "version": FILE_VERSION, "name": s.name, "method": s.method,
            "layer_range": list(s.layer_range), "labels": list(s.labels), "metadata": s.metadata,
            "model_hash": s.model_hash}
    arrays: dict[str, np.ndarray] = {"vectors": s.vectors, "sigmas": s.sigmas,
                                     "meta": np.array(json.dumps(meta))}
    if s.explained_variance is not None:
        arrays["explained_variance"] = s.explained_variance
    if s.centres is not None:
        arrays["centres"] = s.centres
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def save_direction_set(s: DirectionSet, path: str | os.PathLike[str], overwrite: bool = True) -> None:
    atomic_write_bytes(path, direction_set_bytes(s), overwrite=overwrite)


def load_direction_set(path: str | os.PathLike[str]) -> DirectionSet:
    """Read a file written by `save_direction_set`; anything else is a one-line `ExplorerError`."""
    where = os.fspath(path)
    not_a_set = ExplorerError(f"{where} is not a StyleGAN Explorer direction set "
                              "(compute one with `stylegan-explorer directions`)")
    try:
        with open(path, "rb") as f:  # numpy reads any other file as a pickle, and says so
            if f.read(4) != b"PK\x03\x04":
                raise not_a_set
        with np.load(path, allow_pickle=False) as data:
            if "meta" not in data or "vectors" not in data:
                raise not_a_set
            meta = json.loads(str(data["meta"]))
            arrays = {k: np.asarray(data[k]) for k in ("vectors", "sigmas", "explained_variance",
                                                        "centres") if k in data}
    except (OSError, ValueError, zipfile.BadZipFile) as e:
        raise ExplorerError(f"could not read {where} as a direction set: {e}") from e
    if meta.get("format") != FILE_FORMAT:
        raise ExplorerError(f"{where} is not a StyleGAN Explorer direction set")
    if int(meta.get("version", 0)) > FILE_VERSION:
        raise ExplorerError(f"{where} was written by a newer StyleGAN Explorer")
    try:
        return DirectionSet(
            name=meta["name"], method=meta["method"], vectors=arrays["vectors"],
            sigmas=arrays["sigmas"], explained_variance=arrays.get("explained_variance"),
            layer_range=tuple(meta["layer_range"]), labels=tuple(meta["labels"]),
            metadata=meta.get("metadata", {}), model_hash=meta.get("model_hash", ""),
            centres=arrays.get("centres"))
    except (KeyError, ValueError, TypeError) as e:
        raise ExplorerError(f"{where} is a damaged direction set ({e})") from e
