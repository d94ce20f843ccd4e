"""Fused CUDA kernels for bias_act, upfirdn2d and filtered_lrelu: build, check, load, register.

    from cuda_ops import fused
    fused.start_build()        # returns at once; compiles in a background thread (the app)
    fused.build_status()       # BuildStatus(state, message); str() gives one status-line text
    fused.wait_for_build()     # block until it is settled (benchmarks, GPU tests)
    fused.enable_for_training(device)  # blocking; "not-needed" off CUDA, without a warning

Who builds them today: the app on a CUDA device (start_build), the trainer on a CUDA device
(enable_for_training), bench/ops.py and the GPU tests. Until something in the process has built
them, every op runs its PyTorch reference (`generate`, `project` and `directions` do).

States: "not-started" (start_build not called yet), "not-needed" (no CUDA device, or turned off
with EXPLORER_FUSED_OPS=0), "building", "ready" (kernels registered with `cuda_ops.dispatch`, so
every op on a CUDA tensor uses them) and "failed" (one-line reason; the reference ops go on
working). Without CUDA, or when the build cannot run or fails, one warning (`FusedOpsWarning`)
says so, once per process; EXPLORER_FUSED_OPS_VERBOSE=1 shows the compiler's output.

Before registering, the freshly loaded kernels go through `cuda_ops.selfcheck` (forward and
gradients against the float64 reference on awkward shapes, both dtypes training uses). One
mismatch and the state is "failed" with the first mismatch in the message: the reference ops stay
in use for the process. The verdict is cached next to the built extension, so it costs once.

The sources are in cuda_ops/csrc. torch.utils.cpp_extension compiles them with ninja into the
torch extensions directory (TORCH_EXTENSIONS_DIR, default ~/.cache/torch_extensions) the first
time, for the GPU at hand; later runs load the cached build in seconds, and editing a source
triggers a rebuild.

The ops themselves, with their autograd rules, are `cuda_ops.fused_ops.FusedOps`; this module
only builds, checks, loads and registers them.
"""

from __future__ import annotations

import os
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from cuda_ops import dispatch, selfcheck
from cuda_ops.fused_ops import FusedOps

CSRC = Path(__file__).resolve().parent / "csrc"
CUDA_SOURCES = ("bindings.cpp", "bias_act.cu", "upfirdn2d.cu", "filtered_lrelu.cu")
EXTENSION_NAME = "explorer_fused_ops"
EMULATOR_NAME = "explorer_fused_ops_emulator"
DISABLE_ENV = "EXPLORER_FUSED_OPS"  # "0": never build, always the reference ops
VERBOSE_ENV = "EXPLORER_FUSED_OPS_VERBOSE"  # "1": show the compiler's output while building


class FusedOpsWarning(UserWarning):
    """The fused kernels are not in use (no CUDA, no toolchain, or the build failed)."""


@dataclass(frozen=True)
class BuildStatus:
    state: str  # "not-started" | "not-needed" | "building" | "ready" | "failed"
    message: str = ""

    @property
    def ready(self) -> bool:
        return self.state == "ready"

    def __str__(self) -> str:
        return f"CUDA kernels: {self.state}" + (f" ({self.message})" if self.message else "")


