"""What the render thread tells the UI, drained with `RenderThread.poll_events()`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

from explorer.jobs import JobHandle
from explorer.latent.state import LatentState
from explorer.model import ModelInfo


@dataclass(frozen=True)
class ModelLoaded:
    info: ModelInfo
    source: str  # the path it came from, or the adopted Model's own source


@dataclass(frozen=True)
class ErrorEvent:
    """A one-line message for the status line; `state` is set when rendering that state failed."""

    message: str
    state: LatentState | None = None


@dataclass(frozen=True)
class JobFinished:
    handle: JobHandle  # status is "done", "cancelled" or "failed"


Event = Union[ModelLoaded, ErrorEvent, JobFinished]
