"""StyleGAN2 generator / discriminator: conformance with NVIDIA's fixtures and behaviour on tiny nets.

Each fixture's generator is checked twice: built from its init kwargs and loaded strictly from
state.npz (the network code alone), and read by `explorer.load` from the checkpoint file a user
would have (the shipped network-snapshot.pkl, or one built from state.npz), so the readers are
held to the same reference outputs.

Fixture images were produced by NVIDIA's code on a CPU whose oneDNN used AVX2 kernels; on other
CPUs convolutions round differently (~1e-6), hence a 1e-4 tolerance rather than bit equality.
"""

from __future__ import annotations

import json
from typing import Any, Callable

import numpy as np
import pytest
import torch

import explorer
from explorer.nets import build_discriminator, build_generator
from explorer.nets.discriminator import StyleGAN2Discriminator
from explorer.nets.stylegan2 import StyleGAN2Generator
from tests import checkpoint_builders as cb
from tests.conftest import FIXTURES_DIR, fixture_names

pytestmark = pytest.mark.usefixtures("one_torch_thread")

IMG_ATOL = 1e-4
WS_ATOL = 1e-5
SG2_CLASSES = ("networks.Generator", "networks_stylegan2.Generator")
SOURCES = ("state.npz", "checkpoint")


def _config(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES_DIR / name / "config.json").read_text())


def _sg2_fixtures() -> list[str]:
    return [n for n in fixture_names()
            if _config(n).get("producer", {}).get("class_name", "").endswith(SG2_CLASSES)]


def generator_kwargs(cfg: dict[str, Any]) -> dict[str, Any]:
    """init_kwargs with the source's defaults made explicit (the stylegan3 repo differs from ada)."""
    kwargs = dict(cfg["init_kwargs"])
    if cfg["format"] == "nvidia-stylegan3-repo":
        kwargs.setdefault("conv_clamp", 256)
        kwargs.setdefault("num_fp16_res", 4)
    return kwargs


def load_fixture_generator(name: str) -> StyleGAN2Generator:
    G = StyleGAN2Generator(**generator_kwargs(_config(name)))
    state = np.load(FIXTURES_DIR / name / "state.npz")
    G.load_state_dict({k: torch.from_numpy(state[k]) for k in state.files}, strict=True)
    return G.eval()


def debug_key(capture_name: str) -> str:
    """debug.npz's name for a captured layer: a block's (x, img) outputs are out0 / out1."""
    block, layer = capture_name.split(".")
    return f"synthesis.{block}.{ {'out': 'out0', 'img': 'out1'}.get(layer, layer) }"


def max_err(a: torch.Tensor, b: np.ndarray) -> float:
    return float(np.abs(a.detach().cpu().numpy() - b).max())


@pytest.fixture(scope="module")
def generators(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str, str], StyleGAN2Generator]:
    """(fixture, source) -> its generator, each made once per module."""
    made: dict[tuple[str, str], StyleGAN2Generator] = {}

    def get(name: str, source: str) -> StyleGAN2Generator:
        if (name, source) not in made:
            if source == "state.npz":
                made[name, source] = load_fixture_generator(name)
            else:
                path = cb.user_checkpoint(FIXTURES_DIR / name, tmp_path_factory.mktemp(name))
                made[name, source] = explorer.load(path).generator
        return made[name, source]
    return get


@pytest.fixture(params=_sg2_fixtures() or [pytest.param(None, marks=pytest.mark.skip(
    reason=f"no NVIDIA StyleGAN2 fixtures under {FIXTURES_DIR}"))])
def sg2_fixture(request: pytest.FixtureRequest) -> str:
    return request.param


@torch.no_grad()
@pytest.mark.parametrize("source", SOURCES)
def test_fixture_matches_reference(sg2_fixture: str, source: str, generators) -> None:
    G = generators(sg2_fixture, source)
    assert isinstance(G, StyleGAN2Generator)
    e = np.load(FIXTURES_DIR / sg2_fixture / "expected.npz")
    z = torch.from_numpy(e["z"])
    c = torch.from_numpy(e["c"]) if "c" in e.files else None
    assert (c is not None) == (G.c_dim > 0)

    ws = G.mapping(z, c)
    assert max_err(ws[:, 0], e["w"]) <= WS_ATOL
    assert max_err(ws, e["ws"]) <= WS_ATOL

    psi = float(e["trunc_psi"])
    assert max_err(G.mapping(z, c, truncation_psi=psi), e["ws_trunc"]) <= WS_ATOL
    cut_psi, cutoff = float(e["trunc_cut_psi"]), int(e["trunc_cut_cutoff"])
    assert max_err(G.mapping(z, c, truncation_psi=cut_psi, truncation_cutoff=cutoff),
                   e["ws_trunc_cut"]) <= WS_ATOL

    k, b = int(e["mix_k"]), torch.from_numpy(e["mix_b_index"])
    ws_ref = torch.from_numpy(e["ws"])
    ws_mix = torch.cat([ws_ref[:, :k], ws_ref[b, k:]], dim=1)
    assert max_err(ws_mix, e["ws_mix"]) == 0

    cases = {
        "img": (ws_ref, "const"),
        "img_trunc": (torch.from_numpy(e["ws_trunc"]), "const"),
        "img_trunc_cut": (torch.from_numpy(e["ws_trunc_cut"]), "const"),
        "img_noise_none": (ws_ref, "none"),
        "img_mix": (ws_mix, "const"),
    }
    errors = {key: max_err(G.synthesis(w, noise_mode=mode), e[key]) for key, (w, mode) in cases.items()}
    assert max(errors.values()) <= IMG_ATOL, errors

    # The whole generator (mapping + synthesis) agrees too.
    assert max_err(G(z, c, truncation_psi=psi), e["img_trunc"]) <= IMG_ATOL


