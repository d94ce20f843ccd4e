"""TF-era StyleGAN2 / StyleGAN2-ADA pickles: (G, D, Gs) `dnnlib.tflib.network.Network` records.

These hold TensorFlow variables (numpy arrays in TF layouts) and the TF constructor kwargs.
They are converted into NVIDIA's PyTorch names and layouts, which our networks load directly:
dense weights are transposed, conv weights go from HWIO to OIHW (upsampling and skip convs of
the generator are also flipped spatially, because TF stored them for a transposed conv), the
style biases lose their +1 offset, and noise inputs become `noise_const`.
"""

from __future__ import annotations

import contextlib
import math
import re
from typing import Any, Iterator

import numpy as np
import torch

from explorer.checkpoints.assemble import discriminator_from_state, generator_from_state
from explorer.checkpoints.restricted_pickle import TFNetworkRecord
from explorer.checkpoints.settings_check import check_discriminator_settings, check_generator_settings
from explorer.errors import CheckpointError
from explorer.model import Model

FORMAT = "nvidia-pickle (tensorflow)"
_MIN_VERSION = 4  # StyleGAN1 and early StyleGAN2 pickles are older and use other layouts

# TF kwargs that only steered TF training/evaluation and change nothing at inference.
_IGNORED_G_KWARGS = {"truncation_psi", "truncation_cutoff", "style_mixing_prob", "structure",
                     "w_avg_beta"}
_IGNORED_D_KWARGS = {"structure", "freeze_layers"}


def model_from_tf_snapshot(data: TFNetworkRecord | tuple[TFNetworkRecord, ...], source: str) -> Model:
    """Gs (the moving-average generator) becomes the Model's generator; D is kept when it converts."""
    gs, d = (data, None) if isinstance(data, TFNetworkRecord) else (data[2], data[1])
    g_kwargs, g_state = tf_generator_to_nvidia(gs)
    generator = generator_from_state("stylegan2", g_kwargs, g_state, allow_derived_missing=True)
    extra: dict[str, Any] = {"source_repo": "tensorflow stylegan2 / stylegan2-ada",
                             "init_kwargs": g_kwargs}
    discriminator = None
    if d is not None:
        try:
            d_kwargs, d_state = tf_discriminator_to_nvidia(d)
            discriminator = discriminator_from_state(d_kwargs, d_state, allow_derived_missing=True)
        except CheckpointError as e:
            extra["discriminator_skipped"] = str(e)
    return Model(generator, discriminator, format=FORMAT, source=source, extra=extra)


class _Kwargs:
    """Reads TF static_kwargs with defaults and refuses settings it does not know."""

    def __init__(self, record: TFNetworkRecord, ignored: set[str]) -> None:
        state = record.state
        if int(state.get("version", 0)) < _MIN_VERSION:
            raise CheckpointError("this TensorFlow pickle is too old (StyleGAN1 or an early "
                                  "StyleGAN2); only StyleGAN2 / StyleGAN2-ADA pickles are supported")
        self.values = dict(state.get("static_kwargs") or {})
        self.known = set(ignored)

    def get(self, name: str, default: Any) -> Any:
        self.known.add(name)
        value = self.values.get(name)
        return default if value is None else value

    def check_unknown(self) -> None:
        unknown = sorted(set(self.values) - self.known)
        if unknown:
            raise CheckpointError(f"unsupported TensorFlow network setting {unknown[0]!r}")


def _require(condition: bool, what: str) -> None:
    if not condition:
        raise CheckpointError(f"unsupported TensorFlow network setting: {what}")


def _collect_variables(record: TFNetworkRecord, prefix: str = "") -> dict[str, np.ndarray]:
    """Flatten a network and its components into 'component/scope/var' -> array."""
    out: dict[str, np.ndarray] = {}
    for name, value in record.state.get("variables") or []:
        out[prefix + str(name)] = np.asarray(value)
    for name, component in (record.state.get("components") or {}).items():
        if isinstance(component, TFNetworkRecord):
            out.update(_collect_variables(component, f"{prefix}{name}/"))
    return out


class _Vars:
    def __init__(self, variables: dict[str, np.ndarray], what: str) -> None:
        self.variables = variables
        self.what = what

    def __call__(self, name: str) -> np.ndarray:
        if name not in self.variables:
            raise CheckpointError(f"the TensorFlow {self.what} has no variable {name}")
        return self.variables[name]

    def has(self, name: str) -> bool:
        return name in self.variables


def _t(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))


def _dense(array: np.ndarray) -> torch.Tensor:
    return _t(array.T)


def _conv(array: np.ndarray, flip: bool = False) -> torch.Tensor:
    """HWIO -> OIHW, flipping the kernel first for weights TF used in transposed convs."""
    if flip:
        array = array[::-1, ::-1]
    return _t(array.transpose(3, 2, 0, 1))


