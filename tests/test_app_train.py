"""The Train panel: a real trainer process on a tiny folder, watched, stopped and followed.

The watcher and the command line it builds are tested headless; the GUI test starts a run
from the panel, sees progress, curves and samples, stops it, and checks that the final
snapshot is on screen with the seed and psi it had before.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from tests.gui_harness import (assert_screen_equals, focus, gui_display, make_app,  # noqa: F401
                               run_app_test, screen_picture, wait_for_current_picture, wait_frames_until)

import explorer
from explorer.app.panels import TrainPanel
from explorer.app.run_watcher import MetricsTail, RunWatcher
from explorer.app.train_runs import (FEW_IMAGES, TrainRequest, default_request, request_from_run,
                                     request_problems, request_warnings)
from explorer.engine import render_state
from explorer.fileio import save_png
from explorer.latent.state import LatentState
from explorer.train.monitor import STOPPED_EARLY, TRAINER_NICE, TrainerProcess
from explorer.train.run_folder import RunFolder
from tests.test_app_controller import app, pump, tiny_model  # noqa: F401  (app: the fixture)
from tests.test_train_support import TINY_TRAIN_FLAGS, make_shapes_folder, subprocess_env


def test_metrics_are_read_incrementally(tmp_path):
    path = tmp_path / "metrics.jsonl"
    tail = MetricsTail(path)
    assert len(tail.read()["kimg"]) == 0  # no file yet
    path.write_text(json.dumps({"kimg": 0.1, "loss_G": 1.0, "loss_D": 2.0}) + "\n" + '{"kimg": 0.2, "lo')
    curves = tail.read()
    assert curves["kimg"].tolist() == [0.1] and curves["loss_D"].tolist() == [2.0]
    with open(path, "a") as f:  # the torn line is completed
        f.write('ss_G": 3.0}\n')
    curves = tail.read()
    assert curves["kimg"].tolist() == [0.1, 0.2] and np.isnan(curves["loss_D"][1])
    path.write_text(json.dumps({"kimg": 0.1, "loss_G": 5.0}) + "\n")  # rewritten by a resume
    assert tail.read()["loss_G"].tolist() == [5.0]


def test_metrics_are_standard_json_and_a_nan_reads_as_a_gap(tmp_path):
    """ADA's statistic before its first measurement (or a diverged loss) is NaN: written as null,
    which every JSON parser reads, and the curves show a gap there."""
    run = RunFolder(tmp_path / "run")
    run.append_metrics({"kimg": 0.1, "loss_G": float("nan"), "ada_rt": float("inf"),
                        "sv": {"b4.conv1": [1.0, float("nan")]}})
    line = run.metrics_path.read_text()

    def refuse(constant):
        raise ValueError(f"non-standard JSON constant {constant}")

    assert json.loads(line, parse_constant=refuse) == {"kimg": 0.1, "loss_G": None, "ada_rt": None,
                                                        "sv": {"b4.conv1": [1.0, None]}}
    curves = MetricsTail(run.metrics_path).read()
    assert curves["kimg"].tolist() == [0.1] and np.isnan(curves["loss_G"][0])


def test_watcher_reads_state_samples_and_snapshots(tmp_path):
    run = RunFolder(tmp_path / "run")
    watcher = RunWatcher(run.path)
    assert watcher.refresh().state == "absent"
    run.path.mkdir()
    run.write_status(state="running", kimg=0.5, total_kimg=2.0, sec_per_kimg=10.0)  # our own pid: alive
    grid = np.full((8, 12, 3), 200, np.uint8)
    save_png(run.sample_path(500), grid)
    run.snapshots_dir.mkdir()
    run.snapshot_path(500).write_bytes(b"x")
    view = watcher.refresh()
    assert (view.state, view.fraction) == ("running", 0.25) and 14.0 < view.seconds_left <= 15.0
    status = json.loads(run.status_path.read_text())
    run.status_path.write_text(json.dumps({**status, "updated": status["updated"] - 5}))
    assert 9.0 < watcher.refresh().seconds_left <= 10.0  # counts down between the trainer's ticks
    run.write_status(state="running", kimg=0.5, total_kimg=2.0, sec_per_kimg=10.0, time_left_s=6.0)
    assert 5.0 < watcher.refresh().seconds_left <= 6.0  # a --time-budget that ends the run first
    assert view.sample.shape == (8, 12, 4) and view.newest_snapshot == run.snapshot_path(500)
    assert watcher.refresh().sample is view.sample  # decoded once
    status = json.loads(run.status_path.read_text())
    status["pid"] = 2**22 + 12345  # no such process: the trainer died without saying so
    run.status_path.write_text(json.dumps(status))
    assert watcher.refresh().state == "dead"


def test_request_becomes_train_flags():
    r = TrainRequest(data="~/faces", run_dir="/runs/a", resolution=32, kimg=10, batch=4, snap_kimg=1,
                     extra="--cbase 512 --device 'cpu'")
    args = r.args(resume=False)
    assert args[:2] == ["--data", os.path.expanduser("~/faces")]
    assert args[2:] == ["--resolution", "32", "--batch", "4", "--kimg", "10", "--snap", "1",
                        "--sample-every", "0.5", "--tick", "0.5", "--cbase", "512", "--device", "cpu"]
    # a resume keeps the run's data, resolution and batch (the trainer refuses others)
    assert r.args(resume=True) == ["--resume", "--kimg", "10", "--snap", "1", "--sample-every", "0.5",
                                   "--tick", "0.5", "--cbase", "512", "--device", "cpu"]
    assert "--cbase" in default_request("cpu").extra and default_request("cuda:0").resolution == 256


def test_watching_a_missing_folder_says_so(app, tmp_path):
    ctl, _ = app
    ctl.training.watch(str(tmp_path / "nowhere"))
    assert "no folder" in ctl.status.text and "nowhere" in ctl.status.text


def test_has_run_asks_the_watcher_or_lists_at_most_twice_a_second(app, tmp_path):
    """The panel asks every frame whether its run folder holds a run: a folder nobody follows
    is listed again only when the last listing is older than `max_age_s`, and the followed
    one is answered by its watcher's reading."""
    ctl, _ = app
    run = RunFolder(tmp_path / "run")
    run.snapshots_dir.mkdir(parents=True)
    assert not ctl.training.has_run(str(run.path)) and not ctl.training.has_run("  ")
    run.snapshot_path(100).write_bytes(b"x")
    assert not ctl.training.has_run(str(run.path), max_age_s=60)  # the listing of a moment ago
    assert ctl.training.has_run(str(run.path), max_age_s=0)
    run.write_status(state="running", kimg=0.1, total_kimg=1.0)
    ctl.training.watch(str(run.path))
    ctl.training.watcher.refresh()
    run.snapshot_path(100).unlink()  # the watcher has not read the folder since
    assert ctl.training.has_run(str(run.path), max_age_s=0)
    ctl.training.watcher.refresh()
    assert not ctl.training.has_run(str(run.path), max_age_s=0)


