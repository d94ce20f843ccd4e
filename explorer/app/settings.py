"""What the app remembers between runs: recent checkpoints (paths or URLs) and the save folder.

It lives in the user's config directory (never the working directory), as one small JSON file
written atomically, so a crash or a second instance never leaves it half-written.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from explorer.fileio import atomic_write_bytes

CONFIG_DIR_ENV = "STYLEGAN_EXPLORER_CONFIG_DIR"
APP_DIR_NAME = "stylegan-explorer"
MAX_RECENT = 10


def user_config_dir() -> Path:
    """The per-user config folder for this app (overridable by $STYLEGAN_EXPLORER_CONFIG_DIR)."""
    override = os.environ.get(CONFIG_DIR_ENV)
    if override:
        return Path(override).expanduser()
    if sys.platform == "win32":
        base = Path(os.environ.get("APPDATA") or Path.home() / "AppData" / "Roaming")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / APP_DIR_NAME


def default_save_dir() -> Path:
    pictures = Path.home() / "Pictures"
    return (pictures if pictures.is_dir() else Path.home()) / APP_DIR_NAME


@dataclass
class Settings:
    """Recent checkpoints (newest first) and where saved images go."""

    path: Path
    recent: list[str] = field(default_factory=list)
    save_dir: str = ""

    @classmethod
    def load(cls, folder: Path | None = None) -> "Settings":
        """Read settings; a missing or damaged file gives defaults (it is only a convenience)."""
        path = (folder or user_config_dir()) / "settings.json"
        settings = cls(path=path, save_dir=str(default_save_dir()))
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return settings
        if isinstance(data, dict):
            recent = data.get("recent", [])
            if isinstance(recent, list):
                settings.recent = [str(p) for p in recent if isinstance(p, str)][:MAX_RECENT]
            if isinstance(data.get("save_dir"), str) and data["save_dir"]:
                settings.save_dir = data["save_dir"]
        return settings

    def save(self) -> None:
        data = {"recent": self.recent, "save_dir": self.save_dir}
        atomic_write_bytes(self.path, json.dumps(data, indent=1).encode("utf-8"))

    def add_recent(self, checkpoint: str | os.PathLike[str]) -> None:
        """Move `checkpoint` (a path, or a URL kept as typed) to the top of the recent list and persist it."""
        from explorer.download import is_url
        text = str(checkpoint)
        entry = text if is_url(text) else str(Path(checkpoint).expanduser().resolve())
        self.recent = [entry] + [p for p in self.recent if p != entry][:MAX_RECENT - 1]
        self.save()
