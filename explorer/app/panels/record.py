"""Record panel: keyframes of a latent walk, a preview in the main view, takes of what you do, and
MP4/GIF export in the background (the picture keeps rendering meanwhile)."""

from __future__ import annotations

import os

from imgui_bundle import imgui

from explorer.app.controller import AppController
from explorer.app.file_dialogs import DialogRequest
from explorer.app.layout import RIGHT
from explorer.app.panels.base import Panel
from explorer.app.recording import FORMATS, Recorder
from explorer.app.style import ERROR_COLOR
from explorer.video import EASINGS, SPACES, max_fps

VIDEO_FILTERS = ("Videos", "*.mp4 *.gif", "All files", "*")
SPACE_LABELS = ("W+ (lerp)", "Z (slerp)")


class RecordPanel(Panel):
    title = "Record"
    dock = RIGHT

    def draw(self, ctl: AppController) -> None:
        if ctl.model_info is None:
            imgui.text_disabled("no model loaded")
            return
        rec = ctl.recorder
        self._keyframes(ctl, rec)
        imgui.separator_text("Path")
        self._path_settings(rec)
        imgui.separator_text("Export")
        self._export(ctl, rec)
        imgui.separator_text("Take")
        self._take(rec)

    def _keyframes(self, ctl: AppController, rec: Recorder) -> None:
        if imgui.button("Add keyframe"):
            rec.add_current()
        imgui.set_item_tooltip("the picture as it is now (seed or latent, psi, mixing, noise, edits, transform)")
        imgui.same_line()
        imgui.begin_disabled(len(rec.keys) < 2)
        if rec.previewing:
            if imgui.button("Stop preview"):
                rec.stop_preview()
            imgui.same_line()
            imgui.text_disabled(f"frame {rec.preview_frame + 1} / {len(rec.preview_states or ())}")
        elif imgui.button("Preview"):
            rec.start_preview()
        imgui.end_disabled()
        if not rec.keys:
            imgui.text_disabled("no keyframes yet: set up a picture, then Add keyframe")
            return
        last_with_frames = len(rec.keys) if rec.loop else len(rec.keys) - 1
        # The description gets what the frame count and the buttons leave; the whole of it is
        # in the tooltip, for the panel's narrow default width.
        style = imgui.get_style()
        actions = imgui.calc_text_size("updowndelete").x + 6 * style.frame_padding.x + 2 * style.item_spacing.x
        if imgui.begin_table("keyframes", 3, imgui.TableFlags_.sizing_stretch_prop | imgui.TableFlags_.row_bg):
            imgui.table_setup_column("keyframe", imgui.TableColumnFlags_.width_stretch, 1.0)
            imgui.table_setup_column("frames to next", imgui.TableColumnFlags_.width_fixed,
                                     imgui.calc_text_size("00000").x + 2 * style.frame_padding.x)
            imgui.table_setup_column("actions", imgui.TableColumnFlags_.width_fixed, actions)
            for i, key in enumerate(list(rec.keys)):
                imgui.push_id(i)
                imgui.table_next_row()
                imgui.table_next_column()
                text = f"{i + 1}. {rec.describe(key.state)}"
                if imgui.selectable(text, False)[0]:
                    rec.go_to(i)
                imgui.set_item_tooltip(f"{text}\nclick: show this keyframe (edit it, then add it again)")
                imgui.table_next_column()
                if i < last_with_frames:
                    imgui.set_next_item_width(-1)
                    changed, frames = imgui.input_int("##frames", key.frames, 0)
                    if changed:
                        rec.set_frames(i, frames)
                    imgui.set_item_tooltip("frames from this keyframe to the next")
                imgui.table_next_column()
                imgui.begin_disabled(i == 0)
                if imgui.small_button("up"):
                    rec.move(i, -1)
                imgui.end_disabled()
                imgui.same_line()
                imgui.begin_disabled(i == len(rec.keys) - 1)
                if imgui.small_button("down"):
                    rec.move(i, 1)
                imgui.end_disabled()
                imgui.same_line()
                if imgui.small_button("delete"):
                    rec.remove(i)
                imgui.pop_id()
            imgui.end_table()

    def _path_settings(self, rec: Recorder) -> None:
        imgui.set_next_item_width(110)
        _, space = imgui.combo("space", SPACES.index(rec.space), list(SPACE_LABELS))
        rec.space = SPACES[space]
        imgui.set_item_tooltip("W+: straight lines between the final latents; Z: along the sphere of the seeds' z "
                               "(keyframes that are latents move in W+)")
        imgui.same_line()
        imgui.set_next_item_width(90)
        _, easing = imgui.combo("easing", EASINGS.index(rec.easing), list(EASINGS))
        rec.easing = EASINGS[easing]
        imgui.same_line()
        _, rec.loop = imgui.checkbox("loop", rec.loop)
        imgui.set_next_item_width(90)
        _, fps = imgui.input_int("fps", rec.fps, 0)
        rec.fps = min(max(fps, 1), max_fps(rec.format))
        imgui.set_item_tooltip(f"frames per second, 1 to {max_fps(rec.format)} for {rec.format.upper()}"
                               + (" (browsers slow faster GIFs down)" if rec.format == "gif" else ""))
        imgui.same_line()
        imgui.set_next_item_width(90)
        _, size = imgui.input_int("size", rec.size, 0)
        rec.size = min(max(size, 0), 4096)
        imgui.set_item_tooltip("side of the video in pixels, scaled with Lanczos; 0: the model's resolution")
        if rec.size == 0:
            imgui.same_line()
            imgui.text_disabled("(the model's)")
        elif rec.format == "mp4" and rec.size % 2:
            imgui.text_colored(ERROR_COLOR, "  an H.264 video needs an even size")
        frames = rec.frame_count
        if frames:  # a line of its own: beside fps and size it ran past a narrow panel's edge
            imgui.text_disabled(f"{frames} frames, {frames / rec.fps:.1f} s")

    def _export(self, ctl: AppController, rec: Recorder) -> None:
        imgui.set_next_item_width(90)
        _, fmt = imgui.combo("format", FORMATS.index(rec.format), [f.upper() for f in FORMATS])
        imgui.set_item_tooltip("for the default name; a typed path's extension decides")
        rec.format = FORMATS[fmt]
        style = imgui.get_style()
        imgui.set_next_item_width(-imgui.calc_text_size("Browse...").x - 2 * style.frame_padding.x
                                  - style.item_spacing.x - 8)
        _, rec.out_path = imgui.input_text_with_hint("##video path", "blank: walk.mp4 / walk.gif in the save folder",
                                                     rec.out_path)
        typed = os.path.splitext(rec.out_path.strip())[1].lower().lstrip(".")
        if typed in FORMATS:  # the format (and so the fps limit) follows a typed path's extension
            rec.format = typed
        imgui.same_line()
        if imgui.button("Browse...##video"):
            ctl.choose_file(DialogRequest("save", "Export the video as", str(rec.output()), VIDEO_FILTERS),
                            self._chosen(rec))
        progress = rec.export_progress()
        if rec.exporting:
            fraction = progress.fraction if progress is not None else 0.0
            imgui.progress_bar(fraction, (-80, 0), progress.message if progress is not None else "starting")
            imgui.same_line()
            if imgui.button("Cancel##export"):
                rec.cancel_export()
            return
        odd_mp4 = rec.format == "mp4" and rec.size % 2 == 1  # the red note under the size says why
        imgui.begin_disabled(len(rec.keys) < 2 or odd_mp4)
        if imgui.button("Export path"):
            rec.export()
        imgui.end_disabled()
        imgui.same_line()
        imgui.begin_disabled(not rec.has_take or odd_mp4)
        if imgui.button("Export take"):
            rec.export(take=True)
        imgui.end_disabled()
        if rec.last_export is not None:
            r = rec.last_export
            imgui.text_disabled(f"last: {r.path.name}, {r.frames} frames, render {r.render_seconds:.1f} s, "
                                f"encode {r.encode_seconds:.1f} s")

    def _take(self, rec: Recorder) -> None:
        if rec.recording:
            if imgui.button("Stop recording"):
                rec.stop_recording()
            imgui.same_line()
            imgui.text_colored(imgui.ImVec4(0.9, 0.2, 0.2, 1.0), "recording")
        elif imgui.button("Record what I do"):
            rec.start_recording()
        imgui.set_item_tooltip("every picture shown while you drag and click goes into a take, in real time; "
                               "Export take renders it at full quality")
        if rec.has_take:
            imgui.same_line()
            imgui.text_disabled(f"take: {rec.take_seconds:.1f} s")

    @staticmethod
    def _chosen(rec: Recorder):
        def chosen(path: str) -> None:
            rec.out_path = path
            suffix = path.rsplit(".", 1)[-1].lower()
            if suffix in FORMATS:
                rec.format = suffix
        return chosen
