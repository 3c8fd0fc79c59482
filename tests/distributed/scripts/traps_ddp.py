"""DDP's GAN traps on 2 CPU processes (gloo), each case saving what every rank holds.

Run by tests/distributed/test_traps.py (``strategy="ddp"`` re-executes this script for rank 1):

    python tests/distributed/scripts/traps_ddp.py OUT_DIR [CASE ...]

Each case writes ``OUT_DIR/<case>_rank<r>.pt`` (plain tensors, lists and ints). One process group
serves every case.
"""

from __future__ import annotations

import os
import sys
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
warnings.filterwarnings("ignore")

import torch  # noqa: E402
from lightning.pytorch import Callback, Trainer, seed_everything  # noqa: E402
from torch import nn  # noqa: E402

from lightning_gans import GAN, DigitsDataModule, ToyDataModule  # noqa: E402
from lightning_gans.callbacks import GANMetrics, GeneratorEMA  # noqa: E402
from lightning_gans.distributed import sync_sampling_statistics  # noqa: E402

LATENT = 4
SAVE_AT = (7, 10)  # resume points: the last batch of epoch 0 (7 batches of 128 per rank), and mid-epoch 1
RESUME_STEPS = 16


def _bn_nets() -> tuple[nn.Module, nn.Module]:
    """A BatchNorm generator and a BatchNorm critic for 8x8 digits."""
    generator = nn.Sequential(
        nn.Linear(LATENT, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 64), nn.Tanh(), nn.Unflatten(1, (1, 8, 8))
    )
    critic = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.BatchNorm1d(32), nn.LeakyReLU(0.2), nn.Linear(32, 1))
    return generator, critic


def _plain_nets() -> tuple[nn.Module, nn.Module]:
    generator = nn.Sequential(
        nn.Linear(LATENT, 32), nn.ReLU(), nn.Linear(32, 64), nn.Tanh(), nn.Unflatten(1, (1, 8, 8))
    )
    critic = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.LeakyReLU(0.2), nn.Linear(32, 1))
    return generator, critic


def _trainer(max_steps: int, callbacks=(), **kw) -> Trainer:
    return Trainer(
        accelerator="cpu",
        devices=2,
        strategy="ddp",
        max_steps=max_steps,
        callbacks=list(callbacks),
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        **kw,
    )


def _cpu(state: dict) -> dict:
    return {k: v.detach().cpu().clone() for k, v in state.items()}


def _statistics(net: nn.Module) -> dict:
    return {k: v.detach().clone() for k, v in net.state_dict().items() if k.endswith(("running_mean", "running_var"))}


def _eval_samples(module) -> torch.Tensor:
    noise = torch.Generator().manual_seed(0)
    return module.sample(16, noise=torch.randn(16, LATENT, generator=noise)).detach().clone()


def case_bn(out_dir: str) -> dict:
    """BatchNorm generator and critic, EMA, a checkpoint at the last step; the trap, then the sync."""
    seed_everything(1)
    ema = GeneratorEMA(decay=0.9)
    saver = _SaveAt((12,), os.path.join(out_dir, "bn_ckpt"))
    module = GAN(*_bn_nets(), latent_dim=LATENT, noise_seed=1)
    trainer = _trainer(12, [ema, saver])
    trainer.fit(module, datamodule=DigitsDataModule(batch_size=32))
    before = {
        "generator": _statistics(module.generator),
        "critic": _statistics(module.critic),
        "ema": _statistics(ema.ema_generator),
        "samples": _eval_samples(module),  # through the EMA generator, in eval mode
    }
    synced = sync_sampling_statistics(module, trainer.strategy)
    return {
        "before": before,
        "synced_names": synced,
        "after": {
            "generator": _statistics(module.generator),
            "ema": _statistics(ema.ema_generator),
            "samples": _eval_samples(module),
        },
        "params": {k: v.detach().clone() for k, v in module.named_parameters()},
        "ckpt_path": saver.paths[0],
    }


