"""Callbacks with conditional modules: SampleLogger rows per class, ToyPlot colours by class, GANMetrics accuracy and intra-FID."""

from __future__ import annotations

import pytest
import torch
from lightning.pytorch import LightningModule, Trainer
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from lightning_gans import WGANGP, ToyDataModule
from lightning_gans.callbacks import (
    DivergenceGuard,
    GANMetrics,
    GeneratorEMA,
    InstanceNoise,
    SampleLogger,
    SpectralNorm,
    ToyPlot,
    WeightClipping,
)
from lightning_gans.callbacks.toy_plot import _ClassMaxCritic
from lightning_gans.data import load_digits_tensor
from lightning_gans.evaluation.conditional import balanced_labels, class_accuracy, intra_fid
from lightning_gans.nets import DCGANCritic, DCGANGenerator, MLPCritic, MLPGenerator
from tests.conftest import trainer_kwargs


class _Spy(nn.Module):
    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net
        self.calls: list[tuple[torch.Tensor, torch.Tensor]] = []

    def forward(self, z, labels=None):
        self.calls.append((z.clone(), labels.clone()))
        return self.net(z, labels)


def test_sample_logger_draws_one_row_per_class_with_fixed_noise_per_column():
    """Grid of a 4-class module with nrow=3: labels 0,0,0,1,1,1,...; image i uses noise z_{i mod 3}; the 3 noises differ."""
    g = DCGANGenerator(latent_dim=4, image_size=8, channels=1, base_channels=4, num_classes=4)
    module = WGANGP(
        _Spy(g),
        DCGANCritic(image_size=8, channels=1, base_channels=4, norm="layer", num_classes=4),
        latent_dim=4,
        num_classes=4,
    )
    grid = SampleLogger(nrow=3, min_side=1).grid(module)
    z, labels = module.generator.calls[-1]
    assert torch.equal(labels, torch.arange(4).repeat_interleave(3))
    for i in range(12):
        assert torch.equal(z[i], z[i % 3])
    assert not torch.equal(z[0], z[1]) and not torch.equal(z[1], z[2])
    assert grid.shape[:2] == (4 * 8 + 5 * 2, 3 * 8 + 4 * 2)  # 4 rows, 3 columns of 8x8 with 2-pixel padding
    again = SampleLogger(nrow=3, min_side=1).grid(module)
    assert torch.equal(grid, again)  # the same noise every time


def test_toy_plot_colours_by_class_and_maximises_the_critic_over_classes():
    """ToyPlot samples balanced labels; its contour critic equals max_k critic(x, k), computed by hand."""
    torch.manual_seed(0)
    module = WGANGP(
        _Spy(MLPGenerator(hidden_dim=8, num_classes=3)),
        MLPCritic(hidden_dim=8, num_classes=3),
        latent_dim=2,
        num_classes=3,
    )
    plot = ToyPlot(num_samples=30, resolution=5)
    image = plot.render(module)
    assert image.ndim == 3 and image.shape[2] == 3
    _, labels = module.generator.calls[-1]
    assert torch.equal(labels, torch.arange(30) % 3)
    x = torch.randn(7, 2)
    by_hand = torch.stack([module.critic(x, torch.full((7,), k)) for k in range(3)]).max(dim=0).values
    assert torch.allclose(_ClassMaxCritic(module)(x), by_hand)


def test_class_accuracy_and_intra_fid_by_hand():
    """Accuracy per class from argmax; intra-FID of identical per-class features is 0 and the mean is over classes."""
    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0], [3.0, 0.0], [1.0, 0.0]])
    labels = torch.tensor([0, 1, 1, 1])
    acc = class_accuracy(logits, labels, 2)
    assert acc == {"class_accuracy": 0.5, "class_accuracy_0": 1.0, "class_accuracy_1": pytest.approx(1 / 3)}
    with pytest.raises(ValueError, match="`logits`"):
        class_accuracy(logits[:, :1], labels, 2)
    f = torch.randn(40, 3)
    y = balanced_labels(40, 2)
    same = intra_fid(f, y, f, y, 2)
    assert abs(same["intra_fid"]) < 1e-8
    shifted = intra_fid(f + torch.tensor([1.0, 0, 0]) * y[:, None], y, f, y, 2)  # class 1 moved by 1 along x: FID_1 = 1
    assert shifted["intra_fid_0"] == pytest.approx(0, abs=1e-8) and shifted["intra_fid_1"] == pytest.approx(1.0)
    assert shifted["intra_fid"] == pytest.approx(0.5)


