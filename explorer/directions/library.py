"""`DirectionLibrary`: the direction sets one model's edits can refer to, by name.

It is the `DirectionLookup` that `compose.state_ws` and the render thread call, possibly while
the GUI (or a finished job) adds a set; a lock guards the table. Sets are immutable, so a reader
holding one never sees it change. After adding or removing sets, hand the library to the render
thread again (`set_directions`) so the picture on screen is re-rendered with them.
"""

from __future__ import annotations

import threading

import torch

from explorer.directions.cache import DirectionCache
from explorer.directions.directionset import DirectionSet
from explorer.errors import ExplorerError


class DirectionLibrary:
    """Direction sets by name, for one w_dim (and usually one model)."""

    def __init__(self, sets: tuple[DirectionSet, ...] | list[DirectionSet] = ()) -> None:
        self._lock = threading.Lock()
        self._sets: dict[str, tuple[DirectionSet, torch.Tensor]] = {}
        for s in sets:
            self.add(s)

    def add(self, s: DirectionSet) -> None:
        """Add or replace the set of that name (all sets must share one w_dim)."""
        vectors = torch.from_numpy(s.vectors.copy())
        with self._lock:
            others = [o for name, (o, _) in self._sets.items() if name != s.name]
            if others and others[0].w_dim != s.w_dim:
                raise ExplorerError(f"direction set {s.name!r} has w_dim {s.w_dim}, but the loaded "
                                    f"sets have {others[0].w_dim}: it belongs to another model")
            self._sets[s.name] = (s, vectors)

    def remove(self, name: str) -> None:
        with self._lock:
            self._sets.pop(name, None)

    def names(self) -> list[str]:
        with self._lock:
            return list(self._sets)

    def get(self, name: str) -> DirectionSet:
        with self._lock:
            entry = self._sets.get(name)
        if entry is None:
            raise ExplorerError(f"direction set {name!r} is not loaded; compute it with "
                                f"`stylegan-explorer directions` or load its .npz")
        return entry[0]

    def __contains__(self, name: str) -> bool:
        with self._lock:
            return name in self._sets

    def __len__(self) -> int:
        with self._lock:
            return len(self._sets)

    def label(self, set_name: str, index: int) -> str:
        """How the Directions panel names a direction (PC1, SeFa3, an attribute); set[index] for
        a set that is not loaded."""
        with self._lock:
            entry = self._sets.get(set_name)
        if entry is None or not 0 <= index < entry[0].count:
            return f"{set_name}[{index}]"
        return entry[0].labels[index]

    def direction(self, set_name: str, index: int) -> tuple[torch.Tensor, float]:
        """(unit vector [w_dim] float32 on the CPU, sigma): the `DirectionLookup` protocol."""
        with self._lock:
            entry = self._sets.get(set_name)
        if entry is None:
            raise ExplorerError(f"direction set {set_name!r} is not loaded")
        s, vectors = entry
        if not 0 <= index < s.count:
            raise ExplorerError(f"direction set {set_name!r} has directions 0-{s.count - 1}, not {index}")
        return vectors[index], float(s.sigmas[index])


def cached_library(model_hash: str, cache: DirectionCache | None = None) -> DirectionLibrary:
    """Every set cached for a model, ready when it is opened; damaged cache files are skipped."""
    cache = cache or DirectionCache()
    library = DirectionLibrary()
    for name in cache.names(model_hash):
        try:
            s = cache.load(model_hash, name)
        except ExplorerError:
            continue
        if s is not None:
            library.add(s)
    return library
