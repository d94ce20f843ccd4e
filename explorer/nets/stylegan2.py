"""StyleGAN2 generator with the numerics and state_dict names of NVIDIA's two implementations.

stylegan2-ada-pytorch (`training.networks`) and the stylegan3 repo (`training.networks_stylegan2`)
compute the same network; they differ only in how the constructor kwargs are laid out and in some
defaults, which `StyleGAN2Generator` absorbs. Weights are stored unscaled, as in the checkpoints,
and their gains are applied at run time. Inference uses the fused (grouped-convolution)
modulated conv; training uses the algebraically equal per-batch path, which is cheaper to
differentiate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from cuda_ops import bias_act, setup_filter, upfirdn2d, upsample2d
from cuda_ops.bias_act import ACTIVATIONS
from explorer.model_inputs import NOISE_MODES
from explorer.nets import sg2_fast
from explorer.nets.layers import FullyConnectedLayer, MappingNetwork
from explorer.nets.resume import Stage, SynthesisResume, run_stages, weights_key

RESAMPLE_FILTER = (1, 3, 3, 1)
BLOCK_ARCHITECTURES = ("orig", "skip", "resnet")
MAPPING_KEYS = ("num_layers", "embed_features", "layer_features", "activation", "lr_multiplier",
                "w_avg_beta")
SQRT_HALF = math.sqrt(0.5)


def _resample_padding(taps: int, factor: int, up: bool, conv_padding: int = 0) -> tuple[int, int]:
    """(before, after) padding that keeps an up/downsampled FIR-filtered map exactly aligned."""
    if up:
        return conv_padding + (taps + factor - 1) // 2, conv_padding + (taps - factor) // 2
    return conv_padding + (taps - factor + 1) // 2, conv_padding + (taps - factor) // 2


def upsample_conv2d(x: torch.Tensor, weight: torch.Tensor, resample_filter: torch.Tensor,
                    padding: tuple[int, int], groups: int = 1) -> torch.Tensor:
    """Conv of the 2x zero-upsampled input, then the anti-imaging FIR filter.

    Done as a stride-2 transposed conv (the kernel is used as stored, unflipped) followed by
    the filter with `padding` on every side, which is what NVIDIA's checkpoints were trained with.
    """
    out_channels, in_per_group, kh, kw = weight.shape
    if groups == 1:
        weight = weight.transpose(0, 1)
    else:
        weight = weight.reshape(groups, out_channels // groups, in_per_group, kh, kw).transpose(1, 2)
        weight = weight.reshape(groups * in_per_group, out_channels // groups, kh, kw)
    x = F.conv_transpose2d(x, weight, stride=2, groups=groups)
    p0, p1 = padding
    return upfirdn2d(x, resample_filter, padding=[p0, p1, p0, p1], gain=4)


def modulated_conv2d(x: torch.Tensor, weight: torch.Tensor, styles: torch.Tensor,
                     convolve: Callable[[torch.Tensor, torch.Tensor, int], torch.Tensor],
                     demodulate: bool = True, fused: bool = True) -> torch.Tensor:
    """Conv whose input channels are scaled per sample by `styles`, optionally demodulated.

    `convolve(x, w, groups)` is the plain or upsampling conv. Fused: one grouped conv with a
    weight per sample (fast for inference, batch 1 in particular). Not fused: scale the
    activations instead of the weights (shared weights, cheaper for training). Under fp16 the
    weights and styles are first divided by scalars that demodulation cancels, to avoid overflow.
    """
    n = x.shape[0]
    out_channels, in_channels, kh, kw = weight.shape
    if x.dtype == torch.float16 and demodulate:
        weight = weight * (1 / math.sqrt(in_channels * kh * kw)
                           / weight.norm(float("inf"), dim=[1, 2, 3], keepdim=True))
        styles = styles / styles.norm(float("inf"), dim=1, keepdim=True)
    if fused:
        w = weight.unsqueeze(0) * styles.reshape(n, 1, -1, 1, 1)
        if demodulate:
            w = w * (w.square().sum(dim=[2, 3, 4]) + 1e-8).rsqrt().reshape(n, -1, 1, 1, 1)
        x = x.reshape(1, -1, *x.shape[2:])
        x = convolve(x, w.reshape(-1, in_channels, kh, kw).to(x.dtype), n)
        return x.reshape(n, -1, *x.shape[2:])
    x = x * styles.to(x.dtype).reshape(n, -1, 1, 1)
    x = convolve(x, weight.to(x.dtype), 1)
    if demodulate:
        w = weight.unsqueeze(0) * styles.reshape(n, 1, -1, 1, 1)
        dcoefs = (w.square().sum(dim=[2, 3, 4]) + 1e-8).rsqrt()
        x = x * dcoefs.to(x.dtype).reshape(n, -1, 1, 1)
    return x


class Conv2dLayer(nn.Module):
    """Equalised-lr conv with optional 2x FIR up/downsampling, then bias, activation and clamp.

    Used by the generator's resnet skips (1x1, up) and throughout the discriminator.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, bias: bool = True,
                 activation: str = "linear", up: int = 1, down: int = 1,
                 resample_filter: tuple[float, ...] | list[float] = RESAMPLE_FILTER,
                 conv_clamp: float | None = None) -> None:
        super().__init__()
        if up not in (1, 2) or down not in (1, 2) or (up > 1 and down > 1):
            raise ValueError("Conv2dLayer supports up=2 or down=2, not both")
        if up > 1 and kernel_size != 1:
            raise ValueError("Conv2dLayer upsamples only with 1x1 kernels")
        self.activation = activation
        self.up, self.down = up, down
        self.kernel_size = kernel_size
        self.conv_clamp = conv_clamp
        self.register_buffer("resample_filter", setup_filter(resample_filter))
        self.padding = kernel_size // 2
        taps = self.resample_filter.shape[-1]
        if up > 1:
            self.resample_padding = _resample_padding(taps, up, up=True)
        else:
            self.resample_padding = _resample_padding(taps, down, up=False, conv_padding=self.padding)
        self.weight_gain = 1 / math.sqrt(in_channels * kernel_size ** 2)
        self.act_gain = ACTIVATIONS[activation].default_gain
        self.weight = nn.Parameter(torch.randn([out_channels, in_channels, kernel_size, kernel_size]))
        if bias:
            self.bias = nn.Parameter(torch.zeros([out_channels]))
        else:
            self.register_parameter("bias", None)

    def forward(self, x: torch.Tensor, gain: float = 1.0) -> torch.Tensor:
        w = (self.weight * self.weight_gain).to(x.dtype)
        p0, p1 = self.resample_padding
        pad = [p0, p1, p0, p1]
        if self.up > 1:
            x = upfirdn2d(F.conv2d(x, w), self.resample_filter, up=2, padding=pad, gain=4)
        elif self.down > 1 and self.kernel_size == 1:
            x = F.conv2d(upfirdn2d(x, self.resample_filter, down=2, padding=pad), w)
        elif self.down > 1:
            x = F.conv2d(upfirdn2d(x, self.resample_filter, padding=pad), w, stride=2)
        else:
            x = F.conv2d(x, w, padding=self.padding)
        b = None if self.bias is None else self.bias.to(x.dtype)
        clamp = None if self.conv_clamp is None else self.conv_clamp * gain
        return bias_act(x, b, act=self.activation, gain=self.act_gain * gain, clamp=clamp)

    def extra_repr(self) -> str:
        return (f"{self.weight.shape[1]}->{self.weight.shape[0]}, k={self.kernel_size}, "
                f"up={self.up}, down={self.down}, act={self.activation}")


