"""Train panel: run the trainer on a folder of images, watch its losses and samples, load snapshots."""

from __future__ import annotations

import dataclasses

from imgui_bundle import imgui, implot

from explorer.app.controller import AppController
from explorer.app.durations import format_duration
from explorer.app.file_dialogs import DialogRequest
from explorer.app.image_view import ImageView
from explorer.app.layout import BELOW, place_floating
from explorer.app.panels.base import Panel
from explorer.app.run_watcher import CURVES, RunView
from explorer.app.style import ERROR_COLOR, WARNING_COLOR
from explorer.app.train_runs import TrainRequest, TrainRuns, default_request, request_from_run
from explorer.app.widgets import help_marker, wrapped_text

DATA_HELP = ("A folder (subfolders are read too) or a .zip of images: PNG, JPEG, WebP ...\n"
             "Each is centre-cropped to a square and resized to the resolution. A few hundred pictures\n"
             "make a first test; thousands make a good model. An optional dataset.json (NVIDIA's\n"
             "format) gives class labels.")
KIMG_HELP = ("Training length in kimg: thousands of real images shown to the discriminator.\n"
             "NVIDIA trains faces for 25,000 kimg on 8 GPUs; a first CPU run wants tens.")
SAMPLES_WINDOW = "Training samples"
SNAP_HELP = "A snapshot (a model you can load) every this many kimg, plus one at the end."


