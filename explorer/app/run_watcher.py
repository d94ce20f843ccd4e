"""Watch a training run folder from a thread of its own, for the Train panel.

The UI thread must never parse a long metrics file or decode a PNG, so a watcher thread reads
the folder twice a second and publishes an immutable `RunView`; the panel only swaps it in.
The status is read by `train.monitor.read_progress`, as for any other watcher; on top of it,
metrics.jsonl is read incrementally (only the new bytes; a torn last line waits for the next
reading), and the sample grid is decoded only when a new one appears.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from explorer.train.monitor import RunProgress, read_progress
from explorer.train.run_folder import RunFolder

CURVES = ("loss_G", "loss_D")


@dataclass(frozen=True)
class RunView(RunProgress):
    """One reading of a run folder: its `RunProgress`, plus what the panel draws from it."""

    sample: np.ndarray | None = None          # the newest readable fakes grid, RGBA uint8
    sample_path: Path | None = None           # the file `sample` was decoded from
    curves: dict[str, np.ndarray] = field(default_factory=dict)  # "kimg" and CURVES, float64


class MetricsTail:
    """The curves of metrics.jsonl, read from where the last reading stopped."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._reset()

    def _reset(self) -> None:
        self._offset = 0
        self._partial = b""
        self._columns: dict[str, list[float]] = {k: [] for k in ("kimg", *CURVES)}
        self.last: dict[str, Any] = {}  # the newest record

    def read(self) -> dict[str, np.ndarray]:
        try:
            size = self.path.stat().st_size
            if size < self._offset:  # rewritten (a resumed run drops the steps it redoes)
                self._reset()
            with open(self.path, "rb") as f:
                f.seek(self._offset)
                data = f.read()
        except OSError:
            data = b""
        self._offset += len(data)
        lines = (self._partial + data).split(b"\n")
        self._partial = lines.pop()
        for line in lines:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and "kimg" in record:
                self.last = record
                for key, column in self._columns.items():
                    value = record.get(key)
                    column.append(np.nan if value is None else float(value))
        return {k: np.asarray(v, dtype=np.float64) for k, v in self._columns.items()}


def decode_rgba(path: Path) -> np.ndarray | None:
    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGBA")).copy()
    except (OSError, ValueError):
        return None


class RunWatcher:
    """Reads `run_dir` every `interval` seconds until `stop()`; `view` is the newest reading."""

    def __init__(self, run_dir: str | Path, interval: float = 0.5) -> None:
        self.run = RunFolder(run_dir)
        self.interval = interval
        self._metrics = MetricsTail(self.run.metrics_path)
        self._view = RunView()
        self._reading = threading.Lock()  # the loop and a caller of `refresh` may meet
        self._wake = threading.Event()
        self._stopping = False
        self._thread = threading.Thread(target=self._loop, name="run-watcher", daemon=True)

    @property
    def view(self) -> RunView:
        return self._view

    def start(self) -> "RunWatcher":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(5)

    def refresh(self) -> RunView:
        """Read the folder once (the thread's loop, and whoever needs the newest state now)."""
        with self._reading:
            self._view = self._read()
            return self._view

    def _read(self) -> RunView:
        progress = read_progress(self.run, read_metrics=False)
        if progress.state == "absent":
            return RunView()
        old = self._view
        sample_path = progress.newest_sample
        sample = old.sample if sample_path == old.sample_path else None
        if sample_path is not None and sample is None:
            sample = decode_rgba(sample_path)
            if sample is None:
                sample_path = old.sample_path  # unreadable for now: keep the last grid
                sample = old.sample
        curves = self._metrics.read()
        read = {f.name: getattr(progress, f.name) for f in fields(RunProgress)}
        return RunView(**{**read, "latest_metrics": self._metrics.last}, sample=sample,
                       sample_path=sample_path, curves=curves)

    def _loop(self) -> None:
        while not self._stopping:
            try:
                self.refresh()
            except Exception:  # noqa: BLE001 - a half-written folder must not end the watching
                pass
            self._wake.wait(self.interval)
            self._wake.clear()
