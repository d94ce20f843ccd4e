"""StyleGAN3 input transform: move and rotate the picture's input grid (also by Ctrl+dragging the picture)."""

from __future__ import annotations

from imgui_bundle import imgui

from explorer.app.controller import TRANSLATE_RANGE, AppController
from explorer.app.layout import LEFT_LOWER
from explorer.app.panels.base import Panel
from explorer.app.widgets import slider_float



class TransformPanel(Panel):
    title = "Transform"
    dock = LEFT_LOWER
    stylegan3_only = True

    def draw(self, ctl: AppController) -> None:
        info = ctl.model_info
        if info is None or info.architecture != "stylegan3":
            imgui.text_wrapped("Only StyleGAN3 models have an input transform.")
            return
        state = ctl.state
        tx, ty = state.translate
        changed_x, tx = slider_float("translate x", tx, -TRANSLATE_RANGE, TRANSLATE_RANGE, "%.3f")
        changed_y, ty = slider_float("translate y", ty, -TRANSLATE_RANGE, TRANSLATE_RANGE, "%.3f")
        if changed_x or changed_y:
            ctl.edit(translate=(tx, ty))
        changed, rotate = slider_float("rotate", state.rotate, -180.0, 180.0, "%.1f deg")
        if changed:
            ctl.edit(rotate=rotate)
        if imgui.button("Reset transform"):
            ctl.edit(translate=(0.0, 0.0), rotate=0.0)
        imgui.text_disabled("Ctrl+drag the picture to move it; Ctrl+Shift+drag sideways to rotate it")
