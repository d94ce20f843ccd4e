"""App responsiveness on CPU: UI frame time while the render thread works, and the latency from a
slider change to the new picture on screen, for a 64 px and a 256 px StyleGAN2 (random weights,
bench/generator.py's sg2-64 and sg2-256: 3.9 and 30 GFLOP per image).

Runs the real window (Xvfb is started when there is no display) driven by the Dear ImGui Test
Engine. Baselines from the same run make the numbers comparable across machines:
  - ui_busy_over_idle: UI frame time during a psi drag / idle (1.0 = rendering costs the UI nothing)
  - renders_per_s, previews_per_s: final frames and 32 px previews the render thread finished
    per second of the drag (the drag changes psi every UI frame: latest wins, the rest drop);
    drag_render_ms: the render thread's median time for one of those final frames
  - latency_ms: slider-to-screen time of a coarse change (psi) until its final frame;
    latency_over_render: that over the headless full render time (render_ms)
  - preview_latency_ms: the same change until its first picture (a preview when the full frame
    takes over 100 ms); preview_speedup = latency_ms / preview_latency_ms
  - fine_edit_latency_ms: a change of the last resolution's mixing rows until its final frame
    (incremental: only the last block runs); fine_edit_speedup = latency_ms / fine_edit_latency_ms
  - overhead_ms: coarse latency minus the render thread's own time for that frame (mailbox,
    upload, waiting for the next UI frame)
  - idle_latency_ms, idle_preview_latency_ms, idle_preview_speedup: the same coarse change as the
    app runs without the test engine (which keeps every frame going): the UI sleeps between
    events and the published frame wakes it; idle_ui_frames: UI frames drawn meanwhile
Under Xvfb the UI's frames are drawn by Mesa's llvmpipe; the window gives its rasterizer the
cores the render thread leaves to the UI (LP_NUM_THREADS, see `give_software_gl_the_ui_cores`),
as the app does; a value set by the caller wins, and the JSON line records it.
--nice takes a comma list (render thread priority offsets, 0 = none) measured in turn in one run.

Each row is the median of --repeat measurements (the shared host drifts between them); the two goal
ratios also show their range.

    python bench/app.py [--seconds 3] [--trials 3] [--repeat 3] [--sizes 64,256] [--nice 0,10] [--threads N]
"""

from __future__ import annotations

import argparse
import copy
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import explorer  # noqa: E402,F401 - first: it sets the OpenMP wait policy the app runs with
import imgui_bundle  # noqa: E402,F401 - before glfw
import torch  # noqa: E402
from imgui_bundle import hello_imgui, imgui  # noqa: E402
from imgui_bundle.immapp import testing  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from bench.common import print_json_line, print_table  # noqa: E402
from bench.generator import CONFIGS, make_generator  # noqa: E402
from cuda_ops.dispatch import reference_only  # noqa: E402
from explorer.app.controller import AppController  # noqa: E402
from explorer.app.settings import Settings  # noqa: E402
from explorer.app.window import ExplorerWindow, WindowOptions  # noqa: E402
from explorer.engine import RenderThread, render_state  # noqa: E402
from explorer.engine.threads import (RENDER_NICE, configure_render_thread,  # noqa: E402
                                     default_render_threads, openmp_wait)
from explorer.latent.state import LatentState  # noqa: E402
from explorer.model import Model  # noqa: E402


def make_model(resolution: int) -> Model:
    return Model(make_generator(*CONFIGS[f"sg2-{resolution}"]), None, format="random",
                 source=f"random {resolution}px")


def ensure_display() -> subprocess.Popen | None:
    """Start Xvfb (software GL) when there is no display; the caller terminates it."""
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or sys.platform != "linux":
        return None
    if not shutil.which("Xvfb"):
        sys.exit("error: no display and no Xvfb: run under a desktop session or install xvfb")
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1600x1000x24",
                             "-nolisten", "tcp", "-noreset"], pass_fds=(write_fd,),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as pipe:
        number = pipe.readline().decode().strip()
    os.environ["DISPLAY"] = f":{number}"
    os.environ["LIBGL_ALWAYS_SOFTWARE"] = "1"
    return proc


