"""The engine: pure renders, the render thread's mailbox and events, background jobs. Tiny real models."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import torch
from torch import nn

import explorer

from explorer.engine import (ErrorEvent, JobFinished, MappingCache, ModelLoaded, RenderThread, layer_rgba,
                             mixing_grid, noise_variance, render_state)
from explorer.engine.render import image_rgba
from explorer.errors import ExplorerError
from explorer.jobs import Job, JobCancelled, Progress, start_job
from explorer.latent.compose import state_ws
from explorer.latent.state import DirectionEdit, LatentState, encode_latent
from explorer.model import Model, to_uint8
from explorer.nets import build_generator


def tiny_generator(img_channels: int = 3, resolution: int = 32) -> nn.Module:
    torch.manual_seed(0)
    g = build_generator("stylegan2", dict(
        z_dim=32, w_dim=32, c_dim=0, img_resolution=resolution, img_channels=img_channels,
        mapping_kwargs=dict(num_layers=2), channel_base=256, channel_max=32))
    for name, p in g.named_parameters():
        if name.endswith("noise_strength"):  # zero at init; trained models have learnt some
            p.data.fill_(0.5)
    return g


@pytest.fixture(scope="module")
def model() -> Model:
    return Model(tiny_generator(), None, format="test")


class GatedSynthesis(nn.Module):
    """A real synthesis network that, once `gate` is cleared, waits there inside each call: a
    render that stays in flight for as long as the test needs, without guessing at durations."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()

    def forward(self, *args, **kwargs) -> torch.Tensor:
        self.entered.set()
        if not self.gate.wait(timeout=60):
            raise RuntimeError("the test never opened the gate")
        return self.inner(*args, **kwargs)

    def layer_resolutions(self) -> dict[str, int]:
        return self.inner.layer_resolutions()

    def ws_resolutions(self) -> list[int]:
        return self.inner.ws_resolutions()


class Directions:
    """A DirectionLookup with random unit directions."""

    def __init__(self, w_dim: int) -> None:
        g = torch.Generator().manual_seed(1)
        self.vectors = torch.nn.functional.normalize(torch.randn(4, w_dim, generator=g), dim=1)

    def direction(self, set_name: str, index: int) -> tuple[torch.Tensor, float]:
        return self.vectors[index], 2.5


def wait_for(predicate, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.005)
    raise AssertionError("timed out waiting for the render thread")


@pytest.fixture
def thread():
    rt = RenderThread(device="cpu")
    rt.start()
    yield rt
    rt.stop()


def loaded(rt: RenderThread, model: Model) -> RenderThread:
    rt.load_model(model)
    assert isinstance(wait_for(rt.poll_events)[0], ModelLoaded)
    return rt


def frame_for(rt: RenderThread, state: LatentState):
    return wait_for(lambda: (f := rt.latest_frame()) is not None and f.state == state and f)


# --- pure rendering -------------------------------------------------------------------------------
def test_render_state_image_equals_synthesize(model):
    state = LatentState(seed=3, psi=0.7, cutoff=4, mix_seed=5, mix_weights=(0, 0, 0, 0, 1, 1, 1, 1),
                        noise_mode="random", noise_seed=2, noise_gains=((8, 0.5),))
    out = render_state(model, state)
    img = model.synthesize(state_ws(model, state), noise_mode="random", noise_seed=2,
                           noise_gain_by_res={8: 0.5})
    assert out.rgba.shape == (32, 32, 4) and out.rgba.dtype == np.uint8
    assert out.rgba.flags.c_contiguous
    np.testing.assert_array_equal(out.rgba[..., :3], to_uint8(img)[0])
    assert (out.rgba[..., 3] == 255).all()
    assert out.layer_stats == ()
    assert torch.equal(out.ws, state_ws(model, state))


