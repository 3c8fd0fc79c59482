"""The modules' arguments: each bad value is refused at construction with an error naming it."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from lightning_gans import GAN, WGANGP, AdversarialModule
from lightning_gans.nets import MLPCritic, MLPGenerator


def _nets():
    return MLPGenerator(latent_dim=2, hidden_dim=8, num_layers=1), MLPCritic(hidden_dim=8, num_layers=1)


def test_penalty_every_is_validated():
    g, d = _nets()
    for bad in (0, -2, 1.5, True, "16"):
        with pytest.raises(ValueError, match="`penalty_every`"):
            WGANGP(g, d, latent_dim=2, penalty_every=bad)


def test_a_penalty_of_another_signature_is_refused_at_construction_naming_penalty():
    """A penalty that cannot take (critic, real, fake, *, labels, rng, grad_scale) fails when the module is built."""

    def positional(critic, real, fake, rng, scale):  # the 0.1 signature: no shim, a clear error
        return critic(real).mean() * 0

    with pytest.raises(TypeError, match=r"`penalty` .*positional must take \(critic, real, fake, \*, labels=None"):
        AdversarialModule(*_nets(), latent_dim=2, penalty=positional, penalty_weight=1.0)


def test_bad_arguments_name_themselves():
    g, d = _nets()
    with pytest.raises(TypeError, match="`critic_optimizer` must build an optimizer"):
        GAN(g, d, latent_dim=2, critic_optimizer=torch.optim.Adam(d.parameters()))
    with pytest.raises(TypeError, match="`gp_weight` must be a number"):
        WGANGP(g, d, latent_dim=2, gp_weight="10")
    with pytest.raises(ValueError, match="`noise_seed` must be an integer"):
        GAN(g, d, latent_dim=2, noise_seed="7")
    with pytest.raises(ValueError, match="`num_classes` must be an integer >= 1"):
        GAN(g, d, latent_dim=2, num_classes=0)


def test_batchnorm_critic_with_gradient_penalty_warns_naming_critic():
    critic = nn.Sequential(nn.Linear(2, 8), nn.BatchNorm1d(8), nn.Linear(8, 1))
    with pytest.warns(UserWarning, match="`critic` has BatchNorm layers"):
        WGANGP(MLPGenerator(latent_dim=2), critic, latent_dim=2)