def tf_generator_to_nvidia(record: TFNetworkRecord) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """(StyleGAN2Generator kwargs, NVIDIA-named state) for a TF G or Gs network."""
    with _readable_settings():
        kw = _Kwargs(record, _IGNORED_G_KWARGS)
        kwargs = _generator_kwargs(kw)
    check_generator_settings("stylegan2", kwargs)
    resolution = kwargs["img_resolution"]
    _require(list(kw.get("resample_kernel", [1, 3, 3, 1])) == [1, 3, 3, 1], "resample_kernel")
    _require(bool(kw.get("use_noise", True)), "use_noise=False")
    _require(kw.get("nonlinearity", "lrelu") == "lrelu", "nonlinearity")
    kw.check_unknown()

    variables = _collect_variables(record)
    for name, value in list(variables.items()):
        lod = re.fullmatch(r"synthesis/ToRGB_lod(\d+)/(.*)", name)
        if lod:
            r = resolution >> int(lod.group(1))
            variables[f"synthesis/{r}x{r}/ToRGB/{lod.group(2)}"] = value
            kwargs["synthesis_kwargs"]["architecture"] = "orig"
    return kwargs, _generator_state(_Vars(variables, "generator"), kwargs)


@contextlib.contextmanager
def _readable_settings() -> Iterator[None]:
    """int()/float() of a setting that is not a number becomes a one-line CheckpointError."""
    try:
        yield
    except (TypeError, ValueError, OverflowError) as e:
        raise CheckpointError(f"unreadable TensorFlow network setting: {e}") from e


def _generator_kwargs(kw: _Kwargs) -> dict[str, Any]:
    resolution = int(kw.get("resolution", 1024))
    return {
        "z_dim": int(kw.get("latent_size", 512)), "c_dim": int(kw.get("label_size", 0)),
        "w_dim": int(kw.get("dlatent_size", 512)), "img_resolution": resolution,
        "img_channels": int(kw.get("num_channels", 3)),
        "mapping_kwargs": {
            "num_layers": int(kw.get("mapping_layers", 8)),
            "embed_features": kw.get("label_fmaps", None),
            "layer_features": kw.get("mapping_fmaps", None),
            "activation": kw.get("mapping_nonlinearity", "lrelu"),
            "lr_multiplier": float(kw.get("mapping_lrmul", 0.01)),
        },
        "synthesis_kwargs": {
            "channel_base": int(kw.get("fmap_base", 16384)) * 2,
            "channel_max": int(kw.get("fmap_max", 512)),
            "num_fp16_res": int(kw.get("num_fp16_res", 0)),
            "conv_clamp": kw.get("conv_clamp", None),
            "architecture": kw.get("architecture", "skip"),
        },
    }


def _generator_state(v: _Vars, kwargs: dict[str, Any]) -> dict[str, torch.Tensor]:
    resolution = kwargs["img_resolution"]
    architecture = kwargs["synthesis_kwargs"]["architecture"]
    num_layers = kwargs["mapping_kwargs"]["num_layers"]

    out: dict[str, torch.Tensor] = {"mapping.w_avg": _t(v("dlatent_avg"))}
    if kwargs["c_dim"] > 0:
        out["mapping.embed.weight"] = _dense(v("mapping/LabelEmbed/weight"))
        out["mapping.embed.bias"] = _t(v("mapping/LabelEmbed/bias"))
    for i in range(num_layers):
        out[f"mapping.fc{i}.weight"] = _dense(v(f"mapping/Dense{i}/weight"))
        out[f"mapping.fc{i}.bias"] = _t(v(f"mapping/Dense{i}/bias"))
    out["synthesis.b4.const"] = _t(v("synthesis/4x4/Const/const")[0])
    _modulated(v, out, "synthesis/4x4/Conv", "synthesis.b4.conv1", noise="synthesis/noise0")
    log2 = int(math.log2(resolution))
    for res in (2 ** i for i in range(2, log2 + 1)):
        block, scope = f"synthesis.b{res}", f"synthesis/{res}x{res}"
        if res > 4:
            k = int(math.log2(res))
            _modulated(v, out, f"{scope}/Conv0_up", f"{block}.conv0",
                       noise=f"synthesis/noise{2 * k - 5}", flip=True)
            _modulated(v, out, f"{scope}/Conv1", f"{block}.conv1", noise=f"synthesis/noise{2 * k - 4}")
            if architecture == "resnet":
                out[f"{block}.skip.weight"] = _conv(v(f"{scope}/Skip/weight"), flip=True)
        if architecture == "skip" or res == resolution:
            out[f"{block}.torgb.weight"] = _conv(v(f"{scope}/ToRGB/weight"))
            out[f"{block}.torgb.bias"] = _t(v(f"{scope}/ToRGB/bias"))
            out[f"{block}.torgb.affine.weight"] = _dense(v(f"{scope}/ToRGB/mod_weight"))
            out[f"{block}.torgb.affine.bias"] = _t(v(f"{scope}/ToRGB/mod_bias") + 1)
    return out


