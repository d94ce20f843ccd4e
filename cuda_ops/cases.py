"""Awkward inputs for comparing a fused backend with the reference ops, and how to measure them.

One home for the cases, so that the GPU tests, the CPU emulator tests and the self-check that
runs before the kernels are trusted (`cuda_ops.selfcheck`) all exercise the same shapes: odd and
non-square sizes, up/down factors 1-4, 1-D/2-D/non-square/asymmetric filters, negative padding,
flips, gains and clamps that bite.

The `measure_*` functions return measurements instead of asserting, because the self-check must
collect every mismatch (and must not depend on `assert`, which `python -O` removes). The
reference always runs in float64 on CPU, so it is exact enough to judge float16 results.
"""

from __future__ import annotations

import math
import zlib
from typing import Any, NamedTuple, Sequence

import torch

from cuda_ops.bias_act import bias_act
from cuda_ops.filtered_lrelu import filtered_lrelu_ref
from cuda_ops.upfirdn2d import setup_filter, upfirdn2d

SQRT2 = math.sqrt(2)

# Forward: max error relative to the largest reference value. Gradients: relative L2 error (a
# few sign or clamp decisions at points within rounding of the threshold may legitimately differ
# from the float64 reference, which a max-norm would punish out of proportion).
FWD_TOL = {torch.float64: 1e-10, torch.float32: 2e-5, torch.float16: 2e-3, torch.bfloat16: 1.6e-2}
GRAD_TOL = {torch.float64: 1e-10, torch.float32: 3e-5, torch.float16: 6e-3, torch.bfloat16: 4e-2}
DTYPES = [torch.float32, torch.float16, torch.bfloat16, torch.float64]


class Measure(NamedTuple):
    """One comparison: what was compared, the error found and the largest error allowed."""
    what: str
    error: float
    tol: float

    @property
    def ok(self) -> bool:
        return self.error <= self.tol  # False for NaN

    def __str__(self) -> str:
        return f"{self.what}: error {self.error:.3g} {'<=' if self.ok else '>'} {self.tol:.3g}"


# ------------------------------------------------------------------------------ measures

def rel_max(got: torch.Tensor, ref: torch.Tensor) -> float:
    """Largest absolute difference relative to the largest reference value (inf: shapes differ)."""
    got, ref = got.detach().double().cpu(), ref.detach().double().cpu()
    if got.shape != ref.shape:
        return math.inf
    return ((got - ref).abs().max() / ref.abs().max().clamp_min(1e-30)).item()


def rel_l2(got: torch.Tensor | None, ref: torch.Tensor | None) -> float:
    """L2 norm of the difference relative to the reference's; a missing tensor counts as zeros."""
    if ref is None and got is None:
        return 0.0
    if ref is None:
        ref = torch.zeros_like(got)
    if got is None:
        got = torch.zeros_like(ref)
    got, ref = got.detach().double().cpu(), ref.detach().double().cpu()
    if got.shape != ref.shape:
        return math.inf
    scale = ref.norm().item()
    if scale == 0:
        return got.norm().item()
    return (got - ref).norm().item() / scale


def _result_measures(what: str, got: torch.Tensor, ref: torch.Tensor, dtype: torch.dtype,
                     device_type: str) -> list[Measure]:
    """Shape, dtype and device of a forward result, then its values."""
    shape_ok = tuple(got.shape) == tuple(ref.shape)
    out = [Measure(f"{what} shape {tuple(got.shape)} vs {tuple(ref.shape)}", 0.0 if shape_ok else math.inf, 0.0),
           Measure(f"{what} dtype {got.dtype} (want {dtype})", 0.0 if got.dtype == dtype else math.inf, 0.0),
           Measure(f"{what} device {got.device.type}", 0.0 if got.device.type == device_type else math.inf, 0.0)]
    out.append(Measure(what, rel_max(got, ref), FWD_TOL[dtype]))
    return out


def _grad_measures(what: str, got: Sequence[torch.Tensor | None], ref: Sequence[torch.Tensor | None],
                   names: Sequence[str], dtype: torch.dtype) -> list[Measure]:
    return [Measure(f"{what} d{name}", rel_l2(g, r), GRAD_TOL[dtype]) for g, r, name in zip(got, ref, names)]


# ------------------------------------------------------------------------------ inputs

