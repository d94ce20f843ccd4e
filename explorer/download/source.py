"""Whether the text a user gave names a local file, a URL, or a model from the catalogue.

A path that exists always wins, so a local file called `stylegan2-ffhq-256` is never shadowed by
the catalogue entry of the same name.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from explorer.download.catalogue import PublishedModel, find_model
from explorer.download.cache import file_name_for


@dataclass(frozen=True)
class RemoteSource:
    url: str
    model: PublishedModel | None = None  # the catalogue entry, when the URL is in it

    @property
    def label(self) -> str:
        """Short and recognisable: the catalogue name, else the URL's file name."""
        return self.model.name if self.model is not None else file_name_for(self.url)


def is_url(text: str) -> bool:
    parts = urlsplit(text.strip())
    return parts.scheme.lower() in ("http", "https") and bool(parts.netloc)


def remote_source(text: str | Path) -> RemoteSource | None:
    """A RemoteSource for a http(s) URL or a catalogue name; None for anything else (a path)."""
    if isinstance(text, Path):
        return None
    text = text.strip()
    if is_url(text):
        return RemoteSource(text, find_model(text))
    if not text or Path(text).expanduser().exists():
        return None
    model = find_model(text)
    return RemoteSource(model.url, model) if model is not None else None
