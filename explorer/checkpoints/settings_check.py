"""Bounds on the network settings a checkpoint declares, checked before anything is built.

Settings come from the file (pickle kwargs, safetensors metadata, TF static kwargs, or shapes
for rosinality), and our constructors trust them: `num_layers` 1e7 builds ten million modules,
a resolution that is not a power of two breaks the layer schedule. Each setting is checked
wherever it appears in the (nested) kwargs, by name, against a range that every released
StyleGAN2/3 network is well inside. Whether the settings also fit the file's tensors is checked
next, in `assemble`, on a network built on the meta device (no memory).
"""

from __future__ import annotations

import math
from typing import Any, Callable

from cuda_ops.bias_act import ACTIVATIONS
from explorer.cli_values import range_text
from explorer.errors import CheckpointError

MAX_RESOLUTION = 8192
MAX_CHANNELS = 16384
MAX_SETTINGS = 200
MAX_NESTING = 4
_ARCHITECTURES = ("orig", "skip", "resnet")


def _int_in(low: int, high: int, optional: bool = False) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        if value is None and optional:
            return None
        if type(value) is not int or not low <= value <= high:
            return f"must be a whole number {range_text(low, high)}"
        return None
    return check


def _float_in(low: float, high: float, optional: bool = False, open_low: bool = False
              ) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        if value is None and optional:
            return None
        ok = (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
              and (value > low if open_low else value >= low) and value <= high)
        return None if ok else f"must be a finite number {range_text(low, high, open_low)}"
    return check


def _one_of(*choices: Any) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        return None if isinstance(value, (str, bool)) and value in choices else \
            f"must be one of {', '.join(map(str, choices))}"
    return check


def _resolution(value: Any) -> str | None:
    if type(value) is not int or not 4 <= value <= MAX_RESOLUTION or value & (value - 1):
        return f"must be a power of two from 4 to {MAX_RESOLUTION}"
    return None


def _filter(value: Any) -> str | None:
    number = _float_in(-1e6, 1e6)
    if not isinstance(value, (list, tuple)) or not 1 <= len(value) <= 16 or any(number(v) for v in value):
        return "must be a list of at most 16 finite numbers"
    return None


def _channel_table(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, dict) or len(value) > 16:
        return "must be a table of at most 16 resolutions"
    for res, count in value.items():
        try:
            res = int(res)
        except (TypeError, ValueError):
            return f"has a resolution {str(res)[:12]!r} that is not a number"
        if _resolution(res) or _int_in(1, MAX_CHANNELS)(count):
            return f"must map powers of two to 1..{MAX_CHANNELS} channels"
    return None


# Setting name -> check, wherever the name appears in the kwargs (top level or nested).
RULES: dict[str, Callable[[Any], str | None]] = {
    "z_dim": _int_in(0, 4096), "w_dim": _int_in(1, 4096), "c_dim": _int_in(0, 100_000),
    "img_resolution": _resolution, "img_channels": _int_in(1, 16),
    "channel_base": _int_in(1, 2**24), "channel_max": _int_in(1, MAX_CHANNELS),
    "num_layers": _int_in(0, 64), "num_fp16_res": _int_in(0, 32),
    "conv_clamp": _float_in(0, 1e6, optional=True, open_low=True),
    "architecture": _one_of(*_ARCHITECTURES), "activation": _one_of(*ACTIVATIONS),
    "lr_multiplier": _float_in(0, 1e3, open_low=True),
    "embed_features": _int_in(1, MAX_CHANNELS, optional=True),
    "layer_features": _int_in(1, MAX_CHANNELS, optional=True),
    "cmap_dim": _int_in(1, MAX_CHANNELS, optional=True),
    "w_avg_beta": _float_in(0, 1, optional=True), "magnitude_ema_beta": _float_in(0, 1),
    "mbstd_group_size": _int_in(1, 1024, optional=True), "mbstd_num_channels": _int_in(0, 64),
    "num_critical": _int_in(0, 63), "margin_size": _int_in(0, 1024), "filter_size": _int_in(1, 64),
    "conv_kernel": _int_in(1, 15), "lrelu_upsampling": _int_in(1, 16),
    "use_radial_filters": _one_of(True, False), "output_scale": _float_in(-1e6, 1e6),
    "first_cutoff": _float_in(0, 1e4, open_low=True), "first_stopband": _float_in(0, 1e4, open_low=True),
    "last_stopband_rel": _float_in(0, 1e4, open_low=True), "freeze_layers": _int_in(0, 1000),
    "resample_filter": _filter, "channels": _channel_table,
}
_REQUIRED_GENERATOR = ("z_dim", "c_dim", "w_dim", "img_resolution")


def _bad(what: str, path: str, value: Any, reason: str) -> CheckpointError:
    shown = repr(value) if not isinstance(value, (dict, list, tuple)) else type(value).__name__
    return CheckpointError(f"the checkpoint's {what} setting {path}={shown[:40]} is not usable: "
                           f"it {reason}")


def _walk(kwargs: Any, what: str, path: str = "", depth: int = 0, seen: list[int] | None = None) -> None:
    seen = [0] if seen is None else seen
    if not isinstance(kwargs, dict) or depth > MAX_NESTING:
        raise CheckpointError(f"the checkpoint's {what} settings are not a small table of values")
    for key, value in kwargs.items():
        seen[0] += 1
        if not isinstance(key, str) or seen[0] > MAX_SETTINGS:
            raise CheckpointError(f"the checkpoint's {what} settings are not a small table of values")
        name = f"{path}{key}"
        rule = RULES.get(key)
        if rule is not None:
            reason = rule(value)
            if reason:
                raise _bad(what, name, value, reason)
        elif isinstance(value, dict):
            _walk(value, what, f"{name}.", depth + 1, seen)


def check_generator_settings(architecture: Any, kwargs: Any) -> None:
    """Refuse generator settings out of range, before anything is built from them."""
    if architecture not in ("stylegan2", "stylegan3"):
        raise CheckpointError(f"unknown generator architecture {str(architecture)[:40]!r} in the checkpoint")
    _walk(kwargs, "generator")
    for name in _REQUIRED_GENERATOR:
        if name not in kwargs:
            raise CheckpointError(f"the checkpoint's generator settings lack {name}")
    if architecture == "stylegan3":
        layers, critical = kwargs.get("num_layers", 14), kwargs.get("num_critical", 2)
        if layers < 1 or critical >= layers:
            raise CheckpointError(f"the checkpoint's StyleGAN3 settings num_layers={layers}, "
                                  f"num_critical={critical} are not usable (need 0 <= num_critical "
                                  "< num_layers)")


def check_discriminator_settings(kwargs: Any) -> None:
    """Refuse discriminator settings out of range, before anything is built from them."""
    _walk(kwargs, "discriminator")
    if "img_resolution" not in kwargs or "c_dim" not in kwargs:
        raise CheckpointError("the checkpoint's discriminator settings lack img_resolution or c_dim")
