"""Python API faults: what a user can get wrong when building a module in Python, each named before any update.

The construction-time cases complement tests/faults/test_bad_input.py (ranges) with the ones that used to
surface as an unrelated error deep inside torch, or not at all.
"""

from __future__ import annotations

import math
from functools import partial

import pytest
import torch
from lightning.pytorch import Trainer
from torch import nn

from lightning_gans import GAN, WGAN, WGANGP, ToyDataModule
from lightning_gans.nets import MLPCritic, MLPGenerator
from tests.conftest import trainer_kwargs

pytestmark = pytest.mark.usefixtures("one_thread")


def _nets(latent_dim: int = 2):
    torch.manual_seed(0)
    return MLPGenerator(latent_dim=latent_dim, hidden_dim=8, num_layers=1), MLPCritic(hidden_dim=8, num_layers=1)


def _fit(module, max_steps=4, ckpt_path=None):
    trainer = Trainer(**trainer_kwargs(max_steps=max_steps))
    trainer.fit(module, datamodule=ToyDataModule(batch_size=16, batches_per_epoch=4, seed=0), ckpt_path=ckpt_path)
    return trainer


def _bn_critic():
    return nn.Sequential(nn.Linear(2, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 1))


@pytest.mark.parametrize(
    ("build", "error", "match"),
    [
        (
            lambda: GAN(*_nets(), latent_dim=2, critic_optimizer=torch.optim.Adam(nn.Linear(1, 1).parameters())),
            TypeError,
            r"`critic_optimizer` must build an optimizer from parameters, .* not be one: got a Adam instance",
        ),
        (
            lambda: GAN(*_nets(), latent_dim=2, generator_optimizer="adam"),
            TypeError,
            r"`generator_optimizer` must be a callable",
        ),
        (
            lambda: GAN(*_nets(), latent_dim=2, noise_seed="7"),
            ValueError,
            r"`noise_seed` must be an integer >= 0, got '7'",
        ),
        (
            lambda: GAN(*_nets(), latent_dim=2, noise_seed=1.5),
            ValueError,
            r"`noise_seed` must be an integer >= 0, got 1\.5",
        ),
        (
            lambda: WGANGP(*_nets(), latent_dim=2, gp_weight="10"),
            TypeError,
            r"`gp_weight` must be a number, got str '10'",
        ),
        (
            lambda: GAN(*_nets(), latent_dim=2, penalty="r1", penalty_weight="1"),
            TypeError,
            r"`penalty_weight` must be a number, got str '1'",
        ),
        (
            lambda: GAN(*_nets(), latent_dim=2, penalty="r1", penalty_weight=math.inf),
            ValueError,
            r"`penalty_weight` must be finite",
        ),
        (lambda: WGAN(*_nets(), latent_dim=2, clip_value="0.01"), (TypeError, ValueError), r"`clip_value`"),
    ],
    ids=[
        "optimizer instance",
        "optimizer string",
        "noise_seed str",
        "noise_seed float",
        "gp_weight str",
        "penalty_weight str",
        "penalty_weight inf",
        "clip_value str",
    ],
)
def test_bad_python_arguments_fail_at_construction(build, error, match):
    """Each wrong Python argument raises at construction, naming the argument and what was given."""
    with pytest.raises(error, match=match):
        build()


def test_batchnorm_critic_with_gradient_penalty_warns_naming_critic():
    """A BatchNorm critic with the gradient penalty (per-sample, which BatchNorm couples) warns naming `critic` and the layer."""
    with pytest.warns(UserWarning, match=r"`critic` has BatchNorm layers \(1\) but `penalty='gradient_penalty'`"):
        WGANGP(_nets()[0], _bn_critic(), latent_dim=2)


def test_latent_dim_disagreeing_with_the_generator_names_latent_dim():
    """`latent_dim`=2 with a generator that takes 4 inputs: a ValueError naming `latent_dim` at the first batch, no update."""
    module = GAN(MLPGenerator(latent_dim=4, hidden_dim=8, num_layers=1), _nets()[1], latent_dim=2)
    with pytest.raises(ValueError, match=r"`generator` failed on noise of shape \(16, 2\) \(`latent_dim`=2\)"):
        _fit(module)
    assert module.critic_steps + module.generator_steps == 0