class _ClassReplay(LightningModule):
    """A conditional 'generator' that replays real digits: request i with label k returns the (i // 10)-th real digit of class k + shift."""

    num_classes = 10

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, shift: int) -> None:
        super().__init__()
        self.images, self.labels, self.shift = images, labels, shift
        self.by_class = [images[labels == k] for k in range(10)]
        self.w = nn.Parameter(torch.zeros(1))

    def sample_noise(self, n, rng=None):
        return torch.arange(n, dtype=torch.float32)[:, None]

    def sample(self, n, *, noise=None, labels=None, rng=None):
        return torch.stack(
            [self.by_class[(int(k) + self.shift) % 10][int(i) // 10] for i, k in zip(noise[:, 0], labels)]
        )

    def validation_step(self, batch, batch_idx):
        pass

    def train_dataloader(self):
        return DataLoader(TensorDataset(self.images, self.labels), batch_size=64)

    val_dataloader = train_dataloader


def test_gan_metrics_sees_wrong_classes_that_plain_fid_cannot():
    """Real digits of the requested class: accuracy ~1, small intra-FID. Of the next class: same FID, accuracy ~0, large intra-FID."""
    images, labels = load_digits_tensor()
    results = {}
    for shift in (0, 1):
        cb = GANMetrics(num_samples=1700, feature_extractor="digits", metrics=("fid",), cache=False)
        Trainer(**trainer_kwargs(callbacks=[cb])).validate(_ClassReplay(images, labels, shift))
        results[shift] = cb.last_metrics
    right, wrong = results[0], results[1]
    assert right["eval/fid"] == pytest.approx(wrong["eval/fid"], rel=1e-6)  # the same images overall
    assert right["eval/class_accuracy"] > 0.97 and wrong["eval/class_accuracy"] < 0.03
    assert all(f"eval/class_accuracy_{k}" in right and f"eval/intra_fid_{k}" in right for k in range(10))
    assert wrong["eval/intra_fid"] > 20 * right["eval/intra_fid"]
    mean = sum(right[f"eval/intra_fid_{k}"] for k in range(10)) / 10
    assert right["eval/intra_fid"] == pytest.approx(mean)


@pytest.mark.parametrize(
    "make",
    [
        lambda: GeneratorEMA(decay=0.9),
        lambda: InstanceNoise(initial_std=0.1, anneal_steps=4),
        lambda: DivergenceGuard(),
        lambda: SpectralNorm(),
        lambda: WeightClipping(0.01),
    ],
    ids=["ema", "instance_noise", "divergence_guard", "spectral_norm", "weight_clipping"],
)
def test_model_side_callbacks_train_a_conditional_module(make):
    """EMA, instance noise, divergence guard, spectral norm and weight clipping work with a conditional module (6 batches)."""
    module = WGANGP(
        MLPGenerator(hidden_dim=16, num_layers=2, num_classes=8),
        MLPCritic(hidden_dim=16, num_layers=2, num_classes=8),
        latent_dim=2,
        num_classes=8,
        n_critic=2,
        noise_seed=0,
    )
    Trainer(**trainer_kwargs(max_steps=6, callbacks=[make()])).fit(
        module, ToyDataModule(batch_size=16, batches_per_epoch=4, conditional=True)
    )
    assert (module.critic_steps, module.generator_steps) == (4, 2)
    assert module.sample(5, labels=3).shape == (5, 2)


def _conditional_toy_module():
    return WGANGP(
        MLPGenerator(hidden_dim=16, num_layers=2, num_classes=8),
        MLPCritic(hidden_dim=16, num_layers=2, num_classes=8),
        latent_dim=2,
        num_classes=8,
        n_critic=2,
        noise_seed=0,
    )


def test_lsuv_initialises_a_conditional_module_with_labels():
    """LSUVInit forwards labels to a conditional generator and critic; every non-output layer ends at unit variance."""
    from lightning_gans.callbacks import LSUVInit

    module = _conditional_toy_module()
    lsuv = LSUVInit(tol=0.05)
    Trainer(**trainer_kwargs(max_steps=1, callbacks=[lsuv])).fit(
        module, ToyDataModule(batch_size=64, batches_per_epoch=4, conditional=True)
    )
    assert set(lsuv.results) == {"generator", "critic"}
    for net, variances in lsuv.results.items():
        assert variances and all(abs(v - 1.0) <= 0.05 for v in variances.values()), (net, variances)


def test_lipschitz_monitor_measures_a_conditional_critic_at_a_fixed_label():
    """For a conditional module the input gradients are those of f_c(x) = D(x, c) at the documented class c."""
    from lightning_gans.callbacks import LipschitzMonitor
    from lightning_gans.penalties import input_gradients

    module = _conditional_toy_module()
    monitor = LipschitzMonitor(every_n_steps=1, seed=4)
    real = torch.randn(12, 2)
    step = 3  # measurement 3 of every_n_steps=1 -> class 3 of 8
    stats = monitor.measure(module, real, step=step)
    module.critic.eval()
    by_hand = input_gradients(
        lambda x: module.discriminate(x, torch.full((len(x),), 3)), real, create_graph=False
    ).norm(dim=1)
    torch.testing.assert_close(stats["samples/grad_norm/real"], by_hand, rtol=1e-5, atol=1e-7)
    other = input_gradients(lambda x: module.discriminate(x, torch.full((len(x),), 4)), real, create_graph=False).norm(
        dim=1
    )
    assert not torch.allclose(other, by_hand)  # the label matters, so the test can tell which was used
    assert stats["empirical"].item() > 0 and any(k.startswith("layer_grad_norm/") for k in stats)
