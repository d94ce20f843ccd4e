"""Model panel: open a checkpoint (path, URL, model name, recent list, or drop / paste on the window)
and describe it."""

from __future__ import annotations

from imgui_bundle import imgui

from explorer.app.controller import AppController
from explorer.app.default_model import RANDOM_MODEL_LABEL
from explorer.app.layout import BELOW
from explorer.app.panels.base import Panel
from explorer.app.panels.models import draw_download_progress
from explorer.app.style import WARNING_COLOR


class ModelPanel(Panel):
    title = "Model"
    dock = BELOW

    def __init__(self) -> None:
        self.path = ""

    def draw(self, ctl: AppController) -> None:
        style = imgui.get_style()
        buttons = imgui.calc_text_size("OpenBrowse...").x + 4 * style.frame_padding.x + 2 * style.item_spacing.x + 8
        imgui.set_next_item_width(-buttons)
        entered, self.path = imgui.input_text_with_hint("##path", "checkpoint path, URL or model name; PNG, .npz",
                                                        self.path, imgui.InputTextFlags_.enter_returns_true)
        imgui.same_line()
        if imgui.button("Open") or entered:
            if self.path.strip():
                ctl.open_path(self.path.strip())
            else:  # nothing typed: ask, as Browse... does
                ctl.browse_and_open()
        imgui.same_line()
        if imgui.button("Browse..."):
            ctl.browse_and_open()
        imgui.set_item_tooltip("Ctrl+O: choose a checkpoint, a saved PNG or a latent .npz")
        imgui.text_disabled("or drop a file (or paste a URL) on the window")
        if ctl.loading:
            imgui.text(f"loading {ctl.loading} ...")
        draw_download_progress(ctl)
        recent = ctl.settings.recent
        if recent and imgui.tree_node("Recent"):
            for i, path in enumerate(recent):
                imgui.push_id(i)
                if imgui.selectable(path, False)[0]:
                    ctl.open_path(path)  # a URL whose download was deleted is fetched again
                imgui.pop_id()
            imgui.tree_pop()
        imgui.separator()
        info = ctl.model_info
        if info is None:
            imgui.text_disabled("no model loaded")
            return
        if info.source == RANDOM_MODEL_LABEL:
            imgui.text_colored(WARNING_COLOR, RANDOM_MODEL_LABEL)
            imgui.text_wrapped("Pick a published model in the Models panel to explore a real one.")
        else:
            imgui.text_wrapped(ctl.model_label)
            if ctl.model_folder:  # checkpoints of several runs share names (network-snapshot-*.pkl)
                imgui.text_disabled(f"in {ctl.model_folder}")
                imgui.set_item_tooltip(ctl.model_path)
        precision = "fp32" if ctl.engine.force_fp32 else "fp16"
        rows = (("format", info.format), ("architecture", info.architecture),
                ("resolution", f"{info.resolution} x {info.resolution}"),
                ("z / w dims", f"{info.z_dim} / {info.w_dim}"),
                ("classes", str(info.c_dim) if info.c_dim else "unconditional"),
                ("num_ws", str(info.num_ws)), ("device", ctl.engine.device), ("precision", precision))
        if imgui.begin_table("model info", 2, imgui.TableFlags_.sizing_fixed_fit):
            for key, value in rows:
                imgui.table_next_row()
                imgui.table_next_column()
                imgui.text_disabled(key)
                imgui.table_next_column()
                imgui.text(value)
            imgui.end_table()
