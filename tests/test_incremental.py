"""Incremental synthesis (`explorer.nets.resume`): a frame that restarts from the first changed
block gives exactly the pixels of a full render, and anything that changes an earlier block's
input (an early row, the noise seed, the weights, the model) starts from the beginning."""

from __future__ import annotations

import pytest
import torch

from cuda_ops.dispatch import reference_only
from explorer.engine.render import render_ws, synthesize_state
from explorer.latent.compose import state_ws
from explorer.latent.state import DirectionEdit, LatentState
from explorer.model import Model
from explorer.nets import build_generator
from explorer.nets.resume import SynthesisResume

pytestmark = pytest.mark.usefixtures("one_torch_thread")


class Directions:
    def __init__(self, w_dim: int) -> None:
        g = torch.Generator().manual_seed(1)
        self.vectors = torch.nn.functional.normalize(torch.randn(3, w_dim, generator=g), dim=1)

    def direction(self, set_name: str, index: int) -> tuple[torch.Tensor, float]:
        return self.vectors[index], 2.0


def sg2_model(seed: int = 0, architecture: str = "skip") -> Model:
    torch.manual_seed(seed)
    g = build_generator("stylegan2", dict(
        z_dim=16, w_dim=16, c_dim=0, img_resolution=32, mapping_kwargs=dict(num_layers=2),
        channel_base=256, channel_max=16, architecture=architecture, conv_clamp=256))
    with torch.no_grad():
        for name, p in g.named_parameters():
            if name.endswith("noise_strength"):
                p.fill_(0.6)
    return Model(g, None, format="test")


def stage_of_row(model: Model, row: int) -> int:
    """The first synthesis stage (half block) that reads W+ row `row`."""
    return next(i for i, s in enumerate(model.generator.synthesis.stages) if row in s.rows)


def stage_of_noise(model: Model, resolution: int) -> int:
    """The first stage that adds noise of `resolution`: the one after the block's upsampling
    conv0, which adds that conv's noise and activates it."""
    return next(i for i, s in enumerate(model.generator.synthesis.stages)
                if s.noise_resolution == resolution)


class Frames:
    """Renders states incrementally and checks each against a from-scratch render."""

    def __init__(self, model: Model, directions: Directions | None = None) -> None:
        self.model, self.directions, self.resume = model, directions, SynthesisResume()

    def __call__(self, state: LatentState) -> int:
        """First stage the incremental render of `state` ran (checked against a full render)."""
        ws = state_ws(self.model, state, self.directions)
        with torch.no_grad():
            got = synthesize_state(self.model, state, ws, resume=self.resume)
            start = self.resume.last_start
            full = synthesize_state(self.model, state, ws)
        assert torch.equal(got, full)
        return start


@pytest.mark.parametrize("path", ["fast", "reference"])
def test_late_edits_restart_late_and_match_full_renders(path: str) -> None:
    model = sg2_model()
    stages = len(model.generator.synthesis.stages)
    frames = Frames(model, Directions(model.w_dim))
    k = 5  # 32 px model: b4 reads rows 0-1, b8 1-3, b16 3-5 (row 5: its ToRGB), b32 5-7
    late = stage_of_row(model, k)
    assert late == 7  # b16's conv1 and ToRGB (b4: 2 stages; b8, b16, b32: 3 each)
    mix = LatentState(seed=1, mix_seed=2, mix_weights=(0.0,) * model.num_ws)

    def mixed(v: float) -> LatentState:
        return mix.replace(mix_weights=(0.0,) * k + (v,) * (model.num_ws - k))

    context = reference_only() if path == "reference" else torch.no_grad()
    with context:
        assert frames(mix) == 0
        assert frames(mix) == stages  # unchanged: nothing to run
        assert frames(mixed(0.3)) == late  # mixing rows >= k
        assert frames(mixed(0.7)) == late
        last_rows = mixed(0.7).replace(mix_weights=(0.0,) * 5 + (0.7, 0.2, 0.2))
        assert frames(last_rows) == stages - 1  # b32's conv1 and ToRGB rows: its conv0 is kept
        gains = last_rows.replace(noise_gains=((32, 0.5),))
        # the noise of 32 px: conv0's noise, conv1 and ToRGB (the upsampling conv is kept)
        assert frames(gains) == stage_of_noise(model, 32) == stages - 2
        assert frames(gains.replace(mix_weights=(0.0,) * 5 + (0.7, 0.4, 0.2))) == stages - 1
        noisy = gains.replace(noise_gains=((16, 2.0),))  # 16 px up, 32 px back to 1
        assert frames(noisy) == stage_of_noise(model, 16)
        edit = noisy.replace(edits=(DirectionEdit("set", 1, 1.5, layer_start=k),))
        assert frames(edit) == late  # a direction edit on late rows
        assert frames(edit.replace(edits=(DirectionEdit("set", 1, -1.0, layer_start=k),))) == late
        assert frames(edit.replace(mix_weights=(0.5,) + (0.0,) * (model.num_ws - 1))) == 1  # row 0
        assert frames(edit.replace(psi=0.8)) == 1  # truncation moves every row (b4's const stays)


