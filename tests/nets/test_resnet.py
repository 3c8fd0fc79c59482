"""ResNet generator and critic (SNGAN / WGAN-GP layouts): shapes, parameter counts, spectral norm, errors."""

import pytest
import torch

from lightning_gans.nets import ResNetCritic, ResNetGenerator


def _count(net: torch.nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


@pytest.mark.parametrize("image_size", [32, 64])
@pytest.mark.parametrize("spectral_norm", [False, True])
def test_shapes_at_32_and_64(image_size, spectral_norm):
    """G: (N, latent) -> (N, C, S, S) in [-1, 1]; D: that -> (N,); with and without spectral norm on D."""
    g = ResNetGenerator(latent_dim=16, image_size=image_size, channels=3, base_channels=4)
    d = ResNetCritic(image_size=image_size, channels=3, base_channels=4, spectral_norm=spectral_norm)
    x = g(torch.randn(3, 16))
    assert x.shape == (3, 3, image_size, image_size)
    assert x.abs().max() <= 1.0
    assert d(x).shape == (3,)
    wrapped = [m for m in d.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    assert wrapped and all(torch.nn.utils.parametrize.is_parametrized(m, "weight") == spectral_norm for m in wrapped)


def test_spectral_norm_bounds_every_layer():
    """After a few power iterations in train mode, every wrapped weight has sigma_max close to 1."""
    d = ResNetCritic(image_size=32, channels=1, base_channels=8, spectral_norm=True)
    for _ in range(30):  # each train-mode forward runs one power iteration per layer
        d(torch.randn(2, 1, 32, 32))
    for m in d.modules():
        if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)):
            sigma = float(torch.linalg.matrix_norm(m.weight.detach().flatten(1), ord=2))
            assert sigma == pytest.approx(1.0, abs=2e-2)


def test_preset_parameter_counts():
    """Counts at the SNGAN presets (3 channels, latent 128), as stated in the module docstring."""
    assert _count(ResNetGenerator(128, 32, 3)) == 4_276_739  # SNGAN CIFAR-10 generator, width 256
    assert _count(ResNetCritic(32, 3)) == 1_053_825  # SNGAN CIFAR-10 critic, width 128
    assert _count(ResNetGenerator(128, 64, 3)) == 12_220_675  # 1024 -> 64
    assert _count(ResNetCritic(64, 3)) == 19_542_721  # 64 -> 1024
    assert _count(ResNetGenerator(128, 32, 3, base_channels=128)) == 1_204_483  # WGAN-GP CIFAR-10 ResNet


def test_generator_count_by_hand():
    """The 32 px generator's count is the sum of its layers written out (catches a missing or extra layer)."""
    w, z = 256, 128
    linear = z * 16 * w + 16 * w
    block = 2 * (9 * w * w + w) + (w * w + w) + 2 * 2 * w  # two 3x3 convs, 1x1 shortcut, two BatchNorms
    head = 2 * w + 9 * w * 3 + 3  # BatchNorm, 3x3 conv to RGB
    assert _count(ResNetGenerator(z, 32, 3)) == linear + 3 * block + head


def test_critic_layout_at_32():
    """SNGAN's 32 px critic: 2 down-blocks to 8x8 then 2 blocks at 8x8, global sum pooling."""
    d = ResNetCritic(image_size=32, channels=1, base_channels=4)
    sizes = []
    h = torch.randn(1, 1, 32, 32)
    for block in d.blocks:
        h = block(h)
        sizes.append(h.shape[-1])
    assert sizes == [16, 8, 8, 8]


def test_configurable_depth_and_width():
    """channel_multipliers sets depth and widths: 3 entries at 16 px start at 4x4 with 2 up-blocks."""
    g = ResNetGenerator(latent_dim=8, image_size=16, channels=1, base_channels=4, channel_multipliers=(4, 2, 1))
    assert g.bottom_width == 4 and len(g.blocks) == 2
    assert g(torch.randn(2, 8)).shape == (2, 1, 16, 16)
    d = ResNetCritic(image_size=16, channels=1, base_channels=4, channel_multipliers=(1, 2), num_plain_blocks=1)
    assert len(d.blocks) == 3 and d(torch.randn(2, 1, 16, 16)).shape == (2,)


