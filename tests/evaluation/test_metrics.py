"""Tests for lightning_gans/evaluation: metric maths, conversion, extractors, real-statistics cache."""

from __future__ import annotations

import os
import zipfile

import numpy as np
import pytest
import torch
from sklearn.model_selection import train_test_split
from torch import nn

from lightning_gans.data import load_digits_tensor
from lightning_gans.evaluation import (
    INCEPTION_WEIGHTS_FILE,
    DigitsClassifier,
    RealStatistics,
    RealStatisticsCache,
    check_sample_count,
    compute_metrics,
    extract,
    features_to_statistics,
    frechet_distance,
    inception_score,
    kernel_inception_distance,
    resolve_inception_weights,
    to_extractor_input,
)


def _features(n: int, d: int, shift: float = 0.0, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g) @ torch.randn(d, d, generator=g) / d**0.5 + shift


def test_fid_matches_torch_fidelity_statistics():
    """FID via the cached covariance square root equals torch-fidelity's eigvals formula within 1e-6 relative."""
    from torch_fidelity.metric_fid import KEY_METRIC_FID, fid_features_to_statistics, fid_statistics_to_metric

    fake, real = _features(300, 32, 0.3, seed=1), _features(400, 32, seed=2)
    ours = frechet_distance(features_to_statistics(fake), RealStatistics.from_features(real).fid)
    theirs = fid_statistics_to_metric(
        fid_features_to_statistics(fake), fid_features_to_statistics(real), verbose=False
    )[KEY_METRIC_FID]
    assert ours == pytest.approx(theirs, rel=1e-6)
    assert ours > 0.1


def test_fid_of_identical_sets_is_zero():
    """If real and generated features are the same data, FID is 0."""
    x = _features(500, 16)
    assert abs(frechet_distance(features_to_statistics(x), RealStatistics.from_features(x).fid)) < 1e-8


@pytest.mark.parametrize("subset_size", [50, 200])  # 200 of 200: the shared-Gram path; 50: per-subset kernels
def test_kid_matches_torch_fidelity(subset_size):
    """KID mean and std equal torch-fidelity's kid_features_to_metric (same seeded subsets) within 1e-4 relative."""
    from torch_fidelity.metric_kid import KEY_METRIC_KID_MEAN, KEY_METRIC_KID_STD, kid_features_to_metric

    fake, real = _features(200, 24, 0.5, seed=3), _features(260, 24, seed=4)
    mean, std = kernel_inception_distance(fake, real, subsets=20, subset_size=subset_size, seed=7)
    ref = kid_features_to_metric(fake, real, kid_subsets=20, kid_subset_size=subset_size, rng_seed=7, verbose=False)
    assert mean == pytest.approx(ref[KEY_METRIC_KID_MEAN], rel=1e-4)
    assert std == pytest.approx(ref[KEY_METRIC_KID_STD], rel=1e-3)


def test_kid_of_identical_sets_is_near_zero():
    """KID of a set against itself is ~0 (|KID| < 1e-3) for Inception-like non-negative features; a shifted set is not."""
    x = torch.rand(1000, 64, generator=torch.Generator().manual_seed(5)) * 0.9  # |x|^2 / d ~ 0.27, like pool features
    same, _ = kernel_inception_distance(x, x, subsets=100, subset_size=100)
    shifted, _ = kernel_inception_distance(x + 0.05, x, subsets=100, subset_size=100)
    assert abs(same) < 1e-3
    assert shifted > 1e-2


def test_kid_rejects_subsets_larger_than_the_sets():
    """A KID subset larger than either set is an error naming `kid_subset_size`."""
    with pytest.raises(ValueError, match="`kid_subset_size`"):
        kernel_inception_distance(_features(20, 4), _features(30, 4), subset_size=25)


def test_inception_score_of_a_uniform_classifier_is_one():
    """A classifier that always outputs the uniform distribution has IS exactly 1 (std 0)."""
    uniform = type("Uniform", (nn.Module,), {"forward": lambda self, x: (x.flatten(1), torch.zeros(x.shape[0], 10))})()
    images = torch.rand(40, 1, 8, 8) * 2 - 1
    _, logits = extract(uniform, [images[:25], images[25:]], (-1.0, 1.0))
    mean, std = inception_score(logits, splits=4)
    assert mean == pytest.approx(1.0, abs=1e-12) and std == pytest.approx(0.0, abs=1e-12)


