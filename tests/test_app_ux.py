"""The first hour in the app (issue 13), under a real window driven by the Dear ImGui Test Engine.

Each test drives the app as a user would (keys, mouse, menus, buttons) and checks what that did:
widget state read back from Dear ImGui, and pixels read back from the framebuffer compared with
direct headless renders. Waits are frame-based with generous caps; nothing asserts on speed.
"""

from __future__ import annotations

import copy
import dataclasses
import time

import numpy as np
import pytest
from PIL import Image

from tests.gui_harness import (assert_screen_equals, focus, gui_display, make_app,  # noqa: F401
                               run_app_test, screen_picture, wait_for_current_picture, wait_frames_until)
from imgui_bundle import hello_imgui, imgui  # noqa: E402,I001  (gui_harness skips without imgui_bundle)

import explorer
from explorer.app.durations import format_duration
from explorer.app.file_dialogs import DialogRequest, DialogUnavailable, FileDialogs
from explorer.app.messages import INFO_SECONDS, MessageLog, Status
from explorer.app.mixing_views import grid_picture, labelled_grid_png, picture_a, picture_b, plan_grid
from explorer.app.noise_map import heat_scale_rgba
from explorer.app.panels import PANELS, MixingPanel, ProjectionPanel, TrainPanel
from explorer.app.panels.mixing import shortest_needed
from explorer.app.train_runs import TrainRequest, request_problems
from explorer.cli_values import MAX_APP_SEED
from explorer.engine import render_state
from explorer.latent.state import LatentState, encode_latent
from explorer.project import ProjectionConfig
from tests.test_app_controller import tiny_model
from tests.test_app_projection import generated_png

FIRST_LAUNCH = (1400, 900)


# --- helpers ---------------------------------------------------------------------------------------
def assert_unclipped(ctx, ref: str) -> None:
    """The item exists this frame and lies wholly inside its window's visible area."""
    assert ctx.item_exists(ref), f"{ref} is not on screen"
    info = ctx.item_info(ref)
    full, clip = info.rect_full, info.window.inner_clip_rect
    assert full.get_width() > 0 and full.get_height() > 0, ref
    inside = (full.min.x >= clip.min.x - 0.5 and full.min.y >= clip.min.y - 0.5
              and full.max.x <= clip.max.x + 0.5 and full.max.y <= clip.max.y + 0.5)
    assert inside, f"{ref} at {full.min}-{full.max} is clipped by its window ({clip.min}-{clip.max})"


def tab_bars() -> dict[str, object]:
    """Each dock node's tab bar, by the title of its first window."""
    bars = {}
    for title in ["Image", *(panel.title for panel in PANELS)]:
        window = imgui.internal.find_window_by_name(title)
        if window is not None and window.dock_node is not None and window.dock_node.tab_bar is not None:
            bars.setdefault(id(window.dock_node), (title, window.dock_node.tab_bar))
    return dict(bars.values())


def front_tab(title: str) -> bool:
    window = imgui.internal.find_window_by_name(title)
    return window is not None and window.dock_node is not None and window.dock_node.tab_bar is not None \
        and window.dock_node.tab_bar.visible_tab_id == window.tab_id


def dockable(title: str) -> hello_imgui.DockableWindow:
    return hello_imgui.get_runner_params().docking_params.dockable_window_of_name(title)


