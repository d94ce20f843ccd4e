"""The dock layout a first launch gets, and View > Reset layout's way back to it.

Designed for 1400x900: what a newcomer reaches for first is on screen without touching a tab
(seed, psi, style mixing, directions and the picture); the rest waits in one tab row under
the picture, wide enough for every title. hello_imgui remembers the user's changes in the
layout file and re-applies this layout on `reset`.
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
# Windows that float over the layout, first placed as a share of the window (x, y) and sized in points,
# so that two of them open at once do not cover each other.
FLOATING: dict[str, tuple[tuple[float, float], tuple[float, float]]] = {
    "Mixing grid": ((0.27, 0.06), (560, 600)),
    "Noise variance": ((0.52, 0.10), (360, 420)),
    "Messages": ((0.27, 0.62), (640, 280)),
    "Shortcuts": ((0.30, 0.15), (560, 0)),
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


def dockable_window(label: str, space: str, gui: Callable[[], None],
                    closable: bool = True) -> hello_imgui.DockableWindow:
    w = hello_imgui.DockableWindow()
    w.label, w.dock_space_name, w.gui_function, w.can_be_closed = label, space, gui, closable
    if label == IMAGE_WINDOW:  # the wheel zooms the picture; it must not scroll the window
        w.imgui_window_flags = imgui.WindowFlags_.no_scrollbar | imgui.WindowFlags_.no_scroll_with_mouse
    return w


def dockable_windows(image_gui: Callable[[], None],
                     panels: Iterable[tuple[str, str, Callable[[], None]]]) -> list[hello_imgui.DockableWindow]:
    """The picture, then one window per (title, dock space, gui) in tab order."""
    windows = [dockable_window(IMAGE_WINDOW, MAIN_SPACE, image_gui, closable=False)]
    windows.extend(dockable_window(title, space, gui) for title, space, gui in panels)
    return windows


def place_floating(title: str) -> None:
    """Where (and how big) a floating window first opens; the user's moves are kept after that."""
    (fx, fy), size = FLOATING[title]
    viewport = imgui.get_main_viewport()
    pos = imgui.ImVec2(viewport.work_pos.x + fx * viewport.work_size.x, viewport.work_pos.y + fy * viewport.work_size.y)
    imgui.set_next_window_pos(pos, imgui.Cond_.first_use_ever)
    imgui.set_next_window_size(imgui.ImVec2(*size), imgui.Cond_.first_use_ever)
    imgui.set_next_window_bg_alpha(1.0)  # opaque: a mixing grid's empty corner must not show panels behind


def reset_layout(hidden: Collection[str]) -> None:
    """Every panel back in its first-launch place, closed ones shown again except the `hidden`
    ones (panels for another architecture) (View > Reset layout)."""
    params = hello_imgui.get_runner_params().docking_params
    for w in params.dockable_windows:
        w.is_visible = w.label not in hidden
    params.layout_reset = True
