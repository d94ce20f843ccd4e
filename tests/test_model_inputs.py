"""The Model API refuses mis-shaped, mistyped and non-finite inputs with one-line ValueErrors,
for StyleGAN2 and StyleGAN3 alike, instead of rendering black images or feature maps."""

from __future__ import annotations

import math

import pytest
import torch

import explorer
from explorer.errors import ExplorerError, InputError
from explorer.latent.compose import apply_edits, apply_truncation
from explorer.latent.state import DirectionEdit
from explorer.model import Model
from explorer.nets import build_generator

NAN, INF = float("nan"), float("inf")


def _model(architecture: str, c_dim: int = 0) -> Model:
    torch.manual_seed(0)
    kwargs = dict(z_dim=8, c_dim=c_dim, w_dim=8, img_resolution=16, img_channels=3, channel_base=64,
                  channel_max=8, mapping_kwargs=dict(num_layers=1))
    if architecture == "stylegan3":
        kwargs.update(num_layers=4, num_critical=1)
    return Model(build_generator(architecture, kwargs), None, format="test")


@pytest.fixture(scope="module", params=["stylegan2", "stylegan3"])
def model(request, one_torch_thread) -> Model:
    return _model(request.param)


def _ws(model: Model, rows: int | None = None, value: float = 0.0) -> torch.Tensor:
    return torch.full((1, model.num_ws if rows is None else rows, model.w_dim), value)


