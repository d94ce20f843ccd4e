"""Latent panel: where picture A comes from (a seed, a class, or a loaded W+ .npz)."""

from __future__ import annotations

from imgui_bundle import imgui

from explorer.app.controller import AppController
from explorer.app.file_dialogs import LATENT_FILTERS, DialogRequest
from explorer.app.layout import LEFT
from explorer.app.panels.base import Panel
from explorer.app.widgets import slider_int
from explorer.cli_values import MAX_APP_SEED


class LatentPanel(Panel):
    title = "Latent"
    dock = LEFT

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
        imgui.set_next_item_width(-imgui.calc_text_size("seed").x - imgui.get_style().item_inner_spacing.x - 4)
        if state.seed > MAX_APP_SEED:  # from a file or a saved state: beyond the seed box's range
            imgui.text(f"seed {state.seed}")
            imgui.set_item_tooltip(f"the seed box holds 0 to {MAX_APP_SEED}; Prev / Next step into it")
        else:
            changed, seed = imgui.input_int("seed", state.seed, 1, 100)
            if changed:
                ctl.edit(seed=min(max(seed, 0), MAX_APP_SEED))
        imgui.set_item_tooltip("Left / Right arrow keys: -1 / +1, Page Down / Up: -10 / +10")
        if imgui.button("Prev"):
            ctl.step_seed(-1)
        imgui.same_line()
        if imgui.button("Next"):
            ctl.step_seed(1)
        imgui.same_line()
        if imgui.button("Random"):
            ctl.edit(seed=ctl.random_seed())
        imgui.same_line()
        imgui.text_disabled("or the arrow keys")
        if info.c_dim > 0:
            changed, cls = slider_int("class", state.class_idx or 0, 0, info.c_dim - 1)
            if changed:
                ctl.edit(class_idx=cls)
        imgui.end_disabled()

        imgui.separator_text("W+ latent file (.npz, key w)")
        imgui.set_next_item_width(-imgui.calc_text_size("Browse...").x - 2 * imgui.get_style().item_spacing.x - 8)
        _, self.npz_path = imgui.input_text_with_hint("##npz", "path/to/latent.npz", self.npz_path)
        imgui.same_line()
        if imgui.button("Browse...##npz"):
            ctl.choose_file(DialogRequest("open", "Load a W+ latent as picture A", filters=LATENT_FILTERS),
                            lambda path: self._use(ctl, path, save=False))
        if imgui.button("Load latent"):
            if self.npz_path.strip():
                ctl.load_latent_file(self.npz_path.strip())
            else:
                ctl.choose_file(DialogRequest("open", "Load a W+ latent as picture A", filters=LATENT_FILTERS),
                                lambda path: self._use(ctl, path, save=False))
        imgui.set_item_tooltip("from the path in the box; asks which file when the box is empty")
        imgui.same_line()
        if imgui.button("Save latent..."):
            if self.npz_path.strip():
                ctl.save_latent(self.npz_path.strip())
            else:
                ctl.choose_file(DialogRequest("save", "Save picture A's final W+", "latent.npz", LATENT_FILTERS),
                                lambda path: self._use(ctl, path, save=True))
        imgui.set_item_tooltip("to the path in the box; asks where when the box is empty")

    def _use(self, ctl: AppController, path: str, save: bool) -> None:
        """A path chosen in a dialog goes into the box, then is loaded or written."""
        self.npz_path = path
        if save:
            ctl.save_latent(path)
        else:
            ctl.load_latent_file(path)
