"""The CPU inference path of StyleGAN2 (`explorer.nets.sg2_fast`) against the reference layers.

The reference path is the definition (it is what the NVIDIA fixtures check); the fast path must
give the same pictures, captures and random-noise draws, and must notice changed weights.
"""

from __future__ import annotations

import re

import pytest
import torch

from cuda_ops import upsample2d
from cuda_ops.dispatch import reference_only
from explorer.nets import sg2_fast
from explorer.nets.stylegan2 import StyleGAN2Generator

pytestmark = pytest.mark.usefixtures("one_torch_thread")
ATOL = 2e-5


def generator(architecture: str = "skip", conv_clamp: float | None = 256, resolution: int = 64,
              seed: int = 0) -> StyleGAN2Generator:
    """Small, but big enough (8 channels at 16..64 px) that both modulation strategies run."""
    torch.manual_seed(seed)
    g = StyleGAN2Generator(z_dim=16, c_dim=0, w_dim=16, img_resolution=resolution,
                           mapping_kwargs={"num_layers": 2}, channel_base=512, channel_max=32,
                           architecture=architecture, conv_clamp=conv_clamp)
    with torch.no_grad():  # fresh nets have zero noise strength and unit biases
        for name, p in g.named_parameters():
            if name.endswith("noise_strength"):
                p.fill_(0.7)
            elif name.endswith("bias"):
                p.add_(0.3 * torch.randn_like(p))
    return g.eval()


def both(g: StyleGAN2Generator, ws: torch.Tensor, **kwargs) -> tuple[torch.Tensor, torch.Tensor,
                                                                   dict, dict]:
    fast_capture, ref_capture = {}, {}
    with torch.no_grad():
        fast = g.synthesis(ws, capture=fast_capture, **kwargs)
        with reference_only():
            ref = g.synthesis(ws, capture=ref_capture, **kwargs)
    return fast, ref, fast_capture, ref_capture


def test_both_modulation_strategies_are_exercised() -> None:
    g = generator()
    chosen = set()
    for block in g.synthesis.blocks[1:]:
        size = block.resolution // 2
        chosen.add(sg2_fast.modulates_weights(block.conv0, torch.empty(1, 1, size, size)))
        chosen.add(sg2_fast.modulates_weights(block.conv1, torch.empty(1, 1, 2 * size, 2 * size)))
    assert chosen == {True, False}
    assert not sg2_fast.modulates_weights(g.synthesis.b64.conv1, torch.empty(2, 1, 64, 64))


@pytest.mark.parametrize("architecture", ["skip", "resnet", "orig"])
@pytest.mark.parametrize("batch", [1, 3])
def test_fast_path_equals_reference(architecture: str, batch: int) -> None:
    g = generator(architecture)
    ws = g.mapping(torch.randn(batch, 16), truncation_psi=0.8)
    ws[:, 5:] = g.mapping(torch.randn(batch, 16))[:, 5:]  # mixed rows: each layer its own w
    for kwargs in (dict(noise_mode="const"), dict(noise_mode="none"),
                   dict(noise_mode="random", noise_seed=3),
                   dict(noise_mode="const", noise_gain_by_res={16: 0, 32: 2.5}),
                   dict(noise_mode="random", noise_seed=3, noise_gain_by_res={8: 0})):
        fast, ref, fast_capture, ref_capture = both(g, ws, **kwargs)
        assert fast.is_contiguous() and fast.shape == ref.shape
        assert (fast - ref).abs().max() < ATOL, kwargs
        assert list(fast_capture) == list(ref_capture) == list(g.synthesis.layer_resolutions())
        for name, value in ref_capture.items():
            assert (fast_capture[name] - value).abs().max() < ATOL * max(1.0, value.abs().max()), name


def test_active_clamps_agree() -> None:
    g = generator(conv_clamp=0.3)
    ws = g.mapping(torch.randn(1, 16))
    fast, ref, capture, _ = both(g, ws)
    assert (fast - ref).abs().max() < ATOL
    assert capture["b64.conv1"].abs().max() == pytest.approx(0.3)  # the clamp did bite


