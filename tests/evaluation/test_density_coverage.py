"""Density and coverage (Naeem et al. 2020) equal the authors' `prdc` package on the same features."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lightning_gans.evaluation import density_coverage

prdc = pytest.importorskip("prdc")


@pytest.mark.parametrize("shift", [0.0, 0.5, 2.0])
def test_equal_to_prdc_on_the_same_features(shift, capsys):
    """Same real/fake features (different sizes, partly overlapping): density and coverage equal prdc's to 1e-6."""
    g = torch.Generator().manual_seed(0)
    real = torch.randn(300, 16, generator=g)
    fake = torch.randn(200, 16, generator=g) * 1.2 + shift
    ours = density_coverage(fake, real, k=5)
    theirs = prdc.compute_prdc(real_features=real.numpy(), fake_features=fake.numpy(), nearest_k=5)
    capsys.readouterr()  # prdc prints the set sizes
    assert ours["density"] == pytest.approx(float(theirs["density"]), abs=1e-6)
    assert ours["coverage"] == pytest.approx(float(theirs["coverage"]), abs=1e-6)
    assert 0.0 <= ours["coverage"] <= 1.0


def test_analytic_values_on_hand_made_sets():
    """Ten reals on a line 0..9 and the same points as fakes, k = 2: radii are 1 inside and 2 at both ends, and
    a fake lies in a ball when strictly closer than its radius, so fakes 1 and 8 are in two balls, the other 8 in
    one: density = (2 * 2 + 8 * 1) / 10 / 2 = 0.6, coverage 1. Fakes far away: both 0."""
    real = torch.tensor([[float(i), 0.0] for i in range(10)])
    assert density_coverage(real.clone(), real, k=2) == {"density": pytest.approx(0.6), "coverage": 1.0}
    assert density_coverage(real + 100.0, real, k=2) == {"density": 0.0, "coverage": 0.0}


def test_blocks_do_not_change_the_values():
    """Row blocks of the distance matrix (memory bound) give exactly the one-block values."""
    g = torch.Generator().manual_seed(1)
    real, fake = torch.randn(257, 8, generator=g), torch.randn(129, 8, generator=g)
    assert density_coverage(fake, real, block_size=10) == density_coverage(fake, real, block_size=10_000)


def test_bad_inputs_name_the_features():
    with pytest.raises(ValueError, match="`fake` and `real` must be features"):
        density_coverage(torch.zeros(4, 3), torch.zeros(10, 2))
    with pytest.raises(ValueError, match="`k`=5 nearest neighbours need more than 5 samples"):
        density_coverage(torch.zeros(4, 2), torch.from_numpy(np.zeros((5, 2), dtype=np.float32)))