def make_filter(spec: str | None, gen: torch.Generator) -> torch.Tensor | None:
    """None; "sg2" (StyleGAN2's 4x4); "1d<K>" (random separable); "2d<H>x<W>" (random 2-D).
    Random taps are asymmetric, so a flip error cannot hide."""
    if spec is None:
        return None
    if spec == "sg2":
        return setup_filter([1, 3, 3, 1])
    if spec.startswith("1d"):
        return setup_filter(torch.rand(int(spec[2:]), generator=gen) + 0.1, separable=True)
    h, w = (int(v) for v in spec[2:].split("x"))
    return setup_filter(torch.rand(h, w, generator=gen) + 0.1)


def make_input(shape: tuple[int, ...], dtype: torch.dtype, device: str, layout: str,
               gen: torch.Generator, scale: float = 1.5) -> torch.Tensor:
    """Random values (rounded to dtype) in the requested memory layout."""
    if layout == "strided":  # every other column of a wider tensor: not dense
        wide = list(shape)
        wide[-1] *= 2
        x = (torch.randn(wide, generator=gen) * scale).to(dtype)[..., ::2]
    else:
        x = (torch.randn(shape, generator=gen) * scale).to(dtype)
    x = x.to(device)
    if layout == "channels_last":
        x = x.contiguous(memory_format=torch.channels_last)
    return x


def _leaf(t: torch.Tensor | None) -> torch.Tensor | None:
    return None if t is None else t.detach().requires_grad_(True)


def _double_leaf(t: torch.Tensor | None) -> torch.Tensor | None:
    return None if t is None else t.detach().double().cpu().requires_grad_(True)


def case_id(case: tuple) -> str:
    return "-".join(str(v).replace(" ", "") for v in case)


def _case_generator(case: tuple) -> torch.Generator:
    return torch.Generator().manual_seed(zlib.crc32(case_id(case).encode()))


# ------------------------------------------------------------------------------ the cases

# bias_act: (shape, dim, act, alpha, gain, clamp, with_bias)
BIAS_ACT_CASES = [
    ((4, 7), 1, "lrelu", None, None, None, True),           # mapping / FC layer
    ((2, 5, 9, 6), 1, "lrelu", 0.2, SQRT2, 1.0, True),      # conv layer with a clamp that bites
    ((2, 5, 9, 6), 1, "linear", None, 1.0, 0.5, True),      # ToRGB
    ((3, 4, 5), 2, "relu", None, None, 0.7, True),
    ((3, 4, 5), -1, "tanh", None, 2.0, None, True),
    ((6, 3, 2, 5), 0, "sigmoid", None, 1.5, 0.6, True),
    ((2, 3, 4, 5), 3, "lrelu", 0.1, 1.0, None, False),
    ((11,), 0, "tanh", None, None, 0.9, True),
    ((1, 1, 1, 1), 1, "sigmoid", None, None, None, True),
]

# upfirdn2d: (shape, filter, up, down, padding, flip_filter, gain)
UPFIRDN_CASES = [
    ((2, 3, 8, 8), "sg2", 2, 1, [2, 1, 2, 1], False, 4.0),          # upsample2d
    ((2, 3, 16, 16), "sg2", 1, 2, [1, 1, 1, 1], False, 1.0),        # downsample2d
    ((2, 3, 5, 4), "sg2", 1, 1, [1, 2, 1, 2], False, 1.0),          # filtering only, same size
    ((1, 4, 7, 11), "1d12", 2, 2, [5, 6, 4, 7], False, 4.0),
    ((2, 2, 9, 5), "2d3x5", (2, 1), (1, 2), [0, 3, -1, 2], True, 1.5),
    ((1, 3, 6, 13), "1d5", 4, 1, [-2, 3, 1, -1], False, 16.0),
    ((3, 1, 17, 10), "1d4", 1, 4, [3, 0, 2, 2], True, 1.0),
    ((1, 2, 5, 5), None, 2, 1, [0, 1, 0, 1], False, 4.0),
    ((1, 2, 12, 9), None, 1, 3, 0, False, 1.0),
    ((1, 1, 33, 70), "2d4x4", 2, 2, [1, 1, 1, 1], False, 1.0),      # many tiles
    ((1, 2, 40, 37), "1d12", 1, 1, [-3, 5, 6, -2], False, 1.0),
    ((2, 1, 3, 3), "1d24", 4, 2, [12, 11, 12, 11], False, 16.0),
    ((1, 2, 9, 7), "2d5x2", 4, 4, [2, -1, 0, 3], True, 0.5),
]

