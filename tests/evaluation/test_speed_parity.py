"""The fast Inception path (channels-last, chunks, inference mode, 3x cheaper TF1 resize, meta-device build,
memory-mapped ``weights_only`` load) gives torch-fidelity's features and the same FID/IS/KID.

"Before" is torch-fidelity's own ``FeatureExtractorInceptionV3`` forward (what ``InceptionV3Extractor`` ran
through torchmetrics' copy of it until now), on the same uint8 images and the same random-weight file.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from unittest import mock

import pytest
import torch

from lightning_gans.evaluation import Evaluator, InceptionV3Extractor, RealStatistics, compute_metrics
from lightning_gans.evaluation.extractors import _tf1_resize, extractor_id
from tests.random_inception import save_random_inception_weights

LAYERS = ("64", "192", "768", "2048")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def inception_weights(tmp_path_factory) -> str:
    """A random-weight Inception-v3 state dict in torch-fidelity's format."""
    return save_random_inception_weights(str(tmp_path_factory.mktemp("inception") / "random-inception.pth"))


@pytest.fixture(scope="module")
def reference(inception_weights):
    """torch-fidelity's network on the weights file, returning every feature layer and the unbiased logits."""
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    return FeatureExtractorInceptionV3("inception-v3-compat", [*LAYERS, "logits_unbiased"], inception_weights)


def _images(n: int, seed: int, size: int = 32) -> torch.Tensor:
    return torch.randint(0, 256, (n, 3, size, size), generator=torch.Generator().manual_seed(seed), dtype=torch.uint8)


@pytest.mark.parametrize(("height", "width"), [(32, 32), (17, 23), (512, 400)])
def test_tf1_resize_is_bit_identical_to_torch_fidelitys(height, width):
    """Up- and down-sampling, square and not: the reordered resize equals torch-fidelity's TF1 resize bit for bit."""
    from torch_fidelity.interpolate_compat_tensorflow import interpolate_bilinear_2d_like_tensorflow1x

    x = torch.randint(0, 256, (2, 3, height, width), generator=torch.Generator().manual_seed(0)).float()
    expected = interpolate_bilinear_2d_like_tensorflow1x(x, size=(299, 299), align_corners=False)
    assert torch.equal(_tf1_resize(x, 299), expected)


def test_features_and_logits_match_torch_fidelitys_forward_for_every_layer(inception_weights, reference):
    """Every feature layer and the unbiased logits equal torch-fidelity's forward on the same uint8 images."""
    images = _images(3, seed=0)
    with torch.no_grad():
        *expected, expected_logits = reference(images)
    for layer, want in zip(LAYERS, expected):
        features, logits = InceptionV3Extractor(inception_weights, feature_layer=layer, chunk_size=2)(images / 255)
        assert features.shape == (3, int(layer)) and features.dtype == torch.float32
        torch.testing.assert_close(features, want, rtol=1e-4, atol=1e-5 * want.abs().max().item())
        torch.testing.assert_close(logits, expected_logits, rtol=1e-4, atol=1e-5 * expected_logits.abs().max().item())


def test_fid_is_kid_equal_torch_fidelitys_features_to_1e_6(inception_weights, reference):
    """FID (2,048 features) and IS from the fast path equal those from torch-fidelity's forward to 1e-6 relative, KID to 1e-5."""
    fake_u8, real_u8 = _images(8, seed=1), (_images(8, seed=2).float() ** 2 / 255).round().to(torch.uint8)
    with torch.no_grad():
        ref_fake, ref_real = reference(fake_u8), reference(real_u8)
    extractor = InceptionV3Extractor(inception_weights, chunk_size=4)
    fake_features, fake_logits = extractor(fake_u8 / 255)
    real_features, _ = extractor(real_u8 / 255)
    settings = dict(metrics=["fid", "is", "kid"], kid_subsets=10, kid_subset_size=6, isc_splits=2)
    ours = compute_metrics(fake_features, fake_logits, RealStatistics.from_features(real_features), **settings)
    before = compute_metrics(ref_fake[3], ref_fake[4], RealStatistics.from_features(ref_real[3]), **settings)
    assert before["fid"] > 1.0  # the sets differ, so a relative comparison means something
    assert ours["fid"] == pytest.approx(before["fid"], rel=1e-6)
    assert ours["is"] == pytest.approx(before["is"], rel=1e-6)
    assert ours["kid"] == pytest.approx(before["kid"], rel=1e-5)  # cubic kernel of float32 features: 9e-7 measured
    # The spreads are differences of nearly equal values: compared on the scale of their means.
    assert ours["is_std"] == pytest.approx(before["is_std"], abs=1e-6 * before["is"])
    assert ours["kid_std"] == pytest.approx(before["kid_std"], rel=1e-4)


