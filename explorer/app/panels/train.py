"""Train panel: run the trainer on a folder of images, watch its losses and samples, load snapshots."""

from __future__ import annotations

import dataclasses

from imgui_bundle import imgui, implot

from explorer.app.controller import AppController
from explorer.app.durations import format_duration
from explorer.app.image_view import ImageView
from explorer.app.run_watcher import CURVES, RunView
from explorer.app.style import ERROR_COLOR
from explorer.app.train_runs import TrainRequest, default_request


class TrainPanel:
    title = "Train"

    def __init__(self) -> None:
        self.request: TrainRequest | None = None  # the fields, filled with defaults on first draw
        self.sample_view = ImageView("fit")

    def draw(self, ctl: AppController) -> None:
        if self.request is None:
            self.request = default_request(ctl.engine.device)
        training = ctl.training
        self._fields(training.running)
        if training.running:
            if imgui.button("Stop"):
                training.stop()
        else:
            resume = training.has_run(self.request.run_dir)
            if imgui.button("Resume" if resume else "Start"):
                training.start(self.request)
            imgui.same_line()
            if imgui.button("Watch") and self.request.run_dir.strip():
                training.watch(self.request.run_dir)
            if imgui.is_item_hovered():
                imgui.set_tooltip("follow a run folder without starting a trainer")
        view = training.view
        self._status(view)
        imgui.begin_disabled(view.newest_snapshot is None)
        if imgui.button("Load newest snapshot"):
            training.load_newest()
        imgui.end_disabled()
        imgui.same_line()
        _, training.follow = imgui.checkbox("follow", training.follow)
        if imgui.is_item_hovered():
            imgui.set_tooltip("load every new snapshot as it is written (seed, psi and mixing stay)")
        self._curves(view)
        self._sample(view)

    def _fields(self, running: bool) -> None:
        r = self.request
        imgui.begin_disabled(running)
        _, data = imgui.input_text_with_hint("data folder", "folder or zip of images", r.data)
        _, run_dir = imgui.input_text_with_hint("run folder", "where snapshots go", r.run_dir)
        imgui.set_next_item_width(60)
        _, resolution = imgui.input_int("resolution", r.resolution, 0)
        imgui.same_line()
        imgui.set_next_item_width(60)
        _, batch = imgui.input_int("batch", r.batch, 0)
        imgui.same_line()
        imgui.set_next_item_width(60)
        _, kimg = imgui.input_float("kimg", r.kimg, 0, 0, "%g")
        imgui.set_next_item_width(60)
        _, snap = imgui.input_float("snapshot every (kimg)", r.snap_kimg, 0, 0, "%g")
        _, extra = imgui.input_text_with_hint("more flags", "--cbase 4096 --mirror ...", r.extra)
        imgui.end_disabled()
        self.request = dataclasses.replace(
            r, data=data, run_dir=run_dir, resolution=min(max(resolution, 4), 1024), batch=max(batch, 1),
            kimg=max(kimg, 0.001), snap_kimg=max(snap, 0.001), extra=extra)

    @staticmethod
    def _status(view: RunView) -> None:
        if view.state == "absent":
            imgui.text_disabled("no run yet")
            return
        line = f"{view.state}: {view.kimg:.3f} / {view.total_kimg:g} kimg"
        if view.sec_per_kimg:
            line += f", {view.sec_per_kimg:.1f} s/kimg"
        if view.seconds_left is not None:
            line += f", {format_duration(view.seconds_left)} left"
        if view.state in ("failed", "dead"):
            imgui.text_colored(ERROR_COLOR, line + (f" ({view.error})" if view.error else ""))
        else:
            imgui.text(line)
        imgui.progress_bar(view.fraction, (-1, 0))

    @staticmethod
    def _curves(view: RunView) -> None:
        kimg = view.curves.get("kimg")
        if kimg is None or len(kimg) == 0:
            return
        if implot.begin_plot("##losses", imgui.ImVec2(-1, 180)):
            fit = implot.AxisFlags_.auto_fit
            implot.setup_axes("kimg", "loss", fit, fit)
            for name in CURVES:
                implot.plot_line(name.replace("loss_", ""), kimg, view.curves[name])
            implot.end_plot()

    def _sample(self, view: RunView) -> None:
        if view.sample is None:
            return
        imgui.text_disabled(f"newest samples: {view.sample_path.name}")
        self.sample_view.show_array(("sample", view.sample_path), view.sample)
        if imgui.begin_child("samples", imgui.ImVec2(-1, max(imgui.get_content_region_avail().y, 120))):
            self.sample_view.draw()
        imgui.end_child()
