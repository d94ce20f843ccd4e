"""Building blocks shared by StyleGAN2 and StyleGAN3: equalised-lr linear layer and the mapping net.

Weights are stored unscaled and multiplied by their He gain at run time ("equalised learning
rate"), so checkpoints from the original code load as they are.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from cuda_ops import bias_act
from cuda_ops.bias_act import ACTIVATIONS
from cuda_ops.dispatch import cpu_inference


def normalize_2nd_moment(x: torch.Tensor, dim: int = 1, eps: float = 1e-8) -> torch.Tensor:
    """Scale each vector to unit root-mean-square (StyleGAN's "pixel norm" on z and embeddings)."""
    mean_square = x.square().mean(dim=dim, keepdim=True)
    return x * torch.rsqrt(mean_square + eps)


class FullyConnectedLayer(nn.Module):
    """y = act(x @ (W * lr / sqrt(in)).T + b * lr)."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 activation: str = "linear", lr_multiplier: float = 1.0, bias_init: float = 0.0,
                 weight_init: float = 1.0) -> None:
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.activation = activation
        # Stored values are divided by the gains they get back in `forward`, so with a small
        # lr_multiplier (the mapping net's 0.01) the optimiser's steps are small in effect.
        self.weight_gain = lr_multiplier / math.sqrt(in_features)
        self.bias_gain = lr_multiplier
        init_std = weight_init / lr_multiplier
        self.weight = nn.Parameter(torch.randn([out_features, in_features]) * init_std)
        self.bias = nn.Parameter(torch.full([out_features], float(bias_init))) if bias else None

    def effective_bias(self, dtype: torch.dtype) -> torch.Tensor | None:
        """The bias as it acts on the output: the stored value times its gain."""
        if self.bias is None:
            return None
        bias = self.bias.to(dtype)
        return bias if self.bias_gain == 1 else bias * self.bias_gain

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.activation in ("relu", "lrelu") and cpu_inference(x) and self.weight.dtype == x.dtype:
            weight_t, bias = self._folded()
            return F.leaky_relu_(torch.addmm(bias, x, weight_t), ACTIVATIONS[self.activation].default_alpha)
        # The weight gain scales the [n, out] product, not the [out, in] weight: the same algebra,
        # and at batch 1 a weight-sized multiply costs more than the matmul itself.
        weight, bias = self.weight.to(x.dtype), self.effective_bias(x.dtype)
        if self.activation == "linear" and bias is not None:  # one GEMM call adds the bias too
            return torch.addmm(bias.unsqueeze(0), x, weight.t(), alpha=self.weight_gain)
        return bias_act(x.matmul(weight.t()) * self.weight_gain, bias, act=self.activation)

    def _folded(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(W^T, b) with the weight, bias and activation gains in them, kept until the stored
        values change (in place or replaced): (leaky) ReLU(x) * g = (leaky) ReLU(g x) for g > 0,
        so a layer is one addmm and one in-place activation (the mapping net on CPU at batch 1:
        0.71 -> 0.33 ms on 2 threads, bench/generator.py's sg2-64 weights)."""
        key = tuple((t.data_ptr(), t._version) for t in (self.weight, self.bias) if t is not None)
        cached = self.__dict__.get("_folded_cache")
        if cached is None or cached[0] != key:
            gain = ACTIVATIONS[self.activation].default_gain
            weight_t = (self.weight.detach() * (self.weight_gain * gain)).t().contiguous()
            bias = (self.bias.detach() * (self.bias_gain * gain) if self.bias is not None
                    else weight_t.new_zeros(self.out_features))
            # The sources stay referenced, so no new tensor can reuse their addresses.
            sources = (self.weight.detach(), None if self.bias is None else self.bias.detach())
            cached = self.__dict__["_folded_cache"] = (key, weight_t, bias.unsqueeze(0), sources)
        return cached[1], cached[2]

    def extra_repr(self) -> str:
        return f"in={self.in_features}, out={self.out_features}, act={self.activation}"


def add_fc_layers(owner: nn.Module, widths: Sequence[int], activation: str, lr_multiplier: float) -> int:
    """Give `owner` the layers fc0, fc1, ... where fc{i} maps widths[i] to widths[i + 1]; the
    names are the ones checkpoints use. Returns how many layers were added."""
    for index, (n_in, n_out) in enumerate(zip(widths[:-1], widths[1:])):
        owner.add_module(f"fc{index}", FullyConnectedLayer(n_in, n_out, activation=activation,
                                                          lr_multiplier=lr_multiplier))
    return len(widths) - 1


def run_fc_layers(owner: nn.Module, x: torch.Tensor, count: int) -> torch.Tensor:
    """x through fc0 .. fc{count-1} of `owner`, in order."""
    for index in range(count):
        x = owner.get_submodule(f"fc{index}")(x)
    return x


class MappingNetwork(nn.Module):
    """z (+ class embedding) -> w, broadcast to num_ws rows, optionally truncated towards w_avg.

    `w_avg` tracks the mean of w during training; truncation in W interpolates towards it.
    """

    def __init__(self, z_dim: int, c_dim: int, w_dim: int, num_ws: int, num_layers: int = 8,
                 embed_features: int | None = None, layer_features: int | None = None,
                 activation: str = "lrelu", lr_multiplier: float = 0.01,
                 w_avg_beta: float | None = 0.995) -> None:
        super().__init__()
        self.z_dim, self.c_dim, self.w_dim, self.num_ws = z_dim, c_dim, w_dim, num_ws
        self.w_avg_beta = w_avg_beta
        # A label, when the model takes one, is embedded and joins the normalised z as input.
        label_width = (w_dim if embed_features is None else embed_features) if c_dim > 0 else 0
        if c_dim > 0:
            self.embed = FullyConnectedLayer(c_dim, label_width)
        hidden = w_dim if layer_features is None else layer_features
        widths = [z_dim + label_width, *[hidden] * (num_layers - 1), w_dim][:num_layers + 1]
        self.num_layers = add_fc_layers(self, widths, activation, lr_multiplier)
        self.register_buffer("w_avg", torch.zeros([w_dim]))

    def _inputs(self, z: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:
        """The first layer's input: normalised z, then the normalised label embedding."""
        if z.ndim != 2 or z.shape[1] != self.z_dim:
            raise ValueError(f"z must have shape [N, {self.z_dim}], got {list(z.shape)}")
        pieces = [normalize_2nd_moment(z.to(torch.float32))] if self.z_dim > 0 else []
        if self.c_dim > 0:
            if c is None:
                raise ValueError(f"conditional mapping needs c of shape [N, {self.c_dim}]")
            if c.ndim != 2 or tuple(c.shape) != (z.shape[0], self.c_dim):
                raise ValueError(f"c must have shape [{z.shape[0]}, {self.c_dim}], got {list(c.shape)}")
            pieces.append(normalize_2nd_moment(self.embed(c.to(torch.float32))))
        return torch.cat(pieces, dim=1) if len(pieces) > 1 else pieces[0]

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None, truncation_psi: float = 1.0,
                truncation_cutoff: int | None = None, update_w_avg: bool = False) -> torch.Tensor:
        w = run_fc_layers(self, self._inputs(z, c), self.num_layers)
        if update_w_avg and self.w_avg_beta is not None:  # exponential moving average of the batch mean
            batch_mean = w.detach().float().mean(dim=0)
            self.w_avg.copy_(batch_mean.lerp(self.w_avg, self.w_avg_beta))
        ws = w.unsqueeze(1).expand(-1, self.num_ws, -1)
        if truncation_psi == 1:
            return ws.contiguous()
        # Truncation moves rows [0, cutoff) (all rows without a cutoff) towards the average w.
        truncated = self.w_avg.lerp(ws, truncation_psi)
        if truncation_cutoff is None:
            return truncated
        rows = torch.arange(self.num_ws, device=ws.device) < truncation_cutoff
        return torch.where(rows[None, :, None], truncated, ws)
