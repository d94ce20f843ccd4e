"""Projection in the app: a dropped image is inverted in the background and becomes picture A.

Headless tests drive `ctl.projection` against a real render thread (pause, stop, refine, mixing);
the GUI test drops a picture the tiny model drew on the real window and checks the progress
frames, and that the final latent's picture on screen equals a direct render of the state.
"""

from __future__ import annotations

import copy
import threading
import time

import numpy as np
import pytest

from tests.gui_harness import (assert_screen_equals, focus, gui_display, make_app,  # noqa: F401
                               run_app_test, screen_picture, wait_for_current_picture, wait_frames_until)

from explorer.app.controller import AppController
from explorer.app.panels import ProjectionPanel
from explorer.app.projections import PAD, coarse_rows, crop_note, side_by_side
from explorer.app.settings import Settings
from explorer.directions import DirectionCache
from explorer.engine import RenderThread, render_state
from explorer.fileio import save_png
from explorer.imageinput import load_image
from explorer.latent.state import LatentState
from explorer.model import Model
from explorer.project import ProjectionConfig
from tests.test_app_controller import pump, tiny_model

QUICK = ProjectionConfig(steps=20, loss="l1", w_std_samples=1000, kmeans_samples=500, kmeans_clusters=4)


def generated_png(model, path, seed: int = 7):
    """A plain PNG (no saved state) of what the model draws for `seed`."""
    save_png(path, render_state(model, LatentState(seed=seed)).rgba[..., :3])
    return path


def test_side_by_side_and_coarse_rows():
    target = np.full((4, 4, 3), 9, np.uint8)
    picture = side_by_side(target, None)
    assert picture.shape == (4, 8 + PAD, 4)
    assert (picture[:, :4, :3] == 9).all() and (picture[:, 4:, 3] == 0).all()
    assert (side_by_side(target, np.full((4, 4, 4), 7, np.uint8))[:, 4 + PAD:] == 7).all()
    info = tiny_model().info
    assert coarse_rows(info, {}) == (0, 4) and coarse_rows(info, {"coarse": (0, 2)}) == (0, 2)


@pytest.fixture
def app(tmp_path):
    model = tiny_model(seed=41)
    engine = RenderThread(device="cpu")
    engine.start()
    ctl = AppController(engine, Settings.load(tmp_path / "config"),
                        LatentState(seed=3, psi=0.6, noise_mode="random"),
                        direction_cache=DirectionCache(tmp_path / "directions"))
    ctl.projection.config = QUICK
    ctl.load_model(copy.deepcopy(model))
    pump(ctl, lambda: ctl.shows_current_state(ctl.frame))
    yield ctl, model
    ctl.close()
    engine.stop()


def test_a_crop_that_drops_much_of_the_picture_is_pointed_out(tmp_path):
    wide, square = tmp_path / "grid.png", tmp_path / "face.png"
    save_png(wide, np.zeros((16, 64, 3), np.uint8))  # a row of four faces: three quarters go
    save_png(square, np.zeros((20, 18, 3), np.uint8))
    assert "centre square of this 64 x 16 picture" in crop_note(load_image(wide, 16, 3))
    assert crop_note(load_image(square, 16, 3)) is None


def test_dropped_image_becomes_picture_a(app, tmp_path):
    ctl, model = app
    ctl.queue_dropped([str(generated_png(model, tmp_path / "face.png"))])
    pump(ctl, lambda: ctl.projection.run is not None and ctl.projection.run.result is not None, 120)
    run = ctl.projection.run
    assert run.result.steps == 20 and len(run.losses) == 20
    assert ctl.status.text.endswith("it is now picture A (Undo goes back)")  # A changed: say so
    s = ctl.state
    assert s.latent is not None and s.latent_label == "projection of face.png"
    assert (s.psi, s.noise_mode, s.edits) == (1.0, "const", ())
    pump(ctl, lambda: ctl.shows_current_state(ctl.frame))
    np.testing.assert_array_equal(ctl.frame.rgba, render_state(model, s).rgba)
    np.testing.assert_array_equal(ctl.frame.rgba[..., :3], run.result.image)  # the latent alone draws it
    ctl.projection.refine(10)
    pump(ctl, lambda: not ctl.projection.busy, 120)
    assert run.result.steps == 30 and "PSNR" in ctl.status.text
    # One click: coarse rows from the projection, the rest from seed 9.
    ctl.projection.mix_with_seed(True, 9)
    assert ctl.state.mix_seed == 9 and ctl.state.mix_weights == (0.0,) * 4 + (1.0,) * 2
    pump(ctl, lambda: ctl.shows_current_state(ctl.frame))
    np.testing.assert_array_equal(ctl.frame.rgba, render_state(model, ctl.state).rgba)
    ctl.projection.use_as_mix_source()
    assert ctl.state.mix_latent == ctl.state.latent and ctl.state.mix_seed is None
    ctl.edit(mix_weights=())  # no row from B: using the projection as B changes nothing on screen...
    ctl.projection.use_as_mix_source()
    assert "the projection is picture B: raise" in ctl.status.text  # ...so the status line says what will


def endless_projection(ctl, png, steps_done: int = 1):
    """A projection of `png` that would run forever, once it has taken `steps_done` steps."""
    ctl.projection.config = QUICK.replace(steps=100_000, early_stop=False)
    ctl.open_path(png)
    run = ctl.projection.run
    pump(ctl, lambda: run.step >= steps_done, 120)
    return run


