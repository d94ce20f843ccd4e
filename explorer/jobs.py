"""Background jobs: long work (noise maps, grids, projection, PCA) off the UI thread, with progress
events and cooperative cancellation.

A job function gets `report(Progress)` and `cancelled()`. Once the user cancels, the next `report`
raises `JobCancelled`, so a job that reports progress stops without checking anything itself.
It sits at the foundation so that `project/` and `directions/` speak this vocabulary without
depending on the renderer; the render thread runs jobs that need its model (`run_job`).
"""

from __future__ import annotations

import itertools
import logging
import threading
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from explorer.errors import one_line_error

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Progress:
    step: int
    total: int
    message: str = ""
    loss: float | None = None
    preview: np.ndarray | None = None  # e.g. the current projection, [H, W, 4] uint8

    @property
    def fraction(self) -> float:
        return self.step / self.total if self.total > 0 else 0.0


class JobCancelled(Exception):
    """Raised inside a job (by `report`, or by the job itself) to stop it as cancelled."""


Report = Callable[[Progress], None]
Cancelled = Callable[[], bool]
JobFn = Callable[[Report, Cancelled], Any]


class Job:
    """A named unit of work. Pass `fn(report, cancelled) -> result`, or subclass and override `run`."""

    def __init__(self, name: str, fn: JobFn | None = None) -> None:
        self.name = name
        self._fn = fn

    def run(self, report: Report, cancelled: Cancelled) -> Any:
        if self._fn is None:
            raise NotImplementedError("give Job a function or override run()")
        return self._fn(report, cancelled)


class JobHandle:
    """The UI's view of a running job: poll `status`, `progress`, `result`, `error`; `cancel()` it."""

    _ids = itertools.count(1)

    def __init__(self, job: Job, on_finish: Callable[["JobHandle"], None] | None = None) -> None:
        self.id = next(JobHandle._ids)
        self.name = job.name
        self.status = "running"  # then "done", "cancelled" or "failed"
        self.progress: Progress | None = None
        self.result: Any = None
        self.error: str | None = None
        self._job = job
        self._on_finish = on_finish
        self._cancel = threading.Event()
        self._finished = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"job-{self.id}-{job.name}", daemon=True)

    def __repr__(self) -> str:
        return f"JobHandle(id={self.id}, name={self.name!r}, status={self.status!r})"

    def cancel(self) -> None:
        self._cancel.set()

    def done(self) -> bool:
        return self._finished.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job ends (tests, CLI); True if it ended. The GUI polls `done()` instead."""
        return self._finished.wait(timeout)

    def _report(self, progress: Progress) -> None:
        self.progress = progress
        if self._cancel.is_set():
            raise JobCancelled()

    def _run(self) -> None:
        try:
            self.result = self._job.run(self._report, self._cancel.is_set)
            self.status = "cancelled" if self._cancel.is_set() else "done"
        except JobCancelled:
            self.status = "cancelled"
        except Exception as exc:  # a job's failure is data for the UI, never a crash
            log.debug("job %s failed", self.name, exc_info=True)
            self.error = one_line_error(exc)
            self.status = "failed"
        finally:
            try:
                if self._on_finish is not None:
                    self._on_finish(self)
            finally:
                self._finished.set()  # after on_finish, so a waiter also sees its effects

    def start(self) -> "JobHandle":
        """Start the job's thread (once; `start_job` does it)."""
        self._thread.start()
        return self


def start_job(job: Job, on_finish: Callable[[JobHandle], None] | None = None) -> JobHandle:
    """Run `job` on its own daemon thread; `on_finish(handle)` runs on that thread when it ends."""
    return JobHandle(job, on_finish).start()
