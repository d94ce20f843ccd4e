"""Noise panel: StyleGAN2's per-pixel noise inputs, per resolution, and where they matter."""

from __future__ import annotations

from imgui_bundle import imgui

from explorer.app.controller import AppController
from explorer.app.image_view import ImageView
from explorer.app.job_kinds import JobKind
from explorer.app.layout import LEFT_LOWER, place_floating
from explorer.app.noise_map import heat_scale_rgba
from explorer.app.panels.base import Panel
from explorer.app.widgets import slider_float
from explorer.model_inputs import NOISE_MODES


def noise_gains(enabled: dict[int, bool], strength: dict[int, float]) -> tuple[tuple[int, float], ...]:
    """LatentState.noise_gains from the panel's checkboxes and strengths (gain 1 is left out)."""
    gains = []
    for res in sorted(enabled):
        gain = strength.get(res, 1.0) if enabled[res] else 0.0
        if gain != 1.0:
            gains.append((res, float(gain)))
    return tuple(gains)


class NoisePanel(Panel):
    title = "Noise"
    dock = LEFT_LOWER

    def __init__(self) -> None:
        self.strength: dict[int, float] = {}  # remembered while a resolution is switched off
        self.samples = 16
        self.show_variance = False
        self.variance_view = ImageView("fit")
        self.scale_view = ImageView("fit")

    def views(self) -> tuple[ImageView, ...]:
        return self.variance_view, self.scale_view

    def draw(self, ctl: AppController) -> None:
        info = ctl.model_info
        if info is None:
            imgui.text_disabled("no model loaded")
            return
        if info.architecture == "stylegan3":
            imgui.text_wrapped("StyleGAN3 generators have no noise inputs.")
            return
        state = ctl.state
        changed, mode = imgui.combo("noise mode", NOISE_MODES.index(state.noise_mode), list(NOISE_MODES))
        if changed:
            ctl.edit(noise_mode=NOISE_MODES[mode])
        imgui.set_item_tooltip("const: the fixed noise maps stored in the model (the same picture every time); "
                               "random: fresh maps drawn from the noise seed; none: no noise at all "
                               "(shows what the noise adds: in a photo model hair strands, freckles, fine "
                               "texture; a model that learned to use little noise changes little, see "
                               "'Show where noise matters' below)")
        imgui.begin_disabled(state.noise_mode != "random")
        changed, seed = imgui.input_int("noise seed", state.noise_seed)
        if changed:
            ctl.edit(noise_seed=max(seed, 0))
        imgui.end_disabled()
        imgui.set_item_tooltip("draws the noise maps in the 'random' noise mode"
                               + ("" if state.noise_mode == "random" else " (choose that mode to use it)"))

        imgui.separator_text("per resolution")
        gains = dict(state.noise_gains)
        resolutions = sorted(info.layer_names)
        enabled = {r: gains.get(r, 1.0) != 0.0 for r in resolutions}
        for r in resolutions:
            if enabled[r]:
                self.strength[r] = gains.get(r, 1.0)
        imgui.begin_disabled(state.noise_mode == "none")
        column = imgui.get_frame_height() + imgui.calc_text_size(f"noise {max(resolutions)}px").x + 16
        for r in resolutions:
            changed_on, on = imgui.checkbox(f"noise {r}px", enabled[r])
            imgui.same_line(column)
            imgui.begin_disabled(not enabled[r])
            imgui.set_next_item_width(-1)
            changed_s, s = slider_float(f"##strength{r}", self.strength.get(r, 1.0), 0.0, 2.0,
                                        "strength %.2f", f"how strongly the {r} px noise inputs act (1: as trained)")
            imgui.end_disabled()
            if changed_on or changed_s:
                enabled[r] = on
                if changed_s:
                    self.strength[r] = s
                ctl.edit(noise_gains=noise_gains(enabled, self.strength))
        imgui.end_disabled()

        imgui.separator_text("noise variance")
        imgui.set_next_item_width(100)
        _, self.samples = imgui.input_int("samples", self.samples)
        self.samples = min(max(self.samples, 2), 256)
        imgui.set_item_tooltip("how many random noise draws of the current picture the map compares "
                               "(more: a smoother map, a longer wait)")
        progress = ctl.job_progress(JobKind.NOISE_VARIANCE)
        if progress is None:
            if imgui.button("Show where noise matters"):
                ctl.start_noise_variance(self.samples)
                self.show_variance = True
        else:
            imgui.progress_bar(progress, (-80, 0))
            imgui.same_line()
            if imgui.button("Cancel##variance"):
                ctl.cancel_job(JobKind.NOISE_VARIANCE)

    def every_frame(self, ctl: AppController) -> None:
        """The noise variance map's own window."""
        result = ctl.results.get(JobKind.NOISE_VARIANCE)
        if result is None or not self.show_variance:
            return
        place_floating("Noise variance")
        opened, self.show_variance = imgui.begin("Noise variance", self.show_variance)
        if opened:
            imgui.text_disabled("per-pixel std over random noise (bright = noise matters)")
            self.variance_view.show_array(("variance", result.version), result.value.rgba)
            bar = imgui.get_text_line_height_with_spacing() * 2 + 14
            if imgui.begin_child("map", imgui.ImVec2(-1, max(imgui.get_content_region_avail().y - bar, 32))):
                self.variance_view.draw()
            imgui.end_child()
            self._colour_bar(result.value.peak)
        imgui.end()

    def _colour_bar(self, peak: float) -> None:
        """What the colours mean: 0 (black) up to this map's largest std (white), and how large
        that is: a map of a faint effect is as bright as one of a strong effect."""
        self.scale_view.show_array("scale", heat_scale_rgba())
        if imgui.begin_child("colour scale", imgui.ImVec2(-1, 14)):
            self.scale_view.draw()
        imgui.end_child()
        label = f"largest std in this picture: {peak:.1f} of 255"
        right = imgui.get_cursor_pos_x() + imgui.get_content_region_avail().x - imgui.calc_text_size(label).x
        imgui.text_disabled("0")
        imgui.same_line(max(right, 20.0))
        imgui.text_disabled(label)
