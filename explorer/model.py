"""`Model`: a loaded generator (and optional discriminator) with the API every front end shares."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import torch

from explorer import model_inputs as checks
from explorer.errors import InputError
from explorer.nets.resume import SynthesisResume


@dataclass(frozen=True)
class ModelInfo:
    """What a user (or the `info` command) wants to know about a checkpoint."""

    format: str
    architecture: str
    resolution: int
    z_dim: int
    w_dim: int
    c_dim: int
    num_ws: int
    img_channels: int
    layer_names: dict[int, list[str]]
    ws_resolutions: list[int]
    num_parameters: int
    has_discriminator: bool
    content_hash: str
    source: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def state_dict_hash(module: torch.nn.Module) -> str:
    """A hash of the weights alone: the same model gives the same hash in any file format."""
    h = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def sg3_input_transform(translate: Sequence[float], rotate_deg: float) -> torch.Tensor:
    """The matrix StyleGAN3's input layer needs for a user translation/rotation.

    The user's move is m = [[cos a, sin a, tx], [-sin a, cos a, ty], [0, 0, 1]]; the input layer
    samples its Fourier features through the inverse of m.
    """
    a = math.radians(rotate_deg)
    m = np.array([[math.cos(a), math.sin(a), translate[0]],
                  [-math.sin(a), math.cos(a), translate[1]],
                  [0.0, 0.0, 1.0]])
    return torch.from_numpy(np.linalg.inv(m)).float()


class Model:
    """A generator ready to map and synthesise; built by `explorer.load`, never by hand."""

    def __init__(self, generator: torch.nn.Module, discriminator: torch.nn.Module | None,
                 format: str, source: str = "", extra: dict[str, Any] | None = None) -> None:
        self.generator = generator.eval().requires_grad_(False)
        self.discriminator = None if discriminator is None else discriminator.eval().requires_grad_(False)
        g = self.generator
        by_res: dict[int, list[str]] = {}
        for name, res in g.synthesis.layer_resolutions().items():
            by_res.setdefault(int(res), []).append(name)
        params = sum(p.numel() for p in g.parameters())
        self.info = ModelInfo(
            format=format, architecture=g.architecture, resolution=int(g.img_resolution),
            z_dim=int(g.z_dim), w_dim=int(g.w_dim), c_dim=int(g.c_dim), num_ws=int(g.num_ws),
            img_channels=int(g.img_channels), layer_names=by_res,
            ws_resolutions=[int(r) for r in g.synthesis.ws_resolutions()],
            num_parameters=int(params), has_discriminator=discriminator is not None,
            content_hash=state_dict_hash(g), source=source, extra=dict(extra or {}))

    # Shortcuts for the fields everyone asks for.
    def __getattr__(self, name: str) -> Any:
        if name in ("z_dim", "w_dim", "c_dim", "num_ws", "resolution", "img_channels",
                    "architecture", "layer_names", "has_discriminator", "format"):
            return getattr(self.info, name)
        raise AttributeError(name)

    @property
    def device(self) -> torch.device:
        return self.generator.mapping.w_avg.device

    @property
    def w_avg(self) -> torch.Tensor:
        return self.generator.mapping.w_avg

    def to(self, device: torch.device | str) -> "Model":
        from explorer.devices import resolve_device
        device = resolve_device(device)
        self.generator.to(device)
        if self.discriminator is not None:
            self.discriminator.to(device)
        return self

    def z_from_seed(self, seed: int) -> torch.Tensor:
        """z for a seed exactly as NVIDIA's gen_images.py draws it (numpy RandomState)."""
        z = np.random.RandomState(checks.seed(seed)).randn(1, self.z_dim)
        return torch.from_numpy(z).float().to(self.device)

    def class_vector(self, class_idx: int | None, batch: int = 1) -> torch.Tensor | None:
        """One-hot labels for a conditional model; None for an unconditional one (given no class)."""
        batch = checks.whole_number(batch, "batch", 1)
        if self.c_dim == 0:
            if class_idx is not None:
                raise InputError(f"this model is unconditional: it takes no class (got {class_idx!r})")
            return None
        if class_idx is None:
            raise InputError(f"this model is conditional: pass a class from 0 to {self.c_dim - 1}")
        class_idx = checks.whole_number(class_idx, "class", 0, self.c_dim - 1)
        c = torch.zeros(batch, self.c_dim, device=self.device)
        c[:, class_idx] = 1
        return c

    @torch.no_grad()
    def map(self, z: torch.Tensor, c: torch.Tensor | None = None, psi: float = 1.0,
            cutoff: int | None = None) -> torch.Tensor:
        """z [N, z_dim] -> ws [N, num_ws, w_dim], truncated towards w_avg by psi over ws[:, :cutoff]."""
        z = checks.latent(z, "z", (None, self.z_dim)).to(self.device, torch.float32)
        psi = checks.finite_number(psi, "psi")
        cutoff = checks.cutoff(cutoff, self.num_ws)
        if c is None and self.c_dim > 0:
            raise InputError(f"this model is conditional: give labels c of shape [N, {self.c_dim}]")
        if c is not None:
            if self.c_dim == 0:
                raise InputError("this model is unconditional: c must be None")
            c = checks.latent(c, "c", (z.shape[0], self.c_dim), integers_ok=True)
            c = c.to(self.device, torch.float32)
        return self.generator.mapping(z, c, truncation_psi=psi, truncation_cutoff=cutoff)

    @torch.no_grad()
    def synthesize(self, ws: torch.Tensor, noise_mode: str = "const", noise_seed: int | None = None,
                   translate: Sequence[float] = (0.0, 0.0), rotate: float = 0.0,
                   noise_gain_by_res: dict[int, float] | None = None,
                   capture: dict[str, torch.Tensor] | None = None,
                   force_fp32: bool = True, resume: SynthesisResume | None = None,
                   stop_resolution: int | None = None) -> torch.Tensor:
        """ws [N, num_ws, w_dim] -> float32 images [N, C, H, W] in the native range (not clamped).

        translate/rotate move StyleGAN3's input grid (as gen_images.py does); StyleGAN2 ignores
        them. `capture`, when given, is filled with intermediate layer outputs by name. `resume`
        restarts from the first block this call changes (incremental frames); `stop_resolution`
        returns a StyleGAN2 skip model's image after that block (a preview).
        """
        noise_mode = checks.noise_mode(noise_mode)
        ws = checks.latent(ws, "ws", (None, self.num_ws, self.w_dim))
        translate = checks.pair(translate, "translate")
        rotate = checks.finite_number(rotate, "rotate")
        noise_seed = None if noise_seed is None else checks.whole_number(noise_seed, "noise_seed", 0, 2**63 - 1)
        noise_gain_by_res = checks.noise_gains(noise_gain_by_res)
        transform = None
        if self.architecture == "stylegan3" and (translate != (0, 0) or rotate != 0):
            transform = sg3_input_transform(translate, rotate).to(self.device)
        extra: dict[str, Any] = {}
        if resume is not None:
            extra["resume"] = resume
        if stop_resolution is not None:
            extra["stop_resolution"] = stop_resolution
        img = self.generator.synthesis(
            ws.to(self.device, torch.float32), noise_mode=noise_mode, noise_seed=noise_seed,
            noise_gain_by_res=noise_gain_by_res, capture=capture, transform=transform,
            force_fp32=force_fp32, **extra)
        return img.float()


def quantised(img: torch.Tensor) -> torch.Tensor:
    """Native-range images -> 0..255 as float, on their device; `.to(torch.uint8)` (or a copy into
    a uint8 tensor) truncates them the way NVIDIA's scripts quantise."""
    return img.detach().float().mul(127.5).add_(128).clamp_(0, 255)


def to_uint8(img: torch.Tensor) -> np.ndarray:
    """Native-range images [N, C, H, W] -> uint8 [N, H, W, C], as NVIDIA's scripts quantise."""
    return quantised(img).to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