# --- 1. first launch ------------------------------------------------------------------------------
def test_first_launch_layout_shows_the_main_controls_unclipped_and_resets(make_app, tmp_path):
    model = tiny_model(seed=61)
    ctl = make_app(model)

    def test(ctx, window):
        wait_for_current_picture(ctx, window)
        size = imgui.get_io().display_size
        assert (size.x, size.y) == FIRST_LAUNCH  # the whole window, not cut by the screen
        assert imgui.get_style().color_(imgui.Col_.popup_bg).w == 1.0  # open lists hide what is behind
        ctl.directions.start_compute("pca", 500, 4)
        wait_frames_until(ctx, lambda: "pca" in ctl.directions.names() and not ctl.jobs, 60, "a direction set")
        ctx.yield_(2)
        # Seed, psi, mixing, directions and the picture: on screen without touching a tab.
        for title in ("Latent", "Truncation", "Style mixing", "Directions", "Image"):
            assert front_tab(title), f"{title} is behind another tab at first launch"
        for ref in ("//Latent/seed", "//Latent/Next", "//Truncation/psi", "//Truncation/cutoff",
                    "//Style mixing/mix with B", "//Style mixing/seed B", "//Style mixing/mix row 0 (4px)",
                    "//Style mixing/Browse...##B", "//Directions/Compute pca", "//Directions/Export",
                    "//Directions/**/##strength0", "//Directions/**/x##reset0", "//Directions/**/##sel0",
                    "//Image/Save", "//Image/zoom"):
            assert_unclipped(ctx, ref)
        picture, image_window = window.image_view.rect, imgui.internal.find_window_by_name("Image")
        clip = image_window.inner_clip_rect
        assert clip.min.x <= picture.x and picture.x + picture.width <= clip.max.x
        assert clip.min.y <= picture.y and picture.y + picture.height <= clip.max.y
        # No tab title is shortened and no tab row needs scroll arrows.
        bars = tab_bars()
        assert len(bars) >= 5
        for title, bar in bars.items():
            assert bar.width_all_tabs >= bar.width_all_tabs_ideal - 0.5, f"titles shortened in {title}'s dock"
            assert bar.width_all_tabs_ideal <= bar.bar_rect.get_width(), f"{title}'s dock has overflow arrows"
        # The user rearranges: closes Latent, brings Noise to the front. View > Reset layout undoes it.
        dockable("Latent").is_visible = False
        focus(ctx, "Noise")
        assert not ctx.item_exists("//Latent/seed") and front_tab("Noise")
        ctx.menu_click("//##MainMenuBar/View/Reset layout")
        wait_frames_until(ctx, lambda: dockable("Latent").is_visible and front_tab("Style mixing"),
                          what="the first-launch layout")
        ctx.yield_(2)
        assert_unclipped(ctx, "//Latent/seed")
        assert_unclipped(ctx, "//Style mixing/mix with B")

    run_app_test(ctl, test, size=FIRST_LAUNCH)


def test_layout_is_remembered_between_runs(make_app, tmp_path):
    layout = tmp_path / "layout.ini"
    ctl = make_app(tiny_model(seed=62))

    def close_history(ctx, window):
        wait_for_current_picture(ctx, window)
        ctx.menu_click("//##MainMenuBar/View/History")  # the View menu lists every panel
        assert not dockable("History").is_visible
        ctx.yield_(2)

    run_app_test(ctl, close_history, size=FIRST_LAUNCH, layout_ini=layout)
    assert layout.is_file()

    def still_closed(ctx, window):
        wait_for_current_picture(ctx, window)
        assert not dockable("History").is_visible and dockable("Models").is_visible
        ctx.menu_click("//##MainMenuBar/View/Reset layout")
        wait_frames_until(ctx, lambda: dockable("History").is_visible, what="History back")

    run_app_test(ctl, still_closed, size=FIRST_LAUNCH, layout_ini=layout)


# --- 2. file dialogs ------------------------------------------------------------------------------
class FakeDialog:
    """Plays the user at the operating system's dialog: answers after `frames` polls."""

    def __init__(self, answer: str, frames: int = 3) -> None:
        self.answer, self.frames = answer, frames

    def ready(self) -> bool:
        self.frames -= 1
        return self.frames <= 0

    def paths(self) -> list[str]:
        return [self.answer] if self.answer else []

    def kill(self) -> None:
        pass


