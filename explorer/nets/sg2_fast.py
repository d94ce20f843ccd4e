"""StyleGAN2 synthesis for CPU inference: the reference numbers in fewer passes and fewer ops.

The reference modulated conv (`stylegan2.modulated_conv2d`) rebuilds a per-sample weight on
every call: five passes over 2.4M weights per 512-channel layer, then oneDNN reorders that
weight again, all for a 4x4...32x32 map that costs less to convolve than to modulate. Its
epilogue (noise, bias, leaky ReLU, gain, clamp) is five more passes that each allocate a map,
and every small op costs a thread hand-off, which on a busy 2-core machine can cost more than
the arithmetic. Here, with the same algebra:

* the styles of all layers come from one batched matmul, and their demodulation coefficients
  from a second one against precomputed squared weights: d = rsqrt(sum_i Wsq[o, i] s_i^2);
* where the weights are bigger than the activations (low resolutions, and any batch > 1) the
  styles scale the *input* and the conv reads a weight packed for oneDNN once per model;
  elsewhere the weight is modulated in one pass (styles, demodulation and gain at once);
* the activation gain is folded into the demodulation, bias and noise (lrelu(x) * g = lrelu(g x)
  for g > 0), the bias goes into oneDNN's fused epilogue, the per-channel scale of an upsampling
  layer rides in its depthwise FIR filter, and what is left (noise, lrelu, clamp) runs in place
  (but for an upsampling conv's: an incremental pass may keep its input, see `activate_conv0`);
* 3x3 convs of 64+ channels on maps of 16 px and up run as F(4x4, 3x3) Winograd (1/4 of the
  multiplies, five ops per cache-sized band of tile rows), wide ones at 8 px as F(2x2, 3x3);
  ToRGB (3 output channels) is a batched matmul and the image's 2x upsampling
  two small matmuls with per-size matrices;
* everything runs channels-last, the layout oneDNN convolves fastest on CPU.

Constants live in a per-network plan keyed by the parameters' identities and versions, so an
in-place update (training's EMA, `load_state_dict`) or a move to another device rebuilds it.
Used only without autograd, in float32, on CPU; training and CUDA keep the reference path.
"""

from __future__ import annotations

import functools
import math
import weakref
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Callable

import torch
import torch.nn.functional as F

from cuda_ops import upsample2d
from cuda_ops.dispatch import cpu_inference
from explorer.nets.resume import weights_key

if TYPE_CHECKING:
    from explorer.nets.stylegan2 import (SynthesisBlock, SynthesisLayer, SynthesisNetwork,
                                         ToRGBLayer, _SynthesisPass)

CL = torch.channels_last
_mkldnn = torch.ops.mkldnn
_ONE = [1, 1]


def applies(x: torch.Tensor) -> bool:
    """Whether the fast path may run: `cuda_ops.dispatch.cpu_inference`, with oneDNN."""
    return cpu_inference(x) and torch.backends.mkldnn.is_available() and torch.backends.mkldnn.enabled


# ------------------------------------------------------------------------------------ the plan

@dataclass
class _Plan:
    """Per-network constants: one row per modulated layer (convs and ToRGBs), in forward order."""

    key: tuple
    index: dict[int, int]  # id(layer) -> row
    rows: torch.Tensor  # [L] the W+ row that drives each layer
    affine_weight: torch.Tensor  # [L, in_max, w_dim], gains applied, zero-padded
    affine_bias: torch.Tensor  # [L, 1, in_max]
    weight_sq_t: torch.Tensor  # [L, in_max, out_max]: squared conv weights summed over the kernel
    gains: torch.Tensor  # [L, 1, 1]: activation gain times the block's gain (convs only)
    gain_values: list[float]
    channels: list[tuple[int, int]]  # (out, in) of each layer
    per_layer: dict[int, dict[str, Any]] = field(default_factory=dict)  # lazily built extras


_plans: "weakref.WeakKeyDictionary[torch.nn.Module, _Plan]" = weakref.WeakKeyDictionary()