def test_random_noise_resumes_its_draws_and_a_new_seed_restarts() -> None:
    model = sg2_model()
    frames = Frames(model)
    base = LatentState(seed=3, noise_mode="random", noise_seed=5, mix_seed=4,
                       mix_weights=(0.0,) * model.num_ws)
    late = stage_of_row(model, model.num_ws - 2)
    assert frames(base) == 0
    assert frames(base.replace(mix_weights=(0.0,) * (model.num_ws - 2) + (1.0, 1.0))) == late
    assert frames(base.replace(noise_seed=6)) == 0
    assert frames(base.replace(noise_mode="const")) == 0


def test_model_and_weight_changes_invalidate() -> None:
    model, other = sg2_model(0), sg2_model(1)
    frames = Frames(model)
    state = LatentState(seed=1)
    assert frames(state) == 0
    assert frames(state) == len(model.generator.synthesis.stages)
    with torch.no_grad():  # in place, as an EMA update or load_state_dict does
        model.generator.synthesis.b4.conv1.weight.mul_(1.1)
    assert frames(state) == 0
    model.generator.load_state_dict(other.generator.state_dict())
    assert frames(state) == 0
    frames.model = other  # another network
    assert frames(state) == 0


def test_layer_view_reuses_kept_captures() -> None:
    model = sg2_model()
    resume = SynthesisResume()
    stages = len(model.generator.synthesis.stages)
    state = LatentState(seed=2)
    ws = state_ws(model, state)
    with torch.no_grad():
        render_ws(model, state, ws, resume=resume)  # the image: nothing captured
        layer = state.replace(view_layer="b16.conv0")
        got = render_ws(model, layer, ws, resume=resume)
        assert resume.last_start == 0  # earlier captures were not kept
        assert (got.rgba == render_ws(model, layer, ws).rgba).all()
        other = layer.replace(view_layer="b8.conv1", view_reduce="norm")
        got = render_ws(model, other, ws, resume=resume)
        assert resume.last_start == stages  # every capture kept: nothing recomputed
        assert (got.rgba == render_ws(model, other, ws).rgba).all()
        stats = render_ws(model, other, ws, resume=resume, with_stats=True)
        assert stats.layer_stats == render_ws(model, other, ws, with_stats=True).layer_stats


def test_preview_stops_early_and_the_full_frame_resumes_after_it() -> None:
    model = sg2_model()
    resume = SynthesisResume()
    synthesis = model.generator.synthesis
    ws = state_ws(model, LatentState(seed=7))
    with torch.no_grad():
        capture: dict[str, torch.Tensor] = {}
        full = synthesis(ws, capture=capture)
        preview = synthesis(ws, resume=resume, stop_resolution=16)
        assert preview.shape[-1] == 16 and torch.equal(preview, capture["b16.img"].contiguous())
        assert torch.equal(synthesis(ws, resume=resume), full)
        b32 = min(i for i, stage in enumerate(synthesis.stages) if stage.resolution == 32)
        assert resume.last_start == b32 == 8  # b32's first stage
        with pytest.raises(ValueError):
            sg2_model(architecture="resnet").generator.synthesis(ws, stop_resolution=16)


def test_stylegan3_resumes_from_the_first_changed_layer() -> None:
    torch.manual_seed(0)
    g = build_generator("stylegan3", dict(z_dim=16, w_dim=16, c_dim=0, img_resolution=16,
                                          mapping_kwargs=dict(num_layers=2), channel_base=256,
                                          channel_max=16, num_layers=4, margin_size=2))
    model = Model(g, None, format="test")
    frames = Frames(model)
    base = LatentState(seed=1, mix_seed=2, mix_weights=(0.0,) * model.num_ws)
    assert frames(base) == 0
    assert frames(base.replace(mix_weights=(0.0,) * 3 + (1.0,) * (model.num_ws - 3))) == 3
    assert frames(base.replace(translate=(0.1, 0.0))) == 0  # the transform moves the input


def test_autograd_never_resumes() -> None:
    model = sg2_model()
    resume = SynthesisResume()
    ws = state_ws(model, LatentState(seed=1))
    with torch.no_grad():
        model.generator.synthesis(ws, resume=resume)
    ws = ws.clone().requires_grad_(True)
    img = model.generator.synthesis(ws, resume=resume)  # same ws: a resumed pass would run nothing
    img.sum().backward()
    assert ws.grad[:, 0].abs().sum() > 0  # the first block ran, under autograd


def test_stage_times_keep_the_latest_and_the_best_pass() -> None:
    """The latest times predict what a pass costs now; the best ones give the stages' relative
    costs (a preview's worth), which one pass slowed by a busy CPU must not change."""
    model = sg2_model()
    resume = SynthesisResume()
    synthesis = model.generator.synthesis
    seen: dict[int, list[float]] = {}
    with torch.no_grad():
        for psi in (1.0, 0.5, 0.7):  # psi changes every row: each pass runs (nearly) all stages
            synthesis(state_ws(model, LatentState(seed=7, psi=psi)), resume=resume)
            assert resume.last_start <= 1
            for i in range(resume.last_start, len(synthesis.stages)):
                seen.setdefault(i, []).append(resume.stage_ms[i])
    assert set(seen) == set(range(len(synthesis.stages))) and len(seen[len(seen) - 1]) == 3
    assert resume.stage_ms == {i: v[-1] for i, v in seen.items()}
    assert resume.stage_best_ms == {i: min(v) for i, v in seen.items()}
    resume.clear()
    assert resume.stage_ms == {} and resume.stage_best_ms == {}
