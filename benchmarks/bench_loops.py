"""Beside the loops users copy: PyTorch-GAN's ``gan.py`` and ``wgan_gp.py``, Lightning's GAN example, and ours.

The loops users copy, re-written here in our own words from what they do (their nets, Adam settings,
loop order and batch size; nothing else of theirs is run):

* **PyTorch-GAN ``gan.py``** (eriklindernoren/PyTorch-GAN, ``implementations/gan/gan.py``): per batch of 64,
  one generator step (``BCELoss`` of the sigmoid discriminator on fresh fakes, no ``requires_grad``
  switching) then one discriminator step on the same fakes, detached: ``(BCE(real, 1) + BCE(fake, 0)) / 2``.
* **PyTorch-GAN ``wgan_gp.py``** (``implementations/wgan_gp/wgan_gp.py``): per batch of 64, one critic step
  (fakes generated with the generator's graph kept, Wasserstein loss + 10 x the gradient penalty with
  per-sample interpolation weights); on batches ``i % 5 == 0`` of each epoch, one generator step on the
  same noise. So the first generator update follows one critic update, and each epoch of 62 batches
  makes 13 generator updates (4.8 critic updates per generator update; ours make 5).
* **Lightning's GAN example** (Lightning-AI/pytorch-lightning,
  ``examples/pytorch/domain_templates/generative_adversarial_net.py``): a ``LightningModule`` with manual
  optimisation; per batch of 32 (its ``MNISTDataModule`` default), ``toggle_optimizer`` + generator step
  (BCE with logits), then ``toggle_optimizer`` + discriminator step on a second generator forward of the
  same noise, detached; ``self.log_dict`` of both losses every batch; 8 samples at each epoch end.

Their nets: the generator MLP 100 -> 128 -> 256 -> 512 -> 1024 -> 784 with ``BatchNorm1d(width, 0.8)``
(0.8 is the second positional argument, ``eps``) and LeakyReLU(0.2) after all but the first layer, tanh
out; the discriminator MLP 784 -> 512 -> 256 -> 1 with LeakyReLU(0.2), a sigmoid only in ``gan.py``.
Adam lr 2e-4, betas (0.5, 0.999) everywhere (torch's default Adam, as they build it). Their per-batch
printing, TensorBoard writer and image saving are left out (that favours them).

Our side: the same nets (the critic without the sigmoid: we score logits, ``BCEWithLogits`` maths) in
:class:`lightning_gans.GAN` (non-saturating loss, ``n_critic=1``) and :class:`lightning_gans.WGANGP`
(lambda 10, ``n_critic=5``) in a Lightning ``Trainer``, with the same Adam settings and batch per
update, and the speed options that keep the algorithm: the fused Adam of
:func:`lightning_gans.modules.base.adam`, ``updates_per_batch="cycle"`` (one loader batch of
``(n_critic + 1) x`` the batch per cycle, split into one part per update) and ``fuse_critic_forwards =
True`` (the critic has no buffers, so real and fake are scored in one forward). Our algorithm differs
from theirs where the papers say so: each critic update scores fresh fakes generated without
gradients, the generator update comes after the critic's, the critic is frozen during the generator
update. A second row of ours, "DCGAN-example order", adds ``updates_per_batch="cycle_reuse"``: the
generator update reuses the fakes (graph kept), real part and labels of the cycle's last critic update,
as PyTorch's DCGAN example (and, in the other order, ``gan.py``) do: one generator forward fewer per
cycle, a batch of ``n_critic x`` the batch per cycle. "Our plain loop" is the first row's
algorithm (the papers' order) as a plain PyTorch loop (``_common.run_plain`` style) with the same
fused Adam: what the Lightning machinery costs on top.

Both sides start from the same initial weights and see the same 4,000 MNIST training digits
(:class:`lightning_gans.MNISTDataModule`, [-1, 1], shuffled), and run for the same number of generator
updates. Time is the training's CPU time (``time.process_time``, one torch thread: not inflated by other
processes), trainer construction and ``fit`` included on the Lightning sides. One round per seed, the
order of the runs rotated each round; a round's ratio is ``their CPU seconds / our CPU seconds``
(> 1: we are faster). At the end of every run, FID of 1,000 samples (generator in eval mode, the same
noise for every run) against the 4,000 training digits with the embedded MNIST classifier
(``Evaluator(feature_extractor="mnist")``, comparable only with numbers from that classifier), so a faster
but worse run cannot pass.

    python benchmarks/bench_loops.py                       # the default budget, seeds 0 1 2 (~15 min, 1 thread)
    python benchmarks/bench_loops.py --setups wgan_gp --generator-updates 600
    python benchmarks/bench_loops.py --tiny                # a few updates of everything (< 30 s)
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lightning as L
import torch
import torch.nn.functional as F
from _common import machine, quiet, quiet_trainer
from torch import Tensor, nn

from lightning_gans import GAN, WGANGP, AdversarialModule, MNISTDataModule
from lightning_gans.data.mnist import mnist_split
from lightning_gans.evaluation import Evaluator
from lightning_gans.losses import (
    minimax_critic_loss,
    non_saturating_generator_loss,
    wasserstein_critic_loss,
    wasserstein_generator_loss,
)
from lightning_gans.modules.base import adam as fused_adam
from lightning_gans.penalties import gradient_penalty

LATENT = 100
IMAGE = (1, 28, 28)
LR, BETAS = 2e-4, (0.5, 0.999)  # their Adam, for both nets, in all three


# -- their nets, in our words -----------------------------------------------------------------------
class MLPGenerator(nn.Module):
    """PyTorch-GAN's / Lightning's MLP generator: 100 -> 128 -> 256 -> 512 -> 1024 -> 784, tanh, ``(N, 1, 28, 28)``."""

    def __init__(self, latent_dim: int = LATENT) -> None:
        super().__init__()
        widths = (latent_dim, 128, 256, 512, 1024)
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(itertools.pairwise(widths)):
            layers.append(nn.Linear(a, b))
            if i > 0:
                layers.append(nn.BatchNorm1d(b, 0.8))  # as written there: 0.8 lands on `eps`
            layers.append(nn.LeakyReLU(0.2, inplace=True))
        self.model = nn.Sequential(*layers, nn.Linear(1024, 28 * 28), nn.Tanh())

    def forward(self, z: Tensor) -> Tensor:
        return self.model(z).view(z.shape[0], *IMAGE)  # (N, 1, 28, 28)


class MLPDiscriminator(nn.Module):
    """Their MLP discriminator 784 -> 512 -> 256 -> 1 (``sigmoid=True``: ``gan.py``'s probability; else a logit)."""

    def __init__(self, sigmoid: bool = False) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Linear(28 * 28, 512), nn.LeakyReLU(0.2, inplace=True)]
        layers += [nn.Linear(512, 256), nn.LeakyReLU(0.2, inplace=True), nn.Linear(256, 1)]
        self.model = nn.Sequential(*layers, *([nn.Sigmoid()] if sigmoid else []))

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x.view(x.shape[0], -1))  # (N, 1)


