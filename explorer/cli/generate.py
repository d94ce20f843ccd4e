"""`stylegan-explorer generate CKPT --seeds 0-7 --out DIR`: render seeds to PNG files and a grid."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from explorer.cli.options import add_device, check_against_model
from explorer.cli_values import finite_float, int_in
from explorer.latent.state import LatentState
from explorer.model_inputs import NOISE_MODES

GRID_LIMIT = 64  # grid.png shows at most this many images, so memory does not grow with --seeds


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("generate", help="render seeds to PNG files and a grid")
    p.add_argument("checkpoint", help="file, URL or published model name")
    p.add_argument("--seeds", default="0-7", help="seed list, e.g. 0-7,12 (default 0-7; each below 2^32)")
    p.add_argument("--psi", type=finite_float, default=1.0,
                   help="truncation psi (default 1: none; 0.7 gives cleaner, less varied pictures)")
    p.add_argument("--cutoff", type=int_in(0), default=None, help="truncate only the first K W+ rows")
    p.add_argument("--class", dest="class_idx", type=int_in(0), default=None,
                   help="class for conditional models")
    p.add_argument("--noise-mode", default="const", choices=NOISE_MODES,
                   help="StyleGAN2 noise: the stored maps (const), fresh per seed (random) or none")
    p.add_argument("--translate", default="0,0", help="StyleGAN3 input translation X,Y")
    p.add_argument("--rotate", type=finite_float, default=0.0, help="StyleGAN3 input rotation in degrees")
    p.add_argument("--edit", action="append", default=[], metavar="SET:INDEX:STRENGTH[:ROWS]",
                   help="direction edit in sigmas, e.g. pca:3:+2.0:0-5 (repeatable; SET is a set "
                        "computed by `directions` for this model, or a .npz file)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--force", action="store_true", help="overwrite images already in --out")
    add_device(p, "run the generator")


def seed_file_name(seed: int) -> str:
    return f"seed{seed:04d}.png"


class ProgressLine:
    """Prints `done/total` at most once a second (and at the end), so long runs show they move."""

    def __init__(self, total: int, what: str, every: float = 1.0) -> None:
        self.total, self.what, self.every = total, what, every
        self.started = self.last = time.monotonic()

    def __call__(self, done: int) -> None:
        now = time.monotonic()
        if done == self.total or now - self.last >= self.every:
            self.last = now
            rate = done / max(now - self.started, 1e-9)
            print(f"{self.what} {done}/{self.total} ({rate:.1f}/s)", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    import explorer
    from explorer.devices import resolve_device
    from explorer.directions.edits import check_edit
    from explorer.fileio import image_grid, remove_stale_temp_files
    from explorer.cli_values import parse_pair, parse_seeds
    from explorer.engine.batch import iter_images
    from explorer.outputs import check_output_folder

    # Everything that can be checked without the model is checked before loading it.
    seeds = parse_seeds(args.seeds)
    translate = parse_pair(args.translate, "--translate")
    for text in args.edit:
        check_edit(text)
    out = Path(args.out)
    check_output_folder(out, [seed_file_name(s) for s in seeds] + ["grid.png"], args.force,
                        inputs=[Path(args.checkpoint)])

    remove_stale_temp_files(out)
    model = explorer.load(args.checkpoint, device=resolve_device(args.device), progress=True)
    model.class_vector(args.class_idx)  # a class for an unconditional model, or none for a conditional one
    check_against_model(model, args.cutoff, translate != (0.0, 0.0) or args.rotate != 0,
                        "--translate and --rotate")
    edits, library = (), None
    if args.edit:
        from explorer.directions import edits_from_args
        edits, library = edits_from_args(model, args.edit)

    progress = ProgressLine(len(seeds), "rendered")
    first: list[np.ndarray] = []
    images = iter_images(model, seeds, psi=args.psi, cutoff=args.cutoff, class_idx=args.class_idx,
                         noise_mode=args.noise_mode, translate=translate, rotate=args.rotate,
                         edits=edits, directions=library)
    for done, (seed, img, ws) in enumerate(images, 1):
        _save(out / seed_file_name(seed), img, args.force, _picture_state(args, model, seed, ws, edits, translate))
        if len(first) < GRID_LIMIT:
            first.append(img)
        progress(done)
    _save(out / "grid.png", image_grid(np.stack(first)), args.force)
    shown = "" if len(seeds) <= GRID_LIMIT else f" (the grid shows the first {GRID_LIMIT})"
    print(f"wrote {len(seeds)} image{'' if len(seeds) == 1 else 's'} and grid.png to {out}{shown}")
    return 0


def _picture_state(args: argparse.Namespace, model, seed: int, ws: np.ndarray, edits: tuple,
                   translate: tuple[float, float]) -> LatentState:
    """The state a PNG carries, so that the app opens it as this exact picture: the seed and its
    settings, or, when an edit's set came from a .npz file the app would not know by that name,
    the final W+ itself."""
    from explorer.directions.edits import is_set_file
    from explorer.latent.state import encode_latent
    common = dict(seed=seed, class_idx=args.class_idx, noise_mode=args.noise_mode, noise_seed=seed,
                  translate=translate, rotate=args.rotate, mix_weights=(0.0,) * model.num_ws)
    files = sorted({Path(e.direction_set).name for e in edits if is_set_file(e.direction_set)})
    if files:
        return LatentState(latent=encode_latent(ws), latent_label=f"seed {seed} edited along {', '.join(files)}",
                           **common)
    return LatentState(psi=args.psi, cutoff=args.cutoff, edits=edits, **common)


def _save(path: Path, image: np.ndarray, force: bool, state: LatentState | None = None) -> None:
    """Write a PNG (with `state` embedded, when given); without --force, never over a file that
    appeared since the check."""
    from explorer.errors import InputError
    from explorer.fileio import atomic_write_bytes, png_bytes
    from explorer.latent.png_state import state_png_bytes
    try:
        atomic_write_bytes(path, png_bytes(image) if state is None else state_png_bytes(image, state),
                           overwrite=force)
    except FileExistsError:
        raise InputError(f"{path} appeared while rendering; pass --force to overwrite it") from None