def _modulated_layers(net: "SynthesisNetwork") -> list[tuple[torch.nn.Module, int, float]]:
    """(layer, W+ row, gain) of every modulated layer, in forward order."""
    out = []
    for block, rows in zip(net.blocks, net.block_ws):
        convs = [block.conv1] if block.in_channels == 0 else [block.conv0, block.conv1]
        for i, layer in enumerate(convs):
            last = i == len(convs) - 1
            out.append((layer, rows[i], layer.act_gain * (math.sqrt(0.5) if last and block.has_skip else 1.0)))
        if block.has_torgb:
            out.append((block.torgb, rows[block.num_conv], 1.0))
    return out


def _plan(net: "SynthesisNetwork") -> _Plan:
    key = weights_key(net)
    plan = _plans.get(net)
    if plan is not None and plan.key == key:
        return plan
    layers = _modulated_layers(net)
    in_max = max(layer.weight.shape[1] for layer, _, _ in layers)
    out_max = max(layer.weight.shape[0] for layer, _, _ in layers)
    count, w_dim = len(layers), net.w_dim
    dev = layers[0][0].weight.device
    aw = torch.zeros(count, in_max, w_dim, device=dev)
    ab = torch.zeros(count, 1, in_max, device=dev)
    wsq = torch.zeros(count, in_max, out_max, device=dev)
    gains = torch.ones(count, 1, 1, device=dev)
    for i, (layer, _, gain) in enumerate(layers):
        affine = layer.affine
        out_ch, in_ch = layer.weight.shape[:2]
        style_gain = getattr(layer, "weight_gain", 1.0)  # ToRGB: He gain instead of demodulation
        aw[i, :in_ch] = affine.weight * (affine.weight_gain * style_gain)
        ab[i, 0, :in_ch] = affine.bias * (affine.bias_gain * style_gain)
        if not hasattr(layer, "weight_gain"):
            wsq[i, :in_ch, :out_ch] = layer.weight.square().sum(dim=[2, 3]).t()
            gains[i] = gain
    plan = _Plan(key=key, index={id(layer): i for i, (layer, _, _) in enumerate(layers)},
                 rows=torch.tensor([r for _, r, _ in layers], device=dev),
                 affine_weight=aw, affine_bias=ab, weight_sq_t=wsq, gains=gains,
                 gain_values=gains.flatten().tolist(),
                 channels=[tuple(layer.weight.shape[:2]) for layer, _, _ in layers])
    _plans[net] = plan
    return plan


@dataclass
class FastPass:
    """What one synthesis call computes up front: every layer's styles and d * gain."""

    plan: _Plan
    styles: torch.Tensor  # [L, n, in_max]
    dgain: torch.Tensor  # [L, n, out_max]
    _rows: dict[int, tuple[torch.Tensor, torch.Tensor, float]] = field(default_factory=dict)

    def of(self, layer: torch.nn.Module) -> tuple[torch.Tensor, torch.Tensor, float]:
        """(styles [n, in], d * gain [n, out], gain) of one layer; views, made once per pass."""
        rows = self._rows.get(id(layer))
        if rows is None:
            i = self.plan.index[id(layer)]
            out_ch, in_ch = self.plan.channels[i]
            rows = self._rows[id(layer)] = (self.styles[i, :, :in_ch], self.dgain[i, :, :out_ch],
                                            self.plan.gain_values[i])
        return rows

    def extras(self, layer: torch.nn.Module) -> dict[str, Any]:
        return self.plan.per_layer.setdefault(id(layer), {})


def prepare(net: "SynthesisNetwork", ws: torch.Tensor) -> FastPass:
    """All styles (one baddbmm) and demodulation coefficients (one bmm) for `ws` [n, num_ws, w_dim]."""
    plan = _plan(net)
    w = ws.index_select(1, plan.rows).transpose(0, 1)  # [L, n, w_dim]
    styles = torch.baddbmm(plan.affine_bias, w, plan.affine_weight.transpose(1, 2))
    dgain = torch.bmm(styles.square(), plan.weight_sq_t).add_(1e-8).rsqrt_().mul_(plan.gains)
    return FastPass(plan, styles, dgain)


# ---------------------------------------------------------------------------------- the layers

