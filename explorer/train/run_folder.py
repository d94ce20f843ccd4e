"""The files of a training run, shared by the trainer (which writes them) and monitors (which read).

    RUN/config.json          resolved TrainConfig
    RUN/dataset-manifest.json  what the prepared dataset holds (count, resolution, hash, skips)
    RUN/metrics.jsonl        one JSON record per tick
    RUN/status.json          pid, state, progress, newest snapshot and sample (rewritten atomically)
    RUN/samples/*.png        reals.png, then fakes-<nimg>.png grids
    RUN/snapshots/*.safetensors   snapshot-<nimg>.safetensors, loadable by explorer.load

File names carry the image count (nimg) zero-padded, so sorting names sorts them by progress.
Readers tolerate a torn last line in metrics.jsonl: a killed trainer may leave one.
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path
from typing import Any

from explorer.fileio import atomic_write_bytes, pid_alive, remove_stale_temp_files

SNAPSHOT_PREFIX = "snapshot-"
SNAPSHOT_SUFFIX = ".safetensors"


def json_line(record: dict[str, Any]) -> str:
    """One metrics record as standard JSON (a NaN or infinite value, e.g. ADA's statistic before
    its first measurement or a diverged loss, is written as null), newline-terminated."""
    def finite(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: finite(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [finite(x) for x in v]
        return None if isinstance(v, float) and not math.isfinite(v) else v
    return json.dumps(finite(record), allow_nan=False) + "\n"


class RunFolder:
    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path).expanduser()

    @property
    def config_path(self) -> Path:
        return self.path / "config.json"

    @property
    def manifest_path(self) -> Path:
        return self.path / "dataset-manifest.json"

    @property
    def metrics_path(self) -> Path:
        return self.path / "metrics.jsonl"

    @property
    def status_path(self) -> Path:
        return self.path / "status.json"

    @property
    def samples_dir(self) -> Path:
        return self.path / "samples"

    @property
    def snapshots_dir(self) -> Path:
        return self.path / "snapshots"

    def snapshot_path(self, nimg: int) -> Path:
        return self.snapshots_dir / f"{SNAPSHOT_PREFIX}{nimg:010d}{SNAPSHOT_SUFFIX}"

    def sample_path(self, nimg: int) -> Path:
        return self.samples_dir / f"fakes-{nimg:010d}.png"

    def snapshots(self) -> list[Path]:
        """Finished snapshots, oldest first (temp files of interrupted writes are ignored)."""
        if not self.snapshots_dir.is_dir():
            return []
        return sorted(p for p in self.snapshots_dir.glob(f"{SNAPSHOT_PREFIX}*{SNAPSHOT_SUFFIX}"))

    def newest_snapshot(self) -> Path | None:
        found = self.snapshots()
        return found[-1] if found else None

    def newest_sample(self) -> Path | None:
        found = sorted(self.samples_dir.glob("fakes-*.png")) if self.samples_dir.is_dir() else []
        return found[-1] if found else None

    def write_json(self, path: Path, value: Any) -> None:
        atomic_write_bytes(path, json.dumps(value, indent=2).encode())

    def read_json(self, path: Path) -> Any:
        return json.loads(path.read_text())

    def append_metrics(self, record: dict[str, Any]) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        with open(self.metrics_path, "a") as f:
            f.write(json_line(record))
            f.flush()

    def read_metrics(self) -> list[dict[str, Any]]:
        if not self.metrics_path.is_file():
            return []
        records = []
        for line in self.metrics_path.read_text().splitlines():
            try:
                records.append(json.loads(line))
            except ValueError:
                continue
        return records

    def keep_metrics_until(self, nimg: int) -> None:
        """Drop the records past `nimg`: after a crash they describe steps that resuming redoes."""
        kept = [r for r in self.read_metrics() if r.get("nimg", 0) <= nimg]
        atomic_write_bytes(self.metrics_path, "".join(json_line(r) for r in kept).encode())

    def write_status(self, **fields: Any) -> None:
        self.write_json(self.status_path, {"pid": os.getpid(), "updated": time.time(), **fields})

    def read_status(self) -> dict[str, Any] | None:
        try:
            return self.read_json(self.status_path)
        except (OSError, ValueError):
            return None

    def live_trainer_pid(self) -> int | None:
        """The pid of the trainer working in this folder, if its status says so and it is alive.

        A status left at "running" by a killed trainer names a dead pid and so yields None.
        """
        status = self.read_status() or {}
        if status.get("state") not in ("starting", "running"):
            return None
        pid = int(status.get("pid", -1))
        return pid if pid > 0 and pid_alive(pid) else None

    def remove_stale_temp_files(self) -> None:
        """Temp files a killed trainer left mid-write (the files they were replacing are intact)."""
        for folder in (self.path, self.snapshots_dir, self.samples_dir):
            remove_stale_temp_files(folder)
