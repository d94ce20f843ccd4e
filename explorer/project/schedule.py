"""Learning-rate and latent-noise schedules: warm-up, flat, cosine cool-down, and early cool-down."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass
class Schedule:
    """One run of optimisation steps [start, end). `cool_down` moves `end` closer on a plateau."""

    start: int
    end: int
    peak_lr: float
    rampup_steps: float
    rampdown_steps: float
    w_noise: float           # initial noise on w, in units of w's spread
    w_noise_steps: float     # steps over which that noise fades (quadratically) to zero

    @classmethod
    def for_run(cls, start: int, steps: int, peak_lr: float, rampup: float, rampdown: float,
                w_noise: float, w_noise_ramp: float) -> "Schedule":
        """Shares of the run (rampup, rampdown, w_noise_ramp) become step counts."""
        return cls(start, start + steps, peak_lr, max(rampup * steps, 1e-9),
                   max(rampdown * steps, 1e-9), w_noise, max(w_noise_ramp * steps, 1e-9))

    def lr(self, step: int) -> float:
        """Linear warm-up, then flat, then a half-cosine down to zero at `end`."""
        up = min(1.0, (step - self.start + 1) / self.rampup_steps)
        down = min(1.0, max(0.0, (self.end - step) / self.rampdown_steps))
        return self.peak_lr * up * (0.5 - 0.5 * math.cos(math.pi * down))

    def noise_scale(self, step: int) -> float:
        """Early noise on w helps escape poor basins; it is gone before the learning rate decays."""
        fade = max(0.0, 1.0 - (step - self.start) / self.w_noise_steps)
        return self.w_noise * fade * fade

    def cooling(self, step: int) -> bool:
        return self.end - step < self.rampdown_steps

    def cool_down(self, step: int) -> None:
        """Start the cosine decay now (and stop the w noise) instead of at the planned point.

        The decay takes the same share of the shortened run as it would have of the planned one.
        """
        share = self.rampdown_steps / max(self.end - self.start, 1)
        elapsed = step - self.start
        length = elapsed * share / (1 - share) if share < 1 else self.rampdown_steps
        self.rampdown_steps = max(1.0, min(self.rampdown_steps, float(math.ceil(length))))
        self.end = min(self.end, step + int(self.rampdown_steps))
        self.w_noise_steps = min(self.w_noise_steps, elapsed + 1)
