"""The Train panel's logic: start the trainer as a separate process, watch its folder, load snapshots.

The trainer never shares memory with the app (see `explorer.train.monitor`): the app starts it,
reads what it writes, and asks it to stop with SIGINT, which makes it write a final snapshot
(or, if it was still starting, exit at once: "stopped before the first step", not an error).
Stopping waits for the process on a job thread, so the UI never blocks; closing the app leaves
a running trainer alone (watch its folder again later). Loading a snapshot goes through the
ordinary model load, which keeps seed, psi and mixing of the state on screen.
"""

from __future__ import annotations

import math
import os
import shlex
import time
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Sequence

from explorer.app.host import AppHost, Feature, JobHandler
from explorer.app.job_kinds import JobKind
from explorer.app.run_watcher import RunView, RunWatcher
from explorer.engine import Frame
from explorer.errors import ExplorerError
from explorer.jobs import JobHandle
from explorer.train.monitor import TRAINER_COMMAND, TrainerProcess
from explorer.train.run_folder import RunFolder

FEW_IMAGES = 32  # fewer images than this get a warning (a smoke test, not a model)
INTERRUPTED = 130  # the exit code of a command stopped by SIGINT before it could stop cleanly


@dataclass(frozen=True)
class TrainRequest:
    """What the panel's fields ask for; `extra` is any further `train` flags, shell-quoted."""

    data: str
    run_dir: str
    resolution: int = 64
    kimg: float = 50.0
    batch: int = 8
    snap_kimg: float = 2.0
    extra: str = ""

    def args(self, resume: bool) -> list[str]:
        """The `train` command line after `--out RUN`. A resume leaves the data, resolution and
        batch to the run's stored config (the trainer refuses different ones)."""
        try:
            extra = shlex.split(self.extra)
        except ValueError as e:
            raise ExplorerError(f"could not read the extra flags: {e}") from e
        sample_kimg = max(self.snap_kimg / 2, 0.001)  # a new grid at least twice per snapshot
        args = ["--resume"] if resume else ["--data", str(Path(self.data).expanduser()),
                                            "--resolution", str(self.resolution), "--batch", str(self.batch)]
        return [*args, "--kimg", f"{self.kimg:g}", "--snap", f"{self.snap_kimg:g}",
                "--sample-every", f"{sample_kimg:g}", "--tick", f"{min(sample_kimg, 4.0):g}", *extra]


def request_from_run(request: TrainRequest, run_dir: str) -> TrainRequest:
    """The form as the run in `run_dir` was started (its config.json), no extra flags (the stored
    config holds them all); `request` unchanged where there is no readable config."""
    run = RunFolder(Path(run_dir).expanduser())
    try:
        config = run.read_json(run.config_path)
        return replace(request, data=str(config["data"]), run_dir=run_dir, resolution=int(config["resolution"]),
                       kimg=float(config["kimg"]), batch=int(config["batch"]),
                       snap_kimg=float(config["snap_kimg"]), extra="")
    except (OSError, ValueError, KeyError, TypeError):
        return request


def _count_images(data: Path, enough: int, limit: int = 20_000) -> int:
    """How many image files a folder tree or zip holds, counted only up to `enough` (so a big
    folder costs no more than a small one); a tree with `limit` files or more counts as enough
    (not worth scanning further: the trainer decides), and so does a zip that cannot be read."""
    from explorer.train.dataset_source import image_extensions
    extensions = image_extensions()

    def is_image(name: str) -> bool:
        base = name.rsplit("/", 1)[-1]
        return os.path.splitext(base)[1].lower() in extensions and not base.startswith(".")
    if data.is_file():
        try:
            with zipfile.ZipFile(data) as archive:  # reads the central directory only
                return min(sum(1 for name in archive.namelist() if is_image(name)), enough)
        except (OSError, zipfile.BadZipFile):
            return enough
    count = seen = 0
    for _, _, files in os.walk(data):
        for name in files:
            count += is_image(name)
            seen += 1
            if count >= enough or seen >= limit:
                return enough
    return count


