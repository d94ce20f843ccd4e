"""StyleGAN3 against NVIDIA's reference outputs (shared fixtures), plus unit tests of its parts.

Every fixture whose producer is `networks_stylegan3.Generator` must reproduce every case of
expected.npz twice: rebuilt from its init kwargs and loaded strictly from state.npz (the network
code alone), and read by `explorer.load` from the checkpoint file a user would have (the shipped
network-snapshot.pkl, or one built from state.npz).
"""

from __future__ import annotations

import json
import math
from typing import Callable

import numpy as np
import pytest
import torch

import explorer
from cuda_ops.filtered_lrelu import filtered_lrelu, filtered_lrelu_ref
from explorer.model import sg3_input_transform
from explorer.nets import build_generator
from explorer.nets.stylegan3 import StyleGAN3Generator, lowpass_filter
from tests import checkpoint_builders as cb
from tests.conftest import FIXTURES_DIR, fixture_names

IMG_ATOL = 1e-4
WS_ATOL = 1e-5


def _config(name: str) -> dict:
    return json.loads((FIXTURES_DIR / name / "config.json").read_text())


def _sg3_fixtures() -> list[str]:
    return [n for n in fixture_names()
            if _config(n)["producer"]["class_name"].endswith("networks_stylegan3.Generator")]


SG3_FIXTURES = _sg3_fixtures()
SOURCES = ("state.npz", "checkpoint")


def _npz(name: str, kind: str) -> dict[str, np.ndarray]:
    with np.load(FIXTURES_DIR / name / f"{kind}.npz") as data:
        return {k: data[k] for k in data.files}


def _from_state(name: str) -> StyleGAN3Generator:
    g = build_generator("stylegan3", _config(name)["init_kwargs"]).eval()
    state = {k: torch.from_numpy(v) for k, v in _npz(name, "state").items()}
    g.load_state_dict(state, strict=True)
    return g


@pytest.fixture(scope="module")
def generators(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str, str], StyleGAN3Generator]:
    """(fixture, source) -> its generator with its weights, made once per module (tests only read it)."""
    made: dict[tuple[str, str], StyleGAN3Generator] = {}

    def get(name: str, source: str) -> StyleGAN3Generator:
        if (name, source) not in made:
            if source == "state.npz":
                made[name, source] = _from_state(name)
            else:
                path = cb.user_checkpoint(FIXTURES_DIR / name, tmp_path_factory.mktemp(name))
                made[name, source] = explorer.load(path).generator
            assert isinstance(made[name, source], StyleGAN3Generator)
        return made[name, source]
    return get


def _max_err(actual: torch.Tensor, expected: np.ndarray) -> float:
    assert tuple(actual.shape) == expected.shape
    return float(np.abs(actual.detach().numpy().astype(np.float64) - expected).max())


@torch.no_grad()
def _render(g: StyleGAN3Generator, ws: np.ndarray | torch.Tensor, **kwargs) -> torch.Tensor:
    return g.synthesis(torch.as_tensor(ws), **kwargs)


# ---------------------------------------------------------------------------------------------
# Fixture conformance


@pytest.mark.parametrize("name", SG3_FIXTURES)
def test_schedule_matches_reference(name: str) -> None:
    derived = _config(name)["derived"]
    g = build_generator("stylegan3", _config(name)["init_kwargs"])
    syn = g.synthesis
    assert g.num_ws == derived["num_ws"]
    assert syn.layer_names == derived["layer_names"]
    inp = derived["input"]
    assert syn.input_spec.channels == inp["channels"]
    assert [syn.input_spec.size] * 2 == inp["size"]
    assert syn.input_spec.sampling_rate == pytest.approx(inp["sampling_rate"], abs=1e-12)
    assert syn.input_spec.bandwidth == pytest.approx(inp["bandwidth"], abs=1e-12)
    assert len(syn.specs) == len(derived["layers"])
    for spec, ref in zip(syn.specs, derived["layers"]):
        for key, want in ref.items():
            have = getattr(spec, key)
            if key in ("in_size", "out_size"):
                assert [have, have] == want, (spec.name, key)
            elif key == "padding":
                assert list(have) == want, (spec.name, key)
            elif isinstance(want, float):
                assert have == pytest.approx(want, rel=1e-12, abs=1e-12), (spec.name, key)
            else:
                assert have == want, (spec.name, key)