def their_adam(params: Any) -> torch.optim.Optimizer:
    return torch.optim.Adam(params, lr=LR, betas=BETAS)


# -- their loops, in our words ----------------------------------------------------------------------
@dataclass
class Counts:
    generator: int = 0
    critic: int = 0
    batches: int = 0


def _batches(loader: Any) -> Any:
    while True:  # epochs
        yield from enumerate(loader)


def pytorch_gan_gan(g: nn.Module, d: nn.Module, loader: Any, updates: int) -> Counts:
    """``gan.py``: G step on fresh fakes (sigmoid D, ``BCELoss``), then D step on the same fakes detached."""
    bce = nn.BCELoss()
    opt_g, opt_d = their_adam(g.parameters()), their_adam(d.parameters())
    n = Counts()
    for _, (imgs, _) in _batches(loader):
        valid, fake = torch.ones(imgs.shape[0], 1), torch.zeros(imgs.shape[0], 1)
        opt_g.zero_grad()
        gen = g(torch.randn(imgs.shape[0], LATENT))
        g_loss = bce(d(gen), valid)
        g_loss.backward()
        opt_g.step()
        opt_d.zero_grad()
        d_loss = (bce(d(imgs), valid) + bce(d(gen.detach()), fake)) / 2
        d_loss.backward()
        opt_d.step()
        g_loss.item(), d_loss.item()  # their per-batch print reads both losses
        n.generator, n.critic, n.batches = n.generator + 1, n.critic + 1, n.batches + 1
        if n.generator == updates:
            return n
    raise AssertionError("unreachable")