def test_a_run_folder_fills_the_form_with_its_settings(tmp_path):
    run = RunFolder(tmp_path / "run")
    run.path.mkdir()
    run.write_json(run.config_path, {"data": "/data/faces", "resolution": 32, "kimg": 0.5, "batch": 4,
                                     "snap_kimg": 0.1, "channel_base": 512})
    form = default_request("cpu")
    loaded = request_from_run(form, str(run.path))
    assert (loaded.data, loaded.resolution, loaded.kimg, loaded.batch, loaded.snap_kimg, loaded.extra) == \
        ("/data/faces", 32, 0.5, 4, 0.1, "")
    assert request_from_run(form, str(tmp_path / "nothing")) == form


def test_typing_a_run_folder_shows_its_settings_and_edits_survive_resume(make_app, tmp_path):
    run = RunFolder(tmp_path / "run")
    run.snapshots_dir.mkdir(parents=True)
    run.write_json(run.config_path, {"data": str(tmp_path / "data"), "resolution": 32, "kimg": 0.5,
                                     "batch": 4, "snap_kimg": 0.1})
    run.write_json(run.status_path, {"state": "stopped", "kimg": 0.032, "total_kimg": 0.5})
    snapshot = run.snapshots_dir / "snapshot-0000000032.safetensors"
    explorer.save(tiny_model(seed=33), snapshot)
    ctl = make_app(tiny_model(seed=32))

    def test(ctx, window):
        wait_for_current_picture(ctx, window)
        focus(ctx, "Train")
        ctx.set_ref("//Train/train")
        panel = window.panel(TrainPanel)
        ctx.item_input_value("##run folder", str(run.path))
        wait_frames_until(ctx, lambda: panel.request.resolution == 32, 30, "the run's settings")
        assert (panel.request.data, panel.request.kimg, panel.request.batch) == (str(tmp_path / "data"), 0.5, 4)
        wait_frames_until(ctx, lambda: ctl.training.view.newest_snapshot == snapshot, 30, "the run followed")
        ctx.item_input_value("kimg", 2.0)  # an edit after the folder was recognised is kept
        ctx.yield_(3)
        assert panel.request.kimg == 2.0
        assert panel.request.args(resume=True)[:3] == ["--resume", "--kimg", "2"]

    run_app_test(ctl, test)


