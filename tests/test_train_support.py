"""Shared helpers for the trainer and dataset tests: tiny image folders and a tiny config.

(Named like a test module so it sits with the tests it serves; it defines no tests itself.)
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from explorer.train.config import TrainConfig

REPO = Path(__file__).resolve().parents[1]


def draw_shape(index: int, size: int) -> Image.Image:
    """A coloured ellipse or square on a coloured background; deterministic per index."""
    rng = np.random.default_rng(index)
    img = Image.new("RGB", (size, size), tuple(int(v) for v in rng.integers(0, 256, 3)))
    draw = ImageDraw.Draw(img)
    a, b = sorted(rng.integers(0, size, 2)), sorted(rng.integers(0, size, 2))
    box = [int(a[0]), int(b[0]), int(a[1]) + 2, int(b[1]) + 2]
    fill = tuple(int(v) for v in rng.integers(0, 256, 3))
    (draw.ellipse if index % 2 else draw.rectangle)(box, fill=fill)
    return img


def make_shapes_folder(folder: Path, count: int = 32, size: int = 24) -> Path:
    """`count` PNGs of shapes, non-square ones included so centre cropping is exercised."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        img = draw_shape(i, size)
        if i % 5 == 0:
            img = img.resize((size + 8, size))
        img.save(folder / f"img{i:03d}.png")
    return folder


def tiny_config(data: Path, out: Path, cache: Path, **overrides) -> TrainConfig:
    """A 16 px StyleGAN2 small enough to take a step in ~20 ms on one CPU core."""
    values = dict(data=str(data), out=str(out), resolution=16, kimg=0.064, batch=4, z_dim=16,
                  w_dim=16, map_layers=1, channel_base=128, channel_max=16, tick_kimg=0.016,
                  sample_kimg=0.032, snap_kimg=0.032, workers=0, cache_dir=str(cache),
                  device="cpu", augment_p=0.2, ada_kimg=1.0)
    values.update(overrides)
    return TrainConfig(**values)


def subprocess_env() -> dict[str, str]:
    """One thread per child process (the test machines are small and shared)."""
    return {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
            "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}


TRAIN_COMMAND = (sys.executable, "-m", "explorer", "train")  # as the app starts it
TINY_TRAIN_FLAGS = ["--resolution", "16", "--batch", "4", "--z-dim", "16", "--map", "1",
                    "--cbase", "128", "--cmax", "16", "--workers", "0", "--device", "cpu"]