@torch.no_grad()
@pytest.mark.parametrize("source", SOURCES)
def test_fixture_intermediates_match_debug(sg2_fixture: str, source: str, generators) -> None:
    """Layer-by-layer comparison: points at the first diverging layer when the image is off."""
    G = generators(sg2_fixture, source)
    d = np.load(FIXTURES_DIR / sg2_fixture / "debug.npz")
    capture: dict[str, torch.Tensor] = {}
    img = G.synthesis(torch.from_numpy(d["ws"]), capture=capture)
    assert list(capture) == list(G.synthesis.layer_resolutions())
    compared = []
    for name, value in capture.items():
        for key in (debug_key(name), debug_key(name) + ".ch0-3"):
            if key in d.files:
                ref = d[key]
                assert max_err(value[:, :ref.shape[1]], ref) <= IMG_ATOL, name
                compared.append(name)
    assert len(compared) >= 4
    assert max_err(img, d["img"]) <= IMG_ATOL


# ---------------------------------------------------------------- tiny generators built here


def tiny_generator(architecture: str = "skip", c_dim: int = 0, resolution: int = 16,
                   seed: int = 0) -> StyleGAN2Generator:
    torch.manual_seed(seed)
    G = StyleGAN2Generator(z_dim=8, c_dim=c_dim, w_dim=8, img_resolution=resolution,
                           mapping_kwargs={"num_layers": 2},
                           synthesis_kwargs={"channel_base": 128, "channel_max": 16,
                                             "architecture": architecture, "conv_clamp": 256})
    with torch.no_grad():  # fresh nets have zero noise strength; make noise visible
        for name, p in G.named_parameters():
            if name.endswith("noise_strength"):
                p.fill_(0.5)
    return G.eval()


@pytest.mark.parametrize("architecture", ["skip", "resnet", "orig"])
def test_architectures_run_and_describe_layers(architecture: str) -> None:
    G = tiny_generator(architecture)
    assert G.num_ws == 6 and G.architecture == "stylegan2"
    capture: dict[str, torch.Tensor] = {}
    with torch.no_grad():
        img = G(torch.randn(2, 8), capture=capture)
    assert img.shape == (2, 3, 16, 16) and img.dtype == torch.float32 and torch.isfinite(img).all()
    layers = G.synthesis.layer_resolutions()
    assert list(capture) == list(layers)
    for name, res in layers.items():
        assert capture[name].shape[-1] == res, name
    assert torch.equal(capture["b16.img"], img)
    ws_res = G.synthesis.ws_resolutions()
    assert len(ws_res) == G.num_ws and ws_res == sorted(ws_res)
    if architecture == "skip":
        assert ws_res == [4, 4, 8, 8, 16, 16]
        assert [n for n in layers if n.startswith("b8.")] == ["b8.conv0", "b8.conv1", "b8.torgb", "b8.img"]
    if architecture == "resnet":
        assert "b8.skip" in layers and "b8.out" in layers and "b8.torgb" not in layers


def test_random_noise_is_seeded_and_scaled_per_resolution() -> None:
    G = tiny_generator()
    ws = G.mapping(torch.randn(2, 8))
    with torch.no_grad():
        a = G.synthesis(ws, noise_mode="random", noise_seed=7)
        b = G.synthesis(ws, noise_mode="random", noise_seed=7)
        other = G.synthesis(ws, noise_mode="random", noise_seed=8)
        const = G.synthesis(ws, noise_mode="const")
        none = G.synthesis(ws, noise_mode="none")
        silent = G.synthesis(ws, noise_mode="random", noise_seed=7,
                             noise_gain_by_res={4: 0, 8: 0.0, "16": 0})
        const_silent = G.synthesis(ws, noise_mode="const", noise_gain_by_res={4: 0, 8: 0, 16: 0})
        only_16 = G.synthesis(ws, noise_mode="random", noise_seed=7, noise_gain_by_res={4: 0, 8: 0})
        only_16_again = G.synthesis(ws, noise_mode="random", noise_seed=7, noise_gain_by_res={4: 0, 8: 0})
        louder = G.synthesis(ws, noise_mode="const", noise_gain_by_res={16: 2.0})
    assert torch.equal(a, b)
    assert (a - other).abs().max() > 1e-3 and (a - const).abs().max() > 1e-3
    assert torch.equal(silent, none) and torch.equal(const_silent, none)
    assert torch.equal(only_16, only_16_again) and (only_16 - none).abs().max() > 1e-3
    assert (louder - const).abs().max() > 1e-3
    with pytest.raises(ValueError):
        G.synthesis(ws, noise_mode="loud")