TINY_FLAGS = "--z-dim 16 --map 1 --cbase 128 --cmax 16 --workers 0 --device cpu --aug none"


def test_train_from_the_panel_then_stop_and_follow(make_app, tmp_path):
    data = make_shapes_folder(tmp_path / "data", count=16, size=16)
    run_dir = tmp_path / "run"
    ctl = make_app(tiny_model(seed=31), LatentState(seed=5, psi=0.7))
    ctl.training.env = subprocess_env()  # one thread for the child: the test machines are small

    def test(ctx, window):
        wait_for_current_picture(ctx, window)
        focus(ctx, "Train")
        ctx.set_ref("//Train/train")  # the form and the run sit in the columns of a table
        ctx.item_input_value("##data folder", str(data))
        ctx.item_input_value("##run folder", str(run_dir))
        ctx.item_input_value("resolution", 16)
        ctx.item_input_value("batch", 4)
        ctx.item_input_value("kimg", 1000.0)
        ctx.item_input_value("snapshot every (kimg)", 0.032)
        ctx.item_input_value("more flags", f"{TINY_FLAGS} --cache-dir {tmp_path / 'cache'}")
        ctx.item_check("follow")
        ctx.item_click("Start")
        training = ctl.training
        wait_frames_until(ctx, lambda: training.running or not training.starting, 30, "the form's check")
        assert training.running, ctl.status.text

        def progressing() -> bool:
            view = training.view
            assert training.running, "\n".join(training.trainer.log_tail(20))
            return (view.state == "running" and view.kimg > 0 and len(view.curves["kimg"]) >= 2
                    and view.sample is not None and window.panel(TrainPanel).sample_view.rect is not None)
        wait_frames_until(ctx, progressing, 60, "training progress")
        snapshots = RunFolder(run_dir).snapshots_dir
        wait_frames_until(ctx, lambda: ctl.model_source.startswith(str(snapshots)), 60, "a followed snapshot")
        assert (ctl.state.seed, ctl.state.psi) == (5, 0.7)
        ctx.item_click("Stop")
        # A second Stop (a second SIGINT) would make the trainer abort without its final snapshot:
        # the button is disabled meanwhile, and a stop asked again is only a note.
        assert training.stopping and ctl.status.text.startswith("stopping the trainer")
        ctx.yield_()
        assert ctx.item_exists("Stopping ...") and not ctx.item_exists("Stop")
        training.stop()
        assert ctl.status.text.startswith("already stopping")
        wait_frames_until(ctx, lambda: training.exit_code is not None, 60, "the trainer to exit")
        assert training.exit_code == 0 and training.view.state == "stopped" and not training.stopping
        final = RunFolder(run_dir).newest_snapshot()
        assert training.view.newest_snapshot == final
        wait_frames_until(ctx, lambda: ctl.model_source == str(final) and ctl.loading is None, 30,
                          "the final snapshot")
        wait_for_current_picture(ctx, window)
        assert (ctl.state.seed, ctl.state.psi) == (5, 0.7)
        model = explorer.load(final)
        assert_screen_equals(window, screen_picture(ctx, window, tmp_path), render_state(model, ctl.state).rgba)
        # The newest sample grid is on screen as written.
        view = window.panel(TrainPanel).sample_view
        wait_frames_until(ctx, lambda: view.key == ("sample", training.view.sample_path), what="the last grid")
        ctx.yield_(2)
        assert_screen_equals(window, screen_picture(ctx, window, tmp_path, view), training.view.sample, view=view)
        # ... and, enlarged, in a window of its own, larger than in the tab.
        ctx.item_click("//Train/train/enlarge")
        large = window.panel(TrainPanel).large_sample_view
        wait_frames_until(ctx, lambda: large.rect is not None, what="the enlarged grid")
        ctx.yield_(2)
        assert large.rect.width > view.rect.width
        assert_screen_equals(window, screen_picture(ctx, window, tmp_path, large), training.view.sample, view=large)

    try:  # a tall window: the sample grid must fit the Train tab at a whole-number zoom
        run_app_test(ctl, test, size=(1600, 1200))
    finally:
        trainer = ctl.training.trainer
        if trainer is not None and trainer.running:
            trainer.process.kill()
            trainer.wait(10)


