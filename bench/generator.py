"""Forward latency of our generators (map + synthesis) against the machine's fp32 limit.

    python bench/generator.py [--device cpu] [--threads 1,2] [--rounds 9] [--batches 1]
                              [--configs sg2-64,sg2-256] [--no-reference]
                              [--nvidia-sg2 PATH_TO_stylegan2-ada-pytorch_checkout]
                              [--nvidia-sg3 PATH_TO_stylegan3_checkout]

In one process and interleaved round by round, so that a busy machine slows every contender
alike, it times:
  - peak:      a 2048x2048 fp32 matmul with the same thread count (the machine's reachable limit);
               on a CPU, by default for the app's render threads (a core fewer than the machine
               has: the UI keeps one) and for every core, each count against its own peak;
  - ours:      the generator as the program runs it (the CPU inference path where it applies);
  - reference: the same weights through the reference ops (`cuda_ops.dispatch.reference_only`),
               i.e. the code before the inference path, as a same-run baseline;
  - nvidia:    with --nvidia-sg2 / --nvidia-sg3, NVIDIA's own StyleGAN2 / StyleGAN3 code (a
               checkout of NVlabs/stylegan2-ada-pytorch / NVlabs/stylegan3 kept outside this
               repository) on the same weights, in float32 (num_fp16_res=0); on CPU that is
               NVIDIA's reference (non-CUDA) op path.
FLOPs per image are counted once with `torch.utils.flop_counter` on the reference path, i.e.
direct convolutions (the inference path runs through oneDNN ops the counter cannot see, and its
Winograd layers do 1/4 (F(4x4, 3x3)) or 4/9 (F(2x2, 3x3)) of those multiplies, so its GFLOP/s are
direct-convolution equivalents and can pass 100 % of the matmul peak). Each
implementation gets best and median ms, GFLOP/s and % of the peak, and speedups over the
reference and NVIDIA (best against best). Medians drift with the machine's load; best-of
times and the ratios hold. The OpenMP wait policy is printed: importing `explorer` sets
OMP_WAIT_POLICY=PASSIVE with a short spin (GOMP_SPINCOUNT=30000) unless OMP_WAIT_POLICY is set
(a GOMP_SPINCOUNT of yours is kept): run with OMP_WAIT_POLICY=ACTIVE, or GOMP_SPINCOUNT=0 (sleep
at once), to compare.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.util
import os
import statistics
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Callable, Iterator

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import explorer  # noqa: E402,F401 - first: it sets the OpenMP wait policy the app runs with
import torch  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from bench.common import print_json_line, print_table, sync  # noqa: E402
from cuda_ops.dispatch import reference_only  # noqa: E402
from explorer.devices import resolve_device  # noqa: E402
from explorer.engine.threads import default_render_threads, openmp_wait, usable_cores  # noqa: E402
from explorer.nets import build_generator  # noqa: E402

# name -> (architecture, kwargs): StyleGAN2 as in NVIDIA's paper256 config (cbase 16384, cmax 512;
# sg2-64 halves both), config-f (cbase 32768) for sg2-256f, StyleGAN3-T/R as in NVIDIA's
# training configs for 256 px and below (cbase 16384 for T, doubled for R).
CONFIGS = {
    "sg2-64": ("stylegan2", dict(img_resolution=64, channel_base=8192, channel_max=256)),
    "sg2-128": ("stylegan2", dict(img_resolution=128, channel_base=16384, channel_max=512)),
    "sg2-256": ("stylegan2", dict(img_resolution=256, channel_base=16384, channel_max=512)),
    "sg2-256f": ("stylegan2", dict(img_resolution=256, channel_base=32768, channel_max=512)),
    "sg2-512f": ("stylegan2", dict(img_resolution=512, channel_base=32768, channel_max=512)),
    "sg2-1024f": ("stylegan2", dict(img_resolution=1024, channel_base=32768, channel_max=512)),
    "sg3t-64": ("stylegan3", dict(img_resolution=64, channel_base=16384, channel_max=512)),
    "sg3t-128": ("stylegan3", dict(img_resolution=128, channel_base=16384, channel_max=512)),
    "sg3t-256": ("stylegan3", dict(img_resolution=256, channel_base=16384, channel_max=512)),
    "sg3r-64": ("stylegan3", dict(img_resolution=64, channel_base=32768, channel_max=1024,
                                  conv_kernel=1, use_radial_filters=True)),
    "sg3r-128": ("stylegan3", dict(img_resolution=128, channel_base=32768, channel_max=1024,
                                   conv_kernel=1, use_radial_filters=True)),
    "sg3r-256": ("stylegan3", dict(img_resolution=256, channel_base=32768, channel_max=1024,
                                   conv_kernel=1, use_radial_filters=True)),
}
PEAK_SIZE = 2048


def make_generator(arch: str, kw: dict) -> torch.nn.Module:
    mapping_layers = 8 if arch == "stylegan2" else 2
    kwargs = dict(z_dim=512, w_dim=512, c_dim=0, img_channels=3,
                  mapping_kwargs=dict(num_layers=mapping_layers), **kw)
    if arch == "stylegan2":
        kwargs["conv_clamp"] = 256
    torch.manual_seed(0)
    return build_generator(arch, kwargs).eval().requires_grad_(False)


NVIDIA_PACKAGES = ("training", "torch_utils", "dnnlib")


@contextlib.contextmanager
def nvidia_modules(checkout: Path) -> Iterator[None]:
    """Imports from one NVIDIA checkout. Both repositories name their packages `training`,
    `torch_utils` and `dnnlib`, so each checkout gets a clean slate for as long as its
    generator is built (its persistence decorator looks itself up by name in the meantime);
    afterwards what it imported stays alive through the objects it made."""
    ours = {k: sys.modules.pop(k) for k in list(sys.modules) if k.split(".")[0] in NVIDIA_PACKAGES}
    shim = importlib.util.find_spec("pkg_resources") is None
    if shim:  # stylegan3 imports parse_version from it; recent setuptools no longer ships it
        from packaging.version import parse
        sys.modules["pkg_resources"] = ModuleType("pkg_resources")
        sys.modules["pkg_resources"].parse_version = parse  # type: ignore[attr-defined]
    sys.path.insert(0, str(checkout))
    try:
        yield
    finally:
        sys.path.remove(str(checkout))
        if shim:
            del sys.modules["pkg_resources"]
        for k in [k for k in sys.modules if k.split(".")[0] in NVIDIA_PACKAGES]:
            del sys.modules[k]
        sys.modules.update(ours)


def nvidia_generator(arch: str, checkout: Path, ours: torch.nn.Module) -> torch.nn.Module:
    """NVIDIA's own generator (stylegan2-ada-pytorch for StyleGAN2, stylegan3 for StyleGAN3) with
    our weights and the same float16 resolutions; on CPU it runs NVIDIA's reference (non-CUDA) ops."""
    k = dict(ours.init_kwargs)
    common = dict(z_dim=k.pop("z_dim"), c_dim=k.pop("c_dim"), w_dim=k.pop("w_dim"),
                  img_resolution=k.pop("img_resolution"), img_channels=k.pop("img_channels"),
                  mapping_kwargs=k.pop("mapping_kwargs"))
    with nvidia_modules(checkout):
        if arch == "stylegan2":
            generator = importlib.import_module("training.networks").Generator
            g = generator(**common, synthesis_kwargs=dict(
                channel_base=k["channel_base"], channel_max=k["channel_max"],
                num_fp16_res=k.get("num_fp16_res", 0), conv_clamp=k["conv_clamp"]))
        else:
            generator = importlib.import_module("training.networks_stylegan3").Generator
            g = generator(**common, **k)
    g.load_state_dict(ours.state_dict())
    return g.eval().requires_grad_(False)