def case_bn_metrics(out_dir: str) -> dict:
    """GANMetrics at the end of training syncs the sampling networks' statistics itself."""
    seed_everything(2)
    ema = GeneratorEMA(decay=0.9)
    metrics = GANMetrics(
        num_samples=64, feature_extractor="digits", every_n_epochs=None, at_train_end=True, metrics=["fid"]
    )
    module = GAN(*_bn_nets(), latent_dim=LATENT, noise_seed=2)
    _trainer(12, [ema, metrics]).fit(module, datamodule=DigitsDataModule(batch_size=32))
    return {
        "generator": _statistics(module.generator),
        "ema": _statistics(ema.ema_generator),
        "metrics": dict(metrics.last_metrics),
    }


class _SpectralCritic(nn.Module):
    """A critic spectral-normed by torch's own parametrization (not our SpectralNorm callback)."""

    def __init__(self) -> None:
        super().__init__()
        sn = nn.utils.parametrizations.spectral_norm
        self.net = nn.Sequential(sn(nn.Linear(2, 32)), nn.LeakyReLU(0.2), sn(nn.Linear(32, 1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def case_sn(out_dir: str) -> dict:
    """A spectral-normed critic (buffers _u, _v updated by every training forward), D(real) and D(fake) apart."""
    seed_everything(3)
    generator = nn.Sequential(nn.Linear(LATENT, 32), nn.ReLU(), nn.Linear(32, 2))
    module = GAN(generator, _SpectralCritic(), latent_dim=LATENT, noise_seed=3)
    trainer = _trainer(12)
    trainer.fit(module, datamodule=ToyDataModule(batch_size=16, batches_per_epoch=8, seed=0))
    return {"state_dict": _cpu(module.state_dict()), "fused": module._fuse_critic, "global_step": trainer.global_step}


class _SaveAt(Callback):
    """``trainer.save_checkpoint`` (on every rank, as Lightning requires) after the given steps."""

    def __init__(self, steps, dirpath: str) -> None:
        self.steps, self.dirpath, self.paths = tuple(steps), dirpath, []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if trainer.global_step in self.steps:
            path = os.path.join(self.dirpath, f"step={trainer.global_step}.ckpt")
            trainer.save_checkpoint(path)
            self.paths.append(path)


class _Batches(Callback):
    """Per step, the labels of the batch this rank trained on."""

    def __init__(self) -> None:
        self.seen: dict[int, list[int]] = {}

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self.seen[trainer.global_step] = batch[1].tolist()


def _workers_fit(max_steps: int, callbacks=(), ckpt_path=None):
    seed_everything(4)
    module = GAN(*_plain_nets(), latent_dim=LATENT, noise_seed=4)
    batches = _Batches()
    trainer = _trainer(max_steps, [batches, *callbacks])
    trainer.fit(module, datamodule=DigitsDataModule(batch_size=128, num_workers=2), ckpt_path=ckpt_path)
    return module, batches.seen


def case_resume_workers(out_dir: str) -> dict:
    """num_workers=2 under DDP: RESUME_STEPS straight vs. resumed from each of SAVE_AT."""
    straight, seen = _workers_fit(RESUME_STEPS)
    saver = _SaveAt(SAVE_AT, os.path.join(out_dir, "workers_ckpt"))
    _workers_fit(max(SAVE_AT), [saver])
    resumed = {}
    for step, path in zip(SAVE_AT, saver.paths):
        module, resumed_seen = _workers_fit(RESUME_STEPS, ckpt_path=path)
        resumed[step] = {"state_dict": _cpu(module.state_dict()), "seen": resumed_seen}
    return {"state_dict": _cpu(straight.state_dict()), "seen": seen, "resumed": resumed}


CASES = {name[len("case_") :]: fn for name, fn in globals().items() if name.startswith("case_")}


if __name__ == "__main__":
    out_dir, cases = sys.argv[1], sys.argv[2:] or list(CASES)
    for case in cases:
        state = CASES[case](out_dir)
        rank = torch.distributed.get_rank() if torch.distributed.is_initialized() else 0
        torch.save(state, os.path.join(out_dir, f"{case}_rank{rank}.pt"))
