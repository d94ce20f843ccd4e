"""Do a checkpoint's settings describe the network its tensors are? Checked before building it.

Building first and comparing afterwards would allocate whatever the settings ask for
(`channel_max` 6000 means gigabytes of weights) before noticing the file holds a tiny network.
So the shapes of the weights that make up nearly all of a network (mapping layers, every
convolution, the constant input) are derived from the settings here, without building
anything, and compared with the file's tensors. Once they agree, the network to be built is the
size of the file's tensors; the complete name-by-name check follows after the build.
"""

from __future__ import annotations

from typing import Any, Mapping

import torch

from explorer.errors import CheckpointError

Shapes = dict[str, tuple[int, ...]]
_SG3_SCHEDULE_KEYS = ("channel_base", "channel_max", "num_layers", "num_critical", "first_cutoff",
                      "first_stopband", "last_stopband_rel", "margin_size", "num_fp16_res",
                      "conv_kernel", "filter_size", "lrelu_upsampling", "use_radial_filters")


def _mapping_shapes(prefix: str, in_features: int, c_dim: int, out_features: int,
                    mapping: Mapping[str, Any], default_layers: int) -> Shapes:
    """fc{i} (and embed) weights of a mapping network, as `layers.MappingNetwork` builds them."""
    layers = mapping.get("num_layers", default_layers)
    width = mapping.get("layer_features") or out_features
    embed = (mapping.get("embed_features") or out_features) if c_dim else 0
    features = [in_features + embed] + [width] * (layers - 1) + [out_features]
    shapes = {f"{prefix}fc{i}.weight": (features[i + 1], features[i]) for i in range(layers)}
    if c_dim:
        shapes[f"{prefix}embed.weight"] = (embed, c_dim)
    return shapes


def _sg2_synthesis_shapes(kwargs: Mapping[str, Any]) -> Shapes:
    from explorer.nets.stylegan2 import _channel_table
    keys = ("channel_base", "channel_max", "channels")
    nested = kwargs.get("synthesis_kwargs") or {}  # stylegan2-ada's layout; wins, as in the constructor
    synth = {k: nested[k] if k in nested else kwargs.get(k) for k in keys}
    resolution = kwargs["img_resolution"]
    resolutions = [2 ** i for i in range(2, resolution.bit_length())]
    table = _channel_table(resolutions, synth["channel_base"] or 32768, synth["channel_max"] or 512,
                           synth["channels"])
    shapes: Shapes = {"synthesis.b4.const": (table[4], 4, 4),
                      "synthesis.b4.conv1.weight": (table[4], table[4], 3, 3)}
    for r in resolutions[1:]:
        shapes[f"synthesis.b{r}.conv0.weight"] = (table[r], table[r // 2], 3, 3)
        shapes[f"synthesis.b{r}.conv1.weight"] = (table[r], table[r], 3, 3)
    return shapes


def _sg3_synthesis_shapes(kwargs: Mapping[str, Any]) -> Shapes:
    from explorer.nets.stylegan3 import synthesis_schedule
    inp, layers = synthesis_schedule(kwargs["img_resolution"], kwargs.get("img_channels", 3),
                                     **{k: kwargs[k] for k in _SG3_SCHEDULE_KEYS if k in kwargs})
    shapes: Shapes = {"synthesis.input.weight": (inp.channels, inp.channels)}
    for spec in layers:
        shapes[f"synthesis.{spec.name}.weight"] = (spec.out_channels, spec.in_channels,
                                                   spec.conv_kernel, spec.conv_kernel)
    return shapes


def generator_shapes(architecture: str, kwargs: Mapping[str, Any]) -> Shapes:
    """The principal weight shapes a generator with these (bounds-checked) settings would have."""
    mapping = kwargs.get("mapping_kwargs") or {}
    shapes = _mapping_shapes("mapping.", kwargs["z_dim"], kwargs["c_dim"], kwargs["w_dim"], mapping,
                             default_layers=2 if architecture == "stylegan3" else 8)
    shapes["mapping.w_avg"] = (kwargs["w_dim"],)
    synthesis = _sg3_synthesis_shapes if architecture == "stylegan3" else _sg2_synthesis_shapes
    shapes.update(synthesis(kwargs))
    return shapes


def discriminator_shapes(kwargs: Mapping[str, Any]) -> Shapes:
    """The principal weight shapes a StyleGAN2 discriminator with these settings would have."""
    resolution = kwargs["img_resolution"]
    base, top = kwargs.get("channel_base", 32768), kwargs.get("channel_max", 512)
    channels = {r: min(base // r, top) for r in (2 ** i for i in range(2, resolution.bit_length()))}
    shapes: Shapes = {}
    for r in (r for r in channels if r > 4):
        shapes[f"b{r}.conv0.weight"] = (channels[r], channels[r], 3, 3)
        shapes[f"b{r}.conv1.weight"] = (channels[r // 2], channels[r], 3, 3)
    mbstd = (kwargs.get("epilogue_kwargs") or {}).get("mbstd_num_channels", 1)
    shapes["b4.conv.weight"] = (channels[4], channels[4] + mbstd, 3, 3)
    shapes["b4.fc.weight"] = (channels[4], channels[4] * 16)
    c_dim = kwargs["c_dim"]
    if c_dim:
        cmap = kwargs.get("cmap_dim") or channels[4]
        mapping = {"embed_features": cmap, **(kwargs.get("mapping_kwargs") or {})}
        shapes.update(_mapping_shapes("mapping.", 0, c_dim, cmap, mapping, 8))
    return shapes


def check_fits(expected: Shapes, state: Mapping[str, torch.Tensor], what: str) -> None:
    """Each derived shape must be a tensor of that shape in the file."""
    for name, shape in expected.items():
        tensor = state.get(name)
        if tensor is None:
            raise CheckpointError(f"the {what} settings imply a tensor {name} {list(shape)}, which the "
                                  "file does not have; its settings and weights do not match")
        if tuple(tensor.shape) != shape:
            raise CheckpointError(f"the {what} tensor {name} has shape {list(tensor.shape)} but its "
                                  f"settings imply {list(shape)}")
