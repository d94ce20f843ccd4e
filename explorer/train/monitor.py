"""Run the trainer as a separate process and watch its run folder, without any GUI.

The trainer never shares memory with its watcher: it writes `status.json`, `metrics.jsonl`,
sample grids and snapshots, and the watcher reads them. So the app (or a script, or a second
machine with the folder mounted) can follow a run it did not start, and a crash of either
side leaves the other alone. Stopping sends SIGINT, which makes the trainer finish the
current step, write a final snapshot and exit; a SIGINT that comes while the trainer is still
starting (importing torch takes seconds) ends it once the imports are done, cleanly, with nothing
to save.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from explorer.train.run_folder import RunFolder

# The trainer's entry, run with `python -c`: plain code, because it must take SIGINT over before
# `explorer` is imported (the package imports torch, seconds during which Python's default
# KeyboardInterrupt would end the trainer with a traceback and exit code -2). While it imports,
# a SIGINT is only noted (an exception raised inside numpy's or torch's imports can turn into an
# ImportError, or be swallowed), and the trainer exits cleanly after them, with nothing saved.
# `start` holds SIGINT back until the entry has its handler, so no moment is left uncovered. From
# then on Python's own KeyboardInterrupt applies (`main` answers it with exit code 130) until the
# `train` command takes SIGINT over to stop after a step with a final snapshot.
#
# It also gives the trainer a lower CPU priority than the app that starts it: training takes every
# idle cycle, and the picture still renders at once when the user moves a slider. On Linux the
# trainer's new session is a scheduling group of its own (autogroup), which a plain nice value
# does not reach beyond: the group's own nice is lowered too (best effort: Linux refuses an
# unprivileged change that comes within 0.1 s of another one).
TRAINER_NICE = 10
STOPPED_EARLY = "stopped before training started: nothing to save"
TRAINER_ENTRY = f"""\
import os, signal, sys
stop_asked = []
signal.signal(signal.SIGINT, lambda signum, frame: stop_asked.append(signum))
if hasattr(signal, "pthread_sigmask"):
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {{signal.SIGINT}})
try:
    os.nice({TRAINER_NICE})
    with open("/proc/self/autogroup", "w") as group:
        group.write("{TRAINER_NICE}")
except (AttributeError, OSError):  # no nice (Windows), no autogroup (not Linux, or turned off)
    pass
from explorer.cli import main
signal.signal(signal.SIGINT, signal.default_int_handler)
if stop_asked:  # after the hand-over too: a request just before it is not lost
    print("{STOPPED_EARLY}", file=sys.stderr, flush=True)
    sys.exit(0)
code = 130
try:
    code = main()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # done: a late stop request changes nothing
except KeyboardInterrupt:
    pass
