"""Video export on this machine: frames per second rendered in batches against one at a time, and
what each encoder costs per frame.

    python bench/video.py [--model assets/model.safetensors] [--frames 48] [--size 512] [--threads 2]

The path is a seed walk of the shipped model (or any checkpoint). "render" is mapping + synthesis
of every frame at the model's resolution; the baseline renders the same frames one per call
(`render_state`, as the app does), interleaved with the batched runs; "encode" runs each writer
on the rendered frames scaled to --size (Lanczos, as the exporter does). Nothing is kept.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import explorer  # noqa: E402 - first: it sets the OpenMP wait policy the app runs with
import torch  # noqa: E402

from bench.common import print_json_line, print_table  # noqa: E402
from explorer.engine import render_state  # noqa: E402
from explorer.latent.state import LatentState  # noqa: E402
from explorer.video import VideoPath, path_frames, render_frames  # noqa: E402
from explorer.video.encode import FrameFolderWriter, open_writer  # noqa: E402
from explorer.video.frames import fit_size  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=str(REPO / "assets" / "model.safetensors"))
    p.add_argument("--frames", type=int, default=48)
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_grad_enabled(False)
    model = explorer.load(args.model, device="cpu")
    keys = [LatentState(seed=s, psi=0.7) for s in (0, 5, 9)]
    path = VideoPath.uniform(keys, max(1, args.frames // len(keys)), loop=True)
    frames = list(path_frames(model, path))
    batched, single = [], []
    for _ in range(args.rounds):  # interleaved, so a busy neighbour slows both alike
        t0 = time.perf_counter()
        rgbs = render_frames(model, frames, args.batch)
        batched.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        for f in frames:
            render_state(model, f.state)
        single.append(time.perf_counter() - t0)
    n = len(frames)
    rows = [dict(stage="render", what=f"batch {args.batch}", fps=round(n / min(batched), 1),
                 ms_per_frame=round(1000 * statistics.median(batched) / n, 1)),
            dict(stage="render", what="one per call (baseline)", fps=round(n / min(single), 1),
                 ms_per_frame=round(1000 * statistics.median(single) / n, 1))]
    t0 = time.perf_counter()
    scaled = [fit_size(rgb, args.size) for rgb in rgbs]
    rows.append(dict(stage="scale", what=f"{model.resolution} -> {args.size} px Lanczos",
                     fps=round(n / (time.perf_counter() - t0), 1),
                     ms_per_frame=round(1000 * (time.perf_counter() - t0) / n, 1)))
    with tempfile.TemporaryDirectory() as tmp:
        for fmt in ("mp4", "gif", "png"):
            t0 = time.perf_counter()
            writer = FrameFolderWriter(Path(tmp), True) if fmt == "png" else \
                open_writer(fmt, Path(tmp) / f"bench.{fmt}", 30 if fmt == "mp4" else 25, args.size)
            for rgb in scaled:
                writer.write(rgb)
            writer.close()
            seconds = time.perf_counter() - t0
            rows.append(dict(stage="encode", what=f"{fmt} {args.size} px", fps=round(n / seconds, 1),
                             ms_per_frame=round(1000 * seconds / n, 1)))
    print_table(rows, ["stage", "what", "fps", "ms_per_frame"])
    print_json_line("video", {"model": Path(args.model).name, "resolution": model.resolution, "frames": n,
                              "size": args.size, "threads": args.threads,
                              "batch_speedup": round(min(single) / min(batched), 2), "rows": rows})


if __name__ == "__main__":
    main()
