"""Training throughput (sec/kimg) of the real training loop, with and without augmentation.

    python bench/train.py [--device auto] [--threads 1] [--kimg 0.2] [--configs cpu-16,cpu-32]

Each config trains on procedurally drawn shapes for `--kimg` thousand images, in a temporary
run folder; the first tick (warm-up, dataset preparation) is left out of the timing. The ADA
column is the same run with every transform at p = 0.5: its ratio to no augmentation is the
cost of the augmentation pipeline, measured in the same process. Without CUDA only the CPU
configs run; with CUDA the GPU configs (NVIDIA's auto settings for 64 and 256 px) run as well.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import print_json_line, print_table  # noqa: E402
from explorer.devices import resolve_device  # noqa: E402
from explorer.train.config import TrainConfig  # noqa: E402
from explorer.train.loop import train  # noqa: E402

# name -> (needs CUDA, TrainConfig overrides)
CONFIGS = {
    "cpu-16": (False, dict(resolution=16, batch=8, z_dim=64, w_dim=64, channel_base=1024, channel_max=64)),
    "cpu-32": (False, dict(resolution=32, batch=8, z_dim=128, w_dim=128, channel_base=2048, channel_max=128)),
    "gpu-64": (True, dict(resolution=64)),
    "gpu-256": (True, dict(resolution=256)),
}
TICKS = 5


def shapes_folder(folder: Path, resolution: int, count: int = 64) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(count):
        img = Image.new("RGB", (resolution, resolution), tuple(int(v) for v in rng.integers(0, 256, 3)))
        a, b = sorted(rng.integers(0, resolution, 2)), sorted(rng.integers(0, resolution, 2))
        ImageDraw.Draw(img).ellipse([int(a[0]), int(b[0]), int(a[1]) + 2, int(b[1]) + 2],
                                    fill=tuple(int(v) for v in rng.integers(0, 256, 3)))
        img.save(folder / f"{i:03d}.png")
    return folder


def sec_per_kimg(tmp: Path, name: str, overrides: dict, kimg: float, device: str, augment: str) -> float:
    data = shapes_folder(tmp / f"data-{overrides['resolution']}", overrides["resolution"])
    cfg = TrainConfig(data=str(data), out=str(tmp / f"{name}-{augment}"), kimg=kimg, tick_kimg=kimg / TICKS,
                      sample_kimg=kimg * 10, snap_kimg=kimg * 10, workers=0, cache_dir=str(tmp / "cache"),
                      device=device, augment="fixed" if augment == "ada" else "none",
                      augment_p=0.5, **overrides)
    metrics = train(cfg, log=lambda line: None).run.read_metrics()
    return statistics.median(r["sec_per_kimg"] for r in metrics[1:])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--kimg", type=float, default=0.2, help="images per measurement, thousands")
    p.add_argument("--configs", default=",".join(CONFIGS), help="comma-separated subset of " + ",".join(CONFIGS))
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.configs.split(","):
            needs_cuda, overrides = CONFIGS[name]
            if needs_cuda != (device.type == "cuda"):
                continue
            kimg = args.kimg * (20 if needs_cuda else 1)
            plain = sec_per_kimg(Path(tmp), name, overrides, kimg, str(device), "none")
            ada = sec_per_kimg(Path(tmp), name, overrides, kimg, str(device), "ada")
            row = dict(config=name, device=device.type, resolution=overrides["resolution"],
                       sec_per_kimg=round(plain, 2), img_per_s=round(1000 / plain, 1),
                       ada_sec_per_kimg=round(ada, 2), ada_ratio=round(ada / plain, 2))
            rows.append(row)
            print(row, file=sys.stderr, flush=True)
    print_table(rows, ["config", "device", "resolution", "sec_per_kimg", "img_per_s", "ada_sec_per_kimg", "ada_ratio"])
    print_json_line("train", {"threads": args.threads, "rows": rows})


if __name__ == "__main__":
    main()
