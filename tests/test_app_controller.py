"""The app's headless logic against a real render thread and a tiny real model (no window)."""

from __future__ import annotations

import copy
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch

import explorer
from explorer.app.controller import AppController, dragged_transform, fit_state_to_model
from explorer.train.snapshot import trained_kimg
from explorer.app.job_kinds import JobKind
from explorer.latent.png_state import read_png_state
from explorer.app.settings import Settings
from explorer.engine import RenderThread, render_state
from explorer.latent.compose import state_ws
from explorer.latent.state import LatentState
from explorer.model import Model
from explorer.nets import build_generator

TINY = dict(z_dim=32, w_dim=32, c_dim=0, img_resolution=16, img_channels=3,
            mapping_kwargs=dict(num_layers=2), channel_base=128, channel_max=16)


def tiny_model(seed: int = 0, noise_strength: float = 0.0, **overrides) -> Model:
    """A real StyleGAN2 with seeded random weights (16 px unless overridden)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        g = build_generator("stylegan2", {**TINY, **overrides})
    with torch.no_grad():  # untrained nets start at 0; give the noise inputs a visible effect
        for name, p in g.named_parameters():
            if name.endswith("noise_strength"):
                p.fill_(noise_strength)
    return Model(g, None, format="test", source=f"tiny model {seed}")


def pump(ctl: AppController, until, timeout: float = 30.0) -> None:
    """Poll like the UI does, until `until()` holds."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        ctl.poll()
        if until():
            return
        time.sleep(0.005)
    raise AssertionError(f"timed out; status: {ctl.status}")


@pytest.fixture
def app(tmp_path):
    engine = RenderThread(device="cpu")
    engine.start()
    settings = Settings.load(tmp_path / "config")
    settings.save_dir = str(tmp_path / "out")
    ctl = AppController(engine, settings, LatentState(seed=5))
    model = tiny_model()
    reference = copy.deepcopy(model)
    ctl.load_model(model)
    pump(ctl, lambda: ctl.shows_current_state(ctl.frame))
    yield ctl, reference
    engine.stop()


def test_first_frame_matches_a_direct_render(app):
    ctl, ref = app
    assert len(ctl.state.mix_weights) == ref.num_ws  # fitted to the model
    np.testing.assert_array_equal(ctl.frame.rgba, render_state(ref, ctl.state).rgba)
    assert not ctl.is_busy()


def test_drags_commit_once_when_released(app):
    ctl, _ = app
    start = len(ctl.history.entries)
    for psi in (0.9, 0.8, 0.7):
        ctl.edit(psi=psi)
        ctl.end_frame(editing=True)
    assert len(ctl.history.entries) == start
    ctl.end_frame(editing=False)
    assert len(ctl.history.entries) == start + 1 and ctl.history.current.psi == 0.7
    ctl.undo()
    assert ctl.state.psi == 1.0
    ctl.redo()
    assert ctl.state.psi == 0.7


def test_undo_goes_on_through_snapshots_of_the_same_network_and_not_across_others(app):
    """A run followed as it trains loads snapshot after snapshot: what was explored stays in
    the history; a model whose W+ rows mean something else starts a new one."""
    ctl, ref = app
    for seed in (3, 4):
        ctl.edit(seed=seed)
        ctl.end_frame(editing=False)
    explored = [e.state for e in ctl.history.entries]
    ctl.load_model(tiny_model(seed=8))  # same shapes, other weights: the next snapshot
    pump(ctl, lambda: ctl.model_source == "tiny model 8" and ctl.shows_current_state(ctl.frame))
    assert [e.state for e in ctl.history.entries] == explored and ctl.state.seed == 4
    ctl.undo()
    pump(ctl, lambda: ctl.shows_current_state(ctl.frame))
    assert ctl.state.seed == 3
    np.testing.assert_array_equal(ctl.frame.rgba, render_state(tiny_model(seed=8), ctl.state).rgba)
    ctl.load_model(tiny_model(seed=8, img_resolution=32))  # more W+ rows: a new history
    pump(ctl, lambda: ctl.model_info.resolution == 32 and ctl.shows_current_state(ctl.frame))
    assert len(ctl.history.entries) == 1 and not ctl.history.can_undo()


