"""The real app window under Xvfb + Mesa, driven by the Dear ImGui Test Engine.

Every test checks pixels on screen: the picture in the framebuffer, read back at integer zoom,
equals a direct headless `render_state` of the app's state (state -> render thread -> texture ->
screen), not merely that a widget moved.
"""

from __future__ import annotations

import copy
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from tests.gui_harness import (assert_screen_equals, focus, gui_display, large_fill_area,  # noqa: F401
                               make_app, run_app_test, screen_picture, wait_for_current_picture,
                               wait_frames_until, zoomed)
from imgui_bundle import hello_imgui, imgui  # noqa: E402,I001  (gui_harness skips the module without imgui_bundle)
from imgui_bundle.immapp import testing  # noqa: E402

import explorer
from explorer.app.job_kinds import JobKind
from explorer.app.noise_map import heat_scale_rgba
from explorer.app.panels import DoctorPanel, NoisePanel
from explorer.latent.png_state import read_png_state
from explorer.cli_values import MAX_APP_SEED
from explorer.engine import mixing_grid, noise_variance, render_state
from explorer.latent.state import LatentState, encode_latent
from explorer.model import Model
from explorer.nets import build_generator
from tests.conftest import REPO_ROOT
from tests.test_app_controller import tiny_model


def test_psi_slider_and_undo_change_the_pixels(make_app, tmp_path):
    model = tiny_model(seed=1)
    ref = copy.deepcopy(model)
    ctl = make_app(model)

    def test(ctx, window):
        wait_for_current_picture(ctx, window)
        before = screen_picture(ctx, window, tmp_path)
        assert_screen_equals(window, before, render_state(ref, ctl.state).rgba)
        focus(ctx, "Truncation")
        ctx.item_input_value("//Truncation/psi", 0.25)
        assert ctl.state.psi == pytest.approx(0.25)
        wait_for_current_picture(ctx, window)
        after = screen_picture(ctx, window, tmp_path)
        assert_screen_equals(window, after, render_state(ref, ctl.state).rgba)
        assert np.abs(after.astype(int) - before).max() > 10
        assert ctl.history.current.psi == pytest.approx(0.25)  # committed once released
        ctx.key_press(imgui.Key.mod_ctrl | imgui.Key.z)
        wait_frames_until(ctx, lambda: ctl.state.psi == 1.0, what="undo")
        wait_for_current_picture(ctx, window)
        assert_screen_equals(window, screen_picture(ctx, window, tmp_path), render_state(ref, ctl.state).rgba)
        ctx.key_press(imgui.Key.mod_ctrl | imgui.Key.y)
        wait_frames_until(ctx, lambda: ctl.state.psi == pytest.approx(0.25), what="redo")

    run_app_test(ctl, test)


def test_mixing_slider_takes_a_row_from_b(make_app, tmp_path):
    model = tiny_model(seed=2)
    ref = copy.deepcopy(model)
    ctl = make_app(model)

    def test(ctx, window):
        wait_for_current_picture(ctx, window)
        before = screen_picture(ctx, window, tmp_path)
        focus(ctx, "Style mixing")
        ctx.item_input_value("//Style mixing/seed B", 11)
        ctx.item_input_value("//Style mixing/mix row 0 (4px)", 1.0)
        assert ctl.state.mix_seed == 11 and ctl.state.mix_weights[0] == 1.0
        assert ctl.state.has_mixing
        wait_for_current_picture(ctx, window)
        after = screen_picture(ctx, window, tmp_path)
        assert_screen_equals(window, after, render_state(ref, ctl.state).rgba)
        assert np.abs(after.astype(int) - before).max() > 10
        # The classic mixing figure of these seeds (the engine's, as the CLI draws it) has the main
        # picture in cell (row A=3, column B=11).
        grid = mixing_grid(ref, [3, 4], [11], ctl.state.mix_weights)
        np.testing.assert_array_equal(grid[16:32, 16:32], render_state(ref, ctl.state).rgba)
        # Mixing that starts while A has the seed B had takes the next seed as B: a mix of a
        # picture with itself would make every preset look broken.
        ctx.item_click("//Style mixing/mix with B")
        assert ctl.state.mix_seed is None
        ctl.edit(seed=11)
        ctx.item_click("//Style mixing/mix with B")
        assert ctl.state.mix_seed == 12 and ctl.state.has_mixing

    run_app_test(ctl, test)


