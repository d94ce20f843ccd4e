"""StyleGAN2 discriminator with NVIDIA's numerics and state_dict names.

The same class serves stylegan2-ada-pytorch and the stylegan3 repo (both train this D). Besides
the real/fake logit it exposes its per-block activations, which projection uses as a perceptual
feature space.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import torch
from torch import nn

from cuda_ops import downsample2d, setup_filter
from explorer.nets.layers import FullyConnectedLayer, add_fc_layers, normalize_2nd_moment, run_fc_layers
from explorer.nets.stylegan2 import BLOCK_ARCHITECTURES, RESAMPLE_FILTER, SQRT_HALF, Conv2dLayer

BLOCK_KEYS = ("activation", "resample_filter", "freeze_layers")
MAPPING_KEYS = ("num_layers", "embed_features", "layer_features", "activation", "lr_multiplier")
EPILOGUE_KEYS = ("mbstd_group_size", "mbstd_num_channels", "activation")


def _known(kwargs: Mapping[str, Any] | None, keys: tuple[str, ...]) -> dict[str, Any]:
    """The entries of a checkpoint's kwargs dict that change the network (others tune NVIDIA's runtime)."""
    return {k: v for k, v in (kwargs or {}).items() if k in keys}


class DiscriminatorBlock(nn.Module):
    """One resolution: (fromrgb) -> conv0 -> conv1 with 2x downsampling, plus a resnet skip."""

    def __init__(self, in_channels: int, tmp_channels: int, out_channels: int, resolution: int,
                 img_channels: int, first_layer_idx: int, architecture: str = "resnet",
                 activation: str = "lrelu",
                 resample_filter: tuple[float, ...] | list[float] = RESAMPLE_FILTER,
                 conv_clamp: float | None = None, use_fp16: bool = False,
                 freeze_layers: int = 0) -> None:
        super().__init__()
        if architecture not in BLOCK_ARCHITECTURES:
            raise ValueError(f"architecture must be one of {BLOCK_ARCHITECTURES}, not {architecture!r}")
        self.in_channels = in_channels
        self.resolution = resolution
        self.architecture = architecture
        self.use_fp16 = use_fp16
        self.register_buffer("resample_filter", setup_filter(resample_filter))
        self.has_fromrgb = in_channels == 0 or architecture == "skip"
        layers: list[nn.Module] = []
        if self.has_fromrgb:
            self.fromrgb = Conv2dLayer(img_channels, tmp_channels, 1, activation=activation,
                                       conv_clamp=conv_clamp)
            layers.append(self.fromrgb)
        self.conv0 = Conv2dLayer(tmp_channels, tmp_channels, 3, activation=activation,
                                 conv_clamp=conv_clamp)
        self.conv1 = Conv2dLayer(tmp_channels, out_channels, 3, activation=activation, down=2,
                                 resample_filter=resample_filter, conv_clamp=conv_clamp)
        layers += [self.conv0, self.conv1]
        if architecture == "resnet":
            self.skip = Conv2dLayer(tmp_channels, out_channels, 1, bias=False, down=2,
                                    resample_filter=resample_filter)
            layers.append(self.skip)
        self.num_layers = len(layers)
        # Freeze-D: the first `freeze_layers` layers of the whole D (counted from the top) stay fixed.
        for idx, layer in enumerate(layers, start=first_layer_idx):
            if idx < freeze_layers:
                layer.requires_grad_(False)

    def forward(self, x: torch.Tensor | None, img: torch.Tensor | None, dtype: torch.dtype
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
        if x is not None:
            x = x.to(dtype)
        if self.has_fromrgb:
            img = img.to(dtype)
            y = self.fromrgb(img)
            x = y if x is None else x + y
            img = downsample2d(img, self.resample_filter) if self.architecture == "skip" else None
        if self.architecture == "resnet":
            y = self.skip(x, gain=SQRT_HALF)
            x = self.conv0(x)
            x = self.conv1(x, gain=SQRT_HALF)
            x = y + x
        else:
            x = self.conv1(self.conv0(x))
        return x, img

    def extra_repr(self) -> str:
        return f"resolution={self.resolution}, architecture={self.architecture}, fp16={self.use_fp16}"


class MinibatchStdLayer(nn.Module):
    """Appends the std-dev across a group of samples as extra channels, so D can see diversity.

    Groups take samples with stride N / group_size (sample i is in group i mod (N / G)); the
    batch size must be divisible by the group size, as in NVIDIA's code.
    """

    def __init__(self, group_size: int | None, num_channels: int = 1) -> None:
        super().__init__()
        self.group_size = group_size
        self.num_channels = num_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        g = n if self.group_size is None else min(self.group_size, n)
        f = self.num_channels
        y = x.reshape(g, -1, f, c // f, h, w)
        y = (y - y.mean(dim=0)).square().mean(dim=0)
        y = (y + 1e-8).sqrt().mean(dim=[2, 3, 4])
        y = y.reshape(-1, f, 1, 1).repeat(g, 1, h, w)
        return torch.cat([x, y], dim=1)

    def extra_repr(self) -> str:
        return f"group_size={self.group_size}, num_channels={self.num_channels}"


class DiscriminatorEpilogue(nn.Module):
    """The 4x4 head: minibatch std, conv, fc, and the output (projected onto cmap if conditional)."""

    def __init__(self, in_channels: int, cmap_dim: int, resolution: int, img_channels: int,
                 architecture: str = "resnet", mbstd_group_size: int | None = 4,
                 mbstd_num_channels: int = 1, activation: str = "lrelu",
                 conv_clamp: float | None = None) -> None:
        super().__init__()
        self.cmap_dim = cmap_dim
        self.architecture = architecture
        if architecture == "skip":
            self.fromrgb = Conv2dLayer(img_channels, in_channels, 1, activation=activation)
        self.mbstd = (MinibatchStdLayer(mbstd_group_size, mbstd_num_channels)
                      if mbstd_num_channels > 0 else None)
        self.conv = Conv2dLayer(in_channels + mbstd_num_channels, in_channels, 3,
                                activation=activation, conv_clamp=conv_clamp)
        self.fc = FullyConnectedLayer(in_channels * resolution ** 2, in_channels, activation=activation)
        self.out = FullyConnectedLayer(in_channels, 1 if cmap_dim == 0 else cmap_dim)

    def forward(self, x: torch.Tensor, img: torch.Tensor | None, cmap: torch.Tensor | None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """(logits [N, 1], the conv features [N, C, 4, 4]), always in float32."""
        x = x.to(torch.float32)
        if self.architecture == "skip":
            x = x + self.fromrgb(img.to(torch.float32))
        if self.mbstd is not None:
            x = self.mbstd(x)
        features = self.conv(x)
        x = self.out(self.fc(features.flatten(1)))
        if self.cmap_dim > 0:
            x = (x * cmap).sum(dim=1, keepdim=True) * (1 / math.sqrt(self.cmap_dim))
        return x, features


class LabelMapping(nn.Module):
    """c -> cmap: NVIDIA's mapping network without z input, broadcast or w_avg (D only)."""

    def __init__(self, c_dim: int, cmap_dim: int, num_layers: int = 8,
                 embed_features: int | None = None, layer_features: int | None = None,
                 activation: str = "lrelu", lr_multiplier: float = 0.01) -> None:
        super().__init__()
        embed_features = cmap_dim if embed_features is None else embed_features
        layer_features = cmap_dim if layer_features is None else layer_features
        self.embed = FullyConnectedLayer(c_dim, embed_features)
        widths = [embed_features, *[layer_features] * (num_layers - 1), cmap_dim][:num_layers + 1]
        self.num_layers = add_fc_layers(self, widths, activation, lr_multiplier)

    def forward(self, c: torch.Tensor) -> torch.Tensor:
        return run_fc_layers(self, normalize_2nd_moment(self.embed(c.to(torch.float32))), self.num_layers)