def first_half(block: "SynthesisBlock", x: torch.Tensor | None, img: torch.Tensor | None,
               fp: FastPass, p: "_SynthesisPass") -> tuple[torch.Tensor, torch.Tensor | None,
                                                          torch.Tensor | None]:
    """`SynthesisBlock.first_half` on the fast path: the const, or the shortcut and conv0 up to
    its noise (with the bias: `activate_conv0` never writes into what this returns)."""
    if block.in_channels == 0:
        n = fp.styles.shape[1]
        if n > 1:
            return block.const.unsqueeze(0).repeat([n, 1, 1, 1]).contiguous(memory_format=CL), img, None
        extras = fp.extras(block)  # never written to: every layer reads its input into a new map
        if "const" not in extras:
            extras["const"] = block.const.unsqueeze(0).contiguous(memory_format=CL)
        return extras["const"], img, None
    x = x.contiguous(memory_format=CL)
    y = None
    if block.has_skip:
        y = _skip(block, x)
        p.store(f"{block.name}.skip", y)
    return _preactivation(block.conv0, x, fp), img, y


def activate_conv0(block: "SynthesisBlock", x: torch.Tensor, fp: FastPass,
                   p: "_SynthesisPass") -> torch.Tensor:
    """`SynthesisBlock.activate_conv0` on the fast path: into a new map, in as many passes."""
    x = _activate(block.conv0, x, _noise(block.conv0, fp, p, x.shape[0]), in_place=False)
    p.store(f"{block.name}.conv0", x)
    return x


def second_half(block: "SynthesisBlock", x: torch.Tensor, img: torch.Tensor | None,
                y: torch.Tensor | None, fp: FastPass,
                p: "_SynthesisPass") -> tuple[torch.Tensor, torch.Tensor | None]:
    """`SynthesisBlock.second_half` on the fast path: conv1 (+ shortcut), then the image."""
    conv1 = block.conv1
    x = _activate(conv1, _preactivation(conv1, x, fp), _noise(conv1, fp, p, x.shape[0]),
                  clamp_gain=math.sqrt(0.5) if block.has_skip else 1.0)
    p.store(f"{block.name}.conv1", x)
    if y is not None:
        x = y + x  # never in place: `y` may be captured, or kept for a later incremental pass
        p.store(f"{block.name}.out", x)
    if img is not None:
        img = _upsample_rgb(block, img, fp)
    if block.has_torgb:
        rgb = _to_rgb(block.torgb, x, fp)
        p.store(f"{block.name}.torgb", rgb)
        img = rgb if img is None else img.add_(rgb)  # `img` is the fresh upsampled copy
        p.store(f"{block.name}.img", img)
    return x, img


def _noise(layer: "SynthesisLayer", fp: FastPass, p: "_SynthesisPass", n: int) -> torch.Tensor | None:
    """The layer's noise times strength, resolution gain and activation gain, as [n|1, 1, H, W]."""
    res_gain = p.noise_gain_by_res.get(layer.resolution, 1.0)
    _, _, g = fp.of(layer)
    if p.noise_mode == "const" and res_gain != 0:
        extras = fp.extras(layer)
        if "noise" not in extras:
            extras["noise"] = (layer.noise_const * (layer.noise_strength * g)).reshape(
                1, 1, *layer.noise_const.shape)
        return extras["noise"] if res_gain == 1 else extras["noise"] * res_gain
    noise = layer.make_noise(n, p.noise_mode, res_gain, p.generator, layer.weight.device)
    return None if noise is None else (noise * g).reshape(-1, 1, *noise.shape[-2:])


def modulates_weights(layer: "SynthesisLayer", x: torch.Tensor) -> bool:
    """Batch 1 and a weight at most a third of the input map: modulating it is the cheaper pass.

    (Modulating the weight writes it once and oneDNN reorders it once more; scaling the input
    instead writes the input once and lets the conv read a weight packed once per model.)
    """
    out_channels, _, kh, kw = layer.weight.shape
    return x.shape[0] == 1 and 3 * out_channels * kh * kw <= x.shape[2] * x.shape[3]


