"""Directions panel: compute / import / export direction sets, and move along them with sliders.

Each slider is one `DirectionEdit` in the state (strength in sigmas, on its own W+ rows); the
selected direction shows its row range with coarse / middle / fine presets and a preview strip
from -3 to +3 sigma, and sets that have them plot their explained variance.
"""

from __future__ import annotations

import numpy as np
from imgui_bundle import imgui, implot

from explorer.app.controller import AppController
from explorer.app.direction_edits import MAX_STRENGTH, LayerRange, half_open, row_range
from explorer.app.direction_sets import STRIP_STRENGTHS, DirectionSets
from explorer.app.file_dialogs import DIRECTION_FILTERS, DialogRequest
from explorer.app.image_view import ImageView
from explorer.app.job_kinds import JobKind
from explorer.app.layout import RIGHT
from explorer.app.panels.base import Panel
from explorer.app.widgets import slider_float, slider_int
from explorer.directions import DirectionSet

METHODS = ("pca", "sefa", "kmeans")  # svm needs a label file: the CLI's job
DEFAULT_SAMPLES = 100_000
DEFAULT_COMPONENTS = {"pca": 64, "sefa": 64, "kmeans": 16}


class DirectionsPanel(Panel):
    title = "Directions"
    dock = RIGHT

    def __init__(self) -> None:
        self.method = 0
        self.samples = DEFAULT_SAMPLES
        self.components = DEFAULT_COMPONENTS["pca"]
        self.path = ""
        self.shown = 10                                        # sliders on screen
        self.selected = 0                                      # the direction with the strip
        self.layers: dict[tuple[str, int], LayerRange] = {}    # ranges of sliders at 0
        self.strip_view = ImageView("fit")
        self.strip_labels: list[tuple[str, float]] = []      # (text, x centre) under the strip, as drawn

    def views(self) -> tuple[ImageView, ...]:
        return (self.strip_view,)

    def draw(self, ctl: AppController) -> None:
        info = ctl.model_info
        if info is None:
            imgui.text_disabled("no model loaded")
            return
        ds = ctl.directions
        self._set_choice(ds)
        self._compute(ctl, ds)
        self._files(ctl, ds)
        s = ds.current_set()
        if s is None:
            imgui.text_wrapped("No direction set for this model yet: compute one above, or import a .npz.")
            return
        self._sliders(ctl, ds, s, info.num_ws)
        self._selected(ctl, ds, s, info.num_ws)
        self._explained_variance(s)

    # --- sets ------------------------------------------------------------------------------------
    def _set_choice(self, ds: DirectionSets) -> None:
        names = ds.names()
        if not names:
            return
        imgui.set_next_item_width(-imgui.calc_text_size("Delete").x - 24)
        if imgui.begin_combo("##set", ds.current or ""):
            for name in names:
                if imgui.selectable(name, name == ds.current)[0]:
                    ds.select(name)
                    self.selected = 0
            imgui.end_combo()
        imgui.same_line()
        if imgui.button("Delete"):
            imgui.open_popup("delete set")
        if imgui.begin_popup("delete set"):
            imgui.text(f"Delete {ds.current} from this model's cache?")
            if imgui.button("Delete it") and ds.current is not None:
                ds.remove(ds.current)
                imgui.close_current_popup()
            imgui.same_line()
            if imgui.button("Keep it"):
                imgui.close_current_popup()
            imgui.end_popup()

    def _compute(self, ctl: AppController, ds: DirectionSets) -> None:
        imgui.separator_text("compute")
        imgui.set_next_item_width(80)
        changed, self.method = imgui.combo("method", self.method, list(METHODS))
        imgui.set_item_tooltip("pca: the main axes along which w varies (GANSpace); sefa: the directions that "
                               "move the styles most, read from the weights (no sampling); kmeans: from the "
                               "average w towards each cluster of w")
        if changed:
            self.components = DEFAULT_COMPONENTS[METHODS[self.method]]
        method = METHODS[self.method]
        imgui.set_next_item_width(60)
        _, self.components = imgui.input_int("clusters" if method == "kmeans" else "components",
                                             self.components, 0)
        # PCA and SeFa find at most w_dim directions: the default 64 is too many for a narrow W.
        most = min(512, ctl.model_info.w_dim) if method in ("pca", "sefa") and ctl.model_info else 512
        self.components = min(max(self.components, 1), most)
        imgui.set_item_tooltip(f"how many directions (sliders) the set holds, 1 to {most}")
        if method != "sefa":  # SeFa reads the weights; it samples nothing
            imgui.same_line()
            imgui.set_next_item_width(80)
            _, self.samples = imgui.input_int("samples", self.samples, 0)
            self.samples = min(max(self.samples, 100), 10_000_000)
            if imgui.is_item_hovered():
                imgui.set_tooltip("w samples to fit on; fewer is quicker and rougher")
        progress = ds.compute_progress()
        if progress is None:
            if imgui.button(f"Compute {method}"):
                ds.start_compute(method, self.samples, self.components)
            imgui.set_item_tooltip("in the background; the set is cached per model, so the next launch has it at once")
        else:
            imgui.progress_bar(progress.fraction, (-80, 0), progress.message or "starting")
            imgui.same_line()
            if imgui.button("Cancel##directions"):
                ctl.cancel_job(JobKind.DIRECTIONS)

    def _files(self, ctl: AppController, ds: DirectionSets) -> None:
        style = imgui.get_style()
        imgui.set_next_item_width(-imgui.calc_text_size("Browse...Export").x - 4 * style.frame_padding.x
                                  - 2 * style.item_spacing.x - 8)
        _, self.path = imgui.input_text_with_hint("##directions file", "directions.npz", self.path)
        imgui.same_line()
        if imgui.button("Browse...##directions"):
            ctl.choose_file(DialogRequest("open", "Import a direction set", filters=DIRECTION_FILTERS),
                            lambda path: self._import(ds, path))
        imgui.set_item_tooltip("choose a direction set (.npz) to import")
        imgui.same_line()
        imgui.begin_disabled(ds.current is None)
        if imgui.button("Export") and ds.current is not None:
            if self.path.strip():
                ds.export_set(ds.current, self.path.strip())
            else:
                ctl.choose_file(DialogRequest("save", "Export the direction set", f"{ds.current}.npz",
                                              DIRECTION_FILTERS), lambda path: self._export(ds, path))
        imgui.set_item_tooltip("to the path in the box; asks where when the box is empty")
        imgui.end_disabled()
        if self.path.strip() and imgui.small_button("Import the path above"):
            ds.import_set(self.path.strip())

    def _import(self, ds: DirectionSets, path: str) -> None:
        self.path = path
        ds.import_set(path)

    def _export(self, ds: DirectionSets, path: str) -> None:
        self.path = path
        if ds.current is not None:
            ds.export_set(ds.current, path)

    # --- sliders ---------------------------------------------------------------------------------
    def layers_of(self, ds: DirectionSets, s: DirectionSet, index: int) -> LayerRange:
        """The edit's rows when the slider is off 0, else what the panel remembers (the set's own)."""
        return ds.edit_layers(s.name, index) or self.layers.get((s.name, index), s.layer_range)

    def _sliders(self, ctl: AppController, ds: DirectionSets, s: DirectionSet, num_ws: int) -> None:
        imgui.separator_text(f"{s.count} {s.method} directions (strength in sigma)")
        imgui.set_next_item_width(90)
        _, self.shown = imgui.input_int("sliders", self.shown)
        self.shown = min(max(self.shown, 1), s.count)
        imgui.same_line()
        if imgui.button("Reset all"):
            ds.reset_all()
        others = sum(1 for e in ctl.state.edits if e.direction_set != s.name)
        if others:
            imgui.text_disabled(f"(+{others} edits from other sets)")
        self.selected = min(self.selected, s.count - 1)
        flags = imgui.TableFlags_.sizing_fixed_fit | imgui.TableFlags_.no_pad_outer_x
        if not imgui.begin_table("direction sliders", 5, flags):
            return
        imgui.table_setup_column("strip")
        imgui.table_setup_column("direction")
        imgui.table_setup_column("strength (sigma)", imgui.TableColumnFlags_.width_stretch)
        imgui.table_setup_column("W+ rows")
        imgui.table_setup_column("")
        imgui.table_headers_row()
        for i in range(min(self.shown, s.count)):
            imgui.table_next_row()
            imgui.table_next_column()
            if imgui.radio_button(f"##sel{i}", i == self.selected):
                self.selected = i
            imgui.set_item_tooltip("show this direction's preview strip and W+ rows below")
            imgui.table_next_column()
            imgui.text(s.labels[i])
            imgui.table_next_column()
            imgui.set_next_item_width(-1)
            changed, value = slider_float(f"##strength{i}", ds.strength(s.name, i), -MAX_STRENGTH, MAX_STRENGTH,
                                          "%+.2f", f"{s.labels[i]}: strength in sigma (spread of w along it)")
            if changed:
                ds.set_strength(s.name, i, value, self.layers_of(ds, s, i))
                self.selected = i
            imgui.table_next_column()
            first, last = row_range(self.layers_of(ds, s, i), num_ws)
            imgui.text_disabled(f"rows {first}-{last}")
            imgui.table_next_column()
            if imgui.small_button(f"x##reset{i}"):
                ds.set_strength(s.name, i, 0.0, self.layers_of(ds, s, i))
            imgui.set_item_tooltip("back to 0")
        imgui.end_table()

    def _selected(self, ctl: AppController, ds: DirectionSets, s: DirectionSet, num_ws: int) -> None:
        i = self.selected
        layers = self.layers_of(ds, s, i)
        first, last = row_range(layers, num_ws)
        res = ctl.row_resolutions or [0] * num_ws
        imgui.separator_text(f"{s.labels[i]}: W+ rows {first}-{last} ({res[first]}-{res[last]} px)")
        new = None
        for name, (start, end) in ctl.layer_presets.items():
            if imgui.button(name):
                new = half_open(start, end - 1, num_ws)
            imgui.same_line()
        if imgui.button("all rows"):
            new = (0, None)
        changed_a, a = slider_int("first row", first, 0, num_ws - 1, f"%d ({res[first]} px)")
        changed_b, b = slider_int("last row", last, 0, num_ws - 1, f"%d ({res[last]} px)")
        if changed_a:
            new = half_open(a, max(a, last), num_ws)
        elif changed_b:
            new = half_open(min(first, b), b, num_ws)
        if new is not None and new != layers:
            self.layers[(s.name, i)] = new
            ds.set_layers(s.name, i, new)
            layers = new
        if not imgui.is_any_item_active():  # not while a slider is being dragged
            ds.request_strip(s.name, i, layers)
        strip = ds.strip
        if strip is not None and (strip.key.set_name, strip.key.index) == (s.name, i):
            self.strip_view.show_array(("strip", strip.version), strip.rgba)
            height = imgui.get_content_region_avail().x * strip.rgba.shape[0] / strip.rgba.shape[1]
            if imgui.begin_child("strip", imgui.ImVec2(-1, min(height, 160) + 4)):
                self.strip_view.draw()
            imgui.end_child()
            self._sigma_labels()

    def _sigma_labels(self) -> None:
        """Under each picture of the strip, the strength it was drawn at."""
        rect = self.strip_view.rect
        if rect is None:
            return
        y = imgui.get_cursor_screen_pos().y
        cell = rect.width / len(STRIP_STRENGTHS)
        self.strip_labels = []
        for k, strength in enumerate(STRIP_STRENGTHS):
            text = "0" if strength == 0 else f"{strength:+g}"
            centre = rect.x + (k + 0.5) * cell
            imgui.set_cursor_screen_pos(imgui.ImVec2(centre - imgui.calc_text_size(text).x / 2, y))
            imgui.text_disabled(text)
            self.strip_labels.append((text, centre))
        imgui.text_disabled("strength in sigma")

    @staticmethod
    def _explained_variance(s: DirectionSet) -> None:
        if s.explained_variance is None:
            return
        share = np.asarray(s.explained_variance, dtype=np.float64) * 100
        imgui.text_disabled(f"explained variance: {share.sum():.1f}% in {s.count} directions")
        height = 190.0  # room for the legend above and both axes (the panel scrolls)
        if implot.begin_plot("##explained variance", imgui.ImVec2(-1, height)):
            fit = implot.AxisFlags_.auto_fit
            implot.setup_axes("direction", "share %", fit, fit)  # the bars start at this axis
            # Above the plot, in a row: inside it sat on the first (tallest) bars.
            implot.setup_legend(implot.Location_.north, implot.LegendFlags_.outside | implot.LegendFlags_.horizontal)
            # Each direction's share is a few % against a cumulative curve near 100 %: its own axis.
            implot.setup_axis(implot.ImAxis_.y2, "cumulative %", fit | implot.AxisFlags_.opposite)
            implot.plot_bars("share", share)
            implot.set_axes(implot.ImAxis_.x1, implot.ImAxis_.y2)
            implot.plot_line("cumulative", np.cumsum(share))
            implot.end_plot()