def test_a_stop_while_the_trainer_starts_up_exits_cleanly(tmp_path):
    """A stop sent at once (the child is still starting Python, or importing torch, for seconds):
    exit code 0 and a plain line in the log, no KeyboardInterrupt traceback, nothing written."""
    data = make_shapes_folder(tmp_path / "data", count=8, size=16)
    run = RunFolder(tmp_path / "run")
    trainer = TrainerProcess.start(run.path, ["--data", str(data), *TINY_TRAIN_FLAGS], env=subprocess_env())
    try:
        assert trainer.stop(timeout=60) == 0, "\n".join(trainer.log_tail())
    finally:
        if trainer.running:
            trainer.process.kill()
    log = (run.path / "log.txt").read_text()
    assert "Traceback" not in log and "KeyboardInterrupt" not in log, log
    assert STOPPED_EARLY in log
    assert run.read_status() is None and run.newest_snapshot() is None


def test_a_stop_at_any_moment_of_the_start_up_ends_the_trainer_without_a_traceback(tmp_path):
    """Whenever the Stop comes (importing torch, setting up, training), the trainer ends: 0 (a
    clean stop, or one before training started) or 130 (set-up interrupted), never a traceback,
    never a Stop lost while training goes on. An exception raised inside numpy's imports once
    turned into an ImportError (exit 1), or was swallowed and the run trained to its end."""
    data = make_shapes_folder(tmp_path / "data", count=8, size=16)
    for i, delay in enumerate((0.05, 0.2, 0.5, 1.0, 2.0, 3.0)):
        run = RunFolder(tmp_path / f"run{i}")
        trainer = TrainerProcess.start(run.path, ["--data", str(data), *TINY_TRAIN_FLAGS, "--kimg", "50"],
                                       env=subprocess_env())
        try:
            time.sleep(delay)
            code = trainer.stop(timeout=60)
        finally:
            if trainer.running:
                trainer.process.kill()
        log = (run.path / "log.txt").read_text()
        assert code in (0, 130) and "Traceback" not in log, f"stop after {delay} s: exit {code}\n{log}"