def test_critic_scores_samples_independently():
    """No batch norm in the critic: a sample's score does not depend on the batch (gradient penalties need this)."""
    d = ResNetCritic(image_size=32, channels=1, base_channels=4)
    x = torch.randn(5, 1, 32, 32)
    assert torch.allclose(d(x)[:2], d(x[:2]), atol=1e-5)


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda: ResNetGenerator(image_size=48), "`image_size`"),
        (lambda: ResNetGenerator(image_size=16), "`channel_multipliers`"),
        (lambda: ResNetGenerator(image_size=16, channel_multipliers=(1, 1)), "`base_channels`"),
        (lambda: ResNetGenerator(image_size=32, channel_multipliers=(1,)), "`channel_multipliers`"),
        (lambda: ResNetGenerator(latent_dim=0), "`latent_dim`"),
        (lambda: ResNetCritic(image_size=16), "`channel_multipliers`"),
        (
            lambda: ResNetCritic(image_size=8, base_channels=2, channel_multipliers=(1, 1, 1, 1)),
            "`channel_multipliers`",
        ),
        (lambda: ResNetCritic(num_plain_blocks=-1), "`num_plain_blocks`"),
        (lambda: ResNetCritic(channels=0), "`channels`"),
    ],
)
def test_bad_arguments_name_the_argument(build, match):
    """Invalid sizes and widths raise a ValueError naming the argument."""
    with pytest.raises(ValueError, match=match):
        build()


def test_class_conditional_nets():
    """num_classes: G uses conditional BatchNorm (labels change the image), D adds the projection
    <V[y], phi(x)> (scores differ between labels by exactly the difference of the projection terms)."""
    torch.manual_seed(0)
    g = ResNetGenerator(latent_dim=8, image_size=32, channels=1, base_channels=4, num_classes=3)
    d = ResNetCritic(image_size=32, channels=1, base_channels=4, num_classes=3, spectral_norm=True)
    for block in g.blocks:  # non-trivial per-class affine parameters
        torch.nn.init.normal_(block.norm1.gamma.weight)
    z, x = torch.randn(4, 8), torch.randn(4, 1, 32, 32)
    y0, y1 = torch.zeros(4, dtype=torch.long), torch.ones(4, dtype=torch.long)
    assert g(z, y0).shape == (4, 1, 32, 32) and not torch.allclose(g(z, y0), g(z, y1))
    d.eval()  # no power iteration between the calls below
    phi = torch.relu(d.blocks(x)).sum(dim=(2, 3))
    expected = d.projection(phi, y0) - d.projection(phi, y1)
    assert torch.allclose(d(x, y0) - d(x, y1), expected, atol=1e-5)
    with pytest.raises(ValueError, match="`labels` are required: ResNetCritic is conditional"):
        d(x)
    with pytest.raises(ValueError, match="unconditional"):
        ResNetCritic(image_size=32, channels=1, base_channels=4)(x, y0)


def test_conditional_resnet_trains_in_a_conditional_module():
    """A 4-batch fit of a conditional WGAN-GP with ResNet nets runs and keeps finite weights."""
    from lightning.pytorch import Trainer

    from lightning_gans import WGANGP
    from tests.conftest import trainer_kwargs

    g = ResNetGenerator(
        latent_dim=8, image_size=16, channels=1, base_channels=4, channel_multipliers=(1, 1, 1), num_classes=3
    )
    d = ResNetCritic(image_size=16, channels=1, base_channels=4, channel_multipliers=(1, 1), num_classes=3)
    model = WGANGP(g, d, latent_dim=8, n_critic=1, num_classes=3, noise_seed=0)
    data = torch.utils.data.TensorDataset(torch.rand(32, 1, 16, 16) * 2 - 1, torch.randint(3, (32,)))
    Trainer(**trainer_kwargs(max_steps=4)).fit(model, torch.utils.data.DataLoader(data, batch_size=8))
    assert model.generator_steps == 2 and all(torch.isfinite(p).all() for p in model.parameters())
