"""Which W+ rows an edit touches: explicit ranges and the coarse / middle / fine presets.

The presets follow the StyleGAN paper's split by the resolution each row drives:
coarse = 4-8 px (pose, face shape), middle = 16-32 px (features, hair style), fine = 64 px and
up (colour, micro-structure). A row's resolution is the power of two its layer works at: for
StyleGAN2 `info.ws_resolutions` as it is; StyleGAN3 layer sizes carry a margin on each side
(36 = 16 + 2 * 10), which is taken off first (except for the last layers, drawn at the image
size). StyleGAN3 starts at 16 px, so its coarse preset is its lowest resolution and its middle
preset the rest up to 32 px.

Ranges on the command line are inclusive, like seed ranges: "0-5" is rows 0..5, which is the
half-open [0, 6) that `DirectionEdit` stores.
"""

from __future__ import annotations

import re

from explorer.errors import ExplorerError
from explorer.model import Model

PRESETS = ("coarse", "middle", "fine")
COARSE_MAX = 8
MIDDLE_MAX = 32


def floor_power_of_two(n: int) -> int:
    return 1 << (max(int(n), 1).bit_length() - 1)


def row_resolutions(model: Model) -> list[int]:
    """The nominal resolution (a power of two) of the layers each W+ row drives."""
    sizes = model.info.ws_resolutions
    margin = 0
    if model.architecture == "stylegan3":
        margin = int(getattr(model.generator, "init_kwargs", {}).get("margin_size", 10))
    return [floor_power_of_two(s if s == model.resolution else s - 2 * margin) for s in sizes]


def preset_rows(model: Model, preset: str) -> tuple[int, int]:
    """[start, end) of the W+ rows in a preset; rows are ordered by resolution, so it is contiguous."""
    if preset not in PRESETS:
        raise ExplorerError(f"unknown layer preset {preset!r}: use {', '.join(PRESETS)}")
    res = row_resolutions(model)
    coarse_max = max(COARSE_MAX, min(res))
    bounds = {"coarse": (0, coarse_max), "middle": (coarse_max + 1, MIDDLE_MAX),
              "fine": (max(coarse_max, MIDDLE_MAX) + 1, 1 << 30)}[preset]
    rows = [i for i, r in enumerate(res) if bounds[0] <= r <= bounds[1]]
    if not rows:
        raise ExplorerError(f"this {model.resolution} px model has no {preset} layers "
                            f"(its W+ rows drive {sorted(set(res))} px)")
    return rows[0], rows[-1] + 1


def layer_presets(model: Model) -> dict[str, tuple[int, int]]:
    """The presets this model has (a 16 px model has no fine layers), for a GUI's choice list."""
    out = {}
    for preset in PRESETS:
        try:
            out[preset] = preset_rows(model, preset)
        except ExplorerError:
            continue
    return out


def parse_row_range(text: str) -> tuple[int, int | None]:
    """'A-B' (inclusive) | 'A-' (to the end) | 'A' -> half-open (start, end), end None = last row."""
    m = re.fullmatch(r"(\d+)(?:(-)(\d*))?", text.strip())
    if not m:
        raise ExplorerError(f"bad layer range {text!r}: use A-B (inclusive), A-, A, or one of "
                            f"{', '.join(PRESETS)}")
    start = int(m.group(1))
    end = None if m.group(2) and not m.group(3) else int(m.group(3) or start) + 1
    if end is not None and end <= start:
        raise ExplorerError(f"bad layer range {text!r}: the end is before the start")
    return start, end


def parse_layer_range(text: str, model: Model) -> tuple[int, int | None]:
    """A preset name or `parse_row_range` text, checked against this model's W+ rows."""
    if text.strip().lower() in PRESETS:
        return preset_rows(model, text.strip().lower())
    start, end = parse_row_range(text)
    if start >= model.num_ws or (end is not None and end > model.num_ws):
        raise ExplorerError(f"bad layer range {text!r}: this model's W+ rows are 0-{model.num_ws - 1}")
    return start, end
