"""Check a freshly built set of kernels against the reference ops before anything uses them.

nvcc accepting the sources proves nothing about their index arithmetic, and a wrong kernel
would quietly give wrong pictures (or wrong gradients to a training run). So before
`cuda_ops.fused` registers the kernels with the dispatcher, `check_build` runs every op on a
fixed plan of small, awkward cases (`plan()`: cuda_ops.cases' tables plus seeded random draws):
forward values, shapes and dtypes, first derivatives, and second derivatives where StyleGAN2
training takes them (R1 and path-length regularisation go through bias_act and upfirdn2d).
One mismatch beyond tolerance rejects the whole build: the reference ops stay in use.

The verdict is cached next to the built extension (selfcheck.json), keyed by the extension
file's content hash, the torch version, the device name and CHECK_VERSION, so it costs once per
build and GPU model. A verdict is not cached when a check raised (out of memory while a training
job shares the GPU, say): that may not happen next time. Delete the file to check again.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import torch

from cuda_ops.cases import (BIAS_ACT_CASES, FLRELU_CASES, UPFIRDN_CASES, Measure, case_id,
                            measure_bias_act, measure_filtered_lrelu, measure_upfirdn2d,
                            random_bias_act_case, random_filtered_lrelu_case, random_upfirdn2d_case)

CHECK_VERSION = 1  # bump when the plan or the tolerances change: cached verdicts then lapse
CACHE_NAME = "selfcheck.json"
MAX_CACHED = 16  # verdicts kept per cache file (one per torch version x GPU model x build)
RANDOM_CASES = 3  # seeded random draws per op, on top of the chosen table cases

# Table cases per op (indices into cuda_ops.cases), chosen for what they exercise.
_BIAS_ACT = (0, 1, 4, 5)            # FC layer, conv + clamp, tanh on the last axis, sigmoid on axis 0
_UPFIRDN = (0, 1, 4, 6, 9, 11, 12)  # up2, down2, mixed factors + flip + negative pad, down4 + flip,
#                                     many tiles, 24 taps up4, 2-D 5x2 up4/down4 + flip
_FLRELU = (0, 1, 2, 3, 5, 6, 7)     # SG3 layer + clamp, flip + 2-D down filter, ToRGB, up4,
#                                     negative pad without down filter, many tiles, down4
_DTYPES = (torch.float32, torch.float16)  # float32: training and rendering; float16: AMP, --fp16


@dataclass(frozen=True)
class Check:
    """One case of the plan. smem_limit 1 forces the paths taken when a tile does not fit."""
    op: str
    dtype: torch.dtype
    case: tuple
    origin: str  # "table" or "random"
    grad: bool = True
    second_order: bool = False
    layout: str = "contiguous"
    smem_limit: int = 0

    def describe(self) -> str:
        extra = "" if self.layout == "contiguous" else f" {self.layout}"
        extra += " small-smem" if self.smem_limit else ""
        extra += "" if self.grad else " forward-only"
        return f"{self.op} {str(self.dtype).removeprefix('torch.')} {self.origin}{extra} {case_id(self.case)}"


def plan(seed: int = 0) -> list[Check]:
    """The cases the self-check runs: fixed for a given seed, so a verdict can be cached."""
    gen = torch.Generator().manual_seed(seed)
    bias = [(BIAS_ACT_CASES[i], "table") for i in _BIAS_ACT]
    bias += [(random_bias_act_case(gen), "random") for _ in range(RANDOM_CASES)]
    up = [(UPFIRDN_CASES[i], "table") for i in _UPFIRDN]
    up += [(random_upfirdn2d_case(gen), "random") for _ in range(RANDOM_CASES)]
    fl = [(FLRELU_CASES[i], "table") for i in _FLRELU]
    fl += [(random_filtered_lrelu_case(gen), "random") for _ in range(RANDOM_CASES)]

    checks: list[Check] = []
    for dtype in _DTYPES:
        second = dtype == torch.float32  # training's regularisers run in float32
        checks += [Check("bias_act", dtype, c, o, second_order=second) for c, o in bias]
        checks += [Check("upfirdn2d", dtype, c, o, second_order=second) for c, o in up]
        # float16 gradients of filtered_lrelu flip a few sign/clamp decisions against the float64
        # reference (the backward re-derives them from float16 values; the reference backend
        # does the same), by more than the tolerance in some random draws: gradients in float16
        # only for the table cases, whose errors are known (GPU and emulator runs).
        checks += [Check("filtered_lrelu", dtype, c, o, grad=dtype == torch.float32 or o == "table")
                   for c, o in fl]
    # The fallback paths (direct upfirdn2d, composed filtered_lrelu) and channels-last inputs.
    checks += [Check("upfirdn2d", torch.float32, c, o, smem_limit=1) for c, o in (up[0], up[-1])]
    checks += [Check("filtered_lrelu", torch.float32, c, o, smem_limit=1) for c, o in (fl[0], fl[-1])]
    checks.append(Check("upfirdn2d", torch.float16, up[0][0], "table", layout="channels_last"))
    checks.append(Check("filtered_lrelu", torch.float16, fl[0][0], "table", layout="channels_last"))
    return checks


def measure(ops: Any, device: str | torch.device, check: Check) -> list[Measure]:
    """Run one check on `ops` (a cuda_ops.fused_ops.FusedOps) with inputs on `device`."""
    if check.smem_limit:
        ops = type(ops)(ops.module, smem_limit=check.smem_limit)
    runners: dict[str, Callable[[], list[Measure]]] = {
        "bias_act": lambda: measure_bias_act(ops, str(device), check.dtype, check.case, check.layout,
                                             second_order=check.second_order),
        "upfirdn2d": lambda: measure_upfirdn2d(ops, str(device), check.dtype, check.case, check.layout,
                                               grad=check.grad, second_order=check.second_order),
        "filtered_lrelu": lambda: measure_filtered_lrelu(ops, str(device), check.dtype, check.case,
                                                         check.layout, grad=check.grad),
    }
    return runners[check.op]()


@dataclass(frozen=True)
class Verdict:
    """The outcome of one self-check. `failures`: one line per failing case."""
    passed: bool
    checks: int
    failures: tuple[str, ...] = ()
    seconds: float = 0.0
    errored: bool = False  # some check raised instead of returning numbers: not cached
    cached: bool = False

    def summary(self) -> str:
        """One line, for the app's status line and the CLI."""
        if self.passed:
            how = "cached" if self.cached else f"{self.seconds:.1f} s"
            return f"self-check passed ({self.checks} cases, {how})"
        first = self.failures[0] if self.failures else "?"
        if len(first) > 160:
            first = first[:157] + "..."
        return (f"self-check failed ({len(self.failures)} of {self.checks} cases"
                f"{', cached' if self.cached else ''}), reference ops in use; first: {first}")