def test_noise_toggle_for_one_resolution(make_app, tmp_path):
    model = tiny_model(seed=3, noise_strength=0.8)
    ref = copy.deepcopy(model)
    ctl = make_app(model)

    def test(ctx, window):
        wait_for_current_picture(ctx, window)
        before = screen_picture(ctx, window, tmp_path)
        focus(ctx, "Noise")
        ctx.item_click("//Noise/noise 16px")
        assert ctl.state.noise_gains == ((16, 0.0),)
        wait_for_current_picture(ctx, window)
        after = screen_picture(ctx, window, tmp_path)
        assert_screen_equals(window, after, render_state(ref, ctl.state).rgba)
        assert np.abs(after.astype(int) - before).max() > 0
        # Where noise matters: a background job, shown in its own window.
        ctx.item_input_value("//Noise/samples", 4)
        ctx.item_click("//Noise/Show where noise matters")
        wait_frames_until(ctx, lambda: JobKind.NOISE_VARIANCE in ctl.results
                          and window.panel(NoisePanel).variance_view.rect is not None,
                          what="the noise variance map")
        ctx.yield_(2)
        view = window.panel(NoisePanel).variance_view
        assert_screen_equals(window, screen_picture(ctx, window, tmp_path, view),
                             noise_variance(ref, ctl.state, 4).rgba, view=view)
        # Under the map, its colour scale: the same colours from 0 (black) to the largest std (white).
        scale = window.panel(NoisePanel).scale_view
        assert_screen_equals(window, screen_picture(ctx, window, tmp_path, scale), heat_scale_rgba(), view=scale)

    run_app_test(ctl, test)


def test_pick_a_layer_shows_its_feature_map(make_app, tmp_path):
    model = tiny_model(seed=4)
    ref = copy.deepcopy(model)
    ctl = make_app(model)

    def test(ctx, window):
        wait_for_current_picture(ctx, window)
        focus(ctx, "Layers")
        ctx.set_ref("//Layers")
        ctx.combo_click("layer/b8.conv1")
        assert ctl.state.view_layer == "b8.conv1"
        wait_for_current_picture(ctx, window)
        shown = screen_picture(ctx, window, tmp_path)
        expected = render_state(ref, ctl.state).rgba
        assert expected.shape[:2] == (8, 8)
        assert_screen_equals(window, shown, expected)
        # The stats table comes from the frame on screen, one row per synthesis layer.
        wait_frames_until(ctx, lambda: window.image_view.frame.layer_stats != (), what="layer stats")
        names = [s.name for s in window.image_view.frame.layer_stats]
        assert names == list(ref.generator.synthesis.layer_resolutions())
        # The picture's caption says what is shown, and its button goes back to the RGB image.
        ctx.item_click("//Image/Show picture")
        assert ctl.state.view_layer is None
        wait_for_current_picture(ctx, window)
        assert_screen_equals(window, screen_picture(ctx, window, tmp_path), render_state(ref, ctl.state).rgba)
        assert not ctx.item_exists("//Image/Show picture")

    run_app_test(ctl, test)


def test_doctor_panel_finds_the_planted_droplet_and_shows_its_layer(make_app, tmp_path):
    from tests.test_diagnose import PLANTED_LAYER, planted_spike_model
    ref = planted_spike_model()
    ctl = make_app(planted_spike_model())

    def test(ctx, window):
        wait_for_current_picture(ctx, window)
        focus(ctx, "Doctor")
        ctx.set_ref("//Doctor")
        ctx.item_input_value("seeds", 4)
        ctx.item_click("Diagnose")
        assert ctx.item_exists("Cancel##doctor")  # a background job with its progress bar
        wait_frames_until(ctx, lambda: ctl.doctor.diagnosis is not None, timeout_s=300, what="the diagnosis")
        ctx.yield_(2)
        checks = [f.check for f in ctl.doctor.diagnosis.findings]
        row = checks.index("droplets")
        assert ctl.doctor.diagnosis.findings[row].severity == "warn"
        ctx.item_click(f"**/warn##finding{row}")
        assert ctl.state.view_layer == PLANTED_LAYER
        wait_for_current_picture(ctx, window)
        ctx.yield_(2)
        # The layer's map is on screen with a green ring at the blob (5, 9); elsewhere it is the render.
        shown = screen_picture(ctx, window, tmp_path).astype(int)
        zoom = int(window.image_view.rect.zoom)
        expected = zoomed(render_state(ref, ctl.state).rgba, zoom).astype(int)
        assert shown.shape == expected.shape
        cy, cx = (5.5 * zoom, 9.5 * zoom)
        yy, xx = np.mgrid[:shown.shape[0], :shown.shape[1]]
        ring = (np.abs(yy - cy) <= 10) & (np.abs(xx - cx) <= 10)
        assert np.abs(shown - expected)[~ring].max() <= 2
        green = (shown[..., 1] > 200) & (shown[..., 0] < 120)
        assert green[ring].any() and not green[~ring].any()
        # The evidence picture is on screen under the finding's text.
        ctx.scroll_to_bottom("//Doctor")
        wait_frames_until(ctx, lambda: window.panel(DoctorPanel).view.rect is not None, what="the evidence picture")
        picture = ctl.doctor.diagnosis.findings[row].picture
        assert window.panel(DoctorPanel).view.rgba is picture

    run_app_test(ctl, test)


