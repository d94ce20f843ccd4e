"""The fused kernels as ops with autograd: `FusedOps` binds them to one compiled module.

The module is the CUDA extension (built by `cuda_ops.fused`) or, in tests, the CPU emulator,
which runs the same kernel code on CPU tensors. Gradients use the kernels again: bias_act's
derivative is another bias_act kernel mode (twice differentiable: R1 and path-length
regularisation), upfirdn2d's gradient is an upfirdn2d with swapped factors and flipped filter (so
derivatives of any order), and filtered_lrelu's gradient composes those two.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple, Sequence

import torch

from cuda_ops import dispatch
from cuda_ops.bias_act import ACTIVATIONS
from cuda_ops.upfirdn2d import _pair, _padding, filter_taps

ACT_CODES = {"linear": 0, "relu": 1, "lrelu": 2, "tanh": 3, "sigmoid": 4}
_CURVED = {"tanh", "sigmoid"}
_FORWARD, _GRAD, _GRAD2 = 0, 1, 2

class _BiasActCfg(NamedTuple):
    dim: int
    act: str
    alpha: float
    gain: float
    clamp: float  # < 0: none

    def args(self, mode: int) -> tuple:
        return self.dim, ACT_CODES[self.act], self.alpha, self.gain, self.clamp, mode


class _Geometry(NamedTuple):
    """One upfirdn2d call: factors per axis, padding (x0, x1, y0, y1), flip_filter and gain."""
    upx: int
    upy: int
    downx: int
    downy: int
    px0: int
    px1: int
    py0: int
    py1: int
    flip: bool
    gain: float


def upfirdn2d_grad_geometry(g: _Geometry, in_hw: Sequence[int], out_hw: Sequence[int],
                            taps_wh: Sequence[int]) -> _Geometry:
    """The upfirdn2d whose output is the gradient of upfirdn2d `g` (input in_hw, output out_hw).

    Per axis, output m of the forward op sums f'[t] * x[n] over n*up = m*down + t - p0, where
    f' is the filter in correlation order. Reading the same sum for a fixed n gives an
    upfirdn2d of dy: zero-insert by `down`, pad K-1-p0 before, correlate with f' reversed (the
    flipped filter), keep every `up`-th sample. The padding after makes the result exactly
    in_hw: W*up - OW*down + p0 - up + 1.
    """
    (h, w), (oh, ow) = in_hw, out_hw
    kw, kh = taps_wh
    return _Geometry(
        upx=g.downx, upy=g.downy, downx=g.upx, downy=g.upy,
        px0=kw - 1 - g.px0, px1=w * g.upx - ow * g.downx + g.px0 - g.upx + 1,
        py0=kh - 1 - g.py0, py1=h * g.upy - oh * g.downy + g.py0 - g.upy + 1,
        flip=not g.flip, gain=g.gain)


def _geometry(up: Any, down: Any, padding: Any, flip_filter: bool, gain: float) -> _Geometry:
    upx, upy = _pair(up)
    downx, downy = _pair(down)
    return _Geometry(upx, upy, downx, downy, *_padding(padding), bool(flip_filter), float(gain))


def _reduce_to_dim(t: torch.Tensor, dim: int) -> torch.Tensor:
    dims = [d for d in range(t.ndim) if d != dim]
    return t.sum(dims) if dims else t


def _autocast_input(x: torch.Tensor) -> torch.Tensor:
    """Under autocast the reference upfirdn2d/filtered_lrelu compute in the autocast dtype (their
    convolutions are autocast ops), so a float32 input gives a float16 result; do the same."""
    kind = x.device.type
    if x.dtype == torch.float32 and torch.is_autocast_enabled(kind):
        return x.to(torch.get_autocast_dtype(kind))
    return x


def _needs_graph(*tensors: torch.Tensor | None) -> bool:
    return torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in tensors)


class _BiasAct(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, b, ops, cfg):  # type: ignore[override]
        ctx.save_for_backward(x, b)
        ctx.ops, ctx.cfg = ops, cfg
        return ops.module.bias_act(x, b, None, None, *cfg.args(_FORWARD))

    @staticmethod
    def backward(ctx, dy):  # type: ignore[override]
        x, b = ctx.saved_tensors
        dx = db = None
        if ctx.needs_input_grad[0] or ctx.needs_input_grad[1]:
            dx = _BiasActGrad.apply(dy, x, b, ctx.ops, ctx.cfg)
            if ctx.needs_input_grad[1]:
                db = _reduce_to_dim(dx, ctx.cfg.dim)
        return (dx if ctx.needs_input_grad[0] else None), db, None, None


class _BiasActGrad(torch.autograd.Function):
    """dx = dy * d bias_act / dx. Its own gradient: the same op on ddx for dy; for x, the
    second-derivative kernel mode (zero almost everywhere for linear/relu/lrelu). That x-part is
    computed as a constant, so a third derivative through tanh/sigmoid would miss a term."""

    @staticmethod
    def forward(ctx, dy, x, b, ops, cfg):  # type: ignore[override]
        ctx.save_for_backward(dy, x, b)
        ctx.ops, ctx.cfg = ops, cfg
        return ops.module.bias_act(x, b, dy, None, *cfg.args(_GRAD))

    @staticmethod
    def backward(ctx, ddx):  # type: ignore[override]
        dy, x, b = ctx.saved_tensors
        ops, cfg = ctx.ops, ctx.cfg
        d_dy = d_x = d_b = None
        if ctx.needs_input_grad[0]:
            d_dy = _BiasActGrad.apply(ddx, x, b, ops, cfg)
        if cfg.act in _CURVED and (ctx.needs_input_grad[1] or ctx.needs_input_grad[2]):
            d_x = ops.module.bias_act(x, b, dy, ddx, *cfg.args(_GRAD2))
            if ctx.needs_input_grad[2]:
                d_b = _reduce_to_dim(d_x, cfg.dim)
            if not ctx.needs_input_grad[1]:
                d_x = None
        return d_dy, d_x, d_b, None, None


class _UpFirDn2d(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, f, ops, geom):  # type: ignore[override]
        y = ops._upfirdn2d(x, f, geom)
        ctx.save_for_backward(f)
        ctx.ops, ctx.geom = ops, geom
        ctx.in_hw, ctx.out_hw = tuple(x.shape[2:]), tuple(y.shape[2:])
        return y

    @staticmethod
    def backward(ctx, dy):  # type: ignore[override]
        (f,) = ctx.saved_tensors
        dx = None
        if ctx.needs_input_grad[0]:
            g = upfirdn2d_grad_geometry(ctx.geom, ctx.in_hw, ctx.out_hw, filter_taps(f))
            dx = _UpFirDn2d.apply(dy, f, ctx.ops, g)
        return dx, None, None, None


class _FlreluCfg(NamedTuple):
    up: int
    down: int
    padding: tuple[int, int, int, int]
    gain: float
    slope: float
    clamp: float  # < 0: none
    flip: bool


class _FilteredLRelu(torch.autograd.Function):
    """Forward: the fused kernel. Backward: dx = U^T(lrelu'(z) * D^T(dy)), with z = U(x + b)
    recomputed by the upfirdn2d kernel (cheaper than keeping the high-rate image) and U^T, D^T
    the upfirdn2d gradients; all of it differentiable again."""

    @staticmethod
    def forward(ctx, x, b, fu, fd, ops, cfg):  # type: ignore[override]
        ctx.save_for_backward(x, b, fu, fd)
        ctx.ops, ctx.cfg = ops, cfg
        return ops._filtered_lrelu(x, fu, fd, b, cfg)

    @staticmethod
    def backward(ctx, dy):  # type: ignore[override]
        x, b, fu, fd = ctx.saved_tensors
        ops, cfg = ctx.ops, ctx.cfg
        if not (ctx.needs_input_grad[0] or ctx.needs_input_grad[1]):
            return None, None, None, None, None, None
        xb = x if b is None else x + b.reshape(1, -1, 1, 1)
        up_geom = _geometry(cfg.up, 1, cfg.padding, cfg.flip, cfg.up ** 2)
        z = ops.upfirdn2d_geometry(xb, fu, up_geom)
        down_geom = _geometry(1, cfg.down, 0, cfg.flip, 1.0)
        g = ops.upfirdn2d_geometry(
            dy, fd, upfirdn2d_grad_geometry(down_geom, z.shape[2:], dy.shape[2:], filter_taps(fd)))
        act = _BiasActCfg(1, "lrelu", cfg.slope, cfg.gain, cfg.clamp)
        dz = _BiasActGrad.apply(g, z, None, ops, act)
        dxb = ops.upfirdn2d_geometry(
            dz, fu, upfirdn2d_grad_geometry(up_geom, x.shape[2:], z.shape[2:], filter_taps(fu)))
        dx = dxb if ctx.needs_input_grad[0] else None
        db = dxb.sum([0, 2, 3]) if ctx.needs_input_grad[1] else None
        return dx, db, None, None, None, None


# ------------------------------------------------------------------------------------ the ops

class FusedOps:
    """The three ops, with autograd, on one compiled module: the CUDA extension, or in tests the
    CPU emulator (`fused.load_emulator`), which runs the same kernel code on CPU tensors.

    Each method takes the arguments of the reference op it replaces (`cuda_ops.bias_act`,
    `cuda_ops.upfirdn2d`, `cuda_ops.filtered_lrelu`) and returns the same values (the memory
    format follows x's). `smem_limit` (bytes per block, 0 = 48 KiB) exists for tests that force
    the fallback paths.
    """

    def __init__(self, module: Any, smem_limit: int = 0) -> None:
        self.module = module
        self.smem_limit = int(smem_limit)

    # bias_act
    def bias_act(self, x: torch.Tensor, b: torch.Tensor | None = None, dim: int = 1,
                 act: str = "linear", alpha: float | None = None, gain: float | None = None,
                 clamp: float | None = None) -> torch.Tensor:
        spec = ACTIVATIONS[act]
        cfg = _BiasActCfg(
            dim=dim % x.ndim if x.ndim else 0, act=act,
            alpha=spec.default_alpha if alpha is None else float(alpha),
            gain=spec.default_gain if gain is None else float(gain),
            clamp=-1.0 if clamp is None or clamp < 0 else float(clamp))
        if b is not None:
            b = b.to(x.dtype)
        if _needs_graph(x, b):
            return _BiasAct.apply(x, b, self, cfg)
        return self.module.bias_act(x, b, None, None, *cfg.args(_FORWARD))

    # upfirdn2d
    def upfirdn2d(self, x: torch.Tensor, f: torch.Tensor | None, up: Any = 1, down: Any = 1,
                  padding: Any = 0, flip_filter: bool = False, gain: float = 1.0) -> torch.Tensor:
        return self.upfirdn2d_geometry(x, f, _geometry(up, down, padding, flip_filter, gain))

    def upfirdn2d_geometry(self, x: torch.Tensor, f: torch.Tensor | None, geom: _Geometry) -> torch.Tensor:
        if f is not None and _needs_graph(f):
            return self._reference_upfirdn2d(x, f, geom)  # filter gradients: not in the kernels
        x = _autocast_input(x)
        if _needs_graph(x):
            return _UpFirDn2d.apply(x, f, self, geom)
        return self._upfirdn2d(x, f, geom)

    def _upfirdn2d(self, x: torch.Tensor, f: torch.Tensor | None, g: _Geometry) -> torch.Tensor:
        return self.module.upfirdn2d(x, f, g.upx, g.upy, g.downx, g.downy, g.px0, g.px1, g.py0,
                                     g.py1, g.flip, g.gain, self.smem_limit)

    @staticmethod
    def _reference_upfirdn2d(x: torch.Tensor, f: torch.Tensor, g: _Geometry) -> torch.Tensor:
        from cuda_ops.upfirdn2d import upfirdn2d

        with dispatch.reference_only():
            return upfirdn2d(x, f, up=(g.upx, g.upy), down=(g.downx, g.downy),
                             padding=(g.px0, g.px1, g.py0, g.py1), flip_filter=g.flip, gain=g.gain)

    # filtered_lrelu
    def filtered_lrelu(self, x: torch.Tensor, fu: torch.Tensor | None = None,
                       fd: torch.Tensor | None = None, b: torch.Tensor | None = None,
                       up: int = 1, down: int = 1, padding: Any = 0, gain: float = math.sqrt(2),
                       slope: float = 0.2, clamp: float | None = None,
                       flip_filter: bool = False) -> torch.Tensor:
        cfg = _FlreluCfg(int(up), int(down), _padding(padding), float(gain), float(slope),
                         -1.0 if clamp is None or clamp < 0 else float(clamp), bool(flip_filter))
        if _needs_graph(fu, fd):
            from cuda_ops.filtered_lrelu import filtered_lrelu

            with dispatch.reference_only():  # filter gradients: not in the kernels
                return filtered_lrelu(x, fu, fd, b, up, down, padding, gain, slope, clamp, flip_filter)
        if fu is not None or fd is not None or up > 1:  # the reference convolves only then
            x = _autocast_input(x)
        if b is not None:
            b = b.to(x.dtype)
        if _needs_graph(x, b):
            return _FilteredLRelu.apply(x, b, fu, fd, self, cfg)
        return self._filtered_lrelu(x, fu, fd, b, cfg)

    def _filtered_lrelu(self, x: torch.Tensor, fu: torch.Tensor | None, fd: torch.Tensor | None,
                        b: torch.Tensor | None, cfg: _FlreluCfg) -> torch.Tensor:
        px0, px1, py0, py1 = cfg.padding
        y = self.module.filtered_lrelu(x, fu, fd, b, cfg.up, cfg.down, px0, px1, py0, py1,
                                       cfg.gain, cfg.slope, cfg.clamp, cfg.flip, self.smem_limit)
        if y is not None:
            return y
        # One output tile's working set does not fit in shared memory: run the steps apart.
        act = _BiasActCfg(1, "lrelu", cfg.slope, cfg.gain, cfg.clamp)
        if b is not None:
            add_bias = _BiasActCfg(1, "linear", 0.0, 1.0, -1.0)
            x = self.module.bias_act(x, b, None, None, *add_bias.args(_FORWARD))
        x = self._upfirdn2d(x, fu, _geometry(cfg.up, 1, cfg.padding, cfg.flip, cfg.up ** 2))
        x = self.module.bias_act(x, None, None, None, *act.args(_FORWARD))
        return self._upfirdn2d(x, fd, _geometry(1, cfg.down, 0, cfg.flip, 1.0))
