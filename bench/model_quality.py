"""How good is a trained model? Fréchet distance, sample grids, mixing grid, memorisation check.

    python bench/model_quality.py CKPT --data DATASET_DIR [--count 10000] [--out DIR]

* FD-Lite0: Fréchet distance between `count` generated images (psi 1) and `count` real ones in
  EfficientNet-Lite0 features (see explorer/train/frechet.py), and the same distance between two
  disjoint halves of the real set, which is the floor for this sample size.
* Grids at psi 1.0 and 0.7, and a style-mixing grid (coarse rows from B, the rest from A).
* Memorisation: for a few samples, the nearest training image in pixel space and its distance,
  next to the typical distance between two training images.
* Attributes (datasets with a manifest.json, e.g. the avatars): per attribute, the held-out
  accuracy of a small classifier trained on the real images and the total-variation distance
  between the class frequencies it predicts on real and on generated images
  (explorer/train/attribute_check.py).
Prints a table and one JSON line; writes the PNGs to --out.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import explorer  # noqa: E402
from bench.common import print_json_line, print_table  # noqa: E402
from explorer.engine.render import mixing_grid  # noqa: E402
from explorer.fileio import image_grid, save_png  # noqa: E402
from explorer.engine.batch import generate_images  # noqa: E402
from explorer.project.losses.efficientnet_lite0 import load_efficientnet_lite0  # noqa: E402
from explorer.train.attribute_check import attribute_check  # noqa: E402
from explorer.train.dataset import prepare_dataset  # noqa: E402
from explorer.train.frechet import feature_stats, frechet_distance, real_stats, uint8_batches  # noqa: E402


def generated_images(model: explorer.Model, count: int, first_seed: int, psi: float = 1.0):
    for start in range(first_seed, first_seed + count, 64):
        seeds = list(range(start, min(start + 64, first_seed + count)))
        yield from generate_images(model, seeds, psi=psi)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint")
    p.add_argument("--data", required=True, help="the training images (folder or zip)")
    p.add_argument("--count", type=int, default=10000, help="images per side for the Fréchet distance")
    p.add_argument("--out", type=Path, default=Path("model-quality"))
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--attribute-count", type=int, default=2000,
                   help="generated images for the attribute check (0: skip it)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device("cpu")
    model = explorer.load(args.checkpoint, device=device)
    prepared = prepare_dataset(args.data, resolution=model.resolution)
    real = np.load(prepared.images_path, mmap_mode="r")
    net = load_efficientnet_lite0(device)
    count = min(args.count, len(real) // 2)

    t0 = time.perf_counter()
    # The real side is the same for every model: cached beside the prepared dataset.
    real_a, real_b = real_stats(net, real, count, device, cache_dir=prepared.folder)
    fake = feature_stats(net, uint8_batches(generated_images(model, count, 10_000_000), 50, device))
    fd, floor = frechet_distance(fake, real_a), frechet_distance(real_b, real_a)
    fd_seconds = time.perf_counter() - t0

    args.out.mkdir(parents=True, exist_ok=True)
    for psi in (1.0, 0.7):
        save_png(args.out / f"samples_psi{psi:.1f}.png", image_grid(generate_images(model, range(32), psi=psi), 8))
    coarse = [1.0 if r <= 8 else 0.0 for r in model.info.ws_resolutions]
    save_png(args.out / "mixing_coarse.png", mixing_grid(model, list(range(5)), list(range(100, 105)), coarse, psi=0.8))

    train_flat = real[: min(len(real), 20000)].reshape(min(len(real), 20000), -1).astype(np.float32)
    samples = generate_images(model, range(8), psi=1.0)
    nearest = []
    for img in samples:
        d = np.sqrt(((train_flat - np.transpose(img, (2, 0, 1)).reshape(1, -1)) ** 2).mean(axis=1))
        nearest.append((float(d.min()), int(d.argmin())))
    rng = np.random.default_rng(0)
    pairs = rng.integers(0, len(train_flat), (200, 2))
    typical = float(np.median([np.sqrt(((train_flat[a] - train_flat[b]) ** 2).mean()) for a, b in pairs if a != b]))
    save_png(args.out / "nearest_training_images.png", image_grid(np.concatenate(
        [samples, np.stack([np.transpose(real[j], (1, 2, 0)) for _, j in nearest])]), 8))

    rows = [dict(metric="FD-Lite0 generated vs real", value=round(fd, 3), images=f"{count} vs {count}"),
            dict(metric="FD-Lite0 real half vs real half (floor)", value=round(floor, 3), images=f"{count} vs {count}"),
            dict(metric="nearest-train RMS distance (8 samples, median)",
                 value=round(float(np.median([d for d, _ in nearest])), 2), images="0-255 scale"),
            dict(metric="typical train-train RMS distance (median)", value=round(typical, 2), images="0-255 scale")]
    print_table(rows, ["metric", "value", "images"])
    attributes = []
    if args.attribute_count and (Path(args.data) / "manifest.json").is_file():
        results = attribute_check(args.data, generated_images(model, args.attribute_count, 20_000_000))
        attributes = [dict(attribute=r.name, classifier_acc=round(r.accuracy, 3), tv=round(r.tv_distance, 3),
                           worst=r.worst_class(), real=round(r.real[r.worst_class()], 3),
                           generated=round(r.generated[r.worst_class()], 3)) for r in results]
        print_table(attributes, ["attribute", "classifier_acc", "tv", "worst", "real", "generated"])
    print_json_line("model_quality", {"checkpoint": str(args.checkpoint), "fd_lite0": fd, "fd_floor": floor,
                                      "count": count, "fd_seconds": round(fd_seconds, 1),
                                      "nearest_rms": [d for d, _ in nearest], "typical_rms": typical,
                                      "attributes": attributes})


if __name__ == "__main__":
    main()