def test_image_rgba_quantises_like_to_uint8_for_colour_and_gray_images():
    torch.manual_seed(0)
    img = torch.randn(2, 3, 5, 7) * 1.5  # beyond [-1, 1] on purpose: clamping must match too
    rgba = image_rgba(img)
    assert rgba.shape == (5, 7, 4) and rgba.flags.c_contiguous
    np.testing.assert_array_equal(rgba[..., :3], to_uint8(img)[0])
    assert (rgba[..., 3] == 255).all()
    gray = image_rgba(img[:, :1])
    for c in range(3):
        np.testing.assert_array_equal(gray[..., c], to_uint8(img[:, :1])[0][..., 0])


def test_stylegan3_transform_and_margin_layers():
    torch.manual_seed(0)
    g = build_generator("stylegan3", dict(z_dim=32, w_dim=32, c_dim=0, img_resolution=16, img_channels=3,
                                          channel_base=256, channel_max=32, num_layers=4,
                                          mapping_kwargs=dict(num_layers=2)))
    sg3 = Model(g, None, format="test")
    state = LatentState(seed=1, translate=(0.1, -0.2), rotate=10)
    img = sg3.synthesize(state_ws(sg3, state), translate=(0.1, -0.2), rotate=10)
    np.testing.assert_array_equal(render_state(sg3, state).rgba[..., :3], to_uint8(img)[0])
    size = sg3.generator.synthesis.layer_resolutions()["input"]
    assert render_state(sg3, state.replace(view_layer="input")).rgba.shape == (size, size, 4)


def test_grayscale_model_is_shown_as_gray():
    gray = Model(tiny_generator(img_channels=1, resolution=16), None, format="test")
    rgba = render_state(gray, LatentState(seed=1)).rgba
    assert rgba.shape == (16, 16, 4)
    assert (rgba[..., 0] == rgba[..., 1]).all() and (rgba[..., 0] == rgba[..., 2]).all()
    assert rgba[..., 0].std() > 0


@pytest.mark.parametrize("reduce", ["mean", "norm", "channel"])
def test_layer_view_shape_and_normalisation(model, reduce):
    state = LatentState(seed=4, view_layer="b8.conv1", view_reduce=reduce, view_channel=3)
    out = render_state(model, state)
    assert out.rgba.shape == (8, 8, 4)
    assert out.rgba[..., 0].min() == 0 and out.rgba[..., 0].max() == 255
    assert (out.rgba[..., 1] == out.rgba[..., 0]).all() and (out.rgba[..., 3] == 255).all()
    capture: dict[str, torch.Tensor] = {}
    model.synthesize(out.ws, capture=capture)
    x = capture["b8.conv1"][0]
    expected = {"mean": x.mean(0), "norm": x.norm(dim=0), "channel": x[3]}[reduce]
    # The brightest and darkest pixels are where the reduced map peaks.
    assert out.rgba[..., 0].argmax() == expected.argmax() and out.rgba[..., 0].argmin() == expected.argmin()
    assert len(out.layer_stats) == len(model.generator.synthesis.layer_resolutions())


def test_channel_index_is_clamped_and_constant_maps_are_black(model):
    last = render_state(model, LatentState(seed=4, view_layer="b16.conv0", view_reduce="channel",
                                           view_channel=15)).rgba
    beyond = render_state(model, LatentState(seed=4, view_layer="b16.conv0", view_reduce="channel",
                                             view_channel=999)).rgba
    np.testing.assert_array_equal(last, beyond)
    flat = layer_rgba(torch.full((1, 4, 6, 6), 3.0), "mean")
    assert flat.shape == (6, 6, 4) and (flat[..., :3] == 0).all() and (flat[..., 3] == 255).all()


def test_unknown_layer_is_a_user_error(model):
    with pytest.raises(ExplorerError, match="no layer"):
        render_state(model, LatentState(view_layer="b999.conv"))