def test_save_writes_png_with_state_and_the_final_w(app, tmp_path):
    ctl, ref = app
    ctl.edit(psi=0.6, mix_seed=9, mix_weights=(1.0,) * 2 + (0.0,) * (ref.num_ws - 2))
    pump(ctl, lambda: ctl.shows_current_state(ctl.frame))
    ctl.save_image()
    pump(ctl, lambda: ctl.last_saved is not None)
    saved = ctl.last_saved
    assert saved.png.parent == tmp_path / "out" and saved.png.name == "seed0005.png"
    assert read_png_state(saved.png) == ctl.state
    with np.load(saved.npz) as data:
        np.testing.assert_allclose(data["w"], state_ws(ref, ctl.state).numpy(), rtol=0, atol=1e-6)
    # Re-opening the PNG (as a drop from another thread) restores the exact state and pixels.
    shown = ctl.frame.rgba.copy()
    ctl.edit(seed=6, psi=1.0)
    pump(ctl, lambda: ctl.shows_current_state(ctl.frame))
    threading.Thread(target=ctl.queue_dropped, args=([str(saved.png)],)).start()
    pump(ctl, lambda: ctl.state.seed == 5 and ctl.shows_current_state(ctl.frame))
    np.testing.assert_array_equal(ctl.frame.rgba, shown)
    assert "restored" in ctl.status.text


def test_a_file_is_refused_as_the_save_folder(app, tmp_path):
    ctl, _ = app
    note = tmp_path / "afile.txt"
    note.write_text("not a folder")
    kept = ctl.settings.save_dir
    ctl.set_save_dir(str(note))
    assert ctl.settings.save_dir == kept and ctl.status.is_error and "is a file" in ctl.status.text
    ctl.set_save_dir(str(tmp_path / "new folder"))
    assert ctl.settings.save_dir == str(tmp_path / "new folder") and "made on the first save" in ctl.status.text
    ctl.settings.save_dir = str(note)  # e.g. a settings file from before, or the folder replaced since
    ctl.save_image()
    pump(ctl, lambda: not ctl.jobs)
    assert ctl.status.is_error and "is a file: choose a folder" in ctl.status.text and note.read_text() == "not a folder"


def test_loaded_latent_shows_exactly_what_was_saved(app, tmp_path):
    ctl, ref = app
    ctl.edit(psi=0.5)
    pump(ctl, lambda: ctl.shows_current_state(ctl.frame))
    expected = ctl.frame.rgba.copy()
    ctl.save_latent(tmp_path / "mine.npz")
    pump(ctl, lambda: (tmp_path / "mine.npz").exists() and not ctl.jobs)
    ctl.edit(seed=99)
    ctl.open_path(tmp_path / "mine.npz")
    assert ctl.state.latent is not None and ctl.state.psi == 1.0
    pump(ctl, lambda: ctl.shows_current_state(ctl.frame))
    assert np.abs(ctl.frame.rgba.astype(int) - expected).max() <= 1


def test_dropped_checkpoint_loads_and_is_remembered(app, tmp_path):
    ctl, _ = app
    other = tiny_model(seed=3)
    path = tmp_path / "other.safetensors"
    explorer.save(other, path)
    ctl.queue_dropped([str(path)])
    pump(ctl, lambda: ctl.model_info is not None and ctl.model_info.content_hash == other.info.content_hash
         and ctl.shows_current_state(ctl.frame))
    assert ctl.settings.recent[0] == str(path.resolve())
    assert Settings.load(ctl.settings.path.parent).recent[0] == str(path.resolve())
    np.testing.assert_array_equal(ctl.frame.rgba, render_state(other, ctl.state).rgba)
    # the panel tells same-named checkpoints of two runs apart by their folder
    assert ctl.model_label == "other.safetensors" and ctl.model_folder == str(tmp_path.resolve())
    ctl.load_model(tiny_model(seed=4))  # built in memory: no folder
    pump(ctl, lambda: ctl.model_source != str(path))
    assert ctl.model_folder == ""


def test_folders_under_home_read_with_a_tilde() -> None:
    from explorer.app.controller import display_folder
    assert display_folder(Path.home() / "runs" / "a") == "~/runs/a"
    assert display_folder(Path.home()) == str(Path.home())
    assert display_folder(Path("/srv/models")) == "/srv/models"


def test_user_errors_land_in_the_status_line(app, tmp_path):
    ctl, _ = app
    junk = tmp_path / "junk.pkl"
    junk.write_text("not a model")
    ctl.open_path(junk)
    assert ctl.status.is_error and "not an image, a checkpoint" in ctl.status.text
    ctl.set_state(ctl.state.replace(view_layer="no.such.layer"))
    pump(ctl, lambda: ctl.status.failed_state == ctl.state)
    assert "no layer" in ctl.status.text and not ctl.is_busy()
    ctl.edit(view_layer=None)
    pump(ctl, lambda: ctl.shows_current_state(ctl.frame) and not ctl.status.is_error)