def headless_render_ms(model: Model, nice: int, threads: int | None, min_trials: int = 3,
                       min_seconds: float = 2.0) -> float:
    """Median time of `render_state` for a new psi each time (as a slider drag asks for).

    Measured on a worker thread set up as the render thread is (priority, threads): on a busy
    machine torch's main-thread intra-op pool times very differently from a worker thread's.
    """
    times: list[float] = []

    def run() -> None:
        configure_render_thread(nice, threads)
        torch.set_grad_enabled(False)
        render_state(model, LatentState(seed=1))  # warm-up
        start = time.perf_counter()
        while len(times) < min_trials or time.perf_counter() - start < min_seconds:
            t = time.perf_counter()
            render_state(model, LatentState(seed=1, psi=0.5 + 0.001 * len(times)))
            times.append((time.perf_counter() - t) * 1000)

    worker = threading.Thread(target=run)
    worker.start()
    worker.join()
    return statistics.median(times)


def count_gflop(model: Model) -> float:
    ws = model.map(model.z_from_seed(1))
    with torch.no_grad(), reference_only(), FlopCounterMode(display=False) as counter:
        model.synthesize(ws)
    return counter.get_total_flops() / 1e9


def frame_times(ctx, n_frames: int = 0, until: float = 0.0,
                step: Callable[[int], None] | None = None) -> list[float]:
    """Wall time (ms) of each UI frame, for n_frames or until a perf_counter deadline."""
    times: list[float] = []
    while len(times) < n_frames or time.perf_counter() < until:
        if step is not None:
            step(len(times))
        t = time.perf_counter()
        ctx.yield_()
        times.append((time.perf_counter() - t) * 1000)
    return times


def wait_shown(ctx, window: ExplorerWindow) -> None:
    """Until a UI frame drawn after the last edit shows the edited state's (final) picture."""
    ctx.yield_()
    while window.frames_current_shown < 1:
        ctx.yield_()


def wait_any(ctx, window: ExplorerWindow, ctl: AppController) -> None:
    """Until a UI frame shows a picture of the current state, preview or final."""
    ctx.yield_()
    while (frame := window.image_view.frame) is None or frame.state != ctl.state:
        ctx.yield_()


def settle(ctx, ctl: AppController) -> None:
    while ctl.is_busy():
        ctx.yield_()


def without_watchdog(params) -> None:
    """The test engine stops a test after 60 s (its watchdog); a bench at 256 px on a loaded
    2-core machine runs longer than that, so it gets an hour."""
    prior = params.callbacks.register_tests

    def register() -> None:
        if callable(prior):
            prior()
        io = imgui.test_engine.get_io(hello_imgui.get_imgui_test_engine())
        io.config_watchdog_warning = io.config_watchdog_kill_test = 3600.0

    params.callbacks.register_tests = register