@pytest.mark.parametrize("name", SG3_FIXTURES)
def test_filters_match_state(name: str) -> None:
    """The constructor derives exactly the filters the reference stored; identities are absent."""
    state = _npz(name, "state")
    g = build_generator("stylegan3", _config(name)["init_kwargs"])
    ours = {k: v for k, v in g.state_dict().items() if k.endswith(("up_filter", "down_filter"))}
    theirs = {k: v for k, v in state.items() if k.endswith(("up_filter", "down_filter"))}
    assert sorted(ours) == sorted(theirs)
    for key, want in theirs.items():
        np.testing.assert_allclose(ours[key].numpy(), want, rtol=0, atol=1e-7, err_msg=key)
    assert sorted(g.state_dict()) == sorted(state)


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("name", SG3_FIXTURES)
def test_mapping_and_truncation(name: str, source: str, generators) -> None:
    g, exp, cfg = generators(name, source), _npz(name, "expected"), _config(name)
    z = torch.from_numpy(exp["z"])
    c = torch.from_numpy(exp["c"]) if "c" in exp else None
    with torch.no_grad():
        ws = g.mapping(z, c)
        ws_trunc = g.mapping(z, c, truncation_psi=float(exp["trunc_psi"]))
        ws_cut = g.mapping(z, c, truncation_psi=float(exp["trunc_cut_psi"]),
                           truncation_cutoff=int(exp["trunc_cut_cutoff"]))
    assert _max_err(ws[:, 0], exp["w"]) <= WS_ATOL
    assert _max_err(ws, exp["ws"]) <= WS_ATOL
    assert _max_err(ws_trunc, exp["ws_trunc"]) <= WS_ATOL
    assert _max_err(ws_cut, exp["ws_trunc_cut"]) <= WS_ATOL
    assert int(exp["trunc_cut_cutoff"]) == cfg["expected_settings"]["trunc_cut_cutoff"]


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("name", SG3_FIXTURES)
@pytest.mark.parametrize("case", ["img", "img_trunc", "img_trunc_cut", "img_noise_none"])
def test_images(name: str, source: str, case: str, generators) -> None:
    g, exp = generators(name, source), _npz(name, "expected")
    ws_key = {"img": "ws", "img_trunc": "ws_trunc", "img_trunc_cut": "ws_trunc_cut",
              "img_noise_none": "ws"}[case]
    noise_mode = "none" if case == "img_noise_none" else "const"
    img = _render(g, exp[ws_key], noise_mode=noise_mode)
    assert _max_err(img, exp[case]) <= IMG_ATOL


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("name", SG3_FIXTURES)
def test_style_mixing(name: str, source: str, generators) -> None:
    g, exp, cfg = generators(name, source), _npz(name, "expected"), _config(name)
    k, b_index = int(exp["mix_k"]), exp["mix_b_index"]
    assert k == cfg["expected_settings"]["mix_k"]
    assert list(b_index) == cfg["expected_settings"]["mix_b_index"]
    ws = torch.from_numpy(exp["ws"])
    mixed = ws.clone()
    mixed[:, k:] = ws[torch.from_numpy(b_index), k:]
    assert _max_err(mixed, exp["ws_mix"]) <= WS_ATOL
    assert _max_err(_render(g, mixed), exp["img_mix"]) <= IMG_ATOL


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("name", SG3_FIXTURES)
def test_input_transform(name: str, source: str, generators) -> None:
    g, exp = generators(name, source), _npz(name, "expected")
    settings = _config(name)["expected_settings"]["transform"]
    transform = sg3_input_transform(settings["translate"], settings["rotate"])
    np.testing.assert_allclose(transform.numpy(), exp["transform"], rtol=0, atol=1e-6)
    np.testing.assert_allclose(settings["translate"], exp["transform_translate"], atol=1e-6)
    assert settings["rotate"] == pytest.approx(float(exp["transform_rotate_deg"]), abs=1e-5)
    buffer_before = g.synthesis.input.transform.clone()
    img = _render(g, exp["ws"], transform=transform)
    assert _max_err(img, exp["img_transform"]) <= IMG_ATOL
    assert torch.equal(g.synthesis.input.transform, buffer_before)


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("name", SG3_FIXTURES)
def test_debug_intermediates(name: str, source: str, generators) -> None:
    """Every captured layer output equals the reference's (first 4 channels where cut)."""
    g, dbg = generators(name, source), _npz(name, "debug")
    capture: dict[str, torch.Tensor] = {}
    img = _render(g, dbg["ws"], capture=capture)
    assert _max_err(img, dbg["img"]) <= IMG_ATOL
    assert list(capture) == list(g.synthesis.layer_resolutions())
    checked = 0
    for key, want in dbg.items():
        if not key.startswith("synthesis.") or key.endswith(".affine"):
            continue
        layer = key[len("synthesis."):].removesuffix(".ch0-3")
        got = capture[layer][:, :4] if key.endswith(".ch0-3") else capture[layer]
        # Pre-output-scale values are 4x the image's, so allow 4x the image tolerance.
        assert _max_err(got, want) <= 4 * IMG_ATOL, key
        checked += 1
    assert checked == len(g.synthesis.layer_names) + 1


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("name", SG3_FIXTURES)
def test_init_kwargs_rebuild(name: str, source: str, generators) -> None:
    g = generators(name, source)
    rebuilt = build_generator("stylegan3", json.loads(json.dumps(g.init_kwargs)))
    assert rebuilt.architecture == "stylegan3"
    rebuilt.load_state_dict(g.state_dict(), strict=True)
    assert rebuilt.init_kwargs == g.init_kwargs