def test_jobs_publish_pictures(app):
    ctl, ref = app
    ctl.edit(seed=1, mix_seed=3, mix_weights=(1.0,) * ref.num_ws)
    ctl.mixing.start_grid(neighbours=1)  # A = seeds 1, 2 down the side; B = seeds 3, 4 along the top
    ctl.start_noise_variance(4)
    pump(ctl, lambda: ctl.mixing.grid is not None and JobKind.NOISE_VARIANCE in ctl.results)
    h, w = ref.resolution, ref.resolution
    assert ctl.mixing.grid.rgba.shape == (3 * h, 3 * w, 4)
    assert ctl.mixing.grid.plan.row_labels == ("A: seed 1", "A: seed 2")
    assert ctl.results[JobKind.NOISE_VARIANCE].value.rgba.shape == (h, w, 4)


def test_a_mixing_grid_under_way_when_another_model_loads_is_dropped_not_mixed(app):
    ctl, ref = app
    ctl.edit(seed=1, mix_seed=3, mix_weights=(1.0,) * ref.num_ws)
    ctl.mixing.start_grid(neighbours=12)  # 13 x 14 cells: still rendering when the model changes
    ctl.load_model(tiny_model(seed=4))
    pump(ctl, lambda: not ctl.jobs and ctl.model_info.content_hash == tiny_model(seed=4).info.content_hash)
    assert ctl.mixing.grid is None and not ctl.status.is_error
    ctl.mixing.start_grid(neighbours=1)  # the new model's own grid works
    pump(ctl, lambda: ctl.mixing.grid is not None)
    np.testing.assert_array_equal(ctl.mixing.grid.rgba[16:32, 16:32], render_state(tiny_model(seed=4), ctl.state).rgba)


def test_mixing_weights_follow_a_new_model_only_where_its_rows_mean_the_same(app):
    ctl, ref = app
    coarse = (1.0,) * 2 + (0.0,) * (ref.num_ws - 2)
    ctl.edit(mix_seed=3, mix_weights=coarse)
    same = tiny_model(seed=4)  # the same layout: the rows still mean the same resolutions
    ctl.load_model(same)
    pump(ctl, lambda: ctl.model_info.content_hash == same.info.content_hash)
    assert ctl.state.mix_weights == coarse and "reset" not in ctl.status.text
    bigger = tiny_model(seed=5, img_resolution=32)  # rows 0-5 as before, then two 32 px rows
    ctl.load_model(bigger)
    pump(ctl, lambda: ctl.model_info.content_hash == bigger.info.content_hash)
    assert ctl.state.mix_weights == coarse + (0.0, 0.0) and "reset" not in ctl.status.text
    torch.manual_seed(0)  # StyleGAN3: its first rows are 16 px, not 4: "coarse" would mean fine here
    sg3 = Model(build_generator("stylegan3", dict(z_dim=32, w_dim=32, c_dim=0, img_resolution=16, img_channels=3,
                                                  channel_base=256, channel_max=32, num_layers=4,
                                                  mapping_kwargs=dict(num_layers=2))), None, format="test")
    ctl.load_model(sg3)
    pump(ctl, lambda: ctl.model_info.content_hash == sg3.info.content_hash)
    assert not any(ctl.state.mix_weights) and len(ctl.state.mix_weights) == sg3.num_ws
    assert "style-mixing weights of rows that are other resolutions here were reset" in ctl.status.text


def test_fit_state_to_model_drops_what_does_not_fit():
    info = tiny_model().info
    state = LatentState(class_idx=3, cutoff=99, mix_weights=(1.0,) * 20, view_layer="b1024.conv0",
                        noise_gains=((4, 0.0), (2048, 0.5)), latent="3x7:" + "A" * 112)
    fitted = fit_state_to_model(state, info)
    assert fitted.class_idx is None and fitted.cutoff is None and fitted.view_layer is None
    assert len(fitted.mix_weights) == info.num_ws and fitted.noise_gains == ((4, 0.0),)
    assert fitted.latent is None
    assert fit_state_to_model(fitted, info) == fitted


def test_drag_moves_the_stylegan3_input_with_the_mouse():
    assert dragged_transform((0.0, 0.0), 0.0, (0.1, -0.2), False) == ((0.1, -0.2), 0.0)
    assert dragged_transform((0.5, 0.5), 170.0, (0.5, 0.0), True) == ((0.5, 0.5), -100.0)
    assert dragged_transform((0.9, -0.8), 0.0, (0.35, -0.5), False) == ((1.0, -1.0), 0.0)  # the sliders' range