def test_inception_score_of_confident_balanced_classes_is_their_number():
    """One-hot predictions spread evenly over K classes give IS = K (exp of the mutual information log K)."""
    logits = torch.full((400, 5), -1e4).scatter_(1, torch.arange(400).remainder(5)[:, None], 0.0)
    mean, _ = inception_score(logits, splits=1)
    assert mean == pytest.approx(5.0, rel=1e-9)


def _is_reference(logits: np.ndarray, splits: int, seed: int) -> tuple[float, float]:
    """IS written out independently with scipy: exp(H(mean_i p_i) - mean_i H(p_i)) per chunk of a seeded permutation."""
    from scipy.special import softmax
    from scipy.stats import entropy

    p = softmax(logits.astype(np.float64), axis=1)[np.random.RandomState(seed).permutation(len(logits))]
    scores = []
    for chunk in np.array_split(p, splits):  # equal chunks here (N divisible by splits)
        # E_x KL(p(y|x) || p(y)) = H(p(y)) - E_x H(p(y|x))
        scores.append(np.exp(entropy(chunk.mean(0)) - entropy(chunk, axis=1).mean()))
    return float(np.mean(scores)), float(np.std(scores))


@pytest.mark.parametrize("splits", [1, 5])
def test_inception_score_of_confident_varied_logits_matches_an_independent_formula(splits):
    """IS is delegated to torch-fidelity's isc_features_to_metric; this checks our call of it (logits, splits, seeded
    shuffle) on confident, unevenly spread, varied predictions (IS far from 1 and from K) against scipy."""
    rng = np.random.RandomState(1)
    n, k = 600, 12
    classes = rng.choice(k, size=n, p=np.arange(1, k + 1) / np.arange(1, k + 1).sum())  # uneven class use
    logits = rng.normal(0.0, 1.0, size=(n, k))
    logits[np.arange(n), classes] += rng.uniform(2.0, 9.0, size=n)  # confident, with varied confidence
    mean, std = inception_score(torch.from_numpy(logits).float(), splits=splits, seed=7)
    ref_mean, ref_std = _is_reference(torch.from_numpy(logits).float().numpy(), splits, seed=7)
    assert 4.0 < ref_mean < k - 1  # not a degenerate value that almost any formula would give
    assert mean == pytest.approx(ref_mean, rel=1e-9)
    assert std == pytest.approx(ref_std, rel=1e-6, abs=1e-12)
    if splits > 1:
        assert std > 0.01  # the chunks really differ, so their order matters
        assert inception_score(torch.from_numpy(logits).float(), splits=splits, seed=8)[0] != pytest.approx(
            mean, rel=1e-9
        )


def test_too_few_samples_warns_with_the_count_needed():
    """Fewer samples than feature dimensions + 1 warns with the number needed; fewer than 2 raises."""
    with pytest.warns(UserWarning, match="at least 65 generated samples.*`num_samples` >= 65"):
        check_sample_count(64, 64, "generated", "num_samples")
    with pytest.raises(ValueError, match="`num_real` >= 65"):
        check_sample_count(1, 64, "real", "num_real")


def test_range_conversion_maps_to_unit_interval_and_channels():
    """[-1, 1] maps linearly to [0, 1]; 1 channel is repeated to 3; RGB becomes BT.601 luma."""
    x = torch.tensor([-1.0, 0.0, 1.0]).view(1, 1, 1, 3)
    assert torch.equal(to_extractor_input(x, (-1.0, 1.0), None), torch.tensor([0.0, 0.5, 1.0]).view(1, 1, 1, 3))
    assert to_extractor_input(x, (-1.0, 1.0), 3).shape == (1, 3, 1, 3)
    rgb = torch.tensor([1.0, 0.0, 0.0]).view(1, 3, 1, 1)
    assert to_extractor_input(rgb, (0.0, 1.0), 1).item() == pytest.approx(0.299)