def measure(model: Model, seconds: float, trials: int, config_dir: Path, nice: int,
            threads: int | None) -> dict[str, float]:
    """Drive the real window; frame times and latencies in ms.

    The test thread edits the state with the same `AppController.edit` call a slider makes; the
    test engine runs it while the main thread waits between frames, so nothing races.
    """
    engine = RenderThread(device="cpu", nice=nice, threads=threads)
    engine.start()
    rows = model.num_ws
    # No picture B during the drag: the test engine's edits hold no widget, so with B on the
    # Style mixing panel would render A and B alone for every step (it waits while a slider is
    # held), two renders per step competing with the main one. B comes on for the fine edits.
    base = LatentState(seed=1)
    last_rows = model.info.ws_resolutions.index(model.resolution)  # rows only the last block reads
    ctl = AppController(engine, Settings.load(config_dir), base)
    ctl.load_model(model)
    window = ExplorerWindow(ctl, WindowOptions(size=(1280, 900), zoom_mode="fit"))
    params = window.runner_params()
    app_fps_idle = params.fps_idling.fps_idle
    params.fps_idling.fps_idle = 0  # frame times: what a frame costs, not the idle throttle
    without_watchdog(params)
    out: dict[str, float] = {}

    def test(ctx) -> None:
        wait_shown(ctx, window)
        ctx.yield_(10)
        idle = frame_times(ctx, n_frames=120)
        # A drag: the slider moves every UI frame while the render thread keeps rendering.
        before = engine.stats
        drag_render_ms: list[float] = []

        def step(k: int) -> None:
            if engine.stats.frames_rendered > before.frames_rendered + len(drag_render_ms):
                drag_render_ms.append(engine.stats.last_render_ms)
            ctl.edit(psi=0.5 + 0.001 * (k % 400))

        busy = frame_times(ctx, until=time.perf_counter() + seconds, step=step)
        after = engine.stats
        wait_shown(ctx, window)
        # Latencies with the app's own idling: between events the UI sleeps, and a published
        # frame wakes it, so the render has the cores the UI would otherwise spin on.
        hello_imgui.get_runner_params().fps_idling.fps_idle = app_fps_idle
        first, final, engine_ms, fine = [], [], [], []
        for k in range(trials):
            settle(ctx, ctl)
            t = time.perf_counter()
            ctl.edit(psi=0.3 + 0.05 * k)
            wait_any(ctx, window, ctl)
            first.append((time.perf_counter() - t) * 1000)
            wait_shown(ctx, window)
            final.append((time.perf_counter() - t) * 1000)
            engine_ms.append(window.image_view.frame.render_ms)
        ctl.edit(mix_seed=2, mix_weights=(0.0,) * rows)
        for k in range(trials):
            settle(ctx, ctl)
            t = time.perf_counter()
            ctl.edit(mix_weights=(0.0,) * last_rows + (0.2 + 0.1 * k,) * (rows - last_rows))
            wait_shown(ctx, window)
            fine.append((time.perf_counter() - t) * 1000)
        out.update(ui_idle_ms=statistics.median(idle), ui_busy_ms=statistics.median(busy),
                   ui_busy_p95_ms=sorted(busy)[int(0.95 * (len(busy) - 1))], ui_busy_max_ms=max(busy),
                   renders_per_s=(after.frames_rendered - before.frames_rendered) / seconds,
                   previews_per_s=(after.previews_rendered - before.previews_rendered) / seconds,
                   drag_render_ms=statistics.median(drag_render_ms) if drag_render_ms else None,
                   latency_ms=statistics.median(final), preview_latency_ms=statistics.median(first),
                   fine_edit_latency_ms=statistics.median(fine),
                   overhead_ms=statistics.median(a - b for a, b in zip(final, engine_ms)), drag_s=seconds)

    try:
        testing.run(test_function=test, runner_params=params)
    finally:
        engine.stop()
    return out


def run_once(model: Model, res: int, nice: int, args: argparse.Namespace, config_dir: Path) -> dict:
    """One measurement of one size and priority: its row of the table."""
    render_ms = headless_render_ms(copy.deepcopy(model), nice, args.threads)
    seconds = max(args.seconds, 3 * render_ms / 1000)  # a few renders end during the drag
    m = measure(model, seconds, args.trials, config_dir, nice, args.threads)
    m.update(measure_idling(model, args.trials, config_dir, nice, args.threads))
    return dict(resolution=res, nice=nice, gflop=round(count_gflop(model), 1),
                render_ms=round(render_ms, 1), **{k: v if v is None else round(v, 2) for k, v in m.items()},
                ui_busy_over_idle=round(m["ui_busy_ms"] / m["ui_idle_ms"], 2),
                latency_over_render=round(m["latency_ms"] / render_ms, 2),
                fine_edit_speedup=round(m["latency_ms"] / m["fine_edit_latency_ms"], 2),
                preview_speedup=round(m["latency_ms"] / m["preview_latency_ms"], 2),
                idle_preview_speedup=round(m["idle_latency_ms"] / m["idle_preview_latency_ms"], 2))


def median_row(runs: list[dict]) -> dict:
    """Each number's median over the repeats (ratios too: each is taken within its own repeat,
    so the host's drift between repeats cancels), and the goal ratios' spread beside them."""
    row = {}
    for key, value in runs[0].items():
        values = [r[key] for r in runs if r[key] is not None]
        if key in ("resolution", "nice") or not values or not isinstance(values[0], (int, float)):
            row[key] = value
        else:
            row[key] = round(statistics.median(values), 2)
    for key in ("ui_busy_over_idle", "preview_speedup", "idle_preview_speedup"):
        row[f"{key}_range"] = f"{min(r[key] for r in runs)}-{max(r[key] for r in runs)}"
    row["repeats"] = len(runs)
    return row


