"""A synthetic face dataset: DiceBear "Lorelei" avatars rendered to PNG, with their attributes.

Lorelei is by Lisa Wischofsky and released under CC0 1.0, so the images can be shared and
trained on freely. DiceBear picks every part of an avatar from a seeded PRNG, so a seed fully
determines an image; resvg rasterises the SVG identically everywhere. The accessories are
rarer than a GAN can learn from by default (5-10 %), so their probabilities are raised.

The output folder holds the PNGs, `dataset.json` (NVIDIA layout; label = glasses on/off, for
conditional training) and `manifest.json` (every image's attributes and the licence).
"""

from __future__ import annotations

import functools
import io
import json
import math
import multiprocessing
import os
from importlib.resources import files
from pathlib import Path
from typing import Any, Callable, Iterator

from PIL import Image

from explorer.errors import ExplorerError
from explorer.fileio import atomic_write_bytes

STYLE_NAME = "lorelei"
LICENSE = ("Lorelei by Lisa Wischofsky (https://www.figma.com/community/file/1198749693280469639), "
           "CC0 1.0 (https://creativecommons.org/publicdomain/zero/1.0/); rendered with DiceBear")
# Percent chance that each optional part is drawn (DiceBear's own defaults are 5-10).
ACCESSORY_PROBABILITY = {"glasses": 30, "earrings": 25, "beard": 20, "freckles": 25, "hairAccessories": 20}
BACKGROUND_COLORS = ["b6e3f4", "c0aede", "d1d4f9", "ffd5dc", "ffdfbf", "c7f0d8", "f4e4b6", "e0e0e0"]
SKIN_COLORS = ["ffdbb4", "f9c9b6", "edb98a", "d08b5b", "ae5d29", "8d5524", "614335"]
HAIR_COLORS = ["000000", "2c1b18", "4a312c", "724133", "a55728", "b58143", "d6b370", "e8e1e1",
               "c93305", "f59797"]
# Attribute name in the manifest -> DiceBear component whose variant it records.
PART_ATTRIBUTES = {"hair": "hair", "head": "head", "eyes": "eyes", "eyebrows": "eyebrows",
                   "mouth": "mouth", "nose": "nose", "glasses": "glasses", "earrings": "earrings",
                   "beard": "beard", "freckles": "freckles", "hair_accessories": "hairAccessories"}
COLOR_ATTRIBUTES = {"skin_color": "skin", "hair_color": "hair", "background_color": "background"}
BLOCK = 64  # avatars per pool task: amortises building the style once per task
MIN_PER_WORKER = 1000  # below this a worker process costs more than it saves


def check_renderer() -> None:
    """Fail with an install hint when the optional rendering packages are missing."""
    try:
        import dicebear  # noqa: F401
        import dicebear_styles  # noqa: F401
        import resvg_py  # noqa: F401
    except ImportError as e:
        raise ExplorerError("the avatar builder needs `pip install dicebear-core dicebear-styles "
                            f"resvg-py` ({e.name} is missing)") from e


@functools.lru_cache(maxsize=1)
def lorelei_style() -> Any:
    """The parsed style; building it validates a large schema (~0.3 s), so it is built once."""
    from dicebear import Style
    definition = json.loads(files("dicebear_styles").joinpath(f"{STYLE_NAME}.json").read_text("utf-8"))
    return Style(definition)


def avatar_options(seed: int, index: int, resolution: int) -> dict[str, Any]:
    """DiceBear options for one avatar; DiceBear's PRNG picks from these lists by the seed string."""
    options: dict[str, Any] = {
        "seed": f"{seed}:{index}", "size": resolution,
        "backgroundColor": BACKGROUND_COLORS, "skinColor": SKIN_COLORS, "hairColor": HAIR_COLORS}
    options.update({f"{part}Probability": p for part, p in ACCESSORY_PROBABILITY.items()})
    return options


def render_avatar(seed: int, index: int, resolution: int) -> tuple[bytes, dict[str, Any]]:
    """(RGB PNG bytes, attributes) of one avatar."""
    from dicebear import Avatar
    import resvg_py
    avatar = Avatar(lorelei_style(), avatar_options(seed, index, resolution))
    rgba = resvg_py.svg_to_bytes(svg_string=avatar.to_string(), width=resolution, height=resolution)
    buf = io.BytesIO()
    Image.open(io.BytesIO(bytes(rgba))).convert("RGB").save(buf, format="PNG")
    return buf.getvalue(), avatar_attributes(avatar.to_json()["options"])


def avatar_attributes(resolved: dict[str, Any]) -> dict[str, Any]:
    """Readable attributes from DiceBear's resolved options; an absent part is None."""
    attrs: dict[str, Any] = {name: resolved.get(f"{part}Variant") for name, part in PART_ATTRIBUTES.items()}
    for name, key in COLOR_ATTRIBUTES.items():
        colors = resolved.get(f"{key}Color") or [None]
        attrs[name] = colors[0]
    return attrs


def _render_block(task: tuple[str, int, int, int, int]) -> list[tuple[str, dict[str, Any]]]:
    """Render avatars [start, stop) into the folder; (file name, attributes) for each."""
    out, seed, resolution, start, stop = task
    rows = []
    for index in range(start, stop):
        png, attrs = render_avatar(seed, index, resolution)
        name = f"{index:06d}.png"
        with open(Path(out) / name, "wb") as f:
            f.write(png)
        rows.append((name, attrs))
    return rows


def _rendered_blocks(tasks: list[tuple[str, int, int, int, int]], workers: int
                     ) -> Iterator[list[tuple[str, dict[str, Any]]]]:
    if workers == 1:
        yield from map(_render_block, tasks)
        return
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        yield from pool.imap(_render_block, tasks)


def build_avatars(out: str | os.PathLike[str], count: int, resolution: int = 64, seed: int = 0,
                  workers: int | None = None,
                  progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Render `count` avatars into `out` (in parallel) and write its dataset.json and manifest.json.

    The manifest is written last, so its presence means the folder is complete.
    """
    check_renderer()
    if count < 1:
        raise ExplorerError("--count must be at least 1")
    if resolution < 8 or 2 ** int(math.log2(resolution)) != resolution:
        raise ExplorerError(f"--resolution must be a power of two of at least 8, not {resolution}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tasks = [(str(out), seed, resolution, s, min(s + BLOCK, count)) for s in range(0, count, BLOCK)]
    # Starting a spawned worker costs seconds (it imports torch), rendering one avatar ~5 ms.
    workers = max(1, min(workers or os.cpu_count() or 1, math.ceil(count / MIN_PER_WORKER)))
    rows: list[tuple[str, dict[str, Any]]] = []
    for block in _rendered_blocks(tasks, workers):
        rows += block
        if progress is not None:
            progress(len(rows), count)
    labels = [[name, int(attrs["glasses"] is not None)] for name, attrs in rows]
    atomic_write_bytes(out / "dataset.json", json.dumps({"labels": labels}).encode())
    manifest = {
        "generator": f"DiceBear {STYLE_NAME}", "license": LICENSE, "count": count,
        "resolution": resolution, "seed": seed, "accessory_probability": ACCESSORY_PROBABILITY,
        "label": "glasses (0 = none, 1 = wearing glasses)",
        "images": [{"file": name, **attrs} for name, attrs in rows]}
    atomic_write_bytes(out / "manifest.json", json.dumps(manifest, indent=1).encode())
    return manifest