@pytest.mark.skipif(not hasattr(os, "getpriority"), reason="no process priorities to read here")
def test_the_trainer_runs_below_the_app_s_priority(tmp_path):
    """Training takes the idle CPU, the app's renders come first: the trainer lowers its nice
    value, and on Linux that of its session's scheduling group (autogroup), which is what
    competes with the app's group."""
    data = make_shapes_folder(tmp_path / "data", count=8, size=16)
    trainer = TrainerProcess.start(tmp_path / "run", ["--data", str(data), *TINY_TRAIN_FLAGS], env=subprocess_env())
    try:
        wanted = min(os.getpriority(os.PRIO_PROCESS, 0) + TRAINER_NICE, 19)  # nice stops at 19
        group = Path(f"/proc/{trainer.process.pid}/autogroup")
        grouped = Path("/proc/sys/kernel/sched_autogroup_enabled")
        grouped = grouped.exists() and grouped.read_text().strip() == "1"

        def lowered() -> bool:
            if os.getpriority(os.PRIO_PROCESS, trainer.process.pid) < wanted:
                return False
            return not grouped or group.read_text().split()[-1] == str(TRAINER_NICE)
        deadline = time.monotonic() + 60
        while not lowered():
            assert trainer.running and time.monotonic() < deadline, "\n".join(trainer.log_tail())
            time.sleep(0.05)
    finally:
        trainer.stop(timeout=60)


def test_few_images_warn_but_do_not_block(tmp_path):
    """A handful of images is a fair smoke test, so Start goes on; the form says what it is."""
    few = make_shapes_folder(tmp_path / "few", count=6, size=16)
    (few / ".hidden.png").write_bytes(b"")  # not an image the trainer reads
    request = TrainRequest(data=str(few), run_dir=str(tmp_path / "run"), resolution=16)
    assert request_problems(request, resume=False) == {}
    assert request_warnings(request, resume=False)["data folder"].startswith("only 6 images:")
    assert request_warnings(request, resume=True) == {}  # a resume reads the run's data
    enough = make_shapes_folder(tmp_path / "enough", count=FEW_IMAGES, size=16)
    assert request_warnings(TrainRequest(data=str(enough), run_dir="r"), resume=False) == {}
    packed = tmp_path / "few.zip"
    with zipfile.ZipFile(packed, "w") as archive:
        for i in range(3):
            archive.write(few / f"img{i:03d}.png", f"imgs/{i}.png")
        archive.writestr("imgs/readme.txt", "x")
    assert request_warnings(TrainRequest(data=str(packed), run_dir="r"), resume=False)["data folder"] \
        .startswith("only 3 images:")
    assert request_warnings(TrainRequest(data=str(tmp_path / "missing"), run_dir="r"), resume=False) == {}


def test_stop_during_start_up_is_a_stop_and_a_crash_is_an_error(app, tmp_path):
    """From the app: Start on six images (a warning, not a refusal), the run column says the
    trainer is starting, Stop while it still imports torch: a plain "stopped" line, not red.
    A trainer that fails (here: a flag it does not know) is still reported in red."""
    ctl, _ = app
    training = ctl.training
    training.env = subprocess_env()
    data = make_shapes_folder(tmp_path / "data", count=6, size=16)
    form = TrainRequest(data=str(data), run_dir=str(tmp_path / "run"), resolution=16, batch=4, kimg=1,
                        extra="--z-dim 16 --map 1 --cbase 128 --cmax 16 --workers 0 --device cpu")
    try:
        training.check(form, start=True)
        assert training.launching  # while the form is checked
        pump(ctl, lambda: training.running or not training.starting)
        assert training.running, ctl.status.text
        assert "only 6 images" in training.warnings["data folder"] and not training.problems
        assert "note: only 6 images" in ctl.status.text and not ctl.status.is_error
        assert training.launching and training.view.state == "absent"  # no status.json yet
        training.stop()
        pump(ctl, lambda: training.exit_code is not None, timeout=60)
        assert training.exit_code == 0
        assert ctl.status.text == "stopped before the first step: no snapshot" and not ctl.status.is_error
        assert not training.launching
        assert "Traceback" not in (tmp_path / "run" / "log.txt").read_text()

        training.check(dataclasses.replace(form, run_dir=str(tmp_path / "run2"), extra="--no-such-flag"),
                       start=True)
        pump(ctl, lambda: training.running or not training.starting)
        pump(ctl, lambda: training.exit_code is not None, timeout=60)
        assert training.exit_code == 2 and ctl.status.is_error
        assert ctl.status.text.startswith("the trainer exited with code 2: ")
    finally:
        if training.trainer is not None and training.trainer.running:
            training.trainer.process.kill()
            training.trainer.wait(10)