def test_file_dialogs_reach_the_loader_and_the_forms(make_app, tmp_path):
    ctl = make_app(tiny_model(seed=63))
    other = tiny_model(seed=64, img_resolution=32)
    ckpt = tmp_path / "picked.safetensors"
    explorer.save(other, ckpt)
    ref = explorer.load(ckpt)
    data = tmp_path / "faces"
    data.mkdir()
    asked: list[DialogRequest] = []
    answers = {"open": str(ckpt), "folder": str(data)}

    def opener(request: DialogRequest) -> FakeDialog:  # replaces only the call into the OS
        asked.append(request)
        return FakeDialog(answers[request.kind], frames=10)

    ctl.files.opener = opener

    def test(ctx, window):
        wait_for_current_picture(ctx, window)
        focus(ctx, "Model")
        frames_before = window.ui_frames
        ctx.item_click("//Model/Browse...")
        assert asked[-1].kind == "open" and "*.safetensors" in " ".join(asked[-1].filters)
        assert ctl.files.busy  # the dialog is open; the app keeps drawing frames meanwhile
        wait_frames_until(ctx, lambda: ctl.model_info.content_hash == ref.info.content_hash, what="the load")
        assert window.ui_frames - frames_before >= 10
        wait_for_current_picture(ctx, window)
        assert_screen_equals(window, screen_picture(ctx, window, tmp_path), render_state(ref, ctl.state).rgba)
        # Ctrl+O asks the same question; cancelling it changes nothing.
        answers["open"] = ""
        ctx.key_press(imgui.Key.mod_ctrl | imgui.Key.o)
        wait_frames_until(ctx, lambda: not ctl.files.busy, what="the cancelled dialog")
        assert len(asked) == 2 and ctl.model_info.content_hash == ref.info.content_hash
        # Load latent with an empty path box asks which file, as Save latent... does.
        latent = tmp_path / "picked.npz"
        np.savez(latent, w=np.full((1, ref.num_ws, ref.w_dim), 0.5, np.float32))
        answers["open"] = str(latent)
        focus(ctx, "Latent")
        ctx.item_click("//Latent/Load latent")
        assert asked[-1].kind == "open" and "*.npz" in " ".join(asked[-1].filters)
        wait_frames_until(ctx, lambda: ctl.state.latent_label == "picked.npz", what="the chosen latent")
        # So do Load as B, Project and Open with nothing typed; Watch says what it needs.
        answers["open"] = ""
        for panel, button in (("Style mixing", "Load as B"), ("Projection", "Project"), ("Model", "Open")):
            focus(ctx, panel)
            asked_before = len(asked)
            ctx.item_click(f"//{panel}/{button}")
            assert len(asked) == asked_before + 1, button
            wait_frames_until(ctx, lambda: not ctl.files.busy, what=f"the cancelled dialog of {button}")
        assert "*.npz" in " ".join(asked[-3].filters) and "*.png" in " ".join(asked[-2].filters)
        # The Train form's data folder comes from a folder dialog.
        focus(ctx, "Train")
        ctx.item_click("//Train/train/Browse...##data folder")
        assert asked[-1].kind == "folder"
        wait_frames_until(ctx, lambda: window.panel(TrainPanel).request.data == str(data), what="the chosen folder")
        # Without any dialog program the user is told what to do instead, and nothing breaks.
        ctl.files.opener = lambda request: (_ for _ in ()).throw(DialogUnavailable("no file dialog program"))
        ctx.item_click("//Train/train/Browse...##run folder")
        assert ctl.status.is_error and "no file dialog program" in ctl.status.text

    run_app_test(ctl, test)


def test_file_dialogs_deliver_one_answer_to_its_callback():
    chosen: list[str] = []
    problems: list[str] = []
    dialogs = FileDialogs(lambda request: FakeDialog("/tmp/x.pkl", frames=2))
    dialogs.ask(DialogRequest("open", "first"), chosen.append, problems.append)
    dialogs.ask(DialogRequest("open", "second"), chosen.append, problems.append)
    assert problems and "first" in problems[0]  # one dialog at a time
    dialogs.poll()
    assert chosen == [] and dialogs.busy
    dialogs.poll()
    assert chosen == ["/tmp/x.pkl"] and not dialogs.busy