def measure_idling(model: Model, trials: int, config_dir: Path, nice: int,
                   threads: int | None) -> dict[str, float]:
    """Slider-to-screen latencies as the app runs without the test engine (which keeps every
    frame going): between edits the UI idles, and the render thread's published frame wakes it.

    Each trial waits a second with no edit (the UI falls asleep), changes psi from a frame
    callback as a slider would, and times the frame that first shows a picture of the new state
    and the one that shows its final picture (both at the end of that frame's drawing). The first
    `warmup` trials are not counted: the window is new, and the test-engine latencies above are
    taken after a drag.
    """
    warmup = 2
    engine = RenderThread(device="cpu", nice=nice, threads=threads)
    engine.start()
    ctl = AppController(engine, Settings.load(config_dir), LatentState(seed=1))
    ctl.load_model(model)
    window = ExplorerWindow(ctl, WindowOptions(size=(1280, 900), zoom_mode="fit"))
    params = window.runner_params()
    first: list[float] = []
    final: list[float] = []
    ui_frames: list[int] = []
    trial: dict = dict(edited_at=None, first=None, frames=0, next_at=time.perf_counter() + 3.0)
    end_frame = params.callbacks.before_imgui_render

    def after_drawing() -> None:
        end_frame()
        now = time.perf_counter()
        if trial["edited_at"] is None:
            if now >= trial["next_at"] and window.frames_current_shown > 0:
                ctl.edit(psi=0.3 + 0.05 * len(final))
                trial.update(edited_at=time.perf_counter(), first=None, frames=0)
            return
        trial["frames"] += 1
        frame = window.image_view.frame
        if trial["first"] is None and frame is not None and frame.state == ctl.state:
            trial["first"] = now - trial["edited_at"]
        if window.frames_current_shown > 0:
            first.append(trial["first"] * 1000)
            final.append((now - trial["edited_at"]) * 1000)
            ui_frames.append(trial["frames"])
            trial.update(edited_at=None, next_at=now + 1.0)
            if len(final) >= trials + warmup:
                hello_imgui.get_runner_params().app_shall_exit = True

    params.callbacks.before_imgui_render = after_drawing
    try:
        hello_imgui.run(params)
    finally:
        engine.stop()
    return dict(idle_latency_ms=statistics.median(final[warmup:]),
                idle_preview_latency_ms=statistics.median(first[warmup:]),
                idle_ui_frames=statistics.median(ui_frames[warmup:]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="length of the simulated drag")
    parser.add_argument("--trials", type=int, default=3, help="slider-to-screen latency trials")
    parser.add_argument("--sizes", default="64,256", help="model resolutions")
    parser.add_argument("--nice", default=str(RENDER_NICE),
                        help="render thread priority offsets to compare, comma-separated (0 = none)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="measurements per size and priority; the table shows their medians")
    parser.add_argument("--threads", type=int, default=None,
                        help="render thread torch threads (default: one per core but one)")
    args = parser.parse_args()
    xvfb = ensure_display()
    rows = []
    try:
        with tempfile.TemporaryDirectory() as config_dir:
            for res in (int(s) for s in args.sizes.split(",")):
                model = make_model(res)
                for nice in (int(v) for v in args.nice.split(",")):
                    runs = []
                    for _ in range(args.repeat):
                        runs.append(run_once(model, res, nice, args, Path(config_dir)))
                        print(runs[-1], file=sys.stderr, flush=True)
                    rows.append(median_row(runs))
    finally:
        if xvfb is not None:
            xvfb.terminate()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    gl = "llvmpipe (Xvfb)" if xvfb else "system display"
    print(f"CPU cores: {os.cpu_count()}, render threads: {args.threads or default_render_threads()}, "
          f"OpenMP wait {openmp_wait()}, load average: {load:.1f}, GL: {gl}, "
          f"LP_NUM_THREADS={os.environ.get('LP_NUM_THREADS', 'default')}")
    print_table(rows, ["resolution", "nice", "render_ms", "ui_idle_ms", "ui_busy_ms", "ui_busy_p95_ms",
                       "renders_per_s", "previews_per_s", "drag_render_ms", "latency_ms", "preview_latency_ms",
                       "fine_edit_latency_ms", "overhead_ms", "ui_busy_over_idle", "ui_busy_over_idle_range",
                       "latency_over_render", "fine_edit_speedup", "preview_speedup", "preview_speedup_range",
                       "idle_latency_ms", "idle_preview_latency_ms", "idle_ui_frames", "idle_preview_speedup"])
    print_json_line("app", {"device": "cpu", "gl": gl, "load_average": round(load, 1),
                            "omp_wait_policy": openmp_wait(),
                            "lp_num_threads": os.environ.get("LP_NUM_THREADS", "default"), "results": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
