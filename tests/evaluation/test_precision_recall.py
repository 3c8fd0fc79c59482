"""Improved precision/recall (Kynkäänniemi et al. 2019): analytic cases and parity with torch-fidelity's `prc`."""

import pytest
import torch

from lightning_gans.evaluation.precision_recall import (
    F_SCORE,
    PRECISION,
    RECALL,
    knn_radii,
    manifold_coverage,
    precision_recall,
)


def test_knn_radii_by_hand():
    """On 1-D points 0, 1, 3, 7 the 1st-NN radii are 1, 1, 2, 4 and the 2nd-NN radii 3, 2, 3, 6 (self excluded)."""
    x = torch.tensor([[0.0], [1.0], [3.0], [7.0]])
    assert knn_radii(x, k=1).tolist() == [1.0, 1.0, 2.0, 4.0]
    assert knn_radii(x, k=2).tolist() == [3.0, 2.0, 3.0, 6.0]


def test_precision_recall_by_hand():
    """Real at 0..3 (k=1 radii 1) and fakes at 0.5, 10, 12: one fake of three is inside the real balls; all reals are inside the fake ball of radius 9.5."""
    real = torch.tensor([[0.0], [1.0], [2.0], [3.0]])
    fake = torch.tensor([[0.5], [10.0], [12.0]])
    # fake radii (k=1): 0.5 -> 9.5, 10 -> 2, 12 -> 2; every real point is within 9.5 of 0.5: recall 1.
    out = precision_recall(fake, real, k=1)
    assert out[PRECISION] == pytest.approx(1 / 3) and out[RECALL] == 1.0
    assert out[F_SCORE] == pytest.approx(2 * (1 / 3) / (1 / 3 + 1))


def test_identical_and_disjoint_sets():
    """Identical sets give precision = recall = 1; sets 100 apart give 0 and 0."""
    x = torch.randn(200, 16)
    assert precision_recall(x, x)[PRECISION] == 1.0 and precision_recall(x, x)[RECALL] == 1.0
    far = precision_recall(x + 100.0, x)
    assert far[PRECISION] == 0.0 and far[RECALL] == 0.0


def test_mode_dropping_lowers_recall_not_precision():
    """Fakes from half the real data: precision stays 1 (they are real points), recall drops well below 1."""
    real = torch.cat([torch.randn(300, 4), torch.randn(300, 4) + 20])
    out = precision_recall(real[:300], real)
    assert out[PRECISION] == 1.0 and 0.45 <= out[RECALL] <= 0.55


@pytest.mark.parametrize("n_fake, n_real, dim, block", [(300, 250, 64, 10_000), (257, 311, 8, 100)])
def test_matches_torch_fidelity(n_fake, n_real, dim, block):
    """Same precision, recall and F-score as torch-fidelity's prc_features_to_metric (input1 = fake) within 1e-6."""
    from torch_fidelity.metric_prc import prc_features_to_metric

    g = torch.Generator().manual_seed(n_fake)
    fake = torch.randn(n_fake, dim, generator=g) + 0.3  # shifted: precision and recall both strictly inside (0, 1)
    real = torch.randn(n_real, dim, generator=g)
    ref = prc_features_to_metric(
        fake, real, prc_neighborhood=3, prc_batch_size=10000, save_cpu_ram=False, verbose=False
    )
    ours = precision_recall(fake, real, k=3, block_size=block)
    assert 0.05 < ref["precision"] < 0.95 and 0.05 < ref["recall"] < 0.95  # a case where the metric says something
    for key in (PRECISION, RECALL, F_SCORE):
        assert ours[key] == pytest.approx(ref[key], abs=1e-6)


def test_cached_radii_give_the_same_result():
    """Passing precomputed real radii changes nothing."""
    fake, real = torch.randn(120, 5), torch.randn(130, 5)
    assert precision_recall(fake, real, real_radii=knn_radii(real)) == precision_recall(fake, real)


def test_bad_input_names_the_argument():
    """Too few samples for k, a wrong k, mismatched dims and a non-matrix are errors naming the argument."""
    with pytest.raises(ValueError, match="`k`=3 nearest neighbours need more than 3"):
        knn_radii(torch.randn(3, 2))
    with pytest.raises(ValueError, match="`k` must be an integer >= 1"):
        knn_radii(torch.randn(5, 2), k=0)
    with pytest.raises(ValueError, match="`fake` must be a feature tensor"):
        precision_recall(torch.randn(5), torch.randn(5, 2))
    with pytest.raises(ValueError, match="Feature dimensions differ"):
        manifold_coverage(torch.randn(5, 3), torch.randn(5, 2), torch.ones(5))
