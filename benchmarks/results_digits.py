"""Digits results: FID / IS / KID with the embedded digits classifier for GAN, WGAN, WGAN-GP.

scikit-learn's 1,797 handwritten 8x8 digits (no download), DCGAN nets at 8x8, the same number of
**generator** updates for every row (``--generator-steps``; ``max_steps = generator_steps *
(n_critic + 1)``), the papers' optimizer defaults (see ``results_toy.py``), batch 64.

Rows: GAN (batch-norm critic, as in DCGAN); GAN + ``SpectralNorm`` (Miyato et al. 2018; critic
without batch norm); WGAN (weight clipping, batch-norm critic as in the WGAN paper); WGAN-GP
(layer-norm critic, as the WGAN-GP paper recommends); WGAN-GP + ``LSUVInit`` (Mishkin & Matas 2016).

Metrics: ``GANMetrics(feature_extractor="digits")`` at the end of training on ``--num-samples``
generated images against all 1,797 real digits: FID on the classifier's 64 penultimate features,
IS on its 10 logits, KID (100 subsets of 1,000). These numbers are only comparable with other
numbers from the same classifier. Two reference rows, no training: ``real digits, half vs half``
compares two disjoint random halves of the real digits (898 vs 899 images, KID subsets of 898):
the finite-sample floor of FID/KID, measured rather than assumed to be 0, at a smaller sample size
than the model rows (so an upper bound on their floor); ``real digits, all`` is the IS of all real
images (the ceiling of IS for this classifier).

    python benchmarks/results_digits.py                 # every row on seeds 0 1 2
    python benchmarks/results_digits.py --rows          # the reference rows only (seconds)
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lightning as L
import torch
from _common import machine, quiet

from lightning_gans import GAN, WGAN, WGANGP, DigitsDataModule
from lightning_gans.callbacks import GANMetrics, LSUVInit, SpectralNorm
from lightning_gans.data import load_digits_tensor
from lightning_gans.evaluation import DigitsClassifier, RealStatistics, compute_metrics, extract, inception_score
from lightning_gans.nets import DCGANCritic, DCGANGenerator

LATENT = 32
# row name -> (module class, critic norm, extra callbacks factory)
ROWS = {
    "GAN": (GAN, "batch", list),
    "GAN + SpectralNorm": (GAN, "none", lambda: [SpectralNorm()]),
    "WGAN": (WGAN, "batch", list),
    "WGAN-GP": (WGANGP, "layer", list),
    "WGAN-GP + LSUVInit": (WGANGP, "layer", lambda: [LSUVInit()]),
}


def run_row(name: str, generator_steps: int, base_channels: int, num_samples: int, seed: int) -> tuple[dict, float]:
    L.seed_everything(seed, verbose=False)
    cls, norm, extra = ROWS[name]
    model = cls(
        DCGANGenerator(latent_dim=LATENT, image_size=8, channels=1, base_channels=base_channels),
        DCGANCritic(image_size=8, channels=1, base_channels=base_channels, norm=norm),
        latent_dim=LATENT,
        noise_seed=seed,
    )
    metrics = GANMetrics(
        num_samples=num_samples,
        feature_extractor="digits",
        every_n_epochs=None,
        at_train_end=True,
        on_validate=False,
        on_test=False,
        cache=False,
        seed=seed,
    )
    trainer = L.Trainer(
        accelerator="cpu",
        devices=1,
        max_steps=generator_steps * (model.n_critic + 1),
        logger=False,
        enable_progress_bar=False,
        enable_checkpointing=False,
        enable_model_summary=False,
        callbacks=[*extra(), metrics],
    )
    t0 = time.perf_counter()
    trainer.fit(model, DigitsDataModule(batch_size=64))
    assert model.generator_steps == generator_steps
    return metrics.last_metrics, time.perf_counter() - t0


def real_halves(seed: int) -> dict:
    """FID/IS/KID of one random half of the real digits against the other half (no generator involved)."""
    images, _ = load_digits_tensor()
    perm = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))
    half_a, half_b = images[perm[: len(images) // 2]], images[perm[len(images) // 2 :]]
    classifier = DigitsClassifier.pretrained()
    real = RealStatistics.from_features(extract(classifier, half_a.split(256), (-1.0, 1.0))[0])
    features, logits = extract(classifier, half_b.split(256), (-1.0, 1.0))
    return compute_metrics(features, logits, real, kid_subset_size=min(1000, len(half_a)), seed=seed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--generator-steps", type=int, default=500)
    parser.add_argument("--base-channels", type=int, default=64)
    parser.add_argument("--num-samples", type=int, default=2000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="one training run per seed and row")
    parser.add_argument(
        "--rows", nargs="*", default=list(ROWS), choices=list(ROWS), help="model rows (none: references only)"
    )
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    quiet(args.threads)

    print(f"# command: python benchmarks/results_digits.py {' '.join(sys.argv[1:])}".rstrip())
    print(
        f"# budget: {args.generator_steps} generator updates per row, batch 64, DCGAN 8x8 base {args.base_channels}, "
        f"latent {LATENT}; {args.num_samples} generated vs 1797 real; seeds {args.seeds}"
    )
    print(f"# machine: {machine()}")
    seeds = ", ".join(map(str, args.seeds))
    print(
        f"| model | FID, seeds {seeds} | FID mean [min, max] | IS mean [min, max] | KID mean [min, max] | train + eval time per run (s) |"
    )
    print("|---|---|---|---|---|---|")
    images, _ = load_digits_tensor()
    _, logits = extract(DigitsClassifier.pretrained(), images.split(256), (-1.0, 1.0))
    real_is, real_is_std = inception_score(logits, 10, args.seeds[0])
    halves = [real_halves(seed) for seed in args.seeds]
    half_fid = [h["fid"] for h in halves]
    print(
        f"| real digits, half vs half (reference) | {' / '.join(f'{v:.2f}' for v in half_fid)} | "
        f"{_spread(half_fid)} | {_spread([h['is'] for h in halves])} | {_spread([h['kid'] for h in halves])} | - |"
    )
    print(
        f"| real digits, all (IS reference) | - | - | {real_is:.2f} ± {real_is_std:.2f} (std over splits) | - | - |",
        flush=True,
    )
    for name in args.rows:
        runs = [run_row(name, args.generator_steps, args.base_channels, args.num_samples, seed) for seed in args.seeds]
        fid, is_, kid = ([m[f"eval/{k}"] for m, _ in runs] for k in ("fid", "is", "kid"))
        seconds = sum(t for _, t in runs) / len(runs)
        print(
            f"| {name} | {' / '.join(f'{v:.2f}' for v in fid)} | {_spread(fid)} | {_spread(is_)} | {_spread(kid)} | {seconds:.0f} |",
            flush=True,
        )


def _spread(values: list[float]) -> str:
    """``mean [min, max]`` with two decimals."""
    return f"{sum(values) / len(values):.2f} [{min(values):.2f}, {max(values):.2f}]"


if __name__ == "__main__":
    main()
