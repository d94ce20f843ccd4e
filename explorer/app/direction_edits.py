"""Direction sliders as `LatentState.edits`: one `DirectionEdit` per non-zero slider.

Keeping the sliders in the state (not in the panel) is what makes them undo, save into PNGs and
reproduce exactly. A slider at 0 has no edit, so the panel remembers its layer range itself
until it moves; once it moves, the edit's own range is the truth.
"""

from __future__ import annotations

from typing import Iterable

from explorer.latent.state import DirectionEdit

MAX_STRENGTH = 10.0  # sigmas either way

LayerRange = tuple[int, int | None]


def find_edit(edits: Iterable[DirectionEdit], set_name: str, index: int) -> DirectionEdit | None:
    return next((e for e in edits if e.direction_set == set_name and e.index == index), None)


def with_strength(edits: tuple[DirectionEdit, ...], set_name: str, index: int, strength: float,
                  layers: LayerRange) -> tuple[DirectionEdit, ...]:
    """The edits with (set, index) moved to `strength` (clamped to +-10 sigma) on `layers`;
    strength 0 removes it. An existing edit keeps its place, so the order of edits is stable."""
    strength = min(max(float(strength), -MAX_STRENGTH), MAX_STRENGTH)
    new = DirectionEdit(set_name, index, strength, layers[0], layers[1])
    out, found = [], False
    for e in edits:
        if e.direction_set == set_name and e.index == index:
            found = True
            if strength != 0:
                out.append(new)
        else:
            out.append(e)
    if not found and strength != 0:
        out.append(new)
    return tuple(out)


def with_layers(edits: tuple[DirectionEdit, ...], set_name: str, index: int,
                layers: LayerRange) -> tuple[DirectionEdit, ...]:
    """The edits with (set, index) moved to other W+ rows (nothing to do if it has no edit)."""
    return tuple(DirectionEdit(e.direction_set, e.index, e.strength, layers[0], layers[1])
                 if e.direction_set == set_name and e.index == index else e for e in edits)


def without_sets(edits: tuple[DirectionEdit, ...], names: Iterable[str]) -> tuple[DirectionEdit, ...]:
    drop = set(names)
    return tuple(e for e in edits if e.direction_set not in drop)


def only_sets(edits: tuple[DirectionEdit, ...], names: Iterable[str]) -> tuple[DirectionEdit, ...]:
    """The edits whose set is loaded (a new model has other sets, or none yet)."""
    keep = set(names)
    return tuple(e for e in edits if e.direction_set in keep)


def row_range(layers: LayerRange, num_ws: int) -> tuple[int, int]:
    """Inclusive (first, last) W+ row of a half-open range whose end may be None (= last row)."""
    end = num_ws if layers[1] is None else layers[1]
    return layers[0], end - 1


def half_open(first: int, last: int, num_ws: int) -> LayerRange:
    """Inclusive rows back to the stored form: None for "through the last row", as the sets use."""
    first = min(max(first, 0), num_ws - 1)
    last = min(max(last, first), num_ws - 1)
    return first, None if last == num_ws - 1 else last + 1
