"""Exact Wasserstein-1 between equal-size point sets, and the toy metrics dictionary."""

from __future__ import annotations

import math

import pytest
import torch

from lightning_gans.data import TOY_DISTRIBUTIONS
from lightning_gans.evaluation.toy import HIGH_QUALITY, MODES_COVERED, W1, toy_metrics, wasserstein1_exact


def test_translation_gives_the_shift_length():
    """W1 between a set and its translate by v is exactly |v| (the identity assignment is optimal by the triangle inequality)."""
    x = torch.randn(200, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    v = torch.tensor([0.3, -0.4], dtype=torch.float64)
    assert wasserstein1_exact(x, x + v) == pytest.approx(0.5, abs=1e-12)


def test_permutation_gives_zero_and_symmetry():
    """A permuted copy is at distance 0, and W1 is symmetric."""
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(100, 2, generator=g), torch.randn(100, 2, generator=g)
    assert wasserstein1_exact(x, x[torch.randperm(100, generator=g)]) == pytest.approx(0.0, abs=1e-12)
    assert wasserstein1_exact(x, y) == pytest.approx(wasserstein1_exact(y, x), rel=1e-12)


def test_matches_scipy_in_one_dimension():
    """On a line W1 equals scipy.stats.wasserstein_distance (the sorted matching)."""
    from scipy.stats import wasserstein_distance

    g = torch.Generator().manual_seed(2)
    a, b = torch.randn(150, generator=g), 2 * torch.rand(150, generator=g)
    pad = torch.zeros(150)
    got = wasserstein1_exact(torch.stack([a, pad], 1), torch.stack([b, pad], 1))
    assert got == pytest.approx(wasserstein_distance(a.numpy(), b.numpy()), rel=1e-9)


def test_shape_mismatch_raises():
    """Different sizes are rejected with the arguments' names."""
    with pytest.raises(ValueError, match="`x` and `y`"):
        wasserstein1_exact(torch.zeros(3, 2), torch.zeros(4, 2))


def test_toy_metrics_on_real_data():
    """Real 8-Gaussian samples cover all 8 modes with P(|N(0, I_2)| <= 3) = 1 - exp(-4.5) high-quality; the Swiss roll has W1 only."""
    g = torch.Generator().manual_seed(3)
    dist = TOY_DISTRIBUTIONS["8gaussians"]
    out = toy_metrics(dist.sample(2000, g), dist.sample(2000, g), dist)
    assert out[MODES_COVERED] == 8
    assert out[HIGH_QUALITY] == pytest.approx(1 - math.exp(-4.5), abs=0.008)  # 0.9889; binomial std 0.0023 at N = 2000
    roll = TOY_DISTRIBUTIONS["swissroll"]
    assert set(toy_metrics(roll.sample(100, g), roll.sample(100, g), roll)) == {W1}
