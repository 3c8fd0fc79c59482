"""ACGAN: the auxiliary classifier's losses, parity with the base module at weight 0, and argument errors."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from lightning.pytorch import Trainer
from torch.utils.data import DataLoader

from lightning_gans import ACGAN, ToyDataModule
from lightning_gans.data import TOY_DISTRIBUTIONS
from lightning_gans.nets import DCGANCritic, DCGANGenerator, MLPCritic, MLPGenerator
from tests.conftest import trainer_kwargs

pytestmark = pytest.mark.usefixtures("one_thread")


def _nets(seed=0):
    torch.manual_seed(seed)
    return MLPGenerator(hidden_dim=16, num_layers=2, num_classes=8), MLPCritic(
        hidden_dim=16, num_layers=2, num_classes=8, conditioning="auxiliary"
    )


@pytest.mark.parametrize(
    "kw",
    [{}, dict(loss="wasserstein", penalty="gradient_penalty", penalty_weight=10.0, n_critic=2)],
    ids=["gan", "wgan-gp"],
)
def test_zero_classifier_weight_trains_exactly_like_the_base_module(kw):
    """classifier_weight=0: every weight after 9 batches equals the base module's with the same nets and seeds (bit for bit)."""
    from lightning_gans import AdversarialModule

    def fit(module):
        torch.manual_seed(5)
        Trainer(**trainer_kwargs(max_steps=9)).fit(
            module, ToyDataModule(batch_size=16, batches_per_epoch=5, conditional=True)
        )
        return module

    base = fit(AdversarialModule(*_nets(), latent_dim=2, num_classes=8, noise_seed=1, **kw))
    acgan = fit(ACGAN(*_nets(), latent_dim=2, num_classes=8, noise_seed=1, classifier_weight=0.0, **kw))
    for (k, v), (k2, v2) in zip(base.state_dict().items(), acgan.state_dict().items()):
        assert k == k2 and torch.equal(v, v2), k
    moved = fit(ACGAN(*_nets(), latent_dim=2, num_classes=8, noise_seed=1, classifier_weight=1.0, **kw))
    assert not torch.equal(
        moved.critic.classifier.weight, base.critic.classifier.weight
    )  # the head learns only with weight > 0


def test_classifier_losses_are_the_cross_entropies_of_the_head():
    """One critic update logs CE(classify(real), y) and the head's accuracy on real, computed by hand before the step."""
    g, d = _nets()
    module = ACGAN(g, d, latent_dim=2, num_classes=8, noise_seed=0)
    x, y = TOY_DISTRIBUTIONS["8gaussians"].sample_with_labels(32, torch.Generator().manual_seed(0))
    before = copy.deepcopy(d)
    with torch.no_grad():
        logits = before.classify(x)
    trainer = Trainer(**trainer_kwargs(max_steps=1, log_every_n_steps=1))
    trainer.fit(module, DataLoader([(x, y)], batch_size=None))
    logged = trainer.callback_metrics
    assert torch.allclose(logged["train/classifier_loss_real"], F.cross_entropy(logits, y), rtol=1e-5)
    assert torch.allclose(logged["train/classifier_accuracy_real"], (logits.argmax(1) == y).float().mean())
    assert "train/classifier_loss_fake" in logged and "train/critic_loss" in logged


@pytest.mark.slow
def test_acgan_learns_to_classify_the_modes():
    """After 1,500 batches on the labelled 8 Gaussians the head classifies real points by mode (>= 95%) and >= 90% of samples lie
    nearest to their requested mode (measured: 100% and 100% on seeds 0, 1, 2; 72% nearest at 1,000 batches)."""
    torch.manual_seed(0)
    module = ACGAN(
        MLPGenerator(hidden_dim=32, num_classes=8),
        MLPCritic(hidden_dim=32, num_classes=8, conditioning="auxiliary"),
        latent_dim=2,
        num_classes=8,
        noise_seed=0,
    )
    Trainer(**trainer_kwargs(max_steps=1500)).fit(
        module, ToyDataModule(batch_size=64, batches_per_epoch=50, conditional=True)
    )
    x, y = TOY_DISTRIBUTIONS["8gaussians"].sample_with_labels(800, torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert (module.critic.classify(x).argmax(1) == y).float().mean() >= 0.95
        samples = module.sample(800, labels=y, rng=torch.Generator().manual_seed(2))
    nearest = torch.cdist(samples, TOY_DISTRIBUTIONS["8gaussians"].centers).argmin(dim=1)
    assert (nearest == y).float().mean() >= 0.9


def test_acgan_argument_errors_name_the_argument():
    """No num_classes, a critic without a class head, a negative classifier_weight: errors naming each."""
    g, d = _nets()
    with pytest.raises(ValueError, match="`num_classes`"):
        ACGAN(g, d, latent_dim=2)
    with pytest.raises(TypeError, match="`critic`"):
        ACGAN(g, MLPCritic(num_classes=8), latent_dim=2, num_classes=8)
    with pytest.raises(ValueError, match="`classifier_weight`"):
        ACGAN(g, d, latent_dim=2, num_classes=8, classifier_weight=-1.0)


def test_acgan_with_a_dcgan_auxiliary_critic_and_a_reload(tmp_path):
    """The DCGAN auxiliary critic trains under ACGAN (4 batches) and the checkpoint reloads with its classifier_weight."""
    from lightning_gans import DigitsDataModule

    module = ACGAN(
        DCGANGenerator(latent_dim=8, image_size=8, channels=1, base_channels=8, num_classes=10),
        DCGANCritic(image_size=8, channels=1, base_channels=8, norm="none", num_classes=10, conditioning="auxiliary"),
        latent_dim=8,
        num_classes=10,
        classifier_weight=0.5,
    )
    trainer = Trainer(**trainer_kwargs(max_steps=4))
    trainer.fit(module, DigitsDataModule(batch_size=16, conditional=True))
    trainer.save_checkpoint(tmp_path / "a.ckpt")
    g = DCGANGenerator(latent_dim=8, image_size=8, channels=1, base_channels=8, num_classes=10)
    d = DCGANCritic(image_size=8, channels=1, base_channels=8, norm="none", num_classes=10, conditioning="auxiliary")
    reloaded = ACGAN.load_from_checkpoint(tmp_path / "a.ckpt", generator=g, critic=d)
    assert reloaded.classifier_weight == 0.5 and reloaded.num_classes == 10 and reloaded.generator_steps == 2
