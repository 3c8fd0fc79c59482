"""Why LSUV hurt WGAN-GP on the digits, and which layers it must leave alone.

The README's digits table measured WGAN-GP at FID ~15 and WGAN-GP + ``LSUVInit`` (Mishkin & Matas
2016, https://arxiv.org/abs/1511.06422) at FID ~63. This script trains the same row
(``benchmarks/results_digits.py``: DCGAN nets at 8x8, base 64, latent 32, layer-norm critic, batch
64, WGAN-GP's defaults, ``--generator-steps`` generator updates) with LSUV applied to different
parts of the nets, for several seeds, and prints FID / IS / KID with the embedded digits classifier
next to three init-time diagnostics that need no training:

* the critic's input-gradient norm on real/fake interpolates (what the penalty pulls to 1),
* the standard deviation of the critic's scores on real data (its output scale),
* the fraction of generated pixels with ``|x| > 0.99`` (tanh saturation of the generator's output layer).

    python benchmarks/lsuv_digits.py                         # none / default / every layer / scale only, seeds 0 1 2
    python benchmarks/lsuv_digits.py --variants generator critic --seeds 0
    python benchmarks/lsuv_digits.py --variants none all --seeds 0
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lightning as L
import torch

from lightning_gans import WGANGP, DigitsDataModule
from lightning_gans.callbacks import GANMetrics, LSUVInit
from lightning_gans.callbacks.lsuv import LSUV_LAYERS, _normalization_fed
from lightning_gans.data import load_digits_tensor
from lightning_gans.nets import DCGANCritic, DCGANGenerator
from lightning_gans.penalties import gradient_norms, input_gradients

LATENT = 32


class ScaleNormalizedLayers(L.Callback):
    """No LSUV: multiply the generator's BatchNorm-fed weights by ``factor`` at fit start (the function is unchanged).

    Isolates the mechanism: if FID degrades as with LSUV, the weight scale of a normalisation-fed
    layer (its effective learning rate under Adam) is the cause, not the orthonormal pre-init.
    """

    def __init__(self, factor: float) -> None:
        self.factor = factor

    def on_fit_start(self, trainer, pl_module) -> None:
        net = pl_module.generator
        z = torch.randn(
            64, LATENT, generator=torch.Generator().manual_seed(0)
        )  # not the global RNG: data order unchanged
        net.eval()  # running statistics untouched
        with torch.no_grad():
            fed = _normalization_fed(
                net, {n: m for n, m in net.named_modules() if isinstance(m, LSUV_LAYERS)}, lambda: net(z)
            )
        net.train()
        with torch.no_grad():
            for name, module in pl_module.generator.named_modules():
                if name in fed:
                    module.weight.mul_(self.factor)


VARIANTS: dict[str, tuple[str, Callable[[], list]]] = {
    "none": ("WGAN-GP", list),
    "default": ("+ `LSUVInit()` (normalisation-fed layers left alone, the default)", lambda: [LSUVInit()]),
    "all": (
        "+ `LSUVInit(normalized_layers=True)` (every layer of both nets, Mishkin & Matas)",
        lambda: [LSUVInit(normalized_layers=True)],
    ),
    "scale10": ("no LSUV, generator's BatchNorm-fed weights x10", lambda: [ScaleNormalizedLayers(10.0)]),
    "generator": (
        "+ `LSUVInit(critic=False, normalized_layers=True)`",
        lambda: [LSUVInit(critic=False, normalized_layers=True)],
    ),
    "critic": (
        "+ `LSUVInit(generator=False, normalized_layers=True)`",
        lambda: [LSUVInit(generator=False, normalized_layers=True)],
    ),
    "no-output": (
        "+ `LSUVInit(output_layers=False, normalized_layers=True)`",
        lambda: [LSUVInit(output_layers=False, normalized_layers=True)],
    ),
    "generator-no-output": (
        "+ `LSUVInit(critic=False, output_layers=False, normalized_layers=True)`",
        lambda: [LSUVInit(critic=False, output_layers=False, normalized_layers=True)],
    ),
}


class _InitDiagnostics(L.Callback):
    """Measured once, after LSUV (which runs in ``on_fit_start``), before the first update."""

    def __init__(self) -> None:
        self.values: dict[str, float] = {}

    def on_train_start(self, trainer, pl_module) -> None:
        real = load_digits_tensor()[0][:256]
        rng = torch.Generator().manual_seed(0)
        with torch.no_grad():
            fake = pl_module.generate(torch.randn(256, LATENT, generator=rng))
            scores = pl_module.discriminate(real)
        eps = torch.rand(256, 1, 1, 1, generator=rng)
        x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
        with torch.enable_grad():
            norms = gradient_norms(input_gradients(pl_module.discriminate, x_hat, create_graph=False))
        self.values = {
            "grad_norm": float(norms.mean()),
            "score_std": float(scores.std()),
            "saturated": float((fake.abs() > 0.99).float().mean()),
        }


def run(variant: str, seed: int, generator_steps: int, num_samples: int) -> tuple[dict, dict, float]:
    L.seed_everything(seed, verbose=False)
    model = WGANGP(
        DCGANGenerator(latent_dim=LATENT, image_size=8, channels=1, base_channels=64),
        DCGANCritic(image_size=8, channels=1, base_channels=64, norm="layer"),
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
    diagnostics = _InitDiagnostics()
    trainer = L.Trainer(
        accelerator="cpu",
        devices=1,
        max_steps=generator_steps * (model.n_critic + 1),
        logger=False,
        enable_progress_bar=False,
        enable_checkpointing=False,
        enable_model_summary=False,
        callbacks=[*VARIANTS[variant][1](), diagnostics, metrics],
    )
    t0 = time.process_time()
    trainer.fit(model, DigitsDataModule(batch_size=64))
    return metrics.last_metrics, diagnostics.values, time.process_time() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", nargs="+", default=["none", "default", "all", "scale10"], choices=list(VARIANTS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--generator-steps", type=int, default=500)
    parser.add_argument("--num-samples", type=int, default=2000)
    args = parser.parse_args()
    from _common import quiet  # the script's directory: on sys.path when run as a script

    quiet()
    print(f"# command: python benchmarks/lsuv_digits.py {' '.join(sys.argv[1:])}".rstrip())
    print(
        f"# WGAN-GP, DCGAN 8x8 base 64, layer-norm critic, latent {LATENT}, batch 64, {args.generator_steps} generator "
        f"steps; {args.num_samples} generated vs 1797 real digits"
    )
    print(
        "| variant | seed | critic input-grad norm at init | critic score std at init | saturated pixels at init | FID | IS | KID | CPU s |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for variant in args.variants:
        for seed in args.seeds:
            m, d, cpu = run(variant, seed, args.generator_steps, args.num_samples)
            print(
                f"| {VARIANTS[variant][0]} | {seed} | {d['grad_norm']:.3g} | {d['score_std']:.3g} | {d['saturated']:.1%} | "
                f"{m['eval/fid']:.2f} | {m['eval/is']:.2f} | {m['eval/kid']:.2f} | {cpu:.0f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