def _resolution_the_images_reach(data: Path) -> int | None:
    """The largest power of two the first readable image reaches (the trainer does not upscale);
    None when that cannot be read here (the trainer then says why)."""
    from explorer.train.dataset import infer_resolution
    from explorer.train.dataset_source import ImageSource
    try:
        with ImageSource(data) as source:
            return infer_resolution(source, cap=2**30)
    except (ExplorerError, OSError):
        return None


def request_problems(request: TrainRequest, resume: bool) -> dict[str, str]:
    """Every field that cannot work, with the reason, keyed by the field's label (all at once)."""
    problems: dict[str, str] = {}
    run_dir = request.run_dir.strip()
    if not run_dir:
        problems["run folder"] = "choose a folder for the snapshots (it is created if missing)"
    elif Path(run_dir).expanduser().is_file():
        problems["run folder"] = "this is a file; choose a folder"
    if not resume:
        data = Path(request.data.strip()).expanduser()
        if not request.data.strip():
            problems["data folder"] = "choose a folder (or .zip) of training images"
        elif not data.exists():
            problems["data folder"] = "no such folder or zip file"
        elif data.is_file() and not zipfile.is_zipfile(data):
            problems["data folder"] = "this file is not a zip; choose a folder or a .zip of images"
        elif data.is_dir() and _count_images(data, enough=1) == 0:
            problems["data folder"] = "no image files (PNG, JPEG, ...) in this folder or below it"
    r = request.resolution
    if not resume and (r < 8 or r > 1024 or 2 ** int(math.log2(r)) != r):
        problems["resolution"] = "a power of two from 8 to 1024"
    elif not resume and "data folder" not in problems:
        fits = _resolution_the_images_reach(Path(request.data.strip()).expanduser())
        if fits is not None and r > fits:
            problems["resolution"] = f"larger than the images (the first fits {fits} px): choose {fits} or less"
    if not resume and request.batch < 1:
        problems["batch"] = "at least 1"
    if not request.kimg > 0:
        problems["kimg"] = "more than 0"
    if not request.snap_kimg > 0:
        problems["snapshot every (kimg)"] = "more than 0"
    try:
        shlex.split(request.extra)
    except ValueError as e:
        problems["more flags"] = f"cannot read these flags: {e}"
    return problems


def request_warnings(request: TrainRequest, resume: bool) -> dict[str, str]:
    """What will run but is unlikely to be what the user wants, keyed like `request_problems`.

    Warnings do not block Start: a handful of images is a fair smoke test of the setup (the
    trainer loops over them), but the user should know that no useful model comes of it."""
    data = Path(request.data.strip()).expanduser()
    if resume or not request.data.strip() or not (data.is_dir() or zipfile.is_zipfile(data)):
        return {}
    count = _count_images(data, enough=FEW_IMAGES)
    if 0 < count < FEW_IMAGES:
        return {"data folder": f"only {count} image{'s' if count > 1 else ''}: enough to try the setup, "
                               "but a model needs hundreds (thousands for a good one)"}
    return {}


def default_request(device: str) -> TrainRequest:
    """Defaults a first run can finish: small and short on a CPU, NVIDIA's sizes on a GPU."""
    if device.startswith("cuda"):
        return TrainRequest(data="", run_dir="", resolution=256, kimg=5000, batch=32, snap_kimg=100)
    return TrainRequest(data="", run_dir="", extra="--cbase 4096 --cmax 128 --z-dim 128 --map 4")


