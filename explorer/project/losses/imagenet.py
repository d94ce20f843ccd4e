"""A generic perceptual distance from ImageNet features, for models without a discriminator."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from explorer.project.losses.efficientnet_lite0 import EfficientNetLite0Features
from explorer.project.losses.features import feature_distance, unit_channels

INPUT_SIDE = 224  # the resolution the network was trained at: objects have the scale it expects


def to_network_input(images: torch.Tensor) -> torch.Tensor:
    """[N, C, R, R] in [-1, 1] -> [N, 3, 224, 224]: grey becomes RGB, size is matched smoothly."""
    if images.shape[1] == 1:
        images = images.expand(-1, 3, -1, -1)
    if images.shape[-1] == INPUT_SIDE:
        return images
    return F.interpolate(images, size=(INPUT_SIDE, INPUT_SIDE), mode="bilinear", align_corners=False,
                         antialias=images.shape[-1] > INPUT_SIDE)


class ImageNetFeatureLoss:
    """Distance between unit-normalised EfficientNet-Lite0 activations at five scales."""

    def __init__(self, network: EfficientNetLite0Features, target: torch.Tensor) -> None:
        self.network = network
        with torch.no_grad():
            self.target_features = unit_channels(network(to_network_input(target)))

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        target = [t.expand(images.shape[0], -1, -1, -1) for t in self.target_features]
        return feature_distance(unit_channels(self.network(to_network_input(images))), target)
