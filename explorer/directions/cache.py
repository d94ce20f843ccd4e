"""On-disk cache of direction sets, one folder per model content hash.

Computing directions takes seconds to minutes; the same model (in any file format: the hash is
of the weights) reopens with its sets ready. A cached set is reused only if it was computed with
the same parameters, so changing e.g. the number of samples recomputes instead of silently
returning the old set.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, Callable

from explorer.directions.directionset import DirectionSet, load_direction_set, save_direction_set
from explorer.errors import ExplorerError

NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}")


def default_cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "stylegan-explorer" / "directions"


def check_set_name(name: str) -> str:
    """Set names become file names: letters, digits and `_.+-` only."""
    if not NAME_PATTERN.fullmatch(name) or name.endswith(".npz"):
        raise ExplorerError(f"bad direction set name {name!r}: use letters, digits, '_', '.', '+' "
                            "or '-' (at most 64, no .npz ending)")
    return name


class DirectionCache:
    """<root>/<model hash>/<set name>.npz, written atomically."""

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        self.root = Path(root) if root is not None else default_cache_root()

    def path(self, model_hash: str, name: str) -> Path:
        return self.root / model_hash / f"{check_set_name(name)}.npz"

    def names(self, model_hash: str) -> list[str]:
        folder = self.root / model_hash
        return sorted(p.stem for p in folder.glob("*.npz")) if folder.is_dir() else []

    def load(self, model_hash: str, name: str) -> DirectionSet | None:
        path = self.path(model_hash, name)
        return load_direction_set(path) if path.is_file() else None

    def store(self, s: DirectionSet) -> Path:
        if not s.model_hash:
            raise ExplorerError(f"direction set {s.name!r} names no model, so it cannot be cached")
        path = self.path(s.model_hash, s.name)
        save_direction_set(s, path)
        return path

    def get_or_compute(self, model_hash: str, name: str, params: dict[str, Any],
                       compute: Callable[[], DirectionSet]) -> DirectionSet:
        """The cached set if it was made with `params` (its metadata["params"]), else compute and store."""
        params = json.loads(json.dumps(params))  # tuples read back as lists: compare like with like
        try:
            cached = self.load(model_hash, name)
        except ExplorerError:
            cached = None  # a damaged cache entry is recomputed and overwritten
        if cached is not None and cached.metadata.get("params") == params:
            return cached
        s = compute()
        s = s.replace(name=name, model_hash=model_hash, metadata={**s.metadata, "params": params})
        self.store(s)
        return s
