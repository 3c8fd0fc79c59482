"""Shared pieces of the benchmarks: the two setups, the plain PyTorch loop, timers, machine info.

The plain loop implements exactly the algorithm of :class:`lightning_gans.WGANGP` (Gulrajani et al.
2017, Algorithm 1): every batch is one update, ``n_critic`` critic updates on fresh real batches
then one generator update, Wasserstein losses from :mod:`lightning_gans.losses`, the gradient
penalty from :mod:`lightning_gans.penalties`, the other network's ``requires_grad`` switched off
during an update (what Lightning's ``toggled_optimizer`` does), the same nets, optimizers and
data loader. It logs nothing and keeps no counters beyond the cycle position.
"""

from __future__ import annotations

import copy
import logging
import os
import platform
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import lightning as L
import torch
from torch import nn

from lightning_gans import WGANGP, DigitsDataModule, ToyDataModule
from lightning_gans.losses import wasserstein_critic_loss, wasserstein_generator_loss
from lightning_gans.nets import DCGANCritic, DCGANGenerator, MLPCritic, MLPGenerator
from lightning_gans.penalties import gradient_penalty


@dataclass
class Setup:
    """Nets, data and WGAN-GP settings of one benchmark configuration."""

    name: str
    generator: nn.Module
    critic: nn.Module
    datamodule: L.LightningDataModule
    latent_dim: int
    n_critic: int = 5
    gp_weight: float = 10.0

    def fresh(self) -> tuple[nn.Module, nn.Module]:
        """Deep copies of the initial nets, so every run starts from the same weights."""
        return copy.deepcopy(self.generator), copy.deepcopy(self.critic)


def make_setup(name: str, seed: int = 0) -> Setup:
    """``toy``: the WGAN-GP toy MLP (hidden 128) on 8 Gaussians, batch 256 (overhead-bound);
    ``dcgan``: DCGAN 16x16 (base 32 channels, layer-norm critic) on the upsampled digits, batch 64."""
    torch.manual_seed(seed)
    if name == "toy":
        return Setup(
            name, MLPGenerator(2, 2, 128, 3), MLPCritic(2, 128, 3), ToyDataModule("8gaussians", 256, 2000, seed), 2
        )
    if name == "dcgan":
        return Setup(
            name,
            DCGANGenerator(latent_dim=64, image_size=16, channels=1, base_channels=32),
            DCGANCritic(image_size=16, channels=1, base_channels=32, norm="layer"),
            DigitsDataModule(batch_size=64, image_size=16),
            64,
        )
    raise ValueError(f"Unknown setup {name!r}; expected 'toy' or 'dcgan'.")


def adam(params) -> torch.optim.Optimizer:
    return torch.optim.Adam(params, lr=1e-4, betas=(0.0, 0.9))  # WGAN-GP's defaults


class _WGANGPNoLog(WGANGP):
    """Diagnostic only: the same module with ``self.log`` a no-op, to separate logging cost from the rest."""

    def log(self, *args, **kwargs) -> None:
        pass


def lightning_module(setup: Setup, log: bool = True, cls: type[WGANGP] | None = None, **kwargs) -> WGANGP:
    """The setup's WGAN-GP (``cls``, default :class:`WGANGP`), with the plain loop's optimizer unless ``kwargs`` say."""
    g, d = setup.fresh()
    cls = cls or (WGANGP if log else _WGANGPNoLog)
    kwargs = {"generator_optimizer": adam, "critic_optimizer": adam, **kwargs}
    return cls(g, d, setup.latent_dim, gp_weight=setup.gp_weight, n_critic=setup.n_critic, noise_seed=0, **kwargs)


def quiet_trainer(max_steps: int, callbacks: list, **kw) -> L.Trainer:
    """A trainer without logger, progress bar, checkpointing or summary (the plain loop has none either)."""
    return L.Trainer(
        accelerator="cpu",
        devices=1,
        max_steps=max_steps,
        logger=False,
        enable_progress_bar=False,
        enable_checkpointing=False,
        enable_model_summary=False,
        callbacks=callbacks,
        **kw,
    )


