"""The `models` and `download` subcommands: list the catalogue, fetch a model into the cache."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="list the published models (and which are downloaded)")
    p.add_argument("--cache", action="store_true", help="list the download cache instead")
    p.add_argument("--delete", metavar="NAME|URL", help="remove a model from the download cache")

    p = sub.add_parser("download", help="download a published model (name or URL) into the cache")
    p.add_argument("model", metavar="NAME|URL")


def run(args: argparse.Namespace) -> int:
    return {"models": run_models, "download": run_download}[args.command](args)


def run_models(args: argparse.Namespace) -> int:
    from explorer.download import DownloadCache, format_bytes, published_models
    cache = DownloadCache()
    if args.delete:
        return _delete(cache, args.delete)
    entries = {e.url: e for e in cache.entries()}
    if args.cache:
        for e in entries.values():
            print(f"{format_bytes(e.size):>9}  {'complete' if e.complete else 'partial '}  {e.url}")
        print(f"{len(entries)} cached, {format_bytes(sum(e.size for e in entries.values()))} in {cache.folder}")
        return 0
    models = published_models()
    width = max(len(m.name) for m in models)
    print(f"{'name':<{width}}  {'res':>6}  {'dataset':<26}  {'in the cache':<15}  url")
    for m in models:
        e = entries.get(m.url)
        state = ("cached " + format_bytes(e.size)) if e and e.complete else \
            (f"partial {format_bytes(e.size)}" if e else "-")
        print(f"{m.name:<{width}}  {m.resolution:>4}px  {m.dataset:<26}  {state:<15}  {m.url}")
    licences = sorted({m.licence.split(" (")[0] for m in models})  # one line per licence, not per repository
    print(f"{len(models)} models; licence: {'; '.join(licences)} (`download NAME` names each model's source)")
    print(f"cache: {cache.folder}  (open one with `stylegan-explorer NAME`, fetch with `download NAME`)")
    return 0


def _delete(cache, text: str) -> int:
    from explorer.download import format_bytes, remote_source
    from explorer.errors import ExplorerError
    remote = remote_source(text)
    if remote is None:
        raise ExplorerError(f"{text} is neither a URL nor a model name")
    freed = cache.delete(remote.url)
    print(f"deleted {remote.label} ({format_bytes(freed)})" if freed else f"{remote.label} was not in the cache")
    return 0


def run_download(args: argparse.Namespace) -> int:
    from explorer.checkpoints.remote import fetch_checkpoint
    from explorer.download import DownloadCache, format_bytes, remote_source
    from explorer.download.console import ConsoleProgress
    from explorer.errors import ExplorerError
    remote = remote_source(args.model)
    if remote is None:
        raise ExplorerError(f"{args.model} is neither a URL nor a model name (`stylegan-explorer models` lists them)")
    if remote.model is not None:
        print(f"{remote.model.name}: {remote.model.title}. Licence: {remote.model.licence}")
    hit = DownloadCache().lookup(remote.url)
    if hit is not None:
        print(f"already downloaded: {hit} ({format_bytes(hit.stat().st_size)})")
        return 0
    with ConsoleProgress(remote.label, enabled=True) as bar:
        path = fetch_checkpoint(remote, on_progress=bar)
    print(f"downloaded {path} ({format_bytes(path.stat().st_size)})")
    return 0
