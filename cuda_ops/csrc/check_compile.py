"""Prove that the CUDA extension's sources compile, on a machine without a GPU.

    .venv/bin/python cuda_ops/csrc/check_compile.py [--arch 80 --arch 90] [--ptxas-info]

Compiles every .cu file with nvcc to an object file (device code for each --arch, default
sm_80 and sm_90) with the flags torch.utils.cpp_extension uses for a real build, and the host
binding (bindings.cpp) with the host C++ compiler. Linking and running need a CUDA build of
torch and a GPU (see tests/test_cuda_ops.py).

A CPU-only torch wheel ships the c10/cuda headers but not the one CMake-generated header they
include (c10/cuda/impl/cuda_cmake_macros.h); the script stands in a copy with the content a CUDA
build generates (a single define) when it is missing.

Exit status 0 when everything compiled; the last line says what was checked.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

CSRC = Path(__file__).resolve().parent
CU_SOURCES = ["bias_act.cu", "upfirdn2d.cu", "filtered_lrelu.cu"]
HOST_SOURCES = ["bindings.cpp"]
NAME = "explorer_fused_ops"


def find_nvcc() -> str | None:
    for candidate in (os.environ.get("NVCC"), shutil.which("nvcc"),
                      os.path.join(os.environ.get("CUDA_HOME", "/usr/local/cuda"), "bin", "nvcc")):
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def torch_includes() -> list[str]:
    from torch.utils import cpp_extension

    dirs = list(cpp_extension.include_paths())
    py = sysconfig.get_path("include", scheme="posix_prefix")
    if py:
        dirs.append(py)
    return dirs


def cmake_macros_shim(includes: list[str], scratch: Path) -> list[str]:
    """An include dir holding c10/cuda/impl/cuda_cmake_macros.h if torch lacks it."""
    rel = Path("c10/cuda/impl/cuda_cmake_macros.h")
    if any((Path(d) / rel).is_file() for d in includes):
        return []
    shim = scratch / "shim"
    (shim / rel).parent.mkdir(parents=True, exist_ok=True)
    (shim / rel).write_text("#pragma once\n#define C10_CUDA_BUILD_SHARED_LIBS\n")
    return [str(shim)]


def run(cmd: list[str]) -> tuple[int, str, float]:
    t0 = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    return proc.returncode, (proc.stdout + proc.stderr).strip(), time.monotonic() - t0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", action="append", default=None,
                        help="compute capability without the dot (repeatable; default 80 and 90)")
    parser.add_argument("--ptxas-info", action="store_true",
                        help="print registers and shared memory per kernel (ptxas -v)")
    parser.add_argument("--print-commands", action="store_true")
    args = parser.parse_args(argv)
    archs = args.arch or ["80", "90"]

    nvcc = find_nvcc()
    if nvcc is None:
        print("SKIP: nvcc not found (set NVCC or CUDA_HOME)")
        return 77
    cxx = os.environ.get("CXX", "c++")
    from torch.utils.cpp_extension import COMMON_NVCC_FLAGS

    failures = []
    with tempfile.TemporaryDirectory(prefix="sgops-check-") as tmp:
        scratch = Path(tmp)
        includes = torch_includes()
        shim = cmake_macros_shim(includes, scratch)
        common = [f"-DTORCH_EXTENSION_NAME={NAME}", "-DTORCH_API_INCLUDE_EXTENSION_H",
                  f"-I{CSRC}"] + [f"-I{d}" for d in shim] + [a for d in includes for a in ("-isystem", d)]
        gencode = [f"-gencode=arch=compute_{a},code=sm_{a}" for a in archs]
        for src in CU_SOURCES:
            cmd = [nvcc, "-c", str(CSRC / src), "-o", str(scratch / (src + ".o")), *common,
                   *COMMON_NVCC_FLAGS, *gencode, "--compiler-options", "-fPIC", "-O3",
                   "-std=c++20"]
            if args.ptxas_info:
                cmd.append("-Xptxas=-v")
            if args.print_commands:
                print(" ".join(cmd))
            rc, out, secs = run(cmd)
            print(f"{'ok  ' if rc == 0 else 'FAIL'} nvcc {src} (sm_{', sm_'.join(archs)}) {secs:.0f}s")
            if out and (rc != 0 or args.ptxas_info):
                print(out)
            elif out:
                print("\n".join("    " + line for line in out.splitlines()[:20]))
            if rc != 0:
                failures.append(src)
        for src in HOST_SOURCES:
            cmd = [cxx, "-c", str(CSRC / src), "-o", str(scratch / (src + ".o")), *common,
                   "-fPIC", "-O1", "-std=c++20", "-Wall", "-Wextra"]
            if args.print_commands:
                print(" ".join(cmd))
            rc, out, secs = run(cmd)
            print(f"{'ok  ' if rc == 0 else 'FAIL'} {Path(cxx).name} {src} {secs:.0f}s")
            if out:
                print(out if rc != 0 else "\n".join("    " + line for line in out.splitlines()[:20]))
            if rc != 0:
                failures.append(src)

    checked = len(CU_SOURCES) + len(HOST_SOURCES)
    if failures:
        print(f"FAILED: {', '.join(failures)} ({len(failures)} of {checked} sources)")
        return 1
    print(f"OK: {checked} sources compile (nvcc {nvcc_version(nvcc)}, sm_{', sm_'.join(archs)}; "
          f"shim for cuda_cmake_macros.h: {'yes' if shim else 'no'})")
    return 0


def nvcc_version(nvcc: str) -> str:
    rc, out, _ = run([nvcc, "--version"])
    for line in out.splitlines():
        if "release" in line:
            return line.split("release", 1)[1].split(",")[0].strip()
    return "?"


if __name__ == "__main__":
    sys.exit(main())
