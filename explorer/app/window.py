"""The app window: hello_imgui runner setup, dock layout, per-frame loop, shortcuts, drops, screenshots.

Per UI frame: poll the controller (engine events, dropped files, newest frame), upload the frame
only if it is new, draw the panels, then commit the state to history once no widget is being
dragged. The UI never waits for the render thread. Between input events it idles (hello_imgui's
sleep, a few frames per second) instead of spinning while a render is under way: on a CPU the
spinning UI (and a software GL's rasterizer threads) took the cores the render needed. The render
thread wakes it (`hello_imgui.request_refresh`, thread-safe) when it publishes a frame or posts an
event, so a new picture is on screen within a frame. Only a playing preview, which changes the
picture by the clock, keeps every frame; `--screenshot` runs never idle.
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, TypeVar

from imgui_bundle import hello_imgui, imgui, implot

from explorer.app.controller import AppController
from explorer.app.file_dialogs import DialogRequest
from explorer.app.image_view import ZOOM_MODES, ImageView
from explorer.app.layout import (IMAGE_WINDOW, docked_background_color, docking_splits, dockable_windows,
                                 opaque_popups, place_floating, reset_layout)
from explorer.app.panels import PANELS, Panel
from explorer.app.panels.messages import MessagesWindow
from explorer.app.shortcuts import draw_shortcuts_table, handle_shortcuts
from explorer.app.style import ERROR_COLOR
from explorer.engine.threads import ui_cores

# Full frame rate for this long after the last input event, then idle until woken (hello_imgui's
# default is 3 s): a slider released starts a render that, on a CPU, runs up to twice as fast once
# the UI stops drawing. ImGui's own delayed effects (tooltips) come at the idle rate, ~0.1 s late.
ACTIVE_AFTER_INPUT_S = 0.3
TITLE = "StyleGAN Explorer"
SHORTCUTS_WINDOW = "Shortcuts"
P = TypeVar("P", bound=Panel)


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
        self.image_view = ImageView(self.options.zoom_mode, navigable=True)
        self.panels: list[Panel] = [panel_class() for panel_class in PANELS]  # in first-launch tab order
        self.messages = MessagesWindow()
        self.show_shortcuts = False
        self.ui_frames = 0
        self.frames_current_shown = 0  # consecutive UI frames that showed the current state's picture
        self.screenshot_failed: str | None = None
        self._save_dir_text = ctl.settings.save_dir
        self._architecture: str | None = None
        self._started = time.perf_counter()

    # --- runner setup ----------------------------------------------------------------------------
    def runner_params(self) -> hello_imgui.RunnerParams:
        give_software_gl_the_ui_cores()
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
        p.imgui_window_params.show_menu_view = False  # ours (below) adds Messages and Reset layout
        p.imgui_window_params.show_status_bar = True
        p.imgui_window_params.show_status_fps = False  # its idling checkbox would fight ours
        p.imgui_window_params.remember_status_bar_settings = False
        p.imgui_window_params.enable_viewports = False
        p.docking_params.docking_splits = docking_splits()
        # No pass-through: the picture's window always fills the central node, and pass-through
        # would fill the whole window with a background under the docked windows (see layout).
        p.docking_params.main_dock_space_node_flags = imgui.DockNodeFlags_.none
        p.docking_params.dockable_windows = dockable_windows(
            self._image_window, [(panel.title, panel.dock, self._panel_gui(panel)) for panel in self.panels])
        if self.options.layout_ini is None:
            p.ini_disable = True
        else:
            p.ini_folder_type = hello_imgui.IniFolderType.absolute_path
            p.ini_filename = str(self.options.layout_ini)
            p.ini_filename_use_app_window_title = False
        p.fps_idling.enable_idling = self.options.screenshot is None
        p.fps_idling.time_active_after_last_event = ACTIVE_AFTER_INPUT_S
        p.callbacks.show_gui = self._show_gui
        p.callbacks.show_menus = self._show_menus
        p.callbacks.show_status = self._show_status
        p.callbacks.post_init = self._post_init
        p.callbacks.before_imgui_render = self._end_frame
        p.callbacks.before_exit = self._release_gl
        return p

    def _panel_gui(self, panel: Panel) -> Callable[[], None]:
        return lambda: panel.draw(self.ctl)

    def panel(self, panel_class: type[P]) -> P:
        """This window's instance of a registered panel class."""
        return next(panel for panel in self.panels if type(panel) is panel_class)

    def _post_init(self) -> None:
        # Arrow keys step seeds (NVIDIA's visualizer's habit), so they must not also walk the widgets.
        imgui.get_io().config_flags &= ~imgui.ConfigFlags_.nav_enable_keyboard
        self._install_drop_callback()
        implot.create_context()  # the plots' own context (hello_imgui.run does not make one)
        restore_sigpipe()
        self.ctl.engine.set_wake(hello_imgui.request_refresh)

    def _release_gl(self) -> None:
        """GL objects go while the context still exists; the plot context goes before ImGui's."""
        self.ctl.engine.set_wake(None)  # no wake-ups into a runner that has ended
        self.image_view.release()
        for panel in self.panels:
            for view in panel.views():
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
        frame = self.ctl.poll()
        run = self.ctl.projection.run
        if self.ctl.projection.busy and run is not None and run.picture is not None:
            # While a projection runs the main view shows it: target | current reconstruction.
            self.image_view.show_array(("projection", run.serial, run.picture_version), run.picture)
        else:
            self.image_view.show(frame)
        handle_shortcuts(self.ctl, self.paste, self._open_shortcuts)
        self._sync_architecture_windows()
        self._focus_panels_that_ask()
        self._focus_at_start()
        if self.ui_frames == 1:  # the theme is applied by now; the clear colour shows under docked windows
            hello_imgui.get_runner_params().imgui_window_params.background_color = docked_background_color(
                imgui.get_style().color_(imgui.Col_.window_bg))
            opaque_popups(imgui.get_style())
        for panel in self.panels:
            panel.every_frame(self.ctl)
        self.messages.draw(self.ctl)
        self._shortcuts_window()
        hello_imgui.get_runner_params().fps_idling.enable_idling = (
            self.options.screenshot is None and not self.ctl.animating())
        self._screenshot_countdown()

    def _end_frame(self) -> None:
        self.ctl.end_frame(editing=imgui.is_any_item_active())

    def paste(self, text: str) -> None:
        """Ctrl+V on the window (not in a text field): a pasted URL, model name or path opens like a drop."""
        text = text.strip()
        if text and "\n" not in text:
            self.ctl.queue_dropped([text])

    def _open_shortcuts(self) -> None:
        self.show_shortcuts = True
        imgui.set_window_focus(SHORTCUTS_WINDOW)

    def _shortcuts_window(self) -> None:
        if not self.show_shortcuts:
            return
        place_floating(SHORTCUTS_WINDOW)
        opened, self.show_shortcuts = imgui.begin(SHORTCUTS_WINDOW, self.show_shortcuts)
        if opened:
            draw_shortcuts_table()
            if imgui.is_window_focused() and imgui.is_key_pressed(imgui.Key.escape, False):
                self.show_shortcuts = False  # as dialogs close: it covers the picture
        imgui.end()

    def _focus_at_start(self) -> None:
        """Once the dock layout exists: the panel asked for, else the picture (not whichever
        panel happened to be created last)."""
        if self.ui_frames == 2:
            name = self.options.focus_panel or IMAGE_WINDOW
            window = hello_imgui.get_runner_params().docking_params.dockable_window_of_name(name)
            if window is not None:
                window.focus_window_at_next_frame = True

    def _hidden_titles(self) -> set[str]:
        """Panels for another architecture than the loaded model's (none loaded: StyleGAN3's)."""
        return {panel.title for panel in self.panels if panel.stylegan3_only and self._architecture != "stylegan3"}

    def _sync_architecture_windows(self) -> None:
        """StyleGAN3-only panels show while a StyleGAN3 model is loaded, and only then."""
        info = self.ctl.model_info
        arch = None if info is None else info.architecture
        if arch != self._architecture:
            self._architecture = arch
            docking = hello_imgui.get_runner_params().docking_params
            for panel in self.panels:
                window = docking.dockable_window_of_name(panel.title) if panel.stylegan3_only else None
                if window is not None:
                    window.is_visible = arch == "stylegan3"

    def _focus_panels_that_ask(self) -> None:
        """E.g. a dropped image starts a projection: its panel comes to the front."""
        for panel in self.panels:
            if panel.wants_focus(self.ctl):
                window = hello_imgui.get_runner_params().docking_params.dockable_window_of_name(panel.title)
                if window is not None:
                    window.focus_window_at_next_frame = True

    def _image_window(self) -> None:
        ctl = self.ctl
        if imgui.button("Save"):
            ctl.save_image()
        layer = ctl.state.view_layer
        imgui.set_item_tooltip("Ctrl+S: the picture as PNG (state inside) and its W+ as .npz" if layer is None else
                               f"Ctrl+S: the view of layer {layer} as PNG (state inside) and its W+ as .npz; "
                               "turn the Layers view off to save the picture itself")
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
        self._zoom_combo()
        view = self.image_view
        if view.frame is None and ctl.projection.run is not None and view.rgba is not None:
            run = ctl.projection.run
            imgui.text_disabled(f"projecting {run.name}: target | current reconstruction, step {run.step} / "
                                f"{run.total}")
        elif ctl.state.view_layer is not None:
            self._layer_caption()
        drag = view.draw()
        self._doctor_marker()
        if drag is not None:
            ctl.drag_transform(drag, rotate_mode=imgui.get_io().key_shift)
        if ctl.shows_current_state(view.frame):
            self.frames_current_shown += 1
        else:
            self.frames_current_shown = 0

    def _layer_caption(self) -> None:
        """Say that the view shows a feature map (chosen in Layers or by a doctor finding), and
        offer the way back, which otherwise sits in the Layers panel's combo."""
        state = self.ctl.state
        how = f"channel {state.view_channel}" if state.view_reduce == "channel" else f"{state.view_reduce} over channels"
        if imgui.small_button("Show picture"):
            self.ctl.edit(view_layer=None)
        imgui.set_item_tooltip("back to the RGB image (Layers panel: layer 'image (RGB)')")
        imgui.same_line()
        imgui.text_disabled(f"showing layer {state.view_layer} ({how}), not the picture")

    def _doctor_marker(self) -> None:
        """A ring where the chosen doctor finding points, while its layer is what is shown."""
        marker, rect, frame = self.ctl.doctor.marker, self.image_view.rect, self.image_view.frame
        if marker is None or rect is None or frame is None or frame.state.view_layer != marker.layer:
            return
        y, x = marker.position
        centre = imgui.ImVec2(rect.x + x * rect.width, rect.y + y * rect.height)
        radius = max(6.0, min(rect.width, rect.height) / 16)
        imgui.get_window_draw_list().add_circle(centre, radius, imgui.get_color_u32(imgui.ImVec4(0.2, 1, 0.4, 1)),
                                                thickness=2.0)

    def _zoom_combo(self) -> None:
        view, rect = self.image_view, self.image_view.rect
        imgui.set_next_item_width(110)
        preview = view.zoom_mode if view.zoom_override is None else f"{view.zoom_override:g}x"
        if imgui.begin_combo("zoom", preview):
            for mode in ZOOM_MODES:
                if imgui.selectable(mode, view.zoom_override is None and mode == view.zoom_mode)[0]:
                    view.set_zoom_mode(mode)
            imgui.end_combo()
        imgui.set_item_tooltip("mouse wheel on the picture: zoom around the pointer; drag: pan; "
                               "double-click: fit again")
        if rect is not None:
            imgui.same_line()
            zoom = f"{rect.zoom:g}x" if rect.integer else f"{rect.zoom:.2f}x smooth"
            imgui.text_disabled(f"{zoom}" + ("  (rendering ...)" if self.ctl.render_pending() else ""))

    # --- menus and status bar --------------------------------------------------------------------
    def _show_menus(self) -> None:
        ctl = self.ctl
        if imgui.begin_menu("File"):
            if imgui.menu_item("Open...", "Ctrl+O", False)[0]:
                ctl.browse_and_open()
            if imgui.menu_item("Save image", "Ctrl+S", False)[0]:
                ctl.save_image()
            if imgui.begin_menu("Save folder"):
                imgui.set_next_item_width(420)
                entered, self._save_dir_text = imgui.input_text(
                    "##save folder", self._save_dir_text, imgui.InputTextFlags_.enter_returns_true)
                if entered and self._save_dir_text.strip():
                    ctl.set_save_dir(self._save_dir_text.strip())
                if imgui.button("Choose..."):
                    ctl.choose_file(DialogRequest("folder", "Folder for saved pictures", ctl.settings.save_dir,
                                                  typed_instead="type the folder above and press Enter"),
                                    self._chosen_save_dir)
                imgui.same_line()
                imgui.text_disabled("or type it and press Enter; files are never overwritten")
                imgui.end_menu()
            imgui.end_menu()
        if imgui.begin_menu("Edit"):
            if imgui.menu_item("Undo", "Ctrl+Z", False, ctl.history.can_undo())[0]:
                ctl.undo()
            if imgui.menu_item("Redo", "Ctrl+Y", False, ctl.history.can_redo())[0]:
                ctl.redo()
            imgui.end_menu()
        if imgui.begin_menu("View"):
            self._view_menu()
            imgui.end_menu()
        if imgui.begin_menu("Help"):
            if imgui.menu_item("Shortcuts", "F1", False)[0]:
                self._open_shortcuts()
            imgui.end_menu()

    def _view_menu(self) -> None:
        hidden = self._hidden_titles()
        for w in hello_imgui.get_runner_params().docking_params.dockable_windows:
            if w.label == IMAGE_WINDOW or w.label in hidden:
                continue
            if imgui.menu_item(w.label, "", w.is_visible)[0]:
                w.is_visible = not w.is_visible
                if w.is_visible:
                    w.focus_window_at_next_frame = True
        imgui.separator()
        errors = self.ctl.messages.errors_unseen
        if imgui.menu_item("Messages", f"{errors} new errors" if errors else "", self.messages.open)[0]:
            self.messages.open = not self.messages.open
        if imgui.menu_item("Reset layout", "", False)[0]:
            reset_layout(self._hidden_titles())

    def _chosen_save_dir(self, folder: str) -> None:
        self._save_dir_text = folder
        self.ctl.set_save_dir(folder)

    def _show_status(self) -> None:
        ctl, status = self.ctl, self.ctl.status
        download = ctl.downloads.progress()
        if download is not None and not status.is_error:
            imgui.text(f"downloading {ctl.downloads.active.source.label}: {download[1]}")
        elif ctl.files.busy and not status.is_error:
            imgui.text(f"waiting for the file dialog: {ctl.files.request.title}")
        elif status.shown(time.monotonic()) or (ctl.loading and status.text):
            if status.is_error:
                imgui.text_colored(ERROR_COLOR, status.text)
            else:
                imgui.text(status.text)
        pixel, rgba = self.image_view.hovered_pixel, self.image_view.rgba
        frame = self.image_view.frame
        if frame is not None and frame.preview:
            imgui.same_line()
            imgui.text_disabled("   preview")
        if pixel is not None and rgba is not None:
            x, y = pixel
            r, g, b = (int(v) for v in rgba[y, x, :3])
            imgui.same_line()
            imgui.text_disabled(f"   x {x}  y {y}  rgb {r} {g} {b}")
        label = f"Messages ({len(ctl.messages)})"
        imgui.same_line(max(imgui.get_window_width() - imgui.calc_text_size(label).x - 24, imgui.get_cursor_pos_x()))
        if imgui.small_button(label):
            self.messages.open = True
        imgui.set_item_tooltip("every message so far (View > Messages)")

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
        try:
            hello_imgui.run(self.runner_params())
        finally:
            restore_sigpipe()


def give_software_gl_the_ui_cores() -> None:
    """Mesa's software GL (llvmpipe: Xvfb, or a machine without a GPU driver) rasterizes with a
    thread per core, which take turns with the render thread's torch threads on every core, so a
    UI frame and a render slow each other down. Its threads get the cores the render thread leaves
    to the UI instead (LP_NUM_THREADS; a value already set wins; other GL ignores it). It must be
    set before the first GL context. On the 2-core box (bench/app.py, two interleaved runs each):
    slider-to-screen 441/440 -> 261/299 ms at 256 px and 101/111 -> 60/83 ms at 64 px, UI frames
    during a drag the same (11-13 ms), idle UI frames 7-8 -> 10-13 ms."""
    os.environ.setdefault("LP_NUM_THREADS", str(ui_cores()))


def restore_sigpipe() -> None:
    """Python ignores SIGPIPE (a closed socket is an exception, not a signal); the native runner
    installs its own C handler behind Python's back, and once the window is gone that handler
    crashes the process on the next broken connection (e.g. a download after a 404).
    Re-installing Python's setting at the C level keeps sockets safe during and after the window."""
    if hasattr(signal, "SIGPIPE"):
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)
