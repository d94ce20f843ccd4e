"""Projection quality against steps: NVIDIA's recipe against ours, and each loss on the same images.

    python bench/projection.py [--checkpoint PATH] [--images DIR] [--generated 4] [--drawn 2]
                               [--baseline-steps 250,1000] [--steps 100,250]
                               [--losses default] [--baseline-loss same] [--threads 1]

Targets: images the model drew from held-out seeds (they have an exact answer), procedurally
drawn shapes and the two photos scikit-learn ships (outside the model), and the images of a folder
(`--images`, the group "given": e.g. a dataset seed the model never saw).
Each (method, step budget) is its own run, since a schedule depends on its length. Reported per
target group: PSNR and SSIM of the 8-bit reconstruction, the discriminator-feature distance (when
the checkpoint has a D) and seconds per step. The question it answers: does our default reach
the baseline's 1000-step quality within 250 steps?
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import print_json_line, print_table  # noqa: E402
import explorer  # noqa: E402
from explorer.devices import resolve_device  # noqa: E402
from explorer.imageinput import load_image  # noqa: E402
from explorer.model import Model, to_uint8  # noqa: E402
from explorer.project import ProjectionConfig, Projector  # noqa: E402
from explorer.project.losses.discriminator import DiscriminatorFeatureLoss  # noqa: E402
from explorer.project.metrics import uint8_to_tensor  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHIPPED_MODEL = REPO / "assets" / "model.safetensors"
FIXTURE_MODEL = REPO.parent / "shared" / "fixtures" / "sg2_32" / "network-snapshot.pkl"
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp"}
HELD_OUT_SEED = 100_000  # far from the seeds anyone browses or trains with


def choose_checkpoint(path: str | None) -> Path:
    for candidate in ([Path(path)] if path else [SHIPPED_MODEL, FIXTURE_MODEL]):
        if candidate.is_file():
            return candidate
    raise SystemExit("no model: pass --checkpoint (neither assets/model.safetensors nor the fixture exists)")


def generated_targets(model: Model, count: int) -> list[np.ndarray]:
    if count <= 0:
        return []
    ws = model.map(torch.cat([model.z_from_seed(HELD_OUT_SEED + i) for i in range(count)]),
                   model.class_vector(0, count) if model.c_dim else None)
    return list(to_uint8(model.synthesize(ws)))


def drawn_targets(resolution: int, channels: int, count: int) -> list[np.ndarray]:
    """Gradient backgrounds with a few random ellipses and boxes: plainly not from the model."""
    rng = np.random.default_rng(7)
    out = []
    for _ in range(count):
        side = 256
        ramp = np.linspace(0, 1, side)[None, :, None]
        a, b = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
        img = Image.fromarray(((1 - ramp) * a + ramp * b).repeat(side, 0).astype(np.uint8))
        draw = ImageDraw.Draw(img)
        for _ in range(4):
            x0, y0 = rng.integers(0, side - 64, 2)
            w, h = rng.integers(48, 160, 2)
            shape = draw.ellipse if rng.random() < 0.5 else draw.rectangle
            shape([int(x0), int(y0), int(x0 + w), int(y0 + h)], fill=tuple(int(v) for v in rng.integers(0, 256, 3)))
        img = img.resize((resolution, resolution), Image.Resampling.LANCZOS)
        out.append(np.asarray(img.convert("L" if channels == 1 else "RGB")).reshape(resolution, resolution, channels))
    return out


def photo_targets(resolution: int, channels: int) -> list[np.ndarray]:
    """scikit-learn's two sample photos."""
    from sklearn.datasets import load_sample_image
    out = []
    for name in ("china.jpg", "flower.jpg"):
        buf = io.BytesIO()
        Image.fromarray(load_sample_image(name)).save(buf, format="PNG")
        out.append(load_image(buf.getvalue(), resolution, channels).pixels)
    return out


def folder_targets(folder: str | None, resolution: int, channels: int) -> list[np.ndarray]:
    """Every image in `folder` (a dataset folder's JSON files and the like are passed over)."""
    paths = sorted(Path(folder).iterdir()) if folder else []
    return [load_image(path, resolution, channels).pixels for path in paths
            if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES]


