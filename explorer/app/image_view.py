"""The main picture: uploads new frames, picks the zoom, draws the image; wheel zoom, pan and drags.

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
ZOOM_STEPS = (0.125, 0.25, 0.5, 0.75, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0, 24.0, 32.0, 48.0, 64.0)
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


def next_zoom(zoom: float, wheel: float) -> float:
    """The next step of `ZOOM_STEPS` in the wheel's direction (whole numbers from 1x up: crisp)."""
    if wheel > 0:
        return next((z for z in ZOOM_STEPS if z > zoom * 1.001), ZOOM_STEPS[-1])
    return next((z for z in reversed(ZOOM_STEPS) if z < zoom / 1.001), ZOOM_STEPS[0])


def visible_span(offset: float, extent: float, zoom: float, size: int) -> tuple[int, int]:
    """Source pixels [first, last) of a picture drawn `offset` framebuffer px before an area
    `extent` px long, at `zoom` px per source pixel."""
    first = min(max(math.floor(offset / zoom), 0), size)
    last = min(max(math.ceil((offset + extent) / zoom), 0), size)
    return first, last


class ImageView:
    """Keeps the newest picture in a texture (uploaded only when it changes) and draws it.

    A `navigable` view (the main picture) also zooms with the wheel around the pointer, pans by
    dragging and fits again on a double-click; Ctrl+drag is passed back to the caller instead
    (StyleGAN3's input transform). Only the visible part is scaled, so deep zooms cost nothing.
    """

    def __init__(self, zoom_mode: str = "fit", navigable: bool = False) -> None:
        self.zoom_mode = zoom_mode if zoom_mode in ZOOM_MODES else "fit"
        self.navigable = navigable
        self.zoom_override: float | None = None  # set by the wheel; None: `zoom_mode` decides
        self.pan = (0.0, 0.0)                    # picture offset from its resting place (window units)
        self.frame: Frame | None = None          # the engine frame on screen (None: some other picture)
        self.rgba: np.ndarray | None = None      # the picture on screen
        self.key: object = None
        self.rect: ImageRect | None = None
        self.hovered_pixel: tuple[int, int] | None = None
        self.uploads = 0
        self._source = FrameTexture()
        self._scaled = ScaledTexture()

    def show(self, frame: Frame | None) -> None:
        """Upload `frame` if it is new (main thread only)."""
        if frame is not None:
            self.show_array(("frame", frame.serial), frame.rgba, frame)

    def show_array(self, key: object, rgba: np.ndarray, frame: Frame | None = None) -> None:
        """Upload an RGBA picture unless `key` says it is the one already shown."""
        if key != self.key:
            self._source.upload(rgba)
            self.key = key
            self.uploads += 1
        self.rgba, self.frame = rgba, frame

    def set_zoom_mode(self, mode: str) -> None:
        """A zoom chosen from the list replaces the wheel's zoom and any pan."""
        self.zoom_mode = mode if mode in ZOOM_MODES else "fit"
        self.reset_navigation()

    def reset_navigation(self) -> None:
        self.zoom_override, self.pan = None, (0.0, 0.0)

    def draw(self) -> tuple[float, float] | None:
        """Draw into the current window; a Ctrl+drag (navigable) or any drag (otherwise) on the
        picture this frame, as a fraction of its size (x right, y down), or None."""
        self.hovered_pixel = None
        if self._source.id is None:
            self.rect = None
            imgui.text_disabled("waiting for the first picture ...")
            return None
        io = imgui.get_io()
        fb = max(io.display_framebuffer_scale.x, 1e-3)
        avail = imgui.get_content_region_avail()
        avail = imgui.ImVec2(max(avail.x, 1.0), max(avail.y, 1.0))
        sw, sh = self._source.size
        if self.zoom_override is None:
            zoom, integer = choose_zoom(self.zoom_mode, (sw, sh), (avail.x * fb, avail.y * fb))
        else:
            zoom = self.zoom_override
            integer = zoom >= 1 and zoom == int(zoom)
        start = imgui.get_cursor_screen_pos()
        x, y = self._origin(start, avail, sw * zoom / fb, sh * zoom / fb, fb)
        self.rect = ImageRect(x, y, sw * zoom / fb, sh * zoom / fb, zoom, integer)
        self._draw_visible(start, avail, fb)
        imgui.set_cursor_screen_pos(start if self.navigable else imgui.ImVec2(x, y))
        imgui.invisible_button("##image", avail if self.navigable else
                               imgui.ImVec2(max(self.rect.width, 1.0), max(self.rect.height, 1.0)))
        hovered = imgui.is_item_hovered()
        if hovered:
            m = io.mouse_pos
            px, py = math.floor((m.x - x) * fb / zoom), math.floor((m.y - y) * fb / zoom)
            if 0 <= px < sw and 0 <= py < sh:
                self.hovered_pixel = (px, py)
        if self.navigable:
            return self._navigate(hovered, start, avail, fb)
        if imgui.is_item_active() and imgui.is_mouse_dragging(imgui.MouseButton_.left, 0.0):
            d = io.mouse_delta
            if d.x or d.y:
                return d.x / self.rect.width, d.y / self.rect.height
        return None

    def _origin(self, start: imgui.ImVec2, avail: imgui.ImVec2, width: float, height: float,
                fb: float) -> tuple[float, float]:
        """The picture's top-left: centred when it fits, else at the area's corner; plus the pan;
        on the framebuffer's pixel grid, so integer zoom stays exact."""
        x = start.x + max(0.0, (avail.x - width) / 2) + self.pan[0]
        y = start.y + max(0.0, (avail.y - height) / 2) + self.pan[1]
        return math.floor(x * fb) / fb, math.floor(y * fb) / fb

    def _draw_visible(self, start: imgui.ImVec2, avail: imgui.ImVec2, fb: float) -> None:
        r = self.rect
        sw, sh = self._source.size
        x0, x1 = visible_span((start.x - r.x) * fb, avail.x * fb, r.zoom, sw)
        y0, y1 = visible_span((start.y - r.y) * fb, avail.y * fb, r.zoom, sh)
        if x1 <= x0 or y1 <= y0:
            return  # panned out of sight
        w_px, h_px = max(1, round((x1 - x0) * r.zoom)), max(1, round((y1 - y0) * r.zoom))
        self._scaled.update(self._source, w_px, h_px, smooth=not r.integer, region=(x0, y0, x1, y1))
        imgui.push_clip_rect(start, imgui.ImVec2(start.x + avail.x, start.y + avail.y), True)
        imgui.set_cursor_screen_pos(imgui.ImVec2(r.x + x0 * r.zoom / fb, r.y + y0 * r.zoom / fb))
        imgui.image(imgui.ImTextureRef(self._scaled.id), imgui.ImVec2(w_px / fb, h_px / fb))
        imgui.pop_clip_rect()

    def _navigate(self, hovered: bool, start: imgui.ImVec2, avail: imgui.ImVec2,
                  fb: float) -> tuple[float, float] | None:
        io, r = imgui.get_io(), self.rect
        if hovered and imgui.is_mouse_double_clicked(imgui.MouseButton_.left):
            self.reset_navigation()
            return None
        if hovered and io.mouse_wheel != 0:
            self._zoom_at(io.mouse_pos, next_zoom(r.zoom, io.mouse_wheel), start, avail, fb)
            return None
        if not imgui.is_item_active():
            return None
        d = io.mouse_delta
        if not (d.x or d.y):
            return None
        if io.key_ctrl:
            return d.x / r.width, d.y / r.height
        self.pan = (self.pan[0] + d.x, self.pan[1] + d.y)
        return None

    def _zoom_at(self, pointer: imgui.ImVec2, zoom: float, start: imgui.ImVec2, avail: imgui.ImVec2,
                 fb: float) -> None:
        """Zoom so that the picture's point under the pointer stays under it."""
        r = self.rect
        sw, sh = self._source.size
        ix, iy = (pointer.x - r.x) / r.width * sw, (pointer.y - r.y) / r.height * sh
        width, height = sw * zoom / fb, sh * zoom / fb
        x, y = pointer.x - ix * zoom / fb, pointer.y - iy * zoom / fb
        self.zoom_override = zoom
        self.pan = (x - start.x - max(0.0, (avail.x - width) / 2), y - start.y - max(0.0, (avail.y - height) / 2))

    def release(self) -> None:
        """Free the GL objects (before the context goes away)."""
        self._source.release()
        self._scaled.release()