def run(ops: Any, device: str | torch.device, checks: list[Check] | None = None) -> Verdict:
    """Run every check (not stopping at the first failure, so the verdict says how bad it is)."""
    checks = plan() if checks is None else checks
    start = time.perf_counter()
    failures: list[str] = []
    errored = False
    for check in checks:
        try:
            bad = [m for m in measure(ops, device, check) if not m.ok]
        except Exception as exc:  # noqa: BLE001 - a kernel that raises fails the check
            errored = True
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            failures.append(f"{check.describe()}: raised {type(exc).__name__}: {message}")
            continue
        if bad:
            failures.append(f"{check.describe()}: {bad[0]}")
    return Verdict(passed=not failures, checks=len(checks), failures=tuple(failures),
                   seconds=round(time.perf_counter() - start, 3), errored=errored)


# ------------------------------------------------------------------------------------ cache

def cache_key(extension_file: Path, device_name: str) -> str:
    """What a verdict depends on: the compiled code, the torch it runs with, the GPU model, the plan."""
    digest = hashlib.sha256(extension_file.read_bytes()).hexdigest()[:24]
    return f"{digest}|torch {torch.__version__}|{device_name}|check v{CHECK_VERSION}"


def check_build(ops: Any, device: str | torch.device, extension_file: Path | None,
                device_name: str) -> Verdict:
    """The cached verdict for this build on this device, or run the check and cache it.

    Without an extension file (a module built in memory) there is nothing to key on: it runs.
    """
    if extension_file is None or not extension_file.is_file():
        return run(ops, device)
    cache_file = extension_file.parent / CACHE_NAME
    key = cache_key(extension_file, device_name)
    entries = _read_cache(cache_file)
    known = entries.get(key)
    if isinstance(known, dict):
        try:
            return Verdict(passed=bool(known["passed"]), checks=int(known["checks"]),
                           failures=tuple(str(f) for f in known["failures"]),
                           seconds=float(known["seconds"]), cached=True)
        except (KeyError, TypeError, ValueError):
            pass  # an entry in an older layout: check again
    verdict = run(ops, device)
    if not verdict.errored:
        entry = {k: v for k, v in asdict(verdict).items() if k not in ("cached", "errored")}
        entry["failures"] = list(verdict.failures)
        entries.pop(key, None)
        entries[key] = entry
        _write_cache(cache_file, dict(list(entries.items())[-MAX_CACHED:]))
    return verdict


def _read_cache(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_cache(path: Path, entries: dict[str, Any]) -> None:
    """Temp file + rename, so a crash never leaves half a file. (cuda_ops sits below explorer/,
    so it cannot use explorer.fileio.) A folder we cannot write to only costs a re-check."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            with os.fdopen(fd, "w") as f:
                json.dump(entries, f, indent=1)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError:
        pass