def measure(model: Model, targets: list[np.ndarray], config: ProjectionConfig) -> dict[str, float]:
    psnrs, ssims, dfeats, step_seconds, steps, start_seconds = [], [], [], [], [], []
    for target in targets:
        result = Projector(model, target, config).run()
        psnrs.append(result.psnr)
        ssims.append(result.ssim)
        step_seconds.append(result.seconds / max(result.steps, 1))
        start_seconds.append(result.setup_seconds)
        steps.append(result.steps)
        if model.has_discriminator:
            d = DiscriminatorFeatureLoss(model.discriminator, uint8_to_tensor(target, model.device),
                                         model.class_vector(0) if model.c_dim else None)
            with torch.no_grad():
                dfeats.append(float(d(uint8_to_tensor(result.image, model.device))[0]))
    row = dict(psnr=round(statistics.mean(psnrs), 2), ssim=round(statistics.mean(ssims), 4),
               steps_run=round(statistics.mean(steps), 1), s_per_step=round(statistics.mean(step_seconds), 4),
               setup_s=round(statistics.mean(start_seconds), 2))
    if dfeats:
        row["dfeat"] = round(statistics.mean(dfeats), 4)
    return row


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", default=None)
    p.add_argument("--images", default=None, help="a folder of extra target images (their own group, 'given')")
    p.add_argument("--generated", type=int, default=4, help="targets drawn by the model (held-out seeds)")
    p.add_argument("--drawn", type=int, default=2, help="procedurally drawn targets")
    p.add_argument("--no-photos", action="store_true", help="skip scikit-learn's sample photos")
    p.add_argument("--baseline-steps", default="250,1000")
    p.add_argument("--steps", default="100,250", help="step budgets for our recipe")
    p.add_argument("--losses", default="default", help="comma-separated loss specs to run our recipe with")
    p.add_argument("--baseline-loss", default="same", help="loss for the NVlabs recipe ('same' = first of --losses)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    checkpoint = choose_checkpoint(args.checkpoint)
    model = explorer.load(checkpoint, device=resolve_device(args.device))
    r, ch = model.resolution, model.img_channels
    groups = {"generated": generated_targets(model, args.generated),
              "outside": drawn_targets(r, ch, args.drawn) + ([] if args.no_photos else photo_targets(r, ch)),
              "given": folder_targets(args.images, r, ch)}
    groups = {k: v for k, v in groups.items() if v}
    losses = args.losses.split(",")
    baseline_loss = losses[0] if args.baseline_loss == "same" else args.baseline_loss
    class_idx = 0 if model.c_dim else None
    runs = [("nvlabs", baseline_loss, ProjectionConfig.nvlabs(int(s), baseline_loss).replace(class_idx=class_idx))
            for s in args.baseline_steps.split(",") if s]
    runs += [("ours", loss, ProjectionConfig(steps=int(s), loss=loss, class_idx=class_idx))
             for loss in losses for s in args.steps.split(",") if s]
    rows = []
    for method, loss, config in runs:
        for group, targets in groups.items():
            row = dict(method=method, loss=loss, steps=config.steps, group=group, images=len(targets),
                       **measure(model, targets, config))
            rows.append(row)
            print(row, file=sys.stderr, flush=True)
    print(f"model: {checkpoint} ({model.architecture}, {r} px, D: {model.has_discriminator}), "
          f"device {args.device}, {args.threads} thread(s)")
    print_table(rows, ["method", "loss", "steps", "group", "images", "psnr", "ssim", "dfeat",
                       "steps_run", "s_per_step", "setup_s"])
    verdict = {}
    baseline_steps = [c.steps for m, _, c in runs if m == "nvlabs"]
    if baseline_steps:
        base = {x["group"]: x for x in rows if x["method"] == "nvlabs" and x["steps"] == max(baseline_steps)}
        for x in rows:
            if x["method"] == "ours" and x["loss"] == losses[0] and x["steps"] == 250 and x["group"] in base:
                b = base[x["group"]]
                verdict[x["group"]] = dict(psnr_gain_db=round(x["psnr"] - b["psnr"], 2),
                                           ssim_gain=round(x["ssim"] - b["ssim"], 4),
                                           ours250_matches_baseline=x["psnr"] >= b["psnr"] and x["ssim"] >= b["ssim"])
                print(f"{x['group']}: ours@250 vs nvlabs@{max(baseline_steps)}: {verdict[x['group']]}")
    print_json_line("projection", {"checkpoint": str(checkpoint), "threads": args.threads,
                                   "rows": rows, "verdict": verdict})


if __name__ == "__main__":
    main()