def test_save_then_reopen_the_png_restores_the_pixels(make_app, tmp_path):
    model = tiny_model(seed=5)
    ref = copy.deepcopy(model)
    ctl = make_app(model, LatentState(seed=42, psi=0.7))

    def test(ctx, window):
        wait_for_current_picture(ctx, window)
        saved_screen = screen_picture(ctx, window, tmp_path)
        ctx.key_press(imgui.Key.mod_ctrl | imgui.Key.s)
        wait_frames_until(ctx, lambda: ctl.last_saved is not None, what="the save")
        png = ctl.last_saved.png
        assert png.name == "seed0042.png" and ctl.last_saved.npz.exists()
        saved_state = read_png_state(png)
        assert saved_state == ctl.state
        with Image.open(png) as im:
            assert_screen_equals(window, saved_screen, np.asarray(im.convert("RGB")), tolerance=0)
        focus(ctx, "Latent")
        ctx.item_click("//Latent/Next")
        wait_frames_until(ctx, lambda: ctl.state.seed == 43, what="next seed")
        wait_for_current_picture(ctx, window)
        assert np.abs(screen_picture(ctx, window, tmp_path).astype(int) - saved_screen).max() > 10
        focus(ctx, "Model")
        ctx.item_input_value("//Model/##path", str(png))
        ctx.item_click("//Model/Open")
        wait_frames_until(ctx, lambda: ctl.state == saved_state, what="the restored state")
        wait_for_current_picture(ctx, window)
        reopened = screen_picture(ctx, window, tmp_path)
        np.testing.assert_array_equal(reopened, saved_screen)
        assert_screen_equals(window, reopened, render_state(ref, saved_state).rgba)

    run_app_test(ctl, test)


def test_dropping_a_checkpoint_loads_it(make_app, tmp_path):
    ctl = make_app(tiny_model(seed=6))
    other = tiny_model(seed=7, img_resolution=32)
    path = tmp_path / "dropped.safetensors"
    explorer.save(other, path)
    ref = explorer.load(path)

    def test(ctx, window):
        wait_for_current_picture(ctx, window)
        # What GLFW calls when a file is dropped on the window, with a real path.
        window.on_drop(None, [str(path)])
        wait_frames_until(ctx, lambda: ctl.model_info.content_hash == ref.info.content_hash, what="the load")
        wait_for_current_picture(ctx, window)
        shown = screen_picture(ctx, window, tmp_path)
        assert shown.shape[0] == 32 * int(window.image_view.rect.zoom)
        assert_screen_equals(window, shown, render_state(ref, ctl.state).rgba)
        assert ctl.settings.recent[0] == str(path.resolve())
        window.on_drop(None, [str(tmp_path / "nothing.pkl")])
        wait_frames_until(ctx, lambda: ctl.status.is_error, what="the error message")
        assert "no such file" in ctl.status.text

    run_app_test(ctl, test)


