"""The render thread's incremental frames and previews: what reaches the screen is always exactly
`render_state`'s picture once the state rests, fine-row edits skip the coarse blocks, and a
preview never replaces the final frame of the same state."""

from __future__ import annotations


import pytest
import torch

from explorer.engine import ModelLoaded, RenderThread, render_state
from explorer.engine import render_thread as render_thread_module
from explorer.latent.state import LatentState
from explorer.model import Model
from explorer.nets import build_generator
from tests.test_engine import wait_for as wait_for_engine


def model_64() -> Model:
    torch.manual_seed(0)
    g = build_generator("stylegan2", dict(
        z_dim=16, w_dim=16, c_dim=0, img_resolution=64, mapping_kwargs=dict(num_layers=2),
        channel_base=256, channel_max=16, conv_clamp=256))
    return Model(g, None, format="test")


def wait_for(predicate, timeout: float = 20.0):
    return wait_for_engine(predicate, timeout)


@pytest.fixture
def thread(monkeypatch):
    monkeypatch.setattr(render_thread_module, "PREVIEW_AFTER_MS", 0.0)  # every coarse change
    monkeypatch.setattr(render_thread_module, "PREVIEW_MIN_GAIN", 0.0)
    rt = RenderThread(device="cpu")
    rt.start()
    rt.load_model(model := model_64())
    assert isinstance(wait_for(rt.poll_events)[0], ModelLoaded)
    rt.test_model = model
    yield rt
    rt.stop()


def final_frame(rt: RenderThread, state: LatentState):
    return wait_for(lambda: (f := rt.latest_frame()) is not None and f.state == state
                    and not f.preview and f)


def test_previews_come_before_coarse_changes_only(thread) -> None:
    model = thread.test_model
    stages = len(model.generator.synthesis.stages)
    preview_end = max(i for i, s in enumerate(model.generator.synthesis.stages) if s.resolution == 32)
    base = LatentState(seed=1, mix_seed=2, mix_weights=(0.0,) * model.num_ws)
    thread.submit(base)
    frame = final_frame(thread, base)
    assert (frame.rgba == render_state(model, base).rgba).all()
    assert thread.stats.previews_rendered == 1 and thread.stats.last_first_stage == preview_end + 1

    coarse = base.replace(psi=0.6)
    thread.submit(coarse)
    frame = final_frame(thread, coarse)
    assert (frame.rgba == render_state(model, coarse).rgba).all()
    assert thread.stats.previews_rendered == 2

    fine = coarse.replace(mix_weights=(0.0,) * (model.num_ws - 1) + (1.0,))  # the last ToRGB row
    thread.submit(fine)
    frame = final_frame(thread, fine)
    assert (frame.rgba == render_state(model, fine).rgba).all()
    assert thread.stats.previews_rendered == 2  # nothing coarse changed: no preview
    assert thread.stats.last_first_stage == stages - 1  # only the last block's last stage ran


def test_no_preview_when_the_blocks_after_it_cost_little_next_to_it(thread, monkeypatch) -> None:
    """Once stage times are known, a preview needs the rest of the frame to cost PREVIEW_MIN_GAIN
    times the preview's part (a ratio the load does not change), not only PREVIEW_AFTER_MS."""
    monkeypatch.setattr(render_thread_module, "PREVIEW_MIN_GAIN", 1e9)
    state = LatentState(seed=5)
    thread.submit(state)
    final_frame(thread, state)  # the first frame of a model previews: no stage times yet
    previews = thread.stats.previews_rendered
    for psi in (0.4, 0.6):
        thread.submit(state.replace(psi=psi))
        final_frame(thread, state.replace(psi=psi))
    assert thread.stats.previews_rendered == previews  # coarse changes, yet full frames only


def test_a_preview_never_replaces_the_final_frame_of_its_state(thread) -> None:
    model = thread.test_model
    state = LatentState(seed=4)
    thread.submit(state)
    final_frame(thread, state)
    previews = thread.stats.previews_rendered
    thread.load_model(model)  # the same model again: nothing kept, the state renders afresh
    assert isinstance(wait_for(thread.poll_events)[0], ModelLoaded)
    frames = thread.frames_rendered
    thread.submit(state)
    wait_for(lambda: thread.frames_rendered > frames)
    assert thread.stats.previews_rendered == previews  # its final frame was on screen already
    frame = thread.latest_frame()
    assert not frame.preview and (frame.rgba == render_state(model, state).rgba).all()


def test_preview_shows_the_coarse_picture_scaled_up(thread, monkeypatch) -> None:
    state = LatentState(seed=9)
    seen = []
    original = render_thread_module.RenderThread._publish

    def spy(self, model, state, rgba, render_ms, stats, preview=False):
        seen.append((preview, rgba))
        original(self, model, state, rgba, render_ms, stats, preview)

    monkeypatch.setattr(render_thread_module.RenderThread, "_publish", spy)
    thread.submit(state)
    final_frame(thread, state)
    assert [p for p, _ in seen] == [True, False]
    preview, final = seen[0][1], seen[1][1]
    assert preview.shape == final.shape
    diff = (preview[..., :3].astype(int) - final[..., :3].astype(int))
    assert 0 < abs(diff).mean() < 40  # the same picture, blurred: close, not equal
