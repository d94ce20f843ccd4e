"""Download a URL into the cache once: partial file, resume, checks, then rename to the final name.

The caller passes `verify(path)` (for checkpoints: the same content sniffing as for local files)
so a web page or an image sent in place of a model is refused and removed before it can be
mistaken for a finished download. Nothing downloaded is ever run or imported here.
"""

from __future__ import annotations

import hashlib
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from explorer.download.cache import LOCK_FILE, DownloadCache, Validators
from explorer.download.progress import OnProgress, format_bytes
from explorer.download.transfer import transfer
from explorer.errors import DownloadError

Verify = Callable[[Path], None]


def fetch(url: str, *, cache: DownloadCache | None = None, on_progress: OnProgress | None = None,
          verify: Verify | None = None, size: int | None = None, sha256: str | None = None) -> Path:
    """The local path of `url`'s content, downloading it first unless the cache has it.

    `size` and `sha256`, when known (the catalogue may say), are checked before the rename; a
    mismatch deletes the download. A dropped connection or a cancel keeps the partial file, and
    the next call resumes it.
    """
    cache = cache or DownloadCache()
    hit = cache.lookup(url)
    if hit is not None:
        return hit
    final, partial = cache.final_path(url), cache.partial_path(url)
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DownloadError(f"could not create the download cache {final.parent}: {e.strerror or e}") from e
    with _exclusive(final.parent / LOCK_FILE, url):
        hit = cache.lookup(url)  # another process may have finished it while we waited
        if hit is not None:
            return hit
        old = cache.read_validators(url)
        if not partial.exists():
            old = Validators()
        transfer(url, partial, old, on_progress, on_start=lambda v: _remember(cache, url, v))
        try:
            _check(url, partial, size, sha256)
            if verify is not None:
                verify(partial)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        os.replace(partial, final)
    return final


def _remember(cache: DownloadCache, url: str, validators: Validators) -> None:
    try:
        cache.write_validators(url, validators)
    except OSError as e:
        raise DownloadError(f"could not write to the download cache {cache.entry_dir(url)}: "
                            f"{e.strerror or e}") from e


def _check(url: str, path: Path, size: int | None, sha256: str | None) -> None:
    got = path.stat().st_size
    if size is not None and got != size:
        raise DownloadError(f"{url} gave {format_bytes(got)} ({got} bytes) but {size} bytes were expected; "
                            "the download was deleted, try again")
    if sha256:
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        if digest.hexdigest() != sha256.lower():
            raise DownloadError(f"{url} does not match its published SHA-256; the download was deleted, "
                                "try again")


@contextmanager
def _exclusive(lock_path: Path, url: str) -> Iterator[None]:
    """One process per URL at a time, so two programs never append to the same partial file.
    The OS drops the lock when a process dies, so no stale lock survives a crash (POSIX only)."""
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks; the cache still works for one process
        yield
        return
    with open(lock_path, "a+b") as f:
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            raise DownloadError(f"{url} is already being downloaded by another program; "
                                "wait for it to finish") from e
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)