def test_slow_model_keeps_the_ui_live_and_the_newest_request_wins(make_app, tmp_path):
    model = tiny_model(seed=8)
    ref = copy.deepcopy(model)
    synthesis = model.generator.synthesis
    plain_forward = synthesis.forward
    started: list[float] = []
    release = threading.Event()  # once cleared, holds a render in flight until the test sets it
    release.set()

    def slow_forward(*args, **kwargs):
        started.append(time.perf_counter())
        release.wait(timeout=60)
        return plain_forward(*args, **kwargs)

    synthesis.forward = slow_forward
    ctl = make_app(model)
    submitted: list[LatentState] = []
    plain_submit = ctl.engine.submit

    def recording_submit(state: LatentState) -> None:
        submitted.append(state)
        plain_submit(state)

    ctl.engine.submit = recording_submit

    def test(ctx, window):
        wait_for_current_picture(ctx, window, timeout_s=60)
        wait_frames_until(ctx, lambda: len(started) == ctl.engine.stats.frames_rendered, 60, "an idle engine")
        rendered_before, dropped_before = ctl.engine.stats.frames_rendered, ctl.engine.stats.requests_dropped
        focus(ctx, "Truncation")
        release.clear()
        ctx.item_input_value("//Truncation/psi", 0.5)
        wait_frames_until(ctx, lambda: len(started) > rendered_before, what="the psi 0.5 render to start")
        # While that render is held in flight the user keeps moving the slider, and the UI goes on
        # drawing: frames are counted, not timed, so a slow or busy machine cannot fail this.
        # (How fast the UI draws is measured by bench/app.py.)
        frames0 = window.ui_frames
        ctx.item_input_value("//Truncation/psi", 0.6)
        ctx.item_input_value("//Truncation/psi", 0.7)
        wait_frames_until(ctx, lambda: window.ui_frames - frames0 >= 30, 120, "30 UI frames during the render")
        assert ctl.engine.stats.frames_rendered == rendered_before, "the held render is still in flight"
        release.set()
        wait_frames_until(ctx, lambda: window.frames_current_shown >= 2, timeout_s=60, what="psi 0.7")
        # psi 0.6 waited in the one-slot mailbox and was replaced by 0.7: two renders, not three.
        assert [round(s.psi, 3) for s in submitted[-3:]] == [0.5, 0.6, 0.7]
        assert ctl.engine.stats.frames_rendered - rendered_before == 2
        assert ctl.engine.stats.requests_dropped - dropped_before == 1
        assert window.image_view.frame.state == submitted[-1] == ctl.state
        assert_screen_equals(window, screen_picture(ctx, window, tmp_path), render_state(ref, ctl.state).rgba)

    run_app_test(ctl, test)


