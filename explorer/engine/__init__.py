"""The headless engine: pure rendering and the render thread with its mailbox.

Background jobs are `explorer.jobs`; the render thread runs the ones that need its model.
"""

from explorer.engine.batch import generate_images, iter_images
from explorer.engine.events import ErrorEvent, Event, JobFinished, ModelLoaded
from explorer.engine.frame import Frame, LayerStats
from explorer.engine.mapping_cache import MappingCache
from explorer.engine.render import (RenderOutput, layer_rgba, mixing_grid, noise_variance,
                                    render_state, render_ws)
from explorer.engine.render_thread import RenderStats, RenderThread

__all__ = ["ErrorEvent", "Event", "Frame", "JobFinished", "LayerStats", "MappingCache", "ModelLoaded",
           "RenderOutput", "RenderStats", "RenderThread", "generate_images", "iter_images", "layer_rgba",
           "mixing_grid", "noise_variance", "render_state", "render_ws"]