sys.exit(code)
"""
TRAINER_COMMAND = (sys.executable, "-c", TRAINER_ENTRY, "train")
LOG_NAME = "log.txt"


@dataclass(frozen=True)
class RunProgress:
    """A snapshot of what a run folder says, for one redraw of a progress panel or a script."""

    state: str = "absent"           # starting, running, stopped, finished, failed, dead, absent
    kimg: float = 0.0
    total_kimg: float = 0.0
    sec_per_kimg: float | None = None
    latest_metrics: dict[str, Any] = field(default_factory=dict)
    newest_sample: Path | None = None
    newest_snapshot: Path | None = None
    error: str | None = None
    budget_left_s: float | None = None  # what `--time-budget` leaves, as of this reading
    written_s_ago: float = 0.0  # status.json is rewritten after the first steps, then once per tick

    @property
    def fraction(self) -> float:
        return min(self.kimg / self.total_kimg, 1.0) if self.total_kimg else 0.0

    @property
    def seconds_left(self) -> float | None:
        """Until the run ends: its kimg at its speed, or its time budget if that ends it first."""
        if self.state != "running":
            return None
        by_kimg = None
        if self.sec_per_kimg is not None and self.total_kimg:  # counting down between ticks
            by_kimg = max((self.total_kimg - self.kimg) * self.sec_per_kimg - self.written_s_ago, 0.0)
        left = [t for t in (by_kimg, self.budget_left_s) if t is not None]
        return min(left) if left else None


def read_progress(run_dir: str | os.PathLike[str] | RunFolder, read_metrics: bool = True) -> RunProgress:
    """What the run folder says now. A run whose status says "running" but whose process is
    gone (killed, crashed, machine rebooted) reads as "dead": resume it with --resume.

    `read_metrics=False` leaves `latest_metrics` empty instead of parsing all of metrics.jsonl,
    for a watcher that follows that file incrementally itself (`app/run_watcher.py`)."""
    run = run_dir if isinstance(run_dir, RunFolder) else RunFolder(run_dir)
    status = run.read_status()
    if status is None:
        return RunProgress(state="absent")
    metrics = run.read_metrics() if read_metrics else []
    state = str(status.get("state", "running"))
    if state in ("starting", "running") and run.live_trainer_pid() is None:
        state = "dead"
    return RunProgress(
        state=state, kimg=float(status.get("kimg", 0.0)), total_kimg=float(status.get("total_kimg", 0.0)),
        sec_per_kimg=status.get("sec_per_kimg"), latest_metrics=metrics[-1] if metrics else {},
        newest_sample=run.newest_sample(), newest_snapshot=run.newest_snapshot(),
        error=status.get("error"), budget_left_s=_budget_left(status), written_s_ago=_written_ago(status))


def _written_ago(status: dict[str, Any]) -> float:
    updated = status.get("updated")
    return max(time.time() - updated, 0.0) if isinstance(updated, (int, float)) else 0.0


def _budget_left(status: dict[str, Any]) -> float | None:
    """status.json's `time_left_s`, less the time since it was written (once per tick)."""
    left = status.get("time_left_s")
    if not isinstance(left, (int, float)):
        return None
    return max(float(left) - _written_ago(status), 0.0)


class TrainerProcess:
    """A trainer started as a child process, its output going to RUN/log.txt."""

    def __init__(self, run_dir: Path, process: subprocess.Popen) -> None:
        self.run_dir = run_dir
        self.process = process

    @classmethod
    def start(cls, out: str | os.PathLike[str], args: Sequence[str] = (),
              command: Sequence[str] = TRAINER_COMMAND, env: dict[str, str] | None = None) -> "TrainerProcess":
        """Launch `command --out OUT ARGS...`; `command` may be a torchrun line for many GPUs.

        With our own entry (`TRAINER_COMMAND`) the child starts with SIGINT blocked (the mask
        survives exec): a stop sent before the entry has installed its handler waits for it,
        instead of killing the interpreter half-started."""
        run_dir = Path(out)
        run_dir.mkdir(parents=True, exist_ok=True)
        hold_sigint = TRAINER_ENTRY in command and hasattr(signal, "pthread_sigmask")
        with open(run_dir / LOG_NAME, "ab") as log:
            mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT}) if hold_sigint else None
            try:
                process = subprocess.Popen([*command, "--out", str(run_dir), *args], stdout=log,
                                           stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                           env=env, start_new_session=True)
            finally:
                if mask is not None:
                    signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        return cls(run_dir, process)

    def progress(self) -> RunProgress:
        return read_progress(self.run_dir)

    def log_tail(self, lines: int = 20) -> list[str]:
        path = self.run_dir / LOG_NAME
        if not path.is_file():
            return []
        return path.read_text(errors="replace").splitlines()[-lines:]

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 120.0) -> int:
        """Ask for a clean stop (final snapshot; none if training had not started: still exit
        code 0); terminate, then kill, if it does not come."""
        if self.running:
            self.process.send_signal(signal.SIGINT)
            try:
                return self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.terminate()
                try:
                    return self.process.wait(10)
                except subprocess.TimeoutExpired:
                    self.process.kill()
        return self.process.wait()

    def wait(self, timeout: float | None = None) -> int:
        return self.process.wait(timeout)
