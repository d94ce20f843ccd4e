"""Widgets shared by every panel so they all behave (and explain themselves) alike: sliders
with fine control, and coloured text that wraps at the panel's edge.

ImGui sliders map the mouse position to a value, so a 3-wide psi range moves a lot per pixel.
Holding Shift while dragging switches to relative movement at a tenth of the speed, anchored
where Shift was pressed, and stays fine until the button is released (no jump back when Shift
is let go). Ctrl+click types an exact value (ImGui's own). The tooltip says both.
"""

from __future__ import annotations

from dataclasses import dataclass

from imgui_bundle import imgui

FINE_FACTOR = 0.1
SLIDER_HINT = "Shift+drag: fine steps.  Ctrl+click: type a value."
INT_SLIDER_HINT = "Ctrl+click: type a value."


@dataclass
class _Anchor:
    item: int
    value: float
    mouse_x: float


_anchor: _Anchor | None = None  # the slider being fine-dragged (one mouse, one at a time)


def slider_float(label: str, value: float, lo: float, hi: float, fmt: str = "%.3f",
                 help: str = "") -> tuple[bool, float]:
    """`imgui.slider_float` plus Shift for fine steps and a tooltip that says how to use it."""
    global _anchor
    changed, new = imgui.slider_float(label, value, lo, hi, fmt)
    item = imgui.get_item_id()
    io = imgui.get_io()
    active = imgui.is_item_active() and imgui.is_mouse_down(imgui.MouseButton_.left)
    if active and (io.key_shift or (_anchor is not None and _anchor.item == item)):
        if _anchor is None or _anchor.item != item:
            _anchor = _Anchor(item, value, io.mouse_pos.x)
        width = max(imgui.get_item_rect_size().x, 1.0)
        fine = _anchor.value + (io.mouse_pos.x - _anchor.mouse_x) * (hi - lo) / width * FINE_FACTOR
        new = min(max(fine, lo), hi)
        changed = new != value
    elif _anchor is not None and _anchor.item == item:
        _anchor = None
    _tooltip(help, SLIDER_HINT)
    return changed, new


def slider_int(label: str, value: int, lo: int, hi: int, fmt: str = "%d", help: str = "") -> tuple[bool, int]:
    changed, new = imgui.slider_int(label, value, lo, hi, fmt)
    _tooltip(help, INT_SLIDER_HINT)
    return changed, new


def _tooltip(help: str, hint: str) -> None:
    if imgui.is_item_hovered(imgui.HoveredFlags_.for_tooltip) and not imgui.is_item_active():
        imgui.set_tooltip(f"{help}\n{hint}" if help else hint)


def help_marker(text: str) -> None:
    """A grey (?) after the previous widget that explains it on hover."""
    imgui.same_line()
    imgui.text_disabled("(?)")
    if imgui.is_item_hovered(imgui.HoveredFlags_.for_tooltip):
        imgui.set_tooltip(text)


def wrapped_text(text: str, color: tuple[float, float, float, float] | None = None, indent: bool = False) -> None:
    """Text that wraps at the panel's edge instead of running past it (narrow columns cut long
    notes off), in `color` if given; `indent`: every line, not only the first, sits indented."""
    if color is not None:
        imgui.push_style_color(imgui.Col_.text, color)
    if indent:
        imgui.indent()
    imgui.text_wrapped(text)
    if indent:
        imgui.unindent()
    if color is not None:
        imgui.pop_style_color()


def disabled_color() -> tuple[float, float, float, float]:
    """The theme's colour of disabled text, for `wrapped_text`."""
    c = imgui.get_style_color_vec4(imgui.Col_.text_disabled)
    return (c.x, c.y, c.z, c.w)
