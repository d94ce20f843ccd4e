"""`stylegan-explorer video CKPT --seeds 0,5,9 --out walk.mp4`: latent walks, direction sweeps and
StyleGAN3 camera moves as MP4, GIF or numbered PNGs.

Keyframes come from lists: `--seeds`, `--translate-path`, `--rotate-path` and `--sweep` (which
gives two: FROM and TO). Each list has one entry (the same for every keyframe) or as many as the
longest list, so `--seeds 4 --sweep pca:0:-3:+3` sweeps one seed, `--seeds 0,5,9` walks three,
and `--seeds 2 --translate-path 0,0:0.3,0:0.3,0.3` pans a StyleGAN3 picture.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from explorer.cli_values import finite_float, int_in, parse_pair, parse_seeds
from explorer.cli.options import add_device, check_against_model
from explorer.errors import InputError
from explorer.video.encode import GIF_MAX_FPS, MAX_FPS

MAX_KEYS = 10_000
EDIT_HELP = "SET:INDEX:STRENGTH[:ROWS]"
SWEEP_SYNTAX = "SET:INDEX:FROM:TO[:ROWS], e.g. pca:0:-3:+3:0-5"


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "video", help="render a latent walk, direction sweep or StyleGAN3 camera move to MP4/GIF/PNGs",
        description="Keyframes from --seeds, --sweep, --translate-path and --rotate-path (each list has one "
                    "entry or as many as the longest); frames between them are interpolated.")
    p.add_argument("checkpoint", help="file, URL or published model name")
    p.add_argument("--seeds", default="0", help="keyframe seeds in order, e.g. 0,5,9 or 0-3 (repeats allowed)")
    p.add_argument("--frames-per-key", type=int_in(1, 100_000), default=60,
                   help="frames from one keyframe to the next (default %(default)s)")
    p.add_argument("--psi", type=finite_float, default=1.0,
                   help="truncation psi (default 1: none; 0.7 gives cleaner, less varied pictures)")
    p.add_argument("--cutoff", type=int_in(0), default=None, help="truncate only the first K W+ rows")
    p.add_argument("--class", dest="class_idx", type=int_in(0), default=None, help="class for conditional models")
    p.add_argument("--noise-mode", default="const", choices=["const", "random", "none"])
    p.add_argument("--space", default="w", choices=["w", "z"],
                   help="interpolate in W+ (lerp) or in Z (slerp of the seeds' z, then mapped)")
    p.add_argument("--ease", default="smooth", choices=["smooth", "linear"],
                   help="smooth: slow in and out at each keyframe; linear: constant speed")
    p.add_argument("--loop", action="store_true", help="return to the first keyframe (a seamless loop)")
    p.add_argument("--sweep", default=None, metavar="SET:INDEX:FROM:TO[:ROWS]",
                   help="move along a direction from FROM to TO sigmas, e.g. pca:0:-3:+3:0-5 (SET as for --edit)")
    p.add_argument("--edit", action="append", default=[], metavar=EDIT_HELP,
                   help="a direction edit on every keyframe, e.g. pca:3:+2.0:0-5 (repeatable)")
    p.add_argument("--translate-path", default=None, metavar="X,Y:X,Y...",
                   help="StyleGAN3 input translation per keyframe, e.g. 0,0:0.5,0:0.5,0.5 "
                        "(starting with a minus: --translate-path=-0.5,0:0,0)")
    p.add_argument("--rotate-path", default=None, metavar="DEG:DEG...",
                   help="StyleGAN3 input rotation per keyframe in degrees, e.g. 0:90:180")
    p.add_argument("--fps", type=int_in(1, MAX_FPS), default=30,
                   help=f"frames per second (GIF: at most {GIF_MAX_FPS})")
    p.add_argument("--size", type=int_in(16, 4096), default=None,
                   help="side of the video in pixels (default: the model's resolution); frames are "
                        "rendered at the model's resolution and scaled with Lanczos")
    p.add_argument("--batch", type=int_in(1, 256), default=None,
                   help="frames per generator call (default: 8 on a GPU, 1 on a CPU, where batches are no faster)")
    p.add_argument("--out", required=True, help="walk.mp4, walk.gif, or a folder for numbered PNG frames")
    p.add_argument("--force", action="store_true", help="overwrite an existing file (or frames) at --out")
    add_device(p, "run the generator")
    return p


def parse_sweep(text: str) -> tuple[str, str]:
    """SET:INDEX:FROM:TO[:ROWS] -> the two --edit strings of its ends (checked like --edit)."""
    from explorer.directions.edits import check_edit
    parts = text.rsplit(":", 4)
    if len(parts) == 5 and _numbers(parts[1:4]):
        name, index, lo, hi, rows = parts
    else:
        parts = text.rsplit(":", 3)
        if len(parts) != 4 or not _numbers(parts[1:4]):
            raise InputError(f"bad --sweep {text!r}: use {SWEEP_SYNTAX}")
        (name, index, lo, hi), rows = parts, ""
    ends = tuple(f"{name}:{index}:{value}" + (f":{rows}" if rows else "") for value in (lo, hi))
    for edit in ends:
        check_edit(edit)
    return ends


def parse_angle(text: str) -> float:
    """One --rotate-path keyframe in degrees."""
    import math
    try:
        value = float(text)
    except ValueError:
        raise InputError(f"--rotate-path takes degrees separated by ':' like 0:90:180, not {text!r}") from None
    if not math.isfinite(value):
        raise InputError(f"--rotate-path values must be finite numbers, not {text!r}")
    return value


def _numbers(texts: list[str]) -> bool:
    try:
        int(texts[0])
        [float(t) for t in texts[1:]]
    except ValueError:
        return False
    return True


def keyframe_count(lists: dict[str, list]) -> int:
    """The longest list's length; every other list must have one entry or that many."""
    count = max(len(v) for v in lists.values())
    for flag, values in lists.items():
        if len(values) not in (1, count):
            longest = next(f for f, v in lists.items() if len(v) == count)
            raise InputError(f"{flag} gives {len(values)} keyframes but {longest} gives {count}; "
                             f"give one value or {count}")
    if count < 2:
        raise InputError("a video needs at least two keyframes: give several --seeds, a --sweep, "
                         "or a --translate-path / --rotate-path")
    return count


