"""The catalogue of published StyleGAN models: a JSON file shipped in the package.

Keeping it as data (not code) means a new model is one line, and a lab can list its own models
beside NVIDIA's by pointing $STYLEGAN_EXPLORER_CATALOGUE at a file of the same shape (its entries
come first and win on equal names).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from explorer.errors import ExplorerError

CATALOGUE_ENV = "STYLEGAN_EXPLORER_CATALOGUE"


@dataclass(frozen=True)
class PublishedModel:
    name: str                 # what users type: `stylegan-explorer stylegan3-t-ffhq-1024`
    url: str
    family: str               # StyleGAN2, StyleGAN2-ADA or StyleGAN3
    config: str | None        # T / R for StyleGAN3
    dataset: str
    resolution: int
    licence: str              # one line
    size: int | None = None   # bytes, when published: checked after the download
    sha256: str | None = None
    note: str = ""

    @property
    def title(self) -> str:
        return f"{self.family}{'-' + self.config if self.config else ''} {self.dataset} {self.resolution}px"


def _parse(data: Any, origin: str) -> list[PublishedModel]:
    if not isinstance(data, dict) or not isinstance(data.get("models"), list):
        raise ExplorerError(f"model catalogue {origin}: expected an object with a \"models\" list")
    licences = data.get("licences", {}) if isinstance(data.get("licences"), dict) else {}
    models = []
    for i, m in enumerate(data["models"]):
        try:
            licence = m.get("licence") or ""
            models.append(PublishedModel(
                name=str(m["name"]), url=str(m["url"]), family=str(m.get("family") or "StyleGAN2"),
                config=m.get("config") or None, dataset=str(m.get("dataset") or ""),
                resolution=int(m["resolution"]), licence=str(licences.get(licence, licence)),
                size=int(m["size"]) if m.get("size") is not None else None,
                sha256=str(m["sha256"]).lower() if m.get("sha256") else None, note=str(m.get("note") or "")))
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise ExplorerError(f"model catalogue {origin}: entry {i + 1} is incomplete ({e})") from e
    return models


@lru_cache(maxsize=4)
def _load(extra: str | None) -> tuple[PublishedModel, ...]:
    shipped = json.loads(resources.files("explorer.download").joinpath("catalogue.json").read_text("utf-8"))
    models = _parse(shipped, "catalogue.json")
    if extra:
        try:
            own = _parse(json.loads(Path(extra).expanduser().read_text("utf-8")), extra)
        except OSError as e:
            raise ExplorerError(f"model catalogue {extra}: {e.strerror or e}") from e
        except ValueError as e:
            raise ExplorerError(f"model catalogue {extra} is not valid JSON ({e})") from e
        names = {m.name for m in own}
        models = own + [m for m in models if m.name not in names]
    return tuple(models)


def published_models() -> tuple[PublishedModel, ...]:
    """Every catalogue entry: $STYLEGAN_EXPLORER_CATALOGUE's first, then the shipped ones."""
    return _load(os.environ.get(CATALOGUE_ENV) or None)


def find_model(name_or_url: str) -> PublishedModel | None:
    """The entry with this name (case-insensitive) or exactly this URL."""
    key = name_or_url.strip()
    for m in published_models():
        if m.name.lower() == key.lower() or m.url == key:
            return m
    return None