def test_chunk_size_does_not_change_the_features(inception_weights):
    """One image at a time, chunks of 3 (a ragged last one) and one chunk of 7 give the same features and logits."""
    x = _images(7, seed=3) / 255
    runs = [InceptionV3Extractor(inception_weights, feature_layer="64", chunk_size=c)(x) for c in (1, 3, 16)]
    for features, logits in runs[1:]:
        torch.testing.assert_close(features, runs[0][0], rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(logits, runs[0][1], rtol=1e-5, atol=1e-5)


def test_antialias_matches_torchmetrics_noTrainInceptionV3(inception_weights):
    """`antialias=True`: features equal torchmetrics' NoTrainInceptionV3 (antialiased resize) on the same images."""
    from torchmetrics.image.fid import NoTrainInceptionV3

    from lightning_gans._compat import torch_fidelity_forward

    images = _images(3, seed=4, size=48)
    net = NoTrainInceptionV3("inception-v3-compat", ["64", "logits_unbiased"], inception_weights, antialias=True)
    with torch.no_grad():
        want, want_logits = torch_fidelity_forward(net, images)
    features, logits = InceptionV3Extractor(inception_weights, feature_layer="64", antialias=True)(images / 255)
    torch.testing.assert_close(features, want, rtol=1e-4, atol=1e-5 * want.abs().max().item())
    torch.testing.assert_close(logits, want_logits, rtol=1e-4, atol=1e-5 * want_logits.abs().max().item())


def test_state_dict_is_the_weights_file_so_the_digest_is_unchanged(inception_weights, tmp_path):
    """The extractor's state dict is the file's, key for key and bit for bit (the real-statistics cache key stays)."""
    extractor = InceptionV3Extractor(inception_weights)
    state = torch.load(inception_weights, weights_only=True)
    mine = extractor.state_dict()
    assert list(mine) == [f"net.{k}" for k in state]
    assert all(torch.equal(mine[f"net.{k}"], v) and mine[f"net.{k}"].device.type == "cpu" for k, v in state.items())
    conv = extractor.net.get_submodule("Conv2d_1a_3x3.conv").weight
    assert conv.is_contiguous(memory_format=torch.channels_last) and not conv.requires_grad
    assert not extractor.train().training and not any(m.training for m in extractor.modules())


def test_rewriting_the_weights_file_leaves_a_built_extractor_unchanged(tmp_path):
    """The weights are memory-mapped while loading only: overwriting the file later changes nothing in a built extractor."""
    path = save_random_inception_weights(str(tmp_path / "w.pth"), seed=0)
    extractor = InceptionV3Extractor(path, feature_layer="64")
    x = _images(2, seed=5, size=16) / 255
    before = extractor(x)
    digest = extractor_id(extractor)
    save_random_inception_weights(path, seed=1)  # truncates and rewrites the same file
    after = extractor(x)
    assert torch.equal(before[0], after[0]) and torch.equal(before[1], after[1])
    assert extractor_id(extractor) == digest != extractor_id(InceptionV3Extractor(path, feature_layer="64"))


def test_a_legacy_format_weights_file_loads_without_mmap(inception_weights, tmp_path):
    """A file in torch's pre-1.6 (non-zip) format cannot be memory-mapped: it loads anyway, to the same weights."""
    legacy = tmp_path / "legacy.pth"
    torch.save(torch.load(inception_weights, weights_only=True), legacy, _use_new_zipfile_serialization=False)
    a, b = InceptionV3Extractor(inception_weights).state_dict(), InceptionV3Extractor(str(legacy)).state_dict()
    assert list(a) == list(b) and all(torch.equal(a[k], b[k]) for k in a)


def test_bad_chunk_size_is_named(inception_weights):
    """`chunk_size` must be a positive integer; the error names it before anything is loaded."""
    with pytest.raises(ValueError, match="`chunk_size` must be a positive integer, got 0"):
        InceptionV3Extractor(inception_weights, chunk_size=0)


def test_the_evaluator_hashes_the_extractor_once():
    """The extractor digest (cache key, logged settings) is computed once per evaluator, not at every use."""
    evaluator = Evaluator("digits", num_samples=20, cache=False)
    with mock.patch("lightning_gans.evaluation.evaluator.extractor_id", wraps=extractor_id) as spy:
        ids = {evaluator.extractor_id for _ in range(3)}
        evaluator.settings(100)
    assert spy.call_count == 1 and ids == {extractor_id(evaluator.extractor)}


def test_the_metrics_benchmark_runs_tiny():
    """`benchmarks/bench_metrics.py --tiny` exits 0 with the five timed variants, the four ratios, and FID/IS equal to
    torch-fidelity's to 1e-6 relative (KID 1e-5), cold and warm (a benchmark that stops matching cannot pass)."""
    done = subprocess.run(
        [sys.executable, "benchmarks/bench_metrics.py", "--tiny"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={"OMP_NUM_THREADS": "1", "PATH": "", **{k: v for k, v in os.environ.items() if k == "PYTHONPATH"}},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert len([line for line in lines if line.startswith(("| torch-fidelity, ", "| ours, "))]) == 5, done.stdout
    assert len([line for line in lines if line.startswith(("| cold: ", "| warm: ", "| ours: cold / warm"))]) == 4
    pattern = r"(FID|IS|KID) \S+ vs \S+ \(rel\. diff ([0-9.e+-]+)\)"
    diffs = [m for line in lines if line.startswith("values ") for m in re.findall(pattern, line)]
    assert [name for name, _ in diffs] == ["FID", "IS", "KID"] * 2, done.stdout
    assert all(float(d) <= (1e-5 if name == "KID" else 1e-6) for name, d in diffs), done.stdout


@pytest.mark.parametrize(("n", "dim"), [(10, 64), (48, 2048), (64, 64)])
def test_fid_with_fewer_samples_than_dimensions_equals_the_full_eigendecomposition(n, dim):
    """N <= D generated samples: the N x N trace term gives the D x D path's FID and torch-fidelity's to 1e-6 relative."""
    from torch_fidelity.metric_fid import fid_features_to_statistics, fid_statistics_to_metric

    from lightning_gans.evaluation.metrics import FIDStatistics, features_to_statistics, frechet_distance

    g = torch.Generator().manual_seed(n)
    fake, real = torch.randn(n, dim, generator=g).abs(), (torch.randn(n + 5, dim, generator=g) * 1.2).abs()
    fake_stats, real_stats = features_to_statistics(fake), features_to_statistics(real)
    assert fake_stats.centred is not None and fake_stats.centred.shape == (n, dim)  # the N x N path is taken
    full = FIDStatistics(fake_stats.mu, fake_stats.sigma, None, n)  # the same statistics without the samples
    theirs = fid_statistics_to_metric(fid_features_to_statistics(fake), fid_features_to_statistics(real), False)
    fid = frechet_distance(fake_stats, real_stats)
    assert fid == pytest.approx(frechet_distance(full, real_stats), rel=1e-6)
    assert fid == pytest.approx(theirs["frechet_inception_distance"], rel=1e-6)
    assert features_to_statistics(torch.randn(dim + 1, dim)).centred is None  # more samples: the D x D path
