"""StyleGAN3 ("Alias-Free GAN") generator, numerically equivalent to NVIDIA's networks_stylegan3.

The synthesis network treats feature maps as band-limited continuous signals: every layer has a
cutoff frequency and a sampling rate, both derived from a handful of constructor kwargs, and the
resampling filters follow from them. Nothing of that schedule is stored in checkpoints except the
filters themselves, so it is recomputed here exactly as the reference does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.signal
import scipy.special
import torch
from torch import nn

from cuda_ops import filtered_lrelu
from explorer.nets.layers import FullyConnectedLayer, MappingNetwork
from explorer.nets.resume import Stage, SynthesisResume, run_stages, weights_key


# --------------------------------------------------------------------------------------------
# Layer schedule


@dataclass(frozen=True)
class InputSpec:
    """The Fourier-feature input: its channel count, square size, sampling rate and bandwidth."""

    channels: int
    size: int
    sampling_rate: float
    bandwidth: float


@dataclass(frozen=True)
class LayerSpec:
    """Everything one synthesis layer needs that is derived, not learned (square maps only)."""

    name: str
    in_channels: int
    out_channels: int
    in_size: int
    out_size: int
    in_sampling_rate: int
    out_sampling_rate: int
    tmp_sampling_rate: int
    in_cutoff: float
    out_cutoff: float
    in_half_width: float
    out_half_width: float
    up_factor: int
    down_factor: int
    up_taps: int
    down_taps: int
    down_radial: bool
    conv_kernel: int
    padding: tuple[int, int, int, int]
    is_torgb: bool
    is_critically_sampled: bool
    use_fp16: bool


def synthesis_schedule(
    img_resolution: int,
    img_channels: int,
    channel_base: int = 32768,
    channel_max: int = 512,
    num_layers: int = 14,
    num_critical: int = 2,
    first_cutoff: float = 2,
    first_stopband: float = 2 ** 2.1,
    last_stopband_rel: float = 2 ** 0.3,
    margin_size: int = 10,
    num_fp16_res: int = 4,
    conv_kernel: int = 3,
    filter_size: int = 6,
    lrelu_upsampling: int = 2,
    use_radial_filters: bool = False,
) -> tuple[InputSpec, list[LayerSpec]]:
    """Cutoffs and stopbands grow geometrically from the first layer to the last non-critical
    one; sampling rates are the smallest powers of two that hold each stopband.

    Computed in float64 numpy, as the reference does, so the filters come out bit-identical.
    """
    n = num_layers
    last_cutoff = img_resolution / 2
    last_stopband = last_cutoff * last_stopband_rel
    exponents = np.minimum(np.arange(n + 1) / (n - num_critical), 1)
    cutoffs = first_cutoff * (last_cutoff / first_cutoff) ** exponents
    stopbands = first_stopband * (last_stopband / first_stopband) ** exponents
    rates = np.exp2(np.ceil(np.log2(np.minimum(stopbands * 2, img_resolution))))
    half_widths = np.maximum(stopbands, rates / 2) - cutoffs
    sizes = rates + margin_size * 2
    sizes[-2:] = img_resolution
    channels = np.rint(np.minimum((channel_base / 2) / cutoffs, channel_max))
    channels[-1] = img_channels

    inp = InputSpec(channels=int(channels[0]), size=int(sizes[0]),
                    sampling_rate=float(rates[0]), bandwidth=float(cutoffs[0]))
    layers = []
    for i in range(n + 1):
        prev = max(i - 1, 0)
        is_torgb = i == n
        in_sr, out_sr = int(rates[prev]), int(rates[i])
        tmp_sr = max(in_sr, out_sr) * (1 if is_torgb else lrelu_upsampling)
        up, down = tmp_sr // in_sr, tmp_sr // out_sr
        up_taps = filter_size * up if up > 1 and not is_torgb else 1
        down_taps = filter_size * down if down > 1 and not is_torgb else 1
        kernel = 1 if is_torgb else conv_kernel
        is_critical = i >= n - num_critical
        in_size, out_size = int(sizes[prev]), int(sizes[i])
        # Size needed before downsampling, minus what upsampling gives, plus what the filters eat.
        total = (out_size - 1) * down + 1 - (in_size + kernel - 1) * up + up_taps + down_taps - 2
        # Shift by up/2 so samples sit at pixel centres (the paper's symmetric interpretation).
        lo = (total + up) // 2
        hi = total - lo
        layers.append(LayerSpec(
            name=f"L{i}_{out_size}_{int(channels[i])}",
            in_channels=int(channels[prev]), out_channels=int(channels[i]),
            in_size=in_size, out_size=out_size,
            in_sampling_rate=in_sr, out_sampling_rate=out_sr, tmp_sampling_rate=tmp_sr,
            in_cutoff=float(cutoffs[prev]), out_cutoff=float(cutoffs[i]),
            in_half_width=float(half_widths[prev]), out_half_width=float(half_widths[i]),
            up_factor=up, down_factor=down, up_taps=up_taps, down_taps=down_taps,
            down_radial=use_radial_filters and not is_critical, conv_kernel=kernel,
            padding=(lo, hi, lo, hi), is_torgb=is_torgb, is_critically_sampled=is_critical,
            use_fp16=bool(rates[i] * 2 ** num_fp16_res > img_resolution)))
    return inp, layers


def kaiser_window(taps: int, width: float, fs: float) -> np.ndarray:
    """The Kaiser window for a transition band `width` Hz wide at sampling rate `fs`.

    Its shape parameter comes from the stopband attenuation this many taps can reach over that
    band (Kaiser's empirical formulas, as scipy implements them); `firwin` picks it the same way.
    """
    attenuation_db = scipy.signal.kaiser_atten(taps, width / (fs / 2))
    return np.kaiser(taps, scipy.signal.kaiser_beta(attenuation_db))


def radial_lowpass(taps: int, cutoff: float, width: float, fs: float) -> np.ndarray:
    """A taps x taps circularly symmetric lowpass with unit DC gain.

    The ideal disc-shaped passband of radius `cutoff` has the impulse response
    J1(2 pi cutoff r) / (pi r) (a "jinc"); it is tapered by the separable Kaiser window. Tap
    positions are in units of 1/fs from the centre, so an even tap count never samples r = 0.
    """
    offsets = (np.arange(taps) - (taps - 1) / 2) / fs
    radius = np.sqrt(offsets[:, None] ** 2 + offsets[None, :] ** 2)
    jinc = scipy.special.j1(2 * np.pi * cutoff * radius) / (np.pi * radius)
    window = kaiser_window(taps, width, fs)
    tapered = jinc * window[:, None] * window[None, :]
    return tapered / tapered.sum()


def lowpass_filter(taps: int, cutoff: float, width: float, fs: float,
                   radial: bool = False) -> torch.Tensor | None:
    """The float32 filter a layer resamples with: None for one tap (nothing to filter), else a
    1-D Kaiser-windowed sinc applied along each axis, or with `radial` the 2-D jinc above.

    The radial filter suppresses the diagonal aliases a separable one lets through, which the
    rotation-equivariant (R) config needs.
    """
    if taps == 1:
        return None
    taps_array = (radial_lowpass(taps, cutoff, width, fs) if radial
                  else scipy.signal.firwin(taps, cutoff, width=width, fs=fs))
    return torch.as_tensor(taps_array, dtype=torch.float32)


# --------------------------------------------------------------------------------------------
# Modules


def modulated_conv2d(x: torch.Tensor, weight: torch.Tensor, styles: torch.Tensor,
                     demodulate: bool, padding: int, input_gain: torch.Tensor) -> torch.Tensor:
    """Per-sample style-modulated convolution, run as one grouped conv over the batch.

    With demodulation, weight and styles are first scaled to unit RMS: the scalars cancel out,
    but they keep fp16 in range. `input_gain` rescales the input (1/RMS of the incoming signal).
    """
    n = x.shape[0]
    out_ch, in_ch, kh, kw = weight.shape
    if demodulate:
        weight = weight * weight.square().mean(dim=[1, 2, 3], keepdim=True).rsqrt()
        styles = styles * styles.square().mean().rsqrt()
    w = weight.unsqueeze(0) * styles[:, None, :, None, None]
    if demodulate:
        w = w * (w.square().sum(dim=[2, 3, 4]) + 1e-8).rsqrt()[:, :, None, None, None]
    w = w * input_gain.expand(n, in_ch)[:, None, :, None, None]
    w = w.reshape(n * out_ch, in_ch, kh, kw).to(x.dtype)
    if n == 1:  # reshaping would drop the channels-last layout the filters run fastest in
        return torch.nn.functional.conv2d(x, w, padding=padding)
    x = x.reshape(1, n * in_ch, *x.shape[2:])
    x = torch.nn.functional.conv2d(x, w, padding=padding, groups=n)
    return x.reshape(n, out_ch, *x.shape[2:])


class SynthesisInput(nn.Module):
    """Fourier features sampled on a grid that w rotates and translates.

    The buffer `transform` is a user-set inverse transform of the output image (identity by
    default); a per-call `transform` argument replaces it without touching the buffer.
    """

    def __init__(self, w_dim: int, spec: InputSpec) -> None:
        super().__init__()
        self.w_dim = w_dim
        self.channels = spec.channels
        self.size = spec.size
        self.sampling_rate = spec.sampling_rate
        self.bandwidth = spec.bandwidth

        # Frequencies spread over a disc of radius `bandwidth`, phases uniform in [-0.5, 0.5).
        freqs = torch.randn([self.channels, 2])
        radii = freqs.square().sum(dim=1, keepdim=True).sqrt()
        freqs = freqs / (radii * radii.square().exp().pow(0.25)) * self.bandwidth
        phases = torch.rand([self.channels]) - 0.5

        self.weight = nn.Parameter(torch.randn([self.channels, self.channels]))
        self.affine = FullyConnectedLayer(w_dim, 4, weight_init=0)
        with torch.no_grad():
            self.affine.bias.copy_(torch.tensor([1.0, 0.0, 0.0, 0.0]))  # identity rotation
        self.register_buffer("transform", torch.eye(3))
        self.register_buffer("freqs", freqs)
        self.register_buffer("phases", phases)
        # Sample positions (x, y) of every pixel, in units of the signal's period: [1, H, W, 2].
        theta = torch.tensor([[0.5 * self.size / self.sampling_rate, 0.0, 0.0],
                              [0.0, 0.5 * self.size / self.sampling_rate, 0.0]])
        grid = nn.functional.affine_grid(theta[None], [1, 1, self.size, self.size],
                                         align_corners=False)
        self.register_buffer("grid", grid, persistent=False)

    def forward(self, w: torch.Tensor, transform: torch.Tensor | None = None) -> torch.Tensor:
        user = self.transform if transform is None else transform.to(w.device, torch.float32)
        t = self.affine(w)  # (r_c, r_s, t_x, t_y)
        t = t / t[:, :2].norm(dim=1, keepdim=True)
        zero, one = torch.zeros_like(t[:, 0]), torch.ones_like(t[:, 0])
        rotate = torch.stack([t[:, 0], -t[:, 1], zero,
                              t[:, 1], t[:, 0], zero,
                              zero, zero, one], dim=1).reshape(-1, 3, 3)
        translate = torch.stack([one, zero, -t[:, 2],
                                 zero, one, -t[:, 3],
                                 zero, zero, one], dim=1).reshape(-1, 3, 3)
        transforms = rotate @ translate @ user.unsqueeze(0)

        freqs = self.freqs.unsqueeze(0)
        phases = self.phases.unsqueeze(0) + (freqs @ transforms[:, :2, 2:]).squeeze(2)
        freqs = freqs @ transforms[:, :2, :2]
        # Fade out frequencies the user transform pushed beyond what the grid can represent.
        amplitudes = (1 - (freqs.norm(dim=2) - self.bandwidth)
                      / (self.sampling_rate / 2 - self.bandwidth)).clamp(0, 1)

        x = (self.grid.unsqueeze(3) @ freqs.permute(0, 2, 1)[:, None, None]).squeeze(3)
        x = x + phases[:, None, None]
        x = torch.sin(x * (np.pi * 2)) * amplitudes[:, None, None]
        x = x @ (self.weight / np.sqrt(self.channels)).t()
        return x.permute(0, 3, 1, 2)

    def extra_repr(self) -> str:
        return (f"channels={self.channels}, size={self.size}, "
                f"sampling_rate={self.sampling_rate:g}, bandwidth={self.bandwidth:g}")


class SynthesisLayer(nn.Module):
    """Modulated conv followed by the filtered leaky ReLU; the last layer (ToRGB) is linear."""

    def __init__(self, w_dim: int, spec: LayerSpec, conv_clamp: float | None = 256,
                 magnitude_ema_beta: float = 0.999) -> None:
        super().__init__()
        self.spec = spec
        self.conv_clamp = conv_clamp
        self.magnitude_ema_beta = magnitude_ema_beta
        k = spec.conv_kernel
        self.affine = FullyConnectedLayer(w_dim, spec.in_channels, bias_init=1)
        self.weight = nn.Parameter(torch.randn([spec.out_channels, spec.in_channels, k, k]))
        self.bias = nn.Parameter(torch.zeros([spec.out_channels]))
        self.register_buffer("magnitude_ema", torch.ones([]))
        self.register_buffer("up_filter", lowpass_filter(
            spec.up_taps, spec.in_cutoff, spec.in_half_width * 2, spec.tmp_sampling_rate))
        self.register_buffer("down_filter", lowpass_filter(
            spec.down_taps, spec.out_cutoff, spec.out_half_width * 2, spec.tmp_sampling_rate,
            radial=spec.down_radial))
        # ToRGB has no demodulation, so its styles get the He gain instead.
        self.style_gain = 1 / np.sqrt(spec.in_channels * k * k) if spec.is_torgb else 1.0
        self.act_gain = 1.0 if spec.is_torgb else np.sqrt(2)
        self.act_slope = 1.0 if spec.is_torgb else 0.2

    def forward(self, x: torch.Tensor, w: torch.Tensor, force_fp32: bool = False,
                update_emas: bool = False) -> torch.Tensor:
        spec = self.spec
        if update_emas:
            with torch.no_grad():
                power = x.detach().to(torch.float32).square().mean()
                self.magnitude_ema.copy_(power.lerp(self.magnitude_ema, self.magnitude_ema_beta))
        styles = self.affine(w)
        if spec.is_torgb:
            styles = styles * self.style_gain
        fp16 = spec.use_fp16 and not force_fp32 and x.device.type == "cuda"
        x = x.to(torch.float16 if fp16 else torch.float32)
        x = modulated_conv2d(x, self.weight, styles, demodulate=not spec.is_torgb,
                             padding=spec.conv_kernel - 1, input_gain=self.magnitude_ema.rsqrt())
        return filtered_lrelu(x, self.up_filter, self.down_filter, self.bias.to(x.dtype),
                              up=spec.up_factor, down=spec.down_factor, padding=spec.padding,
                              gain=self.act_gain, slope=self.act_slope, clamp=self.conv_clamp)

    def extra_repr(self) -> str:
        s = self.spec
        return (f"in={s.in_channels}x{s.in_size}@{s.in_sampling_rate}, "
                f"out={s.out_channels}x{s.out_size}@{s.out_sampling_rate}, "
                f"up={s.up_factor}, down={s.down_factor}, torgb={s.is_torgb}")


class SynthesisNetwork(nn.Module):
    """ws [N, num_layers + 2, w_dim] -> image: the input layer, then one layer per row of ws."""

    def __init__(self, w_dim: int, img_resolution: int, img_channels: int,
                 channel_base: int = 32768, channel_max: int = 512, num_layers: int = 14,
                 num_critical: int = 2, first_cutoff: float = 2, first_stopband: float = 2 ** 2.1,
                 last_stopband_rel: float = 2 ** 0.3, margin_size: int = 10,
                 output_scale: float = 0.25, num_fp16_res: int = 4, conv_kernel: int = 3,
                 filter_size: int = 6, lrelu_upsampling: int = 2, use_radial_filters: bool = False,
                 conv_clamp: float | None = 256, magnitude_ema_beta: float = 0.999) -> None:
        super().__init__()
        self.w_dim = w_dim
        self.img_resolution = img_resolution
        self.img_channels = img_channels
        self.num_ws = num_layers + 2
        self.output_scale = output_scale
        self.input_spec, self.specs = synthesis_schedule(
            img_resolution, img_channels, channel_base=channel_base, channel_max=channel_max,
            num_layers=num_layers, num_critical=num_critical, first_cutoff=first_cutoff,
            first_stopband=first_stopband, last_stopband_rel=last_stopband_rel,
            margin_size=margin_size, num_fp16_res=num_fp16_res, conv_kernel=conv_kernel,
            filter_size=filter_size, lrelu_upsampling=lrelu_upsampling,
            use_radial_filters=use_radial_filters)
        self.input = SynthesisInput(w_dim, self.input_spec)
        self.layer_names = [spec.name for spec in self.specs]
        # Stage 0 is the input (W+ row 0), stage i layer i - 1 (row i); there is no noise.
        self.stages = [Stage((i,), None, (name,)) for i, name in enumerate(["input", *self.layer_names])]
        for spec in self.specs:
            setattr(self, spec.name, SynthesisLayer(w_dim, spec, conv_clamp=conv_clamp,
                                                    magnitude_ema_beta=magnitude_ema_beta))

    def forward(self, ws: torch.Tensor, noise_mode: str = "const", noise_seed: int | None = None,
                noise_gain_by_res: dict[int, float] | None = None,
                capture: dict[str, torch.Tensor] | None = None,
                transform: torch.Tensor | None = None, force_fp32: bool = False,
                update_emas: bool = False, resume: SynthesisResume | None = None) -> torch.Tensor:
        """StyleGAN3 has no noise inputs: the noise arguments exist for the shared contract only.

        `capture` receives the input layer's output as "input" and every layer's output by name
        (the last one before `output_scale`). `resume` keeps each layer's input and restarts from
        the first layer whose W+ row changed (see `explorer.nets.resume`).
        """
        if ws.ndim != 3 or ws.shape[1] != self.num_ws or ws.shape[2] != self.w_dim:
            raise ValueError(f"ws must have shape [N, {self.num_ws}, {self.w_dim}], got {list(ws.shape)}")
        rows = ws.to(torch.float32).unbind(dim=1)

        def run_stage(i: int, x: torch.Tensor | None) -> torch.Tensor:
            if i == 0:
                x = self.input(rows[0], transform=transform)
            else:
                x = getattr(self, self.layer_names[i - 1])(x, rows[i], force_fp32=force_fp32,
                                                           update_emas=update_emas)
            if capture is not None:
                capture[self.stages[i].capture_names[0]] = x
            return x

        if resume is not None and (update_emas or self.training or torch.is_grad_enabled()):
            resume = None
        key = ()
        if resume is not None:
            user = None if transform is None else tuple(torch.as_tensor(transform).flatten().tolist())
            key = (weights_key(self), user, force_fp32, ws.dtype)
        x = run_stages(resume, self, key, ws.to(torch.float32), {}, self.stages, capture, run_stage)
        if self.output_scale != 1:
            x = x * self.output_scale
        return x.to(torch.float32).contiguous()

    def layer_resolutions(self) -> dict[str, int]:
        """Spatial size of every capturable output, in forward order (margins included)."""
        return {"input": self.input.size, **{s.name: s.out_size for s in self.specs}}

    def ws_resolutions(self) -> list[int]:
        """Size of the layer each W+ row drives: row 0 the input, row i + 1 layer i."""
        return [self.input.size] + [s.out_size for s in self.specs]


class StyleGAN3Generator(nn.Module):
    """z (+ c) -> w -> image, following the shared generator contract of `explorer.nets`."""

    architecture = "stylegan3"

    def __init__(self, z_dim: int, c_dim: int, w_dim: int, img_resolution: int,
                 img_channels: int = 3, mapping_kwargs: dict[str, Any] | None = None,
                 channel_base: int = 32768, channel_max: int = 512, num_layers: int = 14,
                 num_critical: int = 2, first_cutoff: float = 2, first_stopband: float = 2 ** 2.1,
                 last_stopband_rel: float = 2 ** 0.3, margin_size: int = 10,
                 output_scale: float = 0.25, num_fp16_res: int = 4, conv_kernel: int = 3,
                 filter_size: int = 6, lrelu_upsampling: int = 2, use_radial_filters: bool = False,
                 conv_clamp: float | None = 256, magnitude_ema_beta: float = 0.999,
                 **ignored_unknown: Any) -> None:
        super().__init__()
        synthesis_kwargs = dict(
            channel_base=channel_base, channel_max=channel_max, num_layers=num_layers,
            num_critical=num_critical, first_cutoff=first_cutoff, first_stopband=first_stopband,
            last_stopband_rel=last_stopband_rel, margin_size=margin_size,
            output_scale=output_scale, num_fp16_res=num_fp16_res, conv_kernel=conv_kernel,
            filter_size=filter_size, lrelu_upsampling=lrelu_upsampling,
            use_radial_filters=use_radial_filters, conv_clamp=conv_clamp,
            magnitude_ema_beta=magnitude_ema_beta)
        mapping_kwargs = dict(mapping_kwargs or {})
        self.z_dim, self.c_dim, self.w_dim = z_dim, c_dim, w_dim
        self.img_resolution, self.img_channels = img_resolution, img_channels
        self.init_kwargs: dict[str, Any] = dict(
            z_dim=z_dim, c_dim=c_dim, w_dim=w_dim, img_resolution=img_resolution,
            img_channels=img_channels, mapping_kwargs=mapping_kwargs, **synthesis_kwargs)
        self.synthesis = SynthesisNetwork(w_dim, img_resolution, img_channels, **synthesis_kwargs)
        self.num_ws = self.synthesis.num_ws
        self.mapping = MappingNetwork(z_dim, c_dim, w_dim, self.num_ws,
                                      **{"num_layers": 2, "w_avg_beta": 0.998, **mapping_kwargs})

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None, truncation_psi: float = 1,
                truncation_cutoff: int | None = None, update_emas: bool = False,
                **synthesis_kwargs: Any) -> torch.Tensor:
        """`update_emas` updates w_avg and every layer's magnitude_ema, as training needs."""
        ws = self.mapping(z, c, truncation_psi=truncation_psi,
                          truncation_cutoff=truncation_cutoff, update_w_avg=update_emas)
        return self.synthesis(ws, update_emas=update_emas, **synthesis_kwargs)
