"""DivergenceGuard: non-finite losses, gradients and weights stop or skip, and never reach a checkpoint."""

from __future__ import annotations

import math
from functools import partial

import pytest
import torch
from lightning.pytorch import Trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from torch.utils.data import DataLoader

from lightning_gans import GAN, WGANGP
from lightning_gans.callbacks.divergence_guard import DivergenceError, DivergenceGuard
from lightning_gans.nets import MLPCritic, MLPGenerator
from tests.conftest import trainer_kwargs

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny nets: one intra-op thread is fastest


def _loader(poisoned=(), steps: int = 12) -> DataLoader:
    """Batch ``t`` is real 2-D data, or all-NaN when ``t`` is in ``poisoned``; fixed order."""
    g = torch.Generator().manual_seed(0)
    batches = torch.randn(steps, 16, 2, generator=g)
    for t in poisoned:
        batches[t] = math.nan
    return DataLoader(list(batches), batch_size=None)


def _nets():
    return MLPGenerator(latent_dim=2, hidden_dim=16, num_layers=2), MLPCritic(hidden_dim=16, num_layers=2)


def _gan(**kw):
    return GAN(*_nets(), latent_dim=2, noise_seed=0, **kw)


def _fit(module, loader, callbacks, max_steps=12, **kw):
    trainer = Trainer(**trainer_kwargs(max_steps=max_steps, callbacks=callbacks, **kw))
    trainer.fit(module, train_dataloaders=loader)
    return trainer


def test_stop_names_step_network_and_loss():
    """A NaN critic loss at batch 4 raises before the update, naming global step 4, the critic and the loss."""
    module = _gan()
    with pytest.raises(
        DivergenceError,
        match=r"non-finite critic update at global step 4 .*critic loss = nan; non-finite gradients in critic\.net",
    ):
        _fit(module, _loader(poisoned=[4]), [DivergenceGuard()])
    assert module.critic_steps == 2 and module.generator_steps == 2  # batches 0-3 trained, batch 4 not counted
    assert all(torch.isfinite(p).all() for p in module.parameters())


def test_generator_divergence_is_named():
    """A non-finite generator loss is reported as a generator update with its value."""

    class InfGAN(GAN):
        def generator_loss(self, fake_scores, real_scores):
            return super().generator_loss(fake_scores, real_scores) * (math.inf if self.generator_steps == 1 else 1.0)

    module = InfGAN(*_nets(), latent_dim=2, noise_seed=0)
    with pytest.raises(DivergenceError, match=r"non-finite generator update at global step 3 .*generator loss = inf"):
        _fit(module, _loader(), [DivergenceGuard()])


@pytest.mark.parametrize("guarded", [True, False])
def test_last_good_checkpoint_is_not_overwritten(tmp_path, guarded):
    """With or without the guard, last.ckpt keeps the finite step-4 weights after a NaN batch at step 4.

    With the guard the run stops before the NaN update; without it the checkpoint IO refuses to write
    the step-6 checkpoint full of NaN (the control of the old behaviour: NaN overwrote last.ckpt).
    """
    ckpt = ModelCheckpoint(dirpath=tmp_path, every_n_train_steps=2, save_last=True, save_top_k=0)
    callbacks = [ckpt, DivergenceGuard()] if guarded else [ckpt]  # the guard listed after on purpose
    match = (
        "critic update at global step 4"
        if guarded
        else r"Refused to write checkpoint .*last\.ckpt.*non-finite values in state_dict\['generator\.net.* at global step 6"
    )
    with pytest.raises(DivergenceError, match=match):
        _fit(_gan(), _loader(poisoned=[4]), callbacks, max_steps=8, enable_checkpointing=True)
    last = torch.load(tmp_path / "last.ckpt", weights_only=True)
    assert last["global_step"] == 4 and all(torch.isfinite(v).all() for v in last["state_dict"].values())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.ckpt"]  # no partial file left behind


def test_skip_drops_exactly_the_bad_updates():
    """action="skip": the NaN critic update is dropped (Adam state untouched), training goes on finite."""
    module = _gan()
    guard = DivergenceGuard(action="skip")
    with pytest.warns(UserWarning, match="global step 4 .*critic loss = nan.*Update skipped"):
        trainer = _fit(module, _loader(poisoned=[4]), [guard])
    assert trainer.global_step == 12 and module.critic_steps == 6
    assert guard.skipped[0][:2] == (4, "critic") and math.isnan(guard.skipped[0][2]) and len(guard.skipped) == 1
    critic_opt = trainer.optimizers[1]
    assert {int(s["step"]) for s in critic_opt.state.values()} == {5}  # 6 critic updates, 1 skipped
    assert all(torch.isfinite(p).all() for p in module.parameters())
    assert guard.state_dict() == {"skipped": [list(guard.skipped[0])]}


def test_skip_stops_after_max_consecutive_skips():
    """Three NaN critic batches in a row exceed `max_consecutive_skips`=2 and stop training."""
    module = WGANGP(*_nets(), latent_dim=2, n_critic=3, noise_seed=0)
    with (
        pytest.warns(UserWarning),
        pytest.raises(DivergenceError, match=r"3 non-finite updates in a row, `max_consecutive_skips`=2"),
    ):
        _fit(module, _loader(poisoned=[4, 5, 6]), [DivergenceGuard(action="skip", max_consecutive_skips=2)])


def test_non_finite_weights_with_finite_gradients_are_caught():
    """An infinite learning rate makes weights inf from finite gradients: caught after the batch, before saving."""
    module = _gan(critic_optimizer=partial(torch.optim.SGD, lr=math.inf))
    with pytest.raises(DivergenceError, match=r"non-finite weights after global step 1 .* in critic\.net"):
        _fit(module, _loader(), [DivergenceGuard()])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"action": "explode"}, "`action`"),
        ({"max_consecutive_skips": 0}, "`max_consecutive_skips`"),
        ({"check_weights": "yes"}, "`check_weights`"),
    ],
)
def test_invalid_arguments_are_rejected(kwargs, match):
    """Bad arguments raise ValueError naming the argument."""
    with pytest.raises(ValueError, match=match):
        DivergenceGuard(**kwargs)
