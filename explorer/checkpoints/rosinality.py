"""rosinality/stylegan2-pytorch checkpoints: a torch.save dict, renamed into NVIDIA's layout.

No settings are stored in these files, so every size is read off the tensor shapes, and the
weights are renamed/reshaped into a StyleGAN2 generator with NVIDIA's names (the two codes are
numerically the same network). Rosinality never clamps activations, so conv_clamp is None.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Mapping

import torch

from explorer.checkpoints.assemble import discriminator_from_state, generator_from_state
from explorer.checkpoints.torch_file import read_torch_file
from explorer.errors import CheckpointError
from explorer.model import Model

FORMAT = "rosinality .pt"
MAPPING_LR = 0.01  # rosinality's lr_mlp in every released model; not stored in the file
W_AVG_SAMPLES = 4096
W_AVG_SEED = 0


def read_rosinality(path: Path) -> Model:
    """Load a rosinality checkpoint (train.py or convert_weight.py output, or a bare g_ema dict)."""
    checkpoint = torch_load_weights_only(path)
    g_state = _generator_state(checkpoint, path)
    kwargs, state = generator_to_nvidia(g_state)
    extra: dict[str, Any] = {"source_repo": "rosinality/stylegan2-pytorch"}
    latent_avg = checkpoint.get("latent_avg") if "g_ema" in checkpoint else None
    if isinstance(latent_avg, torch.Tensor):
        state["mapping.w_avg"] = latent_avg.detach().reshape(-1).float()
    else:
        state["mapping.w_avg"] = torch.zeros(kwargs["w_dim"])
    generator = generator_from_state("stylegan2", kwargs, state, allow_derived_missing=True)
    if not isinstance(latent_avg, torch.Tensor):
        generator.mapping.w_avg.copy_(estimate_w_avg(generator))
        extra["w_avg"] = (f"estimated as the mean of {W_AVG_SAMPLES} mapped random z (seed "
                          f"{W_AVG_SEED}); the checkpoint has no latent_avg")
    if isinstance(checkpoint.get("args"), argparse.Namespace):
        extra["training_args"] = {k: v for k, v in vars(checkpoint["args"]).items()
                                  if isinstance(v, (str, int, float, bool, type(None)))}
    discriminator = None
    d = checkpoint.get("d") if "g_ema" in checkpoint else None
    if isinstance(d, Mapping) and d:
        try:
            d_kwargs, d_state = discriminator_to_nvidia(d, kwargs["img_resolution"])
            discriminator = discriminator_from_state(d_kwargs, d_state, allow_derived_missing=True)
        except CheckpointError as e:
            extra["discriminator_skipped"] = str(e)
    return Model(generator, discriminator, format=FORMAT, source=str(path), extra=extra)


def torch_load_weights_only(path: Path) -> dict[str, Any]:
    """The checkpoint dict, read with the restricted unpickler: tensors, plain containers and
    train.py's argparse.Namespace only, each storage checked against the file's memory budget."""
    obj = read_torch_file(path)
    if not isinstance(obj, dict):
        raise CheckpointError(f"{path.name} holds a {type(obj).__name__}, not a checkpoint dict")
    return obj


def _generator_state(checkpoint: dict[str, Any], path: Path) -> Mapping[str, torch.Tensor]:
    if isinstance(checkpoint.get("g_ema"), Mapping):
        return checkpoint["g_ema"]
    if "style.1.weight" in checkpoint and "input.input" in checkpoint:
        return checkpoint  # a bare g_ema state dict
    keys = ", ".join(map(str, list(checkpoint)[:8]))
    raise CheckpointError(f"{path.name} is a torch file but not a rosinality StyleGAN2 "
                          f"checkpoint (no g_ema; keys: {keys})")


class _Taker:
    """Hands out source tensors by name and remembers which were used, to catch unknown ones."""

    def __init__(self, state: Mapping[str, Any], what: str) -> None:
        self.state = {k: v for k, v in state.items() if isinstance(v, torch.Tensor)}
        self.used: set[str] = set()
        self.what = what

    def __call__(self, name: str) -> torch.Tensor:
        if name not in self.state:
            raise CheckpointError(f"the rosinality {self.what} has no tensor {name}")
        self.used.add(name)
        return self.state[name].detach().float()

    def has(self, name: str) -> bool:
        return name in self.state

    def check_all_used(self, derived_suffixes: tuple[str, ...]) -> None:
        left = sorted(k for k in self.state if k not in self.used and not k.endswith(derived_suffixes))
        if left:
            raise CheckpointError(f"unexpected tensors in the rosinality {self.what}: "
                                  f"{', '.join(left[:3])} (only the StyleGAN2 model.py "
                                  "architecture is supported, not swagan)")


def generator_to_nvidia(g_state: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """(StyleGAN2Generator kwargs, NVIDIA-named state) from a rosinality g_ema state dict."""
    take = _Taker(g_state, "generator")
    n_mlp = 0
    while take.has(f"style.{n_mlp + 1}.weight"):
        n_mlp += 1
    num_upsamples = 0
    while take.has(f"to_rgbs.{num_upsamples}.conv.weight"):
        num_upsamples += 1
    if n_mlp == 0:
        raise CheckpointError("the rosinality generator has no mapping layers (style.1.weight)")
    out: dict[str, torch.Tensor] = {}
    for i in range(n_mlp):
        out[f"mapping.fc{i}.weight"] = take(f"style.{i + 1}.weight")
        out[f"mapping.fc{i}.bias"] = take(f"style.{i + 1}.bias")
    const = take("input.input")
    out["synthesis.b4.const"] = const[0]
    channels = {4: int(const.shape[1])}
    _styled_conv(take, out, "conv1", "synthesis.b4.conv1", "noises.noise_0")
    _to_rgb(take, out, "to_rgb1", "synthesis.b4.torgb")
    for j in range(num_upsamples):
        res = 2 ** (j + 3)
        block = f"synthesis.b{res}"
        _styled_conv(take, out, f"convs.{2 * j}", f"{block}.conv0", f"noises.noise_{2 * j + 1}")
        _styled_conv(take, out, f"convs.{2 * j + 1}", f"{block}.conv1", f"noises.noise_{2 * j + 2}")
        _to_rgb(take, out, f"to_rgbs.{j}", f"{block}.torgb")
        channels[res] = int(out[f"{block}.conv1.weight"].shape[0])
    take.check_all_used(derived_suffixes=(".kernel",))
    style_weight = out["mapping.fc0.weight"]
    kwargs = {
        "z_dim": int(style_weight.shape[1]), "c_dim": 0, "w_dim": int(out[f"mapping.fc{n_mlp - 1}.weight"].shape[0]),
        "img_resolution": 2 ** (num_upsamples + 2),
        "img_channels": int(out["synthesis.b4.torgb.weight"].shape[0]),
        "mapping_kwargs": {"num_layers": n_mlp, "lr_multiplier": MAPPING_LR},
        "channels": {str(r): c for r, c in channels.items()},
        "conv_clamp": None, "num_fp16_res": 0, "architecture": "skip",
    }
    return kwargs, out


def _styled_conv(take: _Taker, out: dict[str, torch.Tensor], src: str, dst: str, noise: str) -> None:
    """StyledConv -> SynthesisLayer: drop the batch axis, rename modulation/noise/activation."""
    out[f"{dst}.weight"] = take(f"{src}.conv.weight")[0]
    out[f"{dst}.affine.weight"] = take(f"{src}.conv.modulation.weight")
    out[f"{dst}.affine.bias"] = take(f"{src}.conv.modulation.bias")
    out[f"{dst}.noise_strength"] = take(f"{src}.noise.weight").reshape(())
    out[f"{dst}.bias"] = take(f"{src}.activate.bias")
    out[f"{dst}.noise_const"] = take(noise)[0, 0]


def _to_rgb(take: _Taker, out: dict[str, torch.Tensor], src: str, dst: str) -> None:
    out[f"{dst}.weight"] = take(f"{src}.conv.weight")[0]
    out[f"{dst}.affine.weight"] = take(f"{src}.conv.modulation.weight")
    out[f"{dst}.affine.bias"] = take(f"{src}.conv.modulation.bias")
    out[f"{dst}.bias"] = take(f"{src}.bias").reshape(-1)


@torch.no_grad()
def estimate_w_avg(generator: torch.nn.Module) -> torch.Tensor:
    """Mean mapped w over a fixed set of random z, as rosinality's mean_latent does."""
    z = torch.randn(W_AVG_SAMPLES, generator.z_dim, generator=torch.Generator().manual_seed(W_AVG_SEED))
    return generator.mapping(z, None)[:, 0].mean(dim=0)