class SynthesisLayer(nn.Module):
    """Modulated 3x3 conv (optionally upsampling 2x) + per-pixel noise + bias, lrelu, clamp."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int,
                 up: int = 1, conv_clamp: float | None = None,
                 resample_filter: tuple[float, ...] | list[float] = RESAMPLE_FILTER,
                 kernel_size: int = 3) -> None:
        super().__init__()
        self.resolution = resolution
        self.up = up
        self.conv_clamp = conv_clamp
        self.padding = kernel_size // 2
        self.act_gain = ACTIVATIONS["lrelu"].default_gain
        self.register_buffer("resample_filter", setup_filter(resample_filter))
        # Padding left after the transposed conv (which already grew the map by kernel_size - 1).
        taps = self.resample_filter.shape[-1]
        p0, p1 = _resample_padding(taps, up, up=True, conv_padding=self.padding)
        self.up_padding = (p0 - (kernel_size - 1), p1 - (kernel_size - up))
        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
        self.weight = nn.Parameter(torch.randn([out_channels, in_channels, kernel_size, kernel_size]))
        self.register_buffer("noise_const", torch.randn([resolution, resolution]))
        self.noise_strength = nn.Parameter(torch.zeros([]))
        self.bias = nn.Parameter(torch.zeros([out_channels]))

    def _convolve(self, x: torch.Tensor, w: torch.Tensor, groups: int) -> torch.Tensor:
        if self.up > 1:
            return upsample_conv2d(x, w, self.resample_filter, self.up_padding, groups)
        return F.conv2d(x, w, padding=self.padding, groups=groups)

    def make_noise(self, batch: int, mode: str, gain: float, generator: torch.Generator | None,
                   device: torch.device) -> torch.Tensor | None:
        """This layer's noise input, already scaled; None when nothing is to be added.

        Random noise is drawn even when `gain` is 0, so that switching one resolution off
        leaves the seeded noise of every other layer unchanged.
        """
        if mode == "none":
            return None
        shape = [batch, 1, self.resolution, self.resolution]
        if mode == "const":
            noise = self.noise_const
        elif generator is not None:
            noise = torch.randn(shape, generator=generator).to(device)
        else:
            noise = torch.randn(shape, device=device)
        if gain == 0:
            return None
        noise = noise * self.noise_strength
        return noise if gain == 1 else noise * gain

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise: torch.Tensor | None,
                fused: bool = True, gain: float = 1.0) -> torch.Tensor:
        return self.activate(self.preactivate(x, w, fused), noise, gain)

    def preactivate(self, x: torch.Tensor, w: torch.Tensor, fused: bool = True) -> torch.Tensor:
        """The modulated, demodulated conv: the part that does not read the noise."""
        return modulated_conv2d(x, self.weight, self.affine(w), self._convolve, demodulate=True,
                                fused=fused)

    def activate(self, x: torch.Tensor, noise: torch.Tensor | None, gain: float = 1.0) -> torch.Tensor:
        """Noise, bias, leaky ReLU, gain and clamp on `preactivate`'s output (never in place)."""
        if noise is not None:
            x = x + noise.to(x.dtype)
        clamp = None if self.conv_clamp is None else self.conv_clamp * gain
        return bias_act(x, self.bias.to(x.dtype), act="lrelu", gain=self.act_gain * gain, clamp=clamp)

    def extra_repr(self) -> str:
        return (f"{self.weight.shape[1]}->{self.weight.shape[0]}, resolution={self.resolution}, "
                f"up={self.up}")


