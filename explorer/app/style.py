"""Colours the panels share, so warnings and highlights look alike everywhere (RGBA, 0..1)."""

WARNING_COLOR = (1.0, 0.75, 0.3, 1.0)
ERROR_COLOR = (1.0, 0.45, 0.4, 1.0)
SPIKE_ROW_COLOR = (0.55, 0.2, 0.15, 0.65)
CURRENT_ROW_COLOR = (0.2, 0.35, 0.55, 0.65)
