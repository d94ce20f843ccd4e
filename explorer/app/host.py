"""What a feature of the app may use of it: the `AppHost` protocol, and the `Feature` base class.

A feature (direction sets, projection, training, downloads, style mixing views, the doctor,
recording) is app logic without drawing, owned by the controller. It reaches the app only through
this protocol: the edited state and the loaded model's description, the render thread (to run
jobs and borrow the model), the status line, job tracking and the settings. Features never import
the controller, nor each other (`tests/test_layers.py` checks both); what one feature needs of
another (the direction library every render uses, the model's layer presets) the host passes on.
The controller implements the protocol; tests can drive a feature with it or with anything else
that does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Mapping, Protocol

from explorer.app.job_kinds import JobKind
from explorer.app.settings import Settings
from explorer.engine import Frame, RenderThread
from explorer.jobs import JobHandle
from explorer.directions.library import DirectionLibrary
from explorer.latent.state import LatentState
from explorer.model import Model, ModelInfo


JobHandler = Callable[[JobHandle], None]


class AppHost(Protocol):
    """The app as a feature sees it (`AppController` is the one implementation)."""

    @property
    def engine(self) -> RenderThread:
        """The render thread: `run_job`, `borrow_model`, `model`, `set_directions`, `force_fp32`."""

    @property
    def settings(self) -> Settings: ...

    @property
    def state(self) -> LatentState:
        """The edited state (what the main view shows)."""

    @property
    def model_info(self) -> ModelInfo | None: ...

    @property
    def model_label(self) -> str: ...

    @property
    def loading(self) -> str | None:
        """The source of a model load under way, else None."""

    @property
    def layer_presets(self) -> dict[str, tuple[int, int]]:
        """The loaded model's coarse / middle / fine W+ rows (explorer/directions/layers.py)."""

    @property
    def direction_library(self) -> DirectionLibrary:
        """The direction sets every render uses (what the edits in a state refer to)."""

    def edit(self, **changes: Any) -> None: ...

    def set_state(self, state: LatentState) -> None: ...

    def rewrite_history(self, change: Callable[[LatentState], LatentState]) -> None:
        """Apply `change` to every undo step and to the state shown (see `History.rewrite`)."""

    def show_transient_state(self, state: LatentState) -> None: ...

    def show_edited_state(self) -> None: ...

    def load_model(self, source: str | Path | Model) -> None: ...

    def set_status(self, text: str, error: bool = False) -> None: ...

    def report_job_end(self, handle: JobHandle) -> None:
        """The status line for a job that failed or was cancelled."""

    def track_job(self, kind: JobKind, handle: JobHandle) -> None: ...

    def job(self, kind: JobKind) -> JobHandle | None:
        """The running job of this kind, if any."""

    def cancel_job(self, kind: JobKind) -> None: ...


class Feature:
    """App logic the controller owns; the controller calls these hooks, in its features' order."""

    def __init__(self, host: AppHost) -> None:
        self.host = host

    def job_handlers(self) -> Mapping[JobKind, JobHandler]:
        """Which ends of tracked jobs this feature handles (on the UI thread)."""
        return {}

    def model_loaded(self, info: ModelInfo) -> None:
        """A new model is loaded; before the edited state is fitted to it."""

    def poll(self, frame: Frame | None) -> None:
        """Once per UI frame, with the newest frame."""

    def animating(self) -> bool:
        """True while this feature changes the picture by the clock (a playing preview): the UI
        then draws every frame instead of sleeping until something happens."""
        return False

    def close(self) -> None:
        """The app is closing (before tracked jobs are cancelled)."""
