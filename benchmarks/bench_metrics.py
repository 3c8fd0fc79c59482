"""Evaluation throughput: lightning-gans vs torch-fidelity, and a repeat evaluation with cached real statistics.

Timed the same way on the same images (uint8, 3x32x32, resized to 299 by Inception), each from
scratch — **network construction and weight loading included for both**:

1. torch-fidelity ``calculate_metrics(isc, fid, kid)`` on (generated, real), its defaults otherwise
   (its data loader then starts 4 worker processes);
2. the same with ``save_cpu_ram=True`` (no worker processes: images are read in-process, as ours are);
3. ours, first evaluation: build ``InceptionV3Extractor`` from the weights file, real and generated
   features, real statistics (mean, covariance and its square root), FID/IS/KID — what
   ``GANMetrics`` does on its first evaluation;
4. ours, repeat evaluation: generated features and metrics only, with the extractor already built and
   the real statistics cached — what ``GANMetrics`` does at every later evaluation of a run.

Each round runs 1-3 in an order that rotates from round to round (then 4); reported are the median
wall and CPU (``time.process_time``, this process only) times over ``--rounds`` and the median of
the per-round ratios. The headline ratio is by CPU time against variant 2, which, like ours, does all
its work in this process (variant 1's loader workers are other processes, whose CPU time is not
counted); on a shared machine wall times are too noisy to compare (printed as well).

Offline there are no Inception weights: the benchmark builds a random-weight file (same network,
same cost) unless ``--weights`` points at the real one. Also prints the same first/repeat ratio for
the embedded digits classifier.

    python benchmarks/bench_metrics.py [--n 48] [--rounds 3] [--weights PATH]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

from lightning_gans.data import load_digits_tensor
from lightning_gans.evaluation import DigitsClassifier, InceptionV3Extractor, RealStatistics, compute_metrics, extract

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: tests/ holds the random-weight Inception
from tests.random_inception import ImageTensorDataset, save_random_inception_weights


def ours(extractor: nn.Module, fake: torch.Tensor, real: torch.Tensor, real_stats: RealStatistics | None, **kw):
    """One evaluation; computes real statistics when ``real_stats`` is None. Returns (metrics, real_stats)."""
    if real_stats is None:
        real_stats = RealStatistics.from_features(extract(extractor, real.split(64), (0.0, 1.0))[0])
    features, logits = extract(extractor, fake.split(64), (0.0, 1.0))
    return compute_metrics(features, logits, real_stats, **kw), real_stats


def timed(fn):
    """Run ``fn``; return (its result, wall seconds, CPU seconds of this process)."""
    t, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - t, time.process_time() - c


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=48, help="generated and real images each")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; the order of the variants rotates")
    parser.add_argument("--weights", default=None, help="Inception weights file (default: a random-weight one)")
    args = parser.parse_args()
    import torch_fidelity

    torch.manual_seed(0)
    n = args.n
    fake_u8 = torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8)
    real_u8 = (torch.rand(n, 3, 32, 32) ** 2 * 255).round().to(torch.uint8)
    fake, real = fake_u8.float() / 255, real_u8.float() / 255
    kw = dict(kid_subsets=100, kid_subset_size=n, isc_splits=4)
    print(f"# command: python benchmarks/bench_metrics.py {' '.join(sys.argv[1:])}".rstrip())
    print(
        f"# Inception-v3 (2048 features), {n} generated + {n} real images of 3x32x32, "
        f"CPU threads={torch.get_num_threads()}, {args.rounds} rounds, construction + weight loading timed for all"
    )
    with tempfile.TemporaryDirectory() as tmp:
        weights = args.weights or save_random_inception_weights(f"{tmp}/random-inception.pth")

        def theirs(save_cpu_ram: bool):
            return torch_fidelity.calculate_metrics(
                input1=ImageTensorDataset(fake_u8),
                input2=ImageTensorDataset(real_u8),
                cuda=False,
                isc=True,
                fid=True,
                kid=True,
                feature_extractor_weights_path=weights,
                cache=False,
                verbose=False,
                save_cpu_ram=save_cpu_ram,
                **kw,  # same names in both APIs
            )

        def first():
            return ours(InceptionV3Extractor(weights), fake, real, None, **kw)

        variants = {
            "torch-fidelity (defaults, 4 loader workers)": lambda: theirs(False),
            "torch-fidelity (save_cpu_ram, no workers)": lambda: theirs(True),
            "ours, first evaluation": first,
        }
        names = list(variants)
        times = {name: [] for name in [*names, "ours, repeat (cached real stats)"]}
        results = {}
        for r in range(args.rounds):
            for name in names[r % 3 :] + names[: r % 3]:  # rotate the order
                results[name], wall, cpu = timed(variants[name])
                times[name].append((wall, cpu))
            _metrics, stats = results["ours, first evaluation"]
            extractor = InceptionV3Extractor(
                weights
            )  # built outside the timing: GANMetrics keeps it between evaluations
            _, wall, cpu = timed(lambda e=extractor, s=stats: ours(e, fake, real, s, **kw))
            times["ours, repeat (cached real stats)"].append((wall, cpu))

    med = statistics.median
    print("| variant | wall s (median) | CPU s (median) | per-round wall s |")
    print("|---|---|---|---|")
    for name, ts in times.items():
        print(
            f"| {name} | {med(w for w, _ in ts):.1f} | {med(c for _, c in ts):.1f} | {', '.join(f'{w:.1f}' for w, _ in ts)} |"
        )
    theirs_res, ours_res = results[names[1]], results["ours, first evaluation"][0]
    print(
        f"values: torch-fidelity FID {theirs_res['frechet_inception_distance']:.4f} IS {theirs_res['inception_score_mean']:.4f} "
        f"KID {theirs_res['kernel_inception_distance_mean']:.6f}; ours FID {ours_res['fid']:.4f} IS {ours_res['is']:.4f} "
        f"KID {ours_res['kid']:.6f}"
    )

    def ratios(slow: str, fast: str, which: int) -> str:
        per_round = [a[which] / b[which] for a, b in zip(times[slow], times[fast])]
        return f"median {med(per_round):.2f}x (per round {', '.join(f'{x:.2f}' for x in per_round)})"

    ours_first, ours_repeat = "ours, first evaluation", "ours, repeat (cached real stats)"
    for name in names[:2]:
        print(f"throughput ours / {name}: CPU time {ratios(name, ours_first, 1)}; wall {ratios(name, ours_first, 0)}")
    print(
        f"headline (CPU time, this process; the no-worker variant does all its work in-process too): "
        f"ours / torch-fidelity {ratios(names[1], ours_first, 1)} (target >= 1.0x)"
    )
    print(
        f"repeat speed-up first/repeat: CPU time {ratios(ours_first, ours_repeat, 1)}; wall {ratios(ours_first, ours_repeat, 0)} "
        f"(target >= 1.8x; first includes building the network)"
    )

    images = load_digits_tensor()[0]
    digits = DigitsClassifier.pretrained()
    fake_d, real_d = (images[torch.randperm(len(images))[:1000]] + 1) / 2, (images + 1) / 2
    kw_d = dict(kid_subsets=100, kid_subset_size=1000, isc_splits=10)
    (_, stats_d), t_first_d, _ = timed(lambda: ours(DigitsClassifier.pretrained(), fake_d, real_d, None, **kw_d))
    _, t_repeat_d, _ = timed(lambda: ours(digits, fake_d, real_d, stats_d, **kw_d))
    print(
        f"Digits classifier, 1000 generated + {len(images)} real images: first {t_first_d:.2f} s, "
        f"repeat {t_repeat_d:.2f} s, speed-up {t_first_d / t_repeat_d:.2f}x"
    )


if __name__ == "__main__":
    main()