def test_layer_stats_on_request_leave_the_image_unchanged(model):
    state = LatentState(seed=6)
    plain = render_state(model, state)
    out = render_state(model, state, with_stats=True)
    np.testing.assert_array_equal(out.rgba, plain.rgba)
    resolutions = model.generator.synthesis.layer_resolutions()
    assert [s.name for s in out.layer_stats] == list(resolutions)
    for s in out.layer_stats:
        assert s.resolution == resolutions[s.name] and s.channels > 0
        assert s.std > 0 and s.max_abs >= abs(s.mean)
        assert s.spike == pytest.approx(s.max_abs / s.std)


def test_mapping_cache_equals_compose_and_skips_the_mapping_net(model):
    directions = Directions(model.w_dim)
    latent = encode_latent(np.random.RandomState(0).randn(model.num_ws, model.w_dim))
    states = [
        LatentState(seed=1),
        LatentState(seed=1, psi=0.5, cutoff=3),
        LatentState(seed=2, mix_seed=9, mix_weights=(1, 1, 0.5)),
        LatentState(latent=latent, psi=0.8, mix_seed=3, mix_weights=(0,) * 6 + (1, 1)),
        LatentState(seed=2, edits=(DirectionEdit("pca", 1, 2.0, 2, 5), DirectionEdit("pca", 0, -1.0))),
    ]
    cache = MappingCache()
    for state in states:
        assert torch.equal(cache.state_ws(model, state, directions), state_ws(model, state, directions))
    misses = cache.misses
    cache.state_ws(model, LatentState(seed=2, mix_seed=9, mix_weights=(0.1, 0.7), noise_mode="none"))
    assert cache.misses == misses


def test_noise_variance_is_zero_without_noise_and_not_with_it(model):
    steps = []
    quiet = noise_variance(model, LatentState(seed=1, noise_gains=((4, 0.0), (8, 0.0), (16, 0.0), (32, 0.0))),
                           samples=4, on_step=lambda s, t: steps.append((s, t)))
    assert quiet.rgba.shape == (32, 32, 4) and (quiet.rgba[..., :3] == 0).all() and (quiet.rgba[..., 3] == 255).all()
    assert quiet.peak == 0
    assert steps == [(1, 4), (2, 4), (3, 4), (4, 4)]
    noisy = noise_variance(model, LatentState(seed=1), samples=4)
    assert noisy.rgba[..., :3].max() == 255 and 0 < noisy.peak < 255


def test_mixing_grid_layout(model):
    weights = (0, 0, 0, 0, 1, 1, 1, 1)
    grid = mixing_grid(model, [1, 2], [7, 8, 9], weights, psi=0.8)
    assert grid.shape == (3 * 32, 4 * 32, 4)
    cell = lambda r, c: grid[r * 32:(r + 1) * 32, c * 32:(c + 1) * 32]
    assert (cell(0, 0) == 0).all()
    np.testing.assert_array_equal(cell(0, 2), render_state(model, LatentState(seed=8, psi=0.8)).rgba)
    np.testing.assert_array_equal(cell(2, 0), render_state(model, LatentState(seed=2, psi=0.8)).rgba)
    mixed = LatentState(seed=2, psi=0.8, mix_seed=9, mix_weights=weights)
    np.testing.assert_array_equal(cell(2, 3), render_state(model, mixed).rgba)


# --- jobs -----------------------------------------------------------------------------------------
def test_job_reports_progress_and_returns_its_result():
    seen = []

    def fn(report, cancelled):
        for i in range(3):
            report(Progress(i + 1, 3, "counting", loss=1.0 / (i + 1)))
            seen.append(i)
        return "ok"

    handle = start_job(Job("count", fn))
    assert handle.wait(5)
    assert (handle.status, handle.result, handle.error) == ("done", "ok", None)
    assert handle.progress == Progress(3, 3, "counting", loss=1 / 3)
    assert handle.progress.fraction == 1.0


def test_job_cancel_stops_at_the_next_report():
    def fn(report, cancelled):
        step = 0
        while True:
            step += 1
            report(Progress(step, 0))
            time.sleep(0.001)

    handle = start_job(Job("forever", fn))
    wait_for(lambda: handle.progress is not None)
    handle.cancel()
    assert handle.wait(5) and handle.status == "cancelled"