class TrainRuns(Feature):
    """The controller's `training`; `poll` runs once per UI frame."""

    def __init__(self, host: AppHost) -> None:
        super().__init__(host)
        self.trainer: TrainerProcess | None = None
        self.watcher: RunWatcher | None = None
        self.follow = False
        self.command: Sequence[str] = TRAINER_COMMAND
        self.env: dict[str, str] | None = None
        self.exit_code: int | None = None  # of the trainer this app started, once it ended
        self._stop_asked = False  # this app asked its trainer to stop
        self._snapshot_at_start: Path | None = None  # the run's newest snapshot when it was started
        self._seen_running = False  # the watcher has seen this app's trainer training
        self._asked: Path | None = None    # the newest snapshot this object asked to load
        self.problems: dict[str, str] = {}  # the form's field label -> why it cannot work (last check)
        self.warnings: dict[str, str] = {}  # the form's field label -> what may surprise (last check)
        self._checking: tuple[JobHandle, TrainRequest, bool] | None = None  # (job, request, then start)
        self._next_check: tuple[TrainRequest, bool] | None = None  # waits for `_checking` to end
        self._said_problems = False  # the status line shows the form's problem count
        self._listed: tuple[str, float, bool] | None = None  # (folder, monotonic time, has a run)

    def job_handlers(self) -> dict[JobKind, JobHandler]:
        return {JobKind.CHECK_TRAINING: self.checked, JobKind.STOP_TRAINER: self.stopped}

    @property
    def view(self) -> RunView:
        return self.watcher.view if self.watcher is not None else RunView()

    @property
    def starting(self) -> bool:
        """Whether a Start is waiting for its check."""
        return any(pending is not None and pending[-1] for pending in (self._checking, self._next_check))

    @property
    def running(self) -> bool:
        return self.trainer is not None and self.trainer.running

    @property
    def launching(self) -> bool:
        """Whether a Start is on its way: being checked, or its trainer still starting (importing,
        preparing the data) and not yet seen training; the run column says so meanwhile."""
        return self.starting or (self.running and not self._seen_running)

    def has_run(self, run_dir: str, max_age_s: float = 0.5) -> bool:
        """Whether the folder holds snapshots, i.e. Start would be refused and Resume is meant.

        Asked every frame: the watcher answers for the folder it follows (it reads it anyway),
        and any other folder is listed at most every `max_age_s` (a network share lists slowly)."""
        if not run_dir.strip():
            return False
        folder = Path(run_dir).expanduser()
        if self.watcher is not None and self.watcher.run.path == folder and self.view.state != "absent":
            return self.view.newest_snapshot is not None
        now = time.monotonic()
        if self._listed is None or self._listed[0] != run_dir or now - self._listed[1] > max_age_s:
            self._listed = (run_dir, now, RunFolder(folder).newest_snapshot() is not None)
        return self._listed[2]

    def check(self, request: TrainRequest, start: bool = False) -> None:
        """Check the form in a job (reading a big data folder takes a second or more, too long
        for a UI frame); `problems` holds the result. With `start`, start (or resume) the trainer
        once the check passes. One check runs at a time: a newer request waits for it, replacing
        any other waiting one, and takes over its Start (a fix typed while a Start waits starts
        with the fix)."""
        if start and self.running:
            self.host.set_status("a trainer is already running: stop it first", error=True)
            return
        if start:
            self.host.set_status("checking the training settings ...")
        if self._checking is not None:
            handle, running_request, running_start = self._checking
            self._checking = (handle, running_request, False)
            self._next_check = (request, start or running_start or self.starting)
            return
        resume = self.has_run(request.run_dir)

        def job(report, cancelled) -> tuple[dict[str, str], dict[str, str]]:
            return request_problems(request, resume), request_warnings(request, resume)
        handle = self.host.engine.run_job("check the training settings", job)
        self._checking = (handle, request, start)
        self.host.track_job(JobKind.CHECK_TRAINING, handle)

    def checked(self, handle: JobHandle) -> None:
        """JobFinished of a check: note the problems, start the trainer it was asked to, or run
        the check that waited for it."""
        if self._checking is None or self._checking[0] is not handle:
            return
        _, request, start = self._checking
        self._checking = None
        if self._next_check is not None:
            request, start = self._next_check
            self._next_check = None
            self.check(request, start)
            return
        if handle.status != "done":
            self.host.report_job_end(handle)
            return
        self.problems, self.warnings = handle.result
        if self.problems and (start or self._said_problems):
            count = len(self.problems)
            self.host.set_status(f"the Train form has {count} problem{'s' if count > 1 else ''}: "
                                 "see the red notes", error=True)
            self._said_problems = True
            return
        if self._said_problems:  # the status line still counts problems that are gone
            self.host.set_status("the Train form has no problems left")
            self._said_problems = False
        if start:
            self._start(request)

    def _start(self, request: TrainRequest) -> None:
        """Start (or resume, if the folder has snapshots) a trainer on a checked `request`."""
        if self.running:
            self.host.set_status("a trainer is already running: stop it first", error=True)
            return
        resume = self.has_run(request.run_dir)
        try:
            run_dir = Path(request.run_dir).expanduser()
            snapshot_at_start = RunFolder(run_dir).newest_snapshot()
            self.trainer = TrainerProcess.start(run_dir, request.args(resume), self.command, self.env)
        except (ExplorerError, OSError) as e:
            self.host.set_status(str(e), error=True)
            return
        self.exit_code = None
        self._stop_asked, self._seen_running, self._snapshot_at_start = False, False, snapshot_at_start
        self.watch(str(run_dir))
        note = "".join(f"; note: {warning}" for warning in self.warnings.values())
        self.host.set_status(f"{'resuming' if resume else 'started'} training in {run_dir} (it runs on if you "
                             f"close the app; Stop ends it with a final snapshot){note}")

    def watch(self, run_dir: str) -> None:
        """Follow a run folder (one this app started, or any other); the one followed already
        goes on as it is."""
        folder = Path(run_dir).expanduser()
        if self.watcher is not None:
            if self.watcher.run.path == folder:
                return
            self.watcher.stop()
        self.watcher = RunWatcher(folder).start()
        self._asked = None
        if not folder.is_dir():
            self.host.set_status(f"no folder {folder} yet: the Train panel shows its run once a trainer writes there")

    @property
    def stopping(self) -> bool:
        """Whether this app asked its running trainer to stop and it has not exited yet."""
        return self._stop_asked and self.running

    def stop(self) -> None:
        """Ask the trainer to finish its step, write a final snapshot and exit (waited on a job
        thread). Once: a second SIGINT would make the trainer abort without its snapshot."""
        trainer = self.trainer
        if trainer is None or not trainer.running:
            return
        if self._stop_asked:
            self.host.set_status("already stopping: the trainer ends its step and writes a final snapshot")
            return

        def job(report, cancelled) -> int:
            return trainer.stop()
        self._stop_asked = True
        self.host.track_job(JobKind.STOP_TRAINER, self.host.engine.run_job("stop trainer", job))
        self.host.set_status("stopping the trainer after this step ..." if self._seen_running
                             else "stopping the trainer ...")

    def stopped(self, handle: JobHandle) -> None:
        """JobFinished of the stop job; `poll` reports the exit itself."""
        if handle.status == "failed":
            self.host.report_job_end(handle)

    def load_newest(self) -> None:
        snapshot = self.view.newest_snapshot
        if snapshot is None:
            self.host.set_status("no snapshot yet", error=True)
            return
        self._asked = snapshot
        self.host.load_model(snapshot)

    def poll(self, frame: Frame | None = None) -> None:
        """Notice the trainer's exit, and in follow mode load each new snapshot."""
        trainer = self.trainer
        if trainer is not None and not self._seen_running and self.running and self.view.state == "running":
            self._seen_running = True
        if trainer is not None and self.exit_code is None and not trainer.running:
            self.exit_code = trainer.process.returncode
            if self.watcher is not None:
                self.watcher.refresh()  # the final snapshot and state, before anyone looks
            if (self.exit_code in (0, INTERRUPTED) and self._stop_asked
                    and self.view.newest_snapshot == self._snapshot_at_start):
                # Stopped while still starting (importing: 0; setting up, before the training loop
                # takes the signal over: 130, Ctrl-C's code): nothing was trained.
                self.host.set_status("stopped before the first step: no snapshot" if self._snapshot_at_start is None
                                     else f"stopped before the first step: the run is as it was "
                                          f"({self._snapshot_at_start.name})")
            elif self.exit_code == 0:
                self.host.set_status(f"the trainer {self.view.state} at {self.view.kimg:.3f} kimg")
            else:
                tail = [line for line in trainer.log_tail(5) if line.strip()]
                self.host.set_status(f"the trainer exited with code {self.exit_code}"
                                    + (f": {tail[-1].strip()}" if tail else ""), error=True)
        snapshot = self.view.newest_snapshot
        if self.follow and snapshot is not None and snapshot != self._asked and self.host.loading is None:
            self.load_newest()

    def close(self) -> None:
        """Stop watching (the app is closing); a running trainer carries on by design."""
        if self.watcher is not None:
            self.watcher.stop()
