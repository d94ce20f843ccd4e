"""Fused kernels (`cuda_ops.fused`) against the reference ops.

Always (CPU, no compiler):
- the upfirdn2d gradient rule (`upfirdn2d_grad_geometry`) against autograd of the reference, in
  float64, including gradcheck/gradgradcheck of the reference op with that backward;
- the autograd plumbing of `FusedOps` (first and second derivatives of all three ops) on a
  backend built from the reference ops;
- the loader's states and its one warning, and `dispatch.reference_only`.

With a CUDA GPU (skipped otherwise): every kernel against the float64 reference on fresh random
inputs: forward and gradients (second order where training uses it), fp32/fp16/bf16/fp64,
odd and non-square shapes, up/down 1/2/4, 1-D/2-D/non-square filters, negative padding, gain,
flip_filter, channels-last and strided inputs, and the fallback paths. The same case runners
drive the CPU emulator of the kernels in test_cuda_ops_emulated.py.
"""

from __future__ import annotations

import threading
import warnings
from types import SimpleNamespace
from typing import Any

import pytest
import torch

from cuda_ops import dispatch, fused, fused_ops
from cuda_ops.bias_act import bias_act
from cuda_ops.cases import (BIAS_ACT_CASES, DTYPES, FLRELU_CASES, SQRT2, UPFIRDN_CASES, Measure,
                            case_id, make_filter, measure_bias_act, measure_filtered_lrelu,
                            measure_upfirdn2d, rel_l2, rel_max)
from cuda_ops.filtered_lrelu import filtered_lrelu, filtered_lrelu_ref
from cuda_ops.upfirdn2d import filter_taps, setup_filter, upfirdn2d

pytestmark = pytest.mark.usefixtures("one_torch_thread")


# ------------------------------------------------------------------------------ case runners
# The cases and measures live in cuda_ops.cases (the self-check uses them too); here they assert.

def assert_all_within(measures: list[Measure]) -> None:
    bad = [str(m) for m in measures if not m.ok]
    assert not bad, "; ".join(bad)


def run_bias_act_case(ops: Any, device: str, dtype: torch.dtype, case: tuple, layout: str = "contiguous",
                      second_order: bool = True) -> None:
    assert_all_within(measure_bias_act(ops, device, dtype, case, layout, second_order))


def run_upfirdn2d_case(ops: Any, device: str, dtype: torch.dtype, case: tuple,
                       layout: str = "contiguous", grad: bool = True, second_order: bool = False) -> None:
    assert_all_within(measure_upfirdn2d(ops, device, dtype, case, layout, grad, second_order))


def run_filtered_lrelu_case(ops: Any, device: str, dtype: torch.dtype, case: tuple,
                            layout: str = "contiguous", grad: bool = True) -> None:
    assert_all_within(measure_filtered_lrelu(ops, device, dtype, case, layout, grad))


# ------------------------------------------------------------ CPU: the upfirdn2d gradient rule

GRAD_RULE_CASES = [
    (up, down, fspec, flip, pad)
    for up in [1, (2, 3), 4]
    for down in [1, (4, 1), 2]
    for fspec in ["1d5", "2d3x4", None]
    for flip in [False, True]
    for pad in [0, [2, 1, -1, 3], [-2, -1, 1, 0]]
]