# --- 3. keys and mouse ----------------------------------------------------------------------------
def test_arrow_keys_step_seeds_and_help_lists_the_shortcuts(make_app, tmp_path):
    model = tiny_model(seed=65)
    ref = copy.deepcopy(model)
    ctl = make_app(model, LatentState(seed=20))

    def test(ctx, window):
        wait_for_current_picture(ctx, window)
        ctx.mouse_move_to_pos(imgui.ImVec2(5, 300))  # nothing hovered or focused
        for key, seed in ((imgui.Key.right_arrow, 21), (imgui.Key.right_arrow, 22), (imgui.Key.left_arrow, 21),
                          (imgui.Key.page_up, 31), (imgui.Key.page_down, 21)):
            ctx.key_press(key)
            wait_frames_until(ctx, lambda: ctl.state.seed == seed, what=f"seed {seed}")
        wait_for_current_picture(ctx, window)
        assert_screen_equals(window, screen_picture(ctx, window, tmp_path), render_state(ref, ctl.state).rgba)
        assert ctl.history.current.seed == 21
        # While a text field has the keyboard, arrows move its caret instead.
        focus(ctx, "Latent")
        ctx.item_click("//Latent/##npz")
        ctx.key_press(imgui.Key.right_arrow)
        ctx.yield_(3)
        assert ctl.state.seed == 21
        ctx.key_press(imgui.Key.escape)
        # Help > Shortcuts (or F1) lists the keys.
        ctx.menu_click("//##MainMenuBar/Help/Shortcuts")
        ctx.yield_(2)
        assert window.show_shortcuts and ctx.window_info("//Shortcuts").window is not None
        ctx.key_press(imgui.Key.escape)  # it covers the picture: Escape closes it
        ctx.yield_(2)
        assert not window.show_shortcuts

    run_app_test(ctl, test)


def test_wheel_zooms_around_the_pointer_drag_pans_and_shift_is_fine(make_app, tmp_path):
    model = tiny_model(seed=66)
    ref = copy.deepcopy(model)
    ctl = make_app(model)

    def test(ctx, window):
        wait_for_current_picture(ctx, window)
        view = window.image_view
        rect = view.rect
        pointer = imgui.ImVec2(rect.x + rect.width * 0.3 + 1, rect.y + rect.height * 0.6 + 1)
        ctx.mouse_move_to_pos(pointer)
        ctx.yield_(2)
        under = view.hovered_pixel
        assert under == (int((rect.width * 0.3 + 1) / rect.zoom), int((rect.height * 0.6 + 1) / rect.zoom))
        ctx.mouse_wheel_y(1.0)
        ctx.yield_(2)
        assert view.rect.zoom == 3.0 and view.hovered_pixel == under  # zoom 2x -> 3x around the pointer
        ctx.mouse_wheel_y(1.0)
        ctx.yield_(2)
        assert view.rect.zoom == 4.0 and view.hovered_pixel == under
        # The zoomed picture on screen, away from the pointer (the capture draws a cursor).
        ctx.mouse_move_to_pos(imgui.ImVec2(5, 300))
        ctx.yield_(2)
        assert_screen_equals(window, screen_picture(ctx, window, tmp_path), render_state(ref, ctl.state).rgba)
        ctx.mouse_move_to_pos(pointer)
        # A plain drag pans the picture and leaves the state alone (StyleGAN2: no transform).
        before, state = view.rect, ctl.state
        ctx.mouse_down(0)
        ctx.mouse_move_to_pos(imgui.ImVec2(pointer.x + 40, pointer.y + 24))
        ctx.mouse_up(0)
        ctx.yield_(2)
        assert (view.rect.x - before.x, view.rect.y - before.y) == pytest.approx((40, 24), abs=1.01)
        assert ctl.state == state
        ctx.mouse_double_click(0)
        ctx.yield_(2)
        assert view.zoom_override is None and view.pan == (0.0, 0.0) and view.rect.zoom == 2.0
        # Shift while dragging a slider moves it a tenth as fast.
        focus(ctx, "Truncation")
        psi = ctx.item_info("//Truncation/psi").rect_full
        centre = imgui.ImVec2((psi.min.x + psi.max.x) / 2, (psi.min.y + psi.max.y) / 2)
        ctx.mouse_move_to_pos(centre)
        ctx.key_down(imgui.Key.mod_shift)
        ctx.mouse_down(0)
        ctx.mouse_move_to_pos(imgui.ImVec2(centre.x + 60, centre.y))
        ctx.mouse_up(0)
        ctx.key_up(imgui.Key.mod_shift)
        fine = ctl.state.psi - 1.0
        assert fine == pytest.approx(3.0 * 60 / psi.get_width() * 0.1, rel=0.15)

    run_app_test(ctl, test)