def test_values_outside_the_declared_range_are_an_error():
    """Images outside `data_range` raise instead of being clipped; a wrong channel count raises too."""
    with pytest.raises(ValueError, match=r"values in \[0, 2\], outside `data_range`=\(-1, 1\)"):
        to_extractor_input(torch.tensor([0.0, 2.0]).view(1, 1, 1, 2), (-1.0, 1.0), None, "generated samples")
    with pytest.raises(ValueError, match="outside `data_range`"):
        to_extractor_input(torch.full((1, 1, 2, 2), float("nan")), (0.0, 1.0), None)
    with pytest.raises(ValueError, match="2 channels but the feature extractor expects 3"):
        to_extractor_input(torch.zeros(1, 2, 4, 4), (0.0, 1.0), 3)


def test_real_statistics_cache_round_trip_without_pickle(tmp_path):
    """Statistics saved to .npz load back equal with allow_pickle=False; another key misses."""
    cache = RealStatisticsCache(str(tmp_path))
    stats = RealStatistics.from_features(_features(50, 8))
    key = {"data": "x", "extractor": "e@1", "num_real": 50}
    path = cache.save(key, stats)
    assert path.endswith(".npz") and not any(n.endswith(".pkl") for n in zipfile.ZipFile(path).namelist())
    loaded = cache.load(key)
    assert torch.equal(loaded.features, stats.features)
    assert torch.equal(loaded.fid.sigma, stats.fid.sigma) and torch.equal(loaded.fid.sigma_sqrt, stats.fid.sigma_sqrt)
    assert cache.load({**key, "num_real": 49}) is None
    with np.load(path, allow_pickle=False) as f:
        assert f["features"].dtype == np.float32


def test_missing_inception_weights_error_names_file_source_and_argument(tmp_path, monkeypatch):
    """Without weights, one FileNotFoundError names the file, the download URL and `feature_extractor_weights_path`."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(
        FileNotFoundError,
        match=f"{INCEPTION_WEIGHTS_FILE}.*https://github.com/toshas.*`feature_extractor_weights_path`",
    ):
        resolve_inception_weights()
    with pytest.raises(FileNotFoundError, match=r"`feature_extractor_weights_path`='/nowhere.pth' does not exist"):
        resolve_inception_weights("/nowhere.pth")
    (tmp_path / "hub" / "checkpoints").mkdir(parents=True)
    (tmp_path / "hub" / "checkpoints" / INCEPTION_WEIGHTS_FILE).write_bytes(b"")
    assert resolve_inception_weights() == os.path.join(str(tmp_path), "hub", "checkpoints", INCEPTION_WEIGHTS_FILE)


def test_digits_classifier_held_out_accuracy():
    """The shipped classifier (weights_only load) classifies >= 441 of the 450 held-out digits (measured: 442, 98.2 %)."""
    images, labels = load_digits_tensor()
    _, idx_test = train_test_split(np.arange(len(labels)), test_size=0.25, random_state=0, stratify=labels.numpy())
    model = DigitsClassifier.pretrained()
    with torch.no_grad():
        features, logits = model((images[idx_test] + 1) / 2)
    correct = int((logits.argmax(1) == labels[idx_test]).sum())
    assert len(idx_test) == 450 and correct >= 441  # one digit of margin for BLAS differences across machines
    assert features.shape == (len(idx_test), DigitsClassifier.num_features)


def test_digits_metrics_separate_real_halves_from_noise():
    """With the digits classifier, FID/KID between two halves of the digits are far below those of noise; IS of real digits is high."""
    images, _ = load_digits_tensor()
    perm = torch.randperm(len(images), generator=torch.Generator().manual_seed(0))
    a, b = images[perm[:800]], images[perm[800:1600]]
    model = DigitsClassifier.pretrained()
    real = RealStatistics.from_features(extract(model, [a], (-1.0, 1.0))[0])
    same = compute_metrics(*extract(model, [b], (-1.0, 1.0)), real, kid_subset_size=500)
    noise = compute_metrics(*extract(model, [torch.rand(800, 1, 8, 8) * 2 - 1], (-1.0, 1.0)), real, kid_subset_size=500)
    assert same["fid"] < 0.05 * noise["fid"]
    assert same["kid"] < 0.05 * noise["kid"]
    assert same["is"] > 7.0  # 10 balanced, mostly confidently classified classes (at most 10)