def _their_gradient_penalty(d: nn.Module, real: Tensor, fake: Tensor) -> Tensor:
    alpha = torch.rand(real.shape[0], 1, 1, 1)
    x = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    out = d(x)
    (grad,) = torch.autograd.grad(out, x, torch.ones_like(out), create_graph=True, retain_graph=True)
    return ((grad.view(grad.shape[0], -1).norm(2, dim=1) - 1) ** 2).mean()


def pytorch_gan_wgan_gp(g: nn.Module, d: nn.Module, loader: Any, updates: int, n_critic: int = 5) -> Counts:
    """``wgan_gp.py``: a critic step every batch (fakes keep G's graph); a G step on the same noise when ``i % 5 == 0``."""
    opt_g, opt_d = their_adam(g.parameters()), their_adam(d.parameters())
    n = Counts()
    for i, (imgs, _) in _batches(loader):
        opt_d.zero_grad()
        z = torch.randn(imgs.shape[0], LATENT)
        fake = g(z)
        gp = _their_gradient_penalty(d, imgs, fake.detach())
        d_loss = -d(imgs).mean() + d(fake).mean() + 10 * gp
        d_loss.backward()
        opt_d.step()
        opt_g.zero_grad()
        n.critic, n.batches = n.critic + 1, n.batches + 1
        if i % n_critic == 0:
            g_loss = -d(g(z)).mean()
            g_loss.backward()
            opt_g.step()
            d_loss.item(), g_loss.item()  # their print
            n.generator += 1
            if n.generator == updates:
                return n
    raise AssertionError("unreachable")


THEIR_LOOPS: dict[str, Callable[[nn.Module, nn.Module, Any, int], Counts]] = {
    "gan": pytorch_gan_gan,
    "wgan_gp": pytorch_gan_wgan_gp,
}


class LightningExampleGAN(L.LightningModule):
    """Lightning's ``generative_adversarial_net.py`` GAN module, with manual optimisation as written there."""

    def __init__(self, generator: nn.Module, discriminator: nn.Module) -> None:
        super().__init__()
        self.automatic_optimization = False
        self.generator, self.discriminator = generator, discriminator
        self.validation_z = torch.randn(8, LATENT)
        self.generator_steps = self.critic_steps = 0

    def forward(self, z: Tensor) -> Tensor:
        return self.generator(z)

    def training_step(self, batch: Any) -> None:
        imgs, _ = batch
        opt_g, opt_d = self.optimizers()  # type: ignore[attr-defined]
        z = torch.randn(imgs.shape[0], LATENT).type_as(imgs)
        valid = torch.ones(imgs.size(0), 1).type_as(imgs)
        self.toggle_optimizer(opt_g)
        g_loss = F.binary_cross_entropy_with_logits(self.discriminator(self(z)), valid)
        opt_g.zero_grad()
        self.manual_backward(g_loss)
        opt_g.step()
        self.untoggle_optimizer(opt_g)
        self.toggle_optimizer(opt_d)
        real_loss = F.binary_cross_entropy_with_logits(self.discriminator(imgs), valid)
        fake = torch.zeros(imgs.size(0), 1).type_as(imgs)
        fake_loss = F.binary_cross_entropy_with_logits(self.discriminator(self(z).detach()), fake)
        d_loss = (real_loss + fake_loss) / 2
        opt_d.zero_grad()
        self.manual_backward(d_loss)
        opt_d.step()
        self.untoggle_optimizer(opt_d)
        self.log_dict({"d_loss": d_loss, "g_loss": g_loss})
        self.generator_steps += 1
        self.critic_steps += 1

    def configure_optimizers(self) -> Any:
        return their_adam(self.generator.parameters()), their_adam(self.discriminator.parameters())

    def on_train_epoch_end(self) -> None:
        self(self.validation_z.type_as(next(self.generator.parameters())))  # the example logs these as an image grid


# -- our side ---------------------------------------------------------------------------------------
class _FusedGAN(GAN):
    fuse_critic_forwards = True


class _FusedWGANGP(WGANGP):
    fuse_critic_forwards = True


