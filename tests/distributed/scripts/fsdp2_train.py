"""Train small GANs on 2 CPU ranks (gloo) under DDP and under FSDP2Strategy, and save what the tests compare.

Run by tests/distributed/test_fsdp2.py as a subprocess (the first ``strategy="ddp"`` fit re-executes this script
for rank 1; the later fits, FSDP2 ones included, reuse the process group):

    python tests/distributed/scripts/fsdp2_train.py OUT_DIR [CASE ...]

Each case writes ``OUT_DIR/<case>_rank<r>.pt`` (plain tensors, ints and dicts; ``weights_only=True`` loads them).
Weights are gathered to full tensors on every rank before saving (``full_tensor()``), so the DDP and the FSDP2
files hold the same keys and shapes.
"""

from __future__ import annotations

import os
import sys
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
warnings.filterwarnings("ignore")

import common  # noqa: E402
import torch  # noqa: E402
from lightning.pytorch import Trainer, seed_everything  # noqa: E402
from lightning.pytorch.callbacks import ModelCheckpoint  # noqa: E402

from lightning_gans import GAN, WGAN, WGANGP, ToyDataModule  # noqa: E402
from lightning_gans.callbacks import GeneratorEMA, SpectralNorm  # noqa: E402
from lightning_gans.nets import MLPCritic, MLPGenerator  # noqa: E402
from lightning_gans.sharding import FSDP2Strategy, sharded_bytes  # noqa: E402

PARITY_STEPS = 12
PARITY_GLOBAL_BATCH = 32
RESUME_STEPS = 6  # + RESUME_STEPS after the checkpoint; an epoch is 8 batches, so the resume is mid-epoch
MEMORY_HIDDEN = 1024  # MLP width of the memory case: about 3.2 M parameters per network


def _strategy(kind: str, **kw):
    return FSDP2Strategy(**kw) if kind == "fsdp" else "ddp"


def _trainer(kind: str, max_steps: int, callbacks=(), strategy_kw=None, **kw) -> Trainer:
    return Trainer(
        accelerator="cpu",
        devices=int(os.environ.get("LG_DEVICES", 2)),  # LG_DEVICES=1 LG_NUM_NODES=2: two "nodes" under torchrun's env
        num_nodes=int(os.environ.get("LG_NUM_NODES", 1)),
        strategy=_strategy(kind, **(strategy_kw or {})),
        max_steps=max_steps,
        callbacks=list(callbacks),
        logger=False,
        enable_checkpointing=any(isinstance(cb, ModelCheckpoint) for cb in callbacks),
        enable_progress_bar=False,
        enable_model_summary=False,
        **kw,
    )


def _full(t: torch.Tensor) -> torch.Tensor:
    return (t.full_tensor() if hasattr(t, "full_tensor") else t).detach().cpu().clone()


def _state(module, trainer) -> dict:
    out = {
        "state_dict": {k: _full(v) for k, v in module.state_dict().items()},
        "critic_steps": module.critic_steps,
        "generator_steps": module.generator_steps,
        "global_step": trainer.global_step,
        "world_size": trainer.world_size,
        "param_types": sorted({type(p).__name__ for p in module.parameters()}),
    }
    for cb in trainer.callbacks:
        if isinstance(cb, GeneratorEMA):
            out["ema"] = {k: _full(v) for k, v in cb.ema_generator.state_dict().items()}
            out["ema_param_types"] = sorted({type(p).__name__ for p in cb.ema_generator.parameters()})
            out["ema_is_sampled"] = module.ema_generator is cb.ema_generator
        if isinstance(cb, SpectralNorm):
            out["spectral_normed"] = list(cb.wrapped)
    return out


class ParityR1(common._GlobalNoise, GAN):
    """GAN with R1 on real data (no random draws in the penalty), noise drawn for the global batch."""

    def __init__(self, global_batch: int, seed: int = 0) -> None:
        torch.manual_seed(seed)
        super().__init__(
            MLPGenerator(latent_dim=4, hidden_dim=32, num_layers=2),
            MLPCritic(hidden_dim=32, num_layers=2),
            latent_dim=4,
            penalty="r1",
            penalty_weight=5.0,
            noise_seed=seed,
        )
        self.global_batch = global_batch