def test_changed_weights_rebuild_the_cached_constants() -> None:
    g = generator()
    ws = g.mapping(torch.randn(1, 16))
    before, _, _, _ = both(g, ws)
    with torch.no_grad():  # in place, as training's EMA update does
        g.synthesis.b8.conv1.weight.mul_(-1.5)
        g.synthesis.b64.conv1.affine.bias.add_(0.5)
        g.synthesis.b32.conv0.noise_const.mul_(3)
    fast, ref, _, _ = both(g, ws)
    assert (fast - ref).abs().max() < ATOL
    assert (fast - before).abs().max() > 1e-2
    other = generator(seed=1)
    g.load_state_dict(other.state_dict())
    fast, ref, _, _ = both(g, ws)
    assert (fast - ref).abs().max() < ATOL


def test_autograd_and_training_use_the_reference_path() -> None:
    g = generator()
    with torch.no_grad():
        ws = g.mapping(torch.randn(1, 16))
    ws.requires_grad_(True)
    assert not sg2_fast.applies(ws)
    g.synthesis(ws).square().mean().backward()
    assert ws.grad is not None and ws.grad.abs().sum() > 0
    with torch.no_grad():
        assert sg2_fast.applies(ws)
        with reference_only():
            assert not sg2_fast.applies(ws)


@pytest.mark.parametrize("taps", [[1, 3, 3, 1], [1, 2, 5, 3], [[1, 2, 0, 1], [0, 3, 1, 1],
                                                              [2, 1, 1, 0], [1, 0, 4, 2]]])
def test_upsample_image_equals_upsample2d(taps) -> None:
    f = torch.tensor(taps, dtype=torch.float32)
    f = f / f.sum()
    img = torch.randn(2, 3, 5, 7)
    want = upsample2d(img, f)
    got = sg2_fast.upsample_image(img, f)
    assert got.shape == want.shape and (got - want).abs().max() < 1e-6


@pytest.mark.parametrize("taps", [[1, 3, 3, 1], [1, 2, 5, 3], [[1, 2, 0, 1], [0, 3, 1, 1],
                                                              [2, 1, 1, 0], [1, 0, 4, 2]]])
def test_upsample_matrices_equal_upsample2d(taps) -> None:
    f = torch.tensor(taps, dtype=torch.float32)
    f = f / f.sum()
    img = torch.randn(2, 3, 5, 7)
    matrices = sg2_fast.upsample_matrices(f if f.ndim == 2 else torch.outer(f, f), 5, 7)
    if f.ndim == 2:  # not an outer product: the image takes the transposed-conv route
        assert matrices is None
        return
    up_h, up_w_t = matrices
    want = upsample2d(img, f)
    got = up_h @ img @ up_w_t
    assert got.shape == want.shape and (got - want).abs().max() < 1e-6
    up_h, up_w_t = sg2_fast.upsample_matrices(f, 5, 7)  # a 1-D filter is separable as it is
    assert (up_h @ img @ up_w_t - want).abs().max() < 1e-6


@pytest.mark.parametrize("m", [2, 4])
def test_winograd_matrices_give_the_correlation_exactly(m: int) -> None:
    a_t, g, b_t = sg2_fast.winograd_matrices(m)
    torch.manual_seed(m)
    d, taps = torch.randn(m + 2, dtype=torch.float64), torch.randn(3, dtype=torch.float64)
    want = torch.stack([d[i:i + 3] @ taps for i in range(m)])
    assert (a_t @ ((g @ taps) * (b_t @ d)) - want).abs().max() < 1e-12


@pytest.mark.parametrize("m,shape", [(2, (2, 8, 5, 6, 10)), (2, (1, 3, 4, 2, 2)), (2, (1, 32, 16, 16, 16)),
                                     (4, (2, 8, 5, 8, 12)), (4, (1, 3, 4, 4, 4)), (4, (1, 64, 16, 16, 16))])
