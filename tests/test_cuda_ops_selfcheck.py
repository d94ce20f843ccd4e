"""The self-check that runs before the fused kernels are used (cuda_ops.selfcheck), on CPU.

The "kernels" here are the reference ops behind the compiled module's interface
(test_cuda_ops.ReferenceBackend), made deliberately wrong in one way at a time: an off-by-one,
a wrong gain in a gradient, a dropped clamp or flip, a bug only in float16 or only on the
fallback path. Each must be caught; a caught one must keep the fused path off for the process,
say so in one line, and be remembered per build (the check runs once).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from cuda_ops import dispatch, fused, fused_ops, selfcheck
from tests.test_cuda_ops import ReferenceBackend

pytestmark = pytest.mark.usefixtures("one_torch_thread")

CUDA_LIKE = SimpleNamespace(device=torch.device("cuda"))


# ------------------------------------------------------------------------------ wrong backends

class OffByOneUpfirdn2d(ReferenceBackend):
    """Reads one column too far to the left whenever it upsamples."""

    def upfirdn2d(self, x, f, upx, upy, *rest):
        y = super().upfirdn2d(x, f, upx, upy, *rest)
        return torch.roll(y, 1, dims=3) if upx > 1 else y


class WrongGradientGain(ReferenceBackend):
    """Forward right; the bias_act derivative (mode 1) 1 % too large."""

    def bias_act(self, x, b, dy, ddx, dim, act, alpha, gain, clamp, mode):
        y = super().bias_act(x, b, dy, ddx, dim, act, alpha, gain, clamp, mode)
        return y * 1.01 if mode == 1 else y


class NoSecondDerivative(ReferenceBackend):
    """Forward and first derivative right; the second-derivative mode returns zeros."""

    def bias_act(self, x, b, dy, ddx, dim, act, alpha, gain, clamp, mode):
        if mode == 2:
            return torch.zeros_like(x)
        return super().bias_act(x, b, dy, ddx, dim, act, alpha, gain, clamp, mode)


class IgnoresClamp(ReferenceBackend):
    def filtered_lrelu(self, x, fu, fd, b, up, down, px0, px1, py0, py1, gain, slope, clamp, flip, smem):
        return super().filtered_lrelu(x, fu, fd, b, up, down, px0, px1, py0, py1, gain, slope, -1.0,
                                      flip, smem)


class IgnoresFlip(ReferenceBackend):
    def upfirdn2d(self, x, f, upx, upy, downx, downy, px0, px1, py0, py1, flip, gain, smem):
        return super().upfirdn2d(x, f, upx, upy, downx, downy, px0, px1, py0, py1, False, gain, smem)


class WrongInHalf(ReferenceBackend):
    """Right in float32, 2 % off in float16 (a wrong conversion in one dtype's instantiation)."""

    def upfirdn2d(self, x, *rest):
        y = super().upfirdn2d(x, *rest)
        return y * 1.02 if x.dtype == torch.float16 else y


class WrongOnFallbackPath(ReferenceBackend):
    """Right with the default tiling, wrong when a tile does not fit (smem_limit forced)."""

    def upfirdn2d(self, *args):
        y = super().upfirdn2d(*args)
        return y * 0.9 if args[-1] == 1 else y


class WrongResultDtype(ReferenceBackend):
    def filtered_lrelu(self, x, *rest):
        y = super().filtered_lrelu(x, *rest)
        return None if y is None else y.float()


class Raises(ReferenceBackend):
    def bias_act(self, *args):
        raise RuntimeError("CUDA error: an illegal memory access was encountered\nmore detail")


WRONG = {
    "off-by-one": (OffByOneUpfirdn2d, "upfirdn2d"),
    "gradient gain": (WrongGradientGain, "bias_act"),
    "second derivative": (NoSecondDerivative, "bias_act"),
    "clamp": (IgnoresClamp, "filtered_lrelu"),
    "flip": (IgnoresFlip, "upfirdn2d"),
    "float16 only": (WrongInHalf, "upfirdn2d float16"),
    "fallback path only": (WrongOnFallbackPath, "small-smem"),
    "result dtype": (WrongResultDtype, "dtype"),
}


def _ops(backend: ReferenceBackend) -> fused_ops.FusedOps:
    return fused_ops.FusedOps(backend)


# ------------------------------------------------------------------------------ the plan

def test_plan_covers_each_op_in_both_dtypes_with_the_awkward_cases() -> None:
    plan = selfcheck.plan()
    assert plan == selfcheck.plan()  # fixed: a cached verdict stays meaningful
    for op in ("bias_act", "upfirdn2d", "filtered_lrelu"):
        for dtype in (torch.float32, torch.float16):
            mine = [c for c in plan if c.op == op and c.dtype == dtype]
            assert {c.origin for c in mine} == {"table", "random"}
            assert any(c.grad for c in mine)
    second = {c.op for c in plan if c.second_order}
    assert second == {"bias_act", "upfirdn2d"} and all(c.dtype == torch.float32 for c in plan if c.second_order)
    up = [c.case for c in plan if c.op == "upfirdn2d"]
    assert any(c[2] not in (1, (1, 1)) for c in up) and any(c[3] not in (1, (1, 1)) for c in up)
    assert any(c[5] for c in up)  # flip
    assert any(c[0][2] % 2 and c[0][3] % 2 for c in up)  # odd sizes
    fl = [c.case for c in plan if c.op == "filtered_lrelu"]
    assert any(c[8] is not None for c in fl) and any(c[9] for c in fl)  # clamp, flip
    assert any(c.op == "bias_act" and c.case[2] in ("tanh", "sigmoid") and c.second_order for c in plan)
    assert {c.op for c in plan if c.smem_limit} == {"upfirdn2d", "filtered_lrelu"}
    assert any(c.layout == "channels_last" for c in plan)


def test_right_kernels_pass() -> None:
    verdict = selfcheck.run(_ops(ReferenceBackend()), "cpu")
    assert verdict.passed, verdict.failures
    assert verdict.checks == len(selfcheck.plan()) and not verdict.errored
    assert verdict.summary().startswith(f"self-check passed ({verdict.checks} cases, ")


@pytest.mark.parametrize("kind", list(WRONG))
def test_each_kind_of_wrong_kernel_is_caught(kind: str) -> None:
    backend, where = WRONG[kind]
    verdict = selfcheck.run(_ops(backend()), "cpu")
    assert not verdict.passed and not verdict.errored
    assert where in verdict.failures[0]
    line = verdict.summary()
    assert "\n" not in line and line.startswith("self-check failed (") and "reference ops in use" in line


def test_a_kernel_that_raises_fails_the_check_in_one_line() -> None:
    verdict = selfcheck.run(_ops(Raises()), "cpu")
    assert not verdict.passed and verdict.errored
    assert "illegal memory access" in verdict.summary() and "\n" not in verdict.summary()


# ------------------------------------------------------------------------------ the builder

@pytest.fixture
def builder(monkeypatch):
    """A fresh process-wide builder that "builds" `backend` (a module loaded from a file) for a
    fake GPU; the checks run on CPU tensors. Returns a function: backend -> settled status."""
    monkeypatch.setattr(dispatch, "_fused_kernels", {})
    monkeypatch.delenv(fused.DISABLE_ENV, raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *a: "Fake GPU")
    monkeypatch.setattr(fused, "_toolchain_problem", lambda: None)
    monkeypatch.setattr(fused, "_current_cuda_device", lambda: torch.device("cpu"))
    runs: list[int] = []
    real_run = selfcheck.run

    def counting_run(*args, **kwargs):
        runs.append(1)
        return real_run(*args, **kwargs)

    monkeypatch.setattr(selfcheck, "run", counting_run)

    def build(backend: ReferenceBackend) -> fused.BuildStatus:
        monkeypatch.setattr(fused, "load_extension", lambda verbose=False: backend)
        monkeypatch.setattr(fused, "_BUILDER", fused._Builder())
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            status = fused.wait_for_build(60)
        build.warnings = [str(w.message) for w in caught if issubclass(w.category, fused.FusedOpsWarning)]
        return status

    build.runs = runs
    return build


def _built_from(backend: ReferenceBackend, library: Path) -> ReferenceBackend:
    """Give a backend the file a compiled extension module has (what the verdict is keyed on)."""
    backend.__file__ = str(library)
    return backend


def test_wrong_kernels_stay_off_and_the_reference_runs(builder, tmp_path) -> None:
    library = tmp_path / "explorer_fused_ops.so"
    library.write_bytes(b"compiled kernels, version 1")
    status = builder(_built_from(OffByOneUpfirdn2d(), library))

    assert status.state == "failed" and fused.build_status() == status
    line = str(fused.build_status())
    assert "\n" not in line
    assert line.startswith("CUDA kernels: failed (self-check failed (")
    assert "reference ops in use" in line and "upfirdn2d" in line
    assert builder.warnings == [f"fused CUDA kernels not in use, the PyTorch reference ops run "
                                f"instead: {status.message}"]
    for op in ("bias_act", "upfirdn2d", "filtered_lrelu"):
        assert dispatch.fused_kernel(op, CUDA_LIKE) is None  # so every op takes its reference path
    assert fused.loaded_ops() is None
    assert fused.enable_for_training("cuda") == status  # the trainer gets the same one line


def test_right_kernels_are_enabled(builder, tmp_path) -> None:
    library = tmp_path / "explorer_fused_ops.so"
    library.write_bytes(b"compiled kernels, version 1")
    status = builder(_built_from(ReferenceBackend(), library))
    assert status.state == "ready", str(status)
    assert status.message.startswith("Fake GPU; self-check passed (")
    assert builder.warnings == []
    assert all(dispatch.fused_kernel(op, CUDA_LIKE) is not None
               for op in ("bias_act", "upfirdn2d", "filtered_lrelu"))


@pytest.mark.parametrize("backend", [ReferenceBackend, IgnoresClamp], ids=["passing", "failing"])
def test_the_verdict_is_cached_per_build(builder, tmp_path, backend) -> None:
    library = tmp_path / "explorer_fused_ops.so"
    library.write_bytes(b"compiled kernels, version 1")
    first = builder(_built_from(backend(), library))
    assert builder.runs == [1]
    cache = json.loads((tmp_path / selfcheck.CACHE_NAME).read_text())
    (key,) = cache
    assert key == selfcheck.cache_key(library, "Fake GPU")
    assert f"torch {torch.__version__}" in key and "Fake GPU" in key

    again = builder(_built_from(backend(), library))  # a new process, the same build
    assert builder.runs == [1]  # no second run
    assert again.state == first.state
    assert "cached" in again.message and "\n" not in again.message

    library.write_bytes(b"compiled kernels, version 2")  # a rebuild: checked again
    builder(_built_from(backend(), library))
    assert builder.runs == [1, 1]
    assert len(json.loads((tmp_path / selfcheck.CACHE_NAME).read_text())) == 2


def test_the_key_names_the_device_and_torch(tmp_path, monkeypatch) -> None:
    library = tmp_path / "lib.so"
    library.write_bytes(b"x")
    key = selfcheck.cache_key(library, "GPU A")
    assert key != selfcheck.cache_key(library, "GPU B")
    monkeypatch.setattr(torch, "__version__", "0.0.0-other")
    assert key != selfcheck.cache_key(library, "GPU A")


def test_a_check_that_raised_is_not_cached(builder, tmp_path) -> None:
    library = tmp_path / "explorer_fused_ops.so"
    library.write_bytes(b"compiled kernels")
    assert builder(_built_from(Raises(), library)).state == "failed"
    assert not (tmp_path / selfcheck.CACHE_NAME).exists()  # may be transient (memory, a busy GPU)
    builder(_built_from(Raises(), library))
    assert builder.runs == [1, 1]


def test_an_unreadable_cache_is_checked_again_and_replaced(builder, tmp_path) -> None:
    library = tmp_path / "explorer_fused_ops.so"
    library.write_bytes(b"compiled kernels")
    (tmp_path / selfcheck.CACHE_NAME).write_text("{ not json")
    assert builder(_built_from(ReferenceBackend(), library)).state == "ready"
    assert builder.runs == [1]
    assert selfcheck.cache_key(library, "Fake GPU") in json.loads((tmp_path / selfcheck.CACHE_NAME).read_text())


# ------------------------------------------------------------------------------ the trainer's helper

def test_enable_for_training_off_cuda_is_quiet_and_leaves_the_build_alone(monkeypatch) -> None:
    monkeypatch.setattr(fused, "_BUILDER", fused._Builder())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        status = fused.enable_for_training(torch.device("cpu"))
        assert fused.enable_for_training("mps").state == "not-needed"
    assert status == fused.BuildStatus("not-needed", "the cpu device runs the reference ops")
    assert fused.build_status().state == "not-started"


def test_enable_for_training_checks_on_the_given_gpu(builder, monkeypatch) -> None:
    entered = []

    class RecordingDevice:
        def __init__(self, device):
            entered.append(torch.device(device))

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(torch.cuda, "device", RecordingDevice)
    monkeypatch.setattr(fused, "load_extension", lambda verbose=False: ReferenceBackend())
    monkeypatch.setattr(fused, "_BUILDER", fused._Builder())
    status = fused.enable_for_training("cuda:1")
    assert status.state == "ready"
    assert entered == [torch.device("cuda", 1)]