class ParityWGAN(common._GlobalNoise, WGAN):
    """WGAN with weight clipping (a post-step hook on the critic's optimizer, brought by configure_callbacks)."""

    def __init__(self, global_batch: int, seed: int = 0) -> None:
        torch.manual_seed(seed)
        super().__init__(
            MLPGenerator(latent_dim=4, hidden_dim=32, num_layers=2),
            MLPCritic(hidden_dim=32, num_layers=2),
            latent_dim=4,
            n_critic=2,
            noise_seed=seed,
        )
        self.global_batch = global_batch


class ParityBatchNorm(common._GlobalNoise, GAN):
    """Non-saturating GAN whose generator and critic both have BatchNorm (running statistics: per-rank buffers)."""

    def __init__(self, global_batch: int, seed: int = 0) -> None:
        torch.manual_seed(seed)
        nn = torch.nn
        generator = nn.Sequential(nn.Linear(4, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 2))
        critic = nn.Sequential(nn.Linear(2, 32), nn.BatchNorm1d(32), nn.LeakyReLU(0.2), nn.Linear(32, 1))
        super().__init__(generator, critic, latent_dim=4, noise_seed=seed)
        self.global_batch = global_batch


def _batchnorm(kind: str, out_dir: str):
    """ParityBatchNorm + GeneratorEMA for PARITY_STEPS updates, saving one checkpoint file at the last step."""
    module = ParityBatchNorm(PARITY_GLOBAL_BATCH)
    saver = ModelCheckpoint(
        dirpath=os.path.join(out_dir, f"{kind}_bn_ckpt"), every_n_train_steps=PARITY_STEPS, filename="{step}"
    )
    strategy_kw = {"save_distributed_checkpoint": False} if kind == "fsdp" else None
    callbacks = [saver, GeneratorEMA(decay=0.9)]
    trainer = _trainer(kind, PARITY_STEPS, callbacks, strategy_kw=strategy_kw, use_distributed_sampler=False)
    trainer.fit(module, datamodule=common.GlobalBatchData(PARITY_STEPS, PARITY_GLOBAL_BATCH))
    return module, trainer


def _parity(kind: str, build, callbacks=()):
    module = build(PARITY_GLOBAL_BATCH)
    trainer = _trainer(kind, PARITY_STEPS, [cb() for cb in callbacks], use_distributed_sampler=False)
    trainer.fit(module, datamodule=common.GlobalBatchData(PARITY_STEPS, PARITY_GLOBAL_BATCH))
    return module, trainer


def _sn_ema():
    return (SpectralNorm, lambda: GeneratorEMA(decay=0.9))


CASES = {
    # WGAN-GP: n_critic=2, gradient penalty (double backward through the sharded critic)
    "ddp_wgangp": lambda: _parity("ddp", common.ParityWGANGP),
    "fsdp_wgangp": lambda: _parity("fsdp", common.ParityWGANGP),
    # WGAN: weight clipping after every critic step, on the sharded critic
    "ddp_wgan": lambda: _parity("ddp", ParityWGAN),
    "fsdp_wgan": lambda: _parity("fsdp", ParityWGAN),
    # non-saturating GAN + R1 with a spectral-normed critic and an EMA generator
    "ddp_r1": lambda: _parity("ddp", ParityR1, _sn_ema()),
    "fsdp_r1": lambda: _parity("fsdp", ParityR1, _sn_ema()),
}


def _toy_module(seed: int = 3):
    seed_everything(seed)
    return WGANGP(
        MLPGenerator(latent_dim=2, hidden_dim=32, num_layers=2),
        MLPCritic(hidden_dim=32, num_layers=2),
        latent_dim=2,
        n_critic=2,
        noise_seed=seed,
    )


