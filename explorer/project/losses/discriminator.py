"""The checkpoint's own discriminator as a perceptual feature space.

It was trained on exactly this image domain, so its block activations separate what matters for
these pictures better than a generic ImageNet network, and it needs no extra download.
"""

from __future__ import annotations

import torch

from explorer.project.losses.features import feature_distance, unit_channels


class DiscriminatorFeatureLoss:
    """Distance between the unit-normalised block activations of D for image and target.

    The epilogue's features are left out: its minibatch-stddev layer mixes the images of a batch,
    which would make one candidate's distance depend on the others evaluated with it.
    """

    def __init__(self, discriminator: torch.nn.Module, target: torch.Tensor,
                 c: torch.Tensor | None) -> None:
        self.discriminator = discriminator
        self.c = c
        with torch.no_grad():
            self.target_features = self._features(target)

    def _features(self, images: torch.Tensor) -> list[torch.Tensor]:
        c = None if self.c is None else self.c.expand(images.shape[0], -1)
        return unit_channels(self.discriminator.features(images, c, force_fp32=True)[:-1])

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        target = [t.expand(images.shape[0], -1, -1, -1) for t in self.target_features]
        return feature_distance(self._features(images), target)
