"""Evaluation throughput: lightning-gans vs torch-fidelity, and a repeat evaluation with cached real statistics.

Measured side by side in one run on the same images (uint8, 3x32x32, resized to 299 by Inception):

1. torch-fidelity ``calculate_metrics(isc, fid, kid)`` on (generated, real), its defaults otherwise;
2. ours, first evaluation: real and generated features, real statistics (mean, covariance and its
   square root), FID/IS/KID — what ``GANMetrics`` does on its first evaluation;
3. ours, repeat evaluation: generated features and metrics only (real statistics cached).

Offline there are no Inception weights: the benchmark builds a random-weight file (same network,
same cost) unless ``--weights`` points at the real one. Also prints the same first/repeat ratio for
the embedded digits classifier.

    python benchmarks/bench_metrics.py [--n 48] [--weights PATH]
"""

from __future__ import annotations

import argparse
import tempfile
import time

import torch
from torch import nn

from lightning_gans.data import load_digits_tensor
from lightning_gans.evaluation import DigitsClassifier, InceptionV3Extractor, RealStatistics, compute_metrics, extract
from lightning_gans.evaluation.testing import ImageTensorDataset, save_random_inception_weights


def ours(extractor: nn.Module, fake: torch.Tensor, real: torch.Tensor, real_stats: RealStatistics | None, **kw):
    """One evaluation; computes real statistics when ``real_stats`` is None. Returns (metrics, real_stats)."""
    if real_stats is None:
        real_stats = RealStatistics.from_features(extract(extractor, real.split(64), (0.0, 1.0))[0])
    features, logits = extract(extractor, fake.split(64), (0.0, 1.0))
    return compute_metrics(features, logits, real_stats, **kw), real_stats


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=48, help="generated and real images each")
    parser.add_argument("--weights", default=None, help="Inception weights file (default: a random-weight one)")
    args = parser.parse_args()
    import torch_fidelity

    torch.manual_seed(0)
    n = args.n
    fake_u8 = torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8)
    real_u8 = (torch.rand(n, 3, 32, 32) ** 2 * 255).round().to(torch.uint8)
    kw = dict(kid_subsets=100, kid_subset_size=n, isc_splits=4)
    with tempfile.TemporaryDirectory() as tmp:
        weights = args.weights or save_random_inception_weights(f"{tmp}/random-inception.pth")
        theirs, t_theirs = timed(lambda: torch_fidelity.calculate_metrics(
            input1=ImageTensorDataset(fake_u8), input2=ImageTensorDataset(real_u8), cuda=False, isc=True, fid=True, kid=True,
            feature_extractor_weights_path=weights, cache=False, verbose=False, **kw,  # same names in both APIs
        ))
        extractor = InceptionV3Extractor(weights)
        fake, real = fake_u8.float() / 255, real_u8.float() / 255
        (first, stats), t_first = timed(lambda: ours(extractor, fake, real, None, **kw))
        (repeat, _), t_repeat = timed(lambda: ours(extractor, fake, real, stats, **kw))

    print(f"Inception-v3 (2048 features), {n} generated + {n} real images of 3x32x32, CPU threads={torch.get_num_threads()}")
    print(f"  torch-fidelity calculate_metrics  {t_theirs:7.1f} s  {2 * n / t_theirs:6.2f} img/s  "
          f"FID {theirs['frechet_inception_distance']:.4f}  IS {theirs['inception_score_mean']:.4f}  KID {theirs['kernel_inception_distance_mean']:.6f}")
    print(f"  ours, first evaluation            {t_first:7.1f} s  {2 * n / t_first:6.2f} img/s  "
          f"FID {first['fid']:.4f}  IS {first['is']:.4f}  KID {first['kid']:.6f}")
    print(f"  ours, repeat (cached real stats)  {t_repeat:7.1f} s")
    print(f"  throughput ours/torch-fidelity: {t_theirs / t_first:.2f}x (target >= 1.0x)")
    print(f"  repeat speed-up first/repeat:   {t_first / t_repeat:.2f}x (target >= 1.8x)")

    images = load_digits_tensor()[0]
    digits = DigitsClassifier.pretrained()
    fake_d, real_d = (images[torch.randperm(len(images))[:1000]] + 1) / 2, (images + 1) / 2
    kw_d = dict(kid_subsets=100, kid_subset_size=1000, isc_splits=10)
    (_, stats_d), t_first_d = timed(lambda: ours(digits, fake_d, real_d, None, **kw_d))
    _, t_repeat_d = timed(lambda: ours(digits, fake_d, real_d, stats_d, **kw_d))
    print(f"Digits classifier, 1000 generated + {len(images)} real images: first {t_first_d:.2f} s, "
          f"repeat {t_repeat_d:.2f} s, speed-up {t_first_d / t_repeat_d:.2f}x")


if __name__ == "__main__":
    main()
