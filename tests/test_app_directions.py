"""The Directions panel: sets per model, background computation, sliders as state edits.

Headless tests drive `ctl.directions` against a real render thread; the GUI test computes a PCA
set from the panel, moves a slider on chosen rows, and checks the pixels on screen against a
direct render of the edited state with the same set.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

from tests.gui_harness import (assert_screen_equals, focus, gui_display, make_app,  # noqa: F401
                               run_app_test, screen_picture, wait_for_current_picture, wait_frames_until)
from imgui_bundle import imgui  # noqa: E402,I001  (gui_harness skips the module without imgui_bundle)

from explorer.app.controller import AppController
from explorer.app.direction_edits import half_open, row_range, with_layers, with_strength
from explorer.app.direction_sets import STRIP_STRENGTHS
from explorer.app.job_kinds import JobKind
from explorer.app.panels import DirectionsPanel
from explorer.app.settings import Settings
from explorer.directions import (DirectionCache, DirectionSpec, cached_direction_set, cached_library,
                                 direction_strip, save_direction_set)
from explorer.engine import RenderThread, render_state
from explorer.latent.compose import state_ws
from explorer.latent.state import DirectionEdit, LatentState
from tests.test_app_controller import pump, tiny_model

QUICK_PCA = DirectionSpec("pca", samples=500, components=4, sigma_samples=200)


def test_sliders_are_edits_in_the_state():
    e = with_strength((), "pca", 2, 1.5, (0, 4))
    assert e == (DirectionEdit("pca", 2, 1.5, 0, 4),)
    e = with_strength(e, "sefa", 0, -20.0, (0, None))  # clamped to -10 sigma
    assert e[1] == DirectionEdit("sefa", 0, -10.0, 0, None)
    e = with_strength(e, "pca", 2, 3.0, (0, 4))        # moves in place
    assert [x.direction_set for x in e] == ["pca", "sefa"] and e[0].strength == 3.0
    e = with_layers(e, "pca", 2, (2, None))
    assert (e[0].layer_start, e[0].layer_end) == (2, None)
    assert with_strength(e, "pca", 2, 0.0, (0, 4)) == (e[1],)  # 0 removes it
    assert row_range((2, None), 6) == (2, 5) and half_open(2, 5, 6) == (2, None)
    assert half_open(0, 3, 6) == (0, 4) and half_open(4, 1, 6) == (4, 5)


@pytest.fixture
def app(tmp_path):
    """A controller whose direction cache already holds a quick PCA set for the tiny model."""
    model = tiny_model(seed=21)
    cache = DirectionCache(tmp_path / "directions")
    cached_direction_set(model, QUICK_PCA, cache)
    engine = RenderThread(device="cpu")
    engine.start()
    settings = Settings.load(tmp_path / "config")
    settings.save_dir = str(tmp_path / "saved")
    ctl = AppController(engine, settings, LatentState(seed=2), direction_cache=cache)
    ctl.load_model(copy.deepcopy(model))
    pump(ctl, lambda: ctl.shows_current_state(ctl.frame))
    yield ctl, model, cache
    ctl.close()
    engine.stop()


def test_cached_sets_load_with_the_model_and_edits_render(app):
    ctl, model, cache = app
    ds = ctl.directions
    assert ds.names() == ["pca"] and ds.current == "pca"
    assert ctl.row_resolutions == [4, 4, 8, 8, 16, 16]
    assert ctl.layer_presets == {"coarse": (0, 4), "middle": (4, 6)}
    ds.set_strength("pca", 1, 2.5, (4, None))
    assert ctl.state.edits == (DirectionEdit("pca", 1, 2.5, 4, None),)
    pump(ctl, lambda: ctl.shows_current_state(ctl.frame))
    library = cached_library(model.info.content_hash, cache)
    np.testing.assert_array_equal(ctl.frame.rgba, render_state(model, ctl.state, library).rgba)
    # The edit travels in the saved PNG and reproduces the picture when it is opened again.
    edited, shown = ctl.state, ctl.frame.rgba.copy()
    ctl.save_image()
    pump(ctl, lambda: ctl.last_saved is not None)
    ds.reset_all()
    assert ctl.state.edits == ()
    pump(ctl, lambda: ctl.shows_current_state(ctl.frame))
    ctl.open_path(ctl.last_saved.png)  # its edits are checked against its W+ first, on a job thread
    pump(ctl, lambda: ctl.state == edited and ctl.shows_current_state(ctl.frame))
    assert ctl.status.text == f"restored the state saved in {ctl.last_saved.png.name}"
    np.testing.assert_array_equal(ctl.frame.rgba, shown)


def test_compute_in_the_background_then_export_import_and_delete(app, tmp_path):
    ctl, model, cache = app
    ds = ctl.directions
    ds.start_compute("sefa", samples=100, components=3)
    assert ds.compute_progress() is not None
    pump(ctl, lambda: "sefa" in ds.names() and not ctl.jobs)
    assert ds.current == "sefa" and ds.library.get("sefa").count == 3
    assert cache.names(model.info.content_hash) == ["pca", "sefa"]
    ds.set_strength("sefa", 0, 1.0, (0, None))
    ds.export_set("sefa", tmp_path / "shared.npz")
    notes = tmp_path / "notes.txt"  # the box also names files to import: Export must not eat one
    notes.write_text("my notes")
    for existing in (notes, tmp_path / "shared.npz"):
        before = existing.read_bytes()
        ds.export_set("sefa", existing)
        assert ctl.status.is_error and "left as it is" in ctl.status.text and existing.read_bytes() == before
    ds.remove("sefa")
    assert ds.names() == ["pca"] and ctl.state.edits == () and ds.current == "pca"
    assert cache.names(model.info.content_hash) == ["pca"]
    ds.import_set(tmp_path / "shared.npz")
    assert ds.names() == ["pca", "sefa"] and not ctl.status.is_error
    assert cache.names(model.info.content_hash) == ["pca", "sefa"]
    other = cached_direction_set(tiny_model(seed=22), QUICK_PCA, DirectionCache(tmp_path / "other"))
    save_direction_set(other, tmp_path / "other.npz")
    ds.import_set(tmp_path / "other.npz")
    assert ctl.status.is_error and "another model" in ctl.status.text
    ds.start_compute("pca", samples=10_000_000, components=4, name="big")
    ctl.cancel_job(JobKind.DIRECTIONS)
    pump(ctl, lambda: not ctl.jobs)
    assert "cancelled" in ctl.status.text and "big" not in ds.names()


def test_a_new_model_drops_edits_of_sets_it_does_not_have(app, tmp_path):
    ctl, _, _ = app
    ctl.directions.set_strength("pca", 0, 1.0, (0, None))
    other = tiny_model(seed=23)
    ctl.load_model(other)
    pump(ctl, lambda: ctl.model_info.content_hash == other.info.content_hash
         and ctl.shows_current_state(ctl.frame))
    assert ctl.directions.names() == [] and ctl.state.edits == () and ctl.state.seed == 2


def test_strip_is_the_picture_at_each_strength(app):
    ctl, model, cache = app
    ds = ctl.directions
    ds.set_strength("pca", 0, 1.0, (0, 4))
    ds.request_strip("pca", 0, (0, 4))
    pump(ctl, lambda: ds.strip is not None)
    base = ctl.state.replace(edits=())
    library = cached_library(model.info.content_hash, cache)
    expected = direction_strip(model, base, library, "pca", 0, STRIP_STRENGTHS, 0, 4)
    np.testing.assert_array_equal(ds.strip.rgba, expected)
    np.testing.assert_array_equal(expected[:, 48:64], render_state(model, base).rgba)  # the 0 tile


def test_pca_slider_in_the_window_edits_only_its_rows(make_app, tmp_path):
    model = tiny_model(seed=24)
    ref = copy.deepcopy(model)
    ctl = make_app(model)
    cache = DirectionCache(tmp_path / "directions")

    def test(ctx, window):
        wait_for_current_picture(ctx, window)
        before_state = ctl.state
        before = screen_picture(ctx, window, tmp_path)
        focus(ctx, "Directions")
        ctx.set_ref("//Directions")
        ctx.item_input_value("samples", 2000)
        panel = window.panel(DirectionsPanel)
        ctx.yield_(2)  # the default 64 is more than this model's w_dim gives: the field shows the most it can
        assert panel.components == ref.w_dim < 64
        ctx.item_input_value("components", 8)
        ctx.item_click("Compute pca")
        wait_frames_until(ctx, lambda: "pca" in ctl.directions.names() and not ctl.jobs, 60, "the PCA set")
        assert cache.names(ref.info.content_hash) == ["pca"]
        library = cached_library(ref.info.content_hash, cache)
        assert library.get("pca").count == 8
        ctx.yield_(2)
        ctx.item_click("middle")  # rows 4-5 (16 px) of this 16 px model
        ctx.item_input_value("**/##strength0", 3.0)
        assert ctl.state.edits == (DirectionEdit("pca", 0, 3.0, 4, None),)
        wait_for_current_picture(ctx, window)
        after = screen_picture(ctx, window, tmp_path)
        assert_screen_equals(window, after, render_state(ref, ctl.state, library).rgba)
        assert np.abs(after.astype(int) - before).max() > 0
        ws_before = state_ws(ref, before_state, library)[0]
        ws_after = state_ws(ref, ctl.state, library)[0]
        changed = (ws_after - ws_before).abs().amax(dim=1) > 0
        assert changed.tolist() == [False] * 4 + [True] * 2
        # The preview strip of the selected direction, rendered in the background.
        strip = window.panel(DirectionsPanel).strip_view
        wait_frames_until(ctx, lambda: ctl.directions.strip is not None and strip.rect is not None
                          and ctl.directions.strip.key.layers == (4, None), what="the preview strip")
        ctx.yield_(2)
        expected = direction_strip(ref, before_state, library, "pca", 0, STRIP_STRENGTHS, 4, None)
        assert_screen_equals(window, screen_picture(ctx, window, tmp_path, strip), expected, view=strip)
        # Each picture of the strip is labelled with its strength, centred under it.
        labels = window.panel(DirectionsPanel).strip_labels
        assert [text for text, _ in labels] == ["-3", "-2", "-1", "0", "+1", "+2", "+3"]
        cell = strip.rect.width / 7
        assert [x for _, x in labels] == pytest.approx([strip.rect.x + (k + 0.5) * cell for k in range(7)])
        # One slider move is one undo step.
        ctx.key_press(imgui.Key.mod_ctrl | imgui.Key.z)
        wait_frames_until(ctx, lambda: ctl.state.edits == (), what="undo")

    run_app_test(ctl, test)


def test_deleting_a_set_leaves_no_undo_step_or_saved_png_that_cannot_render(app, tmp_path):
    ctl, model, _ = app
    ds = ctl.directions
    before = ctl.state
    ds.set_strength("pca", 0, 3.0, (0, None))
    ctl.end_frame(editing=False)
    pump(ctl, lambda: ctl.shows_current_state(ctl.frame))
    edited = ctl.frame.rgba.copy()
    ctl.save_image()
    pump(ctl, lambda: ctl.last_saved is not None)
    saved = ctl.last_saved
    ds.remove("pca")
    # Undo cannot bring back the edit of a set that is gone: the step without it is what remains.
    assert all(not e.state.edits for e in ctl.history.entries)
    ctl.undo()
    assert ctl.state == before and not ctl.state.edits
    pump(ctl, lambda: ctl.shows_current_state(ctl.frame))
    assert not ctl.status.is_error
    # The saved PNG still opens as its exact picture: through the W+ saved beside it.
    ctl.open_path(saved.png)
    assert ctl.state.latent is not None and not ctl.state.edits and "not loaded" in ctl.status.text
    pump(ctl, lambda: ctl.shows_current_state(ctl.frame))
    assert np.abs(ctl.frame.rgba.astype(int) - edited).max() <= 1
    # Without that file, the state comes back without the edit, and the status line says so.
    saved.npz.unlink()
    ctl.open_path(saved.png)
    assert ctl.state.seed == 2 and not ctl.state.edits and ctl.state.latent is None
    assert ctl.status.is_error and "without its edits along pca" in ctl.status.text
    pump(ctl, lambda: ctl.shows_current_state(ctl.frame))
    np.testing.assert_array_equal(ctl.frame.rgba, render_state(model, ctl.state).rgba)


def test_recomputing_a_set_under_its_name_resets_the_edits_along_the_old_one(app):
    ctl, model, _ = app
    ds = ctl.directions
    ds.set_strength("pca", 0, 2.0, (0, None))
    ctl.end_frame(editing=False)
    pump(ctl, lambda: ctl.shows_current_state(ctl.frame))
    edited = ctl.frame.rgba.copy()
    ctl.save_image()
    pump(ctl, lambda: ctl.last_saved is not None)
    saved = ctl.last_saved
    ctl.open_path(saved.png)  # the same set: the state itself comes back, edits and all
    pump(ctl, lambda: "restore-check" not in ctl.jobs and ctl.status.text.startswith("restored the state"))
    assert ctl.state.edits and ctl.state.latent is None
    ds.start_compute("pca", samples=900, components=3)  # other samples: other vectors, same name
    pump(ctl, lambda: not ctl.jobs and ds.library.get("pca").count == 3)
    assert ctl.state.edits == () and all(not e.state.edits for e in ctl.history.entries)
    assert ctl.status.text.endswith("it replaces the old pca, whose edits were reset")
    # The PNG saved with the old set still opens as its picture: through the W+ saved beside it
    # (its edits along today's pca would show another face), and the status line says why.
    ctl.open_path(saved.png)
    pump(ctl, lambda: "restore-check" not in ctl.jobs and ctl.state.latent is not None)
    assert not ctl.state.edits and "now gives other directions" in ctl.status.text
    pump(ctl, lambda: ctl.shows_current_state(ctl.frame))
    assert np.abs(ctl.frame.rgba.astype(int) - edited).max() <= 1