def test_upfirdn2d_gradient_is_the_derived_upfirdn2d() -> None:
    """For every geometry (factors 1-4 per axis, 1-D/2-D/no filter, flips, negative padding),
    the derived upfirdn2d of dy equals autograd's gradient of the reference, in float64."""
    gen = torch.Generator().manual_seed(7)
    checked, failures = 0, []
    for up, down, fspec, flip, pad in GRAD_RULE_CASES:
        f = make_filter(fspec, gen)
        f = None if f is None else f.double()
        x = torch.randn(2, 3, 7, 9, generator=gen, dtype=torch.float64, requires_grad=True)
        kw = dict(up=up, down=down, padding=pad, flip_filter=flip, gain=1.7)
        try:
            y = upfirdn2d(x, f, **kw)
        except RuntimeError:
            continue  # the padding leaves no output for this geometry
        dy = torch.randn(y.shape, generator=gen, dtype=torch.float64)
        (expected,) = torch.autograd.grad(y, x, dy)
        g = fused_ops.upfirdn2d_grad_geometry(fused_ops._geometry(up, down, pad, flip, 1.7), x.shape[2:],
                                          y.shape[2:], filter_taps(f))
        got = _reference_with_geometry(dy, f, g)
        checked += 1
        if got.shape != expected.shape or not torch.allclose(got, expected, rtol=1e-12, atol=1e-12):
            failures.append((up, down, fspec, flip, pad))
    assert checked > 100
    assert failures == []


def _reference_with_geometry(x: torch.Tensor, f: torch.Tensor | None, g: Any) -> torch.Tensor:
    return upfirdn2d(x, f, up=(g.upx, g.upy), down=(g.downx, g.downy),
                     padding=(g.px0, g.px1, g.py0, g.py1), flip_filter=g.flip, gain=g.gain)


class _ReferenceWithDerivedGrad(torch.autograd.Function):
    """The reference upfirdn2d whose backward is the derived rule (not autograd's)."""

    @staticmethod
    def forward(ctx, x, f, geom):  # type: ignore[override]
        y = _reference_with_geometry(x, f, geom)
        ctx.f, ctx.geom, ctx.in_hw, ctx.out_hw = f, geom, x.shape[2:], y.shape[2:]
        return y

    @staticmethod
    def backward(ctx, dy):  # type: ignore[override]
        g = fused_ops.upfirdn2d_grad_geometry(ctx.geom, ctx.in_hw, ctx.out_hw, filter_taps(ctx.f))
        return _ReferenceWithDerivedGrad.apply(dy, ctx.f, g), None, None


@pytest.mark.parametrize("up,down,fspec,flip,pad", [
    (2, 1, "1d5", False, [2, 1, 2, 1]),
    (1, 2, "2d3x4", True, [1, -1, 0, 2]),
    ((2, 1), (1, 3), "2d3x4", False, [0, 2, 3, 1]),
    (4, 2, None, True, [-1, 3, 2, 0]),
])
def test_derived_gradient_passes_gradcheck_and_gradgradcheck(up, down, fspec, flip, pad) -> None:
    gen = torch.Generator().manual_seed(3)
    f = make_filter(fspec, gen)
    f = None if f is None else f.double()
    geom = fused_ops._geometry(up, down, pad, flip, 1.3)
    x = torch.randn(1, 2, 5, 6, generator=gen, dtype=torch.float64, requires_grad=True)
    fn = lambda t: _ReferenceWithDerivedGrad.apply(t, f, geom)  # noqa: E731
    assert torch.autograd.gradcheck(fn, (x,))
    assert torch.autograd.gradgradcheck(fn, (x,))


# ------------------------------------------------- CPU: FusedOps autograd on reference ops