def test_screenshot_command_writes_the_window(gui_display, tmp_path):
    model = tiny_model(seed=9)
    ckpt = tmp_path / "m.safetensors"
    explorer.save(model, ckpt)
    out = tmp_path / "shot.png"
    env = {**os.environ, "STYLEGAN_EXPLORER_CONFIG_DIR": str(tmp_path / "cfg"),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run([sys.executable, "-m", "explorer", str(ckpt), "--screenshot", str(out),
                           "--frames", "2", "--seed", "4", "--psi", "0.5", "--size", "900x600",
                           "--device", "cpu"],
                          capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    with Image.open(out) as im:
        assert im.size == (900, 600)
        shot = np.asarray(im.convert("RGB"))
    # The picture (at integer zoom) is somewhere in the window: find its top-left block.
    expected = render_state(model, LatentState(seed=4, psi=0.5)).rgba[..., :3]
    assert _contains_zoomed(shot, expected)
    assert not list(tmp_path.glob("*.ini")), "no layout file in the working directory"


def _contains_zoomed(screen: np.ndarray, picture: np.ndarray) -> bool:
    """Whether `picture` appears in `screen` at some integer zoom (exact pixel blocks)."""
    h, w = picture.shape[:2]
    for zoom in range(1, min(screen.shape[0] // h, screen.shape[1] // w) + 1):
        block = np.repeat(np.repeat(picture, zoom, 0), zoom, 1)
        ys, xs = np.nonzero(np.all(screen == block[0, 0], axis=-1))
        for y, x in zip(ys, xs):
            if np.array_equal(screen[y:y + h * zoom, x:x + w * zoom], block):
                return True
    return False


def _transform_window_visible() -> bool:
    return hello_imgui.get_runner_params().docking_params.dockable_window_of_name("Transform").is_visible


def test_stylegan3_transform_by_dragging_the_image_and_by_slider(make_app, tmp_path):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        g = build_generator("stylegan3", dict(
            z_dim=32, w_dim=32, c_dim=0, img_resolution=32, img_channels=3,
            mapping_kwargs=dict(num_layers=2), channel_base=1024, channel_max=32, num_layers=4,
            num_fp16_res=0))
    model = Model(g, None, format="test", source="tiny stylegan3")
    ref = copy.deepcopy(model)
    ctl = make_app(model)

    def test(ctx, window):
        wait_for_current_picture(ctx, window)
        assert _transform_window_visible()
        rect = window.image_view.rect
        center = imgui.ImVec2(rect.x + rect.width / 2, rect.y + rect.height / 2)
        ctx.mouse_move_to_pos(center)
        ctx.key_down(imgui.Key.mod_ctrl)  # a plain drag pans the view; Ctrl+drag moves the input
        ctx.mouse_down(0)
        ctx.mouse_move_to_pos(imgui.ImVec2(center.x + rect.width / 4, center.y))
        ctx.mouse_up(0)
        ctx.key_up(imgui.Key.mod_ctrl)
        ctx.mouse_move_to_pos(imgui.ImVec2(5, 5))  # off the picture
        assert window.image_view.pan == (0.0, 0.0)
        tx, ty = ctl.state.translate
        assert tx == pytest.approx(0.25, abs=0.02) and ty == pytest.approx(0.0, abs=0.02)
        wait_for_current_picture(ctx, window)
        assert_screen_equals(window, screen_picture(ctx, window, tmp_path), render_state(ref, ctl.state).rgba)
        focus(ctx, "Transform")
        ctx.item_input_value("//Transform/rotate", 30.0)
        assert ctl.state.rotate == pytest.approx(30.0)
        wait_for_current_picture(ctx, window)
        assert_screen_equals(window, screen_picture(ctx, window, tmp_path), render_state(ref, ctl.state).rgba)

    run_app_test(ctl, test)


def test_transform_panel_is_hidden_for_stylegan2(make_app):
    ctl = make_app(tiny_model(seed=10))

    def test(ctx, window):
        wait_for_current_picture(ctx, window)
        assert not _transform_window_visible()

    run_app_test(ctl, test)


def test_docked_panels_leave_their_background_to_the_clear_colour(make_app, tmp_path):
    """Software GL pays per pixel for every fill: the docked windows, which tile the window, draw
    no background (the clear colour, their own colour, shows instead); a floating one does."""
    ctl = make_app(tiny_model(seed=12))
    size = (1100, 760)

    def flags(title: str) -> int:
        return hello_imgui.get_runner_params().docking_params.dockable_window_of_name(title).imgui_window_flags

    def test(ctx, window):
        wait_for_current_picture(ctx, window)
        ctx.yield_(2)
        # Large fills of one frame: the picture, menu and status bars; not a window's worth of
        # backgrounds per panel (with them, and the dock space's pass-through, it was 2.2 windows).
        assert large_fill_area(ctx, 0.01 * size[0] * size[1]) < 0.3 * size[0] * size[1]
        assert flags("Truncation") & imgui.WindowFlags_.no_background
        # Beside the picture, inside its docked window: the windows' background colour.
        path = tmp_path / "screen.png"
        testing.capture(ctx, str(path))
        with Image.open(path) as im:
            screen = np.asarray(im.convert("RGB"))
        scale = screen.shape[1] / size[0]
        rect = window.image_view.rect
        beside = screen[round((rect.y + rect.height / 2) * scale), round((rect.x - 8) * scale)]
        bg = imgui.get_style().color_(imgui.Col_.window_bg)
        assert np.abs(beside.astype(int) - np.round(np.array([bg.x, bg.y, bg.z]) * 255)).max() <= 1
        ctx.undock_window("//Truncation")
        wait_frames_until(ctx, lambda: not flags("Truncation") & imgui.WindowFlags_.no_background,
                          what="the floating panel's own background")

    run_app_test(ctl, test, size=size)


def test_software_gl_rasterizes_on_the_cores_the_render_thread_leaves(make_app):
    """Under Mesa's llvmpipe the window's rasterizer runs as many threads as LP_NUM_THREADS, which
    the window sets to the UI's cores before its GL context exists (a user's value wins)."""
    if not os.path.isdir("/proc/self/task"):
        pytest.skip("needs Linux's /proc")
    ctl = make_app(tiny_model(seed=13))
    rasterizers: list[str] = []

    def test(ctx, window):
        wait_for_current_picture(ctx, window)
        for task in os.listdir("/proc/self/task"):
            name = Path(f"/proc/self/task/{task}/comm").read_text().strip()
            rasterizers.extend([name] if name.startswith("llvmpipe") else [])

    run_app_test(ctl, test)
    if not rasterizers:
        pytest.skip("not Mesa's llvmpipe")
    assert len(rasterizers) == int(os.environ["LP_NUM_THREADS"]), rasterizers


def test_every_panel_draws_and_the_class_picker_works(make_app, tmp_path):
    model = tiny_model(seed=11, c_dim=3)
    ref = copy.deepcopy(model)
    ctl = make_app(model)

    def test(ctx, window):
        wait_for_current_picture(ctx, window)
        assert ctl.state.class_idx == 0  # a conditional model always has a class
        for panel in window.panels:
            if not panel.stylegan3_only:
                focus(ctx, panel.title)
        focus(ctx, "Latent")
        ctx.item_input_value("//Latent/class", 2)
        assert ctl.state.class_idx == 2
        wait_for_current_picture(ctx, window)
        assert_screen_equals(window, screen_picture(ctx, window, tmp_path), render_state(ref, ctl.state).rgba)
        ctx.item_click("//Latent/Random")
        ctx.item_input_value("//Latent/##npz", str(tmp_path / "w.npz"))
        ctx.item_click("//Latent/Save latent...")
        wait_frames_until(ctx, lambda: (tmp_path / "w.npz").exists() and not ctl.jobs, what="the latent file")
        with np.load(tmp_path / "w.npz") as data:
            assert data["w"].shape == (1, ref.num_ws, ref.w_dim)

    run_app_test(ctl, test)


def test_open_a_url_then_download_from_the_models_panel(make_app, tmp_path, monkeypatch):
    """A URL typed in the Open box loads; a catalogue entry's Download button fetches and opens it
    (both from a real HTTP server on 127.0.0.1), and the pictures on screen are the new models'."""
    import json

    from explorer.download.cache import CACHE_DIR_ENV
    from explorer.download.catalogue import CATALOGUE_ENV
    from tests.http_server import FileServer
    monkeypatch.setenv(CACHE_DIR_ENV, str(tmp_path / "cache"))
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    server = FileServer()
    models = {}
    for name, seed, res in (("a", 12, 16), ("b", 13, 32)):
        explorer.save(tiny_model(seed=seed, img_resolution=res), tmp_path / f"{name}.safetensors")
        server.files[f"/{name}.safetensors"] = (tmp_path / f"{name}.safetensors").read_bytes()
        models[name] = explorer.load(tmp_path / f"{name}.safetensors")
    server.bytes_per_s["/b.safetensors"] = 100_000  # slow enough to see the progress bar
    (tmp_path / "catalogue.json").write_text(json.dumps({"models": [dict(
        name="tiny-test-32", url=server.url("/b.safetensors"), dataset="random weights", resolution=32,
        licence="test only")]}))
    monkeypatch.setenv(CATALOGUE_ENV, str(tmp_path / "catalogue.json"))
    ctl = make_app(tiny_model(seed=6), LatentState(seed=3, psi=0.8))

    def test(ctx, window):
        wait_for_current_picture(ctx, window)
        url_a = server.url("/a.safetensors")
        focus(ctx, "Model")
        ctx.item_input_value("//Model/##path", url_a)
        ctx.item_click("//Model/Open")
        wait_frames_until(ctx, lambda: ctl.model_source == url_a, what="the URL's model")
        wait_for_current_picture(ctx, window)
        assert_screen_equals(window, screen_picture(ctx, window, tmp_path), render_state(models["a"], ctl.state).rgba)
        assert ctl.settings.recent[0] == url_a and ctl.model_label == "a.safetensors"
        focus(ctx, "Models")
        ctx.item_click("//Models/**/Download##tiny-test-32")
        wait_frames_until(ctx, lambda: (ctl.downloads.progress() or (0,))[0] > 0, what="download progress")
        assert ctx.item_exists("//Models/Cancel##download")  # the bar and its Cancel button are up
        frames = wait_frames_until(ctx, lambda: ctl.model_source == server.url("/b.safetensors"), 60,
                                   what="the downloaded model")
        assert frames >= 3, "the UI kept drawing frames during the download"
        assert ctl.state.psi == pytest.approx(0.8) and ctl.state.seed == 3
        wait_for_current_picture(ctx, window)
        shown = screen_picture(ctx, window, tmp_path)
        assert shown.shape[0] == 32 * int(window.image_view.rect.zoom)
        assert_screen_equals(window, shown, render_state(models["b"], ctl.state).rgba)
        ctx.yield_(2)
        assert ctx.item_exists("//Models/**/Delete##tiny-test-32")
        # A URL dropped on the window (from a browser), then one pasted: both open from the cache.
        window.on_drop(None, [url_a])
        wait_frames_until(ctx, lambda: ctl.model_source == url_a, what="the dropped URL")
        window.paste(f"  {server.url('/b.safetensors')}\n")
        wait_frames_until(ctx, lambda: ctl.model_source == server.url("/b.safetensors"), what="the pasted URL")
        assert len(server.seen) == 2  # one request per model, ever

    try:
        run_app_test(ctl, test)
    finally:
        server.close()


def test_the_idle_app_sleeps_until_the_render_thread_wakes_it(make_app):
    """Without input the app idles (hello_imgui sleeps up to 1/fps_idle between frames) rather
    than drawing frames that take the CPU the render needs, and a published frame wakes it at once.
    Run without the test engine, which keeps every frame going: as a user runs the app."""

    from explorer.app.window import ExplorerWindow, WindowOptions
    from tests.gui_harness import restore_sigpipe

    ctl = make_app(tiny_model(seed=4))
    window = ExplorerWindow(ctl, WindowOptions(size=(640, 480)))
    params = window.runner_params()
    assert params.fps_idling.enable_idling
    params.fps_idling.fps_idle = 4.0
    end_frame = params.callbacks.before_imgui_render
    log: dict = dict(edited=None, shown_after=None, frames=0)
    started = time.monotonic()

    def after_drawing() -> None:
        end_frame()
        runner = hello_imgui.get_runner_params()
        if time.monotonic() - started > 60:
            runner.app_shall_exit = True
        elif log["edited"] is None:
            if window.frames_current_shown > 0 and runner.fps_idling.is_idling:  # this frame came after a sleep
                runner.fps_idling.fps_idle = 0.1  # from now on, unwoken, the next frame comes in 10 s
                ctl.edit(psi=0.4)
                log["edited"] = time.monotonic()
        else:
            log["frames"] += 1
            if window.frames_current_shown > 0:
                log["shown_after"] = time.monotonic() - log["edited"]
                runner.app_shall_exit = True

    params.callbacks.before_imgui_render = after_drawing
    try:
        hello_imgui.run(params)
    finally:
        restore_sigpipe()
    assert log["edited"] is not None, "the app never idled"
    assert log["shown_after"] is not None and log["shown_after"] < 5.0, log  # woken, not the 10 s timeout
    assert ctl.frame.state == ctl.state and not ctl.frame.preview


def test_a_seed_beyond_the_seed_box_is_shown_and_next_steps_into_range(make_app, tmp_path):
    model = tiny_model(seed=5)
    ref = copy.deepcopy(model)
    ctl = make_app(model, LatentState(seed=3_000_000_000, psi=0.8))  # valid for `generate`, not for an int box

    def test(ctx, window):
        wait_for_current_picture(ctx, window)
        assert_screen_equals(window, screen_picture(ctx, window, tmp_path), render_state(ref, ctl.state).rgba)
        focus(ctx, "Latent")
        ctx.item_click("//Latent/Next")
        assert ctl.state.seed == MAX_APP_SEED
        wait_for_current_picture(ctx, window)

    run_app_test(ctl, test)


def test_screenshot_command_opens_a_latent_file_on_the_shipped_model(gui_display, tmp_path):
    from explorer.app.default_model import SHIPPED_MODEL
    from explorer.latent.compose import state_ws
    from explorer.latent.npz import save_latent_npz
    if not SHIPPED_MODEL.is_file():
        pytest.skip("no shipped model in assets/")
    model = explorer.load(SHIPPED_MODEL, device="cpu")
    latent = tmp_path / "mine.npz"
    save_latent_npz(latent, state_ws(model, LatentState(seed=11, psi=0.6)).numpy())
    out = tmp_path / "shot.png"
    env = {**os.environ, "STYLEGAN_EXPLORER_CONFIG_DIR": str(tmp_path / "cfg"),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run([sys.executable, "-m", "explorer", str(latent), "--screenshot", str(out),
                           "--frames", "3", "--size", "900x600", "--device", "cpu"],
                          capture_output=True, text=True, timeout=180, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    with Image.open(out) as im:
        shot = np.asarray(im.convert("RGB"))
    with np.load(latent) as data:
        expected = render_state(model, LatentState(latent=encode_latent(data["w"][0]))).rgba[..., :3]
    assert _contains_zoomed(shot, expected)
