"""Doctor panel: run the artifact doctor on the loaded model and browse its findings."""

from __future__ import annotations

from dataclasses import dataclass

from imgui_bundle import imgui

from explorer.app.controller import AppController
from explorer.app.doctor import DIVERSITY_MIN_SEEDS, MAX_APP_SEEDS, MIN_APP_SEEDS
from explorer.app.image_view import ImageView
from explorer.app.job_kinds import JobKind
from explorer.app.layout import RIGHT
from explorer.app.panels.base import Panel
from explorer.app.widgets import disabled_color, wrapped_text

SEVERITY_COLORS = {"skip": (0.6, 0.6, 0.6, 1.0), "ok": (0.45, 0.8, 0.45, 1.0), "note": (0.95, 0.8, 0.3, 1.0),
                   "warn": (1.0, 0.4, 0.35, 1.0)}
SEEDS_TOOLTIP = (f"seeds 0..N-1, {MIN_APP_SEEDS} to {MAX_APP_SEEDS}; fewer is faster (a 128 px model takes "
                 f"about a minute for 16 on CPU). Diversity (mode collapse) is judged from "
                 f"{DIVERSITY_MIN_SEEDS} seeds up, the other checks from {MIN_APP_SEEDS}.")


@dataclass(frozen=True)
class ProgressShown:
    """The progress bar as last drawn: its text, the width that text needs in it, the bar's width."""

    text: str
    text_width: float
    bar_width: float


class DoctorPanel(Panel):
    title = "Doctor"
    dock = RIGHT

    def __init__(self) -> None:
        self.view = ImageView("fit smooth")  # plots and strips: as wide as the panel, not integer steps
        self.progress_shown: ProgressShown | None = None

    def views(self) -> tuple[ImageView, ...]:
        return (self.view,)

    def draw(self, ctl: AppController) -> None:
        doctor = ctl.doctor
        if ctl.model_info is None:
            imgui.text_disabled("no model loaded")
            return
        imgui.set_next_item_width(100)
        doctor.set_seeds(imgui.input_int("seeds", doctor.seeds)[1])
        imgui.set_item_tooltip(SEEDS_TOOLTIP)
        imgui.same_line()
        progress = ctl.job_progress(JobKind.DOCTOR)
        if progress is None:
            self.progress_shown = None
            if imgui.button("Diagnose"):
                doctor.start()
        else:
            if imgui.button("Cancel##doctor"):
                doctor.cancel()
            handle = ctl.jobs[JobKind.DOCTOR]
            self._draw_progress(progress, handle.progress.message if handle.progress is not None else "starting")
        if doctor.unjudged and doctor.diagnosis is None:  # after a run, its diversity finding says it
            wrapped_text(doctor.unjudged, disabled_color())
        diagnosis = doctor.diagnosis
        if diagnosis is None:
            imgui.text_wrapped("Looks for droplets, texture sticking, noise that does nothing or too much, "
                               "a collapsed W and mode collapse. Click a finding to see its layer.")
            return
        flags = imgui.TableFlags_.row_bg | imgui.TableFlags_.borders_inner_v | imgui.TableFlags_.sizing_fixed_fit
        if imgui.begin_table("findings", 4, flags):
            for name in ("severity", "check", "layer", "value"):
                imgui.table_setup_column(name)
            imgui.table_headers_row()
            for i, f in enumerate(diagnosis.findings):
                imgui.table_next_row()
                imgui.table_next_column()
                imgui.push_style_color(imgui.Col_.text, imgui.ImVec4(*SEVERITY_COLORS[f.severity]))
                clicked, _ = imgui.selectable(f"{f.severity}##finding{i}", doctor.selected == i,
                                              imgui.SelectableFlags_.span_all_columns)
                imgui.pop_style_color()
                if clicked:
                    doctor.select(i)
                for text in (f.check, f.layer or "", "" if f.value is None else f"{f.value:.3g}"):
                    imgui.table_next_column()
                    imgui.text(text)
            imgui.end_table()
        if doctor.selected is None:
            imgui.text_disabled("click a finding for its evidence")
            return
        f = diagnosis.findings[doctor.selected]
        imgui.text_wrapped(f.message)
        if f.fix:
            imgui.text_colored(imgui.ImVec4(*SEVERITY_COLORS["note"]), "What to change:")
            imgui.text_wrapped(f.fix)
        if f.seed is not None or f.position is not None:
            where = [f"seed {f.seed}"] if f.seed is not None else []
            if f.position is not None:
                where.append(f"position y {f.position[0]:.2f}, x {f.position[1]:.2f} (marked on the picture)")
            wrapped_text(", ".join(where), disabled_color())
        if f.picture is not None:
            if f.caption:
                wrapped_text(f.caption, disabled_color())
            self.view.show_array(("doctor", doctor.serial, doctor.selected), f.picture)
            # As tall as the picture at the panel's width (no gap above it), at most what is left.
            avail = imgui.get_content_region_avail()
            h, w = f.picture.shape[:2]
            height = min(avail.x * h / w, max(avail.y, 120))
            if imgui.begin_child("evidence", imgui.ImVec2(-1, height)):
                self.view.draw()
            imgui.end_child()

    def _draw_progress(self, fraction: float, message: str) -> None:
        """The bar on a full-width line of its own: imgui clips a bar's text at the left when it is
        too long, and beside the seeds control "droplets: spike index per layer" read "lets: ...".
        A message wider even than the panel goes under the bar, wrapped; the bar then shows the
        percentage."""
        inner, width = imgui.get_style().item_inner_spacing.x, imgui.get_content_region_avail().x
        fits = imgui.calc_text_size(message).x + inner <= width
        text = message if fits else f"{fraction:.0%}"
        imgui.progress_bar(fraction, (width, 0), text)
        self.progress_shown = ProgressShown(text, imgui.calc_text_size(text).x + inner, imgui.get_item_rect_size().x)
        if not fits:
            imgui.text_wrapped(message)