def test_job_subclass_and_failures_are_captured():
    class Broken(Job):
        def run(self, report, cancelled):
            raise ValueError("boom\nsecond line")

    handle = start_job(Broken("broken"))
    assert handle.wait(5) and handle.status == "failed" and handle.error == "ValueError: boom"

    def user_error(report, cancelled):
        raise ExplorerError("pick a smaller image")

    handle = start_job(Job("user", user_error))
    assert handle.wait(5) and handle.error == "pick a smaller image"

    def gives_up(report, cancelled):
        raise JobCancelled()

    assert start_job(Job("quit", gives_up)).wait(5)


# --- the render thread ----------------------------------------------------------------------------
def test_thread_renders_what_render_state_renders(thread, model):
    loaded(thread, model)
    assert thread.model_info == model.info and thread.device == "cpu"
    state = LatentState(seed=11, psi=0.6)
    thread.submit(state)
    frame = frame_for(thread, state)
    np.testing.assert_array_equal(frame.rgba, render_state(model, state).rgba)
    assert frame.model_hash == model.info.content_hash and frame.device == "cpu"
    assert not frame.rgba.flags.writeable and frame.render_ms > 0 and frame.layer_stats == ()
    thread.submit(state)  # unchanged: nothing to do
    layer = state.replace(view_layer="b16.conv1", view_reduce="norm")
    thread.submit(layer)
    frame = frame_for(thread, layer)
    assert frame.serial == 2 and thread.frames_rendered == 2
    assert frame.rgba.shape == (16, 16, 4) and len(frame.layer_stats) > 0


def test_state_submitted_before_the_model_is_rendered_once_it_loads(thread, model):
    state = LatentState(seed=5)
    thread.submit(state)
    loaded(thread, model)
    np.testing.assert_array_equal(frame_for(thread, state).rgba, render_state(model, state).rgba)


def test_latest_wins_with_a_slow_model(thread):
    g = tiny_generator(resolution=16)
    g.synthesis = gated = GatedSynthesis(g.synthesis)
    loaded(thread, Model(g, None, format="test"))
    states = [LatentState(seed=s) for s in range(5)]
    gated.gate.clear()
    thread.submit(states[0])
    assert gated.entered.wait(30), "the first render never started"
    # The render of states[0] cannot finish while the gate is shut, so submits that return now
    # never waited for it; each one replaces the previous request in the one-slot mailbox.
    submitter = threading.Thread(target=lambda: [thread.submit(s) for s in states[1:]])
    submitter.start()
    submitter.join(30)
    assert not submitter.is_alive(), "submit() waited for a render in flight"
    assert thread.frames_rendered == 0
    gated.gate.set()
    frame = frame_for(thread, states[-1])
    assert thread.frames_rendered == 2 and frame.serial == 2  # states[0], then the newest
    assert thread.stats.requests_dropped == 3


def test_loads_a_checkpoint_file_on_the_thread(thread, model, tmp_path):
    path = tmp_path / "tiny.safetensors"
    explorer.save(model, path)
    thread.load_model(path)
    event = wait_for(thread.poll_events)[0]
    assert isinstance(event, ModelLoaded) and event.source == str(path)
    assert event.info.content_hash == model.info.content_hash and thread.model is not model


def test_load_error_keeps_the_old_model(thread, model, tmp_path):
    loaded(thread, model)
    bogus = tmp_path / "not-a-model.pkl"
    bogus.write_bytes(b"this is not a checkpoint")
    thread.load_model(bogus)
    events = wait_for(thread.poll_events)
    assert isinstance(events[0], ErrorEvent) and "not-a-model.pkl" in events[0].message
    assert thread.model is model
    state = LatentState(seed=8)
    thread.submit(state)
    assert frame_for(thread, state).model_hash == model.info.content_hash


