"""The `train` and `dataset` subcommands: argument parsing and the glue to the library.

`explorer.cli.main` registers these with `add_parser(subparsers)` and dispatches to `run(args)`;
`torchrun -m explorer train ...` starts one trainer per device the same way.

    stylegan-explorer train --data DIR --out RUN [--resolution R] [--kimg K] [--batch B] [--resume]
    stylegan-explorer dataset avatars --count N --resolution R --out DIR [--seed S]
    stylegan-explorer dataset prepare DATA [--resolution R]

The first Ctrl-C (or SIGTERM) asks the trainer to stop after the current step and write a
final snapshot; a second Ctrl-C interrupts at once.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from dataclasses import asdict, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from explorer.errors import ExplorerError
from explorer.train.arguments import check_dataset_args, check_train_args
from explorer.train.resume import absolute_paths, resumed_config

if TYPE_CHECKING:
    from explorer.train.config import TrainConfig


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Add `train` and `dataset` to the top-level subcommand parsers."""
    p = subparsers.add_parser("train", help="train a StyleGAN2 generator on a folder or zip of images",
                              description="Train StyleGAN2 on a folder or zip of images. Unset values "
                              "are chosen from the resolution (NVIDIA's auto configuration).")
    p.add_argument("--data", help="folder or zip of images (optional with --resume)")
    p.add_argument("--out", required=True, help="run folder: config, metrics, samples, snapshots")
    p.add_argument("--resume", action="store_true", help="continue from the newest snapshot in --out")
    p.add_argument("--resolution", type=int, help="train at R x R (power of two; default from the data)")
    p.add_argument("--kimg", type=float, help="length of training in thousands of images (default 5000)")
    p.add_argument("--batch", type=int, help="total batch size (default by resolution)")
    p.add_argument("--gamma", type=float, help="R1 weight (default 0.0002 * R^2 / batch)")
    p.add_argument("--lr", type=float,
                   help="Adam learning rate (default 0.0025); a resume may change it, e.g. lower it to anneal "
                        "a run at its end")
    p.add_argument("--pl-weight", dest="pl_weight", type=float,
                   help="path-length penalty weight (default 2; 0 turns it off, e.g. for short runs)")
    p.add_argument("--ema-kimg", dest="ema_kimg", type=float,
                   help="half-life of G_ema, the average of G that samples and exports come from, in kimg "
                   "(default batch x 10/32; a low --lr fine-tune wants a shorter one, since G then moves "
                   "little per step and a long average lags behind it); may change on --resume")
    p.add_argument("--mixing", dest="style_mixing", type=float,
                   help="style-mixing probability in training (default 0.9)")
    p.add_argument("--cbase", dest="channel_base", type=int, help="channel base (default 16384)")
    p.add_argument("--cmax", dest="channel_max", type=int, help="max channels per layer (default 512)")
    p.add_argument("--z-dim", dest="z_dim", type=int, help="z and w dimensions (default 512)")
    p.add_argument("--map", dest="map_layers", type=int, help="mapping network depth (default 2)")
    p.add_argument("--mirror", action="store_true", default=None, help="add x-flipped copies of the images")
    p.add_argument("--cond", action="store_true", default=None, help="condition on the dataset.json labels")
    p.add_argument("--aug", dest="augment", choices=["ada", "fixed", "none"], help="augmentation (default ada)")
    p.add_argument("--aug-p", dest="augment_p", type=float, help="initial (ada) or fixed augmentation probability")
    p.add_argument("--target", dest="ada_target", type=float, help="ADA target for E[sign(D(real))] (default 0.6)")
    p.add_argument("--tick", dest="tick_kimg", type=float, help="kimg between progress lines/metrics (default 4)")
    p.add_argument("--sample-every", dest="sample_kimg", type=float, help="kimg between sample grids (default 40)")
    p.add_argument("--snap", dest="snap_kimg", type=float, help="kimg between snapshots (default 100)")
    p.add_argument("--seed", type=int, help="random seed (default 0)")
    p.add_argument("--amp", action=argparse.BooleanOptionalAction, default=None,
                   help="mixed precision (default: on with CUDA; never used without CUDA)")
    p.add_argument("--fused-kernels", dest="fused_kernels", action=argparse.BooleanOptionalAction, default=None,
                   help="use our fused CUDA kernels once they pass their self-check on this GPU (default on)")
    p.add_argument("--workers", type=int, help="data loader processes (default 2)")
    p.add_argument("--cache-dir", dest="cache_dir", help="where preprocessed datasets are kept")
    p.add_argument("--device", choices=["auto", "cpu", "cuda", "mps"], help="default auto")
    p.add_argument("--init-from", dest="init_from", metavar="MODEL",
                   help="start from a trained model file (G_ema as G, and its D) instead of random "
                   "weights; the architecture comes from the file")
    p.add_argument("--time-budget", dest="time_budget", type=parse_duration, metavar="DURATION",
                   help="stop cleanly, with a final snapshot, after this much wall-clock time "
                   "(e.g. 90s, 8m, 2h30m; plain numbers are seconds)")
    p.add_argument("--force", action="store_true", help="with --resume: go on although flags or the "
                   "folder's config.json disagree with the run (the stored settings are used)")

    d = subparsers.add_parser("dataset", help="build or preprocess training datasets")
    dsub = d.add_subparsers(dest="dataset_command", metavar="ACTION", required=True)
    a = dsub.add_parser("avatars", help="render DiceBear Lorelei avatars (CC0) as a face dataset")
    a.add_argument("--count", type=int, required=True, help="how many avatars (the shipped model used 30000)")
    a.add_argument("--resolution", type=int, default=64, help="image size, a power of two (default 64)")
    a.add_argument("--out", required=True, help="output folder")
    a.add_argument("--seed", type=int, default=0,
                   help="which avatars (default 0; another seed gives images a model trained on seed 0 never saw)")
    a.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    a.add_argument("--force", action="store_true", help="render into a folder that already holds a dataset")
    r = dsub.add_parser("prepare", help="preprocess a folder or zip into the training cache; print its manifest")
    r.add_argument("data")
    r.add_argument("--resolution", type=int)
    r.add_argument("--cache-dir", dest="cache_dir")
    r.add_argument("--workers", type=int, default=1)