def clocks() -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process). With one torch thread, CPU time is the work done,
    unaffected by other processes competing for the cores; wall time is not."""
    return time.perf_counter(), time.process_time()


class BatchWindow(L.Callback):
    """Wall and CPU time from the start of batch ``start`` to the end of the last batch, and an optional hook at ``start``."""

    def __init__(self, start: int, at_start: Callable[[], None] | None = None) -> None:
        self.start, self.at_start = start, at_start
        self.t0 = self.t1 = (0.0, 0.0)

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if trainer.global_step == self.start:
            if self.at_start is not None:
                self.at_start()
            self.t0 = clocks()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if trainer.global_step >= trainer.max_steps:  # read the clocks twice only, as the plain loop does
            self.t1 = clocks()  # (time.process_time costs 0.1-1 ms a call here under load: not per batch)

    @property
    def seconds(self) -> tuple[float, float]:
        return self.t1[0] - self.t0[0], self.t1[1] - self.t0[1]


def run_lightning(
    setup: Setup,
    warmup: int,
    steps: int,
    at_start: Callable[[], None] | None = None,
    log: bool = True,
    datamodule: L.LightningDataModule | None = None,
    **module_kwargs,
) -> tuple[float, float]:
    """(wall, CPU) seconds for ``steps`` updates after ``warmup`` updates, module in a Lightning Trainer.

    ``module_kwargs`` reach :func:`lightning_module`; ``datamodule`` replaces the setup's (e.g. batches of
    ``n_critic + 1`` updates for ``updates_per_batch="cycle"``; ``warmup`` and ``steps`` count updates).
    """
    window = BatchWindow(warmup, at_start)
    module = lightning_module(setup, log, **module_kwargs)
    quiet_trainer(warmup + steps, [window]).fit(module, datamodule or setup.datamodule)
    return window.seconds


def run_plain(setup: Setup, warmup: int, steps: int, at_start: Callable[[], None] | None = None) -> tuple[float, float]:
    """(wall, CPU) seconds for ``steps`` updates after ``warmup`` updates of the plain PyTorch loop."""
    generator, critic = setup.fresh()
    opt_g, opt_d = adam(generator.parameters()), adam(critic.parameters())
    setup.datamodule.setup("fit")
    rng = torch.Generator().manual_seed(0)
    position, done, t0 = 0, 0, (0.0, 0.0)
    while True:
        for batch in setup.datamodule.train_dataloader():
            if done == warmup:
                if at_start is not None:
                    at_start()
                t0 = clocks()
            real = batch[0] if isinstance(batch, (list, tuple)) else batch
            z = torch.randn(real.shape[0], setup.latent_dim, generator=rng)
            if position < setup.n_critic:  # critic update
                critic.requires_grad_(True)
                generator.requires_grad_(False)
                with torch.no_grad():
                    fake = generator(z)
                loss = wasserstein_critic_loss(critic(real), critic(fake))
                loss = loss + setup.gp_weight * gradient_penalty(critic, real, fake, rng=rng)
                opt_d.zero_grad(set_to_none=True)
                loss.backward()
                opt_d.step()
                position += 1
            else:  # generator update
                critic.requires_grad_(False)
                generator.requires_grad_(True)
                loss = wasserstein_generator_loss(critic(generator(z)))
                opt_g.zero_grad(set_to_none=True)
                loss.backward()
                opt_g.step()
                position = 0
            done += 1
            if done == warmup + steps:
                t1 = clocks()
                return t1[0] - t0[0], t1[1] - t0[1]


def quiet(threads: int = 1) -> None:
    """Set torch's intra-op threads and silence warnings and Lightning's info lines, for a readable table."""
    torch.set_num_threads(threads)
    warnings.filterwarnings("ignore")
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)


def machine() -> str:
    """One line describing the machine and software."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return (
        f"{cpu}, {os.cpu_count()} logical CPUs, torch {torch.__version__} ({torch.get_num_threads()} threads), "
        f"lightning {L.__version__}, Python {platform.python_version()}"
    )