def peak_matmul(device: torch.device) -> tuple[Callable[[], object], float]:
    """A large fp32 matmul and its FLOP count: what this machine reaches with these threads."""
    a = torch.randn(PEAK_SIZE, PEAK_SIZE, device=device)
    b = torch.randn(PEAK_SIZE, PEAK_SIZE, device=device)
    out = torch.empty(PEAK_SIZE, PEAK_SIZE, device=device)
    return (lambda: torch.mm(a, b, out=out)), 2.0 * PEAK_SIZE ** 3


def count_flops(fn: Callable[[], object]) -> float:
    with reference_only(), FlopCounterMode(display=False) as counter:
        fn()
    return float(counter.get_total_flops())


def interleaved(fns: dict[str, Callable[[], object]], device: torch.device, rounds: int,
                warmup: int = 2) -> dict[str, dict[str, float]]:
    """First-call, best and median ms of each function, timed one call each per round in turn."""
    out: dict[str, dict[str, float]] = {}
    for name, fn in fns.items():
        t0 = time.perf_counter()
        fn()
        sync(device)
        out[name] = {"first_ms": 1000 * (time.perf_counter() - t0)}
        for _ in range(warmup - 1):
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            sync(device)
            t0 = time.perf_counter()
            fn()
            sync(device)
            times[name].append(1000 * (time.perf_counter() - t0))
    for name, ts in times.items():
        out[name].update(best_ms=min(ts), median_ms=statistics.median(ts))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", default=None,
                   help="torch thread counts to measure, e.g. 1,2 (default: the app's render threads "
                        "and every core; each count gets its own peak)")
    p.add_argument("--rounds", type=int, default=9)
    p.add_argument("--configs", default="sg2-64,sg2-256,sg3t-64,sg3r-64",
                   help="comma-separated subset of " + ",".join(CONFIGS))
    p.add_argument("--batches", default="1")
    p.add_argument("--dtypes", default="fp32",
                   help="fp32 and/or fp16 (the top four resolutions in float16; CUDA only)")
    p.add_argument("--no-reference", action="store_true", help="skip the reference-ops baseline")
    p.add_argument("--nvidia-sg2", type=Path, default=None, help="stylegan2-ada-pytorch checkout for a baseline")
    p.add_argument("--nvidia-sg3", type=Path, default=None, help="stylegan3 checkout for a baseline")
    args = p.parse_args()
    torch.set_grad_enabled(False)
    device = resolve_device(args.device)
    default_counts = {default_render_threads(), usable_cores()} if device.type == "cpu" else {usable_cores()}
    thread_counts = sorted({int(t) for t in args.threads.split(",")} if args.threads else default_counts)
    if device.type == "cuda":  # "ours" means the fused kernels once they are built and self-checked
        from cuda_ops import fused
        print(f"fused kernels: {fused.wait_for_build()}", file=sys.stderr, flush=True)
    peak_fn, peak_flops = peak_matmul(device)
    rows, peaks = [], {t: [] for t in thread_counts}
    for threads, name, dtype in ((t, n, d) for t in thread_counts for n in args.configs.split(",")
                                 for d in args.dtypes.split(",")):
        torch.set_num_threads(threads)
        if dtype == "fp16" and device.type != "cuda":
            print(f"{name} fp16: skipped (float16 layers run only on CUDA)", file=sys.stderr)
            continue
        arch, kw = CONFIGS[name]
        fp32 = dtype == "fp32"
        g = make_generator(arch, kw if fp32 else dict(kw, num_fp16_res=4)).to(device)
        checkout = args.nvidia_sg2 if arch == "stylegan2" else args.nvidia_sg3
        nvidia = nvidia_generator(arch, checkout, g).to(device) if checkout else None
        for batch in (int(b) for b in args.batches.split(",")):
            z = torch.randn(batch, 512, device=device, generator=torch.Generator(device).manual_seed(1))

            def ours() -> torch.Tensor:
                return g.synthesis(g.mapping(z, None), noise_mode="const", force_fp32=fp32)

            def reference() -> torch.Tensor:
                with reference_only():
                    return ours()

            fns: dict[str, Callable[[], object]] = {"peak": peak_fn, "ours": ours}
            if not args.no_reference:
                fns["reference"] = reference
            if nvidia is not None:
                fns["nvidia"] = lambda: nvidia.synthesis(nvidia.mapping(z, None), noise_mode="const",
                                                         force_fp32=fp32)
            gflop = count_flops(ours) / 1e9 / batch
            timed = interleaved(fns, device, args.rounds)
            peak = timed.pop("peak")
            peak_gflops = peak_flops / 1e6 / peak["best_ms"]
            peaks[threads].append((peak_gflops, peak_flops / 1e6 / peak["median_ms"]))
            for impl, t in timed.items():
                row = dict(config=name, dtype=dtype, batch=batch, threads=threads, impl=impl,
                           gflop_per_img=round(gflop, 2),
                           first_ms=round(t["first_ms"], 1), best_ms=round(t["best_ms"], 1),
                           median_ms=round(t["median_ms"], 1))
                for stat in ("best", "median"):
                    gflops = gflop * batch / t[f"{stat}_ms"] * 1000
                    row[f"gflops_{stat}"] = round(gflops, 1)
                    # % of the peak measured alongside (best against best, median against median)
                    peak_stat = peak_gflops if stat == "best" else peaks[threads][-1][1]
                    row[f"pct_peak_{stat}"] = round(100 * gflops / peak_stat, 1)
                for base in ("reference", "nvidia"):
                    if base in timed and base != impl:
                        row[f"x_vs_{base}"] = round(timed[base]["best_ms"] / t["best_ms"], 2)
                rows.append(row)
                print(row, file=sys.stderr, flush=True)
    best_peak = {t: round(max(b for b, _ in ps), 1) for t, ps in peaks.items() if ps}
    policy = openmp_wait()
    for t, ps in peaks.items():
        if ps:
            print(f"device {device.type}, {t} thread(s), OpenMP wait {policy}; fp32 peak "
                  f"({PEAK_SIZE}^2 matmul): best {best_peak[t]:.1f} GFLOP/s, median "
                  f"{statistics.median(m for _, m in ps):.1f} GFLOP/s")
    print_table(rows, ["config", "dtype", "batch", "threads", "impl", "gflop_per_img", "first_ms", "best_ms", "median_ms",
                       "gflops_best", "gflops_median", "pct_peak_best", "pct_peak_median",
                       "x_vs_reference", "x_vs_nvidia"])
    print_json_line("generator", {"device": device.type, "threads": thread_counts,
                                  "omp_wait_policy": policy, "peak_gflops_best": best_peak,
                                  "rows": rows})


if __name__ == "__main__":
    main()
