"""Zoom choice for the main picture: integer when it fits, smooth otherwise, within texture limits."""

import pytest

pytest.importorskip("imgui_bundle")

from explorer.app.image_view import MAX_DISPLAY_PX, choose_zoom  # noqa: E402


def test_fit_prefers_the_largest_integer_zoom():
    assert choose_zoom("fit", (64, 64), (700, 500)) == (7.0, True)
    assert choose_zoom("fit", (1024, 1024), (700, 500))[1] is False  # larger than the area: smooth


def test_smooth_and_fixed_zooms():
    assert choose_zoom("fit smooth", (64, 64), (700, 500)) == (500 / 64, False)
    assert choose_zoom("3x", (64, 64), (10, 10)) == (3.0, True)


def test_zoomed_texture_stays_within_gpu_limits():
    assert choose_zoom("8x", (2048, 2048), (10, 10)) == (MAX_DISPLAY_PX // 2048, True)
    assert choose_zoom("fit", (1024, 1024), (99999, 99999)) == (MAX_DISPLAY_PX // 1024, True)
