"""Bad input is rejected with an error naming the argument, before any optimizer step."""

import pytest
import torch
from lightning.pytorch import Trainer
from torch import nn

from lightning_gans import GAN, WGAN, WGANGP, ToyDataModule
from lightning_gans.nets import DCGANCritic, MLPCritic, MLPGenerator
from tests.conftest import trainer_kwargs


def nets():
    return MLPGenerator(latent_dim=2, hidden_dim=8, num_layers=1), MLPCritic(hidden_dim=8, num_layers=1)


@pytest.mark.parametrize(
    "build, match",
    [
        (lambda: GAN(*nets(), latent_dim=2, n_critic=0), "`n_critic` must be an integer >= 1"),
        (lambda: WGANGP(*nets(), latent_dim=2, n_critic=2.5), "`n_critic`"),
        (lambda: WGANGP(*nets(), latent_dim=2, gp_weight=-1.0), "`gp_weight` must be >= 0"),
        (lambda: WGANGP(*nets(), latent_dim=2, gp_weight=float("nan")), "`gp_weight`"),
        (lambda: WGAN(*nets(), latent_dim=2, clip_value=-0.01), "`clip_value` must be > 0"),
        (lambda: GAN(*nets(), latent_dim=2, loss="wasserstien"), "Unknown `loss` 'wasserstien'"),
        (lambda: GAN(*nets(), latent_dim=2, penalty="gp"), "Unknown `penalty` 'gp'"),
        (lambda: GAN(*nets(), latent_dim=2, penalty_weight=-3), "`penalty_weight` must be >= 0"),
        (lambda: GAN(*nets(), latent_dim=0), "`latent_dim` must be a positive integer"),
        (lambda: GAN(nets()[0], "critic", latent_dim=2), "`critic` must be a torch.nn.Module"),
        (lambda: DCGANCritic(image_size=12), "`image_size` must be a power of two"),
        (lambda: DCGANCritic(norm="spectral"), "Unknown `norm`"),
        (lambda: ToyDataModule(dataset="9gaussians"), "Unknown `dataset`"),
    ],
)
def test_bad_arguments_are_rejected_at_construction(build, match):
    """Each bad hyper-parameter raises at construction with the argument's name in the message."""
    with pytest.raises((ValueError, TypeError), match=match):
        build()


def _assert_rejected_before_any_step(model, match):
    before = [p.detach().clone() for p in model.parameters()]
    with pytest.raises(ValueError, match=match):
        Trainer(max_steps=5, **trainer_kwargs()).fit(model, ToyDataModule(batch_size=16, batches_per_epoch=5))
    assert model.critic_steps == 0 and model.generator_steps == 0
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_critic_with_wrong_output_shape_is_rejected_before_training():
    """A critic returning (N, 2) fails on the first batch, naming `critic`, with no weight changed."""
    critic = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 2))
    _assert_rejected_before_any_step(WGANGP(nets()[0], critic, latent_dim=2), r"`critic` must return one score per sample.*\(16, 2\)")


def test_generator_output_shape_mismatch_is_rejected_before_training():
    """A generator producing 3-D points for 2-D data fails on the first batch, naming `generator`."""
    generator = MLPGenerator(latent_dim=2, out_dim=3, hidden_dim=8, num_layers=1)
    _assert_rejected_before_any_step(
        GAN(generator, MLPCritic(in_dim=3, hidden_dim=8, num_layers=1), latent_dim=2),
        r"`generator` output shape \(16, 3\) does not match the data's shape \(16, 2\)",
    )


def test_latent_dim_mismatch_is_reported():
    """A latent_dim the generator cannot take surfaces as torch's shape error at the first batch."""
    model = GAN(MLPGenerator(latent_dim=4, hidden_dim=8, num_layers=1), nets()[1], latent_dim=2)
    with pytest.raises(RuntimeError, match="shapes cannot be multiplied"):
        Trainer(max_steps=2, **trainer_kwargs()).fit(model, ToyDataModule(batch_size=16, batches_per_epoch=5))
    assert model.critic_steps == 0


def test_unsupported_batch_type_names_batch():
    """A batch that holds no tensor is rejected naming `batch`."""
    from torch.utils.data import DataLoader

    model = GAN(*nets(), latent_dim=2)
    loader = DataLoader([{"x": torch.zeros(2)}] * 8, batch_size=4)
    with pytest.raises(TypeError, match="`batch` must be a Tensor"):
        Trainer(max_steps=2, **trainer_kwargs()).fit(model, loader)
