"""Truncation panel: pull W towards the average latent, on all rows or the first `cutoff` ones."""

from __future__ import annotations

from imgui_bundle import imgui

from explorer.app.controller import AppController
from explorer.app.layout import LEFT_MIDDLE
from explorer.app.panels.base import Panel
from explorer.app.widgets import slider_float, slider_int


class TruncationPanel(Panel):
    title = "Truncation"
    dock = LEFT_MIDDLE

    def draw(self, ctl: AppController) -> None:
        info = ctl.model_info
        if info is None:
            imgui.text_disabled("no model loaded")
            return
        state = ctl.state
        changed, psi = slider_float("psi", state.psi, -1.0, 2.0, "%.3f",
                                    "1: no truncation; 0: w_avg's picture; below 0 goes past it")
        if changed:
            ctl.edit(psi=psi)
        cutoff = info.num_ws if state.cutoff is None else state.cutoff
        changed, cutoff = slider_int("cutoff", cutoff, 0, info.num_ws,
                                     "all rows" if cutoff == info.num_ws else "first %d rows",
                                     "truncate only the first W+ rows (the coarse ones)")
        if changed:
            ctl.edit(cutoff=None if cutoff >= info.num_ws else cutoff)
        if imgui.button("psi 0 (average)"):
            ctl.edit(psi=0.0)
        imgui.same_line()
        if imgui.button("psi 0.7"):
            ctl.edit(psi=0.7)
        imgui.same_line()
        if imgui.button("psi 1 (none)"):
            ctl.edit(psi=1.0, cutoff=None)
