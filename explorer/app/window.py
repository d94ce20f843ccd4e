"""The app window: hello_imgui runner setup, dock layout, per-frame loop, shortcuts, drops, screenshots.

Per UI frame: poll the controller (engine events, dropped files, newest frame), upload the frame
only if it is new, draw the panels, then commit the state to history once no widget is being
dragged. The UI never waits for the render thread; while a render or job is under way idling is
off, so the new picture appears as soon as it is published.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from imgui_bundle import hello_imgui, imgui, implot

from explorer.app.controller import AppController
from explorer.app.image_view import ZOOM_MODES, ImageView
from explorer.app.panels import Panel
from explorer.app.panels.directions import DirectionsPanel
from explorer.app.panels.history import HistoryPanel
from explorer.app.panels.latent import LatentPanel
from explorer.app.panels.layers import LayersPanel
from explorer.app.panels.mixing import MixingPanel
from explorer.app.panels.model import ModelPanel
from explorer.app.panels.models import ModelsPanel
from explorer.app.panels.noise import NoisePanel
from explorer.app.panels.performance import PerformancePanel
from explorer.app.panels.projection import ProjectionPanel
from explorer.app.panels.train import TrainPanel
from explorer.app.panels.transform import TransformPanel
from explorer.app.panels.truncation import TruncationPanel
from explorer.app.style import ERROR_COLOR

TITLE = "StyleGAN Explorer"
IMAGE_WINDOW = "Image"


@dataclass
class WindowOptions:
    size: tuple[int, int] = (1400, 900)
    zoom_mode: str = "fit"
    layout_ini: Path | None = None     # where the dock layout is remembered; None: not at all
    screenshot: Path | None = None     # save the window here once the picture is shown, then exit
    screenshot_frames: int = 5         # UI frames to wait after the first real picture
    screenshot_timeout_s: float = 600.0
    focus_panel: str | None = None     # bring this panel to the front at start (e.g. "Models")


class ExplorerWindow:
    """Builds the hello_imgui `RunnerParams` and draws every frame."""

    def __init__(self, ctl: AppController, options: WindowOptions | None = None) -> None:
        self.ctl = ctl
        self.options = options or WindowOptions()
        self.image_view = ImageView(self.options.zoom_mode)
        self.performance = PerformancePanel()
        self.mixing = MixingPanel()
        self.noise = NoisePanel()
        self.directions = DirectionsPanel()
        self.train = TrainPanel()
        self.projection = ProjectionPanel()
        self.models = ModelsPanel()
        self.panels: list[Panel] = [ModelPanel(), LatentPanel(), TruncationPanel(), self.mixing, self.noise,
                                    TransformPanel(), self.models, self.directions, self.projection, self.train,
                                    LayersPanel(), self.performance, HistoryPanel()]
        self.ui_frames = 0
        self.frames_current_shown = 0  # consecutive UI frames that showed the current state's picture
        self.screenshot_failed: str | None = None
        self._save_dir_text = ctl.settings.save_dir
        self._architecture: str | None = None
        self._projection_shown: object = None
        self._started = time.perf_counter()

    # --- runner setup ----------------------------------------------------------------------------
    def runner_params(self) -> hello_imgui.RunnerParams:
        p = hello_imgui.RunnerParams()
        p.app_window_params.window_title = TITLE
        p.app_window_params.window_geometry.size = self.options.size
        p.app_window_params.restore_previous_geometry = self.options.layout_ini is not None
        gl = p.renderer_backend_options.open_gl_options
        gl.major_version, gl.minor_version = 3, 3
        gl.use_core_profile = True        # no fixed-function GL anywhere: runs on macOS too
        gl.use_forward_compat = True      # required by macOS for core profiles
        gl.glsl_version = "150"
        gl.anti_aliasing_samples = 0      # ImGui antialiases itself; MSAA only costs (software GL)
        p.imgui_window_params.default_imgui_window_type = (
            hello_imgui.DefaultImGuiWindowType.provide_full_screen_dock_space)
        p.imgui_window_params.show_menu_bar = True
        p.imgui_window_params.show_status_bar = True
        p.imgui_window_params.show_status_fps = False  # its idling checkbox would fight ours
        p.imgui_window_params.remember_status_bar_settings = False
        p.imgui_window_params.enable_viewports = False
        p.docking_params.docking_splits = self._splits()
        p.docking_params.dockable_windows = self._dockable_windows()
        if self.options.layout_ini is None:
            p.ini_disable = True
        else:
            p.ini_folder_type = hello_imgui.IniFolderType.absolute_path
            p.ini_filename = str(self.options.layout_ini)
            p.ini_filename_use_app_window_title = False
        p.fps_idling.enable_idling = False
        p.callbacks.show_gui = self._show_gui
        p.callbacks.show_menus = self._show_menus
        p.callbacks.show_status = self._show_status
        p.callbacks.post_init = self._post_init
        p.callbacks.before_imgui_render = self._end_frame
        p.callbacks.before_exit = self._release_gl
        return p

    @staticmethod
    def _splits() -> list[hello_imgui.DockingSplit]:
        def split(parent: str, new: str, direction: Any, ratio: float) -> hello_imgui.DockingSplit:
            s = hello_imgui.DockingSplit()
            s.initial_dock, s.new_dock, s.direction, s.ratio = parent, new, direction, ratio
            return s
        return [split("MainDockSpace", "Controls", imgui.Dir.left, 0.28),
                split("Controls", "ControlsMiddle", imgui.Dir.down, 0.68),
                split("ControlsMiddle", "ControlsLower", imgui.Dir.down, 0.75),
                split("MainDockSpace", "Inspect", imgui.Dir.right, 0.36)]

    def _dockable_windows(self) -> list[hello_imgui.DockableWindow]:
        places = {"Model": "Controls", "Models": "Inspect", "Latent": "Controls", "Truncation": "ControlsMiddle",
                  "Style mixing": "ControlsLower", "Noise": "ControlsLower", "Transform": "ControlsLower",
                  "Directions": "Inspect", "Projection": "Inspect", "Train": "Inspect",
                  "Layers": "Inspect", "Performance": "Inspect", "History": "Inspect"}
        windows = [self._dockable(IMAGE_WINDOW, "MainDockSpace", self._image_window, closable=False)]
        for panel in self.panels:
            windows.append(self._dockable(panel.title, places[panel.title], self._panel_gui(panel)))
        return windows

    @staticmethod
    def _dockable(label: str, space: str, gui: Callable[[], None], closable: bool = True) -> hello_imgui.DockableWindow:
        w = hello_imgui.DockableWindow()
        w.label, w.dock_space_name, w.gui_function, w.can_be_closed = label, space, gui, closable
        if label == IMAGE_WINDOW:
            w.imgui_window_flags = imgui.WindowFlags_.no_scrollbar | imgui.WindowFlags_.no_scroll_with_mouse
        return w

    def _panel_gui(self, panel: Panel) -> Callable[[], None]:
        return lambda: panel.draw(self.ctl)

    def _post_init(self) -> None:
        self._install_drop_callback()
        implot.create_context()  # the plots' own context (hello_imgui.run does not make one)

    def _release_gl(self) -> None:
        """GL objects go while the context still exists; the plot context goes before ImGui's."""
        for view in (self.image_view, self.mixing.grid_view, self.noise.variance_view,
                     self.directions.strip_view, self.train.sample_view, self.projection.view):
            view.release()
        implot.destroy_context()

    # --- GLFW drop callback ----------------------------------------------------------------------
    def on_drop(self, window: Any, paths: list[str]) -> None:
        """GLFW's drop callback: only records the paths; the next frame opens them."""
        self.ctl.queue_dropped(paths)

    def _install_drop_callback(self) -> None:
        import glfw  # after imgui_bundle, so pyGLFW binds the library hello_imgui uses

        from imgui_bundle import glfw_utils
        glfw.set_drop_callback(glfw_utils.glfw_window_hello_imgui(), self.on_drop)

    # --- per frame -------------------------------------------------------------------------------
    def _show_gui(self) -> None:
        self.ui_frames += 1
        self.performance.tick()
        frame = self.ctl.poll()
        self.image_view.show(frame)
        self._shortcuts()
        self._sync_transform_window()
        self._show_new_projection()
        self._focus_at_start()
        self.mixing.draw_windows(self.ctl)
        self.noise.draw_windows(self.ctl)
        hello_imgui.get_runner_params().fps_idling.enable_idling = not self.ctl.is_busy()
        self._screenshot_countdown()

    def _end_frame(self) -> None:
        self.ctl.end_frame(editing=imgui.is_any_item_active())

    def _shortcuts(self) -> None:
        ctrl = imgui.Key.mod_ctrl
        if imgui.is_key_chord_pressed(ctrl | imgui.Key.s):
            self.ctl.save_image()
        if imgui.get_io().want_text_input:
            return  # Ctrl+Z in a text field undoes typing, not the picture
        if imgui.is_key_chord_pressed(ctrl | imgui.Key.v):
            self.paste(imgui.get_clipboard_text() or "")
        if imgui.is_key_chord_pressed(ctrl | imgui.Key.z):
            self.ctl.undo()
        if imgui.is_key_chord_pressed(ctrl | imgui.Key.y) or \
                imgui.is_key_chord_pressed(ctrl | imgui.Key.mod_shift | imgui.Key.z):
            self.ctl.redo()

    def paste(self, text: str) -> None:
        """Ctrl+V on the window (not in a text field): a pasted URL, model name or path opens like a drop."""
        text = text.strip()
        if text and "\n" not in text:
            self.ctl.queue_dropped([text])

    def _focus_at_start(self) -> None:
        if self.options.focus_panel and self.ui_frames == 2:  # once the dock layout exists
            window = hello_imgui.get_runner_params().docking_params.dockable_window_of_name(self.options.focus_panel)
            if window is not None:
                window.focus_window_at_next_frame = True

    def _sync_transform_window(self) -> None:
        """The transform panel exists only for StyleGAN3 models."""
        info = self.ctl.model_info
        arch = None if info is None else info.architecture
        if arch != self._architecture:
            self._architecture = arch
            window = hello_imgui.get_runner_params().docking_params.dockable_window_of_name("Transform")
            if window is not None:
                window.is_visible = arch == "stylegan3"
                window.include_in_view_menu = arch == "stylegan3"

    def _show_new_projection(self) -> None:
        """A dropped image starts a projection: bring its panel to the front."""
        run = self.ctl.projection.run
        if run is not None and run is not self._projection_shown:
            self._projection_shown = run
            window = hello_imgui.get_runner_params().docking_params.dockable_window_of_name("Projection")
            if window is not None:
                window.focus_window_at_next_frame = True

    def _image_window(self) -> None:
        ctl = self.ctl
        if imgui.button("Save"):
            ctl.save_image()
        imgui.same_line()
        imgui.begin_disabled(not ctl.history.can_undo())
        if imgui.button("Undo"):
            ctl.undo()
        imgui.end_disabled()
        imgui.same_line()
        imgui.begin_disabled(not ctl.history.can_redo())
        if imgui.button("Redo"):
            ctl.redo()
        imgui.end_disabled()
        imgui.same_line()
        imgui.set_next_item_width(110)
        changed, k = imgui.combo("zoom", ZOOM_MODES.index(self.image_view.zoom_mode), list(ZOOM_MODES))
        if changed:
            self.image_view.zoom_mode = ZOOM_MODES[k]
        rect = self.image_view.rect
        if rect is not None:
            imgui.same_line()
            zoom = f"{rect.zoom:g}x" if rect.integer else f"{rect.zoom:.2f}x smooth"
            imgui.text_disabled(f"{zoom}" + ("  (rendering ...)" if ctl.is_busy() else ""))
        drag = self.image_view.draw()
        if drag is not None:
            ctl.drag_transform(drag, rotate_mode=imgui.get_io().key_shift)
        if ctl.shows_current_state(self.image_view.frame):
            self.frames_current_shown += 1
        else:
            self.frames_current_shown = 0

    def _show_menus(self) -> None:
        if imgui.begin_menu("File"):
            if imgui.menu_item("Save image", "Ctrl+S", False)[0]:
                self.ctl.save_image()
            if imgui.begin_menu("Save folder"):
                imgui.set_next_item_width(420)
                entered, self._save_dir_text = imgui.input_text(
                    "##save folder", self._save_dir_text, imgui.InputTextFlags_.enter_returns_true)
                if entered and self._save_dir_text.strip():
                    self.ctl.set_save_dir(self._save_dir_text.strip())
                imgui.text_disabled("press Enter to use it; files are never overwritten")
                imgui.end_menu()
            imgui.end_menu()
        if imgui.begin_menu("Edit"):
            if imgui.menu_item("Undo", "Ctrl+Z", False, self.ctl.history.can_undo())[0]:
                self.ctl.undo()
            if imgui.menu_item("Redo", "Ctrl+Y", False, self.ctl.history.can_redo())[0]:
                self.ctl.redo()
            imgui.end_menu()

    def _show_status(self) -> None:
        status = self.ctl.status
        download = self.ctl.downloads.progress()
        if download is not None and not status.is_error:
            imgui.text(f"downloading {self.ctl.downloads.active.source.label}: {download[1]}")
        elif status.text:
            if status.is_error:
                imgui.text_colored(ERROR_COLOR, status.text)
            else:
                imgui.text(status.text)
        pixel = self.image_view.hovered_pixel
        frame = self.image_view.frame
        if frame is not None and frame.preview:
            imgui.same_line()
            imgui.text_disabled("   preview")
        if pixel is not None and frame is not None:
            x, y = pixel
            r, g, b = (int(v) for v in frame.rgba[y, x, :3])
            imgui.same_line()
            imgui.text_disabled(f"   x {x}  y {y}  rgb {r} {g} {b}")

    # --- --screenshot ----------------------------------------------------------------------------
    def _screenshot_countdown(self) -> None:
        if self.options.screenshot is None:
            return
        ctl = self.ctl
        if self.frames_current_shown >= self.options.screenshot_frames:
            hello_imgui.get_runner_params().app_shall_exit = True
        elif ctl.model_info is None and ctl.loading is None and ctl.status.is_error:
            self.screenshot_failed = ctl.status.text
            hello_imgui.get_runner_params().app_shall_exit = True
        elif time.perf_counter() - self._started > self.options.screenshot_timeout_s:
            self.screenshot_failed = (f"no picture after {self.options.screenshot_timeout_s:.0f} s"
                                      + (f": {self.ctl.status.text}" if self.ctl.status.text else ""))
            hello_imgui.get_runner_params().app_shall_exit = True

    def save_screenshot(self) -> None:
        """After the runner returned: write its last frame to `options.screenshot` (atomically)."""
        import numpy as np

        from explorer.fileio import save_png
        image = np.asarray(hello_imgui.final_app_window_screenshot())
        if image.size == 0:
            raise RuntimeError("the window closed before any frame was drawn")
        save_png(self.options.screenshot, np.ascontiguousarray(image[..., :3]))

    def run(self) -> None:
        hello_imgui.run(self.runner_params())