def parse_duration(text: str) -> float:
    """Seconds in "90", "90s", "8m", "1h30m" or "1.5h"; argparse shows the ValueError as a usage error."""
    units = {"h": 3600.0, "m": 60.0, "s": 1.0}
    rest, total = text.strip().lower(), 0.0
    try:
        if rest and rest[-1].isdigit():
            total, rest = float(rest), ""
        while rest:
            end = next(i for i, ch in enumerate(rest) if ch in units)
            total += float(rest[:end]) * units[rest[end]]
            rest = rest[end + 1:]
    except (StopIteration, ValueError):
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (try 90s, 8m or 2h30m)") from None
    if not total > 0 or total == float("inf"):
        raise argparse.ArgumentTypeError(f"the duration must be positive: {text!r}")
    return total


def run(args: argparse.Namespace) -> int:
    """Run `train` or `dataset` for parsed arguments; returns the exit status."""
    if args.command == "train":
        return run_train(args)
    check_dataset_args(args)
    if args.dataset_command == "avatars":
        return run_avatars(args)
    return run_prepare(args)


def train_config(args: argparse.Namespace) -> "TrainConfig":
    """The config a `train` invocation asks for: the stored one when resuming, else the flags."""
    from explorer.train.config import TrainConfig
    given = {f.name: getattr(args, f.name) for f in fields(TrainConfig)
             if getattr(args, f.name, None) is not None}
    if "z_dim" in given:
        given["w_dim"] = given["z_dim"]
    stored = Path(args.out) / "config.json"
    if args.resume and stored.is_file():
        return resumed_config(args.out, given, force=bool(getattr(args, "force", False)))
    if not args.data:
        raise ExplorerError("--data is required (unless --resume finds a run in --out)")
    if args.init_from:
        from explorer.train.init_from import architecture_settings
        given.update(architecture_settings(args.init_from, given))
        given["init_from"] = str(Path(args.init_from).expanduser().resolve())
    return TrainConfig(**given)


def run_train(args: argparse.Namespace) -> int:
    from explorer.train.loop import train
    check_train_args(args)
    cfg = absolute_paths(train_config(args))
    stop = threading.Event()
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    def request_stop(signum: int, frame: Any) -> None:
        print("stopping after this step (Ctrl-C again to abort)", file=sys.stderr, flush=True)
        stop.set()
        signal.signal(signal.SIGINT, signal.default_int_handler)

    for sig in previous:
        signal.signal(sig, request_stop)
    try:
        train(cfg, resume=args.resume, stop=stop, log=lambda line: print(line, flush=True),
              time_budget=args.time_budget)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


def run_avatars(args: argparse.Namespace) -> int:
    from explorer.train.avatars import build_avatars

    def progress(done: int, total: int) -> None:
        print(f"\rrendered {done}/{total}", end="" if done < total else "\n", flush=True)

    manifest = build_avatars(args.out, args.count, args.resolution, seed=args.seed,
                             workers=args.workers, progress=progress)
    with_glasses = sum(1 for img in manifest["images"] if img["glasses"] is not None)
    print(f"wrote {manifest['count']} avatars ({with_glasses} with glasses) to {args.out}")
    return 0


def run_prepare(args: argparse.Namespace) -> int:
    from explorer.train.dataset import prepare_dataset
    prepared = prepare_dataset(args.data, args.resolution, args.cache_dir, workers=args.workers)
    print(json.dumps({**asdict(prepared.manifest), "cache": str(prepared.folder)}, indent=2))
    return 0
