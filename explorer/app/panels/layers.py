"""Layers panel: show any synthesis layer's feature map instead of the image, and per-layer stats."""

from __future__ import annotations

import numpy as np
from imgui_bundle import imgui

from explorer.app.controller import AppController
from explorer.app.layout import BELOW
from explorer.app.panels.base import Panel
from explorer.app.style import CURRENT_ROW_COLOR, SPIKE_ROW_COLOR
from explorer.app.widgets import slider_int
from explorer.diagnose.findings import spike_severity
from explorer.engine import Frame
from explorer.latent.state import VIEW_REDUCTIONS

IMAGE_ITEM = "image (RGB)"


class LayersPanel(Panel):
    title = "Layers"
    dock = BELOW

    def draw(self, ctl: AppController) -> None:
        ctl.want_layer_stats = True  # statistics cost render time: only while this panel is seen
        info = ctl.model_info
        if info is None:
            imgui.text_disabled("no model loaded")
            return
        state = ctl.state
        preview = IMAGE_ITEM if state.view_layer is None else state.view_layer
        if imgui.begin_combo("layer", preview):
            if imgui.selectable(IMAGE_ITEM, state.view_layer is None)[0]:
                ctl.edit(view_layer=None)
            for res, names in info.layer_names.items():
                imgui.separator_text(f"{res}px")
                for name in names:
                    if imgui.selectable(name, state.view_layer == name)[0]:
                        ctl.edit(view_layer=name)
            imgui.end_combo()
        imgui.begin_disabled(state.view_layer is None)
        changed, k = imgui.combo("reduce", VIEW_REDUCTIONS.index(state.view_reduce), list(VIEW_REDUCTIONS))
        imgui.set_item_tooltip("how the layer's channels become one picture: their mean, their norm (where the "
                               "layer is active), or one channel alone")
        if changed:
            ctl.edit(view_reduce=VIEW_REDUCTIONS[k])
        if state.view_reduce == "channel":
            channels = self._channels(ctl.frame, state.view_layer)
            changed, c = slider_int("channel", state.view_channel, 0, max(channels - 1, 0),
                                    help="which of the layer's feature maps to show")
            if changed:
                ctl.edit(view_channel=c)
        imgui.end_disabled()
        self._stats_table(ctl.frame, state.view_layer)

    @staticmethod
    def _channels(frame: Frame | None, layer: str | None) -> int:
        stats = frame.layer_stats if frame is not None else ()
        return next((s.channels for s in stats if s.name == layer), 1)

    @staticmethod
    def _stats_table(frame: Frame | None, selected: str | None) -> None:
        stats = frame.layer_stats if frame is not None else ()
        if not stats:
            imgui.text_disabled("statistics appear with the next frame")
            return
        spike_at = max(range(len(stats)), key=lambda i: stats[i].spike)
        typical = float(np.median([s.spike for s in stats]))
        top = stats[spike_at]
        severity = spike_severity(top.spike, typical)
        verdict = {"warn": "a droplet sign (the Doctor checks many seeds)",
                   "note": "worth a look in the Doctor", "ok": "no layer stands out"}[severity]
        imgui.text_disabled(f"highest spike (max|x| / std): {top.name}, {top.spike:.1f}, "
                            f"{top.spike / typical if typical > 0 else 0:.1f}x the median layer: {verdict}")
        if severity == "ok":
            spike_at = -1  # no row painted
        flags = imgui.TableFlags_.row_bg | imgui.TableFlags_.borders_inner_v | imgui.TableFlags_.sizing_fixed_fit
        if imgui.begin_table("layer stats", 7, flags):
            for name in ("layer", "res", "ch", "spike", "mean", "std", "max|x|"):
                imgui.table_setup_column(name)
            imgui.table_headers_row()
            for i, s in enumerate(stats):
                imgui.table_next_row()
                if i == spike_at:
                    imgui.table_set_bg_color(imgui.TableBgTarget_.row_bg1, imgui.get_color_u32(SPIKE_ROW_COLOR))
                elif s.name == selected:
                    imgui.table_set_bg_color(imgui.TableBgTarget_.row_bg1, imgui.get_color_u32(CURRENT_ROW_COLOR))
                for text in (s.name, str(s.resolution), str(s.channels), f"{s.spike:.1f}",
                             f"{_unsigned_zero(s.mean):.2f}", f"{s.std:.2f}", f"{s.max_abs:.2f}"):
                    imgui.table_next_column()
                    imgui.text(text)
            imgui.end_table()


def _unsigned_zero(value: float) -> float:
    """A mean that rounds to 0.00 reads as 0.00, not -0.00."""
    return 0.0 if abs(value) < 0.005 else value
