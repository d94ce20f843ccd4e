"""Performance panel: is the UI smooth, how long does a render take, and on what device."""

from __future__ import annotations

import time
from collections import deque

import numpy as np
from imgui_bundle import hello_imgui, imgui

from explorer.app.controller import AppController
from explorer.app.layout import BELOW
from explorer.app.panels.base import Panel


class PerformancePanel(Panel):
    title = "Performance"
    dock = BELOW

    def __init__(self, history: int = 240) -> None:
        self.frame_ms: deque[float] = deque(maxlen=history)
        self._last: float | None = None

    def every_frame(self, ctl: AppController) -> None:
        """The UI frame time, measured whether or not the panel is visible."""
        now = time.perf_counter()
        if self._last is not None:
            self.frame_ms.append((now - self._last) * 1000)
        self._last = now

    def draw(self, ctl: AppController) -> None:
        engine = ctl.engine
        if self.frame_ms:
            values = np.asarray(self.frame_ms, dtype=np.float32)
            imgui.text(f"UI frame: {values.mean():.1f} ms mean, {values.max():.1f} ms max "
                       f"({1000 / max(values.mean(), 1e-3):.0f} fps)")
            if hello_imgui.get_runner_params().fps_idling.is_idling:
                imgui.text_disabled("idle: no input, so the UI sleeps between frames (a new picture wakes it)")
            imgui.plot_lines("##frame ms", values, overlay_text="UI frame time (ms)",
                             graph_size=imgui.ImVec2(-1, 50))
        stats = engine.stats
        frame = ctl.frame
        imgui.text(f"render: {frame.render_ms:.1f} ms" if frame is not None else "render: -")
        imgui.text(f"frames rendered: {stats.frames_rendered}, requests superseded: {stats.requests_dropped}")
        imgui.set_item_tooltip("While a frame renders, newer slider values replace the waiting one: only the "
                               "latest is rendered, so a fast drag skips pictures instead of lagging behind.")
        imgui.text(f"mapping cache: {stats.mapping_cache_hits} hits, {stats.mapping_cache_misses} misses")
        imgui.set_item_tooltip("The z -> w mapping of each seed is kept: a hit reuses it (psi, mixing and "
                               "edits need no new mapping), a miss runs the mapping network.")
        imgui.text(f"device: {engine.device}")
        if engine.device.startswith("cuda"):
            changed, fp16 = imgui.checkbox("fp16 (faster, slightly different pixels)", engine.fp16)
            if changed:
                engine.fp16 = fp16
        else:
            imgui.text_disabled("fp16: GPU only")
