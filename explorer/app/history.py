"""Undo/redo over `LatentState`s.

States are immutable values, so history is just a list and an index. A slider drag produces a
state per frame; the controller commits only when the user lets go, so one drag is one step.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable

from explorer.latent.state import DirectionEdit, LatentState, decode_latent

DEFAULT_LIMIT = 500


@dataclass(frozen=True)
class HistoryEntry:
    state: LatentState
    label: str


class History:
    """A linear undo stack: committing after an undo drops the redo branch, as editors do."""

    def __init__(self, initial: LatentState, limit: int = DEFAULT_LIMIT) -> None:
        self._entries = [HistoryEntry(initial, "start")]
        self._index = 0
        self._limit = max(2, limit)

    @property
    def current(self) -> LatentState:
        return self._entries[self._index].state

    @property
    def index(self) -> int:
        return self._index

    @property
    def entries(self) -> list[HistoryEntry]:
        return list(self._entries)

    def can_undo(self) -> bool:
        return self._index > 0

    def can_redo(self) -> bool:
        return self._index < len(self._entries) - 1

    def commit(self, state: LatentState, label: str | None = None) -> bool:
        """Record `state` as the newest step; equal to the current one -> nothing happens."""
        if state == self.current:
            return False
        entry = HistoryEntry(state, label or describe_change(self.current, state))
        del self._entries[self._index + 1:]
        self._entries.append(entry)
        if len(self._entries) > self._limit:
            del self._entries[: len(self._entries) - self._limit]
        self._index = len(self._entries) - 1
        return True

    def undo(self) -> LatentState | None:
        if not self.can_undo():
            return None
        self._index -= 1
        return self.current

    def redo(self) -> LatentState | None:
        if not self.can_redo():
            return None
        self._index += 1
        return self.current

    def jump(self, index: int) -> LatentState:
        """Go to any step of the list (the history panel's click), keeping the others."""
        self._index = min(max(0, index), len(self._entries) - 1)
        return self.current

    def rewrite(self, change: Callable[[LatentState], LatentState]) -> None:
        """Apply `change` to every step (a deleted direction set leaves no step that needs it);
        a step that becomes equal to the one before it goes, and the index stays on its step."""
        entries, index = [], 0
        for i, entry in enumerate(self._entries):
            state = change(entry.state)
            if not entries or state != entries[-1].state:
                entries.append(HistoryEntry(state, entry.label))
            if i == self._index:
                index = len(entries) - 1
        self._entries, self._index = entries, index

    def reset(self, state: LatentState, label: str = "start") -> None:
        """Forget everything (a new model makes old states meaningless)."""
        self._entries = [HistoryEntry(state, label)]
        self._index = 0


def _format_value(name: str, value: object) -> str:
    if value is None:  # a layer view, a latent, a cutoff ... turned off
        return "off"
    if name in ("latent", "mix_latent") and isinstance(value, str):
        rows, cols = decode_latent(value).shape
        return f"W+ {rows}x{cols}"
    if isinstance(value, float):
        return f"{value:.3g}"
    if isinstance(value, tuple) and value and all(isinstance(v, float) for v in value):
        return "(" + ", ".join(f"{v:.2g}" for v in value) + ")"
    return str(value)


def _describe_edits(before: tuple[DirectionEdit, ...], after: tuple[DirectionEdit, ...]) -> list[str]:
    """'pca[0] +3.00' for each direction edit added or moved, 'pca[1] off' for each one dropped."""
    if before and not after:
        return ["edits reset"]
    old = {(e.direction_set, e.index): e for e in before}
    new = {(e.direction_set, e.index): e for e in after}
    parts = []
    for key, edit in new.items():
        if old.get(key) != edit:
            rows = "" if (edit.layer_start, edit.layer_end) == (0, None) else \
                f" rows {edit.layer_start}-{'' if edit.layer_end is None else edit.layer_end - 1}"
            parts.append(f"{key[0]}[{key[1]}] {edit.strength:+.2f}{rows}")
    parts.extend(f"{name}[{index}] off" for name, index in old if (name, index) not in new)
    return parts


def describe_change(old: LatentState, new: LatentState, max_fields: int = 3) -> str:
    """A short label such as 'psi 0.7, seed 12' for the history list."""
    parts = []
    for f in dataclasses.fields(LatentState):
        before, after = getattr(old, f.name), getattr(new, f.name)
        if before != after:
            if f.name == "edits":
                parts.extend(_describe_edits(before, after))
            elif f.name in ("mix_weights", "noise_gains"):
                parts.append(f.name.replace("_", " "))
            else:
                parts.append(f"{f.name.replace('_', ' ')} {_format_value(f.name, after)}")
    if not parts:
        return "no change"
    more = len(parts) - max_fields
    return ", ".join(parts[:max_fields]) + (f" (+{more} more)" if more > 0 else "")
