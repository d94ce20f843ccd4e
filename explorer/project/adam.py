"""A minimal Adam whose moments the projector can reshape when W becomes W+.

torch.optim.Adam would do the arithmetic, but constructing it imports torch._dynamo (seconds of
start-up for every CLI run and test process), and growing a parameter from [1, 1, w_dim] to
[1, num_ws, w_dim] would mean editing its private per-parameter state.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass
class Moments:
    mean: torch.Tensor
    square: torch.Tensor


@dataclass
class Adam:
    """Adam (Kingma & Ba) over a list of leaf tensors; `lr` may change between steps."""

    params: list[torch.Tensor]
    lr: float = 0.1
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    steps: int = 0
    moments: list[Moments] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.moments = [Moments(torch.zeros_like(p), torch.zeros_like(p)) for p in self.params]

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        self.steps += 1
        b1, b2 = self.betas
        bias1, bias2 = 1 - b1 ** self.steps, 1 - b2 ** self.steps
        for p, m in zip(self.params, self.moments):
            if p.grad is None:
                continue
            m.mean.mul_(b1).add_(p.grad, alpha=1 - b1)
            m.square.mul_(b2).addcmul_(p.grad, p.grad, value=1 - b2)
            denom = (m.square / bias2).sqrt_().add_(self.eps)
            p.addcdiv_(m.mean, denom, value=-self.lr / bias1)

    def replace_param(self, index: int, param: torch.Tensor, moments: Moments) -> None:
        """Swap one parameter for a reshaped one, with the moments it should carry on from."""
        self.params[index] = param
        self.moments[index] = moments
