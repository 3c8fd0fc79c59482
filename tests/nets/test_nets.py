"""Shapes and options of the bundled networks."""

import pytest
import torch

from lightning_gans.nets import CRITIC_NORMS, DCGANCritic, DCGANGenerator, MLPCritic, MLPGenerator


@pytest.mark.parametrize("image_size, channels", [(8, 1), (16, 3), (32, 3), (64, 1)])
def test_dcgan_shapes_and_range(image_size, channels):
    """The generator maps (N, latent) to (N, C, S, S) in [-1, 1]; the critic maps that to (N,)."""
    g = DCGANGenerator(latent_dim=16, image_size=image_size, channels=channels, base_channels=8)
    c = DCGANCritic(image_size=image_size, channels=channels, base_channels=8)
    x = g(torch.randn(5, 16))
    assert x.shape == (5, channels, image_size, image_size)
    assert x.abs().max() <= 1.0
    assert c(x).shape == (5,)


@pytest.mark.parametrize("norm", sorted(CRITIC_NORMS))
def test_critic_norms(norm):
    """Each selectable normalisation builds; 'none' and 'layer' contain no BatchNorm (safe for WGAN-GP)."""
    c = DCGANCritic(image_size=16, channels=1, base_channels=4, norm=norm)
    has_bn = any(isinstance(m, torch.nn.BatchNorm2d) for m in c.modules())
    assert has_bn == (norm == "batch")
    assert c(torch.randn(3, 1, 16, 16)).shape == (3,)


def test_critic_without_batch_norm_scores_samples_independently():
    """With norm='layer' a sample's score does not depend on the rest of the batch (the gradient penalty needs this)."""
    c = DCGANCritic(image_size=8, channels=1, base_channels=4, norm="layer")
    x = torch.randn(6, 1, 8, 8)
    assert torch.allclose(c(x)[:2], c(x[:2]), atol=1e-6)


def test_mlp_shapes():
    """MLP generator (N, latent) -> (N, out); critic (N, in) -> (N,)."""
    g, c = MLPGenerator(latent_dim=3, out_dim=5, hidden_dim=8), MLPCritic(in_dim=5, hidden_dim=8)
    assert c(g(torch.randn(4, 3))).shape == (4,)
    with pytest.raises(ValueError, match="`num_layers`"):
        MLPCritic(num_layers=0)
