"""Where one generator forward spends its time, op by op, in the best case.

    python bench/op_profile.py [--config sg2-64] [--rounds 30] [--threads 2] [--top 30]

On a shared machine a single profiled forward mostly measures the neighbours, so this runs
`--rounds` forwards under torch.profiler and keeps, for each top-level op of the forward (by its
position in the sequence), its shortest duration. The sum of those minima is what a forward
costs when nothing gets in the way; each row adds up one kind of op (name and input shapes), with
its GFLOP/s where it is a direct convolution. The split into convolutions, matmuls (among them the
Winograd layers' products and tile transforms) and everything else (elementwise epilogues, the
Winograd tiles' copies, FIR filters) shows where bench/generator.py's "% of peak" goes. Weights and inputs are
bench/generator.py's.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import explorer  # noqa: E402,F401 - first: it sets the OpenMP wait policy the app runs with
import torch  # noqa: E402
from torch.profiler import ProfilerActivity, profile, record_function  # noqa: E402

from bench.common import print_json_line  # noqa: E402
from bench.generator import CONFIGS, make_generator  # noqa: E402

CONVS = ("mkldnn::_convolution_pointwise", "mkldnn::_convolution_transpose_pointwise",
         "aten::conv2d", "aten::conv_transpose2d", "aten::convolution")

# Winograd's products (a 36- or 16-batch bmm) and tile transforms (two mm), styles and demodulation, the mapping network, ToRGB and
# the image upsampling: the matmul bucket.
MATMULS = ("aten::bmm", "aten::baddbmm", "aten::mm", "aten::addmm", "aten::matmul")


def conv_flops(name: str, shapes: list) -> float:
    """FLOPs of a dense (groups=1) convolution from its input and weight shapes; 0 otherwise."""
    if name not in CONVS or len(shapes) < 2 or len(shapes[0]) != 4 or len(shapes[1]) != 4:
        return 0.0
    (n, c, h, w), (a, b, kh, kw) = shapes[0], shapes[1]
    out, inp = (b, a) if name == "aten::conv_transpose2d" else (a, b)  # aten: [in, out, ..]
    if inp != c:  # depthwise FIR filters and the like: not the network's FLOPs
        return 0.0
    return 2.0 * n * c * out * kh * kw * h * w


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default="sg2-64", choices=sorted(CONFIGS))
    p.add_argument("--rounds", type=int, default=30)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--top", type=int, default=30)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_grad_enabled(False)
    g = make_generator(*CONFIGS[args.config])
    z = torch.randn(1, g.z_dim, generator=torch.Generator().manual_seed(1))

    def forward() -> torch.Tensor:
        return g.synthesis(g.mapping(z, None), noise_mode="const", force_fp32=True)

    for _ in range(3):
        forward()
    walls = []
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        for i in range(args.rounds):
            with record_function(f"forward{i}"):
                t0 = time.perf_counter()
                forward()
                walls.append(1000 * (time.perf_counter() - t0))
    per_forward: dict[int, list] = defaultdict(list)
    for e in prof.events():
        parent = e.cpu_parent
        if parent is not None and parent.name.startswith("forward"):
            per_forward[int(parent.name[len("forward"):])].append(e)
    runs = [sorted(per_forward[i], key=lambda e: e.time_range.start) for i in range(args.rounds)]
    if len({len(r) for r in runs}) != 1:
        raise SystemExit("the forwards ran different op sequences; cannot line them up")
    rows: dict[tuple[str, str], dict] = {}
    for j, first in enumerate(runs[0]):
        best_ms = min(r[j].time_range.elapsed_us() for r in runs) / 1000
        key = (first.name, json.dumps(first.input_shapes[:2]))
        row = rows.setdefault(key, dict(op=first.name, shapes=key[1], calls=0, best_ms=0.0, gflop=0.0))
        row["calls"] += 1
        row["best_ms"] += best_ms
        row["gflop"] += conv_flops(first.name, first.input_shapes) / 1e9
    total = sum(r["best_ms"] for r in rows.values())
    conv_ms = sum(r["best_ms"] for r in rows.values() if r["gflop"] > 0)
    matmul_ms = sum(r["best_ms"] for r in rows.values() if r["op"] in MATMULS)
    other_ms = total - conv_ms - matmul_ms
    print(f"{args.config}, {args.threads} threads, {args.rounds} forwards: wall best "
          f"{min(walls):.1f} ms (under the profiler); sum of per-op best {total:.1f} ms = "
          f"convolutions {conv_ms:.1f} + matmuls {matmul_ms:.1f} + everything else {other_ms:.1f} ms")
    print(f"{'best ms':>8} {'calls':>5} {'GFLOP/s':>8}  op  [input shape, weight shape]")
    for r in sorted(rows.values(), key=lambda r: -r["best_ms"])[:args.top]:
        rate = f"{r['gflop'] / r['best_ms'] * 1000:8.1f}" if r["gflop"] else " " * 8
        print(f"{r['best_ms']:8.3f} {r['calls']:5d} {rate}  {r['op']}  {r['shapes']}")
    print_json_line("op_profile", {"config": args.config, "threads": args.threads,
                                   "rounds": args.rounds, "wall_best_ms": round(min(walls), 2),
                                   "sum_best_ms": round(total, 2), "conv_ms": round(conv_ms, 2),
                                   "matmul_ms": round(matmul_ms, 2), "other_ms": round(other_ms, 2)})


if __name__ == "__main__":
    main()