class ReferenceBackend:
    """The compiled module's interface (csrc/ops.h) implemented with the reference ops, so the
    autograd rules of FusedOps (and the self-check) can be tested anywhere. Like the kernels, it
    computes half-precision inputs in float32 and rounds the result (CPU half convolutions with
    long filters are also pathologically slow)."""

    backend = "reference"
    _ACTS = {v: k for k, v in fused_ops.ACT_CODES.items()}

    def __init__(self, compose_filtered_lrelu: bool = False) -> None:
        self.compose_filtered_lrelu = compose_filtered_lrelu

    def bias_act(self, x, b, dy, ddx, dim, act, alpha, gain, clamp, mode):
        kw = dict(dim=dim, act=self._ACTS[act], alpha=alpha, gain=gain, clamp=None if clamp < 0 else clamp)
        xw, b, dy, ddx = _wide(x), _wide(b), _wide(dy), _wide(ddx)
        if mode == 0:
            return bias_act(xw, b, **kw).to(x.dtype)
        with torch.enable_grad():
            xl = xw.detach().requires_grad_(True)
            (g,) = torch.autograd.grad(bias_act(xl, b, **kw), xl, dy, create_graph=mode == 2)
            if mode == 1:
                return g.detach().to(x.dtype)
            (g2,) = torch.autograd.grad(g, xl, ddx, allow_unused=True)
        return torch.zeros_like(x) if g2 is None else g2.detach().to(x.dtype)

    def upfirdn2d(self, x, f, upx, upy, downx, downy, px0, px1, py0, py1, flip, gain, smem_limit):
        y = upfirdn2d(_wide(x), f, up=(upx, upy), down=(downx, downy), padding=(px0, px1, py0, py1),
                      flip_filter=flip, gain=gain)
        return y.to(x.dtype)

    def filtered_lrelu(self, x, fu, fd, b, up, down, px0, px1, py0, py1, gain, slope, clamp, flip,
                       smem_limit):
        if self.compose_filtered_lrelu:
            return None  # as the kernel does when a tile does not fit in shared memory
        y = filtered_lrelu_ref(_wide(x), fu, fd, _wide(b), up, down, (px0, px1, py0, py1), gain, slope,
                               None if clamp < 0 else clamp, flip)
        return y.to(x.dtype)  # like the kernel, whatever autocast did inside the reference


def _wide(t: torch.Tensor | None) -> torch.Tensor | None:
    return t.float() if t is not None and t.dtype in (torch.float16, torch.bfloat16) else t


REF_OPS = fused_ops.FusedOps(ReferenceBackend())


@pytest.mark.parametrize("case", BIAS_ACT_CASES, ids=case_id)
def test_fused_autograd_rules_bias_act(case) -> None:
    run_bias_act_case(REF_OPS, "cpu", torch.float64, case)


@pytest.mark.parametrize("case", UPFIRDN_CASES, ids=case_id)
def test_fused_autograd_rules_upfirdn2d(case) -> None:
    run_upfirdn2d_case(REF_OPS, "cpu", torch.float64, case, second_order=True)


@pytest.mark.parametrize("compose", [False, True])
@pytest.mark.parametrize("case", FLRELU_CASES, ids=case_id)
def test_fused_autograd_rules_filtered_lrelu(case, compose) -> None:
    ops = fused_ops.FusedOps(ReferenceBackend(compose_filtered_lrelu=compose))
    run_filtered_lrelu_case(ops, "cpu", torch.float64, case)


def test_filtered_lrelu_second_order_through_fused_rules() -> None:
    """The backward of filtered_lrelu is built from differentiable ops: path-length style
    double backward agrees with the reference."""
    gen = torch.Generator().manual_seed(5)
    fu, fd = make_filter("1d6", gen).double(), make_filter("1d6", gen).double()
    x = torch.randn(1, 2, 7, 7, generator=gen, dtype=torch.float64)
    b = torch.randn(2, generator=gen, dtype=torch.float64)
    kw = dict(up=2, down=2, padding=[3, 2, 3, 2], gain=SQRT2, slope=0.2, clamp=None)
    results = []
    for op in (lambda *a, **k: REF_OPS.filtered_lrelu(*a, **k), filtered_lrelu_ref):
        xl, bl = x.clone().requires_grad_(True), b.clone().requires_grad_(True)
        y = op(xl, fu, fd, bl, **kw)
        dy = torch.ones_like(y).mul_(0.3).requires_grad_(True)
        (gx,) = torch.autograd.grad(y, xl, dy, create_graph=True)
        results.append(torch.autograd.grad((gx ** 2).sum(), [dy, bl], allow_unused=True))
    for got, ref in zip(*results):
        assert rel_l2(got, ref) <= 1e-10