def test_gradients_reach_every_parameter_in_training_mode() -> None:
    G = tiny_generator("resnet", c_dim=3).train()
    z, c = torch.randn(2, 8), torch.eye(3)[:2]
    img = G(z, c, noise_mode="random", update_w_avg=True)
    img.square().mean().backward()
    missing = [n for n, p in G.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert not missing
    assert G.mapping.w_avg.abs().sum() > 0  # the moving average moved


def test_fused_and_training_paths_agree() -> None:
    G = tiny_generator("resnet")
    ws = G.mapping(torch.randn(3, 8))
    with torch.no_grad():
        fused = G.synthesis(ws, fused_modconv=True)
        split = G.synthesis(ws, fused_modconv=False)
    assert (fused - split).abs().max() < 1e-5


def test_init_kwargs_rebuild_and_layouts_agree() -> None:
    G = tiny_generator("resnet", c_dim=2)
    kwargs = json.loads(json.dumps(G.init_kwargs))
    rebuilt = build_generator("stylegan2", kwargs)
    rebuilt.load_state_dict(G.state_dict(), strict=True)
    assert rebuilt.init_kwargs == G.init_kwargs
    flat = StyleGAN2Generator(z_dim=8, c_dim=2, w_dim=8, img_resolution=16, mapping_kwargs={"num_layers": 2},
                              channel_base=128, channel_max=16, architecture="resnet", conv_clamp=256,
                              fused_modconv_default="inference_only", fp16_channels_last=False)
    assert flat.init_kwargs == G.init_kwargs


def test_channel_override_builds_rosinality_table() -> None:
    G = StyleGAN2Generator(z_dim=64, c_dim=0, w_dim=64, img_resolution=32, mapping_kwargs={"num_layers": 4},
                           channels={"4": 64, "8": 64, "16": 48, "32": 32})
    sd = G.state_dict()
    assert sd["synthesis.b4.const"].shape == (64, 4, 4)
    assert sd["synthesis.b16.conv0.weight"].shape == (48, 64, 3, 3)
    assert sd["synthesis.b32.conv1.weight"].shape == (32, 32, 3, 3)
    assert G.num_ws == 8 and "mapping.fc3.weight" in sd and "mapping.fc4.weight" not in sd
    rebuilt = build_generator("stylegan2", json.loads(json.dumps(G.init_kwargs)))
    assert rebuilt.state_dict().keys() == sd.keys()


# ---------------------------------------------------------------- discriminator


@pytest.mark.parametrize("architecture", ["resnet", "skip", "orig"])
def test_discriminator_forward_backward(architecture: str) -> None:
    torch.manual_seed(0)
    D = StyleGAN2Discriminator(c_dim=3, img_resolution=16, architecture=architecture, channel_base=128,
                               channel_max=16, mapping_kwargs={"num_layers": 2})
    img = torch.randn(4, 3, 16, 16, requires_grad=True)
    c = torch.eye(3)[[0, 1, 2, 0]]
    logits = D(img, c)
    assert logits.shape == (4, 1) and torch.isfinite(logits).all()
    logits.sum().backward()
    assert img.grad is not None and img.grad.abs().sum() > 0
    assert all(p.grad is not None for p in D.parameters())
    feats = D.features(img.detach(), c)
    assert [f.shape[-1] for f in feats] == [8, 4, 4]
    rebuilt = build_discriminator(json.loads(json.dumps(D.init_kwargs)))
    rebuilt.load_state_dict(D.state_dict(), strict=True)
    with torch.no_grad():
        assert torch.equal(rebuilt(img, c), D(img, c))


@pytest.mark.parametrize("name", ["sg2_32", "sg3t_32"])
def test_discriminator_from_snapshot(name: str) -> None:
    """The real training snapshots carry a discriminator; it loads strictly and runs."""
    path = FIXTURES_DIR / name / "network-snapshot.pkl"
    if not path.is_file():
        pytest.skip(f"{path} not present")
    D = explorer.load(path).discriminator
    assert isinstance(D, StyleGAN2Discriminator)
    with torch.no_grad():
        logits = D(torch.randn(4, D.img_channels, D.img_resolution, D.img_resolution))
    assert logits.shape == (4, 1) and torch.isfinite(logits).all()
