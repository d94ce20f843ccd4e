"""Frame writers: H.264 MP4 and GIF through PyAV (FFmpeg's libraries, bundled in its wheel), or a
folder of PNGs.

PyAV rather than imageio-ffmpeg: it links FFmpeg in-process (libx264 and libavfilter included in
the manylinux/macOS/Windows wheels), so frames go to the encoder as arrays with no subprocess or
pipe, the GIF palette is made by FFmpeg's own palettegen/paletteuse filters, and the tests decode
the files with the same library.

MP4: H.264 in yuv420p (the pixel format every player and browser opens), constant quality
(CRF 18, visually lossless for this content), the index at the front so it streams. GIF: one
palette for the whole clip, made from every frame (FFmpeg's palettegen), error-diffusion
dithering; frame times are kept in hundredths of a second as GIF stores them, rounded per frame
so that the clip's length stays exact. The writers write into a file they are given; making that
file atomically is the caller's business (`explorer.video.export`).
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Protocol

import numpy as np

from explorer.errors import InputError

FORMATS = ("mp4", "gif", "frames")
H264_CRF = 18
H264_PRESET = "medium"
GIF_TICKS = 100          # GIF frame delays are in 1/100 s
GIF_MAX_FPS = 50         # browsers show shorter delays than 2/100 s as 10/100 s
MAX_FPS = 240            # MP4 and PNG frames
GIF_MEMORY_LIMIT = 2 << 30  # the palette needs every frame before the first is written
GIF_DITHER = "sierra2_4a"


class FrameWriter(Protocol):
    def write(self, rgb: np.ndarray) -> None: ...  # [H, W, 3] uint8
    def close(self) -> None: ...                   # finish the file (flush encoders)


def output_format(out: str | Path) -> str:
    """mp4 or gif by the extension; a folder (an existing one, a trailing slash, or a name
    without an extension) gets numbered PNG frames."""
    text = str(out)
    path = Path(text)
    if text.endswith(("/", "\\")) or path.is_dir():
        return "frames"
    suffix = path.suffix.lower()
    if suffix in (".mp4", ".gif"):
        return suffix[1:]
    if not suffix:
        return "frames"
    raise InputError(f"cannot write {path.name}: name an .mp4 or .gif file, or a folder for PNG frames")


def max_fps(fmt: str) -> int:
    """The highest frame rate a clip in this format may ask for (the GUI's fps field and the CLI agree)."""
    return GIF_MAX_FPS if fmt == "gif" else MAX_FPS


def check_settings(fmt: str, fps: int, size: int, frames: int) -> None:
    """Refuse what the format cannot hold, before anything renders."""
    if fmt not in FORMATS:
        raise InputError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    if not 1 <= fps <= MAX_FPS:
        raise InputError(f"fps must be from 1 to {MAX_FPS}, not {fps}")
    if fmt == "mp4" and size % 2:
        raise InputError(f"an H.264 video needs an even size (yuv420p), not {size}")
    if fmt == "gif":
        if fps > GIF_MAX_FPS:
            raise InputError(f"a GIF plays at most {GIF_MAX_FPS} fps (browsers slow faster ones down); "
                             f"use --fps 25 or 50, or write an .mp4")
        if frames * size * size * 3 > GIF_MEMORY_LIMIT:
            raise InputError(f"a {frames}-frame GIF at {size} px needs every frame in memory for its palette "
                             f"(over {GIF_MEMORY_LIMIT >> 30} GiB); make it shorter or smaller, or write an .mp4")


class Mp4Writer:
    """H.264 (libx264) in an MP4 container at a constant frame rate."""

    def __init__(self, path: Path, fps: int, size: int) -> None:
        import av
        self._container = av.open(str(path), mode="w", format="mp4",
                                  options={"movflags": "+faststart"})
        stream = self._container.add_stream("libx264", rate=Fraction(fps))
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(H264_CRF), "preset": H264_PRESET}
        self._stream = stream

    def write(self, rgb: np.ndarray) -> None:
        import av
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        for packet in self._stream.encode(frame):
            self._container.mux(packet)

    def close(self) -> None:
        try:
            for packet in self._stream.encode():
                self._container.mux(packet)
        finally:
            self._container.close()


class GifWriter:
    """An endlessly looping GIF with one palette for the whole clip (palettegen + paletteuse)."""

    def __init__(self, path: Path, fps: int, size: int) -> None:
        import av
        self._fps, self._count = fps, 0
        self._container = av.open(str(path), mode="w", format="gif")
        stream = self._container.add_stream("gif", rate=Fraction(fps))
        stream.width = stream.height = size
        stream.pix_fmt = "pal8"
        stream.time_base = Fraction(1, GIF_TICKS)
        self._stream = stream
        graph = av.filter.Graph()
        source = graph.add_buffer(width=size, height=size, format="rgb24", time_base=Fraction(1, GIF_TICKS))
        split = graph.add("split")
        palette = graph.add("palettegen", "stats_mode=full")
        use = graph.add("paletteuse", f"dither={GIF_DITHER}")
        sink = graph.add("buffersink")
        source.link_to(split)
        split.link_to(palette, 0, 0)
        split.link_to(use, 1, 0)
        palette.link_to(use, 0, 1)
        use.link_to(sink)
        graph.configure()
        self._graph = graph

    def write(self, rgb: np.ndarray) -> None:
        import av
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        frame.pts = round(self._count * GIF_TICKS / self._fps)
        frame.time_base = Fraction(1, GIF_TICKS)
        self._count += 1
        self._graph.push(frame)
        self._drain()

    def _drain(self) -> None:
        import av
        while True:
            try:
                frame = self._graph.pull()
            except (av.BlockingIOError, av.EOFError):
                return
            for packet in self._stream.encode(frame):
                self._container.mux(packet)

    def close(self) -> None:
        try:
            self._graph.push(None)
            self._drain()
            for packet in self._stream.encode():
                self._container.mux(packet)
        finally:
            self._container.close()


def frame_name(index: int) -> str:
    return f"frame{index:06d}.png"


class FrameFolderWriter:
    """Numbered PNGs (frame000000.png, ...), each written atomically; `remove_written` undoes a
    run that did not finish, so a cancelled export leaves no frames behind."""

    def __init__(self, folder: Path, overwrite: bool) -> None:
        self.folder, self.overwrite = folder, overwrite
        self.written: list[Path] = []

    def write(self, rgb: np.ndarray) -> None:
        from explorer.fileio import save_png
        path = self.folder / frame_name(len(self.written))
        try:
            save_png(path, rgb, overwrite=self.overwrite)
        except FileExistsError:
            raise InputError(f"{path} appeared while rendering; pass --force to overwrite it") from None
        self.written.append(path)

    def close(self) -> None:
        pass

    def remove_written(self) -> None:
        for path in self.written:
            path.unlink(missing_ok=True)
        self.written.clear()


def open_writer(fmt: str, path: Path, fps: int, size: int) -> FrameWriter:
    """A writer for the mp4 or gif at `path` (a temp file: the name does not choose the format)."""
    if fmt == "mp4":
        return Mp4Writer(path, fps, size)
    if fmt == "gif":
        return GifWriter(path, fps, size)
    raise InputError(f"open_writer writes mp4 or gif, not {fmt!r}")