def test_filter_gradients_fall_back_to_the_reference() -> None:
    gen = torch.Generator().manual_seed(1)
    f = make_filter("2d3x3", gen).double().requires_grad_(True)
    x = torch.randn(1, 1, 5, 5, generator=gen, dtype=torch.float64)

    class Boom:
        def __getattr__(self, name):
            raise AssertionError("the kernel must not run when the filter needs a gradient")

    y = fused_ops.FusedOps(Boom()).upfirdn2d(x, f, up=2, padding=1)
    (gf,) = torch.autograd.grad(y.sum(), f)
    (rf,) = torch.autograd.grad(upfirdn2d(x, f, up=2, padding=1).sum(), f)
    torch.testing.assert_close(gf, rf)


# ------------------------------------------------------------------- CPU: loader and dispatch

@pytest.fixture
def builder(monkeypatch):
    """A fresh builder, with the dispatch registry restored afterwards. A "CUDA" build checks its
    kernels on CPU tensors (tests make torch.cuda.is_available say yes where there is no GPU)."""
    monkeypatch.setattr(dispatch, "_fused_kernels", {})
    monkeypatch.setattr(fused, "_current_cuda_device", lambda: torch.device("cpu"))
    monkeypatch.delenv(fused.DISABLE_ENV, raising=False)
    return fused._Builder()


