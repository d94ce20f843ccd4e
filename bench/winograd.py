"""Which route each 3x3 modulated conv of the CPU path should take: the measurements behind
`sg2_fast.winograd_tile`.

    python bench/winograd.py [--threads 1,2] [--rounds 15] [--channels 64,128,256,512] [--sizes 8,16,32,64,128]

For each (channels, map size) it times, interleaved round by round, batch 1 with the input
styles, demodulation and bias applied as the fast path does: oneDNN's direct conv on a weight
packed once, F(2x2, 3x3) and F(4x4, 3x3) Winograd. It prints the best ms of each, the fastest
route, the route `winograd_tile` picks, and each route's largest error against a float64 conv
(relative to the output's largest value).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import explorer  # noqa: E402,F401 - first: it sets the OpenMP wait policy the app runs with
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from bench.common import print_json_line, print_table  # noqa: E402
from explorer.nets import sg2_fast  # noqa: E402

ONE = [1, 1]


class _Layer:
    """What `winograd_tile` reads of a layer: its weight's shape and its padding."""

    def __init__(self, weight: torch.Tensor) -> None:
        self.weight, self.padding = weight, 1


def routes(channels: int, size: int) -> tuple[dict, torch.Tensor, torch.Tensor]:
    """The three routes as closures over one random layer, and the float64 answer."""
    gen = torch.Generator().manual_seed(channels * 1000 + size)
    x = torch.randn(1, channels, size, size, generator=gen).contiguous(memory_format=torch.channels_last)
    w = torch.randn(channels, channels, 3, 3, generator=gen) / (9 * channels) ** 0.5
    s_in = torch.rand(1, channels, generator=gen) + 0.5
    s_out = torch.rand(1, channels, generator=gen) + 0.5
    bias = torch.randn(channels, generator=gen)
    packed = torch._C._nn.mkldnn_reorder_conv2d_weight(w.to_mkldnn(), ONE, ONE, ONE, 1, list(x.shape))

    def direct() -> torch.Tensor:
        y = torch.ops.mkldnn._convolution_pointwise(x * s_in.reshape(1, -1, 1, 1), packed, None, ONE,
                                                    ONE, ONE, 1, "none", [], "")
        return y.mul_(s_out.reshape(1, -1, 1, 1)).add_(bias.reshape(1, -1, 1, 1))

    fns = {"direct": direct}
    for m in (2, 4):
        if size % m == 0:
            u = sg2_fast.winograd_weight(w, m)
            transforms = sg2_fast._tile_transforms(m, x.dtype, x.device)
            fns[f"F{m}"] = (lambda u=u, t=transforms:
                            sg2_fast.winograd_conv3x3(x, u, s_in, s_out, bias, t))
    exact = F.conv2d((x * s_in.reshape(1, -1, 1, 1)).double(), w.double(), padding=1)
    exact = exact * s_out.reshape(1, -1, 1, 1).double() + bias.reshape(1, -1, 1, 1).double()
    return fns, exact, w


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", default="1,2")
    p.add_argument("--rounds", type=int, default=15)
    p.add_argument("--channels", default="64,128,256,512")
    p.add_argument("--sizes", default="8,16,32,64,128")
    args = p.parse_args()
    torch.set_grad_enabled(False)
    rows = []
    for threads in (int(t) for t in args.threads.split(",")):
        torch.set_num_threads(threads)
        for channels in (int(c) for c in args.channels.split(",")):
            for size in (int(s) for s in args.sizes.split(",")):
                fns, exact, w = routes(channels, size)
                scale = exact.abs().max().item()
                errors = {k: (f().double() - exact).abs().max().item() / scale for k, f in fns.items()}
                best = {k: float("inf") for k in fns}
                for _ in range(args.rounds):
                    for name, fn in fns.items():
                        t0 = time.perf_counter()
                        fn()
                        best[name] = min(best[name], time.perf_counter() - t0)
                tile = sg2_fast.winograd_tile(_Layer(w), torch.empty(1, channels, size, size))
                row = dict(threads=threads, channels=channels, size=size,
                           fastest=min(best, key=best.get), chosen=f"F{tile}" if tile else "direct")
                for name in ("direct", "F2", "F4"):
                    if name in best:
                        row[f"{name}_ms"] = round(1000 * best[name], 3)
                        row[f"{name}_err"] = float(f"{errors[name]:.1e}")
                row["chosen_vs_fastest"] = round(row[f"{row['chosen']}_ms"] / row[f"{row['fastest']}_ms"], 2)
                rows.append(row)
                print(row, file=sys.stderr, flush=True)
    print_table(rows, ["threads", "channels", "size", "direct_ms", "F2_ms", "F4_ms", "fastest", "chosen",
                       "chosen_vs_fastest", "direct_err", "F2_err", "F4_err"])
    print_json_line("winograd", {"rows": rows})


if __name__ == "__main__":
    main()
