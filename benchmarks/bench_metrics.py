"""Evaluation speed: lightning-gans' ``Evaluator`` vs torch-fidelity's ``calculate_metrics``, cold and warm.

Same images (uint8, 3x32x32, resized to 299x299 by Inception), same weights file, same metrics (FID,
IS, KID with the same subsets and splits), one thread (torch and BLAS), CPU time of this process:

cold (a first evaluation, **network construction and weight loading included on both sides**)
    1. torch-fidelity ``calculate_metrics(isc, fid, kid)``, its defaults otherwise (its loader then
       starts 4 worker processes, whose CPU time is not counted: compare its wall time);
    2. the same with ``save_cpu_ram=True`` (no workers: all the work in this process, as ours);
    3. ours: build an ``Evaluator`` on ``InceptionV3Extractor(weights)``, real statistics (features,
       mean, covariance and its square root), generated features, ``compute`` — what ``GANMetrics``
       and ``lightning-gans evaluate`` do on a first evaluation.
warm (a repeat evaluation, **real statistics cached on both sides**)
    4. torch-fidelity with ``save_cpu_ram=True``, ``cache=True`` and ``input2_cache_name`` (its
       real features read from its disk cache, filled before the timing); as at every call of its API,
       it builds its network again;
    5. ours: the same ``Evaluator`` again (network built, real statistics in memory), generated
       features and ``compute`` — what ``GANMetrics`` does at every later evaluation of a run.

Each round runs the five variants in an order rotated by one from round to round; printed are every
round's times, the medians, and the median of the per-round ratios (CPU time; wall time beside it).
Headlines: cold = 2 / 3 (target >= 1.0x), warm = 4 / 5 (target >= 2.0x). The FID/IS/KID values of
both libraries are printed with their relative difference (parity, not only speed). ``--forward``
adds the two networks alone, built beforehand, on the same 2n images (rotated with the rest): with
10,000 images per set the forward passes are nearly all of an evaluation, on both sides.

Offline there are no Inception weights: a random-weight file (same network, same cost) is built unless
``--weights`` points at the real one. Also prints the first/repeat ratio for the digits classifier.

    python benchmarks/bench_metrics.py [--n 48] [--rounds 3] [--weights PATH] [--feature-layer 2048] [--forward]
    python benchmarks/bench_metrics.py --tiny    # 4 images, 64 features, 1 round: the suite runs this
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from threadpoolctl import threadpool_limits

from lightning_gans.data import load_digits_tensor
from lightning_gans.evaluation import DigitsClassifier, Evaluator, InceptionV3Extractor

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: tests/ holds the random-weight Inception
from tests.random_inception import ImageTensorDataset, save_random_inception_weights

TF_DEFAULTS = "torch-fidelity, cold (defaults: 4 loader workers)"
TF_COLD = "torch-fidelity, cold (save_cpu_ram: no workers)"
OURS_COLD = "ours, cold (first evaluation)"
TF_WARM = "torch-fidelity, warm (real features in its cache)"
OURS_WARM = "ours, warm (repeat: real statistics in memory)"
TF_FORWARD = "torch-fidelity, network forward only (built)"
OURS_FORWARD = "ours, network forward only (built)"
METRICS = ("fid", "is", "kid")


def timed(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    """Run ``fn``; return (its result, wall seconds, CPU seconds of this process)."""
    t, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - t, time.process_time() - c


def machine() -> str:
    """CPU model, cores, library versions and the load when the benchmark started."""
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            model = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    import torch_fidelity

    load = ", ".join(f"{x:.1f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    return (
        f"{model}, {os.cpu_count()} cores (load average {load}), Python {platform.python_version()}, "
        f"torch {torch.__version__}, torch-fidelity {torch_fidelity.__version__}, 1 thread"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=48, help="generated and real images each")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; the order of the variants rotates")
    parser.add_argument("--weights", default=None, help="Inception weights file (default: a random-weight one)")
    parser.add_argument(
        "--feature-layer", default="2048", choices=["64", "192", "768", "2048"], help="FID/KID features"
    )
    parser.add_argument("--tiny", action="store_true", help="4 images, 64 features, 1 round (a smoke test)")
    parser.add_argument(
        "--forward", action="store_true", help="also time the networks alone (what dominates at 10,000 images)"
    )
    args = parser.parse_args()
    if args.tiny:
        args.n, args.rounds, args.feature_layer = 4, 1, "64"
    torch.set_num_threads(1)
    threadpool_limits(1)  # numpy's BLAS/LAPACK too (torch-fidelity's eigvals, both KIDs)
    warnings.simplefilter("ignore", UserWarning)  # FID on fewer images than features warns on both sides
    import torch_fidelity

    n, layer = args.n, args.feature_layer
    torch.manual_seed(0)
    fake_u8 = torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8)
    real_u8 = (torch.rand(n, 3, 32, 32) ** 2 * 255).round().to(torch.uint8)  # darker: the sets differ
    fake, real = fake_u8.float() / 255, real_u8.float() / 255
    kw = dict(kid_subsets=100, kid_subset_size=n, isc_splits=4)  # same names in both APIs
    print(f"# command: python benchmarks/bench_metrics.py {' '.join(sys.argv[1:])}".rstrip())
    print(f"# machine: {machine()}")
    print(
        f"# Inception-v3 ({layer} features for FID/KID, logits for IS), {n} generated + {n} real images of 3x32x32, "
        f"{args.rounds} round(s), weights: {'--weights file' if args.weights else 'random-weight file'}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        weights = args.weights or save_random_inception_weights(f"{tmp}/random-inception.pth")

        def theirs(save_cpu_ram: bool, cached_real: bool = False) -> dict[str, float]:
            cache = dict(cache=True, cache_root=f"{tmp}/tf-cache", input2_cache_name="bench-real")
            return torch_fidelity.calculate_metrics(
                input1=ImageTensorDataset(fake_u8),
                input2=ImageTensorDataset(real_u8),
                cuda=False,
                isc=True,
                fid=True,
                kid=True,
                feature_extractor_weights_path=weights,
                feature_layer_fid=layer,
                feature_layer_kid=layer,
                verbose=False,
                save_cpu_ram=save_cpu_ram,
                **(cache if cached_real else dict(cache=False)),
                **kw,
            )

        def evaluator() -> Evaluator:
            extractor = InceptionV3Extractor(weights, feature_layer=layer)
            return Evaluator(extractor, metrics=METRICS, num_samples=n, data_range=(0, 1), cache=False, **kw)

        def evaluate(ev: Evaluator) -> dict[str, float]:
            real_stats = ev.real_statistics(real)  # computed on a first evaluation, from memory on a repeat
            return ev.compute(ev.features(fake, "generated samples"), real_stats)

        warm = evaluator()
        evaluate(warm)  # untimed: builds the network and keeps the real statistics, as after a first evaluation
        theirs(True, cached_real=True)  # untimed: fills torch-fidelity's cache with the real features
        variants: dict[str, Callable[[], dict[str, float]]] = {
            TF_DEFAULTS: lambda: theirs(False),
            TF_COLD: lambda: theirs(True),
            OURS_COLD: lambda: evaluate(evaluator()),
            TF_WARM: lambda: theirs(True, cached_real=True),
            OURS_WARM: lambda: evaluate(warm),
        }
        if args.forward:  # both networks built once; torch-fidelity's loader batches are 64 images
            from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

            tf_net = FeatureExtractorInceptionV3("inception-v3-compat", [layer, "logits_unbiased"], weights)
            our_net = InceptionV3Extractor(weights, feature_layer=layer)
            both = torch.cat([fake_u8, real_u8])
            variants[TF_FORWARD] = torch.no_grad()(lambda: [tf_net(b) for b in both.split(64)])
            variants[OURS_FORWARD] = lambda: our_net(both / 255)
        names = list(variants)
        times: dict[str, list[tuple[float, float]]] = {name: [] for name in names}
        results: dict[str, Any] = {}
        for r in range(args.rounds):
            for name in names[r % len(names) :] + names[: r % len(names)]:  # rotate the order
                results[name], wall, cpu = timed(variants[name])
                times[name].append((wall, cpu))
                print(f"# round {r + 1}: {name}: CPU {cpu:.2f} s, wall {wall:.2f} s", file=sys.stderr, flush=True)

    med = statistics.median
    print("\n| variant | CPU s (median) | wall s (median) | CPU s per round |")
    print("|---|---|---|---|")
    for name, ts in times.items():
        per_round = ", ".join(f"{c:.2f}" for _, c in ts)
        print(f"| {name} | {med(c for _, c in ts):.2f} | {med(w for w, _ in ts):.2f} | {per_round} |")

    def ratio(slow: str, fast: str, which: int) -> tuple[float, str]:
        per_round = [a[which] / b[which] for a, b in zip(times[slow], times[fast])]
        return med(per_round), ", ".join(f"{x:.2f}" for x in per_round)

    print("\n| ratio (median of per-round ratios) | CPU time | per round | wall time | target |")
    print("|---|---|---|---|---|")
    rows = [
        ("cold: torch-fidelity (no workers) / ours", TF_COLD, OURS_COLD, ">= 1.0x"),
        ("cold: torch-fidelity (4 workers, wall only) / ours", TF_DEFAULTS, OURS_COLD, ""),
        ("warm: torch-fidelity (cached real) / ours", TF_WARM, OURS_WARM, ">= 2.0x"),
        ("ours: cold / warm", OURS_COLD, OURS_WARM, ""),
    ]
    if args.forward:
        rows.append((f"forward only, {2 * n} images: torch-fidelity / ours", TF_FORWARD, OURS_FORWARD, ""))
    for label, slow, fast, target in rows:
        (cpu, cpu_rounds), (wall, _) = ratio(slow, fast, 1), ratio(slow, fast, 0)
        cpu_cell = "n/a (workers not counted)" if slow == TF_DEFAULTS else f"**{cpu:.2f}x**"
        print(f"| {label} | {cpu_cell} | {'' if slow == TF_DEFAULTS else cpu_rounds} | {wall:.2f}x | {target} |")

    keys = {"fid": "frechet_inception_distance", "is": "inception_score_mean", "kid": "kernel_inception_distance_mean"}
    for side, (tf_name, our_name) in {"cold": (TF_COLD, OURS_COLD), "warm": (TF_WARM, OURS_WARM)}.items():
        tf_res, our_res = results[tf_name], results[our_name]
        cells = [
            f"{k.upper()} {our_res[k]:.6g} vs {tf_res[v]:.6g} (rel. diff {abs(our_res[k] / tf_res[v] - 1):.1e})"
            for k, v in keys.items()
        ]
        print(f"values {side}, ours vs torch-fidelity: " + "; ".join(cells))

    images = load_digits_tensor()[0]
    n_digits = 200 if args.tiny else 1000
    fake_d, real_d = (images[torch.randperm(len(images))[:n_digits]] + 1) / 2, (images + 1) / 2
    kw_d = dict(kid_subsets=100, kid_subset_size=n_digits, isc_splits=10)

    def digits(ev: Evaluator | None = None) -> Evaluator:
        ev = ev or Evaluator(DigitsClassifier.pretrained(), metrics=METRICS, data_range=(0, 1), cache=False, **kw_d)
        ev.compute(ev.features(fake_d), ev.real_statistics(real_d))
        return ev

    ev_d, t_first, _ = timed(digits)
    _, t_repeat, _ = timed(lambda: digits(ev_d))
    print(
        f"Digits classifier, {n_digits} generated + {len(images)} real images: first {t_first:.2f} s, "
        f"repeat {t_repeat:.2f} s, first/repeat {t_first / t_repeat:.2f}x (wall)"
    )


if __name__ == "__main__":
    main()
