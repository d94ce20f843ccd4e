"""`stylegan-explorer project CKPT IMAGE --out DIR`: projection from the command line.

Writes target.png (the cropped, resized input), reconstruction.png, projected_w.npz (NVIDIA's
layout) and progress.png (target | snapshots | final), printing a line every tenth of the run.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from explorer.cli.options import add_device
from explorer.cli_values import int_in, seed_value
from explorer.jobs import Progress
from explorer.project.config import SPACES, ProjectionConfig

SNAPSHOTS = 8
MAX_STEPS = 100_000
OUTPUTS = ("target.png", "reconstruction.png", "projected_w.npz", "progress.png")


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser("project", help="find the latent that reproduces an image (GAN inversion)")
    p.add_argument("checkpoint", help="file, URL or published model name")
    p.add_argument("image", help="any image Pillow opens; it is centre-cropped to a square")
    p.add_argument("--space", default="w+", choices=SPACES, help="w: one w for all layers; w+: one per layer")
    p.add_argument("--steps", type=int_in(1, MAX_STEPS), default=ProjectionConfig.steps,
                   help="optimisation steps (default %(default)s)")
    p.add_argument("--loss", default="default",
                   help="default, or a '+' list of l1, mse, msssim, dfeat, imagenet, each optionally *weight")
    p.add_argument("--fit-noise", action="store_true",
                   help="StyleGAN2: also fit the noise maps (closer fit; the latent alone no longer reproduces it)")
    p.add_argument("--class", dest="class_idx", type=int_in(0), default=None, help="class for conditional models")
    p.add_argument("--seed", type=seed_value, default=0, help="seed for sampling W and any random noise")
    add_device(p)
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--force", action="store_true", help="overwrite an earlier projection in --out")
    return p


def progress_strip(target: np.ndarray, snapshots: list[np.ndarray], final: np.ndarray, pad: int = 2) -> np.ndarray:
    """target | snapshots... | final in one row, separated by `pad` black columns."""
    from explorer.fileio import image_grid
    tiles = [target] + [s[..., :target.shape[2]] for s in snapshots] + [final]
    return image_grid(np.stack(tiles), cols=len(tiles), pad=pad)


def _printer(steps: int, snapshots: list[np.ndarray]):
    """A progress callback that prints every tenth of the run and keeps evenly spaced previews."""
    every = max(1, steps // 10)
    snap_every = max(1, steps // SNAPSHOTS)

    def on_progress(p: Progress) -> None:
        if p.preview is not None and p.step % snap_every == 0 and p.step < p.total:
            snapshots.append(p.preview[..., :3])
        if p.step == 0 or p.step % every == 0 or p.step == p.total:
            loss = "" if p.loss is None else f"  loss {p.loss:.4f}"
            print(f"step {p.step:>5}/{p.total}{loss}  {p.message}", flush=True)

    return on_progress


def run(args: argparse.Namespace) -> int:
    import explorer
    from explorer.devices import resolve_device
    from explorer.errors import InputError
    from explorer.fileio import remove_stale_temp_files, save_png
    from explorer.imageinput import load_image
    from explorer.outputs import check_output_folder
    from explorer.latent.npz import save_latent_npz
    from explorer.project.losses import parse_spec
    from explorer.project.projector import Projector

    image, out = Path(args.image), Path(args.out)
    load_image(image, 4)  # a missing, folder or unreadable picture fails before outputs and model
    check_output_folder(out, OUTPUTS, args.force, inputs=[Path(args.checkpoint), image])
    remove_stale_temp_files(out)
    model = explorer.load(args.checkpoint, device=resolve_device(args.device), progress=True)
    model.class_vector(args.class_idx)  # a class for an unconditional model, or none for a conditional one
    parse_spec(args.loss, model)
    loaded = load_image(args.image, model.resolution, model.img_channels)
    config = ProjectionConfig(space=args.space, steps=args.steps, loss=args.loss, seed=args.seed,
                              class_idx=args.class_idx, optimize_noise=args.fit_noise,
                              preview_every=max(1, args.steps // SNAPSHOTS))
    projector = Projector(model, loaded.pixels, config)
    print(f"projecting {Path(args.image).name} (crop {loaded.crop_box} of {loaded.source_size[0]}x"
          f"{loaded.source_size[1]}) into {args.space.upper()} of {Path(args.checkpoint).name}, "
          f"loss {projector.spec}, {args.steps} steps", flush=True)
    snapshots: list[np.ndarray] = []
    result = projector.run(on_progress=_printer(args.steps, snapshots))
    try:
        save_png(out / "target.png", loaded.pixels, overwrite=args.force)
        save_png(out / "reconstruction.png", result.image, overwrite=args.force)
        save_latent_npz(out / "projected_w.npz", result.ws, result.noise, overwrite=args.force)
        save_png(out / "progress.png", progress_strip(loaded.pixels, snapshots, result.image),
                 overwrite=args.force)
    except FileExistsError as e:
        raise InputError(f"{e.args[0] if e.args else out} appeared while projecting; pass --force "
                         "to overwrite it") from None
    early = " (stopped early on a plateau)" if result.stopped_early else ""
    print(f"done in {result.steps} steps{early}, {result.seconds + result.setup_seconds:.1f} s: "
          f"PSNR {result.psnr:.2f} dB, SSIM {result.ssim:.3f}, start {result.start}")
    print(f"wrote target.png, reconstruction.png, projected_w.npz and progress.png to {out}")
    return 0
