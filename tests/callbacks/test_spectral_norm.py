"""SpectralNorm: torch's spectral norm on the critic's layers, sigma ~ 1 after training, checkpoints round-trip."""

from __future__ import annotations

import copy

import pytest
import torch
from lightning.pytorch import Trainer, seed_everything
from lightning.pytorch.callbacks import ModelCheckpoint
from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import spectral_norm

from lightning_gans import GAN, WGANGP, DigitsDataModule, ToyDataModule
from lightning_gans.callbacks import SpectralNorm
from lightning_gans.callbacks.spectral_norm import SETTINGS_KEY, apply_spectral_norm
from lightning_gans.nets import DCGANCritic, DCGANGenerator, MLPCritic, MLPGenerator
from tests.conftest import trainer_kwargs


def toy_nets() -> tuple[nn.Module, nn.Module]:
    torch.manual_seed(0)
    return MLPGenerator(2, 2, hidden_dim=32, num_layers=2), MLPCritic(2, hidden_dim=32, num_layers=2)


def toy_data() -> ToyDataModule:
    return ToyDataModule(batch_size=64, batches_per_epoch=50, seed=0)


def wrapped_layers(net: nn.Module) -> list[nn.Module]:
    return [m for m in net.modules() if parametrize.is_parametrized(m, "weight")]


def sigma(layer: nn.Module) -> float:
    """Largest singular value of the layer's effective weight, reshaped independently of torch's code."""
    dim = 1 if isinstance(layer, nn.modules.conv._ConvTransposeNd) else 0
    w = layer.weight.detach().movedim(dim, 0).flatten(1)  # (out_features, -1)
    return float(torch.linalg.matrix_norm(w, ord=2))


def test_wraps_each_linear_conv_layer_once():
    """The critic's 3 Linear layers get one spectral-norm parametrization each; applying again wraps nothing."""
    gen, critic = toy_nets()
    model = GAN(gen, critic, latent_dim=2)
    cb = SpectralNorm()
    assert cb.apply(model) == ["critic.net.0", "critic.net.2", "critic.net.4"]
    assert cb.apply(model) == []
    assert SpectralNorm(generator=True).apply(model) == ["generator.net.0", "generator.net.2", "generator.net.4"]
    for layer in wrapped_layers(model):
        assert len(layer.parametrizations.weight) == 1
    assert {n for n, _ in model.named_parameters() if "original" in n} == {
        f"{net}.net.{i}.parametrizations.weight.original" for net in ("critic", "generator") for i in (0, 2, 4)
    }


def test_outputs_match_torch_spectral_norm():
    """Same layer, same RNG: the callback's critic and torch's spectral_norm give identical outputs, train and eval."""
    _, critic = toy_nets()
    reference = copy.deepcopy(critic)
    torch.manual_seed(1)
    apply_spectral_norm(critic, n_power_iterations=2, eps=1e-8)
    torch.manual_seed(1)
    for m in reference.modules():
        if isinstance(m, nn.Linear):
            spectral_norm(m, n_power_iterations=2, eps=1e-8)
    x = torch.randn(16, 2)
    for _ in range(3):  # training mode: each forward runs the power iteration
        torch.testing.assert_close(critic(x), reference(x), rtol=0, atol=0)
    critic.eval(), reference.eval()
    torch.testing.assert_close(critic(x), reference(x), rtol=0, atol=0)


def test_sigma_is_one_after_training_mlp_and_dcgan():
    """After training, every wrapped layer's effective weight has largest singular value 1 within 1e-3 (linear, conv, conv-transpose).

    The MLP critic's weights are first scaled by 3 (raw sigmas 1.9-8), so an unnormalised layer fails.
    Measured: max |sigma - 1| = 4e-4 here, 2e-5 for the convolutions. sigma_eff = sigma(W) / (u^T W v)
    lags when training makes the top two singular values of W cross, since the power iteration (one per
    forward, as in the paper) follows the old direction: unscaled 32x32 layers reached 1.03 in 30 steps.
    """
    model = GAN(*toy_nets(), latent_dim=2, noise_seed=0)
    with torch.no_grad():
        for p in model.critic.parameters():
            p.mul_(3.0)
    Trainer(max_steps=30, callbacks=[SpectralNorm()], **trainer_kwargs()).fit(model, toy_data())
    gen = DCGANGenerator(16, image_size=8, channels=1, base_channels=8)
    dcgan = GAN(gen, DCGANCritic(image_size=8, channels=1, base_channels=8, norm="none"), latent_dim=16)
    Trainer(max_steps=10, callbacks=[SpectralNorm(generator=True)], **trainer_kwargs()).fit(
        dcgan, DigitsDataModule(batch_size=32)
    )
    layers = wrapped_layers(model.critic) + wrapped_layers(dcgan)
    assert len(layers) == 3 + 2 + 2 and any(isinstance(m, nn.ConvTranspose2d) for m in layers)
    for m in layers:
        m.eval()
        assert sigma(m) == pytest.approx(1.0, abs=1e-3)  # measured max |sigma - 1| = 4.2e-4


