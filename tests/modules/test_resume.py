"""Exact resume: N batches + save + N more == 2N batches straight, bit for bit on CPU.

Covers generator, critic, EMA, both optimizers' states, the counters, the position inside the
n_critic cycle, the noise stream (reseeded per update from ``(noise_seed, rank, update)``) and the
StatefulDataLoader's position when the checkpoint is taken mid-epoch.
"""

from __future__ import annotations

import pytest
import torch
from lightning.pytorch import Trainer
from lightning.pytorch.callbacks import ModelCheckpoint

from lightning_gans import GAN, WGANGP, ToyDataModule
from lightning_gans.callbacks import GeneratorEMA
from lightning_gans.nets import MLPCritic, MLPGenerator
from tests.conftest import trainer_kwargs

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny nets: one intra-op thread is fastest

BATCHES_PER_EPOCH = 10


def _module(kind: str):
    torch.manual_seed(0)
    g, d = MLPGenerator(latent_dim=2, hidden_dim=16, num_layers=2), MLPCritic(hidden_dim=16, num_layers=2)
    if kind == "wgangp":
        return WGANGP(g, d, latent_dim=2, n_critic=3, noise_seed=11)
    return GAN(g, d, latent_dim=2, noise_seed=11)


def _fit(kind: str, max_steps: int, ckpt_dir=None, save_every=None, ckpt_path=None):
    module = _module(kind)
    ema = GeneratorEMA(decay=0.9)
    callbacks = [ema]
    if save_every is not None:
        callbacks.append(
            ModelCheckpoint(dirpath=ckpt_dir, every_n_train_steps=save_every, save_top_k=-1, filename="{step}")
        )
    trainer = Trainer(
        **trainer_kwargs(max_steps=max_steps, callbacks=callbacks, enable_checkpointing=save_every is not None)
    )
    torch.manual_seed(123)  # the global RNG (loader shuffle) as a user script would leave it
    trainer.fit(
        module,
        datamodule=ToyDataModule(batch_size=16, batches_per_epoch=BATCHES_PER_EPOCH, seed=0),
        ckpt_path=ckpt_path,
    )
    return module, trainer, ema


def _optimizer_states(trainer):
    return [opt.state_dict() for opt in trainer.optimizers]


def _assert_same_tensors(a, b, where=""):
    if isinstance(a, torch.Tensor):
        assert torch.equal(a, b), where
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for k in a:
            _assert_same_tensors(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_same_tensors(x, y, f"{where}[{i}]")
    else:
        assert a == b, where


@pytest.mark.parametrize(
    ("kind", "n"),
    [
        ("wgangp", 13),  # mid-epoch (13 = 10 + 3) and mid-cycle (13 % (3 + 1) = 1 critic update into a cycle)
        ("wgangp", 10),  # epoch boundary, mid-cycle
        ("gan", 7),  # mid-epoch, n_critic = 1
    ],
)
def test_resume_is_bit_identical(tmp_path, kind, n):
    """Train N, save, resume N more == train 2N straight: weights, EMA, optimizers, counters, cycle position."""
    straight, straight_trainer, straight_ema = _fit(kind, 2 * n)
    _fit(kind, n, ckpt_dir=tmp_path, save_every=n)
    ckpt = tmp_path / f"step={n}.ckpt"
    saved = torch.load(ckpt, weights_only=True)  # our checkpoints hold no pickled objects
    assert (
        saved["global_step"] == n
        and saved["lightning_gans"]["critic_steps"] + saved["lightning_gans"]["generator_steps"] == n
    )
    resumed, resumed_trainer, resumed_ema = _fit(kind, 2 * n, ckpt_path=str(ckpt))

    assert resumed_trainer.global_step == straight_trainer.global_step == 2 * n
    for attr in ("critic_steps", "generator_steps", "_cycle_position", "noise_seed"):
        assert getattr(resumed, attr) == getattr(straight, attr), attr
    _assert_same_tensors(resumed.state_dict(), straight.state_dict(), "module")
    _assert_same_tensors(_optimizer_states(resumed_trainer), _optimizer_states(straight_trainer), "optimizers")
    assert resumed_ema.updates == straight_ema.updates == straight.generator_steps
    _assert_same_tensors(resumed_ema.state_dict()["ema"], straight_ema.state_dict()["ema"], "ema")
    # the run really moved after the checkpoint, so equality is not the trivial "nothing happened"
    assert not torch.equal(
        saved["state_dict"]["generator.net.0.weight"], straight.state_dict()["generator.net.0.weight"]
    )


class _PlainLoaderToy(ToyDataModule):
    """The same data through a plain DataLoader, which Lightning cannot fast-forward on resume."""

    def train_dataloader(self):
        return torch.utils.data.DataLoader(self._data, batch_size=None, shuffle=True)


def test_mid_epoch_resume_needs_the_stateful_loader(tmp_path):
    """Control: with a plain DataLoader the same mid-epoch resume is NOT exact (data restarts), so the test above can fail."""

    def fit(max_steps, ckpt_path=None, callbacks=()):
        module = _module("wgangp")
        trainer = Trainer(
            **trainer_kwargs(max_steps=max_steps, callbacks=list(callbacks), enable_checkpointing=bool(callbacks))
        )
        torch.manual_seed(123)
        trainer.fit(
            module,
            datamodule=_PlainLoaderToy(batch_size=16, batches_per_epoch=BATCHES_PER_EPOCH, seed=0),
            ckpt_path=ckpt_path,
        )
        return module

    straight = fit(26)
    fit(13, callbacks=[ModelCheckpoint(dirpath=tmp_path, every_n_train_steps=13, filename="{step}")])
    resumed = fit(26, ckpt_path=str(tmp_path / "step=13.ckpt"))
    assert resumed.critic_steps == straight.critic_steps  # counters still agree ...
    diff = max(
        (a - b).abs().max().item() for a, b in zip(resumed.state_dict().values(), straight.state_dict().values())
    )
    assert diff > 1e-6  # ... but the weights do not
