"""Truncation panel: pull W towards the average latent, on all rows or the first `cutoff` ones."""

from __future__ import annotations

from imgui_bundle import imgui

from explorer.app.controller import AppController


class TruncationPanel:
    title = "Truncation"

    def draw(self, ctl: AppController) -> None:
        info = ctl.model_info
        if info is None:
            imgui.text_disabled("no model loaded")
            return
        state = ctl.state
        changed, psi = imgui.slider_float("psi", state.psi, -1.0, 2.0, "%.3f")
        if changed:
            ctl.edit(psi=psi)
        cutoff = info.num_ws if state.cutoff is None else state.cutoff
        changed, cutoff = imgui.slider_int("cutoff", cutoff, 0, info.num_ws,
                                           "all rows" if cutoff == info.num_ws else "first %d rows")
        if changed:
            ctl.edit(cutoff=None if cutoff >= info.num_ws else cutoff)
        if imgui.button("Average face (psi 0)"):
            ctl.edit(psi=0.0)
        imgui.same_line()
        if imgui.button("No truncation (psi 1)"):
            ctl.edit(psi=1.0, cutoff=None)
        imgui.text_disabled("psi 0 shows w_avg's picture; psi < 0 goes past it.")