# --- 4. mixing you can see ------------------------------------------------------------------------
def test_mixing_shows_a_b_result_and_a_grid_of_the_full_state(make_app, tmp_path):
    model = tiny_model(seed=67, noise_strength=0.8)
    ref = copy.deepcopy(model)
    state = LatentState(seed=3, psi=0.8, noise_mode="random", noise_seed=5)
    ctl = make_app(model, state)

    def test(ctx, window):
        wait_for_current_picture(ctx, window)
        ds = ctl.directions
        ds.start_compute("pca", 500, 4)
        wait_frames_until(ctx, lambda: "pca" in ds.names() and not ctl.jobs, 60, "a direction set")
        ds.set_strength("pca", 0, 2.0, (0, None))  # a direction edit is part of the state too
        focus(ctx, "Style mixing")
        ctx.item_input_value("//Style mixing/seed B", 11)
        ctx.item_click("//Style mixing/middle")  # rows 4-5 (16 px) from B
        assert ctl.state.mix_seed == 11 and ctl.state.mix_weights[4:] == (1.0, 1.0)
        library = ds.library
        views = window.panel(MixingPanel)
        wait_frames_until(ctx, lambda: views.a_view.key is not None and views.b_view.key is not None
                          and views.result_view.frame is not None
                          and views.result_view.frame.state == ctl.state, 60, "A, B and the result")
        ctx.yield_(2)
        for view, expected in ((views.a_view, render_state(ref, picture_a(ctl.state), library).rgba),
                               (views.b_view, render_state(ref, picture_b(ctl.state), library).rgba),
                               (views.result_view, render_state(ref, ctl.state, library).rgba)):
            assert_screen_equals(window, screen_picture(ctx, window, tmp_path, view), expected, view=view)
        a_alone = render_state(ref, picture_a(ctl.state), library).rgba
        assert np.abs(a_alone.astype(int) - render_state(ref, ctl.state, library).rgba).max() > 0
        # The grid: the current A and B and their next seeds, every cell in the full state.
        ctx.item_input_value("//Style mixing/next seeds", 1)
        ctx.item_click("//Style mixing/Render grid")
        wait_frames_until(ctx, lambda: ctl.mixing.grid is not None and views.grid_view.rect is not None, 60,
                          "the mixing grid")
        ctx.yield_(2)
        grid = ctl.mixing.grid
        assert grid.plan.row_labels == ("A: seed 3", "A: seed 4")
        assert grid.plan.col_labels == ("B: seed 11", "B: seed 12")
        # Narrow cells (small models) label their columns as much as fits: never a clipped "B: se".
        assert [shortest_needed("B: seed 11", w) for w in (1e4, imgui.calc_text_size("seed 11").x, 1)] == \
            ["B: seed 11", "seed 11", "11"]
        expected = grid_picture(plan_grid(ctl.state, 1, MAX_APP_SEED),
                                lambda s: render_state(ref, s, library).rgba)
        view = views.grid_view
        assert_screen_equals(window, screen_picture(ctx, window, tmp_path, view), expected, view=view)
        np.testing.assert_array_equal(expected[16:32, 16:32], render_state(ref, ctl.state, library).rgba)
        ctx.item_click("//Mixing grid/Save PNG")
        wait_frames_until(ctx, lambda: ctl.mixing.last_saved is not None, what="the saved grid")
        with Image.open(ctl.mixing.last_saved) as im:
            saved = np.asarray(im.convert("RGB"))
        labelled = labelled_grid_png(grid.plan, grid.rgba)
        np.testing.assert_array_equal(saved, labelled)
        assert saved.shape[0] > expected.shape[0] and saved.shape[1] > expected.shape[1]  # room for labels
        # A projected (or loaded) latent as A: one row, its own picture, mixed the same way.
        w = np.random.default_rng(0).standard_normal((ref.num_ws, ref.w_dim)).astype(np.float32)
        ctl.edit(latent=encode_latent(w), latent_label="projection of x.png")
        ctx.item_click("//Style mixing/Render grid")
        wait_frames_until(ctx, lambda: ctl.mixing.grid is not None and ctl.mixing.grid is not grid
                          and ctl.mixing.grid.plan.rows[0].latent is not None, 60, "the latent's grid")
        assert ctl.mixing.grid.plan.row_labels == ("A: projection of x.png",)
        np.testing.assert_array_equal(ctl.mixing.grid.rgba[16:32, 16:32],
                                      render_state(ref, ctl.state, library).rgba)

    run_app_test(ctl, test)


