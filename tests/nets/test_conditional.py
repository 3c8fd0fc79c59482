"""Conditional networks: unconditional nets unchanged, labels change outputs as designed, CBN and projection maths."""

import math

import pytest
import torch
from torch import nn

from lightning_gans.layers import apply_spectral_norm
from lightning_gans.nets import (
    CRITIC_CONDITIONINGS,
    CRITIC_NORMS,
    ConditionalBatchNorm2d,
    DCGANCritic,
    DCGANGenerator,
    MLPCritic,
    MLPGenerator,
    ProjectionHead,
)


# --- the 0.1 (unconditional) networks, copied verbatim as the reference for "num_classes=None changes nothing" ---
def _mlp_v01(in_dim, out_dim, hidden_dim, num_layers):
    layers, width = [], in_dim
    for _ in range(num_layers):
        layers += [nn.Linear(width, hidden_dim), nn.ReLU()]
        width = hidden_dim
    layers.append(nn.Linear(width, out_dim))
    return nn.Sequential(*layers)


class _DCGANGeneratorV01(nn.Module):
    def __init__(self, latent_dim, image_size, channels, base_channels):
        super().__init__()
        n_up = int(math.log2(image_size)) - 2
        width = base_channels * 2 ** (n_up - 1)
        layers = [nn.ConvTranspose2d(latent_dim, width, 4, 1, 0, bias=False), nn.BatchNorm2d(width), nn.ReLU(True)]
        for _ in range(n_up - 1):
            layers += [
                nn.ConvTranspose2d(width, width // 2, 4, 2, 1, bias=False),
                nn.BatchNorm2d(width // 2),
                nn.ReLU(True),
            ]
            width //= 2
        layers += [nn.ConvTranspose2d(width, channels, 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)


class _DCGANCriticV01(nn.Module):
    def __init__(self, image_size, channels, base_channels, norm):
        super().__init__()
        n_down = int(math.log2(image_size)) - 2
        width = base_channels
        layers = [nn.Conv2d(channels, width, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        for _ in range(n_down - 1):
            layers += [
                nn.Conv2d(width, width * 2, 4, 2, 1, bias=norm == "none"),
                CRITIC_NORMS[norm](width * 2),
                nn.LeakyReLU(0.2, True),
            ]
            width *= 2
        layers.append(nn.Conv2d(width, 1, 4, 1, 0))
        self.net = nn.Sequential(*layers)


def _seeded(build):
    torch.manual_seed(123)
    return build()


def _assert_same_state(new, old):
    a, b = new.state_dict(), old.state_dict()
    assert list(a) == list(b)
    for key in a:
        assert a[key].shape == b[key].shape and torch.equal(a[key], b[key]), key


@pytest.mark.parametrize("norm", sorted(CRITIC_NORMS))
def test_unconditional_dcgan_nets_are_bit_for_bit_the_old_ones(norm):
    """num_classes=None: same parameter names, shapes and seeded values as 0.1, and the same outputs."""
    g = _seeded(lambda: DCGANGenerator(latent_dim=8, image_size=16, channels=3, base_channels=4))
    g_old = _seeded(lambda: _DCGANGeneratorV01(8, 16, 3, 4))
    _assert_same_state(g, g_old)
    c = _seeded(lambda: DCGANCritic(image_size=16, channels=3, base_channels=4, norm=norm))
    c_old = _seeded(lambda: _DCGANCriticV01(16, 3, 4, norm))
    _assert_same_state(c, c_old)
    z = torch.randn(5, 8)
    x = g(z)
    assert torch.equal(x, g_old.net(z.view(5, 8, 1, 1)))
    assert torch.equal(c(x), c_old.net(x).flatten())


def test_unconditional_mlp_nets_are_bit_for_bit_the_old_ones():
    """num_classes=None: the MLPs keep their parameters and outputs."""
    g, g_old = _seeded(lambda: MLPGenerator(3, 2, 16, 2)), _seeded(lambda: _mlp_v01(3, 2, 16, 2))
    c, c_old = _seeded(lambda: MLPCritic(2, 16, 2)), _seeded(lambda: _mlp_v01(2, 1, 16, 2))
    _assert_same_state(g.net, g_old), _assert_same_state(c.net, c_old)
    assert [n for n, _ in g.named_parameters()] == [f"net.{n}" for n, _ in g_old.named_parameters()]
    assert [n for n, _ in c.named_parameters()] == [f"net.{n}" for n, _ in c_old.named_parameters()]
    z = torch.randn(4, 3)
    assert torch.equal(g(z), g_old(z)) and torch.equal(c(g(z)), c_old(g(z)).squeeze(1))


def test_conditional_batch_norm_is_per_class_affine_batch_norm():
    """CBN(x, y) = gamma[y] * BN(x) + beta[y]; at initialisation it is plain BatchNorm2d(affine=False)."""
    torch.manual_seed(0)
    cbn = ConditionalBatchNorm2d(3, num_classes=4)
    x, y = torch.randn(6, 3, 5, 5), torch.tensor([0, 1, 2, 3, 3, 1])
    plain = nn.BatchNorm2d(3, affine=False)
    assert torch.allclose(cbn(x, y), plain(x), atol=1e-6)
    with torch.no_grad():
        cbn.gamma.weight.copy_(torch.arange(12.0).view(4, 3))
        cbn.beta.weight.copy_(-torch.arange(12.0).view(4, 3))
    normed = (x - x.mean(dim=(0, 2, 3), keepdim=True)) / torch.sqrt(
        x.var(dim=(0, 2, 3), unbiased=False, keepdim=True) + 1e-5
    )
    expected = cbn.gamma.weight[y][:, :, None, None] * normed + cbn.beta.weight[y][:, :, None, None]
    assert torch.allclose(cbn(x, y), expected, atol=1e-5)


def test_projection_head_is_the_inner_product_with_the_class_column():
    """ProjectionHead(phi, y)_i = sum_f V[f, y_i] phi_i[f], with V the weight of a Linear(num_classes, features)."""
    head = ProjectionHead(5, num_classes=3)
    phi, y = torch.randn(4, 5), torch.tensor([2, 0, 1, 2])
    expected = torch.stack([head.embed.weight[:, y[i]] @ phi[i] for i in range(4)])
    assert torch.allclose(head(phi, y), expected, atol=1e-6)


@pytest.mark.parametrize("net", ["mlp", "dcgan"])
def test_projection_critic_score_is_unconditional_part_plus_projection(net):
    """A projection critic's score = psi(phi(x)) + <V[y], phi(x)>, computed by hand from its layers."""
    if net == "mlp":
        c, x = MLPCritic(2, 16, 2, num_classes=3), torch.randn(6, 2)
    else:
        c, x = (
            DCGANCritic(image_size=8, channels=1, base_channels=4, norm="layer", num_classes=3),
            torch.randn(6, 1, 8, 8),
        )
    y = torch.tensor([0, 1, 2, 0, 1, 2])
    phi = c.net[:-1](x).flatten(1)
    psi = c.net[-1](c.net[:-1](x)).flatten()
    expected = psi + (c.projection.embed.weight.t()[y] * phi).sum(1)
    assert torch.allclose(c(x, y), expected, atol=1e-5)


@pytest.mark.parametrize("conditioning", sorted(CRITIC_CONDITIONINGS))
def test_labels_change_scores_except_for_the_auxiliary_head(conditioning):
    """Projection and concat scores depend on the label; an auxiliary critic's score does not, its class logits do exist."""
    torch.manual_seed(0)
    for c, x in (
        (MLPCritic(2, 16, 2, num_classes=4, conditioning=conditioning), torch.randn(5, 2)),
        (
            DCGANCritic(
                image_size=8, channels=1, base_channels=4, norm="layer", num_classes=4, conditioning=conditioning
            ),
            torch.randn(5, 1, 8, 8),
        ),
    ):
        a, b = c(x, torch.zeros(5, dtype=torch.long)), c(x, torch.full((5,), 3))
        assert a.shape == (5,)
        if conditioning == "auxiliary":
            assert torch.equal(a, b) and c.classify(x).shape == (5, 4)
            scores, logits = c.score_and_classify(x)
            assert torch.equal(scores, a) and torch.equal(logits, c.classify(x))
        else:
            assert not torch.allclose(a, b)
            with pytest.raises(ValueError, match="`conditioning`='auxiliary'"):
                c.classify(x)


def test_concat_critic_reads_one_hot_channels():
    """conditioning='concat' widens the first layer by num_classes (one-hot maps / one-hot vector)."""
    c = DCGANCritic(image_size=8, channels=3, base_channels=4, num_classes=10, conditioning="concat", norm="none")
    assert c.net[0].in_channels == 13
    assert MLPCritic(in_dim=2, hidden_dim=8, num_classes=8, conditioning="concat").net[0].in_features == 10


@pytest.mark.parametrize("net", ["mlp", "dcgan"])
def test_generator_output_depends_on_the_label(net):
    """The same noise with different labels gives different samples (the embedding/CBN is used)."""
    torch.manual_seed(0)
    if net == "mlp":
        g, z = MLPGenerator(latent_dim=2, hidden_dim=16, num_classes=3), torch.randn(4, 2)
    else:
        g, z = DCGANGenerator(latent_dim=4, image_size=8, channels=1, base_channels=4, num_classes=3), torch.randn(4, 4)
        with torch.no_grad():  # at initialisation CBN is label-independent: make the classes differ
            for m in g.modules():
                if isinstance(m, ConditionalBatchNorm2d):
                    m.beta.weight.normal_()
    assert not torch.allclose(g(z, torch.zeros(4, dtype=torch.long)), g(z, torch.full((4,), 2)))


def test_conditional_critic_without_batch_norm_scores_samples_independently():
    """Projection with layer norm keeps per-sample scores (what the gradient penalty needs)."""
    c = DCGANCritic(image_size=8, channels=1, base_channels=4, norm="layer", num_classes=3)
    x, y = torch.randn(6, 1, 8, 8), torch.tensor([0, 1, 2, 0, 1, 2])
    assert torch.allclose(c(x, y)[:2], c(x[:2], y[:2]), atol=1e-6)


def test_spectral_norm_reaches_the_projection_embedding():
    """The projection's V is a Linear weight, so spectral normalisation wraps it like the other critic layers."""
    c = DCGANCritic(image_size=8, channels=1, base_channels=4, norm="none", num_classes=3)
    wrapped = apply_spectral_norm(c)
    assert "projection.embed" in wrapped
    assert (
        torch.linalg.matrix_norm(c.projection.embed.weight.detach(), ord=2) < 1.5
    )  # one power iteration from a random u


@pytest.mark.parametrize(
    "build",
    [
        lambda **kw: MLPGenerator(**kw),
        lambda **kw: MLPCritic(**kw),
        lambda **kw: DCGANGenerator(image_size=8, **kw),
        lambda **kw: DCGANCritic(image_size=8, **kw),
    ],
)
def test_bad_num_classes_is_an_error(build):
    """num_classes must be None or an integer >= 2."""
    for bad in (0, 1, 2.0, "10", True):
        with pytest.raises(ValueError, match="`num_classes`"):
            build(num_classes=bad)


def test_bad_conditioning_and_label_presence_are_errors():
    """Unknown `conditioning`; a conditional net without labels and an unconditional one with labels name `labels`."""
    with pytest.raises(ValueError, match="`conditioning`"):
        MLPCritic(num_classes=3, conditioning="sum")
    with pytest.raises(ValueError, match="`labels`"):
        MLPCritic(num_classes=3)(torch.randn(2, 2))
    with pytest.raises(ValueError, match="`labels`"):
        DCGANGenerator(latent_dim=4, image_size=8, base_channels=4, num_classes=3)(torch.randn(2, 4))
    with pytest.raises(ValueError, match="`labels`"):
        MLPGenerator()(torch.randn(2, 2), torch.zeros(2, dtype=torch.long))


def test_dcgan_generator_class_embedding_at_the_input_is_optional():
    """Default: a num_classes-dim embedding widens the first layer; embedding_dim=0 is conditional batch norm only."""
    both = DCGANGenerator(latent_dim=4, image_size=8, channels=1, base_channels=4, num_classes=3)
    assert both.net[0].in_channels == 4 + 3 and both.embedding.weight.shape == (3, 3)
    cbn_only = DCGANGenerator(latent_dim=4, image_size=8, channels=1, base_channels=4, num_classes=3, embedding_dim=0)
    assert cbn_only.net[0].in_channels == 4 and not hasattr(cbn_only, "embedding")
    assert cbn_only(torch.randn(2, 4), torch.tensor([0, 2])).shape == (2, 1, 8, 8)
    with pytest.raises(ValueError, match="`embedding_dim`"):
        DCGANGenerator(image_size=8, num_classes=3, embedding_dim=-1)
