"""`stylegan-explorer [CKPT]`: open the desktop app (the command's default, without a subcommand).

Kept apart from `explorer.app` so that a machine without a display, or without the GUI extras,
gets one clear line and exit code 2 before any window library is imported.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Sequence

from explorer.cli.main import COMMAND_MODULES
from explorer.cli_values import MAX_APP_SEED, app_seed_value
from explorer.devices import DEVICE_CHOICES

NO_DISPLAY_EXIT = 2


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="stylegan-explorer",
        description="Open the StyleGAN Explorer app on a checkpoint (default: the shipped model). "
                    f"Headless subcommands: {', '.join(COMMAND_MODULES)} (see stylegan-explorer --help).")
    p.add_argument("checkpoint", nargs="?", help="NVIDIA .pkl, rosinality .pt or .safetensors file, "
                                                 "an http(s) URL, or a published model name (see `models`); "
                                                 "a saved PNG, W+ .npz or image to project opens as if "
                                                 "dropped on the window, with the shipped model")
    p.add_argument("--seed", type=app_seed_value, default=0, help=f"initial seed, 0 to {MAX_APP_SEED} (default 0)")
    p.add_argument("--psi", type=float, default=1.0, help="initial truncation psi (default 1)")
    p.add_argument("--device", default="auto", choices=DEVICE_CHOICES,
                   help="where to render (auto: cuda, else mps, else cpu)")
    p.add_argument("--fp16", action="store_true", help="render in fp16 where the model allows (GPU only)")
    p.add_argument("--screenshot", metavar="PATH",
                   help="save a screenshot of the window once the picture is shown, then exit")
    p.add_argument("--frames", type=int, default=5,
                   help="with --screenshot: UI frames to wait after the first picture (default 5)")
    p.add_argument("--size", default="1400x900", help="window size WxH (default 1400x900)")
    return p


def display_problem(env: dict[str, str] | None = None, platform: str = sys.platform) -> str | None:
    """Why no window can be opened here, or None. Only Linux/BSD need a DISPLAY or WAYLAND_DISPLAY."""
    env = os.environ if env is None else env
    if platform.startswith(("linux", "freebsd", "openbsd", "netbsd")) and \
            not env.get("DISPLAY") and not env.get("WAYLAND_DISPLAY"):
        return ("no display: the app needs a desktop session (DISPLAY or WAYLAND_DISPLAY is unset); "
                "use `stylegan-explorer generate` for headless work, or run under xvfb-run")
    return None


def parse_size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise SystemExit(f"stylegan-explorer: error: --size must look like 1400x900, not {text!r}") from None
    return max(w, 320), max(h, 240)


def run_app_command(argv: Sequence[str]) -> int:
    args = build_parser().parse_args(list(argv))
    problem = display_problem()
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return NO_DISPLAY_EXIT
    from explorer.download import remote_source
    if args.checkpoint and remote_source(args.checkpoint) is None and \
            not Path(args.checkpoint).expanduser().is_file():
        from explorer.checkpoints import folder_given
        folder = Path(args.checkpoint).expanduser()
        problem = folder_given(folder) if folder.is_dir() else f"no such checkpoint file or model name: {args.checkpoint}"
        print(f"error: {problem}", file=sys.stderr)
        return 1
    try:
        import imgui_bundle  # noqa: F401 - first, so pyGLFW binds the bundled GLFW
        import glfw  # noqa: F401
        import OpenGL  # noqa: F401
    except ImportError as e:
        print(f"error: the app needs the GUI extras ({e.name} is missing): "
              "pip install 'stylegan-explorer[app]'", file=sys.stderr)
        return NO_DISPLAY_EXIT
    from explorer.errors import ExplorerError
    try:
        return _run(args)
    except ExplorerError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1


def _run(args: argparse.Namespace) -> int:
    from explorer.app.controller import AppController
    from explorer.app.default_model import default_model_source, random_model
    from explorer.app.dropped_files import LoadLatent, ProjectImage, RestoreState, classify_dropped_file
    from explorer.app.settings import Settings, user_config_dir
    from explorer.app.window import ExplorerWindow, WindowOptions
    from explorer.checkpoints.remote import local_checkpoint
    from explorer.download import remote_source
    from explorer.engine import RenderThread
    from explorer.latent.state import LatentState

    engine = RenderThread(device=args.device, fp16=args.fp16)
    ctl = AppController(engine, Settings.load(), LatentState(seed=args.seed, psi=args.psi))
    opens_as_drop = (LoadLatent, ProjectImage, RestoreState)
    if args.checkpoint and isinstance(classify_dropped_file(args.checkpoint), opens_as_drop):
        ctl.queue_dropped([args.checkpoint])  # opened as a drop on the window, once the model is loaded
        args.checkpoint = None
    screenshot = Path(args.screenshot).expanduser() if args.screenshot else None
    remote = remote_source(args.checkpoint) if args.checkpoint else None
    if remote is not None and screenshot is not None:
        local_checkpoint(remote.url, progress=True)  # headless: download first, on the terminal
    source = args.checkpoint or default_model_source()
    options = WindowOptions(size=parse_size(args.size), screenshot=screenshot,
                            screenshot_frames=max(args.frames, 1),
                            layout_ini=None if screenshot else user_config_dir() / "layout.ini",
                            focus_panel=None if source else "Models")
    window = ExplorerWindow(ctl, options)
    engine.start()
    if engine.device.startswith("cuda"):
        from cuda_ops import fused
        ctl.set_status(str(fused.start_build()))  # kernels compile in the background; the reference runs meanwhile
    try:
        if remote is not None:  # downloads in the background (the window shows its progress)
            if ctl.downloads.cache.lookup(remote.url) is None:
                ctl.load_model(random_model())
            ctl.open_path(remote.url)
        else:
            ctl.load_model(Path(source).expanduser() if source else random_model())
        try:
            window.run()
        except RuntimeError as e:  # the window could not be created (bad DISPLAY, no OpenGL 3.3)
            print(f"error: could not open the window: {e}", file=sys.stderr)
            return NO_DISPLAY_EXIT
    finally:
        ctl.close()
        engine.stop()
    if screenshot is not None:
        if window.screenshot_failed:
            print(f"error: no screenshot: {window.screenshot_failed}", file=sys.stderr)
            return 1
        window.save_screenshot()
        print(f"wrote {screenshot}")
    return 0
