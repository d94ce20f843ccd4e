"""The attribute check finds an attribute a model under-draws, and passes one it draws right."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from explorer.train.attribute_check import attribute_check


def picture(background: str, glasses: bool, rng: np.random.Generator) -> np.ndarray:
    img = np.zeros((16, 16, 3), np.uint8)
    img[:] = (220, 60, 60) if background == "red" else (60, 60, 220)
    img[6:10, 4:12] = (235, 200, 160)  # a face
    if glasses:
        img[7, 3:13] = 0
    return np.clip(img + rng.integers(-20, 21, img.shape), 0, 255).astype(np.uint8)


def test_attribute_frequencies_and_their_distance(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    entries = []
    for i in range(120):
        background, glasses = ("red", "blue")[i % 2], i % 3 == 0
        Image.fromarray(picture(background, glasses, rng)).save(tmp_path / f"{i:03d}.png")
        entries.append({"file": f"{i:03d}.png", "background_color": background,
                        "glasses": "round" if glasses else None})
    (tmp_path / "manifest.json").write_text(json.dumps({"images": entries}))

    # A "model" that only ever draws red backgrounds, with glasses as often as the data.
    only_red = [picture("red", i % 3 == 0, rng) for i in range(90)]
    results = {r.name: r for r in attribute_check(tmp_path, only_red)}
    assert set(results) == {"background_color", "glasses"}
    background, glasses = results["background_color"], results["glasses"]
    assert background.accuracy > 0.95 and glasses.accuracy > 0.9
    assert abs(background.real["red"] - 0.5) < 0.15 and background.generated["red"] == 1.0
    assert abs(background.tv_distance - 0.5) < 0.15 and background.worst_class() in ("red", "blue")
    assert glasses.tv_distance < 0.15
