"""The dock layout a first launch gets, and View > Reset layout's way back to it.

Designed for 1400x900: what a newcomer reaches for first is on screen without touching a tab
(seed, psi, style mixing, directions and the picture); the rest waits in one tab row under
the picture, wide enough for every title. hello_imgui remembers the user's changes in the
layout file and re-applies this layout on `reset`.

Backgrounds: every ImGui fill is a blended, textured quad, which software GL (llvmpipe, the
only GL on a machine without a GPU) pays for per pixel. The docked windows tile the whole window,
so they draw no background of their own: the frame's clear colour is theirs
(`docked_background_color`), and only a floating window paints one. With the dock space's
pass-through (hello_imgui's default, which also fills the whole window under the docked ones)
that was ~2.2 Mpx of fill per 1280x900 frame; an idle UI frame under Xvfb went from 17-24 to 7-10 ms.
"""

from __future__ import annotations

from typing import Callable, Collection, Iterable

from imgui_bundle import hello_imgui, imgui

IMAGE_WINDOW = "Image"
MAIN_SPACE = "MainDockSpace"
# The dock spaces a panel can start in (its `dock`; the order of `explorer.app.panels.PANELS`
# gives the tab order within one space, the first being the front tab).
LEFT, LEFT_MIDDLE, LEFT_LOWER = "Explore", "ExploreMiddle", "ExploreLower"
RIGHT, BELOW = "Edit", "Inspect"
# Windows that float over the layout, first placed as a share of the window (x, y) and sized in points.
# The x share is where the window's left edge goes, or its right edge for a window anchored right
# (the third value): the mixing grid opens over the right column and the noise map over the left
# one, so the picture stays in sight beside either, and the two do not cover each other.
FLOATING: dict[str, tuple[tuple[float, float], tuple[float, float], bool]] = {
    "Mixing grid": ((0.995, 0.06), (520, 600), True),
    "Noise variance": ((0.005, 0.04), (360, 350), False),
    "Training samples": ((0.27, 0.04), (640, 700), False),
    "Messages": ((0.27, 0.62), (640, 280), False),
    "Shortcuts": ((0.30, 0.15), (560, 0), False),
}


def _split(parent: str, new: str, direction: imgui.Dir, ratio: float) -> hello_imgui.DockingSplit:
    s = hello_imgui.DockingSplit()
    s.initial_dock, s.new_dock, s.direction, s.ratio = parent, new, direction, ratio
    return s


def docking_splits() -> list[hello_imgui.DockingSplit]:
    """Left column (source, truncation, mixing), right column (directions), a tab row below the picture."""
    return [_split(MAIN_SPACE, LEFT, imgui.Dir.left, 0.26),
            _split(LEFT, LEFT_MIDDLE, imgui.Dir.down, 0.75),
            _split(LEFT_MIDDLE, LEFT_LOWER, imgui.Dir.down, 0.76),
            _split(MAIN_SPACE, RIGHT, imgui.Dir.right, 0.38),
            _split(MAIN_SPACE, BELOW, imgui.Dir.down, 0.34)]


def docked_background_color(window_bg: imgui.ImVec4) -> imgui.ImVec4:
    """The clear colour under the docked windows: their background, opaque (as the two layers of
    it, pass-through's and each window's own, looked together)."""
    return imgui.ImVec4(window_bg.x, window_bg.y, window_bg.z, 1.0)


def opaque_popups(style: imgui.Style) -> None:
    """Combo lists, menus and tooltips without see-through: over a table, the rows behind an open
    list read as if they belonged to its items."""
    c = style.color_(imgui.Col_.popup_bg)
    style.set_color_(imgui.Col_.popup_bg, imgui.ImVec4(c.x, c.y, c.z, 1.0))


def background_only_when_floating(label: str) -> None:
    """Inside dockable window `label`: from the next frame on, no background while it is docked
    (the clear colour shows through), its own while it floats."""
    window = hello_imgui.get_runner_params().docking_params.dockable_window_of_name(label)
    if window is None:
        return
    flags = window.imgui_window_flags
    wanted = (flags | imgui.WindowFlags_.no_background if imgui.is_window_docked()
              else flags & ~imgui.WindowFlags_.no_background)
    if wanted != flags:
        window.imgui_window_flags = wanted


def dockable_window(label: str, space: str, gui: Callable[[], None],
                    closable: bool = True) -> hello_imgui.DockableWindow:
    def draw() -> None:
        background_only_when_floating(label)
        gui()

    w = hello_imgui.DockableWindow()
    w.label, w.dock_space_name, w.gui_function, w.can_be_closed = label, space, draw, closable
    if label == IMAGE_WINDOW:  # the wheel zooms the picture; it must not scroll the window
        w.imgui_window_flags = imgui.WindowFlags_.no_scrollbar | imgui.WindowFlags_.no_scroll_with_mouse
    return w


def dockable_windows(image_gui: Callable[[], None],
                     panels: Iterable[tuple[str, str, Callable[[], None]]]) -> list[hello_imgui.DockableWindow]:
    """The picture, then one window per (title, dock space, gui) in tab order."""
    windows = [dockable_window(IMAGE_WINDOW, MAIN_SPACE, image_gui, closable=False)]
    windows.extend(dockable_window(title, space, gui) for title, space, gui in panels)
    return windows


def floating_rect(title: str, origin: tuple[float, float], size: tuple[float, float]) -> tuple[float, float, float, float]:
    """(left, top, right, bottom) where the floating window `title` first opens in a window area
    at `origin` of `size` (a height of 0 means: as tall as its content, counted as 0 here)."""
    (fx, fy), (w, h), anchored_right = FLOATING[title]
    x, y = origin[0] + fx * size[0], origin[1] + fy * size[1]
    left = x - w if anchored_right else x
    return left, y, left + w, y + h


def place_floating(title: str) -> None:
    """Where (and how big) a floating window first opens; the user's moves are kept after that."""
    viewport = imgui.get_main_viewport()
    left, top, right, bottom = floating_rect(title, (viewport.work_pos.x, viewport.work_pos.y),
                                             (viewport.work_size.x, viewport.work_size.y))
    imgui.set_next_window_pos(imgui.ImVec2(left, top), imgui.Cond_.first_use_ever)
    imgui.set_next_window_size(imgui.ImVec2(right - left, bottom - top), imgui.Cond_.first_use_ever)
    imgui.set_next_window_bg_alpha(1.0)  # opaque: a mixing grid's empty corner must not show panels behind


def reset_layout(hidden: Collection[str]) -> None:
    """Every panel back in its first-launch place, closed ones shown again except the `hidden`
    ones (panels for another architecture) (View > Reset layout)."""
    params = hello_imgui.get_runner_params().docking_params
    for w in params.dockable_windows:
        w.is_visible = w.label not in hidden
    params.layout_reset = True
