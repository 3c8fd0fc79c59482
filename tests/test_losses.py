"""Analytic values of the adversarial losses."""

import math

import pytest
import torch

from lightning_gans.losses import LOSSES, AdversarialLoss, get_loss

LOG2 = math.log(2.0)


def test_minimax_and_non_saturating_at_zero_logits():
    """At logit 0 (D = 1/2): critic loss is 2 log 2, minimax G loss is -log 2, non-saturating G loss is log 2."""
    zero = torch.zeros(7)
    assert LOSSES["minimax"].critic(zero, zero).item() == pytest.approx(2 * LOG2)
    assert LOSSES["minimax"].generator(zero).item() == pytest.approx(-LOG2)
    assert LOSSES["non_saturating"].generator(zero).item() == pytest.approx(LOG2)


def test_minimax_critic_loss_matches_bce_on_probabilities():
    """Critic loss equals -[log D(x) + log(1 - D(G(z)))] computed from sigmoid probabilities."""
    real, fake = torch.tensor([2.0, -1.0, 0.5]), torch.tensor([-3.0, 0.2, 1.0])
    expected = -(torch.sigmoid(real).log().mean() + (1 - torch.sigmoid(fake)).log().mean())
    assert LOSSES["minimax"].critic(real, fake).item() == pytest.approx(expected.item(), rel=1e-6)


def test_minimax_generator_saturates_where_non_saturating_does_not():
    """When D confidently rejects fakes (logit -10), the minimax G gradient vanishes; the non-saturating one is ~1."""
    logit = torch.tensor([-10.0], requires_grad=True)
    (g_mm,) = torch.autograd.grad(LOSSES["minimax"].generator(logit), logit)
    (g_ns,) = torch.autograd.grad(LOSSES["non_saturating"].generator(logit), logit)
    assert abs(g_mm.item()) < 1e-4
    assert g_ns.item() == pytest.approx(-1.0, abs=1e-4)


def test_optimal_discriminator_value_is_minus_log4_plus_2js():
    """With D* = p/(p+q) on a discrete space, the minimax value is -log 4 + 2 JS(p||q) (Goodfellow et al. Thm. 1)."""
    p = torch.tensor([0.5, 0.3, 0.2])
    q = torch.tensor([0.2, 0.2, 0.6])
    d_star = p / (p + q)
    value = (p * d_star.log()).sum() + (q * (1 - d_star).log()).sum()
    m = (p + q) / 2
    js = 0.5 * (p * (p / m).log()).sum() + 0.5 * (q * (q / m).log()).sum()
    assert value.item() == pytest.approx(-math.log(4) + 2 * js.item(), rel=1e-6)
    # and our minimax critic loss at the logits of D*, on batches that hold each point in proportion
    # to p (real) and q (fake), is -value: E_p[-log D*] + E_q[-log(1 - D*)]
    logits = torch.logit(d_star)
    real = logits.repeat_interleave(torch.tensor([5, 3, 2]))  # p = (5, 3, 2) / 10
    fake = logits.repeat_interleave(torch.tensor([2, 2, 6]))  # q = (2, 2, 6) / 10
    assert LOSSES["minimax"].critic(real, fake).item() == pytest.approx(-value.item(), rel=1e-6)
    assert get_loss("minimax").critic(real, fake).item() == pytest.approx(math.log(4) - 2 * js.item(), rel=1e-6)


def test_wasserstein_losses():
    """Critic loss is E[f(fake)] - E[f(real)]; generator loss is -E[f(fake)]."""
    real, fake = torch.tensor([1.0, 3.0]), torch.tensor([-1.0, 0.0])
    assert LOSSES["wasserstein"].critic(real, fake).item() == pytest.approx(-0.5 - 2.0)
    assert LOSSES["wasserstein"].generator(fake).item() == pytest.approx(0.5)


def test_hinge_at_margin_points():
    """Hinge critic loss is 0 at real >= 1 and fake <= -1, grows linearly inside the margin."""
    hinge = LOSSES["hinge"]
    assert hinge.critic(torch.tensor([1.0, 2.0]), torch.tensor([-1.0, -5.0])).item() == 0.0
    assert hinge.critic(torch.tensor([0.0]), torch.tensor([0.0])).item() == pytest.approx(2.0)
    assert hinge.critic(torch.tensor([0.5]), torch.tensor([-0.5])).item() == pytest.approx(1.0)
    assert hinge.generator(torch.tensor([2.0, 4.0])).item() == pytest.approx(-3.0)


def test_least_squares_targets():
    """LSGAN losses vanish at their targets (real 1, fake 0 for the critic; fake 1 for the generator)."""
    ls = LOSSES["least_squares"]
    assert ls.critic(torch.ones(3), torch.zeros(3)).item() == 0.0
    assert ls.critic(torch.zeros(3), torch.ones(3)).item() == pytest.approx(1.0)
    assert ls.generator(torch.ones(3)).item() == 0.0
    assert ls.generator(torch.full((3,), 3.0)).item() == pytest.approx(2.0)


def test_get_loss_rejects_unknown_name():
    """An unknown loss name raises an error naming `loss` and listing the choices."""
    with pytest.raises(ValueError, match=r"`loss`.*hinge"):
        get_loss("wgan")
    custom = AdversarialLoss(LOSSES["hinge"].critic, LOSSES["hinge"].generator)
    assert get_loss(custom) is custom