# filtered_lrelu: (shape, fu, fd, up, down, padding, gain, slope, clamp, flip_filter, with_bias)
FLRELU_CASES = [
    ((2, 3, 12, 12), "1d12", "1d12", 2, 2, [10, 9, 10, 9], SQRT2, 0.2, 1.0, False, True),
    ((1, 4, 9, 14), "1d6", "2d12x12", 2, 2, [4, 7, 5, 3], SQRT2, 0.2, None, True, True),
    ((2, 2, 10, 7), None, None, 1, 1, 0, 1.0, 1.0, 0.8, False, True),            # ToRGB
    ((1, 3, 8, 8), "1d24", "1d12", 4, 2, [13, 12, 13, 12], SQRT2, 0.2, None, False, True),
    ((2, 2, 16, 11), None, "1d8", 1, 2, [2, 1, 3, 0], SQRT2, 0.2, 2.0, False, False),
    ((1, 2, 6, 9), "2d5x4", None, 2, 1, [-1, 2, 1, -2], 1.3, 0.3, None, True, True),
    ((1, 1, 40, 36), "1d12", "1d12", 2, 2, [11, 11, 11, 11], SQRT2, 0.2, 256.0, False, True),
    ((2, 2, 7, 7), "1d4", "1d4", 1, 4, [3, 2, 6, 5], SQRT2, 0.2, None, False, True),
    ((1, 2, 11, 6), "2d6x6", "2d6x6", 2, 2, [5, 4, 5, 4], SQRT2, 0.2, None, False, True),
]


def _taps(spec: str | None) -> tuple[int, int]:
    """(height, width) of the filter `make_filter(spec)` builds."""
    if spec is None:
        return 1, 1
    if spec == "sg2":
        return 4, 4
    if spec.startswith("1d"):
        return int(spec[2:]), int(spec[2:])
    h, w = (int(v) for v in spec[2:].split("x"))
    return h, w


def _random_filter_spec(gen: torch.Generator, allow_none: bool) -> str | None:
    kind = _randint(gen, 0, 3 if allow_none else 2)
    if kind == 0:
        return f"1d{_randint(gen, 2, 12)}"
    if kind == 1:
        return f"2d{_randint(gen, 1, 6)}x{_randint(gen, 1, 6)}"
    if kind == 2:
        return "sg2"
    return None


def _randint(gen: torch.Generator, lo: int, hi: int) -> int:
    """Uniform integer in [lo, hi]."""
    return int(torch.randint(lo, hi + 1, (1,), generator=gen).item())


def _choice(gen: torch.Generator, options: Sequence[Any]) -> Any:
    return options[_randint(gen, 0, len(options) - 1)]


# Random draws with fewer output samples per axis are drawn again: with a handful of samples, one
# sign or clamp decision that float16 rounding legitimately flips dominates the relative error.
MIN_RANDOM_OUTPUT = 4


def random_bias_act_case(gen: torch.Generator) -> tuple:
    """A fresh bias_act case: 1-4 dims of odd sizes, any axis, any activation, maybe a clamp."""
    ndim = _randint(gen, 1, 4)
    shape = tuple(_choice(gen, [1, 3, 5, 7, 9]) for _ in range(ndim))
    dim = _randint(gen, -ndim, ndim - 1)
    act = _choice(gen, ["linear", "relu", "lrelu", "tanh", "sigmoid"])
    alpha = _choice(gen, [None, 0.1, 0.3])
    gain = _choice(gen, [None, 1.0, 1.7])
    clamp = _choice(gen, [None, 0.5, 1.2])
    return shape, dim, act, alpha, gain, clamp, bool(_randint(gen, 0, 1))


