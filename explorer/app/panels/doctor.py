"""Doctor panel: run the artifact doctor on the loaded model and browse its findings."""

from __future__ import annotations

from imgui_bundle import imgui

from explorer.app.controller import AppController
from explorer.app.image_view import ImageView
from explorer.app.job_kinds import JobKind
from explorer.app.layout import RIGHT
from explorer.app.panels.base import Panel

SEVERITY_COLORS = {"ok": (0.45, 0.8, 0.45, 1.0), "note": (0.95, 0.8, 0.3, 1.0), "warn": (1.0, 0.4, 0.35, 1.0)}


class DoctorPanel(Panel):
    title = "Doctor"
    dock = RIGHT

    def __init__(self) -> None:
        self.view = ImageView("fit")

    def views(self) -> tuple[ImageView, ...]:
        return (self.view,)

    def draw(self, ctl: AppController) -> None:
        doctor = ctl.doctor
        if ctl.model_info is None:
            imgui.text_disabled("no model loaded")
            return
        imgui.set_next_item_width(100)
        _, doctor.seeds = imgui.input_int("seeds", doctor.seeds)
        doctor.seeds = min(max(doctor.seeds, 4), 512)
        imgui.set_item_tooltip("seeds 0..N-1; fewer is faster (a 128 px model takes about a minute for 16 on CPU)")
        imgui.same_line()
        progress = ctl.job_progress(JobKind.DOCTOR)
        if progress is None:
            if imgui.button("Diagnose"):
                doctor.start()
        else:
            handle = ctl.jobs[JobKind.DOCTOR]
            message = handle.progress.message if handle.progress is not None else "starting"
            imgui.progress_bar(progress, (-80, 0), message)
            imgui.same_line()
            if imgui.button("Cancel##doctor"):
                doctor.cancel()
        diagnosis = doctor.diagnosis
        if diagnosis is None:
            imgui.text_wrapped("Looks for droplets, texture sticking, noise that does nothing or too much, "
                               "a collapsed W and mode collapse. Click a finding to see its layer.")
            return
        if diagnosis.model_hash != ctl.model_info.content_hash:
            imgui.text_disabled("(made for the previous model)")
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
            imgui.text_disabled(", ".join(where))
        if f.picture is not None:
            self.view.show_array(("doctor", doctor.serial, doctor.selected), f.picture)
            if imgui.begin_child("evidence", imgui.ImVec2(-1, max(imgui.get_content_region_avail().y, 120))):
                self.view.draw()
            imgui.end_child()
