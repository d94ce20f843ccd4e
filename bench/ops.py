"""Per-op latency of the hot-path ops: PyTorch reference vs our fused CUDA kernels, and vs
torch.compile of the reference, forward and forward+backward, at StyleGAN2/3 layer shapes.

    python bench/ops.py [--device auto|cpu|cuda] [--dtypes fp32,fp16] [--repeats 20]
                        [--batch 8] [--no-compile] [--ops bias_act,upfirdn2d,filtered_lrelu]

On CUDA it builds the kernels first (cuda_ops.fused; the first run compiles them, minutes).
On CPU only the reference runs: the fused kernels need CUDA.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Callable

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import median_seconds, print_json_line, print_table  # noqa: E402
from cuda_ops import bias_act, dispatch, filtered_lrelu, fused, upfirdn2d  # noqa: E402
from cuda_ops.upfirdn2d import setup_filter  # noqa: E402
from explorer.devices import resolve_device  # noqa: E402

DTYPES = {"fp32": torch.float32, "fp16": torch.float16}


def lowpass(taps: int) -> torch.Tensor:
    """A windowed-sinc lowpass (1-D, separable) like StyleGAN3's, cutoff at half band."""
    n = torch.arange(taps, dtype=torch.float64) - (taps - 1) / 2
    h = torch.special.sinc(n / 2) * torch.kaiser_window(taps, periodic=False, beta=6.0, dtype=torch.float64)
    return setup_filter(h.float(), separable=True)


def radial(taps: int) -> torch.Tensor:
    """A 2-D radially symmetric lowpass like StyleGAN3-R's down filters."""
    n = torch.arange(taps, dtype=torch.float64) - (taps - 1) / 2
    r = torch.sqrt(n[:, None] ** 2 + n[None, :] ** 2)
    w = torch.kaiser_window(taps, periodic=False, beta=6.0, dtype=torch.float64)
    h = torch.special.sinc(r / 2) * torch.outer(w, w)
    return setup_filter(h.float())


# name -> (op, shape at batch 1 (N replaced by --batch), builder of the call given x).
def cases(device: torch.device) -> list[tuple[str, str, tuple[int, ...], Callable]]:
    sg2 = setup_filter([1, 3, 3, 1], device=device)
    lp12 = lowpass(12).to(device)
    lp24 = lowpass(24).to(device)
    rad12 = radial(12).to(device)
    b512 = torch.randn(512, device=device) * 0.1
    b256 = torch.randn(256, device=device) * 0.1
    return [
        ("bias_act", "sg2 conv lrelu+clamp", (512, 64, 64),
         lambda x: bias_act(x, b512.to(x.dtype), act="lrelu", clamp=256)),
        ("bias_act", "mapping fc lrelu", (512,),
         lambda x: bias_act(x, b512.to(x.dtype), act="lrelu")),
        ("upfirdn2d", "sg2 up2 4x4 (conv0)", (256, 129, 129),
         lambda x: upfirdn2d(x, sg2, padding=[1, 1, 1, 1], gain=4)),
        ("upfirdn2d", "sg2 upsample2d (skip rgb)", (256, 64, 64),
         lambda x: upfirdn2d(x, sg2, up=2, padding=[2, 1, 2, 1], gain=4)),
        ("upfirdn2d", "sg2 downsample2d (D)", (256, 128, 128),
         lambda x: upfirdn2d(x, sg2, down=2, padding=[1, 1, 1, 1])),
        ("upfirdn2d", "1-D 24 taps up4", (128, 36, 36),
         lambda x: upfirdn2d(x, lp24, up=4, padding=[12, 11, 12, 11], gain=16)),
        ("filtered_lrelu", "sg3-T 2x/2x 12 taps", (256, 84, 84),
         lambda x: filtered_lrelu(x, lp12, lp12, b256.to(x.dtype), up=2, down=2,
                                  padding=[11, 10, 11, 10], gain=math.sqrt(2), slope=0.2, clamp=256)),
        ("filtered_lrelu", "sg3-R radial down", (256, 84, 84),
         lambda x: filtered_lrelu(x, lp12, rad12, b256.to(x.dtype), up=2, down=2,
                                  padding=[11, 10, 11, 10], gain=math.sqrt(2), slope=0.2, clamp=256)),
        ("filtered_lrelu", "sg3 toRGB (no filters)", (3, 256, 256),
         lambda x: filtered_lrelu(x, None, None, torch.zeros(3, device=device, dtype=x.dtype),
                                  gain=1.0, slope=1.0, clamp=256)),
    ]