class StyleGAN2Discriminator(nn.Module):
    """img [N, C, R, R] (+ label) -> realness logits [N, 1].

    Defaults are stylegan2-ada's; the stylegan3 repo defaults to num_fp16_res=4, conv_clamp=256,
    so a loader must pass those when its kwargs omit them.
    """

    def __init__(self, c_dim: int, img_resolution: int, img_channels: int = 3,
                 architecture: str = "resnet", channel_base: int = 32768, channel_max: int = 512,
                 num_fp16_res: int = 0, conv_clamp: float | None = None, cmap_dim: int | None = None,
                 block_kwargs: Mapping[str, Any] | None = None,
                 mapping_kwargs: Mapping[str, Any] | None = None,
                 epilogue_kwargs: Mapping[str, Any] | None = None, **ignored: Any) -> None:
        super().__init__()
        log2 = int(math.log2(img_resolution))
        if img_resolution < 8 or 2 ** log2 != img_resolution:
            raise ValueError(f"img_resolution must be a power of two >= 8, not {img_resolution}")
        block_kw, mapping_kw = _known(block_kwargs, BLOCK_KEYS), _known(mapping_kwargs, MAPPING_KEYS)
        epilogue_kw = _known(epilogue_kwargs, EPILOGUE_KEYS)
        self.c_dim, self.img_resolution = int(c_dim), int(img_resolution)
        self.img_channels = int(img_channels)
        self.block_resolutions = [2 ** i for i in range(log2, 2, -1)]
        channels = {r: min(channel_base // r, channel_max) for r in self.block_resolutions + [4]}
        fp16_resolution = max(2 ** (log2 + 1 - num_fp16_res), 8)
        resolved_cmap = channels[4] if cmap_dim is None else int(cmap_dim)
        resolved_cmap = 0 if self.c_dim == 0 else resolved_cmap
        clamp = None if conv_clamp is None else float(conv_clamp)

        layer_idx = 0
        for res in self.block_resolutions:
            block = DiscriminatorBlock(channels[res] if res < img_resolution else 0, channels[res],
                                       channels[res // 2], res, self.img_channels, layer_idx,
                                       architecture=architecture, conv_clamp=clamp,
                                       use_fp16=res >= fp16_resolution, **block_kw)
            setattr(self, f"b{res}", block)
            layer_idx += block.num_layers
        self.blocks: list[DiscriminatorBlock] = [getattr(self, f"b{r}") for r in self.block_resolutions]
        if self.c_dim > 0:
            self.mapping = LabelMapping(self.c_dim, resolved_cmap, **mapping_kw)
        self.b4 = DiscriminatorEpilogue(channels[4], resolved_cmap, 4, self.img_channels,
                                        architecture=architecture, conv_clamp=clamp, **epilogue_kw)
        self.init_kwargs: dict[str, Any] = dict(
            c_dim=self.c_dim, img_resolution=self.img_resolution, img_channels=self.img_channels,
            architecture=architecture, channel_base=int(channel_base), channel_max=int(channel_max),
            num_fp16_res=int(num_fp16_res), conv_clamp=conv_clamp,
            cmap_dim=None if cmap_dim is None else int(cmap_dim), block_kwargs=dict(block_kw),
            mapping_kwargs=dict(mapping_kw), epilogue_kwargs=dict(epilogue_kw))

    def _run(self, img: torch.Tensor, c: torch.Tensor | None, force_fp32: bool
             ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        if self.c_dim > 0 and c is None:
            raise ValueError(f"conditional discriminator needs c of shape [N, {self.c_dim}]")
        allow_fp16 = not force_fp32 and img.device.type == "cuda"
        x = None
        features = []
        for block in self.blocks:
            dtype = torch.float16 if block.use_fp16 and allow_fp16 else torch.float32
            x, img = block(x, img, dtype)
            features.append(x.float())
        cmap = self.mapping(c) if self.c_dim > 0 else None
        logits, last = self.b4(x, img, cmap)
        features.append(last)
        return logits, features

    def forward(self, img: torch.Tensor, c: torch.Tensor | None = None,
                force_fp32: bool = False) -> torch.Tensor:
        return self._run(img, c, force_fp32)[0]

    def features(self, img: torch.Tensor, c: torch.Tensor | None = None,
                 force_fp32: bool = False) -> list[torch.Tensor]:
        """Float32 activations after each block (highest resolution first) and the 4x4 conv."""
        return self._run(img, c, force_fp32)[1]
