"""The Doctor panel's logic against a real render thread, with a planted droplet; and its
progress bar in the real window at the default size."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from explorer.app.controller import AppController
from explorer.app.doctor import MIN_APP_SEEDS
from explorer.app.job_kinds import JobKind
from explorer.app.panels import DoctorPanel
from explorer.app.settings import Settings
from explorer.diagnose.diversity import MIN_SEEDS, too_few_seeds
from explorer.engine import RenderThread, render_state
from explorer.latent.state import LatentState
from explorer.model import Model
from tests.gui_harness import focus, gui_display, make_app, run_app_test, wait_frames_until  # noqa: F401
from tests.test_app_controller import pump
from tests.test_diagnose import PLANTED_LAYER, planted_spike_model, tiny_model


def make_controller(tmp_path) -> AppController:
    engine = RenderThread(device="cpu")
    engine.start()
    settings = Settings.load(tmp_path / "config")
    settings.save_dir = str(tmp_path / "out")
    ctl = AppController(engine, settings, LatentState(seed=5, psi=0.7))
    ctl.load_model(planted_spike_model())
    pump(ctl, lambda: ctl.shows_current_state(ctl.frame))
    return ctl


def test_doctor_runs_in_background_and_a_finding_shows_its_layer(tmp_path):
    ctl = make_controller(tmp_path)
    try:
        ctl.doctor.seeds = 4
        ctl.doctor.start()
        assert ctl.doctor.busy
        ctl.edit(seed=6)  # the picture keeps rendering while the doctor works on its own copy
        pump(ctl, lambda: ctl.frame is not None and ctl.frame.state.seed == 6, timeout=60)
        pump(ctl, lambda: not ctl.doctor.busy, timeout=300)
        diagnosis = ctl.doctor.diagnosis
        assert diagnosis is not None and "doctor:" in ctl.status.text and "1 check(s) not judged" in ctl.status.text
        checks = [f.check for f in diagnosis.findings]
        assert checks == ["droplets", "sticking", "noise", "w_space", "diversity"]
        index = checks.index("droplets")
        finding = diagnosis.findings[index]
        assert finding.severity == "warn" and finding.layer == PLANTED_LAYER
        ctl.end_frame(editing=False)  # the UI frame that ends commits the state to history
        before = ctl.state
        ctl.doctor.select(index)
        ctl.end_frame(editing=False)
        assert ctl.state.view_layer == PLANTED_LAYER and ctl.state.seed == finding.seed
        assert ctl.status.text == f"the droplets finding: showing seed {finding.seed}, layer {PLANTED_LAYER} (Undo goes back)"
        assert ctl.doctor.marker.layer == PLANTED_LAYER and ctl.doctor.marker.position == finding.position
        pump(ctl, lambda: ctl.shows_current_state(ctl.frame))
        np.testing.assert_array_equal(ctl.frame.rgba, render_state(planted_spike_model(), ctl.state).rgba)
        ctl.undo()  # as the status line says
        assert ctl.state == before
        ctl.doctor.select(index)
        # A finding without a layer shows the picture itself.
        ctl.doctor.select(checks.index("w_space"))
        assert ctl.state.view_layer is None and ctl.doctor.marker is None
        assert ctl.status.text.startswith("the w_space finding: it is about the model as a whole")
        # 4 seeds are too few to judge diversity: skipped, saying why (as the CLI says), no false
        # alarm, and not counted as a note.
        diversity = diagnosis.findings[checks.index("diversity")]
        assert (diversity.severity, diversity.message) == ("skip", too_few_seeds(4).message)
        assert [f.check for f in diagnosis.findings if f.severity == "warn"] == ["droplets"]
    finally:
        ctl.close()
        ctl.engine.stop()


def test_cancelled_doctor_says_so(tmp_path):
    ctl = make_controller(tmp_path)
    try:
        ctl.doctor.start()
        ctl.doctor.cancel()
        pump(ctl, lambda: JobKind.DOCTOR not in ctl.jobs, timeout=120)
        assert ctl.doctor.diagnosis is None and "cancelled" in ctl.status.text
    finally:
        ctl.close()
        ctl.engine.stop()


def test_another_model_takes_the_diagnosis_and_a_run_under_way_with_it(tmp_path):
    ctl = make_controller(tmp_path)
    try:
        ctl.doctor.seeds = MIN_APP_SEEDS
        ctl.doctor.start()
        pump(ctl, lambda: not ctl.doctor.busy, timeout=300)
        ctl.doctor.select([f.check for f in ctl.doctor.diagnosis.findings].index("droplets"))
        assert ctl.doctor.marker is not None
        other = tiny_model(seed=9)
        ctl.load_model(other)
        pump(ctl, lambda: ctl.model_info.content_hash == other.info.content_hash)
        assert (ctl.doctor.diagnosis, ctl.doctor.selected, ctl.doctor.marker) == (None, None, None)
        ctl.doctor.start()  # a run under way when the model changes is cancelled: it examines the old one
        ctl.load_model(planted_spike_model())
        pump(ctl, lambda: not ctl.doctor.busy and ctl.model_info.content_hash != other.info.content_hash,
             timeout=120)
        assert ctl.doctor.diagnosis is None
    finally:
        ctl.close()
        ctl.engine.stop()


def test_the_seed_count_says_what_it_cannot_judge(tmp_path):
    ctl = make_controller(tmp_path)
    try:
        ctl.doctor.set_seeds(1)
        assert ctl.doctor.seeds == MIN_APP_SEEDS == 4
        hint = ctl.doctor.unjudged
        assert f"from {MIN_SEEDS} seeds up" in hint and "with 4 it is not measured" in hint
        ctl.doctor.set_seeds(MIN_SEEDS)
        assert ctl.doctor.unjudged is None
    finally:
        ctl.close()
        ctl.engine.stop()


def held_after_first_batch(model: Model) -> threading.Event:
    """Makes `model` (and the doctor's copy of it) wait, at its second render of several seeds, until
    the returned event is set: the doctor then stays at the droplets check's first progress message."""
    release, batches = threading.Event(), []

    def hold(module: torch.nn.Module, args: tuple) -> None:
        if args[0].shape[0] > 1:
            batches.append(1)
            if len(batches) == 2:
                release.wait(timeout=120)
    model.generator.synthesis.register_forward_pre_hook(hold)
    return release


@pytest.mark.parametrize("size", [(1400, 900), (640, 600)], ids=["default size", "narrow"])
def test_the_progress_text_is_whole(make_app, size):
    """Beside the seeds control the bar cut "droplets: spike index per layer" to "lets: spike ...".
    Now the bar has a line of its own; in a panel too narrow even for that, the bar shows the
    percentage and the message goes under it."""
    model = tiny_model()
    release = held_after_first_batch(model)
    ctl = make_app(model)

    def test(ctx, window):
        panel = window.panel(DoctorPanel)
        focus(ctx, "Doctor")
        ctx.set_ref("//Doctor")
        ctx.item_input_value("seeds", 16)
        ctx.item_click("Diagnose")
        wait_frames_until(ctx, lambda: (job := ctl.jobs.get(JobKind.DOCTOR)) is not None
                          and job.progress is not None and job.progress.message.startswith("droplets"),
                          timeout_s=120, what="the droplets check")
        ctx.yield_(2)
        shown, progress = panel.progress_shown, ctl.jobs[JobKind.DOCTOR].progress
        assert progress.message == "droplets: spike index per layer"
        assert shown.text == (progress.message if size == (1400, 900) else f"{progress.fraction:.0%}")
        assert shown.text_width <= shown.bar_width, shown
        ctx.item_click("Cancel##doctor")
        release.set()
        wait_frames_until(ctx, lambda: JobKind.DOCTOR not in ctl.jobs, timeout_s=120, what="the cancel")
        ctx.yield_(2)
        assert panel.progress_shown is None and ctl.doctor.diagnosis is None

    try:
        run_app_test(ctl, test, size=size)
    finally:
        release.set()
