"""Checkpoints named by URL or catalogue name: downloaded into the cache, then read like any file.

The download must pass the same content sniffing as a local file before it gets its final name,
and is then read by the same safe readers (the restricted unpickler for NVIDIA pickles): a URL
never earns more trust than a file on disk.
"""

from __future__ import annotations

import os
from pathlib import Path

from explorer.checkpoints.sniff import sniff_format
from explorer.download import DownloadCache, RemoteSource, fetch, remote_source
from explorer.download.progress import OnProgress
from explorer.errors import CheckpointError, DownloadError


def fetch_checkpoint(source: RemoteSource, on_progress: OnProgress | None = None,
                     cache: DownloadCache | None = None) -> Path:
    """The cached file of `source`, downloaded (or resumed) first if needed."""
    def verify(partial: Path) -> None:
        try:
            sniff_format(partial)
        except CheckpointError as e:
            reason = str(e).replace(partial.name, "the download", 1)
            raise CheckpointError(f"{source.url} did not send a checkpoint: {reason}; nothing was kept") from e

    model = source.model
    return fetch(source.url, cache=cache, on_progress=on_progress, verify=verify,
                 size=model.size if model else None, sha256=model.sha256 if model else None)


def local_checkpoint(source: str | os.PathLike[str], progress: bool | None = None,
                     download: bool = True) -> Path:
    """The local file behind `source`: a path as given, or a URL / catalogue name via the cache.

    `progress`: a terminal bar (None: only when stderr is a terminal). With `download=False` a
    remote source must already be cached (the render thread never waits on the network).
    """
    remote = remote_source(source) if isinstance(source, str) else None
    if remote is None:
        return Path(source).expanduser()
    if not download:
        hit = DownloadCache().lookup(remote.url)
        if hit is None:
            raise DownloadError(f"{remote.label} is not downloaded yet")
        return hit
    from explorer.download.console import ConsoleProgress
    with ConsoleProgress(remote.label, enabled=progress) as bar:
        return fetch_checkpoint(remote, on_progress=bar)
