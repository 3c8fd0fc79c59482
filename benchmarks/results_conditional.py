"""Conditional digits: projection vs concatenation vs AC-GAN, with class accuracy and intra-FID.

scikit-learn's 1,797 handwritten 8x8 digits (no download), labels 0-9. Every row: conditional DCGAN
generator (conditional BatchNorm and a 10-dim class embedding concatenated to the noise, latent 32, base 64), DCGAN critic without normalisation layers
under ``SpectralNorm`` (Miyato et al. 2018), non-saturating loss, Adam 2e-4 betas (0.5, 0.999),
``n_critic=1``, batch 64, the same ``--generator-steps`` for every row. Rows differ only in how the
critic sees the label:

* ``projection``: ``GAN`` with ``DCGANCritic(conditioning="projection")`` (Miyato & Koyama 2018);
* ``projection, CBN only``: the same with ``DCGANGenerator(embedding_dim=0)``: the generator conditions
  through conditional BatchNorm alone, without the class embedding concatenated to the noise;
* ``concat``: ``GAN`` with ``DCGANCritic(conditioning="concat")``, one-hot label channels at the input;
* ``AC-GAN``: ``ACGAN(classifier_weight=1)`` with ``DCGANCritic(conditioning="auxiliary")`` (Odena et al. 2017);
* ``unconditional`` (reference): ``GAN`` + SpectralNorm with unconditional nets.

Metrics: ``GANMetrics(feature_extractor="digits")`` at the end of training, on ``--num-samples``
generated images (image ``i`` of class ``i mod 10``) against all 1,797 real digits: FID, the
digits classifier's accuracy on the requested class (overall and per class) and intra-FID (FID
within each class, on the classifier's 64 penultimate features; ~180 real and 200 generated images
per class). For the unconditional row, "accuracy" compares with labels it never saw (chance: 0.1).
Reference: the classifier's accuracy on the real digits themselves.

    python benchmarks/results_conditional.py
    python benchmarks/results_conditional.py --generator-steps 500 --rows projection   # a quick look
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

from lightning_gans import ACGAN, GAN, DigitsDataModule
from lightning_gans.callbacks import GANMetrics, SpectralNorm
from lightning_gans.data import load_digits_tensor
from lightning_gans.evaluation import DigitsClassifier, extract
from lightning_gans.evaluation.conditional import class_accuracy
from lightning_gans.nets import DCGANCritic, DCGANGenerator

LATENT = 32
ROWS = {  # row -> (module class, critic conditioning or None for unconditional, generator's embedding_dim)
    "projection": (GAN, "projection", None),
    "concat": (GAN, "concat", None),
    "AC-GAN": (ACGAN, "auxiliary", None),
    "projection, CBN only": (GAN, "projection", 0),
    "unconditional": (GAN, None, None),
}


def run_row(name: str, generator_steps: int, base_channels: int, num_samples: int, seed: int) -> tuple[dict, float]:
    L.seed_everything(seed, verbose=False)
    cls, conditioning, embedding_dim = ROWS[name]
    k = None if conditioning is None else 10
    critic_kw = {} if conditioning is None else {"conditioning": conditioning}
    generator_kw = {} if embedding_dim is None else {"embedding_dim": embedding_dim}
    model = cls(
        DCGANGenerator(
            latent_dim=LATENT, image_size=8, channels=1, base_channels=base_channels, num_classes=k, **generator_kw
        ),
        DCGANCritic(image_size=8, channels=1, base_channels=base_channels, norm="none", num_classes=k, **critic_kw),
        latent_dim=LATENT,
        num_classes=k,
        noise_seed=seed,
    )
    metrics = GANMetrics(
        num_samples=num_samples,
        feature_extractor="digits",
        metrics=("fid",),
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
        callbacks=[SpectralNorm(), metrics],
    )
    t0 = time.perf_counter()
    trainer.fit(model, DigitsDataModule(batch_size=64, conditional=k is not None))
    assert model.generator_steps == generator_steps
    result = dict(metrics.last_metrics)
    if k is None:  # what an unconditional generator's samples score against labels i mod 10 (chance)
        labels = torch.arange(num_samples) % 10
        rng = torch.Generator().manual_seed(seed)
        images = torch.cat([model.sample(min(500, num_samples - s), rng=rng) for s in range(0, num_samples, 500)])
        _, logits = extract(DigitsClassifier.pretrained(), images.split(256), (-1.0, 1.0))
        result.update({f"eval/{key}": v for key, v in class_accuracy(logits, labels, 10).items()})
    return result, time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--generator-steps", type=int, default=2000)
    parser.add_argument("--base-channels", type=int, default=64)
    parser.add_argument("--num-samples", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rows", nargs="*", default=list(ROWS), choices=list(ROWS))
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    quiet(args.threads)

    print(f"# command: python benchmarks/results_conditional.py {' '.join(sys.argv[1:])}".rstrip())
    print(
        f"# budget: {args.generator_steps} generator updates per row (n_critic 1), batch 64, DCGAN 8x8 base "
        f"{args.base_channels}, latent {LATENT}, SpectralNorm critic; {args.num_samples} generated (i mod 10) vs 1797 real; seed {args.seed}"
    )
    print(f"# machine: {machine()}")
    images, labels = load_digits_tensor()
    _, logits = extract(DigitsClassifier.pretrained(), images.split(256), (-1.0, 1.0))
    real = class_accuracy(logits, labels, 10)
    results = {}
    for name in args.rows:
        results[name] = run_row(name, args.generator_steps, args.base_channels, args.num_samples, args.seed)
        m, seconds = results[name]
        print(f"# {name}: done in {seconds:.0f} s", flush=True)

    print(
        "\n| critic conditioning | FID | intra-FID (mean of 10) | class accuracy | min class accuracy | train + eval time (s) |"
    )
    print("|---|---|---|---|---|---|")
    print(
        f"| real digits (classifier reference) | - | - | {real['class_accuracy']:.3f} | "
        f"{min(real[f'class_accuracy_{k}'] for k in range(10)):.3f} | - |"
    )
    for name, (m, seconds) in results.items():
        intra = f"{m['eval/intra_fid']:.2f}" if "eval/intra_fid" in m else "-"
        print(
            f"| {name} | {m['eval/fid']:.2f} | {intra} | {m['eval/class_accuracy']:.3f} | "
            f"{min(m[f'eval/class_accuracy_{k}'] for k in range(10)):.3f} | {seconds:.0f} |"
        )

    print("\nPer-class accuracy of the digits classifier on the requested class:\n")
    print("| row | " + " | ".join(str(k) for k in range(10)) + " |")
    print("|---|" + "---|" * 10)
    print("| real digits | " + " | ".join(f"{real[f'class_accuracy_{k}']:.2f}" for k in range(10)) + " |")
    for name, (m, _) in results.items():
        print(f"| {name} | " + " | ".join(f"{m[f'eval/class_accuracy_{k}']:.2f}" for k in range(10)) + " |")

    print("\nPer-class intra-FID:\n")
    print("| row | " + " | ".join(str(k) for k in range(10)) + " |")
    print("|---|" + "---|" * 10)
    for name, (m, _) in results.items():
        if "eval/intra_fid" in m:
            print(f"| {name} | " + " | ".join(f"{m[f'eval/intra_fid_{k}']:.1f}" for k in range(10)) + " |")


if __name__ == "__main__":
    main()
