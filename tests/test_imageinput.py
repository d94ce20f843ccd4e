"""Loading projection targets: every common Pillow mode, EXIF orientation, crop box, clear errors."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, features

from explorer.errors import ImageInputError
from explorer.imageinput import centre_crop_box, load_image

RES = 16


def encode(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def halves(mode: str, left, right, size=(40, 40)) -> Image.Image:
    """An image whose left half is `left` and right half is `right` (mode-specific pixel values)."""
    img = Image.new(mode, size, left)
    img.paste(right, (size[0] // 2, 0, size[0], size[1]))
    return img


@pytest.mark.parametrize("mode,fmt,left,right,expect_left,expect_right", [
    ("RGB", "PNG", (255, 0, 0), (0, 0, 255), (255, 0, 0), (0, 0, 255)),
    ("RGB", "JPEG", (255, 0, 0), (0, 0, 255), (255, 0, 0), (0, 0, 255)),
    ("L", "PNG", 30, 220, (30, 30, 30), (220, 220, 220)),
    ("1", "PNG", 0, 1, (0, 0, 0), (255, 255, 255)),
    ("CMYK", "JPEG", (0, 255, 255, 0), (0, 0, 0, 255), (255, 0, 0), (0, 0, 0)),
    ("CMYK", "TIFF", (0, 255, 255, 0), (0, 0, 0, 255), (255, 0, 0), (0, 0, 0)),
    ("P", "GIF", 1, 2, None, None),
])
def test_modes_load_as_rgb(mode, fmt, left, right, expect_left, expect_right):
    img = halves(mode, left, right)
    if mode == "P":
        img.putpalette([0, 0, 0, 250, 10, 10, 10, 10, 250] + [0] * 759)
        expect_left, expect_right = (250, 10, 10), (10, 10, 250)
    loaded = load_image(encode(img, fmt), RES)
    assert loaded.pixels.shape == (RES, RES, 3) and loaded.pixels.dtype == np.uint8
    tol = 12 if fmt == "JPEG" else 1
    np.testing.assert_allclose(loaded.pixels[RES // 2, 2], expect_left, atol=tol)
    np.testing.assert_allclose(loaded.pixels[RES // 2, -3], expect_right, atol=tol)


@pytest.mark.skipif(not features.check("webp"), reason="Pillow built without WebP")
def test_webp_loads():
    loaded = load_image(encode(halves("RGB", (0, 200, 0), (200, 0, 200)), "WEBP", lossless=True), RES)
    np.testing.assert_allclose(loaded.pixels[8, 2], (0, 200, 0), atol=2)
    np.testing.assert_allclose(loaded.pixels[8, -3], (200, 0, 200), atol=2)


@pytest.mark.parametrize("mode", ["RGBA", "LA", "P"])
def test_transparency_shows_background(mode):
    if mode == "RGBA":
        img = halves("RGBA", (255, 0, 0, 255), (0, 255, 0, 0))
    elif mode == "LA":
        img = halves("LA", (100, 255), (0, 0))
    else:
        img = halves("P", 1, 2)
        img.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0] + [0] * 759)
        img.info["transparency"] = 2
    loaded = load_image(encode(img, "PNG", **({"transparency": 2} if mode == "P" else {})), RES,
                        background=(10, 20, 200))
    np.testing.assert_array_equal(loaded.pixels[8, -3], (10, 20, 200))
    assert loaded.pixels[8, 2].tolist() != [10, 20, 200]


def test_16bit_grey_is_scaled_not_clipped():
    a = np.zeros((32, 32), np.uint16)
    a[:, :16], a[:, 16:] = 65535, 32896  # white | mid grey (128 * 257)
    img = Image.fromarray(a)
    assert img.mode.startswith("I;16")
    loaded = load_image(encode(img, "PNG"), RES)
    np.testing.assert_array_equal(loaded.pixels[8, 2], (255, 255, 255))
    np.testing.assert_array_equal(loaded.pixels[8, -3], (128, 128, 128))


def test_float_tiff_in_unit_range():
    img = Image.fromarray(np.full((20, 20), 0.5, np.float32))
    loaded = load_image(encode(img, "TIFF"), RES)
    np.testing.assert_array_equal(loaded.pixels[4, 4], (128, 128, 128))


def test_exif_orientation_is_applied():
    # A 40x20 landscape stored with orientation 6 ("rotate 90 clockwise to view") is a 20x40 portrait.
    img = Image.new("RGB", (40, 20), (255, 0, 0))
    img.paste((0, 0, 255), (0, 0, 20, 20))  # stored left half blue
    exif = Image.Exif()
    exif[0x0112] = 6
    loaded = load_image(encode(img, "JPEG", exif=exif.tobytes(), quality=95), RES)
    assert loaded.source_size == (20, 40)
    assert loaded.crop_box == (0, 10, 20, 30)
    # After a clockwise turn the stored left half is on top: the crop straddles blue over red.
    assert loaded.pixels[1, 8, 2] > 200 and loaded.pixels[1, 8, 0] < 60
    assert loaded.pixels[-2, 8, 0] > 200 and loaded.pixels[-2, 8, 2] < 60


def test_centre_crop_box_and_resize(tmp_path: Path):
    assert centre_crop_box(100, 60) == (20, 0, 80, 60)
    assert centre_crop_box(60, 101) == (0, 20, 60, 80)
    path = tmp_path / "wide.png"
    Image.new("RGB", (100, 60), (1, 2, 3)).save(path)
    loaded = load_image(path, 32)
    assert loaded.crop_box == (20, 0, 80, 60) and loaded.source_size == (100, 60)
    assert loaded.pixels.shape == (32, 32, 3)
    assert load_image(path, 8, channels=1).pixels.shape == (8, 8, 1)


def test_bomb_is_refused(monkeypatch, tmp_path: Path):
    path = tmp_path / "big.png"
    Image.new("RGB", (64, 64)).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # 4096 px: past 2x, Pillow's error
    with pytest.raises(ImageInputError, match="too large"):
        load_image(path, RES)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 3000)  # between 1x and 2x: Pillow only warns
    with pytest.raises(ImageInputError, match="too large"):
        load_image(path, RES)


def test_bad_files_give_one_line_errors(tmp_path: Path):
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    text = tmp_path / "notes.jpg"
    text.write_text("these are not pixels\n")
    truncated = tmp_path / "cut.jpg"
    truncated.write_bytes(encode(Image.effect_noise((64, 64), 50).convert("RGB"), "JPEG")[:400])
    cases = {empty: "empty", text: "not an image", truncated: "damaged or incomplete",
             tmp_path / "missing.png": "no such file", tmp_path: "folder"}
    for path, words in cases.items():
        with pytest.raises(ImageInputError, match=words) as info:
            load_image(path, RES)
        assert "\n" not in str(info.value)