def test_winograd_conv_equals_conv2d(m: int, shape) -> None:
    n, c, o, h, w = shape
    x = torch.randn(n, c, h, w)
    weight = torch.randn(o, c, 3, 3)
    want = torch.nn.functional.conv2d(x, weight, padding=1)
    u = sg2_fast.winograd_weight(weight, m)
    assert u.shape == ((m + 2) ** 2, c, o)
    for layout in (torch.contiguous_format, torch.channels_last):
        got = sg2_fast.winograd_conv3x3(x.contiguous(memory_format=layout), u)
        assert got.shape == want.shape
        assert (got - want).abs().max() < 1e-5 * want.abs().max()
    # the per-sample input and output scales and the bias ride in the tile copies
    scale_in, scale_out, bias = torch.rand(n, c) + 0.5, torch.rand(n, o) + 0.5, torch.randn(o)
    want = torch.nn.functional.conv2d(x * scale_in[:, :, None, None], weight, padding=1)
    want = want * scale_out[:, :, None, None] + bias[:, None, None]
    got = sg2_fast.winograd_conv3x3(x.contiguous(memory_format=torch.channels_last), u, scale_in,
                                    scale_out, bias)
    assert (got - want).abs().max() < 1e-5 * want.abs().max()


def test_wide_layers_take_the_winograd_route_and_match_the_reference() -> None:
    torch.manual_seed(0)
    g = StyleGAN2Generator(z_dim=16, c_dim=0, w_dim=16, img_resolution=64,
                           mapping_kwargs={"num_layers": 2}, channel_base=4096, channel_max=256,
                           conv_clamp=256)
    with torch.no_grad():
        for name, p in g.named_parameters():
            if name.endswith("noise_strength"):
                p.fill_(0.7)
    net = g.synthesis
    tile = sg2_fast.winograd_tile
    assert tile(net.b8.conv1, torch.empty(1, 1, 8, 8)) == 2  # 256 -> 256 on a small map
    assert tile(net.b16.conv1, torch.empty(1, 1, 16, 16)) == 4  # 256 -> 256
    assert tile(net.b32.conv1, torch.empty(1, 1, 32, 32)) == 4  # 128 -> 128
    assert tile(net.b64.conv1, torch.empty(1, 1, 64, 64)) == 4  # 64 -> 64
    assert tile(net.b4.conv1, torch.empty(1, 1, 4, 4)) == 0  # too small a map
    assert tile(net.b32.conv1, torch.empty(1, 1, 256, 256)) == 4  # in bands of tile rows
    assert tile(net.b64.conv1, torch.empty(1, 1, 128, 128)) == 0  # 64 channels on a big map
    assert tile(net.b64.torgb, torch.empty(1, 1, 64, 64)) == 0  # 1x1
    for batch in (1, 2):
        ws = g.mapping(torch.randn(batch, 16))
        fast, ref, fast_capture, ref_capture = both(g, ws.detach(), noise_mode="const")
        assert (fast - ref).abs().max() < ATOL
        for name in ("b8.conv1", "b16.conv1", "b32.conv1", "b64.conv1"):
            value = ref_capture[name]
            assert (fast_capture[name] - value).abs().max() < ATOL * max(1.0, value.abs().max())


def test_winograd_in_bands_of_tile_rows_equals_conv2d(monkeypatch) -> None:
    """A map bigger than one band (and a last band shorter than the others) gives the same
    numbers as in one piece, for both tile sizes and a batch of two."""
    x = torch.randn(2, 8, 24, 20)
    weight, bias = torch.randn(6, 8, 3, 3), torch.randn(6)
    scale_in, scale_out = torch.rand(2, 8) + 0.5, torch.rand(2, 6) + 0.5
    want = torch.nn.functional.conv2d(x * scale_in[:, :, None, None], weight, padding=1)
    want = want * scale_out[:, :, None, None] + bias[:, None, None]
    # F(4x4): 6 tile rows in bands of 4 and 2; F(2x2): 12 in bands of 2
    monkeypatch.setattr(sg2_fast, "_BAND_VALUES", 2 * 5 * 8 * 4)
    for m in (2, 4):
        got = sg2_fast.winograd_conv3x3(x.contiguous(memory_format=torch.channels_last),
                                        sg2_fast.winograd_weight(weight, m), scale_in, scale_out, bias)
        assert (got - want).abs().max() < 1e-5 * want.abs().max()
        got = sg2_fast.winograd_conv3x3(x, sg2_fast.winograd_weight(weight, m))
        assert (got - torch.nn.functional.conv2d(x, weight, padding=1)).abs().max() < 1e-5 * want.abs().max()


