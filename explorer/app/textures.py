"""OpenGL textures for frames: in-place uploads, and a crisp (or smooth) zoomed copy for display.

Everything here runs on the main thread with the GL context current (the runner's GUI callback).
Frames arrive as RGBA8 arrays because RGBA uploads are much faster than RGB ones. Dear ImGui's
OpenGL backend samples user textures bilinearly, so integer zoom would come out blurred; we
therefore scale with a framebuffer blit (nearest for integer zoom, linear for smooth zoom) into
a texture the size of the picture on screen, which ImGui then draws 1:1. Core profile only.
"""

from __future__ import annotations

import numpy as np
from OpenGL import GL


def _new_texture(width: int, height: int) -> int:
    tex = int(GL.glGenTextures(1))
    GL.glBindTexture(GL.GL_TEXTURE_2D, tex)
    for param, value in ((GL.GL_TEXTURE_MIN_FILTER, GL.GL_NEAREST), (GL.GL_TEXTURE_MAG_FILTER, GL.GL_NEAREST),
                         (GL.GL_TEXTURE_WRAP_S, GL.GL_CLAMP_TO_EDGE), (GL.GL_TEXTURE_WRAP_T, GL.GL_CLAMP_TO_EDGE)):
        GL.glTexParameteri(GL.GL_TEXTURE_2D, param, value)
    GL.glTexImage2D(GL.GL_TEXTURE_2D, 0, GL.GL_RGBA8, width, height, 0, GL.GL_RGBA, GL.GL_UNSIGNED_BYTE, None)
    return tex


class FrameTexture:
    """An RGBA8 texture updated with glTexSubImage2D; re-created only when the size changes."""

    def __init__(self) -> None:
        self.id: int | None = None
        self.size = (0, 0)  # (width, height)
        self.version = 0    # bumped on every upload, so dependants know to refresh

    def upload(self, rgba: np.ndarray) -> None:
        height, width = rgba.shape[:2]
        if rgba.ndim != 3 or rgba.shape[2] != 4 or rgba.dtype != np.uint8:
            raise ValueError(f"expected [H, W, 4] uint8, got {rgba.shape} {rgba.dtype}")
        if self.id is None or self.size != (width, height):
            self.release()
            self.id = _new_texture(width, height)
            self.size = (width, height)
        GL.glBindTexture(GL.GL_TEXTURE_2D, self.id)
        GL.glPixelStorei(GL.GL_UNPACK_ALIGNMENT, 1)
        GL.glTexSubImage2D(GL.GL_TEXTURE_2D, 0, 0, 0, width, height, GL.GL_RGBA, GL.GL_UNSIGNED_BYTE,
                           np.ascontiguousarray(rgba))
        self.version += 1

    def release(self) -> None:
        if self.id is not None:
            GL.glDeleteTextures([self.id])
            self.id = None
            self.size = (0, 0)


class ScaledTexture:
    """A copy of a `FrameTexture` at display size, refreshed only when the source or size changes."""

    def __init__(self) -> None:
        self.target = FrameTexture()
        self._fbos: tuple[int, int] | None = None
        self._key: tuple | None = None

    @property
    def id(self) -> int | None:
        return self.target.id

    def update(self, source: FrameTexture, width: int, height: int, smooth: bool,
               region: tuple[int, int, int, int] | None = None) -> None:
        """Scale `region` (x0, y0, x1, y1 in source pixels; default all of it) to width x height."""
        if source.id is None or width <= 0 or height <= 0:
            return
        sw, sh = source.size
        x0, y0, x1, y1 = region or (0, 0, sw, sh)
        key = (source.id, source.version, width, height, smooth, (x0, y0, x1, y1))
        if key == self._key:
            return
        if self.target.id is None or self.target.size != (width, height):
            self.target.release()
            self.target.id = _new_texture(width, height)
            self.target.size = (width, height)
        if self._fbos is None:
            a, b = GL.glGenFramebuffers(2)
            self._fbos = (int(a), int(b))
        read_fbo, draw_fbo = self._fbos
        prev_read = GL.glGetIntegerv(GL.GL_READ_FRAMEBUFFER_BINDING)
        prev_draw = GL.glGetIntegerv(GL.GL_DRAW_FRAMEBUFFER_BINDING)
        try:
            GL.glBindFramebuffer(GL.GL_READ_FRAMEBUFFER, read_fbo)
            GL.glFramebufferTexture2D(GL.GL_READ_FRAMEBUFFER, GL.GL_COLOR_ATTACHMENT0, GL.GL_TEXTURE_2D, source.id, 0)
            GL.glBindFramebuffer(GL.GL_DRAW_FRAMEBUFFER, draw_fbo)
            GL.glFramebufferTexture2D(GL.GL_DRAW_FRAMEBUFFER, GL.GL_COLOR_ATTACHMENT0, GL.GL_TEXTURE_2D,
                                      self.target.id, 0)
            GL.glBlitFramebuffer(x0, y0, x1, y1, 0, 0, width, height, GL.GL_COLOR_BUFFER_BIT,
                                 GL.GL_LINEAR if smooth else GL.GL_NEAREST)
        finally:
            GL.glBindFramebuffer(GL.GL_READ_FRAMEBUFFER, int(prev_read))
            GL.glBindFramebuffer(GL.GL_DRAW_FRAMEBUFFER, int(prev_draw))
        self.target.version += 1
        self._key = key

    def release(self) -> None:
        self.target.release()
        if self._fbos is not None:
            GL.glDeleteFramebuffers(2, list(self._fbos))
            self._fbos = None
        self._key = None