@dataclass(frozen=True)
class Options:
    """Our speed options that keep the algorithm."""

    fused_adam: bool = True  # lightning_gans.modules.base.adam: torch's fused Adam, their lr and betas
    cycle: bool = True  # updates_per_batch="cycle": one loader batch of (n_critic + 1) x the batch per cycle
    one_critic_forward: bool = True  # fuse_critic_forwards = True: real and fake in one forward (no buffers)
    reuse: bool = False  # updates_per_batch="cycle_reuse": the generator update reuses the last critic update's fakes


FASTEST = Options()


def our_module(kind: str, g: nn.Module, d: nn.Module, seed: int, options: Options = FASTEST) -> AdversarialModule:
    """Our GAN (``kind="gan"``) or WGAN-GP (``"wgan"``) on the nets, with their Adam settings and ``options``."""
    adam = fused_adam(LR, BETAS) if options.fused_adam else their_adam
    common: dict[str, Any] = {
        "latent_dim": LATENT,
        "noise_seed": seed,
        "updates_per_batch": "cycle_reuse" if options.reuse else "cycle" if options.cycle else "one",
        "generator_optimizer": adam,
        "critic_optimizer": adam,
    }
    if kind == "wgan":
        return (_FusedWGANGP if options.one_critic_forward else WGANGP)(g, d, gp_weight=10.0, n_critic=5, **common)
    return (_FusedGAN if options.one_critic_forward else GAN)(g, d, **common)


def fit(module: L.LightningModule, batch: int, max_steps: int) -> None:
    trainer = quiet_trainer(max_steps, [], max_epochs=-1)
    trainer.fit(module, MNISTDataModule(batch_size=batch, image_size=28))


def plain_loop(kind: str, g: nn.Module, d: nn.Module, loader: Any, updates: int, seed: int) -> Counts:
    """Our algorithm as a plain PyTorch loop: ``n_critic`` critic updates on fresh no-grad fakes, then one generator
    update with the critic frozen; our losses and penalty, the fused Adam of our side."""
    n_critic = 5 if kind == "wgan" else 1
    opt_g, opt_d = fused_adam(LR, BETAS)(g.parameters()), fused_adam(LR, BETAS)(d.parameters())
    rng = torch.Generator().manual_seed(seed)
    n, position = Counts(), 0
    for _, (real, _) in _batches(loader):
        z = torch.randn(real.shape[0], LATENT, generator=rng)
        n.batches += 1
        if position < n_critic:
            with torch.no_grad():
                fake = g(z)
            if kind == "wgan":
                loss = wasserstein_critic_loss(d(real).view(-1), d(fake).view(-1))
                loss = loss + 10.0 * gradient_penalty(d, real, fake, rng=rng)
            else:
                loss = minimax_critic_loss(  # the critic's loss of the non-saturating GAN
                    d(real).view(-1), d(fake).view(-1)
                )
            opt_d.zero_grad(set_to_none=True)
            loss.backward()
            opt_d.step()
            position, n.critic = position + 1, n.critic + 1
        else:
            d.requires_grad_(False)
            scores = d(g(z)).view(-1)
            loss = wasserstein_generator_loss(scores) if kind == "wgan" else non_saturating_generator_loss(scores)
            opt_g.zero_grad(set_to_none=True)
            loss.backward()
            opt_g.step()
            d.requires_grad_(True)
            position, n.generator = 0, n.generator + 1
            if n.generator == updates:
                return n
    raise AssertionError("unreachable")


# -- runs -------------------------------------------------------------------------------------------
@dataclass
class Setup:
    """One comparison: their loop, batch per update, and which of our modules matches it."""

    name: str  # key of THEIR_LOOPS, or "lightning"
    title: str
    kind: str  # "gan" or "wgan": our module and plain loop
    batch: int
    theirs: str  # row name of their loop
    sigmoid: bool  # their discriminator ends with a sigmoid
    plain: bool = True  # also run our plain loop
    n_critic: int = 1


