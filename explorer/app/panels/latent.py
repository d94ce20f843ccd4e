"""Latent panel: where picture A comes from (a seed, a class, or a loaded W+ .npz)."""

from __future__ import annotations

from imgui_bundle import imgui

from explorer.app.controller import MAX_SEED, AppController


class LatentPanel:
    title = "Latent"

    def __init__(self) -> None:
        self.npz_path = ""

    def draw(self, ctl: AppController) -> None:
        info = ctl.model_info
        if info is None:
            imgui.text_disabled("no model loaded")
            return
        state = ctl.state
        if state.latent is not None:
            imgui.text_wrapped(f"showing the W+ latent from {state.latent_label or 'a file'}")
            if imgui.button("Back to seeds"):
                ctl.edit(latent=None, latent_label="")
            imgui.separator()
        imgui.begin_disabled(state.latent is not None)
        changed, seed = imgui.input_int("seed", state.seed, 1, 100)
        if changed:
            ctl.edit(seed=min(max(seed, 0), MAX_SEED))
        changed, seed = imgui.drag_int("seed (drag)", state.seed, 0.2, 0, MAX_SEED)
        if changed:
            ctl.edit(seed=seed)
        if imgui.button("Prev"):
            ctl.edit(seed=max(state.seed - 1, 0))
        imgui.same_line()
        if imgui.button("Next"):
            ctl.edit(seed=min(state.seed + 1, MAX_SEED))
        imgui.same_line()
        if imgui.button("Random"):
            ctl.edit(seed=ctl.random_seed())
        if info.c_dim > 0:
            changed, cls = imgui.slider_int("class", state.class_idx or 0, 0, info.c_dim - 1)
            if changed:
                ctl.edit(class_idx=cls)
        imgui.end_disabled()

        imgui.separator_text("W+ latent file (.npz, key w)")
        imgui.set_next_item_width(-1)
        _, self.npz_path = imgui.input_text_with_hint("##npz", "path/to/latent.npz", self.npz_path)
        if imgui.button("Load latent") and self.npz_path.strip():
            ctl.load_latent_file(self.npz_path.strip())
        imgui.same_line()
        if imgui.button("Save latent") and self.npz_path.strip():
            ctl.save_latent(self.npz_path.strip())
