"""The Record panel's logic: keyframes, a preview of their path in the main view, recorded takes,
and MP4/GIF export in the background.

Keyframes are whole `LatentState`s taken from the editor. The preview computes every frame's
state in a job (mapping only), then plays them at the chosen fps by sending them straight to the
render thread: the edited state and its history are not touched. Playback keeps real time by
skipping frames: the next state goes out only once the last one's full picture is on screen (on a
CPU a big model's render shows a low-resolution preview first, and a new state every 1/fps would
leave nothing but previews on screen). A take
records each picture that reaches the screen with its time ("record what I do"). Exports borrow
the model one batch at a time, so the main picture keeps rendering while the file is written.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from explorer.app.host import AppHost, Feature, JobHandler
from explorer.app.job_kinds import JobKind
from explorer.app.session import free_name
from explorer.engine import Frame
from explorer.jobs import JobHandle, Progress
from explorer.errors import ExplorerError
from explorer.latent.state import LatentState
from explorer.model import ModelInfo
from explorer.video import (ExportResult, ExportSettings, PathSource, StateSequence, VideoPath,
                            export_video, output_format, path_states)
from explorer.video.take import take_frames

FORMATS = ("mp4", "gif")
DEFAULT_FRAMES = 60
PREVIEW_MAX_WAIT_S = 2.0  # a preview frame whose render never arrives (an error) must not stop playback


@dataclass(frozen=True)
class Keyframe:
    state: LatentState
    frames: int = DEFAULT_FRAMES  # frames from this keyframe to the next


def describe(state: LatentState, label_of: Callable[[str, int], str] | None = None) -> str:
    """One line that tells keyframes apart in the list; `label_of(set, index)` names a direction
    as the Directions panel does (PC1, SeFa3), else it reads set[index]."""
    parts = [f"latent ({state.latent_label or 'W+'})" if state.latent is not None else f"seed {state.seed}"]
    if state.psi != 1:
        parts.append(f"psi {state.psi:.2f}")
    if state.has_mixing:
        parts.append("mixed" if state.mix_latent is not None else f"mixed with {state.mix_seed}")
    parts.extend(f"{(label_of or _set_and_index)(e.direction_set, e.index)} {e.strength:+.1f}"
                 for e in state.edits if e.strength)
    if state.translate != (0.0, 0.0) or state.rotate:
        parts.append(f"move {state.translate[0]:.2f},{state.translate[1]:.2f} {state.rotate:.0f} deg")
    return ", ".join(parts)


def _set_and_index(set_name: str, index: int) -> str:
    return f"{set_name}[{index}]"


class Recorder(Feature):
    """The controller's `recorder`; the Record panel draws it."""

    def __init__(self, host: AppHost) -> None:
        super().__init__(host)
        self.keys: list[Keyframe] = []
        self.space, self.easing, self.loop = "w", "smooth", False
        self.fps = 30
        self.size = 0          # 0: the model's resolution
        self.format = "mp4"
        self.out_path = ""     # blank: a fresh name in the save folder
        self.last_export: ExportResult | None = None
        # Preview playback (UI thread).
        self.preview_states: list[LatentState] | None = None
        self.preview_frame = -1
        self._preview_started = 0.0
        self._preview_sent_at = 0.0
        # A take being recorded, and the last one recorded.
        self.recording = False
        self._shown: list[tuple[float, LatentState]] = []
        self._last_serial: int | None = None
        self._take: tuple[list[tuple[float, LatentState]], float] | None = None  # (shown, end time)

    def job_handlers(self) -> dict[JobKind, JobHandler]:
        return {JobKind.VIDEO_EXPORT: self.export_finished, JobKind.VIDEO_PREVIEW: self.preview_ready}

    # --- keyframes -------------------------------------------------------------------------------
    def describe(self, state: LatentState) -> str:
        """`describe` with the directions named as in the Directions panel."""
        return describe(state, self.host.direction_library.label)

    def add_current(self) -> None:
        frames = self.keys[-1].frames if self.keys else DEFAULT_FRAMES
        self.keys.append(Keyframe(self.host.state, frames))
        self.host.set_status(f"keyframe {len(self.keys)}: {self.describe(self.host.state)}")

    def remove(self, index: int) -> None:
        if 0 <= index < len(self.keys):
            del self.keys[index]

    def move(self, index: int, delta: int) -> None:
        """Swap keyframe `index` with its neighbour (delta -1: up, +1: down)."""
        other = index + delta
        if 0 <= index < len(self.keys) and 0 <= other < len(self.keys):
            self.keys[index], self.keys[other] = self.keys[other], self.keys[index]

    def set_frames(self, index: int, frames: int) -> None:
        if 0 <= index < len(self.keys):
            self.keys[index] = Keyframe(self.keys[index].state, min(max(int(frames), 1), 100_000))

    def go_to(self, index: int) -> None:
        """Make a keyframe the edited state (to look at it, or change it and add it again)."""
        if 0 <= index < len(self.keys):
            self.stop_preview()
            self.host.set_state(self.keys[index].state)

    def path(self) -> VideoPath:
        """The keyframes as a path; the last keyframe's frame count is used only with loop."""
        segments = len(self.keys) if self.loop else len(self.keys) - 1
        return VideoPath(tuple(k.state for k in self.keys), tuple(k.frames for k in self.keys[:max(segments, 0)]),
                         self.space, self.easing, self.loop)

    @property
    def frame_count(self) -> int:
        try:
            return self.path().frame_count
        except ExplorerError:
            return 0

    # --- preview ---------------------------------------------------------------------------------
    @property
    def previewing(self) -> bool:
        return self.preview_states is not None

    def start_preview(self) -> None:
        """Compute the path's states in the background, then play them in the main view."""
        try:
            path = self.path()
        except ExplorerError as e:
            self.host.set_status(str(e), error=True)
            return
        directions, engine = self.host.direction_library, self.host.engine

        def job(report, cancelled) -> list[LatentState]:
            with engine.borrow_model() as model:
                return path_states(model, path, directions)
        self.host.track_job(JobKind.VIDEO_PREVIEW, engine.run_job("video preview", job))

    def preview_ready(self, handle: JobHandle) -> None:
        if handle.status != "done":
            self.host.report_job_end(handle)
            return
        self.preview_states = handle.result
        self.preview_frame = -1
        self._preview_started = time.monotonic()
        self.host.set_status(f"previewing {len(handle.result)} frames at {self.fps} fps")

    def stop_preview(self) -> None:
        if self.preview_states is not None:
            self.preview_states = None
            self.preview_frame = -1
            self.host.show_edited_state()

    def model_loaded(self, info: ModelInfo) -> None:
        """A preview's states and a take's belong to the model they were made with (keyframes
        stay: they are states, and an export says clearly if they do not fit the new model)."""
        self.preview_states, self.preview_frame = None, -1
        self.recording, self._shown, self._take = False, [], None

    def animating(self) -> bool:
        return self.previewing

    def _play(self, frame: Frame | None) -> None:
        """The frame the clock says, once the last one sent is on screen in full (or too late)."""
        states = self.preview_states
        if not states:
            return
        now = time.monotonic()
        index = int((now - self._preview_started) * self.fps) % len(states)
        if index == self.preview_frame:
            return
        shown = (self.preview_frame < 0 or frame is not None and not frame.preview
                 and frame.state == states[self.preview_frame])
        if shown or now - self._preview_sent_at > PREVIEW_MAX_WAIT_S:
            self.preview_frame, self._preview_sent_at = index, now
            self.host.show_transient_state(states[index])

    # --- takes -----------------------------------------------------------------------------------
    def start_recording(self) -> None:
        self.stop_preview()
        self.recording, self._shown, self._last_serial = True, [], None
        self.host.set_status("recording: every picture shown goes into the take until you press Stop")

    def stop_recording(self) -> None:
        if not self.recording:
            return
        self.recording = False
        shown, self._shown = self._shown, []
        if not shown:
            self.host.set_status("nothing was recorded: no picture reached the screen while recording", error=True)
            return
        self._take = (shown, time.monotonic())
        self.host.set_status(f"recorded a take of {self.take_seconds:.1f} s")

    @property
    def has_take(self) -> bool:
        return self._take is not None

    @property
    def take_seconds(self) -> float:
        return 0.0 if self._take is None else self._take[1] - self._take[0][0][0]

    def take_states(self) -> list[LatentState]:
        """The last take as frames at the current fps (so changing fps keeps its real-time length)."""
        if self._take is None:
            raise ExplorerError("record a take first")
        return take_frames(*self._take, self.fps)

    def _record(self, frame: Frame | None) -> None:
        info = self.host.model_info
        if frame is None or info is None or frame.serial == self._last_serial or frame.model_hash != info.content_hash:
            return
        self._last_serial = frame.serial
        self._shown.append((time.monotonic(), frame.state))

    # --- per UI frame ----------------------------------------------------------------------------
    def poll(self, frame: Frame | None) -> None:
        if self.preview_states is not None:
            self._play(frame)
        if self.recording:
            self._record(frame)

    # --- export ----------------------------------------------------------------------------------
    @property
    def exporting(self) -> bool:
        return self.host.job(JobKind.VIDEO_EXPORT) is not None

    def output(self) -> Path:
        """Where the next export goes: the typed path, or a fresh walk_NNN name in the save folder."""
        if self.out_path.strip():
            return Path(self.out_path.strip()).expanduser()
        folder = Path(self.host.settings.save_dir)
        return folder / (free_name(folder, "walk", (f".{self.format}",)) + f".{self.format}")

    def export(self, take: bool = False) -> None:
        """Export the keyframe path (or the last take) in the background; never over a file."""
        host = self.host
        try:
            source = StateSequence(self.take_states()) if take else PathSource(self.path())
            out = self.output()
            fmt = output_format(out)
            if fmt not in FORMATS:
                raise ExplorerError(f"name an .mp4 or .gif file, not {out.name}")
            if out.exists():
                raise ExplorerError(f"{out} already exists; choose another name (it is never overwritten)")
        except ExplorerError as e:
            host.set_status(str(e), error=True)
            return
        settings = ExportSettings(fps=self.fps, size=self.size or None, force_fp32=host.engine.force_fp32)
        directions, engine = host.direction_library, host.engine

        def job(report, cancelled) -> ExportResult:
            return export_video(engine.borrow_model, source, out, fmt, settings, directions, report=report)
        host.track_job(JobKind.VIDEO_EXPORT, engine.run_job(f"export of {out.name}", job))
        host.set_status(f"exporting {source.frame_count} frames to {out} ...")

    def cancel_export(self) -> None:
        self.host.cancel_job(JobKind.VIDEO_EXPORT)

    def export_progress(self) -> Progress | None:
        handle = self.host.job(JobKind.VIDEO_EXPORT)
        return None if handle is None else handle.progress

    def export_finished(self, handle: JobHandle) -> None:
        if handle.status != "done":
            self.host.report_job_end(handle)
            return
        r = self.last_export = handle.result
        self.host.set_status(f"wrote {r.path} ({r.frames} frames, {r.size} px): render {r.render_seconds:.1f} s, "
                            f"encode {r.encode_seconds:.1f} s")