# --- 5. honest projection progress ----------------------------------------------------------------
def test_projection_time_left_wording_switch_mark_and_main_view(make_app, tmp_path):
    model = tiny_model(seed=68)
    ref = copy.deepcopy(model)
    png = generated_png(ref, tmp_path / "target.png")

    def slow(module, args) -> None:  # every synthesis pass (also the projector's copy) takes 0.25 s more,
        time.sleep(0.25)              # so the step time is the model's, not the busy test machine's

    model.generator.synthesis.register_forward_pre_hook(slow)
    ctl = make_app(model)
    steps = 50
    ctl.projection.config = ProjectionConfig(steps=steps, loss="l1", early_stop=False, w_phase=0.3,
                                             w_std_samples=4000, kmeans_samples=2000, kmeans_clusters=16)

    def test(ctx, window):
        wait_for_current_picture(ctx, window, timeout_s=60)
        window.on_drop(None, [str(png)])
        wait_frames_until(ctx, lambda: ctl.projection.busy, what="the projection")
        run = ctl.projection.run
        assert run.plan == "W+ (W for the first 15 steps)" and run.plan in ctl.status.text
        # The main view shows target | current reconstruction while it runs.
        wait_frames_until(ctx, lambda: run.step >= 2, 120, "the first steps")
        run.pause()
        wait_frames_until(ctx, lambda: window.image_view.key == ("projection", run.serial, run.picture_version)
                          and window.image_view.rect is not None, what="the projection in the main view")
        ctx.yield_(2)
        assert run.phase == "W" and window.image_view.frame is None
        assert_screen_equals(window, screen_picture(ctx, window, tmp_path), run.picture)
        run.resume()
        # Time left, once a tenth of the steps are done, against the time it then really took.
        wait_frames_until(ctx, lambda: run.step >= steps // 10 and run.seconds_left is not None, 120, "10%")
        predicted, t0 = run.seconds_left, time.monotonic()
        ctx.yield_(1)
        assert format_duration(predicted) in window.panel(ProjectionPanel).progress_text or \
            format_duration(run.seconds_left) in window.panel(ProjectionPanel).progress_text
        wait_frames_until(ctx, lambda: not ctl.projection.busy, 300, "the end of the projection")
        actual = time.monotonic() - t0
        # Within half: the sleep above dominates each step, and the bound still catches the
        # estimates that go wrong by whole factors (setup time counted as a step, a stale rate).
        assert abs(predicted - actual) <= 0.5 * actual, f"predicted {predicted:.1f} s, took {actual:.1f} s"
        # One wording of the space; the W -> W+ switch is where it was planned, and marked.
        assert run.phase == "W+" and run.switch_step == 15
        assert window.panel(ProjectionPanel).marked_switch == 15
        wait_for_current_picture(ctx, window, timeout_s=60)
        assert window.image_view.frame is not None  # the picture again, now from the latent found

    run_app_test(ctl, test, size=FIRST_LAUNCH)


# --- 6. status line and message log ---------------------------------------------------------------
def test_errors_clear_on_the_next_action_and_the_log_keeps_them(make_app, tmp_path):
    ctl = make_app(tiny_model(seed=69))

    def test(ctx, window):
        wait_for_current_picture(ctx, window)
        window.on_drop(None, [str(tmp_path / "missing.pkl")])
        wait_frames_until(ctx, lambda: ctl.status.is_error, what="the error")
        error = ctl.status.text
        ctx.mouse_move_to_pos(imgui.ImVec2(5, 300))
        ctx.key_press(imgui.Key.right_arrow)  # the user moves on
        wait_frames_until(ctx, lambda: ctl.state.seed == 4, what="the next seed")
        assert not ctl.status.is_error and ctl.status.text == ""
        ctx.menu_click("//##MainMenuBar/View/Messages")
        ctx.yield_(2)
        assert window.messages.open and ctx.window_info("//Messages").window is not None
        assert any(m.text == error and m.is_error for m in ctl.messages)
        assert ctl.messages.errors_unseen == 0  # looked at

    run_app_test(ctl, test)


def test_information_fades_errors_stay_and_repeats_are_counted():
    assert Status("loaded", at=100.0).shown(100.0 + INFO_SECONDS - 0.1)
    assert not Status("loaded", at=100.0).shown(100.0 + INFO_SECONDS + 0.1)
    assert Status("bad file", True, at=100.0).shown(100.0 + 3600)
    log = MessageLog(size=3, clock=lambda: 0.0)
    for text in ("a", "a", "b", "c", "d"):
        log.add(text, text == "b")
    assert [m.text for m in log] == ["b", "c", "d"] and log.errors_unseen == 1
    assert "error: b" in log.text()


# --- 7. the Train form ----------------------------------------------------------------------------
def test_train_form_lists_every_problem_at_once(make_app, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    ctl = make_app(tiny_model(seed=70))

    def tooltip_shown() -> bool:
        tooltip = imgui.internal.find_window_by_name("##Tooltip_00")
        return tooltip is not None and tooltip.active

    def test(ctx, window):
        wait_for_current_picture(ctx, window)
        focus(ctx, "Train")
        ctx.set_ref("//Train/train")
        ctx.item_input_value("##data folder", str(empty))
        ctx.item_input_value("resolution", 100)
        ctx.item_input_value("kimg", 0.0)
        ctx.item_click("Start")
        wait_frames_until(ctx, lambda: "problems" in ctl.status.text, 30, "the form's check")
        assert not ctl.training.running
        assert set(window.panel(TrainPanel).problems) == {"data folder", "run folder", "resolution", "kimg"}
        assert "4 problems" in ctl.status.text and ctl.status.is_error
        # At the first-launch size, with the notes shown, Start and Watch are still whole (they sit
        # above the fields), and "more flags" shows its whole value when hovered.
        ctx.yield_(2)
        assert_unclipped(ctx, "Start")
        assert_unclipped(ctx, "Watch")
        ctx.mouse_move_to_pos(imgui.ImVec2(5, 300))
        ctx.yield_(2)
        assert not tooltip_shown()
        ctx.mouse_move("more flags")
        wait_frames_until(ctx, tooltip_shown, 10, "the tooltip of more flags")
        ctx.item_input_value("resolution", 64)  # fixing one field clears its note only
        wait_frames_until(ctx, lambda: "resolution" not in window.panel(TrainPanel).problems, 30, "the re-check")
        assert set(window.panel(TrainPanel).problems) == {"data folder", "run folder", "kimg"}
        assert not ctl.training.running
        # The check reads the data folder on a job thread: Start returns at once, the UI frame too.
        ctl.training.check(window.panel(TrainPanel).request, start=True)
        assert ctl.training.starting and ctl.status.text.startswith("checking")
        wait_frames_until(ctx, lambda: not ctl.training.starting, 30, "the check")
        assert "3 problems" in ctl.status.text and not ctl.training.running
        # One check at a time: a newer request waits for the running one and takes over its Start.
        form = window.panel(TrainPanel).request
        ctl.training.check(dataclasses.replace(form, kimg=1.0), start=True)
        ctl.training.check(dataclasses.replace(form, kimg=1.0, resolution=100))
        assert ctl.training.starting
        wait_frames_until(ctx, lambda: not ctl.training.starting, 30, "both checks")
        assert set(window.panel(TrainPanel).problems) == {"data folder", "run folder", "resolution"}
        assert "3 problems" in ctl.status.text and not ctl.training.running
        ctx.item_input_value("##run folder", str(tmp_path / "run"))  # the status line follows fixes
        wait_frames_until(ctx, lambda: "2 problems" in ctl.status.text, 30, "the updated count")

    run_app_test(ctl, test, size=FIRST_LAUNCH)


def test_request_problems_explain_each_field(tmp_path):
    (tmp_path / "imgs" / "sub").mkdir(parents=True)
    (tmp_path / "imgs" / "sub" / "a.png").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("x")
    good = TrainRequest(data=str(tmp_path / "imgs"), run_dir=str(tmp_path / "run"), resolution=32)
    assert request_problems(good, resume=False) == {}
    bad = TrainRequest(data=str(tmp_path / "notes.txt"), run_dir=str(tmp_path / "notes.txt"), resolution=48,
                       batch=0, kimg=-1, snap_kimg=0, extra="--x 'unclosed")
    problems = request_problems(bad, resume=False)
    assert set(problems) == {"data folder", "run folder", "resolution", "batch", "kimg",
                             "snapshot every (kimg)", "more flags"}
    assert "zip" in problems["data folder"] and "power of two" in problems["resolution"]
    assert "data folder" not in request_problems(bad, resume=True)  # a resume reads no data
    small = tmp_path / "small"
    small.mkdir()
    Image.new("RGB", (20, 24)).save(small / "a.png")  # reaches 16 px; the trainer does not upscale
    too_big = TrainRequest(data=str(small), run_dir=str(tmp_path / "run"), resolution=64)
    assert request_problems(too_big, resume=False) == {
        "resolution": "larger than the images (the first fits 16 px): choose 16 or less"}
    assert request_problems(dataclasses.replace(too_big, resolution=16), resume=False) == {}


def test_noise_colour_scale_runs_from_black_to_white():
    scale = heat_scale_rgba()
    assert scale[0, 0, :3].tolist() == [0, 0, 0] and scale[0, -1, :3].tolist() == [255, 255, 255]
    assert (np.diff(scale[0, :, :3].astype(int).sum(axis=1)) >= 0).all()  # brighter to the right


def test_without_a_dialog_program_the_message_says_where_to_type(monkeypatch):
    from explorer.app import file_dialogs
    monkeypatch.setattr(file_dialogs.sys, "platform", "linux")
    monkeypatch.setattr(file_dialogs.shutil, "which", lambda program: None)
    with pytest.raises(DialogUnavailable, match="or type the path into the box beside the button"):
        file_dialogs.native_dialog(DialogRequest("open", "Load a W+ latent"))
    with pytest.raises(DialogUnavailable, match="the Model panel's box"):  # File > Open has no box of its own
        file_dialogs.native_dialog(DialogRequest("open", "Open", typed_instead="drop the file on the window, "
                                                 "or type its path into the Model panel's box"))