def test_non_numeric_learning_rate_names_the_optimizer():
    """`critic_optimizer=partial(Adam, lr="1e-4")` (a string, as a hand-written config gives): an error naming `critic_optimizer`, no update."""
    module = GAN(*_nets(), latent_dim=2, critic_optimizer=partial(torch.optim.Adam, lr="1e-4"))
    with pytest.raises(TypeError, match=r"`critic_optimizer` could not build the critic's optimizer"):
        _fit(module)
    assert module.critic_steps + module.generator_steps == 0


def test_load_from_checkpoint_of_another_class_is_refused(tmp_path):
    """`WGANGP.load_from_checkpoint` of a GAN checkpoint raises naming both classes, instead of loading GAN weights into a WGAN-GP."""
    trainer = _fit(GAN(*_nets(), latent_dim=2, noise_seed=0))
    trainer.save_checkpoint(tmp_path / "gan.ckpt")
    with pytest.raises(
        TypeError,
        match=r"holds a lightning_gans\.GAN, but the module is a lightning_gans\.WGANGP.*Load it with `GAN\.load_from_checkpoint",
    ):
        WGANGP.load_from_checkpoint(tmp_path / "gan.ckpt", generator=_nets()[0], critic=_nets()[1])
    assert (
        type(GAN.load_from_checkpoint(tmp_path / "gan.ckpt", generator=_nets()[0], critic=_nets()[1])) is GAN
    )  # control


def test_resuming_another_class_is_refused(tmp_path):
    """`Trainer.fit(WGANGP(...), ckpt_path=<GAN checkpoint>)` raises naming both classes and `ckpt_path`, before any update."""
    trainer = _fit(GAN(*_nets(), latent_dim=2, noise_seed=0))
    trainer.save_checkpoint(tmp_path / "gan.ckpt")
    module = WGANGP(*_nets(), latent_dim=2)
    with pytest.raises(
        TypeError,
        match=r"`ckpt_path` '.*gan\.ckpt' holds a lightning_gans\.GAN, but the module is a lightning_gans\.WGANGP",
    ):
        _fit(module, max_steps=8, ckpt_path=str(tmp_path / "gan.ckpt"))
    assert module.critic_steps + module.generator_steps == 0


def test_gan_metrics_data_range_mismatch_fails_in_setup():
    """A tanh generator (values in [-1, 1]) evaluated with `data_range`=(0, 1): the error comes in `setup`, before any update."""
    from lightning_gans import DigitsDataModule
    from lightning_gans.callbacks import GANMetrics

    torch.manual_seed(0)
    generator = nn.Sequential(nn.Linear(2, 64), nn.Tanh(), nn.Unflatten(1, (1, 8, 8)))  # (N, 1, 8, 8) in (-1, 1)
    critic = nn.Sequential(nn.Flatten(), nn.Linear(64, 1))
    module = GAN(generator, critic, latent_dim=2)
    metrics = GANMetrics(
        num_samples=64, feature_extractor="digits", data_range=(0, 1), every_n_generator_steps=100, cache=False
    )
    trainer = Trainer(**trainer_kwargs(max_steps=4, callbacks=[metrics]))
    with pytest.raises(
        ValueError, match=r"generated samples have values in \[-0\.\d+, 0\.\d+\], outside `data_range`=\(0, 1\)"
    ):
        trainer.fit(module, datamodule=DigitsDataModule(batch_size=16))
    assert module.critic_steps + module.generator_steps == 0


def test_corrupt_inception_weights_file_is_named(tmp_path):
    """A truncated Inception weights file raises naming `feature_extractor_weights_path` and the file, not only torch's zip error."""
    from lightning_gans.evaluation.extractors import InceptionV3Extractor

    path = tmp_path / "pt_inception-2015-12-05-6726825d.pth"
    path.write_bytes(b"PK\x03\x04" + b"\x00" * 100)
    with pytest.raises(
        ValueError, match=rf"`feature_extractor_weights_path`: the Inception-v3 weights file '{path}' cannot be loaded"
    ):
        InceptionV3Extractor(weights_path=str(path))
