"""`stylegan-explorer directions CKPT --method pca|sefa|kmeans|svm`: compute, cache and export a set.

The set is cached for the model (so the app and `generate --edit` find it by name) and, with
--out, also written as a .npz to share. Progress prints every tenth of the work.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from explorer.cli.options import add_device
from explorer.cli_values import int_in, seed_value
from explorer.directions.directionset import METHODS, DirectionSet
from explorer.jobs import Progress

SHOWN_DIRECTIONS = 10
MAX_SAMPLES = 10_000_000


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "directions", help="find latent directions to edit with (PCA, SeFa, k-means, attribute SVM)",
        description="Compute a direction set for a model and cache it under its content hash; "
                    "edits then refer to it by name (generate --edit NAME:INDEX:STRENGTH[:ROWS]).")
    p.add_argument("checkpoint", help="file, URL or published model name")
    p.add_argument("--method", required=True, choices=METHODS,
                   help="pca: GANSpace; sefa: closed-form from style weights; kmeans: centres of W; "
                        "svm: InterFaceGAN attribute directions from --labels")
    p.add_argument("--name", default="", help="set name (default: the method's name)")
    p.add_argument("--samples", type=int_in(1, MAX_SAMPLES), default=100_000, help="w samples to fit on (default %(default)s)")
    p.add_argument("--components", type=int_in(1), default=None,
                   help="directions to keep, or clusters for kmeans (default 64; 16 for kmeans)")
    p.add_argument("--sigma-samples", type=int_in(2, MAX_SAMPLES), default=10_000,
                   help="fresh w samples measuring each direction's sigma (default %(default)s)")
    p.add_argument("--layers", default=None,
                   help="W+ rows A-B (inclusive) or coarse/middle/fine: what SeFa factorises and "
                        "what edits touch by default (default: all)")
    p.add_argument("--labels", default="",
                   help="svm: a CSV (seed or latent column + attribute columns) or a dataset folder "
                        "with manifest.json")
    p.add_argument("--attribute", action="append", default=[],
                   help="svm: attribute to learn (repeatable; default every CSV column). With a "
                        "manifest: NAME (present or not) or NAME=VALUE")
    p.add_argument("--condition", action="append", default=[],
                   help="svm: make the other directions orthogonal to this attribute's (repeatable)")
    p.add_argument("--labelled-seeds", type=int_in(1, MAX_SAMPLES), default=2000,
                   help="svm with a manifest: generated seeds its classifier labels (default %(default)s)")
    p.add_argument("--seed", type=seed_value, default=0, help="random seed for sampling (default 0)")
    p.add_argument("--class", dest="class_idx", type=int_in(0), default=None,
                   help="class for conditional models (default: classes drawn at random)")
    p.add_argument("--cache-dir", default=None, help="direction cache folder (default: the user cache)")
    p.add_argument("--out", default=None, help="also export the set to this .npz file")
    p.add_argument("--force", action="store_true", help="overwrite an existing --out file")
    add_device(p, "run the mapping network")
    return p


class ProgressPrinter:
    """A `report` callback printing a line whenever progress crosses another tenth or the phase changes."""

    def __init__(self) -> None:
        self.printed = 0
        self._last: tuple[int, str] | None = None

    def __call__(self, p: Progress) -> None:
        key = (int(10 * p.fraction), p.message)
        if key != self._last:
            self._last = key
            self.printed += 1
            print(f"{100 * p.fraction:5.1f}%  {p.message}", flush=True)


def describe(s: DirectionSet) -> list[str]:
    start, end = s.layer_range
    rows = "all W+ rows" if (start, end) == (0, None) else (
        f"W+ rows {start}-" if end is None else f"W+ rows {start}-{end - 1}")
    lines = [f"{s.name}: {s.count} {s.method} directions, w_dim {s.w_dim}, edits {rows} by default"]
    for i in range(min(s.count, SHOWN_DIRECTIONS)):
        ev = "" if s.explained_variance is None else f"  explained {100 * s.explained_variance[i]:5.2f}%"
        lines.append(f"  {i:>3}  {s.labels[i]:<24} sigma {s.sigmas[i]:.4f}{ev}")
    if s.count > SHOWN_DIRECTIONS:
        lines.append(f"  ... {s.count - SHOWN_DIRECTIONS} more")
    accuracy = s.metadata.get("accuracy")
    if accuracy:
        lines.append("  SVM held-out accuracy: " + ", ".join(
            f"{a} {'n/a' if v is None else f'{100 * v:.1f}%'}" for a, v in accuracy.items()))
    return lines


def _cached_params(cache, model_hash: str, name: str) -> dict | None:
    """The settings of the set already cached under `name` ({} when it records none, e.g. one
    imported from another tool's file); None when there is none, or it is unreadable."""
    from explorer.errors import ExplorerError
    try:
        cached = cache.load(model_hash, name)
    except ExplorerError:
        return None
    return None if cached is None else dict(cached.metadata.get("params") or {})


def run(args: argparse.Namespace) -> int:
    import explorer
    from explorer.devices import resolve_device
    from explorer.directions.cache import DirectionCache
    from explorer.directions.compute import DirectionSpec, cached_direction_set
    from explorer.errors import InputError
    from explorer.directions.directionset import save_direction_set
    from explorer.directions.cache import check_set_name
    from explorer.directions.compute import check_spec_fits
    from explorer.directions.layers import parse_layer_range
    from explorer.outputs import check_output_file, check_writable_folder

    check_set_name(args.name or args.method)
    if args.out:
        inputs = [Path(args.checkpoint)] + ([Path(args.labels)] if args.labels else [])
        check_output_file(Path(args.out), args.force, inputs)
    if args.cache_dir:
        check_writable_folder(Path(args.cache_dir), "--cache-dir")
    model = explorer.load(args.checkpoint, device=resolve_device(args.device), progress=True)
    components = args.components or (16 if args.method == "kmeans" else min(64, model.w_dim))
    layers = (0, None) if args.layers is None else parse_layer_range(args.layers, model)
    spec = DirectionSpec(method=args.method, name=args.name, samples=args.samples,
                         components=components, sigma_samples=args.sigma_samples, seed=args.seed,
                         class_idx=args.class_idx, layers=layers, labels=args.labels,
                         attributes=tuple(args.attribute), condition=tuple(args.condition),
                         labelled_seeds=args.labelled_seeds)
    check_spec_fits(model, spec)
    cache = DirectionCache(args.cache_dir)
    print(f"{args.method} directions for {Path(args.checkpoint).name} "
          f"(model {model.info.content_hash})", flush=True)
    earlier = _cached_params(cache, model.info.content_hash, spec.set_name)
    printer = ProgressPrinter()
    s = cached_direction_set(model, spec, cache, report=printer)
    print("\n".join(describe(s)))
    where = cache.path(s.model_hash, s.name)
    print(f"cached as {where}" if printer.printed else f"reused the cached set {where}")
    now = s.metadata.get("params") or {}
    if earlier is not None and earlier != now:
        changed = ", ".join(f"{k} {earlier.get(k, '?')} -> {now.get(k, '?')}" for k in sorted({*earlier, *now})
                            if earlier.get(k) != now.get(k))
        print(f"this replaced the set {s.name!r} cached earlier with other settings ({changed}); the app and "
              f"`generate --edit {s.name}:...` now use this one (`--name` keeps sets side by side)")
    if args.out:
        try:
            save_direction_set(s, args.out, overwrite=args.force)
        except FileExistsError:
            raise InputError(f"{args.out} appeared while computing; pass --force to overwrite it") from None
        print(f"exported to {args.out}")
    return 0
