"""Incremental frames and previews, headless: what each kind of slider move costs against a full render.

    python bench/incremental.py [--configs sg2-64,sg2-256] [--rounds 7] [--threads 2]

For each kind of slider move, two states that differ only in that slider are rendered in turn,
incrementally (`render_ws` with a kept `SynthesisResume`, as the render thread does) and from
scratch, interleaved round by round; the ratio of best times is the speedup. "coarse preview" is
the time until the preview of a coarse change (psi) is ready, against its full render. Weights are
bench/generator.py's (random, same shapes as NVIDIA's configs).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import explorer  # noqa: E402,F401 - first: it sets the OpenMP wait policy the app runs with
import torch  # noqa: E402

from bench.common import print_json_line, print_table  # noqa: E402
from bench.generator import CONFIGS, make_generator  # noqa: E402
from explorer.engine.mapping_cache import MappingCache  # noqa: E402
from explorer.engine.render import PREVIEW_RESOLUTION, render_preview, render_ws  # noqa: E402
from explorer.latent.state import DirectionEdit, LatentState  # noqa: E402
from explorer.model import Model  # noqa: E402
from explorer.nets.resume import SynthesisResume  # noqa: E402


class OneDirection:
    def __init__(self, w_dim: int) -> None:
        self.vector = torch.nn.functional.normalize(torch.randn(w_dim, generator=torch.Generator().manual_seed(3)), dim=0)

    def direction(self, set_name: str, index: int) -> tuple[torch.Tensor, float]:
        return self.vector, 1.0


def slider_pairs(model: Model) -> dict[str, tuple[LatentState, LatentState]]:
    """Two states per slider kind, differing only in that slider."""
    synthesis = model.generator.synthesis
    res = synthesis.block_resolutions
    # First W+ row labelled with resolution >= r (a block's conv0 row is its ToRGB's before it).
    first_row = {r: min(i for i, rr in enumerate(synthesis.ws_resolutions()) if rr >= r) for r in res}
    n = model.num_ws
    base = LatentState(seed=1, mix_seed=2, mix_weights=(0.0,) * n)

    def mix_from(row: int, v: float) -> LatentState:
        return base.replace(mix_weights=(0.0,) * row + (v,) * (n - row))

    last, fine = res[-1], res[max(len(res) - 3, 0)]
    pairs = {
        f"last-res rows ({last} px)": (mix_from(first_row[last], 0.2), mix_from(first_row[last], 0.8)),
        f"last-res rows+noise ({last} px)": (
            mix_from(first_row[last], 0.2).replace(noise_gains=((last, 0.5),)),
            mix_from(first_row[last], 0.8).replace(noise_gains=((last, 1.5),))),
        f"fine rows (>= {fine} px)": (mix_from(first_row[fine], 0.3), mix_from(first_row[fine], 0.7)),
        f"noise of {res[-2]} px": (base.replace(noise_gains=((res[-2], 0.2),)),
                                   base.replace(noise_gains=((res[-2], 1.8),))),
        f"edit on rows >= {fine} px": tuple(
            base.replace(edits=(DirectionEdit("bench", 0, s, layer_start=first_row[fine]),))
            for s in (-1.0, 1.0)),
        "layer view": (base.replace(view_layer=f"b{res[-2]}.conv1"), base.replace(view_layer=f"b{res[-3]}.conv0")),
        "coarse (psi)": (base.replace(psi=0.6), base.replace(psi=0.7)),
    }
    return pairs


def timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return 1000 * (time.perf_counter() - t0)


def measure(model: Model, a: LatentState, b: LatentState, rounds: int, preview: bool) -> dict[str, float]:
    cache, resume, directions = MappingCache(), SynthesisResume(), OneDirection(model.w_dim)
    ws = {s: cache.state_ws(model, s, directions) for s in (a, b)}

    def incremental(s: LatentState) -> None:
        if preview:
            render_preview(model, s, ws[s], PREVIEW_RESOLUTION, resume=resume)
        else:
            render_ws(model, s, ws[s], resume=resume)

    def full(s: LatentState) -> None:
        render_ws(model, s, ws[s])

    for s in (a, b, a):  # warm-up; leaves `a` kept, so the first timed incremental render is `b`
        incremental(s)
        full(s)
    inc, ful = [], []
    for k in range(rounds):
        s = (b, a)[k % 2]
        inc.append(timed(lambda: incremental(s)))
        ful.append(timed(lambda: full(s)))
    return dict(full_best_ms=min(ful), full_median_ms=statistics.median(ful), incr_best_ms=min(inc),
                incr_median_ms=statistics.median(inc), first_stage=resume.last_start)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--configs", default="sg2-64,sg2-256")
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_grad_enabled(False)
    rows = []
    for name in args.configs.split(","):
        model = Model(make_generator(*CONFIGS[name]), None, format="bench", source=name)
        for kind, (a, b) in slider_pairs(model).items():
            preview = kind.startswith("coarse")
            m = measure(model, a, b, args.rounds, preview)
            row = dict(config=name, slider=kind + (" -> preview" if preview else ""),
                       **{k: round(v, 1) for k, v in m.items()},
                       speedup_best=round(m["full_best_ms"] / m["incr_best_ms"], 2),
                       speedup_median=round(m["full_median_ms"] / m["incr_median_ms"], 2))
            rows.append(row)
            print(row, file=sys.stderr, flush=True)
    print_table(rows, ["config", "slider", "first_stage", "full_best_ms", "full_median_ms", "incr_best_ms",
                       "incr_median_ms", "speedup_best", "speedup_median"])
    print_json_line("incremental", {"threads": args.threads, "rows": rows})


if __name__ == "__main__":
    main()
