"""Train small GANs with ``Trainer(strategy="ddp", devices=2)`` on CPU and save each rank's weights.

Run by tests/distributed/test_ddp.py as a subprocess (``strategy="ddp"`` re-executes this script for rank 1):

    python tests/distributed/scripts/train_ddp.py OUT_DIR [CASE ...]

Each case writes ``OUT_DIR/<case>_rank<r>.pt`` (plain tensors and ints, loadable with
``weights_only=True``). Several fits share one process group, which keeps the run to ~10 s.
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

from lightning_gans import GAN, WGAN, WGANGP, ToyDataModule  # noqa: E402
from lightning_gans.nets import MLPCritic, MLPGenerator  # noqa: E402

PARITY_STEPS = 12
PARITY_GLOBAL_BATCH = 32


def _nets(hidden: int = 32):
    return MLPGenerator(latent_dim=2, hidden_dim=hidden, num_layers=2), MLPCritic(hidden_dim=hidden, num_layers=2)


def _trainer(max_steps: int, callbacks=(), **kw) -> Trainer:
    return Trainer(
        accelerator="cpu",
        devices=int(os.environ.get("LG_DEVICES", 2)),
        num_nodes=int(os.environ.get("LG_NUM_NODES", 1)),
        strategy=os.environ.get("LG_STRATEGY", "ddp"),
        max_steps=max_steps,
        callbacks=list(callbacks),
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        **kw,
    )


def _toy_fit(module, callbacks=(), steps: int = 12):
    trainer = _trainer(steps, callbacks)
    trainer.fit(module, datamodule=ToyDataModule(batch_size=16, batches_per_epoch=8, seed=0))
    return trainer


def case_gan():
    seed_everything(1)
    return GAN(*_nets(), latent_dim=2, noise_seed=1), _toy_fit


def case_wgan():
    seed_everything(2)
    return WGAN(*_nets(), latent_dim=2, n_critic=2, noise_seed=2), _toy_fit


def case_wgangp():
    seed_everything(3)
    return WGANGP(*_nets(), latent_dim=2, n_critic=2, noise_seed=3), _toy_fit


def case_wgangp_compiled():
    """case_wgangp with compiled forwards (aot_eager: no C++ build); the penalty runs the eager critic."""
    seed_everything(3)
    return WGANGP(*_nets(), latent_dim=2, n_critic=2, noise_seed=3, compile={"backend": "aot_eager"}), _toy_fit


def _parity_fit(module, callbacks=(), steps: int = PARITY_STEPS):
    trainer = _trainer(steps, callbacks, use_distributed_sampler=False)
    trainer.fit(module, datamodule=common.GlobalBatchData(steps, PARITY_GLOBAL_BATCH))
    return trainer


def case_parity_gan():
    return common.ParityGAN(PARITY_GLOBAL_BATCH), _parity_fit


def case_parity_gan_reuse():
    """ParityGAN with updates_per_batch="cycle_reuse": the generator update backpropagates through fakes generated
    in the critic update, within the same DDP-wrapped training_step."""
    return common.ParityGAN(PARITY_GLOBAL_BATCH, updates_per_batch="cycle_reuse"), _parity_fit


def case_parity_wgangp():
    return common.ParityWGANGP(PARITY_GLOBAL_BATCH), _parity_fit


def case_callbacks():
    """GAN whose critic is spectral-normed, both nets LSUV-initialised, and an EMA generator."""
    from lightning_gans.callbacks import GeneratorEMA, LSUVInit, SpectralNorm

    seed_everything(4)
    callbacks = [SpectralNorm(), LSUVInit(noise_batch_size=64, seed=7), GeneratorEMA(decay=0.9)]
    return GAN(*_nets(), latent_dim=2, noise_seed=4), lambda m: _toy_fit(m, callbacks)


def case_lsuv_ema():
    """WGAN-GP with both nets LSUV-initialised (the critic from a real batch), an EMA generator, and the guard."""
    from lightning_gans.callbacks import DivergenceGuard, GeneratorEMA, LSUVInit

    seed_everything(5)
    callbacks = [LSUVInit(noise_batch_size=64, seed=8), GeneratorEMA(decay=0.9), DivergenceGuard()]
    return WGANGP(*_nets(), latent_dim=2, n_critic=2, noise_seed=5), lambda m: _toy_fit(m, callbacks)


def case_noise():
    """WGAN-GP with its own noise and gradient penalty, observed by hooks (common.NoiseRecorder)."""
    seed_everything(6)
    module = WGANGP(*_nets(), latent_dim=2, n_critic=2, noise_seed=6)
    module.noise_recorder = common.NoiseRecorder(module)
    return module, lambda m: _toy_fit(m, steps=9)


CALLBACK_CASES = ["callbacks", "lsuv_ema"]

CASES = {name[len("case_") :]: fn for name, fn in globals().items() if name.startswith("case_")}


def run(case: str, out_dir: str) -> None:
    module, fit = CASES[case]()
    trainer = fit(module)
    extra = {}
    for cb in trainer.callbacks:
        if type(cb).__name__ == "LSUVInit":
            extra["lsuv_results"] = cb.results
        if type(cb).__name__ == "GeneratorEMA":
            extra["ema"] = cb.state_dict()["ema"]
        if type(cb).__name__ == "SpectralNorm":
            extra["spectral_normed"] = list(cb.wrapped)
    recorder = getattr(module, "noise_recorder", None)
    if recorder is not None:
        extra["latents"] = recorder.latents
        extra["alphas"] = recorder.alphas()
    state = {
        **extra,
        "state_dict": {k: v.detach().cpu().clone() for k, v in module.state_dict().items()},
        "critic_steps": module.critic_steps,
        "generator_steps": module.generator_steps,
        "global_step": trainer.global_step,
        "world_size": trainer.world_size,
        "node_rank": trainer.node_rank,
        "cluster_environment": type(getattr(trainer.strategy, "cluster_environment", None)).__name__,
        "find_unused_parameters": bool(getattr(trainer.strategy, "_ddp_kwargs", {}).get("find_unused_parameters")),
        "compiled": sorted(getattr(module, "_compiled", {})),
    }
    torch.save(state, os.path.join(out_dir, f"{case}_rank{trainer.global_rank}.pt"))


if __name__ == "__main__":
    out_dir, cases = sys.argv[1], sys.argv[2:] or list(CASES)
    for case in cases:
        run(case, out_dir)
