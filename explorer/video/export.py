"""Render a frame source and encode it into an MP4, a GIF or a folder of PNGs.

The file appears only when it is complete: the encoder writes a temp file beside it that is
renamed at the end (`explorer.fileio.write_atomically`), so a cancel, an error or Ctrl-C leaves
no file (and a PNG folder loses the frames this run wrote). An existing file is never replaced
unless `overwrite` is given.

The model is taken through `borrow()` one batch at a time: the app passes the render thread's
lock, so its picture keeps updating between batches while an export runs.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, ContextManager

import numpy as np
import torch

from explorer.jobs import Progress, Report
from explorer.errors import ExplorerError, InputError
from explorer.latent.compose import DirectionLookup
from explorer.model import Model
from explorer.video.encode import FrameFolderWriter, FrameWriter, check_settings, open_writer
from explorer.video.frames import FrameSource, fit_size, render_frames

Borrow = Callable[[], ContextManager[Model]]


@dataclass(frozen=True)
class ExportSettings:
    fps: int = 30
    size: int | None = None  # side of the video in pixels; None: the model's resolution
    batch_size: int | None = None  # frames per generator call; None: `default_batch_size`
    force_fp32: bool = True


def default_batch_size(device: torch.device) -> int:
    """8 frames per call on a GPU; 1 on a CPU, where batches measured no faster (bench/video.py:
    0.89x) and one frame at a time lets the app's picture update between frames of an export."""
    return 8 if device.type == "cuda" else 1


@dataclass(frozen=True)
class ExportResult:
    path: Path
    format: str
    frames: int
    fps: int
    size: int
    render_seconds: float  # mapping + synthesis + scaling
    encode_seconds: float  # encoder and file writing


def borrow_model(model: Model) -> Borrow:
    """A `borrow` for a caller that owns the model outright (the CLI, tests)."""
    return lambda: contextlib.nullcontext(model)


def export_video(borrow: Borrow, source: FrameSource, out: str | Path, fmt: str,
                 settings: ExportSettings = ExportSettings(), directions: DirectionLookup | None = None,
                 overwrite: bool = False, report: Report | None = None) -> ExportResult:
    """Render every frame of `source` and write it to `out` as `fmt` (see `encode.output_format`).

    `report(Progress)` after each batch may raise to cancel (the job system's JobCancelled);
    nothing is left behind then."""
    out = Path(out)
    with borrow() as model:
        model_hash, size = model.info.content_hash, settings.size or model.resolution
    check_settings(fmt, settings.fps, size, source.frame_count)
    run = _Run(borrow, source, settings, size, model_hash, directions, report)
    if fmt == "frames":
        writer = FrameFolderWriter(out, overwrite)
        try:
            run.render_into(writer)
        except BaseException:
            writer.remove_written()
            raise
    else:
        from explorer.fileio import write_atomically
        try:
            write_atomically(out, lambda tmp: run.render_into(open_writer(fmt, tmp, settings.fps, size)),
                             overwrite=overwrite)
        except FileExistsError:
            raise InputError(f"{out} already exists; choose another name (it is never overwritten)") from None
    return ExportResult(out, fmt, source.frame_count, settings.fps, size, run.render_seconds, run.encode_seconds)


class _Run:
    def __init__(self, borrow: Borrow, source: FrameSource, settings: ExportSettings, size: int,
                 model_hash: str, directions: DirectionLookup | None, report: Report | None) -> None:
        self.borrow, self.source, self.settings, self.size = borrow, source, settings, size
        self.model_hash, self.directions, self.report = model_hash, directions, report
        self.render_seconds = self.encode_seconds = 0.0

    def render_into(self, writer: FrameWriter) -> None:
        total, batch = self.source.frame_count, self.settings.batch_size
        if batch is None:
            with self.borrow() as model:
                batch = default_batch_size(model.device)
        closed = False
        try:
            if self.report is not None:
                self.report(Progress(0, total, "rendering"))
            for start in range(0, total, batch):
                rgbs = self._render(start, min(start + batch, total), batch)
                began = time.perf_counter()
                for rgb in rgbs:
                    writer.write(rgb)
                self.encode_seconds += time.perf_counter() - began
                if self.report is not None:
                    done = min(start + batch, total)
                    self.report(Progress(done, total, f"frame {done}/{total}"))
            began = time.perf_counter()
            closed = True
            writer.close()
            self.encode_seconds += time.perf_counter() - began
        finally:
            if not closed:
                with contextlib.suppress(Exception):
                    writer.close()  # release the encoder; the partial file is discarded by the caller

    def _render(self, start: int, stop: int, batch: int) -> list[np.ndarray]:
        began = time.perf_counter()
        with self.borrow() as model:
            if model.info.content_hash != self.model_hash:
                raise ExplorerError("the model changed during the export; export again")
            frames = list(self.source.frames(model, self.directions, start, stop))
            rgbs = render_frames(model, frames, batch, self.settings.force_fp32)
        rgbs = [fit_size(rgb, self.size) for rgb in rgbs]
        self.render_seconds += time.perf_counter() - began
        return rgbs
