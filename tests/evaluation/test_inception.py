"""Parity of lightning_gans/evaluation with torch-fidelity's calculate_metrics on one Inception weights file.

No real Inception weights exist offline: the test builds a random-weight file (He-normal convs and fc,
BatchNorm at identity, which gives non-degenerate features). Inception runs at ~5 images/s on 2 CPU
cores, so the sets are small and FID/KID use the 64-dimensional pool features (same network, resize,
rounding and logits as the 2048 layer; a 2048x2048 eigendecomposition alone takes ~20 s here).
"""

from __future__ import annotations

import pytest
import torch

from lightning_gans.evaluation import InceptionV3Extractor, RealStatistics, compute_metrics, extract
from tests.random_inception import ImageTensorDataset, save_random_inception_weights

N = 10


@pytest.fixture(scope="module")
def inception_weights(tmp_path_factory) -> str:
    """A random-weight Inception-v3 state dict in torch-fidelity's format."""
    return save_random_inception_weights(str(tmp_path_factory.mktemp("inception") / "random-inception.pth"))


def test_fid_is_kid_match_torch_fidelity_calculate_metrics(inception_weights):
    """On the same uint8 images and Inception weights file, FID and IS equal torch-fidelity's to 1e-6 relative, KID to 1e-5."""
    import torch_fidelity

    g = torch.Generator().manual_seed(1)
    fake_u8 = torch.randint(0, 256, (N, 3, 24, 24), generator=g, dtype=torch.uint8)
    real_u8 = (torch.rand(N, 1, 24, 24, generator=g) ** 2 * 255).round().to(torch.uint8)  # grey, darker
    settings = dict(isc_splits=2, kid_subsets=10, kid_subset_size=8)
    theirs = torch_fidelity.calculate_metrics(
        input1=ImageTensorDataset(fake_u8),
        input2=ImageTensorDataset(real_u8.expand(-1, 3, -1, -1).contiguous()),
        cuda=False,
        isc=True,
        fid=True,
        kid=True,
        feature_extractor_weights_path=inception_weights,
        feature_layer_fid="64",
        feature_layer_kid="64",
        cache=False,
        save_cpu_ram=True,
        verbose=False,
        **settings,
    )

    extractor = InceptionV3Extractor(inception_weights, feature_layer="64")
    fake = fake_u8.float() / 255 * 2 - 1  # as a tanh generator would emit them
    real = real_u8.float() / 255  # one channel in [0, 1]: converted to 3 channels for Inception
    real_stats = RealStatistics.from_features(extract(extractor, [real[:6], real[6:]], (0.0, 1.0))[0])
    fake_features, fake_logits = extract(extractor, [fake], (-1.0, 1.0))
    ours = compute_metrics(fake_features, fake_logits, real_stats, kid_subsets=10, kid_subset_size=8, isc_splits=2)

    assert theirs["frechet_inception_distance"] > 1e-2  # the sets differ: a relative comparison means something
    # Our forward (channels-last, chunks) differs from torch-fidelity's by float rounding only.
    assert ours["fid"] == pytest.approx(theirs["frechet_inception_distance"], rel=1e-6)
    assert ours["is"] == pytest.approx(theirs["inception_score_mean"], rel=1e-6)
    assert ours["is_std"] == pytest.approx(theirs["inception_score_std"], abs=1e-6 * ours["is"])
    assert ours["kid"] == pytest.approx(theirs["kernel_inception_distance_mean"], rel=1e-5)
    assert ours["kid_std"] == pytest.approx(theirs["kernel_inception_distance_std"], rel=1e-4)
