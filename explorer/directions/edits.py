"""Edits from text, for the command line: `SET:INDEX:STRENGTH[:ROWS]`, e.g. `pca:3:+2.0:0-5`.

SET is the name of a set cached for the model (`stylegan-explorer directions` makes them) or the
path of an exported .npz. STRENGTH is in sigmas. ROWS is an inclusive W+ row range (`0-5`,
`6-`, `4`) or a preset (coarse, middle, fine); without it the set's own range applies.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import NamedTuple, Sequence

from explorer.directions.cache import DirectionCache
from explorer.directions.directionset import DirectionSet, load_direction_set
from explorer.directions.layers import PRESETS, parse_layer_range, parse_row_range
from explorer.directions.library import DirectionLibrary
from explorer.errors import ExplorerError
from explorer.latent.state import DirectionEdit
from explorer.model import Model

EDIT_SYNTAX = "SET:INDEX:STRENGTH[:ROWS], e.g. pca:3:+2.0:0-5"


class ParsedEdit(NamedTuple):
    """layer_start None: no range was written (the set's default applies)."""

    set_name: str
    index: int
    strength: float
    layer_start: int | None
    layer_end: int | None


def _index_and_strength(index: str, strength: str) -> tuple[int, float] | None:
    try:
        return int(index), float(strength)
    except ValueError:
        return None


def parse_edit(text: str, model: Model | None = None) -> ParsedEdit:
    """Split an edit string. Layer presets and row bounds need `model`; numeric ranges do not.

    Parsed from the right, so a set path may itself contain ':' (C:\\sets\\pca.npz:3:1).
    """
    name, index, strength, layers = _split_edit(text)
    if not layers:
        return ParsedEdit(name, index, strength, None, None)
    if model is not None:
        start, end = parse_layer_range(layers, model)
    elif _is_preset(layers):
        raise ExplorerError(f"the layer preset in {text!r} needs the model to resolve")
    else:
        start, end = parse_row_range(layers)
    return ParsedEdit(name, index, strength, start, end)


def check_edit(text: str) -> None:
    """What can be checked of an edit before the model is loaded: all but a layer preset's rows
    (coarse/middle/fine), which `parse_edit` resolves once the model is there."""
    layers = _split_edit(text)[3]
    if layers and not _is_preset(layers):
        parse_row_range(layers)


def _is_preset(layers: str) -> bool:
    return layers.strip().lower() in PRESETS


def _split_edit(text: str) -> tuple[str, int, float, str]:
    """SET:INDEX:STRENGTH[:ROWS] -> (set, index, strength, rows text or '')."""
    parts = text.rsplit(":", 3)
    if len(parts) == 4 and (numbers := _index_and_strength(parts[1], parts[2])) and parts[0]:
        name, layers = parts[0], parts[3]
    else:
        parts = text.rsplit(":", 2)
        numbers = _index_and_strength(parts[1], parts[2]) if len(parts) == 3 else None
        name, layers = parts[0], ""
        if numbers is None or not name:
            raise ExplorerError(f"bad edit {text!r}: use {EDIT_SYNTAX}")
    index, strength = numbers
    if not math.isfinite(strength):
        raise ExplorerError(f"bad edit {text!r}: the strength must be a finite number of sigmas")
    if index < 0:
        raise ExplorerError(f"bad edit {text!r}: the direction index must be 0 or more")
    return name, index, strength, layers


def is_set_file(ref: str) -> bool:
    """Whether an edit's SET names a .npz file (else a set cached for the model)."""
    return ref.lower().endswith(".npz") or Path(ref).is_file()


def resolve_set(model: Model, ref: str, cache: DirectionCache | None = None) -> DirectionSet:
    """A .npz path (the set is renamed to `ref`, the name edits use) or a set cached for `model`."""
    path = Path(ref)
    if is_set_file(ref):
        if not path.is_file():
            raise ExplorerError(f"direction set file {ref} does not exist")
        s = load_direction_set(path).replace(name=ref)
    else:
        cache = cache or DirectionCache()
        s = cache.load(model.info.content_hash, ref)
        if s is None:
            have = cache.names(model.info.content_hash)
            listed = (f"cached sets for this model: {', '.join(have)}" if have
                      else "none is cached for this model")
            raise ExplorerError(f"no direction set {ref!r} ({listed}); compute it with "
                                f"`stylegan-explorer directions CKPT --method ...` or give a .npz path")
    check_set_fits(model, s, ref)
    return s


def check_set_fits(model: Model, s: DirectionSet, where: str) -> None:
    if s.w_dim != model.w_dim:
        raise ExplorerError(f"{where} has w_dim {s.w_dim}, but this model's is {model.w_dim}")
    if s.model_hash and s.model_hash != model.info.content_hash:
        raise ExplorerError(f"{where} was computed for model {s.model_hash}, not this one "
                            f"({model.info.content_hash}); recompute it for this model")


def edits_from_args(model: Model, edit_strings: Sequence[str], cache: DirectionCache | None = None
                    ) -> tuple[tuple[DirectionEdit, ...], DirectionLibrary]:
    """The `DirectionEdit`s of repeated `--edit` options and a library holding the sets they use."""
    library = DirectionLibrary()
    edits = []
    for text in edit_strings:
        parsed = parse_edit(text, model)
        if parsed.set_name not in library:
            library.add(resolve_set(model, parsed.set_name, cache))
        s = library.get(parsed.set_name)
        if parsed.index >= s.count:
            raise ExplorerError(f"bad edit {text!r}: {parsed.set_name} has directions 0-{s.count - 1}")
        start, end = (s.layer_range if parsed.layer_start is None
                      else (parsed.layer_start, parsed.layer_end))
        edits.append(DirectionEdit(parsed.set_name, parsed.index, parsed.strength, start, end))
    return tuple(edits), library
