"""The Record panel in the real window (Xvfb + Mesa, driven by the Dear ImGui Test Engine): two
keyframes, a preview on screen, and a GIF exported while the window keeps drawing."""

from __future__ import annotations

import copy

import numpy as np

from tests.gui_harness import (focus, gui_display, make_app,  # noqa: F401
                               run_app_test, screen_picture, wait_for_current_picture, wait_frames_until, zoomed)
from imgui_bundle import imgui  # noqa: E402,I001  (gui_harness skips the module without imgui_bundle)

from explorer.engine import render_state
from explorer.video import path_states
from tests.test_app_controller import tiny_model
from tests.test_video import decode, psnr



def test_two_keyframes_preview_and_export_a_gif(make_app, tmp_path):
    model = tiny_model(seed=2)
    ref = copy.deepcopy(model)
    ctl = make_app(model)
    out = tmp_path / "clip.gif"

    def test(ctx, window):
        wait_for_current_picture(ctx, window)
        focus(ctx, "Record")
        ctx.item_click("//Record/Add keyframe")
        focus(ctx, "Latent")
        ctx.item_click("//Latent/Next")
        wait_for_current_picture(ctx, window)
        focus(ctx, "Record")
        ctx.item_click("//Record/Add keyframe")
        rec = ctl.recorder
        assert [k.state.seed for k in rec.keys] == [3, 4]
        ctx.item_input_value("//Record/**/##frames", 5)
        assert rec.keys[0].frames == 5
        # Preview: the path's frames appear in the main view, exactly as rendered headless.
        rec.fps = 4
        ctx.item_click("//Record/Preview")
        wait_frames_until(ctx, lambda: rec.previewing, what="the preview's states")
        states = rec.preview_states
        wait_frames_until(ctx, lambda: window.image_view.frame is not None
                          and window.image_view.frame.state in states[1:-1], what="an in-between frame")
        # Playback moves on while the screen is captured, so the capture is matched against every
        # frame of the path: it must be one of them, pixel for pixel, and not a keyframe.
        picture = screen_picture(ctx, window, tmp_path)
        zoom = int(window.image_view.rect.zoom)
        diffs = [int(np.abs(picture.astype(int) - zoomed(render_state(ref, s).rgba, zoom)).max()) for s in states]
        assert min(diffs) <= 2 and 0 < diffs.index(min(diffs)) < len(states) - 1, diffs
        assert ctl.state.seed == 4  # the edited state is still the last keyframe
        rec.fps = 60
        rec.format = "mp4"
        ctx.item_click("//Record/Stop preview")
        wait_for_current_picture(ctx, window)
        # An odd size cannot be an H.264 video: the red note says so and Export waits for a fix.
        ctx.item_input_value("//Record/size", 33)
        ctx.yield_(2)
        assert ctx.item_info("//Record/Export path").item_flags & imgui.ItemFlags_.disabled
        ctx.item_input_value("//Record/size", 0)
        ctx.yield_(2)
        assert not ctx.item_info("//Record/Export path").item_flags & imgui.ItemFlags_.disabled
        # Export in the background: the window keeps drawing frames while the job runs. The typed
        # .gif path sets the format, and with it the fps limit (a GIF plays at most 50 fps).
        ctx.item_input_value("//Record/##video path", str(out))
        ctx.yield_(2)
        assert rec.format == "gif" and rec.fps == 50
        ctx.item_click("//Record/Export path")
        started = window.ui_frames
        wait_frames_until(ctx, lambda: not rec.exporting and rec.last_export is not None, timeout_s=60,
                          what="the export")
        assert window.ui_frames > started
        assert rec.last_export.path == out

    run_app_test(ctl, test)
    frames, _, _ = decode(out)
    expected = path_states(ref, ctl.recorder.path())
    assert len(frames) == len(expected) == 6 and frames[0].shape == (16, 16, 3)
    assert all(psnr(f, render_state(ref, s).rgba[..., :3]) > 20 for f, s in zip(frames, expected))
