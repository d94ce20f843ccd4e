"""Projection panel: the dropped image beside its reconstruction, live, and what to do with the latent."""

from __future__ import annotations

import dataclasses

import numpy as np
from imgui_bundle import imgui, implot

from explorer.app.controller import AppController
from explorer.app.durations import format_duration
from explorer.app.file_dialogs import IMAGE_FILTERS, DialogRequest
from explorer.app.image_view import ImageView
from explorer.app.layout import BELOW
from explorer.app.panels.base import Panel
from explorer.app.style import WARNING_COLOR
from explorer.app.widgets import wrapped_text
from explorer.app.projections import ProjectionRun, Projections, crop_note
from explorer.cli_values import MAX_APP_SEED
from explorer.project.config import SPACES


class ProjectionPanel(Panel):
    title = "Projection"
    dock = BELOW

    def __init__(self) -> None:
        self.path = ""
        self.refine_steps = 100
        self.seed_b = 1
        self.view = ImageView("fit")
        self.progress_text = ""                 # the progress bar's words, as last drawn
        self.marked_switch: int | None = None   # the W -> W+ step marked on the loss curve, as last drawn
        self._run_shown: ProjectionRun | None = None

    def views(self) -> tuple[ImageView, ...]:
        return (self.view,)

    def wants_focus(self, ctl: AppController) -> bool:
        """A dropped image starts a projection: this panel comes to the front."""
        run = ctl.projection.run
        if run is None or run is self._run_shown:
            return False
        self._run_shown = run
        return True

    def draw(self, ctl: AppController) -> None:
        if ctl.model_info is None:
            imgui.text_disabled("no model loaded")
            return
        projection = ctl.projection
        self._settings(ctl, projection)
        run = projection.run
        if run is None:
            return
        imgui.separator_text(f"{run.name} into {run.plan}" if run.plan else run.name)
        if projection.busy:
            self._progress(run)
        else:  # what to do with the result comes first: the tab row under the picture is short
            if run.result is not None:
                self._use(ctl, projection)
            if run.projector is not None:
                imgui.set_next_item_width(100)
                _, self.refine_steps = imgui.input_int("steps##refine", self.refine_steps, 0)
                self.refine_steps = min(max(self.refine_steps, 1), 100_000)
                imgui.same_line()
                if imgui.button("Refine more"):
                    projection.refine(self.refine_steps)
        # Pictures and loss curve side by side, so both fit the tab row under the main picture.
        if imgui.begin_table("projection view", 2, imgui.TableFlags_.sizing_stretch_prop):
            imgui.table_setup_column("pictures", imgui.TableColumnFlags_.width_stretch, 1.0)
            imgui.table_setup_column("loss", imgui.TableColumnFlags_.width_stretch, 1.0)
            imgui.table_next_column()
            self._pictures(run)
            imgui.table_next_column()
            self._loss_curve(run)
            imgui.end_table()

    def _settings(self, ctl: AppController, projection: Projections) -> None:
        style = imgui.get_style()
        imgui.set_next_item_width(-imgui.calc_text_size("ProjectBrowse...").x - 4 * style.frame_padding.x
                                  - 2 * style.item_spacing.x - 8)
        _, self.path = imgui.input_text_with_hint("##image", "drop an image on the window, or type its path",
                                                  self.path)
        imgui.set_item_tooltip("finds the latent that draws the image (projection, or GAN inversion)")
        imgui.same_line()
        if imgui.button("Project"):
            if self.path.strip():
                projection.start(self.path.strip())
            else:  # nothing typed: ask, as Browse does
                self._browse(ctl, projection)
        imgui.same_line()
        if imgui.button("Browse...##image"):
            self._browse(ctl, projection)
        c = projection.config
        imgui.set_next_item_width(100)
        _, steps = imgui.input_int("steps", c.steps, 0)
        imgui.same_line()
        imgui.set_next_item_width(70)
        _, space = imgui.combo("space", SPACES.index(c.space), [s.upper() for s in SPACES])
        imgui.set_item_tooltip("W: one w for every layer (edits well); W+: one per layer (fits closer). "
                               f"W+ spends the first {c.w_phase:.0%} of its steps in W.")
        imgui.same_line()
        imgui.set_next_item_width(160)
        _, loss = imgui.input_text("loss", c.loss)
        if imgui.is_item_hovered():
            imgui.set_tooltip("default, or a '+' list of l1, mse, msssim, dfeat, imagenet (each *weight)")
        projection.config = dataclasses.replace(c, steps=min(max(steps, 1), 100_000), space=SPACES[space],
                                                loss=loss.strip() or "default")

    def _pictures(self, run: ProjectionRun) -> None:
        if run.loaded is not None:
            (left, top, right, bottom), (w, h) = run.loaded.crop_box, run.loaded.source_size
            imgui.text_disabled("target | reconstruction")
            imgui.set_item_tooltip(f"the target is the crop ({left}, {top})-({right}, {bottom}) of {w} x {h}")
            note = crop_note(run.loaded)
            if note:
                wrapped_text(note, WARNING_COLOR)
        if run.picture is not None:
            self.view.show_array(("projection", run.serial, run.picture_version), run.picture)
            avail = imgui.get_content_region_avail()
            height = min(avail.x * run.picture.shape[0] / run.picture.shape[1], 300, max(avail.y - 4, 48))
            if imgui.begin_child("projection picture", imgui.ImVec2(-1, height + 4)):
                self.view.draw()
            imgui.end_child()

    def _progress(self, run: ProjectionRun) -> None:
        fraction = run.step / run.total if run.total else 0.0
        left = run.seconds_left
        if left is not None:
            when = f", {format_duration(left)} left"
        else:
            when = ", measuring the speed ..." if run.step else ""
        self.progress_text = f"{run.step} / {run.total}" + (", paused" if run.paused else when)
        imgui.progress_bar(fraction, (-1, 0), self.progress_text)
        if run.phase:
            switched = f" (W+ from step {run.switch_step + 1})" if run.switch_step is not None else ""
            loss = f", loss {run.losses[-1]:.4f}" if run.losses else ""
            imgui.text(f"now in {run.phase}{switched}{loss}")
        else:
            imgui.text(run.message)
        if imgui.button("Resume" if run.paused else "Pause"):
            if run.paused:
                run.resume()
            else:
                run.pause()
        imgui.same_line()
        if imgui.button("Stop"):
            run.stop()
        if imgui.is_item_hovered():
            imgui.set_tooltip("finish now and use the best latent so far")

    def _loss_curve(self, run: ProjectionRun) -> None:
        losses = np.asarray(list(run.losses), dtype=np.float64)
        if len(losses) < 2:
            return
        height = min(170.0, max(imgui.get_content_region_avail().y - 4, 140.0))  # room for the legend and both axes
        if implot.begin_plot("##projection loss", imgui.ImVec2(-1, height)):
            fit = implot.AxisFlags_.auto_fit
            implot.setup_axes("step", "loss", fit, fit)
            # Above the plot, in a row: inside, in a short plot, it lay on the curve as a sliver.
            implot.setup_legend(implot.Location_.north, implot.LegendFlags_.outside | implot.LegendFlags_.horizontal)
            implot.plot_line("loss", losses)
            self.marked_switch = run.switch_step
            if run.switch_step is not None:  # the loss jumps where every row gets its own w
                implot.plot_inf_lines("W -> W+", np.array([run.switch_step], dtype=np.float64))
            implot.end_plot()

    def _browse(self, ctl: AppController, projection: Projections) -> None:
        """Ask for an image; the chosen one goes into the box and is projected."""
        def chosen(path: str) -> None:
            self.path = path
            projection.start(path)
        ctl.choose_file(DialogRequest("open", "Choose an image to project", filters=IMAGE_FILTERS), chosen)

    def _use(self, ctl: AppController, projection: Projections) -> None:
        result = projection.run.result
        imgui.text(f"PSNR {result.psnr:.2f} dB, SSIM {result.ssim:.3f}, {result.steps} steps, latent in "
                   f"{result.space.upper()}")
        if imgui.button("Use as A"):
            projection.use_result()
        imgui.set_item_tooltip("a finished projection becomes picture A by itself; this brings it back after "
                               "you changed A")
        imgui.same_line()
        if imgui.button("Use as B"):
            projection.use_as_mix_source()
        if ctl.state.mix_seed is not None:
            self.seed_b = ctl.state.mix_seed
        imgui.same_line()
        imgui.set_next_item_width(100)
        changed, seed = imgui.input_int("seed B", self.seed_b)
        if changed:
            self.seed_b = min(max(seed, 0), MAX_APP_SEED)
        if imgui.button("coarse from projection, fine from seed B"):
            projection.mix_with_seed(True, self.seed_b)
        imgui.same_line()
        if imgui.button("coarse from seed B, fine from projection"):
            projection.mix_with_seed(False, self.seed_b)
