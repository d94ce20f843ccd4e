"""A trainer killed with SIGKILL loses at most one snapshot interval; --resume carries on.

Runs the real command in child processes through the headless monitor, which is also what the
app's Train panel uses: start, watch progress, stop cleanly.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import explorer
from explorer.train.monitor import TrainerProcess, read_progress
from explorer.train.run_folder import RunFolder
from explorer.train.snapshot import load_snapshot
from tests.test_train_support import (TINY_TRAIN_FLAGS, TRAIN_COMMAND, make_shapes_folder,
                                      subprocess_env)

TIMEOUT = 90


def _wait_for(condition, trainer: TrainerProcess, what: str) -> None:
    deadline = time.time() + TIMEOUT
    while not condition():
        assert trainer.running, f"trainer exited while waiting for {what}:\n" + "\n".join(trainer.log_tail())
        assert time.time() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_kill_9_then_resume_then_clean_stop(tmp_path: Path) -> None:
    data = make_shapes_folder(tmp_path / "data", count=16)
    out = tmp_path / "run"
    run = RunFolder(out)
    flags = [*TINY_TRAIN_FLAGS, "--kimg", "1000", "--tick", "0.016", "--snap", "0.016",
             "--sample-every", "0.016", "--cache-dir", str(tmp_path / "cache")]

    trainer = TrainerProcess.start(out, ["--data", str(data), *flags], command=TRAIN_COMMAND,
                                   env=subprocess_env())
    try:
        _wait_for(lambda: len(run.snapshots()) >= 2, trainer, "two snapshots")
        assert read_progress(out).state == "running"
        os.kill(trainer.process.pid, signal.SIGKILL)
        assert trainer.wait(10) == -signal.SIGKILL
    finally:
        if trainer.running:
            trainer.process.kill()

    progress = read_progress(out)
    assert progress.state == "dead"  # the status still says running, but nobody is
    newest = run.newest_snapshot()
    assert progress.newest_snapshot == newest
    survived = load_snapshot(newest).nimg
    assert explorer.load(newest).resolution == 16

    resumed = TrainerProcess.start(out, ["--resume", *flags], command=TRAIN_COMMAND, env=subprocess_env())
    try:
        _wait_for(lambda: load_snapshot(run.newest_snapshot()).nimg > survived, resumed, "a new snapshot")
        assert resumed.stop(timeout=TIMEOUT) == 0
    finally:
        if resumed.running:
            resumed.process.kill()

    log = "\n".join(resumed.log_tail(200))
    assert f"resuming from {newest.name}" in log
    final = read_progress(out)
    assert final.state == "stopped" and final.newest_snapshot == run.newest_snapshot()
    assert final.latest_metrics["nimg"] > survived and final.newest_sample is not None
    nimgs = [r["nimg"] for r in run.read_metrics()]
    assert nimgs == sorted(nimgs) and len(nimgs) == len(set(nimgs))  # redone steps replaced, not duplicated
    assert explorer.load(final.newest_snapshot).info.extra["kimg"] == final.kimg