def _toy_fit(module, steps: int, distributed: bool, ckpt_dir=None, ckpt_path=None):
    callbacks = [SpectralNorm(), GeneratorEMA(decay=0.9)]
    if ckpt_dir is not None:
        callbacks.append(
            ModelCheckpoint(dirpath=ckpt_dir, every_n_train_steps=RESUME_STEPS, save_top_k=-1, filename="{step}")
        )
    strategy_kw = {"save_distributed_checkpoint": distributed}
    # Each rank draws its own toy batches (ToyDataModule is rank-aware); Lightning's DistributedSampler is not needed.
    trainer = _trainer("fsdp", steps, callbacks, strategy_kw=strategy_kw, use_distributed_sampler=False)
    trainer.fit(module, datamodule=ToyDataModule(batch_size=16, batches_per_epoch=8, seed=0), ckpt_path=ckpt_path)
    return trainer


def _resume(distributed: bool, out_dir: str):
    """2N uninterrupted (saving at N), then N + N from the checkpoint at N, under FSDP2 (WGAN-GP + SpectralNorm + EMA)."""
    ckpt_dir = os.path.join(out_dir, f"ckpt_{'sharded' if distributed else 'full'}")
    whole = _toy_module()
    whole_trainer = _toy_fit(whole, 2 * RESUME_STEPS, distributed, ckpt_dir=ckpt_dir)
    path = os.path.join(ckpt_dir, f"step={RESUME_STEPS}.ckpt")
    resumed = _toy_module()
    resumed_trainer = _toy_fit(resumed, 2 * RESUME_STEPS, distributed, ckpt_path=path)
    return {
        "whole": _state(whole, whole_trainer),
        "resumed": _state(resumed, resumed_trainer),
        "checkpoint_is_dir": os.path.isdir(path),
    }


def _memory():
    """Parameter and optimizer-state bytes per rank for ~3.2 M-parameter networks, under DDP and FSDP2."""
    out = {}
    for kind in ("ddp", "fsdp"):
        seed_everything(0)
        module = GAN(
            MLPGenerator(latent_dim=64, out_dim=64, hidden_dim=MEMORY_HIDDEN, num_layers=4),
            MLPCritic(in_dim=64, hidden_dim=MEMORY_HIDDEN, num_layers=4),
            latent_dim=64,
            noise_seed=0,
        )
        data = common.GlobalBatchData(2, 8)
        data.train_dataloader = lambda: torch.utils.data.DataLoader(  # type: ignore[method-assign]
            torch.randn(2, 4, 64), batch_size=None
        )
        trainer = _trainer(kind, 2, use_distributed_sampler=False)
        trainer.fit(module, datamodule=data)
        opts = trainer.optimizers
        out[kind] = {
            "generator": sharded_bytes(module.generator, opts[0]),
            "critic": sharded_bytes(module.critic, opts[1]),
            "numel": sum(p.numel() for p in module.parameters()),  # DTensor numel is the global size
        }
    return out


def run(case: str, out_dir: str) -> None:
    if case in CASES:
        module, trainer = CASES[case]()
        state, rank = _state(module, trainer), trainer.global_rank
    elif case in ("ddp_bn", "fsdp_bn"):
        module, trainer = _batchnorm(case.split("_")[0], out_dir)
        state, rank = _state(module, trainer), trainer.global_rank
    elif case in ("resume_full", "resume_sharded"):
        state, rank = _resume(case == "resume_sharded", out_dir), torch.distributed.get_rank()
    elif case == "memory":
        state, rank = _memory(), torch.distributed.get_rank()
    else:
        raise SystemExit(f"unknown case {case!r}")
    torch.save(state, os.path.join(out_dir, f"{case}_rank{rank}.pt"))


if __name__ == "__main__":
    out_dir, cases = (
        sys.argv[1],
        sys.argv[2:] or [*CASES, "ddp_bn", "fsdp_bn", "resume_full", "resume_sharded", "memory"],
    )
    for case in cases:
        run(case, out_dir)
