"""Run the real app window under Xvfb + Mesa and drive it with the Dear ImGui Test Engine.

- `gui_display`: a session-scoped 1600x1200 Xvfb (room for the 1400x900 first-launch window;
  display number read from -displayfd, no sleeps), with LIBGL_ALWAYS_SOFTWARE=1 so Mesa's
  llvmpipe renders; GUI tests skip with a reason when neither Xvfb nor a display exists.
- `run_app_test(ctl, test, ...)`: opens `ExplorerWindow` with the test engine on and runs
  `test(ctx, window)` on the engine's test thread. That thread may read app state but never calls
  GL; it advances frames with `ctx.yield_()`.
- `screen_picture(ctx, window, folder)`: captures the framebuffer (the test engine reads it back on
  the main thread) and returns the picture's region, scaled back down by the integer zoom.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

imgui_bundle = pytest.importorskip("imgui_bundle")  # before glfw, so pyGLFW binds the bundled lib
pytest.importorskip("OpenGL")

from imgui_bundle import hello_imgui, imgui  # noqa: E402
from imgui_bundle.immapp import testing  # noqa: E402
from PIL import Image  # noqa: E402

from explorer.app.controller import AppController  # noqa: E402
from explorer.app.image_view import ImageView  # noqa: E402
from explorer.app.settings import Settings  # noqa: E402
from explorer.app.window import ExplorerWindow, WindowOptions, restore_sigpipe  # noqa: E402
from explorer.directions import DirectionCache  # noqa: E402
from explorer.engine import RenderThread  # noqa: E402
from explorer.latent.state import LatentState  # noqa: E402

TestBody = Callable[["imgui.test_engine.TestContext", ExplorerWindow], None]


def _start_xvfb() -> tuple[subprocess.Popen, str]:
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1600x1200x24", "-nolisten", "tcp", "-noreset"],
        pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write_fd)
    number = b""
    with os.fdopen(read_fd, "rb") as pipe:
        while not number.endswith(b"\n"):
            chunk = pipe.read(1)
            if not chunk:
                proc.kill()
                raise RuntimeError("Xvfb exited before reporting its display number")
            number += chunk
    return proc, f":{number.decode().strip()}"


@pytest.fixture(scope="session")
def gui_display():
    """An X display for the whole GUI session: our own Xvfb when available, else the user's."""
    saved = {k: os.environ.get(k) for k in ("DISPLAY", "LIBGL_ALWAYS_SOFTWARE")}
    proc = None
    if shutil.which("Xvfb"):
        proc, display = _start_xvfb()
        os.environ["DISPLAY"] = display
        os.environ["LIBGL_ALWAYS_SOFTWARE"] = "1"
    elif not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        pytest.skip("GUI tests need Xvfb (apt install xvfb) or a running display")
    try:
        yield os.environ.get("DISPLAY")
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=10)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture
def make_app(gui_display, tmp_path):
    """make(model, state) -> an AppController on a started CPU render thread, loading `model`.

    Settings, saved images and direction sets all go under the test's tmp_path."""
    apps: list[AppController] = []

    def make(model, state: LatentState = LatentState(seed=3)) -> AppController:
        engine = RenderThread(device="cpu")
        engine.start()
        settings = Settings.load(tmp_path / "config")
        settings.save_dir = str(tmp_path / "saved")
        ctl = AppController(engine, settings, state, direction_cache=DirectionCache(tmp_path / "directions"))
        apps.append(ctl)
        ctl.load_model(model)
        return ctl

    yield make
    for ctl in apps:
        ctl.close()
        ctl.engine.stop()


def run_app_test(ctl: AppController, test: TestBody, size: tuple[int, int] = (1100, 760),
                 zoom_mode: str = "2x", layout_ini: Path | None = None) -> ExplorerWindow:
    """Open the app on `ctl` and run `test(ctx, window)`; raises what the test raised.

    With `layout_ini` the dock layout is read from and saved to that file, as the app does."""
    window = ExplorerWindow(ctl, WindowOptions(size=size, zoom_mode=zoom_mode, layout_ini=layout_ini))
    params = window.runner_params()

    def body(ctx: imgui.test_engine.TestContext) -> None:
        test(ctx, window)
        if ctx.is_error():
            raise AssertionError("the test engine reported an error (see its log above)")

    try:
        testing.run(test_function=body, runner_params=params)
    finally:
        restore_sigpipe()
    return window


def wait_frames_until(ctx, condition: Callable[[], bool], timeout_s: float = 30.0, what: str = "") -> int:
    """Yield UI frames until `condition()` holds; returns how many frames it took."""
    end = time.monotonic() + timeout_s
    for frames in itertools.count():
        if condition():
            return frames
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what or condition}")
        ctx.yield_()
    raise AssertionError("unreachable")


