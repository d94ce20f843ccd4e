"""Style mixing panel: pictures A, B and their mix side by side, a weight per W+ row, and the grid."""

from __future__ import annotations

from imgui_bundle import imgui

from explorer.app.controller import AppController
from explorer.app.file_dialogs import LATENT_FILTERS, DialogRequest
from explorer.app.image_view import ImageView
from explorer.app.job_kinds import JobKind
from explorer.app.layout import LEFT_LOWER, place_floating
from explorer.app.mixing_views import MAX_NEIGHBOURS, MixingGrid, describe_a, describe_b, has_b
from explorer.app.panels.base import Panel
from explorer.app.style import WARNING_COLOR
from explorer.app.widgets import slider_float, slider_int
from explorer.cli_values import MAX_APP_SEED
from explorer.latent.state import LatentState

GRID_WINDOW = "Mixing grid"


def preset_weights(num_ws: int, rows: tuple[int, int]) -> tuple[float, ...]:
    """1 (take B) on the W+ rows [start, end) of a preset, 0 elsewhere."""
    start, end = rows
    return tuple(1.0 if start <= i < end else 0.0 for i in range(num_ws))


class MixingPanel(Panel):
    title = "Style mixing"
    dock = LEFT_LOWER

    def __init__(self) -> None:
        self.seed_b = 1
        self.latent_path = ""
        self.neighbours = 3
        self.show_grid = False
        self.a_view, self.b_view, self.result_view = ImageView("fit"), ImageView("fit"), ImageView("fit")
        self.grid_view = ImageView("fit")

    def views(self) -> tuple[ImageView, ...]:
        return self.a_view, self.b_view, self.result_view, self.grid_view

    def draw(self, ctl: AppController) -> None:
        info = ctl.model_info
        if info is None:
            imgui.text_disabled("no model loaded")
            return
        state = ctl.state
        changed, on = imgui.checkbox("mix with B", has_b(state))
        if changed:
            ctl.edit(mix_seed=self._new_b(state) if on else None, mix_latent=None)
        imgui.set_item_tooltip("take some W+ rows from a second picture B (seed B, or a latent file): "
                               "its coarse rows bring pose and shape, its fine rows colour and texture")
        imgui.same_line()
        if state.mix_seed is not None:
            self.seed_b = state.mix_seed
        imgui.set_next_item_width(-imgui.calc_text_size("seed B").x - imgui.get_style().item_inner_spacing.x - 4)
        changed, seed_b = imgui.input_int("seed B", self.seed_b, 1, 100)
        if changed:
            self.seed_b = min(max(seed_b, 0), MAX_APP_SEED)
            ctl.edit(mix_seed=self.seed_b, mix_latent=None)
        if state.mix_seed is not None and state.latent is None and state.mix_seed == state.seed:
            imgui.text_colored(WARNING_COLOR, "B is the same seed as A: every mix looks like A")
        self._b_from_file(ctl)
        self._pictures(ctl)
        # The rows' nominal resolutions and the coarse/middle/fine presets have one home
        # (explorer/directions/layers.py, read by the controller at each model load):
        # StyleGAN3's layer sizes carry a margin that must come off before they say anything.
        weights = self._weights(ctl, ctl.row_resolutions, ctl.layer_presets, info.num_ws)
        self._grid_controls(ctl, weights)

    def _b_from_file(self, ctl: AppController) -> None:
        style = imgui.get_style()
        imgui.set_next_item_width(-imgui.calc_text_size("Load as BBrowse...").x - 4 * style.frame_padding.x
                                  - 2 * style.item_spacing.x - 8)
        _, self.latent_path = imgui.input_text_with_hint("##mixnpz", "B from latent.npz", self.latent_path)
        imgui.same_line()
        if imgui.button("Load as B"):
            if self.latent_path.strip():
                ctl.load_latent_file(self.latent_path.strip(), as_mix_source=True)
            else:
                ctl.choose_file(DialogRequest("open", "Load a W+ latent as picture B", filters=LATENT_FILTERS),
                                lambda path: self._load_b(ctl, path))
        imgui.same_line()
        if imgui.button("Browse...##B"):
            ctl.choose_file(DialogRequest("open", "Load a W+ latent as picture B", filters=LATENT_FILTERS),
                            lambda path: self._load_b(ctl, path))

    def _load_b(self, ctl: AppController, path: str) -> None:
        self.latent_path = path
        ctl.load_latent_file(path, as_mix_source=True)

    def _pictures(self, ctl: AppController) -> None:
        """A | B | result, small, so the mix can be seen while the weights move."""
        state = ctl.state
        if not has_b(state):
            imgui.text_disabled("turn on 'mix with B' to see A, B and their mix side by side")
            return
        mixing = ctl.mixing
        if not imgui.is_any_item_active():  # not while a slider is dragged: A and B do not change then
            mixing.request_previews()
        previews = mixing.previews
        if previews is not None and previews.key == mixing.preview_key():
            self.a_view.show_array(("a", previews.version), previews.a)
            self.b_view.show_array(("b", previews.version), previews.b)
        if ctl.shows_current_state(ctl.frame):
            self.result_view.show(ctl.frame)
        side = max((imgui.get_content_region_avail().x - 2 * imgui.get_style().item_spacing.x) / 3, 16.0)
        labels = (describe_a(state), describe_b(state), "result")
        if imgui.begin_table("A B result", 3, imgui.TableFlags_.sizing_stretch_same):
            for label, view in zip(labels, (self.a_view, self.b_view, self.result_view)):
                imgui.table_next_column()
                imgui.text(label)
                if imgui.begin_child(f"##{label}", imgui.ImVec2(-1, side)):
                    view.draw()
                imgui.end_child()
            imgui.end_table()

    def _weights(self, ctl: AppController, resolutions: list[int], presets: dict[str, tuple[int, int]],
                 num_ws: int) -> tuple[float, ...]:
        imgui.separator_text("per-row weight (0 = A, 1 = B)")
        for name, rows in presets.items():
            if imgui.button(name):
                self._set_weights(ctl, preset_weights(num_ws, rows))
            imgui.same_line()
        if imgui.button("none"):
            self._set_weights(ctl, (0.0,) * num_ws)
        weights = list(ctl.state.mix_weights) + [0.0] * (num_ws - len(ctl.state.mix_weights))
        # Leave room for the longest label, so that 12 or 18 rows (and a scroll bar) never clip it.
        label_room = imgui.calc_text_size(f"mix row {num_ws} ({max(resolutions)}px)").x
        for row, res in enumerate(resolutions):
            imgui.set_next_item_width(-label_room - imgui.get_style().item_inner_spacing.x - 2)
            changed, value = slider_float(f"mix row {row} ({res}px)", weights[row], 0.0, 1.0, "%.2f",
                                          f"W+ row {row} drives the {res} px layers: 0 takes it from A, 1 from B")
            if changed:
                weights[row] = value
                self._set_weights(ctl, tuple(weights))
        return tuple(weights)

    def _new_b(self, state: LatentState) -> int:
        """Seed B when mixing starts: the last one chosen, unless that is A's own seed (then the
        mix would equal A and the presets seem to do nothing), in which case the next seed."""
        if state.latent is None and self.seed_b == state.seed:
            self.seed_b = state.seed + 1 if state.seed < MAX_APP_SEED else state.seed - 1
        return self.seed_b

    def _set_weights(self, ctl: AppController, weights: tuple[float, ...]) -> None:
        changes = {"mix_weights": weights}
        if not has_b(ctl.state):
            changes["mix_seed"] = self._new_b(ctl.state)  # moving a slider means "mix"
        ctl.edit(**changes)

    def _grid_controls(self, ctl: AppController, weights: tuple[float, ...]) -> None:
        imgui.separator_text("mixing grid of the current A and B")
        imgui.set_next_item_width(120)
        _, self.neighbours = slider_int("next seeds", self.neighbours, 0, MAX_NEIGHBOURS, "%d",
                                        "how many following seeds of A (rows) and B (columns) join the grid")
        progress = ctl.job_progress(JobKind.MIXING_GRID)
        if progress is None:
            imgui.same_line()
            if imgui.button("Render grid"):
                ctl.mixing.start_grid(self.neighbours)
                self.show_grid = True
            if not any(weights):
                imgui.text_disabled("all weights are 0: every cell would be its row's A")
        else:
            imgui.progress_bar(progress, (-80, 0))
            imgui.same_line()
            if imgui.button("Cancel##grid"):
                ctl.cancel_job(JobKind.MIXING_GRID)
        if ctl.mixing.grid is not None:
            _, self.show_grid = imgui.checkbox("show grid", self.show_grid)

    def every_frame(self, ctl: AppController) -> None:
        """The grid's own window (drawn every frame, whether or not the panel tab is visible)."""
        grid = ctl.mixing.grid
        if grid is None or not self.show_grid:
            return
        place_floating(GRID_WINDOW)
        opened, self.show_grid = imgui.begin(GRID_WINDOW, self.show_grid)
        if opened:
            if imgui.button("Save PNG"):
                ctl.mixing.save_grid()
            imgui.set_item_tooltip("the grid with its labels, as a new PNG in the save folder")
            imgui.same_line()
            imgui.text_disabled("rows: A and its next seeds; columns: B and its next seeds")
            self._labelled_grid(grid)
        imgui.end()

    def _labelled_grid(self, grid: MixingGrid) -> None:
        plan = grid.plan
        line = imgui.get_text_line_height_with_spacing()
        left = max(imgui.calc_text_size(t).x for t in plan.row_labels) + 8
        imgui.dummy(imgui.ImVec2(0, line))           # room for the column labels
        imgui.indent(left)                           # and for the row labels
        self.grid_view.show_array(("grid", grid.version), grid.rgba)
        self.grid_view.draw()
        imgui.unindent(left)
        rect = self.grid_view.rect
        if rect is None:
            return
        draw, colour = imgui.get_window_draw_list(), imgui.get_color_u32(imgui.Col_.text)
        cell_w, cell_h = rect.width / (len(plan.cols) + 1), rect.height / (len(plan.rows) + 1)
        for j, text in enumerate(plan.col_labels):
            x = rect.x + (j + 1) * cell_w
            text = shortest_needed(text, cell_w - 4)
            draw.push_clip_rect(imgui.ImVec2(x, rect.y - line), imgui.ImVec2(x + cell_w - 2, rect.y), True)
            draw.add_text(imgui.ImVec2(x + 2, rect.y - line), colour, text)
            draw.pop_clip_rect()
        for i, text in enumerate(plan.row_labels):
            y = rect.y + (i + 1) * cell_h + cell_h / 2 - line / 2
            draw.add_text(imgui.ImVec2(rect.x - imgui.calc_text_size(text).x - 6, y), colour, text)


def shortest_needed(label: str, width: float) -> str:
    """'B: seed 12', else 'seed 12', else '12': the longest form that fits a narrow grid cell."""
    forms = [label, label.split(": ", 1)[-1], label.rsplit(" ", 1)[-1]]
    return next((f for f in forms if imgui.calc_text_size(f).x <= width), forms[-1])
