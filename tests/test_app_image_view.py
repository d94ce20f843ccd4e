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


def test_wheel_steps_are_crisp_from_1x_up():
    from explorer.app.image_view import ZOOM_STEPS, next_zoom
    assert next_zoom(2.0, 1) == 3.0 and next_zoom(3.0, -1) == 2.0
    assert next_zoom(2.6, 1) == 3.0 and next_zoom(2.6, -1) == 2.0  # from a smooth fit to a whole number
    assert next_zoom(ZOOM_STEPS[-1], 1) == ZOOM_STEPS[-1] and next_zoom(ZOOM_STEPS[0], -1) == ZOOM_STEPS[0]
    assert all(z == int(z) for z in ZOOM_STEPS if z >= 1)


def test_only_the_visible_source_pixels_are_scaled():
    from explorer.app.image_view import visible_span
    assert visible_span(0.0, 64.0, 4.0, 16) == (0, 16)      # all of it fits
    assert visible_span(-10.0, 500.0, 4.0, 16) == (0, 16)   # picture starts inside the area
    assert visible_span(30.0, 20.0, 4.0, 16) == (7, 13)     # zoomed in: pixels 7..12 show
    assert visible_span(100.0, 20.0, 4.0, 16) == (16, 16)   # panned out of sight
