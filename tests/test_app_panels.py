"""The panel registry: every panel is registered once, has its own title and a dock space the
first-launch layout creates, and the window gives each registered panel a dockable window in
registry (tab) order. No display needed: only the runner's parameters are built."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

pytest.importorskip("imgui_bundle")

import explorer.app.panels as panels_package  # noqa: E402
from explorer.app.controller import AppController  # noqa: E402
from explorer.app.layout import (FLOATING, IMAGE_WINDOW, LEFT, MAIN_SPACE, RIGHT, BELOW, docking_splits,  # noqa: E402
                                 floating_rect)
from explorer.app.panels import PANELS, Panel  # noqa: E402
from explorer.app.settings import Settings  # noqa: E402
from explorer.app.window import ExplorerWindow  # noqa: E402
from explorer.engine import RenderThread  # noqa: E402


def defined_panel_classes() -> set[type[Panel]]:
    """Every Panel subclass defined in a module of explorer/app/panels/."""
    found = set()
    for info in pkgutil.iter_modules(panels_package.__path__):
        module = importlib.import_module(f"{panels_package.__name__}.{info.name}")
        found.update(obj for _, obj in inspect.getmembers(module, inspect.isclass)
                     if issubclass(obj, Panel) and obj is not Panel and obj.__module__ == module.__name__)
    return found


def test_every_panel_class_is_registered_once_with_its_own_title():
    assert len(set(PANELS)) == len(PANELS)
    assert defined_panel_classes() == set(PANELS), "a panel class is missing from PANELS (or PANELS names a stranger)"
    titles = [p.title for p in PANELS]
    assert len(set(titles)) == len(titles), f"two panels share a title: {titles}"
    assert not set(titles) & ({IMAGE_WINDOW} | set(FLOATING)), "a panel title is taken by another window"


def test_every_panel_starts_in_a_dock_space_the_layout_creates():
    spaces = {split.new_dock for split in docking_splits()}
    bad = {p.title: p.dock for p in PANELS if p.dock not in spaces}
    assert not bad, f"these panels name a dock space the first-launch layout does not create: {bad}"
    assert MAIN_SPACE not in {p.dock for p in PANELS}  # the picture's own space


def picture_rect(width: float, height: float) -> tuple[float, float, float, float]:
    """Where the first-launch layout puts the picture: what is left of the main space."""
    ratio = {split.new_dock: split.ratio for split in docking_splits() if split.initial_dock == MAIN_SPACE}
    left = ratio[LEFT] * width
    right = left + (width - left) * (1 - ratio[RIGHT])
    return left, 0.0, right, height * (1 - ratio[BELOW])


@pytest.mark.parametrize("size", [(1100, 760), (1400, 900), (1920, 1080)])
def test_the_mixing_grid_and_the_noise_map_open_beside_the_picture_and_each_other(size):
    grid = floating_rect("Mixing grid", (0, 0), size)
    noise = floating_rect("Noise variance", (0, 0), size)
    left, top, right, bottom = picture_rect(*size)
    centre = ((left + right) / 2, (top + bottom) / 2)
    for rect in (grid, noise):
        assert rect[0] >= 0 and rect[2] <= size[0] and rect[3] <= size[1], rect  # on screen
        assert not (rect[0] <= centre[0] <= rect[2] and rect[1] <= centre[1] <= rect[3]), "covers the picture"
    assert grid[0] >= noise[2] or noise[0] >= grid[2], "they cover each other"


def test_the_window_docks_each_registered_panel_in_registry_order(tmp_path):
    ctl = AppController(RenderThread(device="cpu"), Settings.load(tmp_path))  # the thread is never started
    window = ExplorerWindow(ctl)
    windows = window.runner_params().docking_params.dockable_windows
    assert [(w.label, w.dock_space_name) for w in windows] == \
        [(IMAGE_WINDOW, MAIN_SPACE), *((p.title, p.dock) for p in PANELS)]
    assert [type(p) for p in window.panels] == list(PANELS)
    assert all(window.panel(cls) is panel for cls, panel in zip(PANELS, window.panels))