def test_build_not_needed_without_cuda_warns_once(builder, monkeypatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.warns(fused.FusedOpsWarning, match="no CUDA device"):
        status = builder.start()
    assert status == fused.BuildStatus("not-needed", "no CUDA device")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert builder.start().state == "not-needed"
        assert builder.wait(None).state == "not-needed"
    assert "not-needed" in str(status)


def test_build_disabled_by_environment_is_silent(builder, monkeypatch) -> None:
    monkeypatch.setenv(fused.DISABLE_ENV, "0")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert builder.start().state == "not-needed"


def test_build_without_toolchain_fails_with_one_warning(builder, monkeypatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(fused, "_toolchain_problem", lambda: "ninja not found; pip install ninja")
    with pytest.warns(fused.FusedOpsWarning, match="ninja not found"):
        status = builder.start()
    assert status.state == "failed" and "\n" not in status.message
    assert dispatch._fused_kernels == {}


def test_build_error_is_reported_in_one_line(builder, monkeypatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(fused, "_toolchain_problem", lambda: None)

    def broken(verbose=False):
        raise RuntimeError("Error building extension 'explorer_fused_ops'\nlong\ncompiler output")

    monkeypatch.setattr(fused, "load_extension", broken)
    with pytest.warns(fused.FusedOpsWarning, match="Error building extension"):
        assert builder.start().state in ("building", "failed")
        status = builder.wait(30)
    assert status.state == "failed"
    assert status.message == "RuntimeError: Error building extension 'explorer_fused_ops'"
    assert dispatch._fused_kernels == {}


def test_successful_build_registers_the_kernels(builder, monkeypatch) -> None:
    started = threading.Event()
    release = threading.Event()

    def slow_load(verbose=False):
        started.set()
        release.wait(30)
        return ReferenceBackend()

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *a: "Fake GPU")
    monkeypatch.setattr(fused, "_toolchain_problem", lambda: None)
    monkeypatch.setattr(fused, "load_extension", slow_load)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert builder.start().state == "building"
        assert started.wait(30)
        assert builder.status.state == "building"
        assert builder.start().state == "building"  # idempotent while running
        release.set()
        status = builder.wait(30)
    assert status.state == "ready" and status.message.startswith("Fake GPU; self-check passed (")
    assert set(dispatch._fused_kernels) == {"bias_act", "upfirdn2d", "filtered_lrelu"}
    cuda_like = SimpleNamespace(device=torch.device("cuda"))
    assert dispatch.fused_kernel("upfirdn2d", cuda_like) is not None
    assert dispatch.fused_kernel("upfirdn2d", torch.zeros(1)) is None


def test_reference_only_is_scoped_and_per_thread(monkeypatch) -> None:
    monkeypatch.setattr(dispatch, "_fused_kernels", {"bias_act": lambda *a: None})
    cuda_like = SimpleNamespace(device=torch.device("cuda"))
    seen = []
    with dispatch.reference_only():
        assert dispatch.fused_kernel("bias_act", cuda_like) is None
        with dispatch.reference_only():
            pass
        assert dispatch.fused_kernel("bias_act", cuda_like) is None
        t = threading.Thread(target=lambda: seen.append(dispatch.fused_kernel("bias_act", cuda_like)))
        t.start()
        t.join()
    assert seen[0] is not None
    assert dispatch.fused_kernel("bias_act", cuda_like) is not None


def test_module_level_api_on_this_machine() -> None:
    """The process-wide build settles in the state this machine must have."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fused.FusedOpsWarning)
        status = fused.wait_for_build()
    assert fused.build_status() == status
    if not torch.cuda.is_available() or fused._why_not_needed() is not None:
        assert status == fused.BuildStatus("not-needed", fused._why_not_needed())
        assert fused.loaded_ops() is None
        assert dispatch.fused_kernel("upfirdn2d", SimpleNamespace(device=torch.device("cuda"))) is None
    elif fused._toolchain_problem() is not None:
        assert status == fused.BuildStatus("failed", fused._toolchain_problem())
    else:
        assert status.state == "ready", str(status)
        assert isinstance(fused.loaded_ops(), fused_ops.FusedOps)


# ------------------------------------------------------------------------- CUDA: the kernels

requires_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.fixture(scope="module")
def kernels():
    problem = fused._toolchain_problem()
    if problem is not None:
        pytest.skip(f"cannot build the CUDA kernels here: {problem}")
    status = fused.wait_for_build()
    assert status.state == "ready", str(status)
    return fused.loaded_ops()


@requires_cuda
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("case", BIAS_ACT_CASES, ids=case_id)
def test_cuda_bias_act(kernels, case, dtype) -> None:
    run_bias_act_case(kernels, "cuda", dtype, case)


@requires_cuda
@pytest.mark.parametrize("layout", ["channels_last", "strided"])
@pytest.mark.parametrize("case", [c for c in BIAS_ACT_CASES if len(c[0]) == 4], ids=case_id)
def test_cuda_bias_act_layouts(kernels, case, layout) -> None:
    run_bias_act_case(kernels, "cuda", torch.float32, case, layout=layout)


@requires_cuda
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("case", UPFIRDN_CASES, ids=case_id)
def test_cuda_upfirdn2d(kernels, case, dtype) -> None:
    run_upfirdn2d_case(kernels, "cuda", dtype, case,
                       second_order=dtype in (torch.float32, torch.float64))


@requires_cuda
@pytest.mark.parametrize("layout", ["channels_last", "strided"])
@pytest.mark.parametrize("case", UPFIRDN_CASES, ids=case_id)
def test_cuda_upfirdn2d_layouts(kernels, case, layout) -> None:
    run_upfirdn2d_case(kernels, "cuda", torch.float32, case, layout=layout)


@requires_cuda
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16], ids=str)
@pytest.mark.parametrize("case", UPFIRDN_CASES, ids=case_id)
def test_cuda_upfirdn2d_direct_path(kernels, case, dtype) -> None:
    ops = fused_ops.FusedOps(kernels.module, smem_limit=1)  # no tile fits: one thread per output
    run_upfirdn2d_case(ops, "cuda", dtype, case)


@requires_cuda
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("case", FLRELU_CASES, ids=case_id)
def test_cuda_filtered_lrelu(kernels, case, dtype) -> None:
    run_filtered_lrelu_case(kernels, "cuda", dtype, case)


@requires_cuda
@pytest.mark.parametrize("layout", ["channels_last", "strided"])
@pytest.mark.parametrize("case", FLRELU_CASES, ids=case_id)
def test_cuda_filtered_lrelu_layouts(kernels, case, layout) -> None:
    run_filtered_lrelu_case(kernels, "cuda", torch.float32, case, layout=layout)


@requires_cuda
@pytest.mark.parametrize("case", FLRELU_CASES, ids=case_id)
def test_cuda_filtered_lrelu_composed_fallback(kernels, case) -> None:
    ops = fused_ops.FusedOps(kernels.module, smem_limit=1)
    assert kernels.module.filtered_lrelu(torch.zeros(1, 1, 8, 8, device="cuda"), None, None, None,
                                          1, 1, 0, 0, 0, 0, 1.0, 0.2, -1.0, False, 1) is None
    run_filtered_lrelu_case(ops, "cuda", torch.float32, case)


@requires_cuda
def test_cuda_dispatch_uses_the_kernels(kernels) -> None:
    from cuda_ops import downsample2d, upsample2d

    gen = torch.Generator().manual_seed(11)
    x = torch.randn(2, 8, 16, 16, generator=gen).cuda()
    f = setup_filter([1, 3, 3, 1], device="cuda")
    assert dispatch.fused_kernel("upfirdn2d", x) is not None
    for op in (lambda t: upsample2d(t, f), lambda t: downsample2d(t, f),
               lambda t: bias_act(t, torch.ones(8, device="cuda"), act="lrelu", clamp=0.5)):
        fast = op(x)
        with dispatch.reference_only():
            slow = op(x)
        assert rel_max(fast, slow) <= 1e-5


@requires_cuda
def test_cuda_large_batch_uses_the_plane_loop(kernels) -> None:
    """More planes than one grid dimension holds (65535): blocks loop over planes."""
    x = torch.randn(1, 70000, 4, 4, device="cuda")
    f = setup_filter([1, 3, 3, 1], device="cuda")
    got = kernels.upfirdn2d(x, f, up=2, padding=[2, 1, 2, 1], gain=4)
    with dispatch.reference_only():
        ref = upfirdn2d(x, f, up=2, padding=[2, 1, 2, 1], gain=4)
    assert rel_max(got, ref) <= 1e-5


def _autocast_dtypes(ops: Any, device: str, amp_dtype: torch.dtype) -> list[tuple[torch.dtype, torch.dtype]]:
    """(ours, reference) result dtypes of float32 calls under autocast."""
    x = torch.randn(1, 2, 8, 8, device=device)
    f = setup_filter([1, 3, 3, 1], device=device)
    f1 = make_filter("1d6", torch.Generator()).to(device)
    b = torch.zeros(2, device=device)
    calls = [
        lambda m: m.upfirdn2d(x, f, up=2, padding=[2, 1, 2, 1], gain=4),
        lambda m: m.upfirdn2d(x, None, down=2),
        lambda m: m.bias_act(x, b, act="lrelu"),
        lambda m: m.filtered_lrelu(x, f1, f1, b, up=2, down=2, padding=[3, 2, 3, 2]),
        lambda m: m.filtered_lrelu(x, None, None, b, gain=1.0, slope=1.0),
    ]
    reference = SimpleNamespace(upfirdn2d=upfirdn2d, bias_act=bias_act, filtered_lrelu=filtered_lrelu)
    out = []
    with torch.autocast(device, dtype=amp_dtype):
        for call in calls:
            with dispatch.reference_only():
                ref = call(reference)
            out.append((call(ops).dtype, ref.dtype))
    return out


def test_autocast_result_dtypes_follow_the_reference() -> None:
    for ours, ref in _autocast_dtypes(REF_OPS, "cpu", torch.bfloat16):
        assert ours == ref


@requires_cuda
def test_cuda_autocast_result_dtypes_follow_the_reference(kernels) -> None:
    for ours, ref in _autocast_dtypes(kernels, "cuda", torch.float16):
        assert ours == ref
