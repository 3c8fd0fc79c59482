"""ToyPlot and plot_toy: real vs generated 2-D points over the critic's value contours."""

from __future__ import annotations

import os

import pytest
import torch
from lightning.pytorch import Trainer
from torch import nn
from torchvision.io import read_image

from lightning_gans import WGANGP
from lightning_gans.callbacks import ToyPlot, toy_plot
from lightning_gans.callbacks.toy_plot import critic_surface, plot_toy
from lightning_gans.data import DigitsDataModule, ToyDataModule
from lightning_gans.nets import DCGANCritic, DCGANGenerator, MLPCritic, MLPGenerator
from tests.conftest import trainer_kwargs

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny nets: one intra-op thread is fastest


def _toy_wgangp() -> WGANGP:
    return WGANGP(MLPGenerator(2, 2, 16, 2), MLPCritic(2, 16, 2), latent_dim=2, n_critic=2, noise_seed=0)


def test_critic_surface_matches_the_critic_on_the_grid():
    """values[i, j] is the critic at (xs[j], ys[i]): a critic f(x, y) = x - 2y gives exactly that on the grid."""
    critic = nn.Linear(2, 1)
    with torch.no_grad():
        critic.weight.copy_(torch.tensor([[1.0, -2.0]]))
        critic.bias.zero_()
    critic.train()
    xs, ys, values = critic_surface(critic, extent=1.5, resolution=7)
    assert torch.allclose(xs, torch.linspace(-1.5, 1.5, 7))
    assert torch.allclose(values, xs[None, :] - 2 * ys[:, None], atol=1e-6)
    assert critic.training  # mode restored


def test_plot_toy_image_size_and_dtype():
    """plot_toy returns an RGB uint8 array of size_inches * dpi pixels per side, with and without a critic."""
    real, fake = torch.randn(50, 2), torch.randn(60, 2)
    for critic in (None, MLPCritic(2, 8, 1)):
        image = plot_toy(real, fake, critic, resolution=10, size_inches=2.0, dpi=40)
        assert image.shape == (80, 80, 3) and image.dtype.name == "uint8"
    assert image.std() > 0  # not a blank canvas


def test_plot_toy_rejects_non_2d_points():
    """Points that are not (N, 2) fail with the argument's name."""
    with pytest.raises(ValueError, match="`fake`"):
        plot_toy(torch.randn(5, 2), torch.randn(5, 3))


def test_callback_writes_pngs_at_generator_steps(tmp_path):
    """Without a logger: one PNG per N generator steps, real points collected from training batches up to num_samples."""
    cb = ToyPlot(every_n_generator_steps=2, num_samples=20, resolution=10, dirpath=str(tmp_path))
    model = _toy_wgangp()
    trainer = Trainer(**trainer_kwargs(max_steps=12, callbacks=[cb]))  # n_critic=2: 4 generator steps
    trainer.fit(model, ToyDataModule(batch_size=8, batches_per_epoch=50))
    assert model.generator_steps == 4
    assert sorted(os.listdir(tmp_path)) == ["toy_g0000002.png", "toy_g0000004.png"]
    assert cb._real.shape == (20, 2)
    assert read_image(str(tmp_path / "toy_g0000004.png")).shape == (3, 500, 500)  # 5 in x 100 dpi
    assert model.critic.training


def test_image_samples_raise(tmp_path):
    """Image samples are rejected with a pointer to SampleLogger."""
    model = WGANGP(
        DCGANGenerator(latent_dim=4, image_size=8, channels=1, base_channels=4),
        DCGANCritic(image_size=8, channels=1, base_channels=4, norm="none"),
        latent_dim=4,
        n_critic=1,
    )
    trainer = Trainer(
        **trainer_kwargs(max_steps=2, callbacks=[ToyPlot(every_n_generator_steps=1, dirpath=str(tmp_path))])
    )
    with pytest.raises(ValueError, match="SampleLogger"):
        trainer.fit(model, DigitsDataModule(batch_size=4))


def test_missing_matplotlib_has_install_hint(monkeypatch):
    """Without matplotlib the callback fails at construction with the pip extra to install."""
    monkeypatch.setattr(toy_plot, "_MATPLOTLIB_AVAILABLE", False)
    with pytest.raises(ModuleNotFoundError, match=r"lightning-gans\[plots\]"):
        ToyPlot()
    with pytest.raises(ModuleNotFoundError, match="matplotlib"):
        plot_toy(torch.zeros(1, 2), torch.zeros(1, 2))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"every_n_generator_steps": 0}, "`every_n_generator_steps`"),
        ({"resolution": 1}, "`resolution`"),
        ({"real": torch.zeros(3, 3)}, "`real`"),
        ({"extent": 0.0}, "`extent`"),
    ],
)
def test_invalid_arguments(kwargs, match):
    """Bad arguments fail in __init__ with the argument's name."""
    with pytest.raises(ValueError, match=match):
        ToyPlot(**kwargs)
