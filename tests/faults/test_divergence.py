"""Divergence faults: a finite but exploding loss, NaN in the data, fp16 penalties, and honest messages.

DivergenceGuard's basic stop/skip behaviour is in tests/callbacks/test_divergence_guard.py; these are the cases
where it used to pass silently or say something untrue.
"""

from __future__ import annotations

import math

import pytest
import torch
from lightning.pytorch import Trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from torch import nn
from torch.utils.data import DataLoader

from lightning_gans import GAN
from lightning_gans import penalties as P
from lightning_gans.callbacks.divergence_guard import DivergenceError, DivergenceGuard
from lightning_gans.nets import MLPCritic, MLPGenerator
from tests.conftest import trainer_kwargs

pytestmark = pytest.mark.usefixtures("one_thread")


def _loader(poisoned=(), steps: int = 12) -> DataLoader:
    """Batch ``t`` is 16 real 2-D points, or all-NaN when ``t`` is in ``poisoned``; fixed order."""
    batches = torch.randn(steps, 16, 2, generator=torch.Generator().manual_seed(0))
    for t in poisoned:
        batches[t] = math.nan
    return DataLoader(list(batches), batch_size=None)


class ExplodingGAN(GAN):
    """Multiplies the critic loss by 1e17 at its 3rd update (global step 4): finite, but diverged."""

    def critic_loss(self, real_scores, fake_scores):
        loss = super().critic_loss(real_scores, fake_scores)
        return loss * 1e17 if self.critic_steps == 2 else loss


def _gan(cls=GAN, **kw):
    torch.manual_seed(0)
    return cls(
        MLPGenerator(latent_dim=2, hidden_dim=8, num_layers=1),
        MLPCritic(hidden_dim=8, num_layers=1),
        latent_dim=2,
        noise_seed=0,
        **kw,
    )


def _fit(module, loader, callbacks, max_steps=12, **kw):
    trainer = Trainer(**trainer_kwargs(max_steps=max_steps, callbacks=callbacks, **kw))
    trainer.fit(module, train_dataloaders=loader)
    return trainer


def test_loss_limit_stops_a_finite_exploding_loss():
    """A critic loss of ~1e17 at step 4 stops with `loss_limit`=1e6, naming the step, the value and the limit."""
    module = _gan(ExplodingGAN)
    with pytest.raises(
        DivergenceError,
        match=r"diverging critic update at global step 4 .*critic loss = [\d.]+e\+1[67], beyond `loss_limit`=1e\+06",
    ):
        _fit(module, _loader(), [DivergenceGuard(loss_limit=1e6)])
    assert module.critic_steps == 2 and all(torch.isfinite(p).all() for p in module.parameters())


def test_without_loss_limit_a_finite_explosion_passes():
    """Control: without `loss_limit` the same 1e17 loss is finite and the guard lets it through (the old behaviour)."""
    trainer = _fit(_gan(ExplodingGAN), _loader(), [DivergenceGuard()], max_steps=6)
    assert trainer.global_step == 6


@pytest.mark.parametrize("limit", [0, -1.0, math.inf, math.nan, "1e6", True])
def test_loss_limit_must_be_a_finite_positive_number(limit):
    """`loss_limit` of 0, a negative, inf, NaN, a string or a bool is a ValueError naming it."""
    with pytest.raises(ValueError, match="`loss_limit` must be a finite number > 0 or None"):
        DivergenceGuard(loss_limit=limit)


def test_nan_in_the_batch_is_blamed_on_the_data():
    """A batch of NaN: the message says the real batch holds 32 NaN/inf values and gives no learning-rate advice."""
    with pytest.raises(DivergenceError) as info:
        _fit(_gan(), _loader(poisoned=[4]), [DivergenceGuard()])
    message = str(info.value)
    assert (
        "The real batch of this update (batch_idx 4) itself holds 32 NaN/inf values: the data, not the optimisation, is the cause"
        in message
    )
    assert "Lower the learning rates" not in message


def test_optimisation_divergence_is_not_blamed_on_the_data():
    """Control: a loss made infinite by the module (finite data) gets the learning-rate advice, not the data sentence."""

    class InfGAN(GAN):
        def critic_loss(self, real_scores, fake_scores):
            return super().critic_loss(real_scores, fake_scores) * (math.inf if self.critic_steps == 1 else 1.0)

    with pytest.raises(DivergenceError) as info:
        _fit(_gan(InfGAN), _loader(), [DivergenceGuard()])
    message = str(info.value)
    assert "Lower the learning rates or raise the penalty weight" in message and "real batch" not in message


def test_message_says_when_no_checkpoint_was_written():
    """Without any checkpoint in the run, the message says so instead of pointing at 'the last checkpoint'."""
    with pytest.raises(DivergenceError, match=r"No checkpoint was written in this run\. ") as info:
        _fit(_gan(), _loader(poisoned=[4]), [DivergenceGuard()])
    assert "last checkpoint holds" not in str(info.value)


def test_message_names_the_latest_checkpoint_written(tmp_path):
    """With checkpoints every 2 steps and NaN data at step 6, the message names the latest file (last.ckpt of step 6), which is finite."""
    ckpt = ModelCheckpoint(dirpath=tmp_path, every_n_train_steps=2, save_last=True, save_top_k=0)
    with pytest.raises(
        DivergenceError, match=rf"Latest checkpoint written in this run: {tmp_path / 'last.ckpt'} \(finite weights\)"
    ):
        _fit(_gan(), _loader(poisoned=[6]), [DivergenceGuard(), ckpt], enable_checkpointing=True)
    last = torch.load(tmp_path / "last.ckpt", weights_only=True)
    assert last["global_step"] == 6 and all(torch.isfinite(v).all() for v in last["state_dict"].values())


# ------------------------------------------------------------------------------------------------
# fp16 penalties at the GradScaler's initial scale
def _critic() -> nn.Module:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(2, 32), nn.LeakyReLU(0.2), nn.Linear(32, 32), nn.LeakyReLU(0.2), nn.Linear(32, 1))
    return net


@pytest.mark.parametrize("penalty", ["gradient_penalty", "r1"])
def test_penalties_are_finite_under_fp16_autocast_at_scale_65536(penalty):
    """Under fp16 autocast with grad_scale=65536 (GradScaler's initial scale) GP and R1 are finite and match fp32 within 1%.

    65536 is above fp16's largest value (65504): scaling the scores, or the gradient flowing back into
    the fp16 critic, by it gave inf and a NaN penalty at the first update of every 16-mixed run.
    """
    critic = _critic()
    real = torch.randn(16, 2, generator=torch.Generator().manual_seed(1)) * 2
    fake = torch.randn(16, 2, generator=torch.Generator().manual_seed(2))

    def run(scale):
        scores = lambda x: critic(x).squeeze(1)  # noqa: E731
        if penalty == "r1":
            return P.r1_penalty(scores, real, grad_scale=scale)
        return P.gradient_penalty(scores, real, fake, rng=torch.Generator().manual_seed(3), grad_scale=scale)

    reference = run(None)
    with torch.autocast("cpu", dtype=torch.float16):
        assert critic(real).dtype == torch.float16  # the critic really runs in fp16 here
        value = run(65536.0)
    assert torch.isfinite(value)
    assert float(value) == pytest.approx(float(reference), rel=1e-2)
    value.backward()
    grads = [p.grad for p in critic.parameters() if p.grad is not None]  # the last bias has no second derivative
    assert len(grads) == 5 and all(torch.isfinite(g).all() for g in grads)
