"""Tests for the InstanceNoise callback and the module's critic_inputs hook."""

from __future__ import annotations

import math

import pytest
import torch
from lightning.pytorch import Trainer
from lightning.pytorch.callbacks import ModelCheckpoint

from lightning_gans import GAN, WGAN, WGANGP, ToyDataModule
from lightning_gans.callbacks.instance_noise import INSTANCE_NOISE_STD, InstanceNoise, instance_noise_std
from lightning_gans.nets import MLPCritic, MLPGenerator
from tests.conftest import trainer_kwargs


def _nets():
    return MLPGenerator(latent_dim=2, hidden_dim=16, num_layers=1), MLPCritic(hidden_dim=16, num_layers=1)


def _data():
    return ToyDataModule(batch_size=16, batches_per_epoch=50)


class _Recording(WGANGP):
    """WGAN-GP that records sigma, the generator step and what the critic and the penalty receive."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.seen: list[tuple[float, int]] = []
        self.critic_seen: list[tuple[torch.Tensor, torch.Tensor]] = []
        penalty = self.penalty
        self.penalty_seen: list[tuple[torch.Tensor, torch.Tensor]] = []

        def recording_penalty(critic, real, fake, *, labels=None, rng=None, grad_scale=None):
            self.penalty_seen.append((real, fake))
            return penalty(critic, real, fake, labels=labels, rng=rng, grad_scale=grad_scale)

        self.penalty = recording_penalty

    def critic_inputs(self, real, fake, rng=None):
        self.seen.append((self.instance_noise_std, self.generator_steps))
        out = super().critic_inputs(real, fake, rng)
        self.critic_seen.append(out)
        return out


def test_schedule_values():
    """Linear and cosine schedules start at sigma_0, pass through known midpoints and are exactly 0 from T on."""
    assert instance_noise_std(0, 0.4, 10) == 0.4
    assert instance_noise_std(5, 0.4, 10) == pytest.approx(0.2, abs=1e-15)
    assert instance_noise_std(9, 0.4, 10) == pytest.approx(0.04, abs=1e-15)
    assert instance_noise_std(5, 0.4, 10, "cosine") == pytest.approx(0.2, abs=1e-15)
    assert instance_noise_std(2, 0.4, 8, "cosine") == pytest.approx(0.2 * (1 + math.cos(math.pi / 4)), abs=1e-15)
    for schedule in ("linear", "cosine"):
        assert instance_noise_std(10, 0.4, 10, schedule) == 0.0
        assert instance_noise_std(10**6, 0.4, 10, schedule) == 0.0


def test_sigma_follows_schedule_in_every_update_and_is_zero_after_annealing():
    """Every critic and generator update reads sigma = schedule(generator_steps); after T generator steps it is 0."""
    g, d = _nets()
    model = _Recording(g, d, latent_dim=2, n_critic=2, noise_seed=0)
    noise = InstanceNoise(initial_std=0.3, anneal_steps=3)
    trainer = Trainer(max_steps=15, callbacks=[noise], **trainer_kwargs())  # 5 generator updates
    trainer.fit(model, _data())
    # 15 updates: each calls critic_inputs once, with sigma(t) for the generator steps t made so far
    assert len(model.seen) == 15
    assert [t for _, t in model.seen] == [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4]
    assert [s for s, _ in model.seen] == [instance_noise_std(t, 0.3, 3) for _, t in model.seen]
    assert [s for s, _ in model.seen[:3]] == [0.3] * 3
    assert all(s == 0.0 for s, t in model.seen if t >= 3)
    assert trainer.callback_metrics[INSTANCE_NOISE_STD].item() == 0.0
    assert model.instance_noise_std == 0.0  # restored after fit


def test_gradient_penalty_interpolates_between_noised_samples():
    """The penalty receives exactly the (noised) samples the critic scored, not the clean batch."""
    g, d = _nets()
    model = _Recording(g, d, latent_dim=2, n_critic=1, noise_seed=0)
    trainer = Trainer(max_steps=1, callbacks=[InstanceNoise(initial_std=0.5, anneal_steps=10)], **trainer_kwargs())
    trainer.fit(model, _data())
    ((real_seen, fake_seen),) = model.penalty_seen
    ((real_in, fake_in),) = model.critic_seen
    assert real_seen is real_in and fake_seen is fake_in


def test_critic_inputs_adds_seeded_noise_of_the_given_std():
    """critic_inputs adds std * N(0, 1) drawn from the update RNG to real and fake, and is the identity at std 0."""
    g, d = _nets()
    model = WGANGP(g, d, latent_dim=2)
    real, fake = torch.randn(5, 2), torch.randn(5, 2)
    rng = torch.Generator().manual_seed(3)
    assert model.critic_inputs(real, fake, rng) == (real, fake)
    assert torch.equal(rng.get_state(), torch.Generator().manual_seed(3).get_state())  # nothing drawn at std 0
    model.instance_noise_std = 0.25
    noisy_real, noisy_fake = model.critic_inputs(real, fake, rng)
    expected = torch.randn((2, 5, 2), generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(noisy_real, real + 0.25 * expected[0])
    torch.testing.assert_close(noisy_fake, fake + 0.25 * expected[1])


@pytest.mark.parametrize("cls", [GAN, WGAN, WGANGP])
def test_works_with_every_module(cls):
    """Each module trains with instance noise, and the noise changes the updates (weights differ from a clean run)."""

    def run(callbacks):
        torch.manual_seed(0)
        g, d = _nets()
        model = cls(g, d, latent_dim=2, noise_seed=0, n_critic=1)
        Trainer(max_steps=4, callbacks=callbacks, **trainer_kwargs()).fit(model, _data())
        return torch.cat([p.detach().flatten() for p in model.critic.parameters()])

    clean, noised = run([]), run([InstanceNoise(initial_std=0.5, anneal_steps=100)])
    assert torch.isfinite(noised).all()
    assert not torch.equal(clean, noised)


def test_resume_matches_uninterrupted_run(tmp_path):
    """Sigma needs no checkpointed state: a run resumed mid-anneal ends with the uninterrupted run's weights."""

    def fit(max_steps, ckpt_path=None, callbacks=()):
        torch.manual_seed(0)
        g, d = _nets()
        model = WGANGP(g, d, latent_dim=2, n_critic=2, noise_seed=0)
        trainer = Trainer(
            max_steps=max_steps,
            callbacks=[InstanceNoise(0.3, anneal_steps=6), *callbacks],
            **trainer_kwargs(enable_checkpointing=bool(callbacks)),
        )
        trainer.fit(model, _data(), ckpt_path=ckpt_path)
        return model

    full = fit(18)
    checkpoint = ModelCheckpoint(dirpath=tmp_path, every_n_train_steps=9, save_top_k=-1)
    fit(9, callbacks=[checkpoint])  # stops after 3 of 6 annealing generator updates, sigma = 0.15
    resumed = fit(18, ckpt_path=str(tmp_path / "epoch=0-step=9.ckpt"))
    for a, b in zip(full.parameters(), resumed.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_invalid_arguments():
    """Out-of-range or unknown arguments raise errors naming the argument."""
    with pytest.raises(ValueError, match="`initial_std`"):
        InstanceNoise(initial_std=-0.1)
    with pytest.raises(ValueError, match="`initial_std`"):
        InstanceNoise(initial_std=float("nan"))
    with pytest.raises(ValueError, match="`anneal_steps`"):
        InstanceNoise(anneal_steps=0)
    with pytest.raises(ValueError, match="`schedule`"):
        InstanceNoise(schedule="exponential")


def test_rejects_module_without_protocol():
    """A module without `instance_noise_std` is rejected in setup, naming the missing attribute."""
    from lightning.pytorch.demos.boring_classes import BoringModel

    trainer = Trainer(max_steps=1, callbacks=[InstanceNoise()], **trainer_kwargs())
    with pytest.raises(TypeError, match="instance_noise_std"):
        trainer.fit(BoringModel())