def test_copies_of_a_model_render_the_same_bits() -> None:
    """The Winograd constants are exact fractions, not a numerical solve: a copy of a model (the
    render thread's own) must draw exactly what the original draws, or incremental frames,
    pixel comparisons and round trips would differ in the last bit."""
    import copy
    torch.manual_seed(0)
    g = StyleGAN2Generator(z_dim=16, c_dim=0, w_dim=16, img_resolution=32,
                           mapping_kwargs={"num_layers": 2}, channel_base=2048, channel_max=128).eval()
    assert sg2_fast.winograd_tile(g.synthesis.b16.conv1, torch.empty(1, 1, 16, 16)) == 4
    ws = g.mapping(torch.randn(2, 16)).detach()
    with torch.no_grad():
        assert torch.equal(g.synthesis(ws, noise_mode="const"), copy.deepcopy(g).synthesis(ws, noise_mode="const"))


def test_packed_weights_are_never_repacked(capfd) -> None:
    """oneDNN picks a packed weight layout by ISA and input shape. The fast path packs each
    weight once per input shape; a layout packed for some other shape or ISA gets converted
    again on every call (on AVX2 that repack made a 64 px render slower than the reference).
    oneDNN's own log of a second pass, at batch 1 and 2, must show no reorder whose source is
    already a blocked (packed) layout: only plain ones (the per-call modulated filters)."""
    torch.manual_seed(0)
    g = StyleGAN2Generator(z_dim=16, c_dim=0, w_dim=16, img_resolution=32,
                           mapping_kwargs={"num_layers": 2}, channel_base=2048, channel_max=128).eval()
    ws = g.mapping(torch.randn(1, 16)).detach()
    with torch.no_grad():
        for batch in (1, 2):
            g.synthesis(ws.repeat(batch, 1, 1))
            capfd.readouterr()
            with torch.backends.mkldnn.verbose(torch.backends.mkldnn.VERBOSE_ON):
                g.synthesis(ws.repeat(batch, 1, 1))
            log = capfd.readouterr().out
            executed = [line for line in log.splitlines() if ",exec,cpu," in line]
            assert any(",convolution," in line for line in executed), log[-2000:]
            repacks = [line for line in executed if ",reorder," in line
                       and re.search(r"src:\w+:\w*:blocked:[a-z]*[A-Z0-9]", line)]
            assert not repacks, f"batch {batch}: " + "\n".join(repacks)


@pytest.mark.parametrize("activation", ["lrelu", "relu"])
def test_fully_connected_layers_fold_their_gains_without_autograd(activation: str) -> None:
    """The mapping net's layers on CPU without autograd: one addmm with the gains folded into a
    kept weight, equal to the reference within float32 rounding, rebuilt when a weight changes
    in place (EMA, load_state_dict) or is replaced; autograd and `reference_only` keep the
    reference."""
    from explorer.nets.layers import FullyConnectedLayer
    torch.manual_seed(0)
    layer = FullyConnectedLayer(32, 24, activation=activation, lr_multiplier=0.01, bias_init=0.5)
    x = torch.randn(3, 32)
    for step in range(3):
        with reference_only():
            ref = layer(x).detach()
        with torch.no_grad():
            fast = layer(x)
        kept_for = layer.__dict__["_folded_cache"][0]  # the fast path ran, on today's values
        assert kept_for == tuple((t.data_ptr(), t._version) for t in (layer.weight, layer.bias))
        assert torch.allclose(fast, ref, rtol=1e-5, atol=1e-6)
        with torch.no_grad():
            if step == 0:
                layer.weight.mul_(-1.5)  # in place
            else:
                layer.bias = torch.nn.Parameter(torch.randn(24))  # replaced
    y = layer(x.requires_grad_())
    y.sum().backward()
    assert x.grad is not None and layer.weight.grad is not None
    with torch.no_grad():  # weights in another dtype than the input: the reference casts them
        half = layer.half()(x.float())
    assert half.dtype == torch.float32 and torch.allclose(half, layer.float()(x), atol=1e-2)