class _Builder:
    """The one build of the extension in this process.

    A compiled extension module can be loaded into a process only once, and every caller (the
    app's status line, the CLI, the trainer) must see the same build, so this object lives at
    module level; it is the only mutable module state here.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._status = BuildStatus("not-started")
        self._thread: threading.Thread | None = None
        self._device = torch.device("cuda")
        self.module: Any = None

    @property
    def status(self) -> BuildStatus:
        return self._status

    def start(self) -> BuildStatus:
        with self._lock:
            if self._status.state != "not-started":
                return self._status
            reason = _why_not_needed()
            if reason is not None:
                return self._settle(BuildStatus("not-needed", reason))
            problem = _toolchain_problem()
            if problem is not None:
                return self._settle(BuildStatus("failed", problem))
            # The build thread must check on the caller's GPU: a new thread starts on GPU 0.
            self._device = _current_cuda_device()
            self._status = BuildStatus("building", "the first run compiles for minutes, later "
                                                   "runs load the cache")
            self._thread = threading.Thread(target=self._build, name="fused-ops-build", daemon=True)
            self._thread.start()
            return self._status

    def wait(self, timeout: float | None) -> BuildStatus:
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return self._status

    def _build(self) -> None:
        try:
            module = load_extension(verbose=os.environ.get(VERBOSE_ENV) == "1")
            ops = FusedOps(module)
            name = torch.cuda.get_device_name(self._device)
            verdict = selfcheck.check_build(ops, self._device, _extension_file(module), name)
            if verdict.passed:
                dispatch.register_fused("bias_act", ops.bias_act)
                dispatch.register_fused("upfirdn2d", ops.upfirdn2d)
                dispatch.register_fused("filtered_lrelu", ops.filtered_lrelu)
                self.module = module
                status = BuildStatus("ready", f"{name}; {verdict.summary()}")
            else:
                status = BuildStatus("failed", verdict.summary())
        except Exception as exc:  # noqa: BLE001 - any build error means: use the reference ops
            status = BuildStatus("failed", _one_line(exc))
        with self._lock:
            self._settle(status)

    def _settle(self, status: BuildStatus) -> BuildStatus:
        self._status = status
        if status.state == "not-needed" and status.message.startswith("disabled"):
            return status  # asked for: nothing to warn about
        if status.state in ("not-needed", "failed"):
            warnings.warn(f"fused CUDA kernels not in use, the PyTorch reference ops run instead: "
                          f"{status.message}", FusedOpsWarning, stacklevel=3)
        return status


def _current_cuda_device() -> torch.device:
    return torch.device("cuda", torch.cuda.current_device())


def _extension_file(module: Any) -> Path | None:
    """The compiled library a module was loaded from (what the self-check verdict is keyed on)."""
    file = getattr(module, "__file__", None)
    return Path(file) if file else None


def _why_not_needed() -> str | None:
    if os.environ.get(DISABLE_ENV, "").strip().lower() in ("0", "off", "false", "no"):
        return f"disabled by {DISABLE_ENV}=0"
    if not torch.cuda.is_available():
        return "no CUDA device"
    return None


def _toolchain_problem() -> str | None:
    from torch.utils import cpp_extension

    if torch.version.cuda is None:
        return "this PyTorch build has no CUDA support"
    if cpp_extension.CUDA_HOME is None:
        return "CUDA toolkit (nvcc) not found; install it or set CUDA_HOME"
    if not cpp_extension.is_ninja_available():
        return "ninja not found; pip install ninja"
    return None


def _one_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = f"{type(exc).__name__}: {lines[0] if lines else ''}"
    return text if len(text) <= 200 else text[:197] + "..."


def load_extension(verbose: bool = False) -> Any:
    """Compile (or load the cached build of) the CUDA extension, in the calling thread."""
    from torch.utils import cpp_extension

    return cpp_extension.load(
        name=EXTENSION_NAME,
        sources=[str(CSRC / s) for s in CUDA_SOURCES],
        extra_include_paths=[str(CSRC)],
        extra_cflags=["-O3"],
        extra_cuda_cflags=["-O3"],
        with_cuda=True,
        verbose=verbose,
    )


def load_emulator(verbose: bool = False) -> Any:
    """Compile (or load) the CPU emulator of the kernels (csrc/emulate.cpp): tests only."""
    from torch.utils import cpp_extension

    return cpp_extension.load(
        name=EMULATOR_NAME,
        sources=[str(CSRC / "emulate.cpp")],
        extra_include_paths=[str(CSRC)],
        extra_cflags=["-O1"],
        with_cuda=False,
        verbose=verbose,
    )


_BUILDER = _Builder()


def start_build() -> BuildStatus:
    """Start compiling/loading the kernels in a background thread (once per process)."""
    return _BUILDER.start()


def build_status() -> BuildStatus:
    return _BUILDER.status


def wait_for_build(timeout: float | None = None) -> BuildStatus:
    """start_build(), then wait up to `timeout` seconds (None: until it is settled)."""
    _BUILDER.start()
    return _BUILDER.wait(timeout)


def enable_for_training(device: torch.device | str) -> BuildStatus:
    """Blocking: on a CUDA device, build (or load) the kernels, self-check them and make every op
    use them; the returned status says in one line what happened (print it). On any other device
    the reference ops are what runs anyway: "not-needed", without a warning and without touching
    the process's build. Once it says "ready", every op on a CUDA tensor, in any thread, uses the
    kernels (a failed self-check leaves them off for the process)."""
    device = torch.device(device)
    if device.type != "cuda":
        return BuildStatus("not-needed", f"the {device.type} device runs the reference ops")
    if device.index is None:
        return wait_for_build()
    with torch.cuda.device(device):  # so the self-check runs on this process's GPU
        return wait_for_build()


def loaded_ops() -> FusedOps | None:
    """The kernels as callables (for benchmarks and tests), once the build is ready."""
    module = _BUILDER.module
    return FusedOps(module) if module is not None else None
