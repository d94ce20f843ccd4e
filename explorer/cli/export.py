"""`stylegan-explorer export SOURCE OUT`: write a model as one of our safe `.safetensors` files.

One home for two jobs users otherwise script by hand: turning a training snapshot (hundreds of
MB with optimiser state) into a small model file to share or ship, with its average G_ema or its
raw G; and converting any checkpoint the app opens (NVlabs pickles, rosinality `.pt`, a URL or a
published name) into a file that loads without unpickling anything.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from explorer.errors import InputError

DTYPES = ("same", "float32", "float16")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="write a snapshot or any checkpoint as a small, safe .safetensors model")
    p.add_argument("source", help="training snapshot, checkpoint file, URL or published model name")
    p.add_argument("out", help="the .safetensors file to write")
    p.add_argument("--weights", choices=("G_ema", "G"), default="G_ema",
                   help="a training snapshot's generator to export: its running average G_ema (default, "
                        "what the app shows) or the raw G, which can lead the average in a short fine-tune")
    p.add_argument("--dtype", choices=DTYPES, default="same",
                   help="same (default): the source's precision, so the weights, and the model's content "
                        "hash that cached directions are found by, stay exactly as they are (a float16 file "
                        "stays float16; snapshots and other formats are float32); float16 halves a float32 "
                        "file (loading casts back to float32); float32 doubles a float16 one, changing nothing")
    p.add_argument("--no-discriminator", action="store_true",
                   help="leave D out (smaller; projection then has no D features and training cannot "
                        "continue from the file)")
    p.add_argument("--force", action="store_true", help="overwrite an existing file at OUT")


def run(args: argparse.Namespace) -> int:
    import torch

    import explorer
    from explorer.outputs import check_output_file
    from explorer.train.snapshot import snapshot_model, trained_kimg

    out = Path(args.out)
    if out.suffix != ".safetensors":
        raise InputError(f"OUT must end in .safetensors (the format export writes), not {out.name!r}")
    source = Path(args.source)
    if args.weights == "G" and not source.is_file():
        raise InputError(f"--weights G reads a raw G from a local training snapshot; {args.source} is not a file")
    local = _local_input(args.source)
    check_output_file(out, args.force, inputs=[local], flag="OUT")

    if args.weights == "G":
        model = snapshot_model(source, "G")
    else:
        model = explorer.load(args.source, progress=True)
    dtype = args.dtype
    if dtype == "same":
        from explorer.checkpoints.safetensors_format import stored_precision
        dtype = stored_precision(local) or "float32"  # a download of `source` is cached at `local` now
    explorer.save(model, out, include_discriminator=not args.no_discriminator, dtype=getattr(torch, dtype))
    kimg = trained_kimg(model.info.extra)
    trained = f", trained {kimg:.3f} kimg" if kimg is not None else ""
    has_d = model.discriminator is not None and not args.no_discriminator
    print(f"exported {args.weights} of {args.source}{trained} "
          f"-> {out} ({_size(out.stat().st_size)}, {dtype}, "
          f"{'with' if has_d else 'without'} discriminator)")
    return 0


def _local_input(source: str) -> Path:
    """The file behind SOURCE, a URL's or published name's cached download included, so that
    OUT can never replace it."""
    from explorer.checkpoints.remote import local_checkpoint
    from explorer.errors import ExplorerError
    try:
        return local_checkpoint(source, download=False)
    except ExplorerError:  # not downloaded yet: nothing local to protect
        return Path(source)


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n / 1e3:.1f} kB"
