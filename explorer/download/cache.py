"""The per-user download cache: one folder per URL, so a model is fetched once and found offline.

Layout of `<cache>/<key>/` (key = the first 16 hex digits of the URL's SHA-256):
`<name>` the complete file, `<name>.part` a transfer in progress (resumable), `source.json` the
URL and the server's validators (ETag / Last-Modified) that make a resume safe, `.lock` held
while a process downloads. Only a complete, verified file ever carries the final name.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from explorer.fileio import atomic_write_bytes

CACHE_DIR_ENV = "STYLEGAN_EXPLORER_CACHE_DIR"
APP_NAME = "stylegan-explorer"
PART_SUFFIX = ".part"
SOURCE_FILE = "source.json"
LOCK_FILE = ".lock"


def default_cache_dir() -> Path:
    """platformdirs' per-user cache folder (~/.cache, ~/Library/Caches, %LOCALAPPDATA%), or
    $STYLEGAN_EXPLORER_CACHE_DIR."""
    override = os.environ.get(CACHE_DIR_ENV)
    if override:
        return Path(override).expanduser()
    import platformdirs
    return platformdirs.user_cache_path(APP_NAME, appauthor=False) / "checkpoints"


def url_key(url: str) -> str:
    return hashlib.sha256(url.encode("utf-8")).hexdigest()[:16]


def file_name_for(url: str) -> str:
    """The URL's last path segment, made safe as a file name (readable in a file manager)."""
    name = unquote(urlsplit(url).path.rsplit("/", 1)[-1])
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._")
    return name[:100] or "download"


@dataclass(frozen=True)
class CacheEntry:
    """One cached URL: complete (`size` bytes at `path`) or a partial transfer of `size` bytes."""

    url: str
    path: Path
    size: int
    complete: bool


@dataclass(frozen=True)
class Validators:
    """What the server said about the file, so a resume never splices two versions together."""

    etag: str | None = None
    last_modified: str | None = None
    total: int | None = None

    @property
    def if_range(self) -> str | None:
        """A strong ETag, else Last-Modified: the value for an If-Range header."""
        if self.etag and not self.etag.startswith("W/"):
            return self.etag
        return self.last_modified


class DownloadCache:
    """Where downloads live; every method is cheap and safe to call from any thread."""

    def __init__(self, folder: str | os.PathLike[str] | None = None) -> None:
        self.folder = Path(folder).expanduser() if folder is not None else default_cache_dir()

    def entry_dir(self, url: str) -> Path:
        return self.folder / url_key(url)

    def final_path(self, url: str) -> Path:
        return self.entry_dir(url) / file_name_for(url)

    def partial_path(self, url: str) -> Path:
        final = self.final_path(url)
        return final.with_name(final.name + PART_SUFFIX)

    def lookup(self, url: str) -> Path | None:
        """The complete file for `url`, or None (a cache hit needs no network at all)."""
        path = self.final_path(url)
        return path if path.is_file() else None

    def read_validators(self, url: str) -> Validators:
        try:
            data = json.loads((self.entry_dir(url) / SOURCE_FILE).read_text(encoding="utf-8"))
            if data.get("url") != url:
                return Validators()
            total = data.get("total")
            return Validators(data.get("etag"), data.get("last_modified"),
                              total if isinstance(total, int) else None)
        except (OSError, ValueError, AttributeError):
            return Validators()

    def write_validators(self, url: str, validators: Validators) -> None:
        data = {"url": url, "etag": validators.etag, "last_modified": validators.last_modified,
                "total": validators.total}
        atomic_write_bytes(self.entry_dir(url) / SOURCE_FILE, json.dumps(data, indent=1).encode("utf-8"))

    def entries(self) -> list[CacheEntry]:
        """Every cached or partly downloaded URL, largest first."""
        found = []
        if not self.folder.is_dir():
            return found
        for folder in self.folder.iterdir():
            try:
                url = json.loads((folder / SOURCE_FILE).read_text(encoding="utf-8"))["url"]
            except (OSError, ValueError, KeyError, TypeError):
                continue
            if not isinstance(url, str) or folder.name != url_key(url):
                continue
            for path, complete in ((self.final_path(url), True), (self.partial_path(url), False)):
                try:
                    found.append(CacheEntry(url, path, path.stat().st_size, complete))
                    break
                except OSError:
                    continue
        return sorted(found, key=lambda e: -e.size)

    def total_size(self) -> int:
        return sum(e.size for e in self.entries())

    def delete(self, url: str) -> int:
        """Remove everything cached for `url` (complete or partial); the bytes freed."""
        folder = self.entry_dir(url)
        if not folder.is_dir():
            return 0
        freed = sum(p.stat().st_size for p in folder.iterdir() if p.is_file() and not p.is_symlink())
        shutil.rmtree(folder)
        return freed
