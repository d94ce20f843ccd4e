"""StyleGAN2's objective: non-saturating logistic loss plus lazy R1 and path-length penalties.

Each method computes one phase's loss, ready for `backward()`; the training loop owns the
optimisers and decides when the lazy phases run. The regularisers are computed in float32
even when the main phases run under autocast: they differentiate twice, and half precision
gains little there while risking overflow in the second derivative.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class LossSettings:
    r1_gamma: float
    pl_weight: float = 2.0
    pl_batch_shrink: int = 2
    pl_decay: float = 0.01
    style_mixing: float = 0.9


class StyleGAN2Loss:
    """The four phases of a StyleGAN2 step: G main, G path length, D main, D R1."""

    def __init__(self, G: nn.Module, D: nn.Module, augment: Callable[[torch.Tensor], torch.Tensor],
                 settings: LossSettings,
                 amp: bool = False) -> None:
        self.G, self.D, self.augment = G, D, augment
        self.settings = settings
        self.amp = amp
        device = next(G.parameters()).device
        self.pl_mean = torch.zeros([], device=device)

    def _autocast(self) -> contextlib.AbstractContextManager:
        if not self.amp:
            return contextlib.nullcontext()
        return torch.autocast("cuda", dtype=torch.float16)

    def mapped(self, z: torch.Tensor, c: torch.Tensor | None, update_w_avg: bool = False) -> torch.Tensor:
        """ws for z, where with probability `style_mixing` the rows from a random layer on
        come from a second z, so that G cannot assume neighbouring layers share one style."""
        ws = self.G.mapping(z, c, update_w_avg=update_w_avg)
        if self.settings.style_mixing > 0:
            num_ws = ws.shape[1]
            cutoff = torch.randint(1, num_ws, [], device=ws.device)
            cutoff = torch.where(torch.rand([], device=ws.device) < self.settings.style_mixing,
                                 cutoff, torch.full_like(cutoff, num_ws))
            other = self.G.mapping(torch.randn_like(z), c)
            rows = torch.arange(num_ws, device=ws.device).reshape(1, -1, 1)
            ws = torch.where(rows < cutoff, ws, other)
        return ws

    def generate(self, z: torch.Tensor, c: torch.Tensor | None,
                 update_w_avg: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        ws = self.mapped(z, c, update_w_avg)
        return self.G.synthesis(ws, noise_mode="random"), ws

    def discriminate(self, images: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:
        return self.D(self.augment(images), c).float()

    def generator_main(self, z: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:
        """-log sigmoid(D(G(z))): G is pushed to make D call its images real."""
        with self._autocast():
            fake, _ = self.generate(z, c, update_w_avg=True)
            logits = self.discriminate(fake, c)
        return F.softplus(-logits).mean()

    def path_length(self, z: torch.Tensor, c: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """(penalty, mean path length): how far |J_w^T y| strays from its running mean.

        A fixed-size step in W should move the image by a fixed amount in every direction,
        which makes W smoother to interpolate and edit. y is random image-space noise scaled so
        the length does not depend on the resolution.
        """
        batch = max(z.shape[0] // self.settings.pl_batch_shrink, 1)
        z, c = z[:batch], None if c is None else c[:batch]
        fake, ws = self.generate(z, c)
        noise = torch.randn_like(fake) / math.sqrt(fake.shape[2] * fake.shape[3])
        (grads,) = torch.autograd.grad((fake * noise).sum(), ws, create_graph=True)
        lengths = grads.square().sum(dim=2).mean(dim=1).sqrt()
        # The running mean starts at the first measured length rather than at 0: from 0 it takes
        # hundreds of steps to arrive, and until then the penalty drags every length towards 0.
        measured = lengths.mean().detach()
        self.pl_mean.copy_(torch.where(self.pl_mean == 0, measured,
                                       self.pl_mean.lerp(measured, self.settings.pl_decay)))
        penalty = (lengths - self.pl_mean).square().mean()
        return penalty * self.settings.pl_weight, lengths.mean().detach()

    def discriminator_main(self, real: torch.Tensor, real_c: torch.Tensor | None, z: torch.Tensor,
                           c: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """(loss, real logits): D learns to call reals real and G's images fake."""
        with self._autocast():
            with torch.no_grad():
                fake, _ = self.generate(z, c)
            fake_logits = self.discriminate(fake, c)
            real_logits = self.discriminate(real, real_c)
        loss = F.softplus(fake_logits).mean() + F.softplus(-real_logits).mean()
        return loss, real_logits.detach()

    def r1(self, real: torch.Tensor, real_c: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """(penalty, mean squared gradient norm): keeps D flat on the real data, so the
        game settles instead of orbiting the equilibrium."""
        real = real.detach().requires_grad_(True)
        logits = self.discriminate(real, real_c)
        (grads,) = torch.autograd.grad(logits.sum(), real, create_graph=True)
        norms = grads.square().sum(dim=[1, 2, 3])
        return norms.mean() * (self.settings.r1_gamma / 2), norms.mean().detach()