class TrainPanel(Panel):
    title = "Train"
    dock = BELOW

    def __init__(self) -> None:
        self.request: TrainRequest | None = None  # the fields, filled with defaults on first draw
        self.sample_view = ImageView("fit")
        self.large_sample_view = ImageView("fit")  # the same grid in a window of its own
        self.show_large_samples = False
        self.problems: dict[str, str] = {}
        self.warnings: dict[str, str] = {}
        self._loaded_from: str | None = None  # the run folder whose settings the form shows
        self._seen_run: tuple[str, bool] | None = None  # (run folder field, holds a run) last frame

    def views(self) -> tuple[ImageView, ...]:
        return self.sample_view, self.large_sample_view

    def draw(self, ctl: AppController) -> None:
        if self.request is None:
            self.request = default_request(ctl.engine.device)
        self.problems = ctl.training.problems  # field label -> why it cannot work (the last check)
        self.warnings = ctl.training.warnings  # field label -> what may surprise (Start goes on)
        is_run = ctl.training.has_run(self.request.run_dir)
        self._recognise_run(ctl, is_run)
        # The form beside the run it starts: both fit the short tab row under the main picture.
        flags = imgui.TableFlags_.resizable | imgui.TableFlags_.sizing_stretch_prop
        if imgui.begin_table("train", 2, flags):
            imgui.table_setup_column("form", imgui.TableColumnFlags_.width_stretch, 1.1)
            imgui.table_setup_column("run", imgui.TableColumnFlags_.width_stretch, 1.0)
            imgui.table_next_column()
            # The buttons first: in the short tab, notes under the fields push what follows out of sight.
            self._buttons(ctl, is_run)
            self._fields(ctl, ctl.training.running)
            imgui.table_next_column()
            self._run(ctl)
            imgui.end_table()

    def _buttons(self, ctl: AppController, resume: bool) -> None:
        training = ctl.training
        if training.running:
            imgui.begin_disabled(training.stopping)
            if imgui.button("Stopping ..." if training.stopping else "Stop"):
                training.stop()
            imgui.end_disabled()
            self._full_text_tooltip("The trainer ends its step, writes a final snapshot and exits. It "
                                    "also keeps training after you close the app, until it is done or stopped.")
            return
        imgui.begin_disabled(training.starting)
        if imgui.button("Resume" if resume else "Start"):
            training.check(self.request, start=True)
        imgui.end_disabled()
        imgui.same_line()
        if imgui.button("Watch"):
            if self.request.run_dir.strip():
                training.watch(self.request.run_dir)
                self._load_run(self.request.run_dir)
            else:
                ctl.set_status("type or choose a run folder to watch first", error=True)
        imgui.set_item_tooltip("follow a run folder without starting a trainer (the form shows its settings)")

    def _recognise_run(self, ctl: AppController, is_run: bool) -> None:
        """A run folder typed or chosen, or one that got its first snapshot: show its settings
        (a Resume continues it as it was started, with the edits made after this) and follow it
        in the run column. Not for the run this app is training: the form started it."""
        run_dir = self.request.run_dir
        if (run_dir, is_run) == self._seen_run:
            return
        self._seen_run = (run_dir, is_run)
        if is_run and not ctl.training.running and run_dir != self._loaded_from:
            self._load_run(run_dir)
            ctl.training.watch(run_dir)

    def _load_run(self, run_dir: str) -> None:
        self.request = request_from_run(self.request, run_dir)
        self._loaded_from = run_dir

    def _run(self, ctl: AppController) -> None:
        training = ctl.training
        view = training.view
        self._status(training, view)
        imgui.begin_disabled(view.newest_snapshot is None)
        if imgui.button("Load newest snapshot"):
            training.load_newest()
        imgui.end_disabled()
        imgui.same_line()
        _, training.follow = imgui.checkbox("follow", training.follow)
        imgui.set_item_tooltip("load every new snapshot as it is written (seed, psi and mixing stay)")
        self._curves(view)
        self._sample(view)

    def _fields(self, ctl: AppController, running: bool) -> None:
        r = self.request
        imgui.begin_disabled(running)
        data = self._path_field(ctl, "data folder", "folder or .zip of images", r.data, DATA_HELP)
        run_dir = self._path_field(ctl, "run folder", "where snapshots go", r.run_dir,
                                   "Snapshots, samples and logs go here. A folder with snapshots resumes.")
        imgui.set_next_item_width(60)
        _, resolution = imgui.input_int("resolution", r.resolution, 0)
        imgui.same_line()
        imgui.set_next_item_width(60)
        _, batch = imgui.input_int("batch", r.batch, 0)
        self._problem("resolution")
        self._problem("batch")
        imgui.set_next_item_width(60)
        _, kimg = imgui.input_float("kimg", r.kimg, 0, 0, "%g")
        help_marker(f"{KIMG_HELP}\nHere: {r.kimg * 1000 / max(r.batch, 1):,.0f} steps of {max(r.batch, 1)} images.")
        self._problem("kimg")
        imgui.set_next_item_width(60)
        _, snap = imgui.input_float("snapshot every (kimg)", r.snap_kimg, 0, 0, "%g")
        help_marker(SNAP_HELP)
        self._problem("snapshot every (kimg)")
        imgui.set_next_item_width(-imgui.calc_text_size("more flags").x - imgui.get_style().item_inner_spacing.x - 4)
        _, extra = imgui.input_text_with_hint("more flags", "--cbase 4096 --mirror ...", r.extra)
        self._full_text_tooltip(r.extra)
        self._problem("more flags")
        imgui.end_disabled()
        new = dataclasses.replace(r, data=data, run_dir=run_dir, resolution=resolution, batch=batch,
                                  kimg=kimg, snap_kimg=snap, extra=extra)
        if new != r and (ctl.training.problems or ctl.training.warnings):  # a fix clears its note
            ctl.training.check(new)
        self.request = new

    def _path_field(self, ctl: AppController, label: str, hint: str, value: str, help: str) -> str:
        imgui.text(label)
        help_marker(help)
        style = imgui.get_style()
        imgui.set_next_item_width(-imgui.calc_text_size("Browse...").x - 2 * style.frame_padding.x
                                  - style.item_spacing.x - 4)
        _, value = imgui.input_text_with_hint(f"##{label}", hint, value)
        imgui.same_line()
        if imgui.button(f"Browse...##{label}"):
            field = "data" if label == "data folder" else "run_dir"
            ctl.choose_file(DialogRequest("folder", f"Choose the {label}", value),
                            lambda path: self._chosen(field, path))
        self._problem(label)
        return value

    def _chosen(self, field: str, path: str) -> None:
        if self.request is not None:
            self.request = dataclasses.replace(self.request, **{field: path})

    @staticmethod
    def _full_text_tooltip(text: str) -> None:
        """The whole value of the field just drawn, which a narrow column cuts off (while training
        too, when the field is disabled)."""
        hovered = imgui.HoveredFlags_.for_tooltip | imgui.HoveredFlags_.allow_when_disabled
        if text.strip() and imgui.is_item_hovered(hovered) and imgui.begin_tooltip():
            imgui.push_text_wrap_pos(imgui.get_font_size() * 35)
            imgui.text_wrapped(text)
            imgui.pop_text_wrap_pos()
            imgui.end_tooltip()

    def _problem(self, label: str) -> None:
        """The field's note from the last check, wrapped (a narrow column cut the longer ones off):
        red if it blocks Start, amber if it only warns."""
        for notes, color in ((self.problems, ERROR_COLOR), (self.warnings, WARNING_COLOR)):
            if label in notes:
                wrapped_text(notes[label], color, indent=True)  # under its field, every line
                return

    @staticmethod
    def _status(training: TrainRuns, view: RunView) -> None:
        if training.launching:  # the view still shows no run (or the one being resumed)
            imgui.text_disabled("starting the trainer ...")
            return
        if view.state == "absent":
            imgui.text_disabled("no run yet")
            return
        line = f"{view.state}: {view.kimg:.3f} / {view.total_kimg:g} kimg"
        if view.sec_per_kimg:
            line += f", {view.sec_per_kimg:.1f} s/kimg"
        if view.seconds_left is not None:
            line += f", {format_duration(view.seconds_left)} left"
        if view.state in ("failed", "dead"):
            wrapped_text(line + (f" ({view.error})" if view.error else ""), ERROR_COLOR)
        else:
            wrapped_text(line)
        imgui.progress_bar(view.fraction, (-1, 0))

    @staticmethod
    def _curves(view: RunView) -> None:
        kimg = view.curves.get("kimg")
        if kimg is None or len(kimg) == 0:
            return
        # Tall enough for the y labels not to overlap; markers while a line has too few points to show.
        height = min(180.0, max(imgui.get_content_region_avail().y * 0.35, 120.0))
        if implot.begin_plot("##losses", imgui.ImVec2(-1, height)):
            fit = implot.AxisFlags_.auto_fit
            one = len(kimg) == 1  # auto-fit would centre a single point: a negative kimg axis
            implot.setup_axes("kimg", "loss", 0 if one else fit, fit)
            if one:
                implot.setup_axis_limits(implot.ImAxis_.x1, 0.0, 2.0 * max(float(kimg[0]), 1e-3),
                                         implot.Cond_.always)
            implot.setup_legend(implot.Location_.north, implot.LegendFlags_.outside | implot.LegendFlags_.horizontal)
            spec = implot.Spec()
            if len(kimg) < 8:
                spec.marker = implot.Marker_.circle
            for name in CURVES:
                implot.plot_line(name.replace("loss_", ""), kimg, view.curves[name], spec=spec)
            implot.end_plot()

    def _sample(self, view: RunView) -> None:
        if view.sample is None:
            return
        imgui.text_disabled(f"newest samples: {view.sample_path.name}")
        imgui.same_line()
        if imgui.small_button("enlarge"):
            self.show_large_samples = True
        imgui.set_item_tooltip("the grid in a window of its own, as large as you make it")
        self.sample_view.show_array(("sample", view.sample_path), view.sample)
        if imgui.begin_child("samples", imgui.ImVec2(-1, max(imgui.get_content_region_avail().y, 80))):
            self.sample_view.draw()
        imgui.end_child()

    def every_frame(self, ctl: AppController) -> None:
        """The newest sample grid, large: the run column under the picture is short."""
        view = ctl.training.view
        if not self.show_large_samples or view.sample is None:
            return
        place_floating(SAMPLES_WINDOW)
        opened, self.show_large_samples = imgui.begin(SAMPLES_WINDOW, self.show_large_samples)
        if opened:
            imgui.text_disabled(f"{view.sample_path.name} (fixed latents, G_ema), {view.kimg:.3f} kimg")
            self.large_sample_view.show_array(("sample", view.sample_path), view.sample)
            if imgui.begin_child("grid", imgui.ImVec2(-1, -1)):
                self.large_sample_view.draw()
            imgui.end_child()
        imgui.end()