def test_resume_from_checkpoint_is_exact(tmp_path):
    """6 + 6 steps resumed with ckpt_path end with exactly the state (original, _u, _v) of 12 uninterrupted steps."""

    def run(max_steps, ckpt_path=None, callbacks=()):
        seed_everything(0)
        model = WGANGP(*toy_nets(), latent_dim=2, n_critic=2, noise_seed=1)
        trainer = Trainer(
            max_steps=max_steps,
            callbacks=[SpectralNorm(), *callbacks],
            **trainer_kwargs(enable_checkpointing=bool(callbacks)),
        )
        trainer.fit(model, toy_data(), ckpt_path=ckpt_path)
        return model

    full = run(12)
    run(6, callbacks=[ModelCheckpoint(dirpath=tmp_path, filename="half")])
    resumed = run(12, ckpt_path=tmp_path / "half.ckpt")
    expected, got = full.state_dict(), resumed.state_dict()
    assert any(k.endswith("_u") for k in got) and expected.keys() == got.keys()
    for key in expected:
        torch.testing.assert_close(got[key], expected[key], rtol=0, atol=0, msg=key)


def test_load_from_checkpoint_without_trainer_restores_spectral_norm(tmp_path):
    """Module.load_from_checkpoint on fresh (unwrapped) nets re-applies spectral norm with the saved settings, strictly."""
    model = GAN(*toy_nets(), latent_dim=2)
    ckpt = ModelCheckpoint(dirpath=tmp_path, filename="last")
    Trainer(
        max_steps=6, callbacks=[SpectralNorm(n_power_iterations=3), ckpt], **trainer_kwargs(enable_checkpointing=True)
    ).fit(model, toy_data())
    assert (
        torch.load(tmp_path / "last.ckpt", weights_only=True)[SETTINGS_KEY]["critic.net.0"]["n_power_iterations"] == 3
    )

    loaded = GAN.load_from_checkpoint(
        tmp_path / "last.ckpt", generator=MLPGenerator(2, 2, 32, 2), critic=MLPCritic(2, 32, 2)
    )
    assert [p.n_power_iterations for m in wrapped_layers(loaded.critic) for p in m.parametrizations.weight] == [3, 3, 3]
    model.eval(), loaded.eval()
    x = torch.randn(32, 2)
    torch.testing.assert_close(loaded.critic(x), model.critic(x), rtol=0, atol=0)


def test_net_without_linear_or_conv_layer_is_rejected():
    """A critic with no Linear/Conv layer gets an error naming the network."""
    model = GAN(MLPGenerator(2, 2, 16, 1), nn.Sequential(nn.Flatten(), nn.ReLU()), latent_dim=2)
    with pytest.raises(ValueError, match=r"`critic`.*no Linear/Conv layer"):
        SpectralNorm().apply(model)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"n_power_iterations": 0}, ValueError, "`n_power_iterations`"),
        ({"n_power_iterations": 1.5}, ValueError, "`n_power_iterations`"),
        ({"eps": 0}, ValueError, "`eps`"),
        ({"critic": False, "generator": False}, ValueError, "`critic` and `generator`"),
        ({"critic": "yes"}, TypeError, "`critic`"),
    ],
)
def test_arguments_are_validated(kwargs, error, match):
    """Bad arguments raise an error naming the argument."""
    with pytest.raises(error, match=match):
        SpectralNorm(**kwargs)
