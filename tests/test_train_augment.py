"""ADA: the pipeline is exact at p = 0, differentiable, keeps colours sane; the tuner moves p."""

from __future__ import annotations

import math

import torch

from explorer.train.augment import AdaptiveAugment, AdaTuner, color_matrices, geometric_matrices

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
