"""Training runs are not lost: --resume trains in the --out it is given (from any working
directory, in a copied folder too), refuses a folder whose config does not match, and SIGTERM to
the whole process group (what `timeout` sends) stops with a final snapshot and state "stopped"."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from explorer.cli import main
from explorer.train.run_folder import RunFolder
from explorer.train.snapshot import load_snapshot
from tests.test_train_support import (REPO, TINY_TRAIN_FLAGS, TRAIN_COMMAND, make_shapes_folder,
                                      subprocess_env)

pytestmark = pytest.mark.usefixtures("one_torch_thread")
FLAGS = [*TINY_TRAIN_FLAGS, "--tick", "0.016", "--snap", "0.016", "--sample-every", "0.016"]


def _snapshot_nimgs(run: Path) -> list[int]:
    return [load_snapshot(p).nimg for p in RunFolder(run).snapshots()]


@pytest.fixture
def first_run(tmp_path: Path, monkeypatch) -> Path:
    """A finished 32-image run made from `tmp_path/a` with relative --data and --out."""
    a = tmp_path / "a"
    make_shapes_folder(a / "data", count=8)
    monkeypatch.chdir(a)
    assert main(["train", "--data", "data", "--out", "run", "--kimg", "0.032", "--cache-dir", "cache",
                 *FLAGS]) == 0
    assert _snapshot_nimgs(a / "run")[-1] == 32
    return a / "run"


def test_resume_from_another_directory_trains_in_the_given_out(first_run: Path, tmp_path: Path,
                                                                monkeypatch) -> None:
    elsewhere = tmp_path / "b"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    config = json.loads((first_run / "config.json").read_text())
    assert Path(config["data"]).is_absolute()  # so the data is found from here
    assert main(["train", "--resume", "--out", str(first_run), "--kimg", "0.064"]) == 0
    assert _snapshot_nimgs(first_run)[-1] == 64
    assert list(elsewhere.iterdir()) == []  # no fresh run started in the working directory


def test_resume_of_a_copied_run_writes_only_into_the_copy(first_run: Path, tmp_path: Path,
                                                          monkeypatch) -> None:
    copy = tmp_path / "copy" / "run2"
    shutil.copytree(first_run, copy)
    original = sorted(p.name for p in first_run.rglob("*"))
    original_status = (first_run / "status.json").read_bytes()
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--resume", "--out", str(copy), "--kimg", "0.064"]) == 0
    assert _snapshot_nimgs(copy)[-1] == 64
    assert sorted(p.name for p in first_run.rglob("*")) == original
    assert (first_run / "status.json").read_bytes() == original_status
    assert json.loads((copy / "config.json").read_text())["out"] == str(copy)


def test_resume_refuses_a_folder_that_does_not_match(first_run: Path, capsys) -> None:
    code = main(["train", "--resume", "--out", str(first_run), "--kimg", "0.064", "--batch", "8"])
    err = capsys.readouterr().err
    assert code == 1 and "trained with batch=4, not 8" in err and err.count("\n") == 1
    config = json.loads((first_run / "config.json").read_text())
    (first_run / "config.json").write_text(json.dumps({**config, "channel_max": 32}))
    code = main(["train", "--resume", "--out", str(first_run), "--kimg", "0.064"])
    err = capsys.readouterr().err
    assert code == 1 and "does not match its snapshots" in err and "--force" in err
    assert _snapshot_nimgs(first_run)[-1] == 32  # nothing was trained


def test_sigterm_to_the_process_group_stops_with_a_final_snapshot(tmp_path: Path) -> None:
    """Data-loader workers ignore the signal; the trainer finishes its step and saves."""
    data = make_shapes_folder(tmp_path / "data", count=16)
    run = RunFolder(tmp_path / "run")
    flags = [*FLAGS, "--kimg", "1000", "--cache-dir", str(tmp_path / "cache")]
    flags[flags.index("--workers") + 1] = "2"
    proc = subprocess.Popen([*TRAIN_COMMAND, "--data", str(data), "--out", str(run.path), *flags], cwd=REPO,
                            env=subprocess_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        deadline = time.time() + 120
        while not run.snapshots():
            assert proc.poll() is None, proc.stderr.read()
            assert time.time() < deadline, "no snapshot within 120 s"
            time.sleep(0.1)
        before = load_snapshot(run.newest_snapshot()).nimg
        os.killpg(proc.pid, signal.SIGTERM)  # the trainer and its data-loader workers
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    err = proc.stderr.read()
    assert "Traceback" not in err and "stopping after this step" in err, err
    status = run.read_status()
    assert status["state"] == "stopped", status
    assert load_snapshot(run.newest_snapshot()).nimg > before
    assert status["snapshot"] == str(run.newest_snapshot())
    assert not list(run.path.rglob("*.tmp"))
    with pytest.raises(ProcessLookupError):  # no worker of the group outlived the trainer
        deadline = time.time() + 10
        while True:
            os.killpg(proc.pid, 0)
            assert time.time() < deadline, "a data-loader worker is still alive"
            time.sleep(0.1)
