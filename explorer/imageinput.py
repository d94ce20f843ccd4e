"""Turn any picture a user drops or names into a square uint8 target at the model's resolution.

Every failure a user's file can cause (missing, empty, not an image, truncated, a decompression
bomb, a colour mode we cannot map to RGB) becomes a one-line `ImageInputError`.
"""

from __future__ import annotations

import io
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from explorer.errors import ImageInputError

Box = tuple[int, int, int, int]
ImageSource = str | os.PathLike[str] | bytes


@dataclass(frozen=True)
class LoadedImage:
    """The model-ready pixels plus where they came from, so a GUI can outline the crop."""

    pixels: np.ndarray        # [resolution, resolution, channels] uint8
    crop_box: Box             # (left, top, right, bottom) in the upright source image
    source_size: tuple[int, int]  # (width, height) of the upright source image


def centre_crop_box(width: int, height: int) -> Box:
    """The largest centred square: projection targets are square like every generator's output."""
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    return left, top, left + side, top + side


def _read_bytes(source: ImageSource) -> tuple[bytes, str]:
    if isinstance(source, bytes):
        return source, "image data"
    path = Path(source).expanduser()
    if not path.exists():
        raise ImageInputError(f"no such file: {path}")
    if path.is_dir():
        raise ImageInputError(f"{path} is a folder; choose an image file")
    try:
        return path.read_bytes(), path.name
    except OSError as e:
        raise ImageInputError(f"could not read {path.name}: {e.strerror or e}") from e


def _high_depth_to_8bit(img: Image.Image) -> Image.Image:
    """Scale 16/32-bit integer and float greyscale to 8 bits (Pillow's convert would clip them)."""
    a = np.asarray(img, dtype=np.float64)
    if img.mode == "F":
        scale = 255.0 if a.size and np.nanmax(a) <= 1.0 else 1.0
    else:
        scale = 1.0 / 257.0 if img.mode.startswith("I;16") or (a.size and a.max() > 255) else 1.0
    return Image.fromarray(np.clip(np.nan_to_num(a * scale), 0, 255).round().astype(np.uint8), "L")


def _to_rgb(img: Image.Image, background: tuple[int, int, int]) -> Image.Image:
    """Any Pillow mode -> RGB; transparent pixels show `background` (what a viewer would draw)."""
    if img.mode in ("I", "F") or img.mode.startswith("I;16"):
        img = _high_depth_to_8bit(img)
    has_alpha = img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        img.mode in ("P", "L", "RGB") and "transparency" in img.info)
    if has_alpha:
        rgba = img.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, (*background, 255))
        return Image.alpha_composite(canvas, rgba).convert("RGB")
    return img.convert("RGB")


def _decode(data: bytes, name: str) -> Image.Image:
    """Open and fully decode, turning every Pillow complaint into a sentence about the file."""
    if not data:
        raise ImageInputError(f"{name} is empty (0 bytes)")
    with warnings.catch_warnings():
        # Pillow only warns between MAX_IMAGE_PIXELS and twice that; refuse those too.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            img = Image.open(io.BytesIO(data))
            img.load()
            return ImageOps.exif_transpose(img)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
            raise ImageInputError(f"{name} is too large to open safely "
                                  f"(over {Image.MAX_IMAGE_PIXELS:,} pixels)") from e
        except UnidentifiedImageError as e:
            raise ImageInputError(f"{name} is not an image file this program can read") from e
        except (OSError, SyntaxError, ValueError) as e:
            reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise ImageInputError(f"{name} is damaged or incomplete ({reason})") from e


def load_image(source: ImageSource, resolution: int, channels: int = 3,
               background: tuple[int, int, int] = (255, 255, 255)) -> LoadedImage:
    """Decode a file (or bytes) Pillow can open, upright it, centre-crop and resize it."""
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, not {channels}")
    data, name = _read_bytes(source)
    img = _decode(data, name)
    try:
        rgb = _to_rgb(img, background)
    except (ValueError, OSError) as e:
        raise ImageInputError(f"{name} uses colour mode {img.mode}, which cannot be converted to RGB") from e
    box = centre_crop_box(*rgb.size)
    square = rgb.resize((resolution, resolution), Image.Resampling.LANCZOS, box=box)
    if channels == 1:
        square = square.convert("L")
    pixels = np.asarray(square, dtype=np.uint8).reshape(resolution, resolution, channels)
    return LoadedImage(pixels=pixels.copy(), crop_box=box, source_size=rgb.size)