class ToRGBLayer(nn.Module):
    """Modulated 1x1 conv to image channels, without demodulation or activation."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int,
                 conv_clamp: float | None = None) -> None:
        super().__init__()
        self.conv_clamp = conv_clamp
        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
        self.weight = nn.Parameter(torch.randn([out_channels, in_channels, 1, 1]))
        self.bias = nn.Parameter(torch.zeros([out_channels]))
        self.weight_gain = 1 / math.sqrt(in_channels)

    @staticmethod
    def _convolve(x: torch.Tensor, w: torch.Tensor, groups: int) -> torch.Tensor:
        return F.conv2d(x, w, groups=groups)

    def forward(self, x: torch.Tensor, w: torch.Tensor, fused: bool = True) -> torch.Tensor:
        styles = self.affine(w) * self.weight_gain
        x = modulated_conv2d(x, self.weight, styles, self._convolve, demodulate=False, fused=fused)
        return bias_act(x, self.bias.to(x.dtype), clamp=self.conv_clamp)


@dataclass
class _SynthesisPass:
    """Per-call settings shared by every block of one synthesis forward pass."""

    noise_mode: str
    generator: torch.Generator | None
    noise_gain_by_res: dict[int, float]
    capture: dict[str, torch.Tensor] | None
    allow_fp16: bool
    fused_modconv: bool | None
    fast: sg2_fast.FastPass | None = None  # set when the CPU inference path runs

    def store(self, name: str, t: torch.Tensor) -> None:
        if self.capture is not None:
            self.capture[name] = t.float()


class SynthesisBlock(nn.Module):
    """One resolution: (const | upsampling conv0) -> conv1 -> optional ToRGB / resnet skip."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int,
                 img_channels: int, is_last: bool, architecture: str = "skip",
                 conv_clamp: float | None = None, use_fp16: bool = False,
                 resample_filter: tuple[float, ...] | list[float] = RESAMPLE_FILTER) -> None:
        super().__init__()
        if architecture not in BLOCK_ARCHITECTURES:
            raise ValueError(f"architecture must be one of {BLOCK_ARCHITECTURES}, not {architecture!r}")
        self.in_channels = in_channels
        self.resolution = resolution
        self.architecture = architecture
        self.use_fp16 = use_fp16
        self.name = f"b{resolution}"
        self.register_buffer("resample_filter", setup_filter(resample_filter))
        if in_channels == 0:
            self.const = nn.Parameter(torch.randn([out_channels, resolution, resolution]))
        else:
            self.conv0 = SynthesisLayer(in_channels, out_channels, w_dim, resolution, up=2,
                                        conv_clamp=conv_clamp, resample_filter=resample_filter)
        self.conv1 = SynthesisLayer(out_channels, out_channels, w_dim, resolution,
                                    conv_clamp=conv_clamp, resample_filter=resample_filter)
        self.has_torgb = is_last or architecture == "skip"
        if self.has_torgb:
            self.torgb = ToRGBLayer(out_channels, img_channels, w_dim, conv_clamp=conv_clamp)
        self.has_skip = in_channels != 0 and architecture == "resnet"
        if self.has_skip:
            self.skip = Conv2dLayer(in_channels, out_channels, kernel_size=1, bias=False, up=2,
                                    resample_filter=resample_filter)
        self.num_conv = 1 if in_channels == 0 else 2
        self.num_torgb = int(self.has_torgb)

    def capture_names(self) -> list[str]:
        """Names this block stores into `capture`, in the order it computes them."""
        names = [f"{self.name}.skip"] if self.has_skip else []
        names += [f"{self.name}.conv0"] if self.in_channels else []  # by `activate_conv0`
        names += [f"{self.name}.conv1"]
        names += [f"{self.name}.out"] if self.has_skip else []
        names += [f"{self.name}.torgb", f"{self.name}.img"] if self.has_torgb else []
        return names

    def forward(self, x: torch.Tensor | None, img: torch.Tensor | None, ws: list[torch.Tensor],
                p: _SynthesisPass) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The block's stages in turn (incremental rendering may restart at any of them)."""
        x, img, y = self.first_half(x, img, ws, p)
        if self.in_channels:
            x = self.activate_conv0(x, ws, p)
        return self.second_half(x, img, y, ws, p)

    def first_half(self, x: torch.Tensor | None, img: torch.Tensor | None, ws: list[torch.Tensor],
                   p: _SynthesisPass) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """(x, img, shortcut): the const input, or the resnet shortcut and the upsampling conv0
        up to its noise. The noise is `activate_conv0`'s, a stage of its own, so that a change of
        this resolution's noise alone restarts after the block's costliest conv."""
        if p.fast is not None:
            return sg2_fast.first_half(self, x, img, p.fast, p)
        n, dtype, fused, _ = self._settings(ws, p)
        if self.in_channels == 0:
            return self.const.to(dtype).unsqueeze(0).repeat([n, 1, 1, 1]), img, None
        x = x.to(dtype)
        y = None
        if self.has_skip:
            y = self.skip(x, gain=SQRT_HALF)
            p.store(f"{self.name}.skip", y)
        return self.conv0.preactivate(x, ws[0], fused), img, y

    def activate_conv0(self, x: torch.Tensor, ws: list[torch.Tensor], p: _SynthesisPass) -> torch.Tensor:
        """conv0's noise, bias and activation on `first_half`'s output (into a new map: an
        incremental pass may keep that output)."""
        if p.fast is not None:
            return sg2_fast.activate_conv0(self, x, p.fast, p)
        _, _, _, noise = self._settings(ws, p)
        x = self.conv0.activate(x, noise(self.conv0))
        p.store(f"{self.name}.conv0", x)
        return x

    def second_half(self, x: torch.Tensor, img: torch.Tensor | None, y: torch.Tensor | None,
                    ws: list[torch.Tensor], p: _SynthesisPass) -> tuple[torch.Tensor, torch.Tensor | None]:
        """conv1 (plus the shortcut), then the image: the previous one upsampled plus this ToRGB."""
        if p.fast is not None:
            return sg2_fast.second_half(self, x, img, y, p.fast, p)
        _, _, fused, noise = self._settings(ws, p)
        x = self.conv1(x, ws[self.num_conv - 1], noise(self.conv1), fused,
                       gain=SQRT_HALF if self.has_skip else 1.0)
        p.store(f"{self.name}.conv1", x)
        if y is not None:
            x = y + x
            p.store(f"{self.name}.out", x)
        if img is not None:
            img = upsample2d(img, self.resample_filter)
        if self.has_torgb:
            rgb = self.torgb(x, ws[self.num_conv], fused).to(torch.float32)
            p.store(f"{self.name}.torgb", rgb)
            img = rgb if img is None else img + rgb
            p.store(f"{self.name}.img", img)
        return x, img

    def _settings(self, ws: list[torch.Tensor], p: _SynthesisPass) -> tuple[int, torch.dtype, bool, Callable]:
        """(batch, dtype, fused modconv, layer -> its noise) for this block in this pass."""
        n = ws[0].shape[0]
        device = ws[0].device
        dtype = torch.float16 if self.use_fp16 and p.allow_fp16 else torch.float32
        fused = p.fused_modconv
        if fused is None:
            fused = not self.training and (dtype == torch.float32 or n == 1)
        noise_gain = p.noise_gain_by_res.get(self.resolution, 1.0)

        def noise(layer: SynthesisLayer) -> torch.Tensor | None:
            return layer.make_noise(n, p.noise_mode, noise_gain, p.generator, device)
        return n, dtype, fused, noise

    def extra_repr(self) -> str:
        return f"resolution={self.resolution}, architecture={self.architecture}, fp16={self.use_fp16}"


