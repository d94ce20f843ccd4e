"""The main picture: uploads new frames, picks the zoom, draws the image and reports drags on it.

Integer zoom (the default "fit" and the fixed factors) lands each source pixel on an exact block
of screen pixels, aligned to the framebuffer grid, so what is on screen can be compared with a
headless render pixel for pixel. "fit smooth" fills the area with linear filtering instead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from imgui_bundle import imgui

from explorer.app.textures import FrameTexture, ScaledTexture
from explorer.engine import Frame

ZOOM_MODES = ("fit", "fit smooth", "1x", "2x", "3x", "4x", "6x", "8x")
MAX_DISPLAY_PX = 8192  # the zoomed copy is a texture: stay within every GPU's size limit


@dataclass(frozen=True)
class ImageRect:
    """Where the picture is, in window coordinates (logical pixels), and its zoom in framebuffer pixels."""

    x: float
    y: float
    width: float
    height: float
    zoom: float
    integer: bool


def choose_zoom(mode: str, image: tuple[int, int], avail_px: tuple[float, float]) -> tuple[float, bool]:
    """(zoom factor in framebuffer pixels per image pixel, whether it is an integer zoom)."""
    w, h = image
    fit = max(min(avail_px[0] / w, avail_px[1] / h, MAX_DISPLAY_PX / max(w, h)), 1e-3)
    if mode == "fit":
        return (float(math.floor(fit)), True) if fit >= 1 else (fit, False)
    if mode == "fit smooth":
        return fit, False
    return float(max(1, min(int(mode.rstrip("x")), MAX_DISPLAY_PX // max(w, h)))), True


class ImageView:
    """Keeps the newest frame in a texture (uploaded only when it changes) and draws it."""

    def __init__(self, zoom_mode: str = "fit") -> None:
        self.zoom_mode = zoom_mode if zoom_mode in ZOOM_MODES else "fit"
        self.frame: Frame | None = None
        self.key: object = None
        self.rect: ImageRect | None = None
        self.hovered_pixel: tuple[int, int] | None = None
        self.uploads = 0
        self._source = FrameTexture()
        self._scaled = ScaledTexture()

    def show(self, frame: Frame | None) -> None:
        """Upload `frame` if it is new (main thread only)."""
        if frame is not None:
            self.show_array(("frame", frame.serial), frame.rgba)
            self.frame = frame

    def show_array(self, key: object, rgba: np.ndarray) -> None:
        """Upload an RGBA picture unless `key` says it is the one already shown."""
        if key != self.key:
            self._source.upload(rgba)
            self.key = key
            self.uploads += 1

    def draw(self) -> tuple[float, float] | None:
        """Draw into the current window; the mouse drag on the image this frame, as a fraction of
        its size (x right, y down), or None."""
        self.hovered_pixel = None
        if self._source.id is None:
            self.rect = None
            imgui.text_disabled("waiting for the first picture ...")
            return None
        io = imgui.get_io()
        fb = max(io.display_framebuffer_scale.x, 1e-3)
        avail = imgui.get_content_region_avail()
        zoom, integer = choose_zoom(self.zoom_mode, self._source.size, (avail.x * fb, avail.y * fb))
        w_px = max(1, round(self._source.size[0] * zoom))
        h_px = max(1, round(self._source.size[1] * zoom))
        self._scaled.update(self._source, w_px, h_px, smooth=not integer)
        start = imgui.get_cursor_screen_pos()
        x = math.floor((start.x + max(0.0, (avail.x - w_px / fb) / 2)) * fb) / fb
        y = math.floor((start.y + max(0.0, (avail.y - h_px / fb) / 2)) * fb) / fb
        size = imgui.ImVec2(w_px / fb, h_px / fb)
        imgui.set_cursor_screen_pos(imgui.ImVec2(x, y))
        imgui.image(imgui.ImTextureRef(self._scaled.id), size)
        self.rect = ImageRect(x, y, size.x, size.y, zoom, integer)
        # An invisible button over the image turns mouse drags into transform moves.
        imgui.set_cursor_screen_pos(imgui.ImVec2(x, y))
        imgui.invisible_button("##image", size)
        if imgui.is_item_hovered():
            m = io.mouse_pos
            px, py = int((m.x - x) * fb / zoom), int((m.y - y) * fb / zoom)
            if 0 <= px < self._source.size[0] and 0 <= py < self._source.size[1]:
                self.hovered_pixel = (px, py)
        if imgui.is_item_active() and imgui.is_mouse_dragging(imgui.MouseButton_.left, 0.0):
            d = io.mouse_delta
            if d.x or d.y:
                return d.x / size.x, d.y / size.y
        return None

    def release(self) -> None:
        """Free the GL objects (before the context goes away)."""
        self._source.release()
        self._scaled.release()
