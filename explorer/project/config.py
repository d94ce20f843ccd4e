"""Every knob of a projection in one frozen value, plus the NVlabs recipe for comparison."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from explorer.errors import ExplorerError

SPACES = ("w", "w+")
STARTS = ("w_avg", "kmeans")
NOISE_INITS = ("model", "random")


@dataclass(frozen=True)
class ProjectionConfig:
    """How to invert an image. Defaults are our measured best; `nvlabs()` is the published recipe."""

    space: str = "w+"             # final space: "w" (one w for all layers) or "w+" (one per layer)
    steps: int = 250
    loss: str = "default"         # see explorer.project.losses.parse_spec
    start: str = "kmeans"         # "w_avg", or the best of k-means centres of sampled w
    kmeans_samples: int = 2000
    kmeans_clusters: int = 16
    w_phase: float = 0.3          # with space "w+": the share of steps spent in W first
    lr: float = 0.1
    lr_rampup: float = 0.05       # shares of a run's steps for the warm-up and the cosine decay
    lr_rampdown: float = 0.25
    w_noise: float = 0.0          # exploration noise on w (in units of w's spread), fading out by
    w_noise_ramp: float = 0.75    # this share of the steps; NVIDIA's 0.05 cost 2-4 dB in our
                                  # measurements once the start is chosen well
    w_std_samples: int = 10000
    optimize_noise: bool = False  # StyleGAN2: also fit the noise maps. Off by default: it did not
                                  # help in our measurements, and without it the latent alone
                                  # reproduces the result (in the app, in NVIDIA's gen_images.py)
    noise_init: str = "model"     # start noise maps from the model's own, or from fresh randomness
    noise_regularize: float = 1e5
    early_stop: bool = True       # on a plateau, cool the learning rate down and finish early
    patience: int = 30
    min_improvement: float = 2e-3  # relative loss improvement that counts as progress
    refine_lr: float = 0.03       # peak learning rate of a `refine` continuation
    preview_every: int = 10
    seed: int = 0
    class_idx: int | None = None  # conditional models: the class to project into

    def __post_init__(self) -> None:
        if self.space not in SPACES:
            raise ExplorerError(f"space must be w or w+, not {self.space!r}")
        if self.start not in STARTS:
            raise ExplorerError(f"start must be one of {', '.join(STARTS)}, not {self.start!r}")
        if self.noise_init not in NOISE_INITS:
            raise ExplorerError(f"noise_init must be one of {', '.join(NOISE_INITS)}")
        if self.steps < 1:
            raise ExplorerError("steps must be at least 1")
        if not 0 <= self.w_phase <= 1:
            raise ExplorerError("w_phase must be between 0 and 1")

    def replace(self, **changes: object) -> "ProjectionConfig":
        return dataclasses.replace(self, **changes)

    @classmethod
    def nvlabs(cls, steps: int = 1000, loss: str = "default") -> "ProjectionConfig":
        """NVIDIA's projector.py recipe: W only, from w_avg, fresh noise maps, all steps run."""
        return cls(space="w", steps=steps, loss=loss, start="w_avg", w_phase=1.0, w_noise=0.05,
                   optimize_noise=True, noise_init="random", early_stop=False)