SETUPS = {
    "wgan_gp": Setup("wgan_gp", "PyTorch-GAN wgan_gp.py", "wgan", 64, "PyTorch-GAN wgan_gp.py", False, n_critic=5),
    "gan": Setup("gan", "PyTorch-GAN gan.py", "gan", 64, "PyTorch-GAN gan.py", True),
    "lightning": Setup("lightning", "Lightning GAN example", "gan", 32, "Lightning GAN example", False, plain=False),
}
OURS = "ours: fused Adam, cycle per batch, one critic forward"
REUSE = "ours, DCGAN-example order: + the critic's fakes reused (cycle_reuse)"
PLAIN = "our plain loop"
LADDER = {  # --ladder: each option's share, in the order they were added
    "ours: one update a batch, torch's Adam": Options(False, False, False),
    "ours: + fused Adam": Options(True, False, False),
    "ours: + cycle per batch": Options(True, True, False),
    OURS: FASTEST,
}
VARIANTS = {**LADDER, REUSE: Options(reuse=True)}


class Sampler:
    """What the evaluator needs of a generator (``sample_noise``, ``sample`` in eval mode), for the plain loops' nets."""

    def __init__(self, generator: nn.Module) -> None:
        self.generator = generator

    def sample_noise(self, n: int, rng: torch.Generator | None = None) -> Tensor:
        return torch.randn(n, LATENT, generator=rng)

    @torch.no_grad()
    def sample(self, n: int, noise: Tensor) -> Tensor:
        self.generator.eval()
        try:
            return self.generator(noise)
        finally:
            self.generator.train()


@dataclass
class Result:
    cpu: float
    fid: float
    counts: Counts = field(default_factory=Counts)


def nets(setup: Setup, seed: int) -> tuple[MLPGenerator, MLPDiscriminator]:
    """The seed's initial nets: the same weights on every side (their sigmoid has no parameters)."""
    torch.manual_seed(seed)
    g, d = MLPGenerator(), MLPDiscriminator(sigmoid=setup.sigmoid)
    return g, d


def logits(d: MLPDiscriminator) -> MLPDiscriminator:
    """The discriminator with the same weights that scores logits (ours; ``gan.py``'s ends with a sigmoid)."""
    out = MLPDiscriminator(sigmoid=False)
    out.load_state_dict(d.state_dict())
    return out


def run(setup: Setup, row: str, seed: int, updates: int, fid: Callable[[Any], float]) -> Result:
    g, d = nets(setup, seed)
    L.seed_everything(seed, verbose=False)  # data order and their noise
    t0 = time.process_time()
    if row in VARIANTS:
        options = VARIANTS[row]
        module = our_module(setup.kind, g, logits(d), seed, options)
        k = module.n_critic + 1  # updates a cycle; global_step counts updates
        parts = module.n_critic if options.reuse else k  # "cycle_reuse": the generator update reuses the last part
        fit(module, setup.batch * parts if options.cycle else setup.batch, updates * k)
        counts = Counts(module.generator_steps, module.critic_steps)
        cpu = time.process_time() - t0
        return Result(cpu, fid(module), counts)
    if row == setup.theirs and setup.name not in THEIR_LOOPS:  # Lightning's example
        example = LightningExampleGAN(g, d)
        fit(example, setup.batch, 2 * updates)  # two optimizer steps a batch
        counts = Counts(example.generator_steps, example.critic_steps)
    else:
        with without_lightning_import():
            if row == setup.theirs:
                counts = THEIR_LOOPS[setup.name](g, d, _loader(setup.batch), updates)
            else:
                counts = plain_loop(setup.kind, g, logits(d), _loader(setup.batch), updates, seed)
    cpu = time.process_time() - t0
    return Result(cpu, fid(Sampler(g)), counts)


@contextmanager
def without_lightning_import() -> Iterator[None]:
    """As in a script that does not import Lightning: ``lightning.fabric`` sets ``PYTORCH_NVML_BASED_CUDA_CHECK=1``
    on import, after which every optimizer step of a CUDA build of torch on a machine without a GPU tries (and
    fails) to load libnvidia-ml (``torch.cuda.is_available`` via the optimizer's graph-capture check): about
    60 us a step here. The plain loops (theirs and ours) run without it; the Lightning runs pay it."""
    saved = os.environ.pop(_NVML, None)
    try:
        yield
    finally:
        if saved is not None:
            os.environ[_NVML] = saved


_NVML = "PYTORCH_NVML_BASED_CUDA_CHECK"