def random_upfirdn2d_case(gen: torch.Generator) -> tuple:
    """A fresh upfirdn2d case: odd sizes, factors 1/2/4 per axis, any filter, padding from -2
    to the filter size, either flip; drawn again until the output is big enough."""
    while True:
        shape = (_randint(gen, 1, 2), _randint(gen, 1, 3), _randint(gen, 3, 17), _randint(gen, 3, 17))
        fspec = _random_filter_spec(gen, allow_none=True)
        kh, kw = _taps(fspec)
        up = (_choice(gen, [1, 2, 4]), _choice(gen, [1, 2, 4]))
        down = (_choice(gen, [1, 2, 4]), _choice(gen, [1, 2, 4]))
        pad = [_randint(gen, -2, kw), _randint(gen, -2, kw), _randint(gen, -2, kh), _randint(gen, -2, kh)]
        oh = (shape[2] * up[1] + pad[2] + pad[3] - kh) // down[1] + 1
        ow = (shape[3] * up[0] + pad[0] + pad[1] - kw) // down[0] + 1
        if min(oh, ow) >= MIN_RANDOM_OUTPUT:
            return shape, fspec, up, down, pad, bool(_randint(gen, 0, 1)), _choice(gen, [1.0, 2.5, 4.0])


def random_filtered_lrelu_case(gen: torch.Generator) -> tuple:
    """A fresh filtered_lrelu case: odd sizes, up/down 1/2/4, any filters, maybe a clamp.

    The clamp bites but leaves most samples free: under a tight clamp almost every gradient is
    zero, and the few samples whose clamp decision float16 rounding flips then dominate.
    """
    while True:
        shape = (_randint(gen, 1, 2), _randint(gen, 1, 3), _randint(gen, 3, 15), _randint(gen, 3, 15))
        up, down = _choice(gen, [1, 2, 4]), _choice(gen, [1, 2, 4])
        fus = _random_filter_spec(gen, allow_none=up == 1)
        fds = _random_filter_spec(gen, allow_none=True)
        (kuh, kuw), (kdh, kdw) = _taps(fus), _taps(fds)
        pad = [_randint(gen, -1, kuw), _randint(gen, -1, kuw), _randint(gen, -1, kuh), _randint(gen, -1, kuh)]
        hu = shape[2] * up + pad[2] + pad[3] - kuh + 1
        wu = shape[3] * up + pad[0] + pad[1] - kuw + 1
        if min((hu - kdh) // down, (wu - kdw) // down) + 1 >= MIN_RANDOM_OUTPUT:
            return (shape, fus, fds, up, down, pad, _choice(gen, [1.0, SQRT2]), _choice(gen, [0.2, 0.5]),
                    _choice(gen, [None, 2.0, 256.0]), bool(_randint(gen, 0, 1)), bool(_randint(gen, 0, 1)))


# ------------------------------------------------------------------------------ comparisons

def measure_bias_act(ops: Any, device: str, dtype: torch.dtype, case: tuple, layout: str = "contiguous",
                     second_order: bool = True) -> list[Measure]:
    """Forward, first derivatives (x, b) and, optionally, second derivatives (x, b, dy)."""
    shape, dim, act, alpha, gain, clamp, with_bias = case
    gen = _case_generator(case)
    x = make_input(shape, dtype, device, layout, gen)
    b = (torch.randn(shape[dim], generator=gen) * 0.5).to(dtype).to(device) if with_bias else None
    kw = dict(dim=dim, act=act, alpha=alpha, gain=gain, clamp=clamp)

    ref = bias_act(_double_leaf(x), _double_leaf(b), **kw)
    with torch.no_grad():
        got = ops.bias_act(x, b, **kw)
    out = _result_measures("forward", got, ref, dtype, x.device.type)

    # First derivatives, with a graph kept for the second.
    xl, bl = _leaf(x), _leaf(b)
    y = ops.bias_act(xl, bl, **kw)
    dy = (torch.randn(y.shape, generator=gen)).to(dtype).to(device).requires_grad_(True)
    inputs = [xl] + ([bl] if bl is not None else [])
    names = ["x", "b"][:len(inputs)]
    grads = torch.autograd.grad(y, inputs, dy, create_graph=second_order)
    xr, br = _double_leaf(x), _double_leaf(b)
    dyr = _double_leaf(dy)
    yr = bias_act(xr, br, **kw)
    ref_inputs = [xr] + ([br] if br is not None else [])
    ref_grads = torch.autograd.grad(yr, ref_inputs, dyr, create_graph=second_order)
    out += _grad_measures("gradient", grads, ref_grads, names, dtype)
    if not second_order:
        return out

    # Second derivatives (what R1 and path-length regularisation backpropagate through).
    weights = [torch.randn(g.shape, generator=gen).to(dtype).to(device) for g in grads]
    loss = sum((g * w).sum() for g, w in zip(grads, weights))
    second = torch.autograd.grad(loss, inputs + [dy], allow_unused=True)
    ref_loss = sum((g * w.double().cpu()).sum() for g, w in zip(ref_grads, weights))
    ref_second = torch.autograd.grad(ref_loss, ref_inputs + [dyr], allow_unused=True)
    return out + _grad_measures("second derivative", second, ref_second, names + ["y"], dtype)


def measure_upfirdn2d(ops: Any, device: str, dtype: torch.dtype, case: tuple, layout: str = "contiguous",
                      grad: bool = True, second_order: bool = False) -> list[Measure]:
    """Forward, the gradient for x and, optionally, the gradient of that gradient for dy."""
    shape, fspec, up, down, padding, flip, gain = case
    gen = _case_generator(case)
    x = make_input(shape, dtype, device, layout, gen)
    f = make_filter(fspec, gen)
    kw = dict(up=up, down=down, padding=padding, flip_filter=flip, gain=gain)
    fd = None if f is None else f.to(device)

    ref = upfirdn2d(_double_leaf(x), f, **kw)
    with torch.no_grad():
        got = ops.upfirdn2d(x, fd, **kw)
    out = _result_measures("forward", got, ref, dtype, x.device.type)
    if not grad:
        return out

    xl = _leaf(x)
    y = ops.upfirdn2d(xl, fd, **kw)
    dy = torch.randn(y.shape, generator=gen).to(dtype).to(device).requires_grad_(True)
    (gx,) = torch.autograd.grad(y, xl, dy, create_graph=second_order)
    xr, dyr = _double_leaf(x), _double_leaf(dy)
    (rx,) = torch.autograd.grad(upfirdn2d(xr, f, **kw), xr, dyr, create_graph=second_order)
    out += _grad_measures("gradient", [gx], [rx], ["x"], dtype)
    if second_order:
        w = torch.randn(gx.shape, generator=gen).to(dtype).to(device)
        (gdy,) = torch.autograd.grad((gx * w).sum(), dy)
        (rdy,) = torch.autograd.grad((rx * w.double().cpu()).sum(), dyr)
        out += _grad_measures("second derivative", [gdy], [rdy], ["y"], dtype)
    return out


def measure_filtered_lrelu(ops: Any, device: str, dtype: torch.dtype, case: tuple,
                           layout: str = "contiguous", grad: bool = True) -> list[Measure]:
    """Forward and the gradients for x and b (StyleGAN3 training differentiates it once)."""
    shape, fus, fds, up, down, padding, gain, slope, clamp, flip, with_bias = case
    gen = _case_generator(case)
    x = make_input(shape, dtype, device, layout, gen)
    fu, fd = make_filter(fus, gen), make_filter(fds, gen)
    b = (torch.randn(shape[1], generator=gen) * 0.5).to(dtype).to(device) if with_bias else None
    kw = dict(up=up, down=down, padding=padding, gain=gain, slope=slope, clamp=clamp, flip_filter=flip)
    fu_d = None if fu is None else fu.to(device)
    fd_d = None if fd is None else fd.to(device)

    ref = filtered_lrelu_ref(_double_leaf(x), fu, fd, _double_leaf(b), **kw)
    with torch.no_grad():
        got = ops.filtered_lrelu(x, fu_d, fd_d, b, **kw)
    out = _result_measures("forward", got, ref, dtype, x.device.type)
    if not grad:
        return out

    xl, bl = _leaf(x), _leaf(b)
    y = ops.filtered_lrelu(xl, fu_d, fd_d, bl, **kw)
    dy = torch.randn(y.shape, generator=gen).to(dtype).to(device)
    inputs = [xl] + ([bl] if bl is not None else [])
    grads = torch.autograd.grad(y, inputs, dy)
    xr, br = _double_leaf(x), _double_leaf(b)
    yr = filtered_lrelu_ref(xr, fu, fd, br, **kw)
    ref_grads = torch.autograd.grad(yr, [xr] + ([br] if br is not None else []), dy.double().cpu())
    return out + _grad_measures("gradient", grads, ref_grads, ["x", "b"][:len(inputs)], dtype)