def time_pass(fn: Callable, x: torch.Tensor, backward: bool, device: torch.device, repeats: int,
              reference: bool) -> float:
    """Median milliseconds of fn(x) (and its backward) under the reference or the fused path."""
    def run() -> None:
        if backward:
            xl = x.detach().requires_grad_(True)
            y = fn(xl)
            y.backward(torch.ones_like(y))
        else:
            with torch.no_grad():
                fn(x)

    if reference:
        with dispatch.reference_only():
            return median_seconds(run, device, repeats=repeats, warmup=3) * 1e3
    return median_seconds(run, device, repeats=repeats, warmup=3) * 1e3


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="auto")
    p.add_argument("--dtypes", default="fp32,fp16")
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--batch", type=int, default=None, help="default 8 on CUDA, 1 on CPU")
    p.add_argument("--threads", type=int, default=2, help="CPU threads")
    p.add_argument("--no-compile", action="store_true", help="skip the torch.compile column")
    p.add_argument("--ops", default="bias_act,upfirdn2d,filtered_lrelu")
    args = p.parse_args()

    device = resolve_device(args.device)
    torch.set_num_threads(args.threads)
    on_cuda = device.type == "cuda"
    batch = args.batch or (8 if on_cuda else 1)
    dtypes = [DTYPES[d] for d in args.dtypes.split(",")] if on_cuda else [torch.float32]
    wanted = set(args.ops.split(","))

    status = fused.wait_for_build() if on_cuda else fused.BuildStatus("not-needed", "needs CUDA")
    use_fused = status.ready
    use_compile = on_cuda and not args.no_compile
    if not on_cuda:
        print("fused kernels need CUDA: timing the PyTorch reference only")
    elif not use_fused:
        print(f"fused kernels unavailable ({status}): timing the reference only")

    rows = []
    for op, name, shape, fn in cases(device):
        if op not in wanted:
            continue
        for dtype in dtypes:
            torch.manual_seed(0)
            x = torch.randn((batch, *shape), device=device, dtype=dtype)
            compiled = torch.compile(fn) if use_compile else None
            for backward in (False, True):
                row = {"op": op, "case": name, "shape": "x".join(map(str, (batch, *shape))),
                       "dtype": str(dtype).removeprefix("torch."), "pass": "fwd+bwd" if backward else "fwd"}
                row["ref_ms"] = round(time_pass(fn, x, backward, device, args.repeats, True), 4)
                if compiled is not None:
                    try:
                        ms = time_pass(compiled, x, backward, device, args.repeats, True)
                        row["compile_ms"] = round(ms, 4)
                    except Exception as exc:  # noqa: BLE001 - report and keep benchmarking
                        row["compile_ms"] = f"error: {type(exc).__name__}"
                if use_fused:
                    assert dispatch.fused_kernel(op, x) is not None
                    row["fused_ms"] = round(time_pass(fn, x, backward, device, args.repeats, False), 4)
                    row["speedup"] = round(row["ref_ms"] / row["fused_ms"], 2)
                rows.append(row)

    columns = ["op", "case", "shape", "dtype", "pass", "ref_ms"]
    columns += (["compile_ms"] if use_compile else []) + (["fused_ms", "speedup"] if use_fused else [])
    print_table(rows, columns)
    print_json_line("ops", {"device": torch.cuda.get_device_name(device) if on_cuda else "cpu",
                            "fused": {"state": status.state, "message": status.message},
                            "torch": torch.__version__, "rows": rows})


if __name__ == "__main__":
    main()
