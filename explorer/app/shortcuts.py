"""Keyboard and mouse shortcuts: the one list that Help > Shortcuts shows, and the keys' handling.

The habits come from NVIDIA's visualizer and GANSpace: arrow keys walk through seeds, the
wheel zooms the picture where the pointer is, dragging pans it. Keys act only when no text
field is being typed into, so typing a path never changes the seed.
"""

from __future__ import annotations

from typing import Callable

from imgui_bundle import imgui

from explorer.app.controller import AppController

SHORTCUTS: tuple[tuple[str, str], ...] = (
    ("Left / Right", "seed of picture A -1 / +1"),
    ("Page Down / Page Up", "seed -10 / +10"),
    ("Mouse wheel on the picture", "zoom in / out around the pointer"),
    ("Drag the picture", "pan (double-click: fit again)"),
    ("Ctrl+drag the picture", "StyleGAN3: move the input (Ctrl+Shift+drag: rotate it)"),
    ("Shift while dragging a slider", "fine steps (a tenth of the speed)"),
    ("Ctrl+click a slider", "type an exact value"),
    ("Ctrl+O", "open a checkpoint, saved picture or latent"),
    ("Ctrl+S", "save the picture (PNG with its state, plus its W+ .npz)"),
    ("Ctrl+Z / Ctrl+Y", "undo / redo (Ctrl+Shift+Z also redoes)"),
    ("Ctrl+V", "open a pasted path, URL or model name"),
    ("F1", "this list"),
    ("Drop a file", "checkpoint, saved PNG, latent .npz, or any image to project"),
)

SEED_KEYS = ((imgui.Key.left_arrow, -1), (imgui.Key.right_arrow, 1),
             (imgui.Key.page_down, -10), (imgui.Key.page_up, 10))


def handle_shortcuts(ctl: AppController, paste: Callable[[str], None], show_help: Callable[[], None]) -> None:
    """Once per UI frame, after the panels (so a focused text field wins its keys)."""
    ctrl = imgui.Key.mod_ctrl
    if imgui.is_key_chord_pressed(ctrl | imgui.Key.s):
        ctl.save_image()
    if imgui.is_key_chord_pressed(ctrl | imgui.Key.o):
        ctl.browse_and_open()
    if imgui.is_key_pressed(imgui.Key.f1, False):
        show_help()
    if imgui.get_io().want_text_input:
        return  # Ctrl+Z in a text field undoes typing, not the picture; arrows move the caret
    if imgui.is_key_chord_pressed(ctrl | imgui.Key.v):
        paste(imgui.get_clipboard_text() or "")
    if imgui.is_key_chord_pressed(ctrl | imgui.Key.z):
        ctl.undo()
    if imgui.is_key_chord_pressed(ctrl | imgui.Key.y) or \
            imgui.is_key_chord_pressed(ctrl | imgui.Key.mod_shift | imgui.Key.z):
        ctl.redo()
    if imgui.is_any_item_active() or imgui.get_io().key_ctrl:
        return  # a slider being dragged (or typed) keeps its keys
    for key, delta in SEED_KEYS:
        if imgui.is_key_pressed(key):  # repeats while held, like stepping through a film
            ctl.step_seed(delta)


def draw_shortcuts_table() -> None:
    flags = imgui.TableFlags_.row_bg | imgui.TableFlags_.borders_inner_h | imgui.TableFlags_.sizing_fixed_fit
    if imgui.begin_table("shortcuts", 2, flags):
        for keys, action in SHORTCUTS:
            imgui.table_next_row()
            imgui.table_next_column()
            imgui.text(keys)
            imgui.table_next_column()
            imgui.text_disabled(action)
        imgui.end_table()