# ---------------------------------------------------------------------------------------------
# Unit tests (no fixtures needed)


def _tiny(**kwargs) -> StyleGAN3Generator:
    torch.manual_seed(0)
    return StyleGAN3Generator(z_dim=16, c_dim=0, w_dim=16, img_resolution=32, channel_base=256,
                              channel_max=16, **kwargs)


@pytest.mark.parametrize("radial", [False, True])
def test_tiny_forward_backward(radial: bool) -> None:
    kwargs = dict(conv_kernel=1, use_radial_filters=True) if radial else {}
    g = _tiny(**kwargs).train()
    z = torch.randn(2, 16)
    img = g(z)
    assert img.shape == (2, 3, 32, 32) and img.dtype == torch.float32
    img.square().mean().backward()
    grads = [p.grad for p in g.parameters()]
    assert all(gr is not None and torch.isfinite(gr).all() for gr in grads)
    assert g.synthesis.L0_36_16.weight.grad.abs().sum() > 0
    assert g.mapping.fc0.weight.grad.abs().sum() > 0


def test_update_emas() -> None:
    g = _tiny()
    layer = getattr(g.synthesis, g.synthesis.layer_names[3])
    before_ema, before_w = layer.magnitude_ema.clone(), g.mapping.w_avg.clone()
    with torch.no_grad():
        g(torch.randn(2, 16))
    assert torch.equal(layer.magnitude_ema, before_ema)
    with torch.no_grad():
        g(torch.randn(2, 16), update_emas=True)
    assert not torch.equal(layer.magnitude_ema, before_ema)
    assert not torch.equal(g.mapping.w_avg, before_w)


def test_transform_argument_is_stateless() -> None:
    g = _tiny().eval()
    ws = g.mapping(torch.randn(2, 16)).detach()
    transform = sg3_input_transform((0.2, -0.1), 30.0)
    identity = _render(g, ws)
    moved = _render(g, ws, transform=transform)
    assert torch.equal(g.synthesis.input.transform, torch.eye(3))
    assert not torch.allclose(identity, moved)
    with torch.no_grad():
        g.synthesis.input.transform.copy_(transform)
    assert torch.equal(_render(g, ws), moved)  # None means: use the buffer
    assert torch.equal(_render(g, ws, transform=torch.eye(3)), identity)


def test_resolutions_and_contract() -> None:
    g = _tiny().eval()
    syn = g.synthesis
    capture: dict[str, torch.Tensor] = {}
    ws = g.mapping(torch.randn(1, 16), truncation_psi=0.5, truncation_cutoff=4).detach()
    img = _render(g, ws, capture=capture, noise_mode="random", noise_seed=3)
    assert img.is_contiguous()
    sizes = syn.layer_resolutions()
    assert list(sizes) == ["input"] + syn.layer_names
    assert {k: v.shape[-1] for k, v in capture.items()} == sizes
    assert syn.ws_resolutions() == list(sizes.values())
    assert len(syn.ws_resolutions()) == g.num_ws == 16
    assert sizes[syn.layer_names[-1]] == 32
    assert (g.z_dim, g.w_dim, g.c_dim, g.img_resolution, g.img_channels) == (16, 16, 0, 32, 3)