def _at(values: list, i: int):
    return values[0] if len(values) == 1 else values[i]


def run(args: argparse.Namespace) -> int:
    import explorer
    from explorer.devices import resolve_device
    from explorer.directions.edits import check_edit
    from explorer.fileio import remove_stale_temp_files
    from explorer.latent.state import LatentState
    from explorer.outputs import check_output_file, check_output_folder
    from explorer.video import ExportSettings, PathSource, VideoPath, borrow_model, export_video, output_format
    from explorer.video.encode import check_settings, frame_name

    # Everything that can be checked without the model is checked before loading it.
    seeds = parse_seeds(args.seeds, repeats=True, limit=MAX_KEYS, what="keyframes")
    translates = [parse_pair(t, "each --translate-path point (X,Y pairs separated by :)")
                  for t in (args.translate_path or "0,0").split(":")]
    rotates = [parse_angle(t) for t in (args.rotate_path or "0").split(":")]
    sweep = parse_sweep(args.sweep) if args.sweep else None
    for text in args.edit:
        check_edit(text)
    lists = {"--seeds": seeds, "--translate-path": translates, "--rotate-path": rotates}
    if sweep is not None:
        lists["--sweep"] = list(sweep)
    count = keyframe_count(lists)
    frames = (count if args.loop else count - 1) * args.frames_per_key + (0 if args.loop else 1)
    out, fmt = Path(args.out), output_format(args.out)
    check_settings(fmt, args.fps, args.size or 16, frames)
    if fmt == "frames":
        check_output_folder(out, [frame_name(i) for i in range(frames)], args.force, inputs=[Path(args.checkpoint)])
    else:
        check_output_file(out, args.force, inputs=[Path(args.checkpoint)])
    remove_stale_temp_files(out if fmt == "frames" else out.parent)

    model = explorer.load(args.checkpoint, device=resolve_device(args.device), progress=True)
    model.class_vector(args.class_idx)
    check_against_model(model, args.cutoff, any(t != (0.0, 0.0) for t in translates) or any(r != 0 for r in rotates),
                        "--translate-path and --rotate-path")
    library, edits, ends = None, (), None
    if args.edit or sweep:
        from explorer.directions import edits_from_args
        all_edits, library = edits_from_args(model, [*args.edit, *(sweep or ())])
        edits, ends = all_edits[:len(args.edit)], all_edits[len(args.edit):]
    base = LatentState(psi=args.psi, cutoff=args.cutoff, class_idx=args.class_idx, noise_mode=args.noise_mode)
    keys = [base.replace(seed=_at(seeds, i), translate=_at(translates, i), rotate=float(_at(rotates, i)),
                         edits=edits + ((_at(list(ends), i),) if ends else ()))
            for i in range(count)]
    path = VideoPath.uniform(keys, args.frames_per_key, space=args.space, easing=args.ease, loop=args.loop)
    settings = ExportSettings(fps=args.fps, size=args.size, batch_size=args.batch)
    size = args.size or model.resolution
    print(f"{path.frame_count} frames ({path.frame_count / args.fps:.1f} s at {args.fps} fps), "
          f"{count} keyframes, {size} px {fmt}", file=sys.stderr, flush=True)
    with ProgressBar(path.frame_count) as bar:
        result = export_video(borrow_model(model), PathSource(path), out, fmt, settings, library,
                              overwrite=args.force, report=bar)
    print(f"wrote {result.path}: {result.frames} frames, {result.size} px, {result.fps} fps; "
          f"render {result.render_seconds:.1f} s, encode {result.encode_seconds:.1f} s")
    return 0


class ProgressBar:
    """A tqdm bar over frames on stderr, fed by the exporter's `Progress` reports."""

    def __init__(self, total: int) -> None:
        from tqdm import tqdm
        self._bar = tqdm(total=total, unit="frame", file=sys.stderr, dynamic_ncols=True, mininterval=0.5)

    def __call__(self, progress) -> None:
        self._bar.update(progress.step - self._bar.n)

    def __enter__(self) -> "ProgressBar":
        return self

    def __exit__(self, *exc) -> None:
        self._bar.close()