def _modulated(v: _Vars, out: dict[str, torch.Tensor], scope: str, dst: str, noise: str,
               flip: bool = False) -> None:
    out[f"{dst}.weight"] = _conv(v(f"{scope}/weight"), flip=flip)
    out[f"{dst}.bias"] = _t(v(f"{scope}/bias"))
    out[f"{dst}.noise_strength"] = _t(v(f"{scope}/noise_strength")).reshape(())
    out[f"{dst}.noise_const"] = _t(v(noise)[0, 0])
    out[f"{dst}.affine.weight"] = _dense(v(f"{scope}/mod_weight"))
    out[f"{dst}.affine.bias"] = _t(v(f"{scope}/mod_bias") + 1)


def tf_discriminator_to_nvidia(record: TFNetworkRecord) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """(StyleGAN2Discriminator kwargs, NVIDIA-named state) for a TF D network."""
    with _readable_settings():
        kw = _Kwargs(record, _IGNORED_D_KWARGS)
        kwargs = _discriminator_kwargs(kw)
    check_discriminator_settings(kwargs)
    resolution = kwargs["img_resolution"]
    _require(list(kw.get("resample_kernel", [1, 3, 3, 1])) == [1, 3, 3, 1], "resample_kernel")
    _require(kw.get("nonlinearity", "lrelu") == "lrelu", "nonlinearity")
    kw.check_unknown()
    return kwargs, _discriminator_state(record, kwargs, resolution)


def _discriminator_kwargs(kw: _Kwargs) -> dict[str, Any]:
    mapping_fmaps = kw.get("mapping_fmaps", None)
    return {
        "c_dim": int(kw.get("label_size", 0)), "img_resolution": int(kw.get("resolution", 1024)),
        "img_channels": int(kw.get("num_channels", 3)),
        "architecture": kw.get("architecture", "resnet"),
        "channel_base": int(kw.get("fmap_base", 16384)) * 2,
        "channel_max": int(kw.get("fmap_max", 512)),
        "num_fp16_res": int(kw.get("num_fp16_res", 0)),
        "conv_clamp": kw.get("conv_clamp", None),
        "cmap_dim": mapping_fmaps,
        "mapping_kwargs": {"num_layers": int(kw.get("mapping_layers", 0)),
                           "embed_features": mapping_fmaps, "layer_features": mapping_fmaps,
                           "lr_multiplier": float(kw.get("mapping_lrmul", 0.1))},
        "epilogue_kwargs": {"mbstd_group_size": kw.get("mbstd_group_size", 4),
                            "mbstd_num_channels": int(kw.get("mbstd_num_features", 1))},
    }


def _discriminator_state(record: TFNetworkRecord, kwargs: dict[str, Any], resolution: int
                         ) -> dict[str, torch.Tensor]:
    variables = _collect_variables(record)
    for name, value in list(variables.items()):
        lod = re.fullmatch(r"FromRGB_lod(\d+)/(.*)", name)
        if lod:
            r = resolution >> int(lod.group(1))
            variables[f"{r}x{r}/FromRGB/{lod.group(2)}"] = value
            kwargs["architecture"] = "orig"
    v = _Vars(variables, "discriminator")
    out: dict[str, torch.Tensor] = {}
    log2 = int(math.log2(resolution))
    for res in (2 ** i for i in range(log2, 2, -1)):
        scope, block = f"{res}x{res}", f"b{res}"
        if v.has(f"{scope}/FromRGB/weight"):
            out[f"{block}.fromrgb.weight"] = _conv(v(f"{scope}/FromRGB/weight"))
            out[f"{block}.fromrgb.bias"] = _t(v(f"{scope}/FromRGB/bias"))
        for i, name in enumerate(("Conv0", "Conv1_down")):
            out[f"{block}.conv{i}.weight"] = _conv(v(f"{scope}/{name}/weight"))
            out[f"{block}.conv{i}.bias"] = _t(v(f"{scope}/{name}/bias"))
        if v.has(f"{scope}/Skip/weight"):
            out[f"{block}.skip.weight"] = _conv(v(f"{scope}/Skip/weight"))
    if kwargs["c_dim"] > 0:
        out["mapping.embed.weight"] = _dense(v("LabelEmbed/weight"))
        out["mapping.embed.bias"] = _t(v("LabelEmbed/bias"))
        for i in range(kwargs["mapping_kwargs"]["num_layers"]):
            out[f"mapping.fc{i}.weight"] = _dense(v(f"Mapping{i}/weight"))
            out[f"mapping.fc{i}.bias"] = _t(v(f"Mapping{i}/bias"))
    out["b4.conv.weight"] = _conv(v("4x4/Conv/weight"))
    out["b4.conv.bias"] = _t(v("4x4/Conv/bias"))
    out["b4.fc.weight"] = _dense(v("4x4/Dense0/weight"))
    out["b4.fc.bias"] = _t(v("4x4/Dense0/bias"))
    out["b4.out.weight"] = _dense(v("Output/weight"))
    out["b4.out.bias"] = _t(v("Output/bias"))
    return out