def winograd_tile(layer: "SynthesisLayer", x: torch.Tensor) -> int:
    """The output tile m (2 or 4) of the F(m x m, 3x3) Winograd route for this conv, or 0 for
    oneDNN's direct conv.

    Winograd does 9 m^2 / (m + 2)^2 of the multiplies: 4/9 for m = 2, 1/4 for m = 4. F(4x4) also
    keeps fewer transformed values per pixel (36 per 16 pixels against 16 per 4), and bands of
    tile rows (`_BAND_VALUES`) keep them in cache at any map size; but its weight is 36 / 16 as
    big as F(2x2)'s: where the map is small and the layer wide (8 px, or 16 px at 512 channels)
    that read costs more than the multiplies it saves. Below 64 channels the transforms cost more
    than they save, and below 128 channels on maps of 128 px and up, where the transforms are
    memory-bound. Measured by `bench/winograd.py` (batch 1, best ms with 1 / 2 threads, direct
    -> chosen), on an AVX-512 CPU (bench/results/cpu-2026-11-27d.json): 128 ch at 64 px 11.0 /
    4.7 -> 6.6 / 2.9 (F4); 256 ch at 128 px 173 / 81 -> 77 / 43 (F4); 512 ch at 16 px 10.4 / 7.1
    -> 5.7 / 4.5 (F2); 256 ch at 8 px 1.07 / 0.62 -> 0.91 / 0.60 (F2); 64 ch at 256 px 47 / 19.8
    (F4 43 / 19.4, 9 % faster there); and on an AVX2 EPYC (bench/results/cpu-avx2-2026-11-27.json):
    256 ch at 32 px 18.3 / 9.6 -> 11.8 / 6.1 (F4); 512 ch at 8 px 5.3 / 3.0 (F2 6.1 / 4.0, 15-34 %
    slower there, under a millisecond); 64 ch at 256 px 61 / 40 (F4 81 / 79, 1.3-2x slower), which
    decides the 64-channel rule.
    """
    out_channels, in_channels, kh, kw = layer.weight.shape
    h, w = x.shape[2:]
    narrow, wide = min(in_channels, out_channels), max(in_channels, out_channels)
    small = min(h, w)
    if kh != 3 or kw != 3 or layer.padding != 1 or narrow < 64 or (narrow < 128 and small >= 128):
        return 0
    if small >= 16 and h % 4 == 0 and w % 4 == 0 and (small >= 32 or wide < 512):
        return 4
    if small >= 8 and h % 2 == 0 and w % 2 == 0 and narrow >= 128:
        return 2
    return 0


# Tiles x channels (x batch) per band of tile rows: a band's transformed tiles (a^2 values per tile
# and channel, 4.7 MB for F(4x4)) stay in cache between the transform and the products. In one
# piece, F(4x4) on 128 channels at 128 px (19 MB of tiles) ran 11-13 % slower, and on 64 channels
# at 256 px (38 MB) 14 % slower on one thread and 2.7x slower on two (best of 8, this value
# against the whole map as one band).
_BAND_VALUES = 32768


# Interpolation points (besides infinity) of F(m x m, 3x3), per output tile m. For m = 4 the
# points 0, +-1, 2, -1/2 give about a third of the float32 error of the textbook 0, +-1, +-2.
_WINOGRAD_POINTS = {2: (0.0, 1.0, -1.0), 4: (0.0, 1.0, -1.0, 2.0, -0.5)}


