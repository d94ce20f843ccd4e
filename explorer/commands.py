"""The `info` and `generate` subcommands: describe a checkpoint, render seeds to PNG files."""

from __future__ import annotations

import argparse
from pathlib import Path

from explorer.devices import DEVICE_CHOICES


def add_device(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="auto", choices=DEVICE_CHOICES,
                   help="where to run the generator (auto: cuda, else mps, else cpu)")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="describe a checkpoint")
    p.add_argument("checkpoint", help="file, URL or published model name")
    add_device(p)

    p = sub.add_parser("generate", help="render seeds to PNG files and a grid")
    p.add_argument("checkpoint", help="file, URL or published model name")
    p.add_argument("--seeds", default="0-7", help="seed list, e.g. 0-7,12 (default 0-7)")
    p.add_argument("--psi", type=float, default=1.0, help="truncation psi (1 = none)")
    p.add_argument("--cutoff", type=int, default=None, help="truncate only the first K W+ rows")
    p.add_argument("--class", dest="class_idx", type=int, default=None, help="class for conditional models")
    p.add_argument("--noise-mode", default="const", choices=["const", "random", "none"])
    p.add_argument("--translate", default="0,0", help="StyleGAN3 input translation X,Y")
    p.add_argument("--rotate", type=float, default=0.0, help="StyleGAN3 input rotation in degrees")
    p.add_argument("--edit", action="append", default=[], metavar="SET:INDEX:STRENGTH[:ROWS]",
                   help="direction edit in sigmas, e.g. pca:3:+2.0:0-5 (repeatable; SET is a set "
                        "computed by `directions` for this model, or a .npz file)")
    p.add_argument("--out", required=True, help="output folder")
    add_device(p)


def run(args: argparse.Namespace) -> int:
    return {"info": run_info, "generate": run_generate}[args.command](args)


def run_info(args: argparse.Namespace) -> int:
    import explorer
    from explorer.devices import resolve_device
    from explorer.download import DownloadCache, remote_source
    model = explorer.load(args.checkpoint, device=resolve_device(args.device), progress=True)
    info = model.info
    print(f"file:          {args.checkpoint}")
    remote = remote_source(args.checkpoint)
    if remote is not None:
        print(f"cached as:     {DownloadCache().lookup(remote.url)}")
    print(f"format:        {info.format}")
    print(f"architecture:  {info.architecture}")
    print(f"resolution:    {info.resolution} x {info.resolution}, {info.img_channels} channels")
    print(f"z_dim / w_dim: {info.z_dim} / {info.w_dim}")
    print(f"conditional:   {'yes, c_dim=' + str(info.c_dim) if info.c_dim else 'no'}")
    print(f"num_ws:        {info.num_ws}  (W+ rows drive resolutions {info.ws_resolutions})")
    print(f"parameters:    {info.num_parameters:,} (generator)")
    print(f"discriminator: {'yes' if info.has_discriminator else 'no'}")
    print(f"content hash:  {info.content_hash}")
    print("layers:")
    for res, names in info.layer_names.items():
        print(f"  {res:>5}px  {', '.join(names)}")
    return 0


def run_generate(args: argparse.Namespace) -> int:
    import explorer
    from explorer.devices import resolve_device
    from explorer.fileio import image_grid, save_png
    from explorer.generate import generate_images, parse_pair, parse_seeds
    seeds = parse_seeds(args.seeds)
    translate = parse_pair(args.translate, "--translate")
    model = explorer.load(args.checkpoint, device=resolve_device(args.device), progress=True)
    edits, library = (), None
    if args.edit:
        from explorer.directions import edits_from_args
        edits, library = edits_from_args(model, args.edit)
    images = generate_images(model, seeds, psi=args.psi, cutoff=args.cutoff, class_idx=args.class_idx,
                             noise_mode=args.noise_mode, translate=translate, rotate=args.rotate,
                             edits=edits, directions=library)
    out = Path(args.out)
    for seed, img in zip(seeds, images):
        save_png(out / f"seed{seed:04d}.png", img)
    save_png(out / "grid.png", image_grid(images))
    print(f"wrote {len(seeds)} images and grid.png to {out}")
    return 0
