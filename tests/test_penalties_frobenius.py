"""Tests for the Frobenius-norm Lipschitz regulariser and its "frobenius" entry in PENALTIES."""

from __future__ import annotations

from functools import partial

import pytest
import torch
from lightning.pytorch import Trainer
from torch import nn

from lightning_gans import PENALTIES, AdversarialModule, ToyDataModule
from lightning_gans.nets import MLPCritic, MLPGenerator
from lightning_gans.penalties import frobenius_penalty
from tests.conftest import trainer_kwargs


def _critic() -> nn.Sequential:
    return nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.LayerNorm(3), nn.Linear(3, 1))


def test_equals_hand_computed_sum_of_squared_entries():
    """The penalty is sum_l sum_ij W_lij^2 over weight matrices only (no biases, no norm gains)."""
    critic = _critic()
    w1, w2 = critic[0].weight.detach(), critic[3].weight.detach()
    expected = sum(float(v) ** 2 for v in w1.flatten()) + sum(float(v) ** 2 for v in w2.flatten())
    assert frobenius_penalty(critic).item() == pytest.approx(expected, rel=1e-6)


def test_known_matrix_value():
    """A 2x2 weight [[1, 2], [3, 4]] gives 1 + 4 + 9 + 16 = 30."""
    layer = nn.Linear(2, 2)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[1.0, 2.0], [3.0, 4.0]]))
        layer.bias.fill_(100.0)  # biases must not count
    assert frobenius_penalty(layer).item() == 30.0


def test_gradient_is_two_lambda_w():
    """d(lambda * penalty)/dW = 2 * lambda * W for every weight matrix, and 0 for biases."""
    critic, lam = _critic(), 0.37
    (lam * frobenius_penalty(critic)).backward()
    for layer in (critic[0], critic[3]):
        torch.testing.assert_close(layer.weight.grad, 2 * lam * layer.weight.detach())
        assert layer.bias.grad is None
    assert critic[2].weight.grad is None


def test_conv_kernels_count():
    """Conv kernels (4-D) are weight matrices too: their squared entries are summed."""
    conv = nn.Conv2d(1, 2, 3)
    assert frobenius_penalty(conv).item() == pytest.approx(conv.weight.detach().pow(2).sum().item(), rel=1e-6)


def test_no_weight_matrix_raises():
    """A critic without any >= 2-D parameter is rejected with an error naming `critic`."""
    with pytest.raises(ValueError, match="`critic` has no weight matrix"):
        frobenius_penalty(nn.LayerNorm(3))


def test_selectable_by_name_on_modules():
    """penalty="frobenius" adds weight * sum ||W||_F^2 to the critic loss and logs it as train/penalty."""
    critic = MLPCritic(hidden_dim=16, num_layers=1)
    entry = PENALTIES["frobenius"]
    assert entry(
        critic, torch.randn(4, 2), torch.randn(4, 2), labels=None, rng=None, grad_scale=None
    ).item() == pytest.approx(frobenius_penalty(critic).item())
    frozen = partial(torch.optim.SGD, lr=0.0)  # the critic keeps its weights, so the logged value is exact
    model = AdversarialModule(
        MLPGenerator(latent_dim=2, hidden_dim=16, num_layers=1),
        critic,
        latent_dim=2,
        loss="wasserstein",
        penalty="frobenius",
        penalty_weight=0.1,
        critic_optimizer=frozen,
        noise_seed=0,
    )
    trainer = Trainer(max_steps=1, **trainer_kwargs())
    trainer.fit(model, ToyDataModule(batch_size=16, batches_per_epoch=4))
    assert trainer.callback_metrics["train/penalty"].item() == pytest.approx(frobenius_penalty(critic).item(), rel=1e-6)