def discriminator_to_nvidia(d_state: Mapping[str, Any], img_resolution: int
                            ) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """(StyleGAN2Discriminator kwargs, NVIDIA-named state) from a rosinality `d` state dict.

    Rosinality's discriminator is NVIDIA's resnet discriminator with other names: convs.0 is
    fromrgb, convs.k (k >= 1) the block at img_resolution / 2^(k-1), final_* the epilogue.
    """
    take = _Taker(d_state, "discriminator")
    out: dict[str, torch.Tensor] = {}
    top = f"b{img_resolution}"
    out[f"{top}.fromrgb.weight"] = take("convs.0.0.weight")
    out[f"{top}.fromrgb.bias"] = take("convs.0.1.bias")
    channels = {}
    res, k = img_resolution, 1
    while res > 4:
        src, dst = f"convs.{k}", f"b{res}"
        out[f"{dst}.conv0.weight"] = take(f"{src}.conv1.0.weight")
        out[f"{dst}.conv0.bias"] = take(f"{src}.conv1.1.bias")
        out[f"{dst}.conv1.weight"] = take(f"{src}.conv2.1.weight")
        out[f"{dst}.conv1.bias"] = take(f"{src}.conv2.2.bias")
        out[f"{dst}.skip.weight"] = take(f"{src}.skip.1.weight")
        channels[res] = int(out[f"{dst}.conv0.weight"].shape[0])
        res, k = res // 2, k + 1
    out["b4.conv.weight"] = take("final_conv.0.weight")
    out["b4.conv.bias"] = take("final_conv.1.bias")
    out["b4.fc.weight"] = take("final_linear.0.weight")
    out["b4.fc.bias"] = take("final_linear.0.bias")
    out["b4.out.weight"] = take("final_linear.1.weight")
    out["b4.out.bias"] = take("final_linear.1.bias")
    take.check_all_used(derived_suffixes=(".kernel",))
    channels[4] = int(out["b4.conv.weight"].shape[0])
    base_max = channel_base_and_max(channels)
    if base_max is None:
        raise CheckpointError("the rosinality discriminator's channel counts "
                              f"{dict(sorted(channels.items()))} do not follow a channel_base "
                              "/ channel_max rule, so it cannot be rebuilt")
    kwargs = {
        "c_dim": 0, "img_resolution": img_resolution,
        "img_channels": int(out[f"{top}.fromrgb.weight"].shape[1]), "architecture": "resnet",
        "channel_base": base_max[0], "channel_max": base_max[1],
        "conv_clamp": None, "num_fp16_res": 0,
        "epilogue_kwargs": {"mbstd_group_size": 4, "mbstd_num_channels": 1},
    }
    return kwargs, out


def channel_base_and_max(channels: Mapping[int, int]) -> tuple[int, int] | None:
    """The smallest (channel_base, channel_max) with min(base // r, max) == channels[r], if any."""
    top = max(channels.values())
    low, high = 1, None
    for res, ch in channels.items():
        if ch == top:
            low = max(low, top * res)  # base // res must reach the cap
        else:
            low = max(low, ch * res)
            high = ch * res + res - 1 if high is None else min(high, ch * res + res - 1)
    if high is not None and low > high:
        return None
    return low, top