def wait_for_current_picture(ctx, window: ExplorerWindow, timeout_s: float = 30.0) -> None:
    """Until the picture of the current state has been on screen for two UI frames."""
    wait_frames_until(ctx, lambda: window.frames_current_shown >= 2, timeout_s, "the current picture")


def focus(ctx, window_name: str) -> None:
    """Bring a docked panel's tab to the front (its widgets exist only while it is visible)."""
    ctx.window_focus(f"//{window_name}")
    ctx.yield_(2)


def screen_picture(ctx, window: ExplorerWindow, folder: Path, view: ImageView | None = None) -> np.ndarray:
    """A picture as it is on screen: [H*zoom, W*zoom, 3] uint8 framebuffer pixels (integer zoom).

    `view` defaults to the main image; the mixing grid and noise variance windows have their own."""
    path = folder / f"screen{len(list(folder.glob('screen*.png'))):03d}.png"
    testing.capture(ctx, str(path))
    rect = (view or window.image_view).rect
    assert rect is not None and rect.integer, "screen comparisons need an integer zoom"
    with Image.open(path) as im:
        screen = np.asarray(im.convert("RGB"))
    scale = screen.shape[1] / window.options.size[0]  # framebuffer pixels per window unit
    x0, y0 = round(rect.x * scale), round(rect.y * scale)
    return screen[y0:y0 + round(rect.height * scale), x0:x0 + round(rect.width * scale)]


def zoomed(rgba: np.ndarray, zoom: int) -> np.ndarray:
    """A picture as integer zoom shows it: each pixel a zoom x zoom block, RGB."""
    return np.repeat(np.repeat(rgba[..., :3], zoom, axis=0), zoom, axis=1)


def assert_screen_equals(window: ExplorerWindow, shown: np.ndarray, rendered_rgba: np.ndarray,
                         tolerance: int = 2, view: ImageView | None = None) -> None:
    """Every screen pixel of the picture equals the headless render's pixel (within `tolerance`).

    Transparent pixels (the mixing grid's empty corner) show the window behind and are skipped."""
    zoom = int((view or window.image_view).rect.zoom)
    expected = zoomed(rendered_rgba, zoom)
    assert shown.shape == expected.shape, f"on screen {shown.shape}, rendered and zoomed {expected.shape}"
    opaque = np.repeat(np.repeat(rendered_rgba[..., 3] == 255, zoom, 0), zoom, 1) \
        if rendered_rgba.shape[-1] == 4 else np.ones(expected.shape[:2], bool)
    diff = int(np.abs(shown.astype(int) - expected.astype(int))[opaque].max())
    assert diff <= tolerance, f"screen differs from the headless render by up to {diff} levels"


def large_fill_area(ctx, min_area: float) -> float:
    """Total area (window units²) of one frame's triangles of at least `min_area` each: what panel
    backgrounds and pictures cost a software rasterizer, which pays per pixel. Read right after
    a frame is drawn (the draw data is gone once the test engine's turn comes)."""
    callbacks = hello_imgui.get_runner_params().callbacks
    prior, areas = callbacks.after_swap, []

    def measure() -> None:
        if callable(prior):
            prior()
        if not areas:
            areas.append(_large_fill_area(imgui.get_draw_data(), min_area))

    callbacks.after_swap = measure
    try:
        wait_frames_until(ctx, lambda: bool(areas), what="a drawn frame")
    finally:
        callbacks.after_swap = prior if callable(prior) else (lambda: None)
    return areas[0]


def _large_fill_area(draw_data: imgui.ImDrawData, min_area: float) -> float:
    total = 0.0
    for draw_list in draw_data.cmd_lists:
        vtx, idx = draw_list.vtx_buffer, draw_list.idx_buffer
        pos = np.array([(vtx[i].pos.x, vtx[i].pos.y) for i in range(vtx.size())], dtype=np.float64)
        index = np.array([idx[i] for i in range(idx.size())], dtype=np.int64)
        for cmd in draw_list.cmd_buffer:
            corners = pos[index[cmd.idx_offset:cmd.idx_offset + cmd.elem_count].reshape(-1, 3) + cmd.vtx_offset]
            a, b, c = corners[:, 0], corners[:, 1], corners[:, 2]
            area = 0.5 * np.abs((b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (c[:, 0] - a[:, 0]) * (b[:, 1] - a[:, 1]))
            total += float(area[area >= min_area].sum())
    return total
