"""Frames per second of the render thread against the bare synthesis rate, headless.

    python bench/render_fps.py [--device auto] [--configs sg2-1024f] [--dtypes fp32,fp16]
                               [--seconds 5] [--batch-warmup 3]

For each generator (bench/generator.py's configs, random weights) and precision it measures, one
after the other on the same warm device:
  - synth:  `Model.synthesize` of a fixed W+ in a loop (what the network alone allows; on a GPU
            the next call's launches overlap the previous call's kernels);
  - synth_sync: the same, waiting for each image (no overlap, as a frame that is read back);
  - render: `render_state` of a new psi each call (W+ composition + synthesis + RGBA readback);
  - thread: the app's `RenderThread`, driven as a slider drag that keeps up: a new state is
            submitted as soon as the previous one's frame is published.
thread_over_synth is the share of the network's rate that reaches the screen side (issue 16's
goal at 1024 px: within 10 %, i.e. >= 0.9). fp16 runs the top four resolutions in float16 and
only on CUDA (on a CPU it is skipped).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import explorer  # noqa: E402,F401 - first: it sets the OpenMP wait policy the app runs with
import torch  # noqa: E402

from bench.common import print_json_line, print_table, sync  # noqa: E402
from bench.generator import CONFIGS, make_generator  # noqa: E402
from explorer.devices import resolve_device  # noqa: E402
from explorer.engine.events import ErrorEvent, ModelLoaded  # noqa: E402
from explorer.engine.render import render_state  # noqa: E402
from explorer.engine.render_thread import RenderThread  # noqa: E402
from explorer.latent.state import LatentState  # noqa: E402
from explorer.model import Model  # noqa: E402

FP16_RESOLUTIONS = 4  # as NVIDIA's training configs run the generator


def rate(fn, device: torch.device, seconds: float, warmup: int) -> float:
    """Calls per second of `fn` over `seconds` after `warmup` calls (device synchronised)."""
    for _ in range(warmup):
        fn(0)
    sync(device)
    calls, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        fn(calls + 1)
        calls += 1
    sync(device)
    return calls / (time.perf_counter() - start)


def thread_rate(model: Model, device: torch.device, fp16: bool, seconds: float, warmup: int) -> float:
    """Published frames per second of a RenderThread fed one new state per published frame."""
    thread = RenderThread(device=str(device), fp16=fp16, nice=0)
    thread.start()
    try:
        thread.load_model(model)
        deadline = time.perf_counter() + 600
        while not any(isinstance(e, ModelLoaded) for e in _events(thread)):
            if time.perf_counter() > deadline:
                raise RuntimeError("the render thread did not load the model")
            time.sleep(0.005)
        shown, submitted, start = 0, 0, None
        thread.submit(LatentState(seed=1, psi=0.5))
        while True:
            frame = thread.latest_frame()
            if frame is not None and not frame.preview and frame.serial != shown:
                shown = frame.serial
                submitted += 1
                if submitted == warmup:
                    start, counted = time.perf_counter(), 0
                elif start is not None:
                    counted += 1
                    if time.perf_counter() - start >= seconds:
                        return counted / (time.perf_counter() - start)
                thread.submit(LatentState(seed=1, psi=0.5 + 0.001 * submitted))
            time.sleep(0.0005)
    finally:
        thread.stop()


def _events(thread: RenderThread) -> list:
    events = thread.poll_events()
    for e in events:
        if isinstance(e, ErrorEvent):
            raise RuntimeError(f"render thread: {e}")
    return events


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="auto")
    p.add_argument("--configs", default="sg2-1024f", help="comma-separated subset of " + ",".join(CONFIGS))
    p.add_argument("--dtypes", default="fp32,fp16")
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--warmup", type=int, default=3)
    args = p.parse_args()
    torch.set_grad_enabled(False)
    device = resolve_device(args.device)
    if device.type == "cuda":
        from cuda_ops import fused
        print(f"fused kernels: {fused.wait_for_build()}", file=sys.stderr, flush=True)
    rows = []
    for name in args.configs.split(","):
        arch, kw = CONFIGS[name]
        model = Model(make_generator(arch, dict(kw, num_fp16_res=FP16_RESOLUTIONS)), None, format="random",
                      source=f"random {name}").to(device)
        ws = model.map(model.z_from_seed(1))
        for dtype in args.dtypes.split(","):
            fp16 = dtype == "fp16"
            if fp16 and device.type != "cuda":
                print(f"{name} fp16: skipped (float16 layers run only on CUDA)", file=sys.stderr)
                continue
            synth = rate(lambda i: model.synthesize(ws, force_fp32=not fp16), device, args.seconds, args.warmup)
            synth_sync = rate(lambda i: (model.synthesize(ws, force_fp32=not fp16), sync(device)),
                              device, args.seconds, args.warmup)
            render = rate(lambda i: render_state(model, LatentState(seed=1, psi=0.5 + 0.001 * i),
                                                 force_fp32=not fp16), device, args.seconds, args.warmup)
            threaded = thread_rate(model, device, fp16, args.seconds, args.warmup)
            row = dict(config=name, dtype=dtype, synth_fps=round(synth, 1),
                       synth_sync_fps=round(synth_sync, 1), render_fps=round(render, 1),
                       thread_fps=round(threaded, 1), thread_over_synth=round(threaded / synth, 3))
            rows.append(row)
            print(row, file=sys.stderr, flush=True)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    print(f"device: {name}")
    print_table(rows, ["config", "dtype", "synth_fps", "synth_sync_fps", "render_fps", "thread_fps", "thread_over_synth"])
    print_json_line("render_fps", {"device": name, "rows": rows})


if __name__ == "__main__":
    main()