def test_latent_files_feed_picture_a_or_mixing_source_b(app, tmp_path):
    ctl, ref = app
    path = tmp_path / "b.npz"
    np.savez(path, w=np.zeros((1, ref.num_ws, ref.w_dim), np.float32))
    ctl.load_latent_file(path, as_mix_source=True)
    assert ctl.state.mix_latent is not None and ctl.state.mix_seed is None and ctl.state.latent is None
    ctl.load_latent_file(path)
    assert ctl.state.latent is not None and ctl.state.latent_label == "b.npz"
    np.savez(path, w=np.zeros((1, ref.num_ws, ref.w_dim + 1), np.float32))
    ctl.load_latent_file(path)
    assert ctl.status.is_error and "needs" in ctl.status.text
    ctl.load_latent_file(tmp_path / "missing.npz")
    assert ctl.status.is_error


def test_status_line_says_once_how_the_kernel_build_ended(app, monkeypatch):
    """The launcher shows "building"; when the build settles (here: its self-check rejected the
    kernels), the status line says so in one line, once, as an error."""
    from cuda_ops import fused

    ctl, _ = app
    monkeypatch.setattr(fused, "build_status", lambda: fused.BuildStatus("building", "compiling"))
    ctl.set_status("loaded the model")
    ctl.poll()
    assert ctl.status.text == "loaded the model"  # still building: the launcher said so already
    failed = fused.BuildStatus("failed", "self-check failed (1 of 60 cases), reference ops in use; "
                                         "first: upfirdn2d float16 table ...")
    monkeypatch.setattr(fused, "build_status", lambda: failed)
    ctl.poll()
    assert ctl.status.text == str(failed) and ctl.status.is_error
    assert "\n" not in ctl.status.text
    ctl.set_status("saved a picture")
    ctl.poll()
    assert ctl.status.text == "saved a picture"


def test_training_kimg_is_read_from_the_provenance_of_our_snapshots_and_exports() -> None:
    assert trained_kimg({"kimg": 0.064}) == 0.064
    assert trained_kimg({"source": "x.safetensors", "source_extra": {"kimg": 103.488}}) == 103.488
    assert trained_kimg({"source_format": "nvidia pickle"}) is None
    assert trained_kimg({"kimg": "many"}) is None


def test_stylegan3_mixing_and_projection_presets_use_the_nominal_resolutions(app) -> None:
    """StyleGAN3 layer sizes carry a margin (36..52 px for a 32 px model): the mixing presets, the
    slider labels and the projection's coarse rows must use the resolutions without it."""
    from explorer.app.panels.mixing import preset_weights
    from explorer.app.projections import coarse_rows
    from tests.conftest import FIXTURES_DIR
    ctl, _ = app
    ctl.load_model(FIXTURES_DIR / "sg3t_32" / "network-snapshot.pkl")
    pump(ctl, lambda: ctl.model_info is not None and ctl.model_info.architecture == "stylegan3"
         and ctl.shows_current_state(ctl.frame), timeout=120)
    info = ctl.model_info
    assert max(info.ws_resolutions) > 32  # the raw sizes do carry the margin
    res, presets = ctl.row_resolutions, ctl.layer_presets
    assert len(res) == info.num_ws and set(res) <= {16, 32} and res == sorted(res)
    assert set(presets) == {"coarse", "middle"}  # a 32 px model has no fine layers
    (c0, c1), (m0, m1) = presets["coarse"], presets["middle"]
    assert (c0, m1) == (0, info.num_ws) and c1 == m0 and 0 < c1 < info.num_ws
    assert all(r == 16 for r in res[c0:c1]) and all(r == 32 for r in res[m0:m1])
    weights = preset_weights(info.num_ws, presets["middle"])
    assert weights == tuple(1.0 if m0 <= i < m1 else 0.0 for i in range(info.num_ws))
    assert coarse_rows(info, presets) == presets["coarse"]


def test_the_controller_is_the_features_host_and_each_job_kind_has_one_handler(tmp_path) -> None:
    from explorer.app.controller import job_handler_table
    from explorer.app.host import AppHost, Feature
    ctl = AppController(RenderThread(device="cpu"), Settings.load(tmp_path))  # the thread is never started
    members = {name for name in vars(AppHost) if not name.startswith("_")}
    assert members and all(hasattr(ctl, name) for name in members), sorted(m for m in members if not hasattr(ctl, m))
    assert all(feature.host is ctl for feature in ctl.features)
    declared = [kind for feature in ctl.features for kind in feature.job_handlers()]
    assert len(declared) == len(set(declared))

    class Twice(Feature):
        def job_handlers(self):
            return {JobKind.DOCTOR: lambda handle: None}
    with pytest.raises(ValueError, match="two handlers"):
        job_handler_table([ctl.doctor, Twice(ctl)], {})
