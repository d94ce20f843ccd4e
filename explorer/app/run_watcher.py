"""Watch a training run folder from a thread of its own, for the Train panel.

The UI thread must never parse a long metrics file or decode a PNG, so a watcher thread reads
the folder twice a second and publishes an immutable `RunView`; the panel only swaps it in.
metrics.jsonl is read incrementally (only the new bytes; a torn last line waits for the next
reading), and the sample grid is decoded only when a new one appears.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from explorer.train.run_folder import RunFolder

CURVES = ("loss_G", "loss_D")


@dataclass(frozen=True)
class RunView:
    """One reading of a run folder. `state` as `monitor.read_progress` says it ("absent" first)."""

    state: str = "absent"
    kimg: float = 0.0
    total_kimg: float = 0.0
    sec_per_kimg: float | None = None
    error: str | None = None
    newest_snapshot: Path | None = None
    sample: np.ndarray | None = None          # the newest fakes grid, RGBA uint8
    sample_path: Path | None = None
    curves: dict[str, np.ndarray] = field(default_factory=dict)  # "kimg" and CURVES, float64

    @property
    def fraction(self) -> float:
        return min(self.kimg / self.total_kimg, 1.0) if self.total_kimg else 0.0

    @property
    def seconds_left(self) -> float | None:
        if self.sec_per_kimg is None or not self.total_kimg or self.state != "running":
            return None
        return max(self.total_kimg - self.kimg, 0.0) * self.sec_per_kimg


class MetricsTail:
    """The curves of metrics.jsonl, read from where the last reading stopped."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._reset()

    def _reset(self) -> None:
        self._offset = 0
        self._partial = b""
        self._columns: dict[str, list[float]] = {k: [] for k in ("kimg", *CURVES)}

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
                for key, column in self._columns.items():
                    column.append(float(record.get(key, np.nan)))
        return {k: np.asarray(v, dtype=np.float64) for k, v in self._columns.items()}


def run_state(run: RunFolder, status: dict) -> str:
    """A status saying "running" whose trainer is gone reads as "dead" (resume it)."""
    state = str(status.get("state", "running"))
    if state in ("starting", "running") and run.live_trainer_pid() is None:
        return "dead"
    return state


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
        status = self.run.read_status()
        if status is None:
            return RunView()
        old = self._view
        sample_path = self.run.newest_sample()
        sample = old.sample if sample_path == old.sample_path else None
        if sample_path is not None and sample is None:
            sample = decode_rgba(sample_path)
            if sample is None:
                sample_path = old.sample_path  # unreadable for now: keep the last grid
                sample = old.sample
        return RunView(
            state=run_state(self.run, status), kimg=float(status.get("kimg", 0.0)),
            total_kimg=float(status.get("total_kimg", 0.0)), sec_per_kimg=status.get("sec_per_kimg"),
            error=status.get("error"), newest_snapshot=self.run.newest_snapshot(), sample=sample,
            sample_path=sample_path, curves=self._metrics.read())

    def _loop(self) -> None:
        while not self._stopping:
            try:
                self.refresh()
            except Exception:  # noqa: BLE001 - a half-written folder must not end the watching
                pass
            self._wake.wait(self.interval)
            self._wake.clear()