@functools.lru_cache(maxsize=None)
def winograd_matrices(m: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(A^T [m, a], G [a, 3], B^T [a, a]) of F(m, 3) in float64, a = m + 2, such that
    A^T ((G g) * (B^T d)) is the 1-D correlation of d (length a) with g (length 3).

    Toom-Cook from the points p_j and infinity: A^T evaluates the output polynomial at them
    (p_j^i), G evaluates the filter divided by the Lagrange denominators (p_j^k / prod (p_j - p_l)),
    and row j of B^T holds the coefficients of prod_{l != j} (x - p_l) (the last row, for
    infinity: of prod_l (x - p_l)). All in exact fractions, so every model and run gets the same
    bits (a least-squares solve did not: deep copies of a model rendered 2e-7 apart). Each row pair
    of G and B^T is then scaled to equal magnitude, which keeps float32 rounding small.
    """
    points = [Fraction(p) for p in _WINOGRAD_POINTS[m]]
    a, r = m + 2, 3
    a_t = [[Fraction(0)] * a for _ in range(m)]
    g = [[Fraction(0)] * r for _ in range(a)]
    b_t = []
    for j, p in enumerate(points):
        others = points[:j] + points[j + 1:]
        for i in range(m):
            a_t[i][j] = p ** i
        denominator = math.prod(p - q for q in others)
        g[j] = [p ** k / denominator for k in range(r)]
        b_t.append(_poly_from_roots(others) + [Fraction(0)])  # degree a - 2
    b_t.append(_poly_from_roots(points))
    a_t[m - 1][a - 1] = g[a - 1][r - 1] = Fraction(1)  # the point at infinity
    a_t, g, b_t = (torch.tensor([[float(v) for v in row] for row in t], dtype=torch.float64) for t in (a_t, g, b_t))
    balance = (b_t.abs().amax(dim=1) / g.abs().amax(dim=1)).sqrt()
    return a_t, g * balance[:, None], b_t / balance[:, None]


def _poly_from_roots(roots: list[Fraction]) -> list[Fraction]:
    """Coefficients (constant first) of prod (x - root)."""
    coefficients = [Fraction(1)]
    for root in roots:
        shifted = [Fraction(0)] + coefficients  # x * poly
        coefficients = [s - root * c for s, c in zip(shifted, coefficients + [Fraction(0)])]
    return coefficients


def winograd_weight(weight: torch.Tensor, m: int = 2) -> torch.Tensor:
    """[(m + 2)^2, in, out]: the 3x3 kernels as F(m x m, 3x3) Winograd takes them (G w G^T)."""
    _, g, _ = winograd_matrices(m)
    out_channels, in_channels = weight.shape[:2]
    u = torch.einsum("ai,ocij,bj->abco", g, weight.to(torch.float64), g)
    return u.reshape(-1, in_channels, out_channels).to(weight.dtype).contiguous()


def _tile_transforms(m: int, dtype: torch.dtype, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """(B^T (x) B^T [a^2, a^2], A^T (x) A^T [m^2, a^2]): both 2-D transforms of a tile as one matrix."""
    a_t, _, b_t = winograd_matrices(m)
    return (torch.kron(b_t, b_t).to(dtype=dtype, device=device),
            torch.kron(a_t, a_t).to(dtype=dtype, device=device))


def winograd_conv3x3(x: torch.Tensor, u: torch.Tensor, scale_in: torch.Tensor | None = None,
                     scale_out: torch.Tensor | None = None, bias: torch.Tensor | None = None,
                     transforms: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
    """`conv2d(x * scale_in, w, padding=1) * scale_out + bias` by F(m x m, 3x3) for H and W that
    m divides, with u = winograd_weight(w, m); scales are [n, channels], bias [out channels].

    Five ops per band of tile rows (one band for a 64 px map of 128 channels), so that they
    split well over threads: the a x a taps of every input tile (a = m + 2, stride m) are one
    strided view of the padded map, copied out once with the input scale applied; B^T d B of
    all tiles is one matmul with the a^2 x a^2 matrix B^T (x) B^T; the a^2 products with u are
    one batched matmul; A^T M A is one matmul with A^T (x) A^T; and the output scale and bias
    ride in the copy that puts the m x m tiles in place (channels-last).
    """
    n, c, h, w = x.shape
    a = math.isqrt(u.shape[0])
    m = a - 2
    th, tw = h // m, w // m
    out_channels = u.shape[2]
    k_in, k_out = transforms if transforms is not None else _tile_transforms(m, x.dtype, x.device)
    d = F.pad(x, [1, 1, 1, 1]).permute(0, 2, 3, 1)  # [n, h + 2, w + 2, C]
    sn, sh, sw, sc = d.stride()
    y = x.new_empty(n, h, w, out_channels)
    placed = y.view(n, th, m, tw, m, out_channels).permute(2, 4, 0, 1, 3, 5)
    epilogue = scale_out is not None or bias is not None
    if epilogue:  # both ride in the placing copy, whichever of them is given
        scale = (scale_out if scale_out is not None else x.new_ones(n, out_channels)).reshape(1, 1, n, 1, 1, -1)
        shift = (bias if bias is not None else x.new_zeros(out_channels)).reshape(1, 1, 1, 1, 1, -1)
    band = max(1, _BAND_VALUES // (n * tw * c))  # tile rows per band
    tiles = x.new_empty(a, a, n, min(band, th), tw, c)
    for top in range(0, th, band):
        rows = min(band, th - top)
        taps = d.as_strided((a, a, n, rows, tw, c), (sh, sw, sn, m * sh, m * sw, sc),
                            d.storage_offset() + top * m * sh)
        part = tiles if rows == tiles.shape[3] else x.new_empty(a, a, n, rows, tw, c)
        if scale_in is None:
            part.copy_(taps)
        else:
            torch.mul(taps, scale_in.reshape(1, 1, n, 1, 1, c), out=part)
        v = torch.mm(k_in, part.reshape(a * a, -1)).view(a * a, n * rows * tw, c)
        prod = torch.mm(k_out, torch.bmm(v, u).view(a * a, -1)).view(m, m, n, rows, tw, out_channels)
        out = placed[:, :, :, top:top + rows]
        if epilogue:
            torch.addcmul(shift, prod, scale, out=out)
        else:
            out.copy_(prod)
    return y.permute(0, 3, 1, 2)


def _preactivation(layer: "SynthesisLayer", x: torch.Tensor, fp: FastPass) -> torch.Tensor:
    """Modulated conv (2x up or not) with its demodulation and bias, times the activation gain."""
    styles, dg, g = fp.of(layer)
    extras = fp.extras(layer)
    if "bias" not in extras:
        extras["bias"] = layer.bias * g
    return (_up_preactivation if layer.up > 1 else _same_preactivation)(
        layer, x, styles, dg, extras["bias"], fp)


def _activate(layer: "SynthesisLayer", y: torch.Tensor, noise: torch.Tensor | None,
              clamp_gain: float = 1.0, in_place: bool = True) -> torch.Tensor:
    """Noise, leaky ReLU and clamp on a `_preactivation` output (the gain is in it); in place,
    or, for a map an incremental pass may keep, into a new one in as many passes."""
    if noise is not None:
        y = y.add_(noise) if in_place else torch.add(y, noise)
        F.leaky_relu_(y, 0.2)
    else:
        y = F.leaky_relu_(y, 0.2) if in_place else F.leaky_relu(y, 0.2)
    if layer.conv_clamp is not None:
        y.clamp_(-layer.conv_clamp * clamp_gain, layer.conv_clamp * clamp_gain)
    return y


def _same_preactivation(layer: "SynthesisLayer", x: torch.Tensor, styles: torch.Tensor,
                        dg: torch.Tensor, bias: torch.Tensor, fp: FastPass) -> torch.Tensor:
    """x (*) (W * s * d * g) + b * g, at the input's resolution."""
    n = x.shape[0]
    pad = [layer.padding] * 2
    extras = fp.extras(layer)
    tile = winograd_tile(layer, x)
    if tile:
        key = ("winograd", tile)  # a layer may see several map sizes, and so both tiles
        if key not in extras:
            extras[key] = (winograd_weight(layer.weight.detach(), tile),
                           _tile_transforms(tile, x.dtype, x.device))
        u, transforms = extras[key]
        return winograd_conv3x3(x, u, styles, dg, bias, transforms)
    if modulates_weights(layer, x):
        if "weight_cl" not in extras:  # the product keeps this layout: no copy per call
            extras["weight_cl"] = layer.weight.detach().contiguous(memory_format=CL)
        wm = extras["weight_cl"] * (dg.t() * styles)[:, :, None, None]
        return _mkldnn._convolution_pointwise(x, wm, bias, pad, _ONE, _ONE, 1, "none", [], "")
    packed = _packed_weight(extras, x, lambda: torch._C._nn.mkldnn_reorder_conv2d_weight(
        layer.weight.detach().to_mkldnn(), pad, _ONE, _ONE, 1, list(x.shape)))
    y = _mkldnn._convolution_pointwise(x * styles.reshape(n, -1, 1, 1), packed, None,
                                       pad, _ONE, _ONE, 1, "none", [], "")
    return y.mul_(dg.reshape(n, -1, 1, 1)).add_(bias.reshape(1, -1, 1, 1))


# Packed weights kept per layer: one per input shape (the app's batch 1 and, say, a projection's
# batch); more shapes than this evict the oldest.
_PACKED_SHAPES = 3


def _packed_weight(extras: dict[str, Any], x: torch.Tensor,
                   pack: Callable[[], torch.Tensor]) -> torch.Tensor:
    """The layer's weight in oneDNN's blocked layout for convolving `x`, packed once per shape.

    oneDNN picks the layout from the ISA and the input's shape and memory format. A weight
    packed without them fits only some machines: on AVX2, oneDNN then converted it again on
    every call through its slowest reorder (27 ms for a 256-channel 3x3 conv that takes 0.26 ms;
    measured on a 2-core EPYC, where it made the whole 64 px render slower than the reference).
    """
    cache = extras.setdefault("packed", {})
    shape = tuple(x.shape)
    if shape not in cache:
        if len(cache) >= _PACKED_SHAPES:
            del cache[next(iter(cache))]
        cache[shape] = pack()
    return cache[shape]


def _up_preactivation(layer: "SynthesisLayer", x: torch.Tensor, styles: torch.Tensor,
                      dg: torch.Tensor, bias: torch.Tensor, fp: FastPass) -> torch.Tensor:
    """Stride-2 transposed conv of the styled input, then the FIR filter, then d * g and b * g.

    The FIR is depthwise and linear, so for one sample the per-channel d * g rides in its
    weights and the bias in its epilogue.
    """
    n = x.shape[0]
    extras = fp.extras(layer)
    if modulates_weights(layer, x):
        wm = (layer.weight * styles.reshape(1, -1, 1, 1)).transpose(0, 1)
        y = F.conv_transpose2d(x, wm.contiguous(memory_format=CL), stride=2)
    else:
        packed = _packed_weight(extras, x, lambda: _mkldnn._reorder_convolution_transpose_weight(
            layer.weight.detach().transpose(0, 1).contiguous(), [0, 0], [0, 0], [2, 2], _ONE, 1,
            list(x.shape)))
        y = _mkldnn._convolution_transpose_pointwise(
            x * styles.reshape(n, -1, 1, 1), packed, None, [0, 0], [0, 0], [2, 2], _ONE,
            1, "none", [], "")
    if "fir" not in extras:
        f = layer.resample_filter
        f = (f if f.ndim == 2 else torch.outer(f, f)) * 4  # upfirdn2d's gain for 2x up
        extras["fir"] = f.flip([0, 1])[None, None].expand(layer.weight.shape[0], 1, *f.shape)
    fir = extras["fir"]
    p0, p1 = layer.up_padding
    if p0 != p1 or p0 < 0:
        y = F.pad(y, [p0, p1, p0, p1]).contiguous(memory_format=CL)
        p0 = 0
    if n > 1:  # each sample has its own demodulation
        y = F.conv2d(y, fir.contiguous(memory_format=CL), None, padding=p0, groups=fir.shape[0])
        return y.mul_(dg.reshape(n, -1, 1, 1)).add_(bias.reshape(1, -1, 1, 1))
    fir = (fir * dg.reshape(-1, 1, 1, 1)).contiguous(memory_format=CL)
    return _mkldnn._convolution_pointwise(y, fir, bias, [p0, p0], _ONE, _ONE, fir.shape[0],
                                          "none", [], "")


def _to_rgb(layer: "ToRGBLayer", x: torch.Tensor, fp: FastPass) -> torch.Tensor:
    """Modulated 1x1 conv, bias and clamp: one batched matmul to a contiguous [n, 3, H, W].

    Three output channels are a poor fit for oneDNN's blocked convolution; a matmul of the
    [3, C] modulated weight with the map read as [C, H*W] (any layout) is 2-3x cheaper.
    """
    styles, _, _ = fp.of(layer)
    n, c, h, w = x.shape
    wm = layer.weight[:, :, 0, 0].unsqueeze(0) * styles.unsqueeze(1)  # [n, 3, C]
    y = torch.baddbmm(layer.bias.reshape(1, -1, 1), wm, x.reshape(n, c, h * w))
    if layer.conv_clamp is not None:
        y.clamp_(-layer.conv_clamp, layer.conv_clamp)
    return y.view(n, -1, h, w)


def _skip(block: "SynthesisBlock", x: torch.Tensor) -> torch.Tensor:
    """The resnet shortcut: 1x1 conv (gain sqrt 1/2), then the 2x FIR upsample, no bias."""
    skip = block.skip
    w = skip.weight * (skip.weight_gain * math.sqrt(0.5))
    y = _mkldnn._convolution_pointwise(x, w.contiguous(memory_format=CL), None, [0, 0], _ONE, _ONE,
                                       1, "none", [], "")
    return upsample_image(y, skip.resample_filter)


def _upsample_rgb(block: "SynthesisBlock", img: torch.Tensor, fp: FastPass) -> torch.Tensor:
    """`upsample_image` of the few-channel image as U_h @ img @ U_w^T, the matrices kept per size.

    A separable filter upsamples each axis on its own; two small matmuls cost a third of the
    depthwise transposed conv. A filter that does not factor goes the conv route.
    """
    h, w = img.shape[-2:]
    extras = fp.extras(block)
    key = ("up", h, w)
    if key not in extras:
        extras[key] = upsample_matrices(block.resample_filter, h, w)
    if extras[key] is None:
        return upsample_image(img, block.resample_filter)
    up_h, up_w_t = extras[key]
    return torch.matmul(torch.matmul(up_h, img), up_w_t)


def upsample_matrices(f: torch.Tensor, h: int, w: int) -> tuple[torch.Tensor, torch.Tensor] | None:
    """(U_h, U_w^T) with U_h @ img @ U_w^T == upsample_image(img, f) for [.., h, w] images, or
    None when the filter is not an outer product of two 1-D filters."""
    if f.ndim == 1:
        a = b = f
    else:
        total = f.sum()
        if f.ndim != 2 or total == 0:
            return None
        a, b = f.sum(dim=1), f.sum(dim=0) / total
        if (torch.outer(a, b) - f).abs().max() > 1e-6 * f.abs().max():
            return None
    return _upsample_matrix(a, h), _upsample_matrix(b, w).t().contiguous()


def _upsample_matrix(taps: torch.Tensor, size: int) -> torch.Tensor:
    """[2 size, size]: one axis of `upsample_image` (a stride-2 transposed conv with the taps
    times 2, cropped by (taps - 2) // 2 on each side) as a matrix."""
    k = taps.shape[0]
    crop = (k - 2) // 2
    u = torch.zeros(2 * size, size, dtype=taps.dtype, device=taps.device)
    i = torch.arange(size, device=taps.device)
    for t in range(k):
        o = 2 * i + t - crop
        keep = (o >= 0) & (o < 2 * size)
        u[o[keep], i[keep]] = 2 * taps[t]
    return u


def upsample_image(img: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    """`upsample2d(img, f)` as one depthwise stride-2 transposed conv (no zero-stuffed image).

    The transposed conv visits only the non-zero samples; its padding crops what upsample2d's
    padding ((taps + 1) // 2 before, (taps - 2) // 2 after) leaves out.
    """
    f = f if f.ndim == 2 else torch.outer(f, f)
    if f.shape[0] % 2 or f.shape[0] != f.shape[1]:
        return upsample2d(img, f)
    ch = img.shape[1]
    weight = (f * 4)[None, None].expand(ch, 1, *f.shape).contiguous(memory_format=CL)
    return F.conv_transpose2d(img.contiguous(memory_format=CL), weight, stride=2,
                              padding=(f.shape[0] - 2) // 2, groups=ch)
