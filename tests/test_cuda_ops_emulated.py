"""The CUDA kernels' code, run on CPU by the emulator (cuda_ops/csrc/emulate.cpp).

The emulator compiles the same block and element functions as the .cu files with a host C++
compiler and runs each thread block's work on one CPU thread, with shared memory poisoned with
NaN and bounds-checked. These tests push every case of test_cuda_ops.py through it, so the
kernels' index arithmetic, tiling, fallbacks and autograd rules are checked without a GPU. What
they cannot check is what only a GPU has: races between threads of a block, launch limits.

They run wherever a C++ compiler and ninja (the `test` extra) are present, CI included: the
tests themselves take seconds; compiling the emulator costs one to two minutes on a 2-core
machine the first time and is cached after that (torch's extensions folder). A quick local run
can leave them out:

    EXPLORER_TEST_EMULATOR=0 .venv/bin/python -m pytest
"""

from __future__ import annotations

import os
import shutil

import pytest
import torch

from cuda_ops import fused, fused_ops, selfcheck
from cuda_ops.cases import BIAS_ACT_CASES, DTYPES, FLRELU_CASES, UPFIRDN_CASES, case_id, make_filter
from tests.test_cuda_ops import run_bias_act_case, run_filtered_lrelu_case, run_upfirdn2d_case

def _why_not() -> str | None:
    from torch.utils import cpp_extension
    if os.environ.get("EXPLORER_TEST_EMULATOR", "1").strip().lower() in ("0", "off", "false", "no"):
        return "left out with EXPLORER_TEST_EMULATOR=0"
    if shutil.which(os.environ.get("CXX", "c++")) is None:
        return "no C++ compiler (c++) to build the kernel emulator"
    if not cpp_extension.is_ninja_available():
        return "ninja is missing: pip install ninja (part of the `test` extra)"
    return None


pytestmark = [
    pytest.mark.skipif(_why_not() is not None, reason=str(_why_not())),
    pytest.mark.usefixtures("one_torch_thread"),
]


@pytest.fixture(scope="module")
def emu() -> fused_ops.FusedOps:
    return fused_ops.FusedOps(fused.load_emulator())


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("case", BIAS_ACT_CASES, ids=case_id)
def test_emulated_bias_act(emu, case, dtype) -> None:
    run_bias_act_case(emu, "cpu", dtype, case)


@pytest.mark.parametrize("layout", ["channels_last", "strided"])
@pytest.mark.parametrize("case", [c for c in BIAS_ACT_CASES if len(c[0]) == 4], ids=case_id)
def test_emulated_bias_act_layouts(emu, case, layout) -> None:
    run_bias_act_case(emu, "cpu", torch.float64, case, layout=layout)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("case", UPFIRDN_CASES, ids=case_id)
def test_emulated_upfirdn2d(emu, case, dtype) -> None:
    run_upfirdn2d_case(emu, "cpu", dtype, case, second_order=dtype == torch.float64)


@pytest.mark.parametrize("layout", ["channels_last", "strided"])
@pytest.mark.parametrize("case", UPFIRDN_CASES, ids=case_id)
def test_emulated_upfirdn2d_layouts(emu, case, layout) -> None:
    run_upfirdn2d_case(emu, "cpu", torch.float64, case, layout=layout)


@pytest.mark.parametrize("smem_limit", [1, 1024, 3000])
@pytest.mark.parametrize("case", UPFIRDN_CASES, ids=case_id)
def test_emulated_upfirdn2d_small_shared_memory(emu, case, smem_limit) -> None:
    """1 byte: the direct path. 1-3 KiB: small tiles, so many tile borders."""
    ops = fused_ops.FusedOps(emu.module, smem_limit=smem_limit)
    run_upfirdn2d_case(ops, "cpu", torch.float64, case)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("case", FLRELU_CASES, ids=case_id)
def test_emulated_filtered_lrelu(emu, case, dtype) -> None:
    run_filtered_lrelu_case(emu, "cpu", dtype, case)


@pytest.mark.parametrize("layout", ["channels_last", "strided"])
@pytest.mark.parametrize("case", FLRELU_CASES, ids=case_id)
def test_emulated_filtered_lrelu_layouts(emu, case, layout) -> None:
    run_filtered_lrelu_case(emu, "cpu", torch.float64, case, layout=layout)


@pytest.mark.parametrize("smem_limit", [1, 4096, 9000])
@pytest.mark.parametrize("case", FLRELU_CASES, ids=case_id)
def test_emulated_filtered_lrelu_small_shared_memory(emu, case, smem_limit) -> None:
    """1 byte: no tile fits, the op composes upfirdn2d and bias_act. 4-9 KiB: small tiles."""
    ops = fused_ops.FusedOps(emu.module, smem_limit=smem_limit)
    run_filtered_lrelu_case(ops, "cpu", torch.float64, case)


def test_typical_stylegan_calls_take_the_tiled_path(emu) -> None:
    m = emu.module
    x = torch.zeros(4, 512, 32, 32)
    sg2 = make_filter("sg2", torch.Generator())
    tiled, th, tw, smem = m.upfirdn2d_plan(x, sg2, 2, 2, 1, 1, 2, 1, 2, 1, 0)  # upsample2d
    assert tiled == 1 and (th, tw) == (32, 32) and smem <= 48 * 1024
    tiled, th, tw, smem = m.upfirdn2d_plan(x, sg2, 1, 1, 2, 2, 1, 1, 1, 1, 0)  # downsample2d
    assert tiled == 1 and (th, tw) == (16, 16)
    long = make_filter("1d24", torch.Generator())
    tiled, *_ = m.upfirdn2d_plan(x, long, 4, 4, 1, 1, 12, 11, 12, 11, 0)
    assert tiled == 1
    # A filtered_lrelu of a 256-px StyleGAN3 layer fits too (None would mean: composed).
    x = torch.randn(1, 2, 148, 148)
    f = make_filter("1d12", torch.Generator())
    y = m.filtered_lrelu(x, f, f, None, 2, 2, 11, 10, 11, 10, 1.4, 0.2, 256.0, False, 0)
    assert y is not None and y.shape == (1, 2, 148, 148)


def test_emulated_autocast_result_dtypes_follow_the_reference(emu) -> None:
    from tests.test_cuda_ops import _autocast_dtypes

    for ours, ref in _autocast_dtypes(emu, "cpu", torch.bfloat16):
        assert ours == ref


def test_emulated_kernels_pass_the_self_check(emu) -> None:
    """What the loader runs before it enables real kernels, on the kernels' code."""
    verdict = selfcheck.run(emu, "cpu")
    assert verdict.passed, verdict.failures