def test_pause_then_stop_keeps_the_best_latent(app, tmp_path):
    ctl, model = app
    run = endless_projection(ctl, generated_png(model, tmp_path / "face.png"), steps_done=3)
    run.pause()
    pump(ctl, lambda: run.holding, 60)  # the step in flight has ended; the job waits
    paused_at = run.step
    time.sleep(0.3)  # not a timing check: a held job cannot step, however long this takes
    assert run.step == paused_at and run.paused and run.holding and ctl.projection.busy
    run.stop()
    pump(ctl, lambda: not ctl.projection.busy, 60)
    assert run.result.cancelled and run.result.steps == paused_at
    assert ctl.state.latent is not None and "stopped" in ctl.status.text


def test_a_second_image_or_another_model_stops_the_projection_and_says_so(app, tmp_path):
    ctl, model = app
    endless_projection(ctl, generated_png(model, tmp_path / "first.png"))
    second = endless_projection(ctl, generated_png(model, tmp_path / "second.png", seed=8))
    assert "the projection of first.png is stopped" in ctl.status.text
    ctl.load_model(tiny_model(seed=9))  # another model: the projection is of no use any more
    pump(ctl, lambda: not ctl.projection.busy, 60)
    assert second.step < 100_000 and "made for the previous model" in ctl.status.text


def test_unreadable_image_and_no_model_are_status_messages(app, tmp_path):
    ctl, model = app
    bad = tmp_path / "bad.png"
    bad.write_bytes(generated_png(model, tmp_path / "ok.png").read_bytes()[:60])  # a truncated PNG
    ctl.projection.start(bad)
    pump(ctl, lambda: not ctl.projection.busy, 60)
    assert ctl.status.is_error and "bad.png" in ctl.status.text and ctl.state.latent is None


def test_dropping_an_image_on_the_window_projects_it(make_app, tmp_path):
    model = tiny_model(seed=42)
    ref = copy.deepcopy(model)
    # Each synthesis call of the projection job waits for the next UI frame, so the window sees
    # the run move however the two threads are scheduled on a busy machine.
    ui_frame = threading.Event()

    def in_step_with_the_ui(module, args) -> None:
        if threading.current_thread().name.startswith("job-"):
            ui_frame.wait(timeout=5)
            ui_frame.clear()

    model.generator.synthesis.register_forward_pre_hook(in_step_with_the_ui)
    ctl = make_app(model)
    png = generated_png(ref, tmp_path / "target.png")

    def test(ctx, window):
        wait_for_current_picture(ctx, window)
        focus(ctx, "Projection")
        ctx.set_ref("//Projection")
        ctx.item_input_value("steps", 120)
        ctx.item_input_value("loss", "l1")
        window.on_drop(None, [str(png)])  # what GLFW calls for a drop
        wait_frames_until(ctx, lambda: ctl.projection.busy, what="the projection job")
        run = ctl.projection.run
        steps, uploads = set(), window.panel(ProjectionPanel).view.uploads

        def seen() -> bool:  # called once per UI frame
            steps.add(run.step)
            ui_frame.set()
            return not ctl.projection.busy
        wait_frames_until(ctx, seen, 120, "the projection to finish")
        assert len({s for s in steps if 0 < s < 120}) >= 2, f"progress frames seen: {sorted(steps)}"
        assert window.panel(ProjectionPanel).view.uploads - uploads >= 3  # target, then previews as they came
        assert run.result is not None and run.result.steps == 120
        assert ctl.state.latent is not None and ctl.state.latent_label == "projection of target.png"
        wait_for_current_picture(ctx, window)
        assert_screen_equals(window, screen_picture(ctx, window, tmp_path), render_state(ref, ctl.state).rgba)
        view = window.panel(ProjectionPanel).view
        wait_frames_until(ctx, lambda: view.key == ("projection", run.serial, run.picture_version),
                          what="the last preview")
        ctx.yield_(2)
        assert_screen_equals(window, screen_picture(ctx, window, tmp_path, view), run.picture, view=view)

    run_app_test(ctl, test, size=(1400, 900))


def test_an_image_dropped_while_the_model_loads_is_projected_once_it_is_there(tmp_path):
    model = tiny_model(seed=41)
    engine = RenderThread(device="cpu")
    engine.start()
    ctl = AppController(engine, Settings.load(tmp_path / "config"), LatentState(seed=3),
                        direction_cache=DirectionCache(tmp_path / "directions"))
    try:
        ctl.projection.config = QUICK
        loading = copy.deepcopy(model)
        release = threading.Event()
        loading.to = lambda device: (release.wait(60), Model.to(loading, device))[1]  # a slow load
        ctl.load_model(loading)
        ctl.queue_dropped([str(generated_png(model, tmp_path / "face.png"))])  # as `stylegan-explorer face.png`
        for _ in range(5):
            ctl.poll()  # UI frames while the model is still loading
            time.sleep(0.01)
        release.set()
        pump(ctl, lambda: ctl.loading is None and ctl.projection.run is not None)
        assert "load a model" not in ctl.messages.text()
        pump(ctl, lambda: ctl.projection.run.result is not None, 120)
        assert ctl.state.latent_label == "projection of face.png"
    finally:
        ctl.close()
        engine.stop()