CASES = {
    "z of the wrong width": (lambda m: m.map(torch.zeros(1, 3)), "z must have shape [N, 8]"),
    "z without a batch axis": (lambda m: m.map(torch.zeros(8)), "z must have shape [N, 8]"),
    "z as a list": (lambda m: m.map([[0.0] * 8]), "z must be a torch.Tensor"),
    "integer z": (lambda m: m.map(torch.zeros(1, 8, dtype=torch.int64)), "floating-point"),
    "NaN z": (lambda m: m.map(torch.full((1, 8), NAN)), "NaN or infinite"),
    "NaN psi": (lambda m: m.map(torch.zeros(1, 8), psi=NAN), "psi must be a finite number"),
    "infinite psi": (lambda m: m.map(torch.zeros(1, 8), psi=INF), "psi must be a finite number"),
    "cutoff 99": (lambda m: m.map(torch.zeros(1, 8), cutoff=99), "cutoff must be a whole number from 0 to"),
    "cutoff -3": (lambda m: m.map(torch.zeros(1, 8), cutoff=-3), "cutoff must be a whole number from 0 to"),
    "cutoff 1.5": (lambda m: m.map(torch.zeros(1, 8), cutoff=1.5), "cutoff must be a whole number"),
    "c on an unconditional model": (lambda m: m.map(torch.zeros(1, 8), c=torch.zeros(1, 2)), "unconditional"),
    "a class on an unconditional model": (lambda m: m.class_vector(3), "unconditional"),
    "W+ with one row too few": (lambda m: m.synthesize(_ws(m, m.num_ws - 1)), "ws must have shape [N, "),
    "W+ with one row too many": (lambda m: m.synthesize(_ws(m, m.num_ws + 1)), "ws must have shape [N, "),
    "NaN ws": (lambda m: m.synthesize(_ws(m, value=NAN)), "NaN or infinite"),
    "half-precision ws is fine, int ws is not": (
        lambda m: m.synthesize(_ws(m).to(torch.int32)), "floating-point"),
    "NaN translate": (lambda m: m.synthesize(_ws(m), translate=(NAN, 0.0)), "translate x must be a finite"),
    "translate of three numbers": (lambda m: m.synthesize(_ws(m), translate=(0, 0, 0)), "two numbers"),
    "infinite rotate": (lambda m: m.synthesize(_ws(m), rotate=INF), "rotate must be a finite number"),
    "noise mode typo": (lambda m: m.synthesize(_ws(m), noise_mode="cosnt"), "noise_mode"),
    "NaN noise gain": (lambda m: m.synthesize(_ws(m), noise_gain_by_res={8: NAN}), "noise gain"),
    "seed 2**32 (would wrap to 0)": (lambda m: m.z_from_seed(2**32), "seed must be a whole number from 0 to 4294967295"),
    "negative seed": (lambda m: m.z_from_seed(-1), "seed must be a whole number"),
    "NaN psi on an explicit latent": (lambda m: apply_truncation(_ws(m), m.w_avg, NAN, None), "psi"),
    "NaN edit strength": (lambda m: apply_edits(m, _ws(m), [DirectionEdit("pca", 0, NAN)], None), "edit strength"),
    "edit rows past the last": (
        lambda m: apply_edits(m, _ws(m), [DirectionEdit("pca", 0, 1.0, 2, 99)], None), "outside this model's W+ rows"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_a_one_line_value_error(model: Model, case: str) -> None:
    call, expected = CASES[case]
    with pytest.raises(ValueError) as info:
        call(model)
    message = str(info.value)
    assert isinstance(info.value, InputError) and isinstance(info.value, ExplorerError)
    assert "\n" not in message and expected in message, message


def test_good_inputs_still_render(model: Model) -> None:
    ws = model.map(torch.randn(2, 8, generator=torch.Generator().manual_seed(1)), psi=0.5, cutoff=2)
    img = model.synthesize(ws.half(), translate=(0.1, -0.1), rotate=5.0, noise_seed=3)
    assert img.shape == (2, 3, 16, 16) and torch.isfinite(img).all()
    assert model.z_from_seed(2**32 - 1).shape == (1, 8)


@pytest.mark.parametrize("architecture", ["stylegan2", "stylegan3"])
def test_networks_themselves_check_w_plus_rows(architecture: str, one_torch_thread) -> None:
    """The nets refuse a wrong row count too, so no caller can get a feature map as the image."""
    m = _model(architecture)
    for rows in (m.num_ws - 1, m.num_ws + 1):
        with pytest.raises(ValueError, match=r"ws must have shape"):
            m.generator.synthesis(_ws(m, rows))
    with pytest.raises(ValueError, match=r"z must have shape"):
        m.generator.mapping(torch.zeros(1, 3), None)


def test_conditional_model_checks_labels(one_torch_thread) -> None:
    m = _model("stylegan2", c_dim=4)
    z = torch.zeros(2, 8)
    with pytest.raises(InputError, match="conditional"):
        m.map(z)
    with pytest.raises(InputError, match=r"c must have shape \[2, 4\]"):
        m.map(z, torch.zeros(2, 3))
    with pytest.raises(InputError, match="NaN"):
        m.map(z, torch.full((2, 4), NAN))
    with pytest.raises(InputError, match="class must be a whole number from 0 to 3"):
        m.class_vector(4)
    one_hot = torch.zeros(2, 4, dtype=torch.int64)
    one_hot[:, 1] = 1
    assert torch.equal(m.map(z, one_hot), m.map(z, m.class_vector(1, 2)))


@pytest.mark.parametrize("device, expected", [
    ("banana", "unknown device 'banana'"), ("cuda:x", "unknown device"), ("meta", "not supported"), (3, "device must be"),
])
def test_load_refuses_bad_devices_before_reading(tmp_path, device, expected: str) -> None:
    missing = tmp_path / "never-read.pkl"
    with pytest.raises(InputError) as info:
        explorer.load(missing, device=device)
    assert expected in str(info.value) and "\n" not in str(info.value)


def test_finite_checks_cover_numpy_numbers(model: Model) -> None:
    import numpy as np
    assert model.z_from_seed(np.uint32(7)).shape == (1, 8)
    with pytest.raises(InputError):
        model.map(torch.zeros(1, 8), psi=np.float32("nan"))
    assert math.isfinite(float(model.map(torch.zeros(1, 8), psi=np.float64(0.5)).sum()))
