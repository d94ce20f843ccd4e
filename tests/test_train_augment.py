"""ADA: the pipeline is exact at p = 0, differentiable, keeps colours sane; the tuner moves p."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from explorer.train.augment import (AdaptiveAugment, AdaTuner, color_matrices, geometric_matrices,
                                    sample_bilinear_reflect)

CPU = torch.device("cpu")


def test_identity_when_p_is_zero() -> None:
    torch.manual_seed(0)
    x = torch.rand(4, 3, 8, 8)
    assert AdaptiveAugment(0.0)(x) is x
    assert torch.allclose(geometric_matrices(4, 8, 0.0, CPU), torch.eye(3).expand(4, 3, 3))
    assert torch.allclose(color_matrices(4, 0.0, CPU), torch.eye(4).expand(4, 4, 4), atol=1e-6)


def test_augment_is_differentiable_and_varies() -> None:
    torch.manual_seed(0)
    x = (torch.rand(8, 3, 16, 16) * 2 - 1).requires_grad_(True)
    y = AdaptiveAugment(1.0)(x)
    assert y.shape == x.shape and torch.isfinite(y).all()
    y.square().sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert not torch.allclose(y, x)


def test_own_sampling_equals_grid_sample_and_has_a_second_derivative() -> None:
    """R1 through the augmentation differentiates twice; CUDA's grid_sample cannot, ours can."""
    torch.manual_seed(0)
    for h, w in ((8, 8), (7, 11)):
        x = torch.randn(3, 3, h, w, dtype=torch.float64)
        grid = torch.rand(3, 9, 5, 2, dtype=torch.float64) * 6 - 3  # far outside: reflects twice
        want = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
        assert torch.allclose(sample_bilinear_reflect(x, grid), want, atol=1e-12)
    x = torch.randn(2, 3, 5, 6, dtype=torch.float64, requires_grad=True)
    grid = torch.rand(2, 4, 7, 2, dtype=torch.float64) * 2.4 - 1.2
    assert torch.autograd.gradgradcheck(lambda t: sample_bilinear_reflect(t, grid).square(), (x,))


def test_geometry_is_rigid_enough() -> None:
    """Every matrix is invertible and scales stay within a few sigma."""
    torch.manual_seed(0)
    m = geometric_matrices(2000, 32, 1.0, CPU)
    det = torch.linalg.det(m[:, :2, :2]).abs()
    assert (det > 0.05).all() and (det < 20).all()


def test_color_matrices_are_affine() -> None:
    """Finite, and the homogeneous row untouched, so they map RGB to RGB plus an offset."""
    torch.manual_seed(0)
    m = color_matrices(500, 1.0, CPU)
    assert torch.isfinite(m).all()
    assert torch.allclose(m[:, 3], torch.tensor([0.0, 0, 0, 1]).expand(500, 4))


def test_tuner_moves_p_towards_target() -> None:
    augment = AdaptiveAugment(0.5)
    tuner = AdaTuner(augment, batch_size=1000, device=CPU, target=0.6, interval=2, speed_kimg=10)
    step = 1000 * 2 / 10_000
    for _ in range(2):
        tuner.observe(torch.ones(16))  # D is sure about every real: overfitting
        tuner.step()
    assert math.isclose(float(augment.p), 0.5 + step, rel_tol=1e-5)
    for _ in range(2):
        tuner.observe(-torch.ones(16))
        tuner.step()
    assert math.isclose(float(augment.p), 0.5, rel_tol=1e-5)
    assert tuner.last_rt == -1.0
