"""`Projector`: find the latent (and StyleGAN2 noise maps) that make the generator draw a target.

The recipe is NVIDIA's (Adam on w with warm-up and cosine decay, fading noise on w, noise maps
kept white by an autocorrelation penalty), with these changes: a start chosen among k-means
centres of W, a W phase followed by per-layer W+, a cool-down as soon as the loss plateaus, and
`refine` to continue from where a run stopped, optimiser state included.

The projector works on its own copy of the synthesis network, so fitting noise maps never touches
the model a render thread may be drawing with at the same time.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from explorer.imageinput import ImageSource, load_image
from explorer.jobs import Progress
from explorer.model import Model, to_uint8
from explorer.project.adam import Adam, Moments
from explorer.project.config import ProjectionConfig
from explorer.project.losses import ProjectionLoss, parse_spec
from explorer.project.metrics import psnr, ssim_uint8, uint8_to_tensor
from explorer.project.noise import autocorrelation_penalty, noise_buffers, renormalize
from explorer.project.schedule import Schedule
from explorer.project.start import best_candidate, kmeans_centres, w_statistics

OnProgress = Callable[[Progress], None]
IsCancelled = Callable[[], bool]


@dataclass(frozen=True)
class ProjectionResult:
    """The best latent found so far and how good it is."""

    ws: torch.Tensor                  # [1, num_ws, w_dim] float32 on the CPU (NVIDIA's projected_w layout)
    noise: dict[str, torch.Tensor]    # fitted noise maps by buffer name (empty if none were fitted)
    image: np.ndarray                 # the reconstruction [R, R, C] uint8, drawn with `noise`
    losses: tuple[float, ...]         # the loss at every step taken
    steps: int
    psnr: float
    ssim: float
    loss: float
    space: str                        # "w" when every layer shares one w, else "w+"
    loss_spec: str
    start: str                        # which starting point won
    stopped_early: bool
    cancelled: bool
    seconds: float                    # spent optimising, over all runs and refinements
    setup_seconds: float              # spent on w statistics and choosing the start


def _rgba(image: np.ndarray) -> np.ndarray:
    """[H, W, C] uint8 -> [H, W, 4], the layout the GUI uploads."""
    rgb = np.repeat(image, 3, axis=2) if image.shape[2] == 1 else image[..., :3]
    return np.concatenate([rgb, np.full(rgb.shape[:2] + (1,), 255, np.uint8)], axis=2)


class Projector:
    """Optimise a latent towards one target image; call `run`, then `refine` as often as wanted."""

    def __init__(self, model: Model, target: np.ndarray, config: ProjectionConfig | None = None) -> None:
        self.model = model
        self.config = config = config or ProjectionConfig()
        r, ch = model.resolution, model.img_channels
        if target.shape != (r, r, ch) or target.dtype != np.uint8:
            raise ValueError(f"target must be uint8 [{r}, {r}, {ch}], got {target.dtype} {list(target.shape)}")
        self.device = model.device
        self.target = target
        self.c = model.class_vector(config.class_idx) if model.c_dim else None
        self.spec = parse_spec(config.loss, model)
        self.loss = ProjectionLoss(self.spec, model, uint8_to_tensor(target, self.device), self.c)
        self.synthesis = copy.deepcopy(model.generator.synthesis).eval().requires_grad_(False)
        fit_noise = config.optimize_noise and model.architecture == "stylegan2"
        self.noise = noise_buffers(self.synthesis) if fit_noise else {}
        self.losses: list[float] = []
        self.step = 0
        self.space = "w"
        self.start_label = ""
        self.stopped_early = False
        self.cancelled = False
        self.seconds = 0.0
        self.setup_seconds = 0.0
        self._latent: torch.Tensor | None = None
        self._optimizer: Adam | None = None
        self._w_std = 0.0
        self._best: tuple[float, torch.Tensor, dict[str, torch.Tensor]] | None = None

    # --- rendering -------------------------------------------------------------------------------
    def _ws(self, latent: torch.Tensor) -> torch.Tensor:
        """The latent as [N, num_ws, w_dim]: a W latent is broadcast to every layer."""
        return latent.expand(-1, self.model.num_ws, -1) if latent.shape[1] == 1 else latent

    def _render(self, ws: torch.Tensor) -> torch.Tensor:
        return self.synthesis(ws, noise_mode="const", force_fp32=True)

    # --- setup -----------------------------------------------------------------------------------
    def _choose_start(self) -> torch.Tensor:
        """w_avg, or whichever of w_avg and the k-means centres of W the loss likes best."""
        cfg = self.config
        stats = w_statistics(self.model, cfg.w_std_samples, self.c, cfg.seed)
        self._w_std = stats.std
        if cfg.start == "w_avg":
            self.start_label = "w_avg"
            return stats.mean
        centres = kmeans_centres(stats.samples[:cfg.kmeans_samples], cfg.kmeans_clusters, cfg.seed)
        candidates = torch.cat([stats.mean, centres])

        def score(w: torch.Tensor) -> torch.Tensor:
            return self.loss(self._render(self._ws(w[:, None])))

        best, _ = best_candidate(candidates, score)
        self.start_label = "w_avg" if best == 0 else f"k-means centre {best - 1} of {len(centres)}"
        return candidates[best:best + 1]

    def _init_noise(self) -> None:
        generator = torch.Generator().manual_seed(self.config.seed)
        for buf in self.noise.values():
            if self.config.noise_init == "random":
                buf.copy_(torch.randn(buf.shape, generator=generator))
            buf.requires_grad_(True)

    def _start(self) -> None:
        w = self._choose_start()
        self._init_noise()
        in_w = self.config.space == "w" or self.config.w_phase > 0
        latent = w[:, None] if in_w else w[:, None].repeat(1, self.model.num_ws, 1)
        self.space = "w" if in_w else "w+"
        self._latent = latent.detach().clone().requires_grad_(True)
        self._optimizer = Adam([self._latent, *self.noise.values()], lr=self.config.lr)

    def _switch_to_w_plus(self) -> None:
        """Give every layer its own copy of w, carrying Adam's moments over per row.

        In W the gradient is the sum of the num_ws per-layer gradients, so the first moment is
        split num_ws ways and the second num_ws^2 ways; Adam's step size then carries on unchanged.
        """
        n = self.model.num_ws
        latent = self._latent.detach().repeat(1, n, 1).requires_grad_(True)
        m = self._optimizer.moments[0]
        self._optimizer.replace_param(0, latent, Moments(m.mean.repeat(1, n, 1) / n,
                                                         m.square.repeat(1, n, 1) / n ** 2))
        self._latent = latent
        self.space = "w+"

    # --- the loop --------------------------------------------------------------------------------
    def _remember_if_best(self, loss: float) -> None:
        if self._best is None or loss < self._best[0]:
            self._best = (loss, self._latent.detach().clone(),
                          {k: v.detach().clone() for k, v in self.noise.items()})

    def _plateaued(self, since: int) -> bool:
        """No relative improvement of the best loss over the last `patience` steps."""
        p = self.config.patience
        recent = self.losses[since:]
        if len(recent) < 2 * p:
            return False
        before, after = min(recent[:-p]), min(recent[-p:])
        return after > before * (1 - self.config.min_improvement)

    def _optimise(self, schedule: Schedule, switch_at: int | None, message: str,
                  on_progress: OnProgress | None, is_cancelled: IsCancelled | None) -> None:
        """Step until the schedule ends. A plateau in W moves on to W+ early; in W+ (or a W-only
        run) it starts the cool-down. Progress counts the steps of this call."""
        cfg = self.config
        since = first = self.step
        t0 = time.perf_counter()
        try:
            while self.step < schedule.end:
                if is_cancelled is not None and is_cancelled():
                    self.cancelled = True
                    break
                if switch_at is not None and self.step >= switch_at and self.space == "w":
                    self._switch_to_w_plus()
                    since = self.step
                value, images = self._take_step(schedule)
                if cfg.early_stop and self._plateaued(since):
                    if switch_at is not None and self.space == "w":
                        switch_at = self.step
                    elif not schedule.cooling(self.step):
                        schedule.cool_down(self.step)
                        self.stopped_early = True
                if on_progress is not None:
                    preview = None
                    # the first step too: the panel's "current reconstruction" is not blank for long
                    if self.step in (first + 1, schedule.end) or self.step % cfg.preview_every == 0:
                        preview = _rgba(to_uint8(images.detach())[0])
                    on_progress(Progress(step=self.step - first, total=schedule.end - first,
                                         message=f"{message} in {self.space.upper()}", loss=value,
                                         preview=preview))
        finally:
            self.seconds += time.perf_counter() - t0

    def _take_step(self, schedule: Schedule) -> tuple[float, torch.Tensor]:
        """One Adam step; returns the distance to the target before it and the image scored."""
        self._optimizer.lr = schedule.lr(self.step)
        noise_scale = schedule.noise_scale(self.step) * self._w_std
        latent = self._latent
        if noise_scale > 0:
            latent = latent + torch.randn_like(latent) * noise_scale
        images = self._render(self._ws(latent))
        distance = self.loss(images).sum()
        total = distance
        if self.noise:
            total = total + self.config.noise_regularize * autocorrelation_penalty(list(self.noise.values()))
        value = float(distance.detach())
        if noise_scale == 0:
            self._remember_if_best(value)
        self._optimizer.zero_grad()
        total.backward()
        self._optimizer.step()
        renormalize(list(self.noise.values()))
        self.losses.append(value)
        self.step += 1
        return value, images

    # --- public API ------------------------------------------------------------------------------
    def run(self, steps: int | None = None, on_progress: OnProgress | None = None,
            is_cancelled: IsCancelled | None = None) -> ProjectionResult:
        """Choose a start and optimise for `steps` (default: the config's); W first, then W+."""
        if self._latent is not None:
            raise RuntimeError("run() was already called; use refine() to continue")
        cfg = self.config
        steps = cfg.steps if steps is None else int(steps)
        if on_progress is not None:
            on_progress(Progress(step=0, total=steps, message="choosing a starting point"))
        t0 = time.perf_counter()
        with torch.no_grad():
            self._start()
        self.setup_seconds = time.perf_counter() - t0
        schedule = Schedule.for_run(0, steps, cfg.lr, cfg.lr_rampup, cfg.lr_rampdown, cfg.w_noise,
                                    cfg.w_noise_ramp)
        switch_at = round(cfg.w_phase * steps) if cfg.space == "w+" and self.space == "w" else None
        self._optimise(schedule, switch_at, "projecting", on_progress, is_cancelled)
        return self.result

    def refine(self, steps: int, on_progress: OnProgress | None = None,
               is_cancelled: IsCancelled | None = None) -> ProjectionResult:
        """Continue from the current latent, noise maps and optimiser state for `steps` more."""
        if self._latent is None:
            return self.run(steps, on_progress, is_cancelled)
        cfg = self.config
        self.cancelled = False
        if cfg.space == "w+" and self.space == "w":
            self._switch_to_w_plus()
        schedule = Schedule.for_run(self.step, int(steps), cfg.refine_lr, cfg.lr_rampup,
                                    cfg.lr_rampdown, 0.0, 1.0)
        self._optimise(schedule, None, "refining", on_progress, is_cancelled)
        return self.result

    @property
    def result(self) -> ProjectionResult:
        """The best latent seen so far (scored without the exploratory noise on w)."""
        if self._latent is None:
            raise RuntimeError("nothing projected yet: call run() first")
        with torch.no_grad():
            current = float(self.loss(self._render(self._ws(self._latent))).sum())
            self._remember_if_best(current)
            loss, latent, noise = self._best
            saved = {k: v.detach().clone() for k, v in self.noise.items()}
            for k, v in noise.items():
                self.noise[k].copy_(v)
            image = to_uint8(self._render(self._ws(latent)))[0]
            for k, v in saved.items():
                self.noise[k].copy_(v)
        return ProjectionResult(
            ws=self._ws(latent).detach().float().cpu().clone(),
            noise={k: v.cpu() for k, v in noise.items()}, image=image, losses=tuple(self.losses),
            steps=self.step, psnr=psnr(image, self.target), ssim=ssim_uint8(image, self.target),
            loss=loss, space="w" if latent.shape[1] == 1 else "w+",
            loss_spec=str(self.spec), start=self.start_label, stopped_early=self.stopped_early,
            cancelled=self.cancelled, seconds=self.seconds, setup_seconds=self.setup_seconds)


def project(model: Model, image: np.ndarray | ImageSource, space: str | None = None,
            steps: int | None = None, loss: str | None = None, on_progress: OnProgress | None = None,
            is_cancelled: IsCancelled | None = None, config: ProjectionConfig | None = None
            ) -> ProjectionResult:
    """One-call projection of a uint8 [R, R, C] array, or of an image file (centre-cropped).

    `space`, `steps` and `loss` override the config's (whose defaults are W+, 250, "default").
    """
    config = config or ProjectionConfig()
    overrides = {"space": space, "steps": steps, "loss": loss}
    config = config.replace(**{k: v for k, v in overrides.items() if v is not None})
    if not isinstance(image, np.ndarray):
        image = load_image(image, model.resolution, model.img_channels).pixels
    return Projector(model, image, config).run(on_progress=on_progress, is_cancelled=is_cancelled)
