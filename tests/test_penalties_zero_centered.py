"""Zero-centred gradient penalty (Thanh-Tung et al. 2019) and lazy R1 for non-Wasserstein losses."""

import pytest
import torch

from lightning_gans import PENALTIES, AdversarialModule
from lightning_gans.penalties import interpolate, zero_centered_gradient_penalty


def test_linear_critic_gives_squared_weight_norm():
    """For f(x) = w.x every input gradient is w, so the penalty is ||w||^2 exactly (not (||w|| - 1)^2)."""
    critic = torch.nn.Linear(5, 1, bias=False)
    with torch.no_grad():
        critic.weight.copy_(torch.tensor([[1.0, -2.0, 0.5, 0.0, 3.0]]))
    gp0 = zero_centered_gradient_penalty(critic, torch.randn(16, 5), torch.randn(16, 5))
    assert float(gp0) == pytest.approx(1 + 4 + 0.25 + 9, rel=1e-6)


def test_taken_at_the_interpolates_per_sample():
    """For f(x) = 1/2 ||x||^2 the gradient is x itself: the penalty is the mean of ||x_hat||^2 at the
    interpolates drawn with the same RNG (catches evaluating at real or fake, or a batch-level norm)."""

    def critic(x):
        return 0.5 * x.flatten(1).pow(2).sum(1)

    real, fake = torch.randn(8, 2, 3), torch.randn(8, 2, 3)
    gp0 = zero_centered_gradient_penalty(critic, real, fake, rng=torch.Generator().manual_seed(4))
    x_hat = interpolate(real, fake, torch.Generator().manual_seed(4))
    assert float(gp0) == pytest.approx(float(x_hat.flatten(1).pow(2).sum(1).mean()), rel=1e-6)


def test_trains_the_critic_towards_flat_gradients():
    """Its gradient with respect to w is 2 w (for a linear critic): one SGD step shrinks ||w||."""
    critic = torch.nn.Linear(3, 1, bias=False)
    before = critic.weight.detach().clone()
    zero_centered_gradient_penalty(critic, torch.randn(4, 3), torch.randn(4, 3)).backward()
    assert torch.allclose(critic.weight.grad, 2 * before, atol=1e-6)


def test_selectable_by_name_and_lazy():
    """`penalty="zero_centered_gp"` is in PENALTIES; with penalty_every=16 it is accepted like R1."""
    assert "zero_centered_gp" in PENALTIES and "r1" in PENALTIES
    g, d = torch.nn.Linear(2, 2), torch.nn.Linear(2, 1)
    for name in ("zero_centered_gp", "r1"):
        module = AdversarialModule(g, d, latent_dim=2, loss="hinge", penalty=name, penalty_weight=5.0, penalty_every=16)
        assert module.penalty is PENALTIES[name] and module.penalty_every == 16
