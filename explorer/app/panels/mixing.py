"""Style mixing panel: blend each W+ row between picture A and picture B, and render mixing grids."""

from __future__ import annotations

from imgui_bundle import imgui

from explorer.app.controller import MAX_SEED, AppController
from explorer.app.image_view import ImageView
from explorer.errors import ExplorerError
from explorer.generate import parse_seeds

# The StyleGAN paper's split of the synthesis network by resolution: (name, lowest, highest).
PRESETS = (("coarse", 0, 8), ("middle", 16, 32), ("fine", 64, 1 << 30))


def preset_weights(ws_resolutions: list[int], lo: int, hi: int) -> tuple[float, ...]:
    """1 (take B) on the rows whose resolution is in [lo, hi], 0 elsewhere."""
    return tuple(1.0 if lo <= r <= hi else 0.0 for r in ws_resolutions)


class MixingPanel:
    title = "Style mixing"

    def __init__(self) -> None:
        self.seed_b = 1
        self.latent_path = ""
        self.row_seeds = "0-3"
        self.col_seeds = "10-13"
        self.show_grid = False
        self.grid_view = ImageView("fit")

    def draw(self, ctl: AppController) -> None:
        info = ctl.model_info
        if info is None:
            imgui.text_disabled("no model loaded")
            return
        state = ctl.state
        enabled = state.mix_seed is not None or state.mix_latent is not None
        changed, on = imgui.checkbox("mix with B", enabled)
        if changed:
            ctl.edit(mix_seed=self.seed_b if on else None, mix_latent=None)
        if state.mix_seed is not None:
            self.seed_b = state.mix_seed
        changed, seed_b = imgui.input_int("seed B", self.seed_b, 1, 100)
        if changed:
            self.seed_b = min(max(seed_b, 0), MAX_SEED)
            ctl.edit(mix_seed=self.seed_b, mix_latent=None)
        if state.mix_latent is not None:
            imgui.text_disabled("B is a loaded latent")
        imgui.set_next_item_width(-imgui.calc_text_size("Load as B").x - 24)
        _, self.latent_path = imgui.input_text_with_hint("##mixnpz", "B from latent.npz", self.latent_path)
        imgui.same_line()
        if imgui.button("Load as B") and self.latent_path.strip():
            ctl.load_latent_file(self.latent_path.strip(), as_mix_source=True)

        imgui.separator_text("per-row weight (0 = A, 1 = B)")
        for i, (name, lo, hi) in enumerate(PRESETS):
            if i:
                imgui.same_line()
            if imgui.button(name):
                self._set_weights(ctl, preset_weights(info.ws_resolutions, lo, hi))
        imgui.same_line()
        if imgui.button("none"):
            self._set_weights(ctl, (0.0,) * info.num_ws)
        weights = list(state.mix_weights) + [0.0] * (info.num_ws - len(state.mix_weights))
        for row, res in enumerate(info.ws_resolutions):
            changed, value = imgui.slider_float(f"mix row {row} ({res}px)", weights[row], 0.0, 1.0, "%.2f")
            if changed:
                weights[row] = value
                self._set_weights(ctl, tuple(weights))

        imgui.separator_text("mixing grid (rows: A seeds, columns: B seeds)")
        _, self.row_seeds = imgui.input_text("row seeds", self.row_seeds)
        _, self.col_seeds = imgui.input_text("column seeds", self.col_seeds)
        progress = ctl.job_progress("grid")
        if progress is None:
            if imgui.button("Render grid"):
                try:
                    rows, cols = parse_seeds(self.row_seeds), parse_seeds(self.col_seeds)
                except ExplorerError as e:
                    ctl.set_status(str(e), error=True)
                else:
                    ctl.start_mixing_grid(rows, cols, tuple(weights))
                    self.show_grid = True
        else:
            imgui.progress_bar(progress, (-80, 0))
            imgui.same_line()
            if imgui.button("Cancel##grid"):
                ctl.cancel_job("grid")
        if "grid" in ctl.results:
            imgui.same_line()
            _, self.show_grid = imgui.checkbox("show grid", self.show_grid)

    def _set_weights(self, ctl: AppController, weights: tuple[float, ...]) -> None:
        changes = {"mix_weights": weights}
        if ctl.state.mix_seed is None and ctl.state.mix_latent is None:
            changes["mix_seed"] = self.seed_b  # moving a slider means "mix"
        ctl.edit(**changes)

    def draw_windows(self, ctl: AppController) -> None:
        """The grid's own window (drawn every frame, whether or not the panel tab is visible)."""
        result = ctl.results.get("grid")
        if result is None or not self.show_grid:
            return
        imgui.set_next_window_size(imgui.ImVec2(520, 560), imgui.Cond_.first_use_ever)
        imgui.set_next_window_bg_alpha(1.0)  # the grid's empty corner must not show panels behind
        opened, self.show_grid = imgui.begin("Mixing grid", self.show_grid)
        if opened:
            self.grid_view.show_array(("grid", result.version), result.rgba)
            self.grid_view.draw()
        imgui.end()
