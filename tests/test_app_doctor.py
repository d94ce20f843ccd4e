"""The Doctor panel's logic against a real render thread, with a planted droplet (no window)."""

from __future__ import annotations

import numpy as np

from explorer.app.controller import AppController
from explorer.app.job_kinds import JobKind
from explorer.app.settings import Settings
from explorer.engine import RenderThread, render_state
from explorer.latent.state import LatentState
from tests.test_app_controller import pump
from tests.test_diagnose import PLANTED_LAYER, planted_spike_model


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
        assert diagnosis is not None and "doctor:" in ctl.status.text
        checks = [f.check for f in diagnosis.findings]
        assert checks == ["droplets", "sticking", "noise", "w_space", "diversity"]
        index = checks.index("droplets")
        finding = diagnosis.findings[index]
        assert finding.severity == "warn" and finding.layer == PLANTED_LAYER
        ctl.doctor.select(index)
        assert ctl.state.view_layer == PLANTED_LAYER and ctl.state.seed == finding.seed
        assert ctl.doctor.marker.layer == PLANTED_LAYER and ctl.doctor.marker.position == finding.position
        pump(ctl, lambda: ctl.shows_current_state(ctl.frame))
        np.testing.assert_array_equal(ctl.frame.rgba, render_state(planted_spike_model(), ctl.state).rgba)
        # A finding without a layer shows the picture itself.
        ctl.doctor.select(checks.index("w_space"))
        assert ctl.state.view_layer is None and ctl.doctor.marker is None
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