def _loader(batch: int) -> Any:
    dm = MNISTDataModule(batch_size=batch, image_size=28)
    dm.setup("fit")
    return dm.train_dataloader()


def _spread(values: list[float], digits: int = 1) -> str:
    """``mean [min, max]``."""
    return f"{statistics.mean(values):.{digits}f} [{min(values):.{digits}f}, {max(values):.{digits}f}]"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--setups", nargs="+", default=list(SETUPS), choices=list(SETUPS))
    parser.add_argument(
        "--generator-updates", type=int, nargs="+", default=None, help="per setup, in --setups order (one: all)"
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--num-samples", type=int, default=1000, help="generated digits per FID")
    parser.add_argument("--no-plain", action="store_true", help="skip our plain loop")
    parser.add_argument("--ladder", action="store_true", help="also ours with fewer options, to see what each gives")
    parser.add_argument("--tiny", action="store_true", help="a few updates of every run, one seed (< 30 s)")
    args = parser.parse_args(argv)
    quiet(1)
    if args.tiny:
        args.generator_updates, args.seeds, args.num_samples = [3], args.seeds[:1], 50
    budget = args.generator_updates or [DEFAULT_UPDATES[s] for s in args.setups]
    if len(budget) == 1:
        budget = budget * len(args.setups)
    if len(budget) != len(args.setups):
        parser.error(f"--generator-updates: give one value or one per setup ({len(args.setups)}), got {len(budget)}")

    print(f"# command: python benchmarks/bench_loops.py {' '.join(sys.argv[1:] if argv is None else argv)}".rstrip())
    print(f"# machine: {machine()}; load average {os.getloadavg()[0]:.1f} at the start", flush=True)
    start = time.perf_counter()
    evaluators = {s: Evaluator("mnist", metrics=["fid"], num_samples=args.num_samples, cache=False, seed=s)
                  for s in args.seeds}  # fmt: skip
    train_images = mnist_split(28)[0]
    reals = {s: e.real_statistics(train_images) for s, e in evaluators.items()}

    table = []
    for name, updates in zip(args.setups, budget):
        setup = SETUPS[name]
        ours = [*(LADDER if args.ladder else [OURS]), REUSE]
        rows = [setup.theirs, *ours] + ([PLAIN] if setup.plain and not args.no_plain else [])
        results: dict[str, list[Result]] = {r: [] for r in rows}
        for k, seed in enumerate(args.seeds):
            order = rows[k % len(rows) :] + rows[: k % len(rows)]

            def fid(generator: Any, seed: int = seed) -> float:
                e = evaluators[seed]
                return e.compute(e.fake_features(generator), reals[seed])["fid"]

            for row in order:
                res = run(setup, row, seed, updates, fid)
                results[row].append(res)
                print(
                    f"# {name} seed {seed} {row}: {res.counts.generator} generator / {res.counts.critic} critic updates, "
                    f"{res.cpu:.1f} CPU s, FID {res.fid:.1f}",
                    flush=True,
                )
        table.append((setup, results))

    print("\n| beside | run | generator / critic updates | CPU s | **speed-up (their CPU s / ours)**, median | "
          "per-round (seed) ratios | FID, mean [min, max] |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for setup, results in table:
        theirs = results[setup.theirs]
        for row, runs in results.items():
            ratios = [t.cpu / r.cpu for t, r in zip(theirs, runs)]
            counts = f"{runs[0].counts.generator} / {runs[0].counts.critic}"
            label = "1 (reference)" if row == setup.theirs else f"**{statistics.median(ratios):.2f}**"
            per_round = "-" if row == setup.theirs else ", ".join(f"{x:.2f}" for x in ratios)
            print(
                f"| {setup.title} | {row} | {counts} | {_spread([r.cpu for r in runs])} | {label} | {per_round} | "
                f"{_spread([r.fid for r in runs])} |"
            )
    print(f"\n# seeds {args.seeds}; {args.num_samples} generated vs 4000 training digits; total "
          f"{time.perf_counter() - start:.0f} s wall; load average {os.getloadavg()[0]:.1f} at the end")  # fmt: skip
    return 0


DEFAULT_UPDATES = {"wgan_gp": 500, "gan": 1000, "lightning": 1000}  # ~10 min of CPU time here, 3 seeds


if __name__ == "__main__":
    sys.exit(main())