class SynthesisNetwork(nn.Module):
    """ws [N, num_ws, w_dim] -> image, through one block per resolution 4, 8, ..., R."""

    def __init__(self, w_dim: int, img_resolution: int, img_channels: int,
                 channels: Mapping[int, int], num_fp16_res: int = 0,
                 conv_clamp: float | None = None, architecture: str = "skip") -> None:
        super().__init__()
        log2 = int(math.log2(img_resolution))
        if img_resolution < 4 or 2 ** log2 != img_resolution:
            raise ValueError(f"img_resolution must be a power of two >= 4, not {img_resolution}")
        self.w_dim = w_dim
        self.img_resolution = img_resolution
        self.img_channels = img_channels
        self.block_architecture = architecture
        self.block_resolutions = [2 ** i for i in range(2, log2 + 1)]
        fp16_resolution = max(2 ** (log2 + 1 - num_fp16_res), 8)
        for res in self.block_resolutions:
            block = SynthesisBlock(channels[res // 2] if res > 4 else 0, channels[res], w_dim, res,
                                   img_channels, is_last=res == img_resolution,
                                   architecture=architecture, conv_clamp=conv_clamp,
                                   use_fp16=res >= fp16_resolution)
            setattr(self, f"b{res}", block)
        self.blocks: list[SynthesisBlock] = [getattr(self, f"b{r}") for r in self.block_resolutions]

        # Which W+ rows each block reads: a ToRGB shares its row with the next block's conv0.
        self.block_ws: list[list[int]] = []
        ws_res: dict[int, int] = {}
        w_idx = 0
        for block in self.blocks:
            rows = list(range(w_idx, w_idx + block.num_conv + block.num_torgb))
            self.block_ws.append(rows)
            for i in rows:
                ws_res[i] = min(ws_res.get(i, block.resolution), block.resolution)
            w_idx += block.num_conv
        self.num_ws = w_idx + self.blocks[-1].num_torgb
        self._ws_resolutions = [ws_res[i] for i in range(self.num_ws)]
        self._layer_resolutions = {name: b.resolution for b in self.blocks for name in b.capture_names()}
        # Incremental-rendering stages: the const, or the shortcut and conv0 up to its noise; then
        # (not in the const block) conv0's noise and activation; then conv1 and the image. So a
        # change of one resolution's noise keeps the upsampling conv, and one of the last rows
        # keeps conv0 whole. `_stage_parts` says which block and part each stage runs.
        self.stages: list[Stage] = []
        self._stage_parts: list[tuple[int, str]] = []
        for k, (b, rows) in enumerate(zip(self.blocks, self.block_ws)):
            first = tuple(n for n in b.capture_names() if n.endswith(".skip"))
            conv0 = tuple(n for n in b.capture_names() if n.endswith(".conv0"))
            rest = tuple(n for n in b.capture_names() if n not in first + conv0)
            self.stages.append(Stage(tuple(rows[:1]) if b.in_channels else (), None, first,
                                     resolution=b.resolution))
            self._stage_parts.append((k, "first"))
            if b.in_channels:
                self.stages.append(Stage((), b.resolution, conv0, resolution=b.resolution))
                self._stage_parts.append((k, "activate"))
            self.stages.append(Stage(tuple(rows[b.num_conv - 1:]), b.resolution, rest,
                                     resolution=b.resolution))
            self._stage_parts.append((k, "second"))

    def layer_resolutions(self) -> dict[str, int]:
        """Capturable layer name -> output resolution, in forward order."""
        return dict(self._layer_resolutions)

    def ws_resolutions(self) -> list[int]:
        """For each W+ row, the (lowest) resolution of the layers it drives."""
        return list(self._ws_resolutions)

    def forward(self, ws: torch.Tensor, noise_mode: str = "const", noise_seed: int | None = None,
                noise_gain_by_res: Mapping[int, float] | None = None,
                capture: dict[str, torch.Tensor] | None = None, transform: Any = None,
                force_fp32: bool = False, fused_modconv: bool | None = None,
                resume: SynthesisResume | None = None,
                stop_resolution: int | None = None) -> torch.Tensor:
        """Render images. `transform` is StyleGAN3's and is ignored here.

        `noise_seed` makes random noise reproducible across devices (drawn on the CPU in layer
        order); `noise_gain_by_res` scales the noise of all layers of a resolution (missing = 1).
        fp16 is used for the top `num_fp16_res` blocks only on CUDA and unless `force_fp32`.
        `resume` keeps the input of each stage (`self.stages`) and restarts from the first
        one the new `ws` or gains change (see `explorer.nets.resume`). `stop_resolution` (skip architecture only)
        returns the image as it stands after that block: a cheap low-resolution preview.
        """
        if noise_mode not in NOISE_MODES:
            raise ValueError(f"noise_mode must be one of {NOISE_MODES}, not {noise_mode!r}")
        if ws.ndim != 3 or ws.shape[1] != self.num_ws or ws.shape[2] != self.w_dim:
            raise ValueError(f"ws must have shape [N, {self.num_ws}, {self.w_dim}], got {list(ws.shape)}")
        stop_after = None
        if stop_resolution is not None:
            if self.block_architecture != "skip" or int(stop_resolution) not in self.block_resolutions:
                raise ValueError("stop_resolution needs the skip architecture and one of "
                                 f"{self.block_resolutions}")
            stop_after = max(i for i, stage in enumerate(self.stages) if stage.resolution == int(stop_resolution))
        generator = None
        if noise_mode == "random" and noise_seed is not None:
            generator = torch.Generator().manual_seed(int(noise_seed))
        gains = {int(r): float(g) for r, g in (noise_gain_by_res or {}).items()}
        p = _SynthesisPass(noise_mode, generator, gains, capture,
                           allow_fp16=not force_fp32 and ws.device.type == "cuda",
                           fused_modconv=fused_modconv)
        ws = ws.to(torch.float32)
        if (not self.training if fused_modconv is None else fused_modconv) and sg2_fast.applies(ws):
            p.fast = sg2_fast.prepare(self, ws)
        rows = ws.unbind(dim=1)

        def run_stage(i: int, entering: tuple | None) -> tuple:
            x, img, y, rng = entering or (None, None, None, None)
            if rng is not None:  # resuming mid-way: the random noise continues where it was
                generator.set_state(rng)
            k, part = self._stage_parts[i]
            block = self.blocks[k]
            block_rows = [rows[r] for r in self.block_ws[k]]
            if part == "first":
                x, img, y = block.first_half(x, img, block_rows, p)
            elif part == "activate":
                x = block.activate_conv0(x, block_rows, p)
            else:
                (x, img), y = block.second_half(x, img, y, block_rows, p), None
            return x, img, y, None if generator is None else generator.get_state()

        if resume is not None and (self.training or torch.is_grad_enabled() or
                                   (noise_mode == "random" and generator is None)):
            resume = None  # nothing to reuse: unseeded noise, or autograd needs the whole graph
        key = () if resume is None else (weights_key(self), p.fast is not None, p.allow_fp16,
                                         fused_modconv, noise_mode,
                                         noise_seed if noise_mode == "random" else None)
        _, img, _, _ = run_stages(resume, self, key, ws, gains, self.stages, capture, run_stage,
                                  stop_after)
        return img.contiguous()

    def extra_repr(self) -> str:
        return (f"w_dim={self.w_dim}, num_ws={self.num_ws}, img_resolution={self.img_resolution}, "
                f"architecture={self.block_architecture}")


def _channel_table(resolutions: list[int], channel_base: int, channel_max: int,
                   channels: Mapping[int | str, int] | None) -> dict[int, int]:
    """NVIDIA's min(channel_base // r, channel_max), with per-resolution overrides."""
    table = {r: min(channel_base // r, channel_max) for r in resolutions}
    for r, c in (channels or {}).items():
        table[int(r)] = int(c)
    return table


class StyleGAN2Generator(nn.Module):
    """z (+ label) -> W+ -> image. Accepts both NVIDIA kwarg layouts.

    stylegan2-ada nests the synthesis kwargs in `synthesis_kwargs`; the stylegan3 repo passes
    them at top level. Entries of `synthesis_kwargs` win over top-level ones. Unknown keys
    (`fused_modconv_default`, `fp16_channels_last`, ...) only tune NVIDIA's execution and are
    ignored. `channels` overrides the channel count of given resolutions (rosinality tables).
    """

    architecture = "stylegan2"

    def __init__(self, z_dim: int, c_dim: int, w_dim: int, img_resolution: int,
                 img_channels: int = 3, mapping_kwargs: Mapping[str, Any] | None = None,
                 synthesis_kwargs: Mapping[str, Any] | None = None, channel_base: int = 32768,
                 channel_max: int = 512, num_fp16_res: int = 0, conv_clamp: float | None = None,
                 architecture: str = "skip", channels: Mapping[int | str, int] | None = None,
                 **ignored_unknown: Any) -> None:
        super().__init__()
        synth: dict[str, Any] = dict(channel_base=channel_base, channel_max=channel_max,
                                     num_fp16_res=num_fp16_res, conv_clamp=conv_clamp,
                                     architecture=architecture, channels=channels)
        synth.update({k: v for k, v in (synthesis_kwargs or {}).items() if k in synth})
        mapping = {k: v for k, v in (mapping_kwargs or {}).items() if k in MAPPING_KEYS}
        mapping.setdefault("num_layers", 8)

        self.z_dim, self.c_dim, self.w_dim = int(z_dim), int(c_dim), int(w_dim)
        self.img_resolution, self.img_channels = int(img_resolution), int(img_channels)
        resolutions = [2 ** i for i in range(2, int(math.log2(self.img_resolution)) + 1)]
        table = _channel_table(resolutions, int(synth["channel_base"]), int(synth["channel_max"]),
                               synth["channels"])
        clamp = synth["conv_clamp"]
        self.synthesis = SynthesisNetwork(self.w_dim, self.img_resolution, self.img_channels, table,
                                          num_fp16_res=int(synth["num_fp16_res"]),
                                          conv_clamp=None if clamp is None else float(clamp),
                                          architecture=str(synth["architecture"]))
        self.num_ws = self.synthesis.num_ws
        self.mapping = MappingNetwork(self.z_dim, self.c_dim, self.w_dim, self.num_ws, **mapping)
        overrides = synth["channels"]
        if overrides is not None:
            overrides = {str(r): int(c) for r, c in sorted(overrides.items(), key=lambda rc: int(rc[0]))}
        self.init_kwargs: dict[str, Any] = dict(
            z_dim=self.z_dim, c_dim=self.c_dim, w_dim=self.w_dim,
            img_resolution=self.img_resolution, img_channels=self.img_channels,
            mapping_kwargs=mapping, channel_base=int(synth["channel_base"]),
            channel_max=int(synth["channel_max"]), num_fp16_res=int(synth["num_fp16_res"]),
            conv_clamp=clamp, architecture=str(synth["architecture"]),
            channels=overrides)

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None, truncation_psi: float = 1.0,
                truncation_cutoff: int | None = None, update_w_avg: bool = False,
                **synthesis_kwargs: Any) -> torch.Tensor:
        ws = self.mapping(z, c, truncation_psi=truncation_psi, truncation_cutoff=truncation_cutoff,
                          update_w_avg=update_w_avg)
        return self.synthesis(ws, **synthesis_kwargs)
