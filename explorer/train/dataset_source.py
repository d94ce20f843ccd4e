"""Where training images come from: a folder tree or a zip file, plus NVIDIA's `dataset.json` labels.

Both kinds of source are read through the same small interface, so preprocessing never asks
which one it has. Names are POSIX-style paths relative to the source root, sorted, which is
also how `dataset.json` refers to them.
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path
from typing import Any

from PIL import Image

from explorer.errors import ExplorerError

LABELS_FILE = "dataset.json"


def image_extensions() -> frozenset[str]:
    """Extensions Pillow can open (not just write), lower case with the dot."""
    Image.init()
    return frozenset(ext for ext, fmt in Image.registered_extensions().items() if fmt in Image.OPEN)


class ImageSource:
    """Read-only access to the image files (and the optional labels file) of a folder or zip."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path).expanduser().resolve()
        if self.path.is_dir():
            self._zip: zipfile.ZipFile | None = None
            all_names = [p.relative_to(self.path).as_posix() for p in self.path.rglob("*") if p.is_file()]
        elif self.path.is_file() and zipfile.is_zipfile(self.path):
            self._zip = zipfile.ZipFile(self.path)
            all_names = [i.filename for i in self._zip.infolist() if not i.is_dir()]
        elif self.path.exists():
            raise ExplorerError(f"{self.path} is neither a folder nor a zip file of images")
        else:
            raise ExplorerError(f"no such dataset: {self.path}")
        self._all = frozenset(all_names)
        extensions = image_extensions()
        self.names = sorted(n for n in all_names if Path(n).suffix.lower() in extensions
                            and not _hidden(n))
        if not self.names:
            raise ExplorerError(f"{self.path} holds no image files")

    def read(self, name: str) -> bytes:
        if self._zip is not None:
            return self._zip.read(name)
        return (self.path / name).read_bytes()

    def fingerprint(self) -> list[tuple[str, int, int]]:
        """(name, size, mtime) of every image: cheap to get, changes whenever a file does."""
        if self._zip is not None:
            stat = self.path.stat()
            return [(self.path.name, stat.st_size, stat.st_mtime_ns)]
        out = []
        for name in self.names:
            stat = (self.path / name).stat()
            out.append((name, stat.st_size, stat.st_mtime_ns))
        return out

    def labels(self) -> dict[str, Any] | None:
        """name -> label from the `dataset.json` at the source root, or None when there is none."""
        if LABELS_FILE not in self._all:
            return None
        try:
            doc = json.loads(self.read(LABELS_FILE))
        except (ValueError, UnicodeDecodeError) as e:
            raise ExplorerError(f"{LABELS_FILE} in {self.path} is not valid JSON: {e}") from e
        entries = doc.get("labels") if isinstance(doc, dict) else None
        if entries is None:
            return None
        if not isinstance(entries, list) or not all(isinstance(e, list) and len(e) == 2 for e in entries):
            raise ExplorerError(f"{LABELS_FILE} must look like {{\"labels\": [[\"path\", label], ...]}}")
        return {str(name).replace("\\", "/"): label for name, label in entries}

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()

    def __enter__(self) -> "ImageSource":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _hidden(name: str) -> bool:
    """Dot files and macOS zip debris (`__MACOSX/`) are never images of the dataset."""
    parts = name.split("/")
    return any(p.startswith(".") for p in parts) or parts[0] == "__MACOSX"