def test_render_error_is_reported_and_the_thread_keeps_going(thread, model):
    loaded(thread, model)
    bad = LatentState(latent=encode_latent(np.zeros((3, 7), np.float32)))
    thread.submit(bad)
    event = wait_for(thread.poll_events)[0]
    assert isinstance(event, ErrorEvent) and event.state == bad and "shape" in event.message
    good = LatentState(seed=2)
    thread.submit(good)
    assert frame_for(thread, good).serial == 1


def test_new_directions_re_render_the_current_state(thread, model):
    loaded(thread, model)
    state = LatentState(seed=2, edits=(DirectionEdit("pca", 1, 3.0),))
    thread.submit(state)
    assert "not loaded" in wait_for(thread.poll_events)[0].message
    directions = Directions(model.w_dim)
    thread.set_directions(directions)
    frame = frame_for(thread, state)
    np.testing.assert_array_equal(frame.rgba, render_state(model, state, directions).rgba)


def test_thread_jobs_use_the_current_model(thread, model):
    assert thread.start_noise_variance(LatentState(), samples=2).wait(5)  # no model yet
    assert "no model" in wait_for(thread.poll_events)[0].handle.error
    loaded(thread, model)
    noise = thread.start_noise_variance(LatentState(seed=1), samples=3)
    grid = thread.start_mixing_grid([1], [2, 3], (1, 1, 1, 1, 0, 0, 0, 0))
    assert noise.wait(10) and grid.wait(10)
    assert noise.status == "done" and noise.result.rgba.shape == (32, 32, 4)
    assert noise.progress == Progress(3, 3, "noise variance")
    np.testing.assert_array_equal(
        grid.result, mixing_grid(model, [1], [2, 3], (1, 1, 1, 1, 0, 0, 0, 0)))
    events: list = []
    wait_for(lambda: events.extend(thread.poll_events()) or len(events) >= 2)
    assert all(isinstance(e, JobFinished) for e in events)
    assert {e.handle.id for e in events} == {noise.id, grid.id}


def test_the_thread_wakes_a_sleeping_ui_after_each_frame_and_event(thread, model):
    """A UI that sleeps between input events sees a new picture or event only if it is woken:
    every publish and every posted event calls the wake-up, after the result is readable."""
    seen: list[tuple[str, object]] = []

    def wake() -> None:  # what the UI would do once awake: look at what is there now
        frame = thread.latest_frame()
        seen.append(("frame", frame.state if frame is not None else None))

    thread.set_wake(wake)
    loaded(thread, model)
    assert seen, "loading the model posted an event without a wake-up"
    state = LatentState(seed=12)
    thread.submit(state)
    frame_for(thread, state)
    wait_for(lambda: ("frame", state) in seen)
    thread.poll_events()
    count = len(seen)
    job = thread.start_noise_variance(state, samples=2)
    assert job.wait(10)
    wait_for(lambda: len(seen) > count)  # the job's end (no frame) woke it
    assert any(isinstance(e, JobFinished) for e in thread.poll_events())
    thread.set_wake(None)
    before = len(seen)
    thread.submit(LatentState(seed=13))
    frame_for(thread, LatentState(seed=13))
    assert len(seen) == before  # unregistered: no calls into a UI that is gone


def test_stop_is_idempotent(model):
    """stop() before start, and twice while a job runs: it returns each time, the thread ends,
    the job is cancelled, and an engine stopped before it started never renders."""
    never_started = RenderThread(device="cpu")
    never_started.stop()
    never_started.start()
    never_started._thread.join(10)
    assert not never_started._thread.is_alive()

    rt = RenderThread(device="cpu")
    rt.start()
    loaded(rt, model)

    def wait_for_cancel(report, cancelled) -> None:
        while True:
            report(Progress(0, 1))  # raises JobCancelled once stop() asks
            time.sleep(0.01)

    job = rt.run_job("wait", wait_for_cancel)
    wait_for(lambda: job.progress is not None)
    rt.stop()
    rt.stop()
    assert not rt._thread.is_alive()
    assert job.wait(10) and job.status == "cancelled"