def test_conditional_names() -> None:
    g = StyleGAN3Generator(z_dim=8, c_dim=3, w_dim=8, img_resolution=16, channel_base=128,
                           channel_max=8)
    names = set(g.state_dict())
    assert {"mapping.embed.weight", "mapping.embed.bias", "mapping.fc1.weight"} <= names
    assert "mapping.fc2.weight" not in names
    img = g(torch.randn(2, 8), torch.eye(3)[:2])
    assert img.shape == (2, 3, 16, 16)


def test_radial_filter_is_normalised() -> None:
    f = lowpass_filter(12, cutoff=4.0, width=8.0, fs=32, radial=True)
    assert f.shape == (12, 12)
    assert float(f.sum()) == pytest.approx(1.0, abs=1e-6)
    assert torch.allclose(f, f.t()) and torch.allclose(f, f.flip(0))
    assert lowpass_filter(1, cutoff=4.0, width=8.0, fs=32) is None


FLRELU_CASES = [
    # up, down, up taps, down taps (2-D when a tuple), padding, flip, slope, gain, clamp
    (2, 2, 12, 12, (9, 8, 9, 8), False, 0.2, math.sqrt(2), 256),  # same-size layer
    (4, 2, 24, 12, (-6, -9, -6, -9), False, 0.2, math.sqrt(2), 256),  # rate doubles
    (2, 2, 12, 12, (-11, -12, -11, -12), False, 0.2, math.sqrt(2), 0.5),  # crop, clamp bites
    (2, 2, 12, (12, 12), (11, 10, 11, 10), False, 0.2, math.sqrt(2), 256),  # radial (R config)
    (2, 3, (8, 6), (5, 7), (3, -1, 4, 2), True, 0.1, 2.0, 0.3),  # 2-D, uneven padding, flip
    (1, 1, 1, 1, (0, 0, 0, 0), False, 1.0, 1.0, 256),  # ToRGB
    (1, 1, 1, 1, (2, 1, 0, 3), False, 0.2, 1.0, None),  # identity filters, padding only
    (3, 1, 7, 1, (1, 2, 3, 4), False, 0.0, 2.0, None),  # odd factor, no downsampling, relu
]


def _filter(taps: int | tuple[int, int]) -> torch.Tensor | None:
    if taps == 1:
        return None
    shape = taps if isinstance(taps, tuple) else (taps,)
    return torch.rand(shape, dtype=torch.float64) + 0.1


@pytest.mark.parametrize("case", FLRELU_CASES)
def test_filtered_lrelu_matches_reference(case: tuple) -> None:
    """The fast path equals the step-by-step definition, values and gradients (in float64)."""
    up, down, tu, td, padding, flip, slope, gain, clamp = case
    torch.manual_seed(1)
    fu, fd = _filter(tu), _filter(td)
    b = torch.randn(5, dtype=torch.float64, requires_grad=True)
    kwargs = dict(fu=fu, fd=fd, up=up, down=down, padding=padding, gain=gain, slope=slope,
                  clamp=clamp, flip_filter=flip)
    x = torch.randn(2, 5, 26, 27, dtype=torch.float64, requires_grad=True)
    fast = filtered_lrelu(x, b=b, **kwargs)
    ref = filtered_lrelu_ref(x, b=b, **kwargs)
    assert fast.shape == ref.shape
    torch.testing.assert_close(fast, ref, rtol=1e-12, atol=1e-10)
    with torch.no_grad():  # the in-place inference path
        torch.testing.assert_close(filtered_lrelu(x, b=b, **kwargs), ref, rtol=1e-12, atol=1e-10)
    weights = torch.randn_like(ref)
    grads_fast = torch.autograd.grad((fast * weights).sum(), [x, b])
    grads_ref = torch.autograd.grad((ref * weights).sum(), [x, b])
    for a, r in zip(grads_fast, grads_ref):
        torch.testing.assert_close(a, r, rtol=1e-12, atol=1e-10)


def test_filtered_lrelu_leaves_input_alone() -> None:
    x = torch.randn(1, 3, 8, 8)
    before = x.clone()
    filtered_lrelu(x, slope=0.2, gain=2.0, clamp=0.1)
    assert torch.equal(x, before)
