"""`stylegan-explorer info CKPT`: describe a checkpoint (format, sizes, W+ rows, layers, hash)."""

from __future__ import annotations

import argparse

from explorer.cli.options import add_device


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="describe a checkpoint")
    p.add_argument("checkpoint", help="file, URL or published model name")
    add_device(p, "run the generator")


def run(args: argparse.Namespace) -> int:
    import explorer
    from explorer.checkpoints.remote import local_checkpoint
    from explorer.checkpoints.safetensors_format import stored_precision
    from explorer.devices import resolve_device
    from explorer.download import DownloadCache, remote_source
    from explorer.errors import ExplorerError
    from explorer.train.snapshot import trained_kimg
    model = explorer.load(args.checkpoint, device=resolve_device(args.device), progress=True)
    info = model.info
    try:
        precision = stored_precision(local_checkpoint(args.checkpoint, download=False))  # loaded: now local
    except ExplorerError:  # the cached download went away meanwhile: say nothing about it
        precision = None
    kimg = trained_kimg(info.extra)
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
    if precision is not None:
        print(f"stored as:     {precision} (loaded as float32)")
    if kimg is not None:
        print(f"trained:       {kimg:.3f} kimg by stylegan-explorer train")
    print(f"content hash:  {info.content_hash}")
    print("layers:")
    for res, names in info.layer_names.items():
        print(f"  {res:>5}px  {', '.join(names)}")
    return 0
