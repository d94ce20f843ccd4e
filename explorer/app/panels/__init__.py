"""The panels: one dockable window per module, each a `Panel` (panels/base.py) that declares its
title, dock space and GL views. `PANELS` is the one registry the window builds from.

Adding a panel: a new module here with a `Panel` subclass, and its class in `PANELS`.
"""

from __future__ import annotations

from explorer.app.panels.base import Panel
from explorer.app.panels.directions import DirectionsPanel
from explorer.app.panels.doctor import DoctorPanel
from explorer.app.panels.history import HistoryPanel
from explorer.app.panels.latent import LatentPanel
from explorer.app.panels.layers import LayersPanel
from explorer.app.panels.mixing import MixingPanel
from explorer.app.panels.model import ModelPanel
from explorer.app.panels.models import ModelsPanel
from explorer.app.panels.noise import NoisePanel
from explorer.app.panels.performance import PerformancePanel
from explorer.app.panels.projection import ProjectionPanel
from explorer.app.panels.record import RecordPanel
from explorer.app.panels.train import TrainPanel
from explorer.app.panels.transform import TransformPanel
from explorer.app.panels.truncation import TruncationPanel

# In first-launch tab order: within one dock space, the first listed is its front tab.
PANELS: tuple[type[Panel], ...] = (
    LatentPanel, TruncationPanel, MixingPanel, NoisePanel, TransformPanel, DirectionsPanel, RecordPanel,
    ModelPanel, ModelsPanel, ProjectionPanel, TrainPanel, LayersPanel, DoctorPanel, PerformancePanel,
    HistoryPanel,
)
