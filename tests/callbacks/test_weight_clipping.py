"""WeightClipping: clamps the critic after every critic optimizer step, and nothing else."""

from __future__ import annotations

import pytest
import torch
from lightning.pytorch import Trainer
from lightning.pytorch.plugins import MixedPrecision

from lightning_gans import WGAN, DigitsDataModule, ToyDataModule
from lightning_gans.callbacks import SpectralNorm, WeightClipping
from lightning_gans.nets import DCGANCritic, DCGANGenerator, MLPCritic, MLPGenerator
from tests.conftest import trainer_kwargs


def toy_wgan(**kwargs) -> WGAN:
    return WGAN(
        MLPGenerator(2, 2, hidden_dim=16, num_layers=2),
        MLPCritic(2, hidden_dim=16, num_layers=2),
        latent_dim=2,
        **kwargs,
    )


def toy_data() -> ToyDataModule:
    return ToyDataModule(batch_size=32, batches_per_epoch=20)


def clipping_callback(trainer: Trainer) -> WeightClipping:
    (cb,) = [c for c in trainer.callbacks if isinstance(c, WeightClipping)]
    return cb


def test_critic_inside_clip_range_generator_not_and_one_clip_per_critic_step():
    """After 12 batches (n_critic=5): every critic parameter in [-c, c], some generator one outside; 10 clips = 10 critic steps."""
    model = toy_wgan(clip_value=None, n_critic=5, generator_optimizer=lambda p: torch.optim.RMSprop(p, lr=1e-3))
    clip = WeightClipping(0.01)
    trainer = Trainer(max_steps=12, callbacks=[clip], **trainer_kwargs())
    trainer.fit(model, toy_data())
    assert (model.critic_steps, model.generator_steps) == (10, 2)
    assert clip.clip_events == model.critic_steps == 10
    assert all(p.abs().max() <= 0.01 for p in model.critic.parameters())
    assert max(p.abs().max() for p in model.generator.parameters()) > 0.01


def test_wgan_brings_its_clipping_with_its_clip_value():
    """WGAN(clip_value=0.05) adds one WeightClipping(0.05) through configure_callbacks; clip_value=None adds none."""
    model = toy_wgan(clip_value=0.05, n_critic=2)
    trainer = Trainer(max_steps=6, **trainer_kwargs())
    trainer.fit(model, toy_data())
    cb = clipping_callback(trainer)
    assert cb.clip_value == 0.05 and cb.clip_events == model.critic_steps == 4
    assert max(p.abs().max() for p in model.critic.parameters()) <= 0.05
    trainer = Trainer(max_steps=1, **trainer_kwargs())
    trainer.fit(toy_wgan(clip_value=None), toy_data())
    assert not [c for c in trainer.callbacks if isinstance(c, WeightClipping)]


class _InfAtThirdCriticStep(WGAN):
    def critic_loss(self, real_scores, fake_scores):
        loss = super().critic_loss(real_scores, fake_scores)
        return loss * float("inf") if self.critic_steps == 2 else loss


def test_step_skipped_by_amp_is_not_clipped():
    """16-mixed with an inf loss at one critic step: GradScaler skips that step (scale halves once) and no clip follows it."""
    model = _InfAtThirdCriticStep(
        MLPGenerator(2, 2, hidden_dim=16, num_layers=2),
        MLPCritic(2, hidden_dim=16, num_layers=2),
        latent_dim=2,
        clip_value=0.01,
        n_critic=2,
    )
    scaler = torch.amp.GradScaler("cpu", init_scale=1.0)  # small scale: no natural fp16 overflow in this tiny net
    trainer = Trainer(max_steps=9, plugins=[MixedPrecision("16-mixed", "cpu", scaler)], **trainer_kwargs())
    trainer.fit(model, toy_data())
    assert scaler.get_scale() == 0.5  # exactly one skipped step
    assert model.critic_steps == 6
    assert clipping_callback(trainer).clip_events == 5


def test_skip_norm_leaves_normalisation_affine_parameters_alone():
    """parameter_filter="skip_norm": conv weights clipped, GroupNorm affine weights (init 1) untouched; "all" clips them."""
    torch.manual_seed(0)

    def run(parameter_filter):
        critic = DCGANCritic(image_size=16, channels=1, base_channels=4, norm="layer")
        model = WGAN(
            DCGANGenerator(8, image_size=16, channels=1, base_channels=4),
            critic,
            latent_dim=8,
            clip_value=None,
            n_critic=2,
        )
        trainer = Trainer(max_steps=3, callbacks=[WeightClipping(0.01, parameter_filter)], **trainer_kwargs())
        trainer.fit(model, DigitsDataModule(batch_size=16, image_size=16))
        norms = [m for m in critic.modules() if isinstance(m, torch.nn.GroupNorm)]
        convs = [m for m in critic.modules() if isinstance(m, torch.nn.Conv2d)]
        return norms, convs

    norms, convs = run("skip_norm")
    assert norms and all(torch.all(m.weight > 0.9) for m in norms)
    assert all(m.weight.abs().max() <= 0.01 for m in convs)
    norms, _ = run("all")
    assert all(m.weight.abs().max() <= 0.01 for m in norms)


def test_custom_filter_selects_parameters_by_name():
    """A callable filter clipping only biases leaves the weights outside [-c, c]."""
    model = toy_wgan(clip_value=None, n_critic=1)
    trainer = Trainer(
        max_steps=2, callbacks=[WeightClipping(1e-3, lambda name, p: name.endswith("bias"))], **trainer_kwargs()
    )
    trainer.fit(model, toy_data())
    for name, p in model.critic.named_parameters():
        assert (p.abs().max() <= 1e-3) == name.endswith("bias"), name


def test_clipping_a_spectral_normed_critic_is_rejected():
    """WeightClipping with SpectralNorm on the critic raises with the reason and the way out."""
    trainer = Trainer(max_steps=1, callbacks=[SpectralNorm(), WeightClipping(0.01)], **trainer_kwargs())
    with pytest.raises(ValueError, match=r"spectral-normed weights.*Lipschitz"):
        trainer.fit(toy_wgan(clip_value=None), toy_data())


def test_critic_optimizer_must_be_second():
    """Optimizers in the order [critic, generator] are rejected (the hook would clip after the wrong steps)."""

    class Swapped(WGAN):
        def configure_optimizers(self):
            return list(reversed(super().configure_optimizers()))

    model = Swapped(MLPGenerator(2, 2, 16, 2), MLPCritic(2, 16, 2), latent_dim=2, clip_value=0.01)
    with pytest.raises(TypeError, match=r"`critic_optimizer` does not optimise the critic"):
        Trainer(max_steps=1, **trainer_kwargs()).fit(model, toy_data())


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"clip_value": 0}, "`clip_value`"),
        ({"clip_value": -0.1}, "`clip_value`"),
        ({"clip_value": "0.01"}, "`clip_value`"),
        ({"clip_value": True}, "`clip_value`"),
        ({"parameter_filter": "norms"}, "`parameter_filter`"),
        ({"parameter_filter": 3}, "`parameter_filter`"),
    ],
)
def test_arguments_are_validated(kwargs, match):
    """Bad arguments raise ValueError naming the argument."""
    with pytest.raises(ValueError, match=match):
        WeightClipping(**kwargs)
