"""Tests for the LipschitzMonitor callback and its diagnostic functions."""

from __future__ import annotations

import pytest
import torch
from lightning.pytorch import Trainer
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger
from torch import nn

from lightning_gans import WGAN, WGANGP, ToyDataModule
from lightning_gans.callbacks.lipschitz_monitor import (
    LipschitzMonitor,
    empirical_lipschitz,
    gradient_direction_pairs,
    input_gradient_norms,
    layer_gradient_norms,
    spectral_norms,
    weight_saturation,
)
from lightning_gans.nets import MLPCritic, MLPGenerator
from lightning_gans.penalties import input_gradients, interpolate
from tests.conftest import trainer_kwargs


class _HalfSquaredNorm(nn.Module):
    """f(x) = ||x||^2 / 2, so grad f(x) = x and ||grad f(x)|| = ||x||."""

    def forward(self, x):
        return 0.5 * x.pow(2).sum(dim=1)


class _Stub:
    """The monitor's module protocol and nothing else: `critic` and `sample(n, generator=...)`."""

    def __init__(self, critic):
        self.critic = critic

    def sample(self, n, rng=None):
        return torch.randn(n, 2, generator=rng) * 3.0


def _gen():
    return MLPGenerator(latent_dim=2, hidden_dim=16, num_layers=1)


def _data():
    return ToyDataModule(batch_size=32, batches_per_epoch=20)


def test_empirical_lipschitz_of_linear_critic_equals_norm_of_w():
    """For f(x) = w.x the estimate is ||w||: gradient-direction pairs attain it, random pairs never exceed it."""
    critic = nn.Linear(3, 1, bias=False)
    with torch.no_grad():
        critic.weight.copy_(torch.tensor([[2.0, -1.0, 0.5]]))
    w_norm = critic.weight.norm().item()
    x, y = torch.randn(64, 3), torch.randn(64, 3)
    assert empirical_lipschitz(critic, x, y).item() <= w_norm * (1 + 1e-6)
    partners = gradient_direction_pairs(x, input_gradients(critic, x, create_graph=False), radius=1e-2)
    assert empirical_lipschitz(critic, x, partners).item() == pytest.approx(w_norm, rel=1e-4)


def test_monitor_on_linear_critic_reports_norm_of_w():
    """In a run with a linear critic, the logged empirical estimate and every gradient norm equal ||w||."""
    critic = nn.Linear(2, 1, bias=False)
    model = WGAN(_gen(), critic, latent_dim=2, clip_value=None, noise_seed=0)
    monitor = LipschitzMonitor(every_n_steps=1)
    trainer = Trainer(max_steps=2, callbacks=[monitor], **trainer_kwargs())
    trainer.fit(model, _data())
    w_norm = critic.weight.norm().item()
    assert trainer.callback_metrics["lipschitz/empirical"].item() == pytest.approx(w_norm, rel=1e-4)
    for kind in ("real", "fake", "interpolated"):
        torch.testing.assert_close(
            monitor.last[f"samples/grad_norm/{kind}"], torch.full((32,), w_norm), rtol=1e-5, atol=0
        )
    assert monitor.last["spectral_norm_product"].item() == pytest.approx(w_norm, rel=1e-5)


def test_gradient_norm_statistics_match_hand_computation():
    """With f(x) = ||x||^2/2, ||grad f|| = ||x||: mean and max on real, fake and interpolates match by hand."""
    monitor = LipschitzMonitor(seed=5)
    stub = _Stub(_HalfSquaredNorm())
    real = torch.randn(16, 2)
    stats = monitor.measure(stub, real, step=7)
    rng = torch.Generator().manual_seed(5 * 1_000_003 + 7)  # the monitor's documented seeding
    fake = stub.sample(16, rng=rng)
    expected = {"real": real, "fake": fake, "interpolated": interpolate(real, fake, rng)}
    for kind, x in expected.items():
        by_hand = torch.tensor([sum(float(v) ** 2 for v in row) ** 0.5 for row in x])
        torch.testing.assert_close(stats[f"samples/grad_norm/{kind}"], by_hand, rtol=1e-6, atol=1e-7)
        assert stats[f"grad_norm/{kind}/mean"].item() == pytest.approx(by_hand.mean().item(), rel=1e-6)
        assert stats[f"grad_norm/{kind}/max"].item() == pytest.approx(by_hand.max().item(), rel=1e-6)
    torch.testing.assert_close(input_gradient_norms(stub.critic, real), real.norm(dim=1))


def test_spectral_norms_and_upper_bound():
    """Per-layer spectral norms match known matrices, and their product bounds the empirical estimate."""
    net = nn.Sequential(nn.Linear(2, 2, bias=False), nn.ReLU(), nn.Linear(2, 1))
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor([[3.0, 0.0], [0.0, -1.0]]))
        net[2].weight.copy_(torch.tensor([[4.0, 3.0]]))
    norms = spectral_norms(net)
    assert list(norms) == ["0", "2"]
    assert norms["0"].item() == pytest.approx(3.0, rel=1e-6) and norms["2"].item() == pytest.approx(5.0, rel=1e-6)
    mlp = MLPCritic(hidden_dim=32, num_layers=3)
    bound = torch.stack(list(spectral_norms(mlp).values())).prod().item()
    x = torch.randn(256, 2)
    pairs = gradient_direction_pairs(x, input_gradients(mlp, x, create_graph=False), 1e-2)
    assert empirical_lipschitz(mlp, x, pairs).item() <= bound


def test_layer_gradient_norms_match_hand_computation():
    """For f(x) = w2.(W1 x) and the Wasserstein loss, per-layer weight and input gradient norms match closed forms."""
    net = nn.Sequential(nn.Linear(3, 4, bias=False), nn.Linear(4, 1, bias=False))
    real, fake = torch.randn(10, 3), torch.randn(6, 3)
    loss = lambda r, f: f.mean() - r.mean()  # noqa: E731
    weight_grads, input_grads = layer_gradient_norms(net, loss, real, fake)
    w1, w2 = net[0].weight.detach(), net[1].weight.detach()[0]
    delta = fake.mean(0) - real.mean(0)  # dL/dx-mean direction
    scale = (1 / 10 + 1 / 6) ** 0.5  # each real sample has weight -1/10, each fake +1/6
    assert weight_grads["0"].item() == pytest.approx((w2.norm() * delta.norm()).item(), rel=1e-5)  # ||w2 delta^T||_F
    assert weight_grads["1"].item() == pytest.approx((w1 @ delta).norm().item(), rel=1e-5)
    assert input_grads["1"].item() == pytest.approx((w2.norm() * scale).item(), rel=1e-5)
    assert input_grads["0"].item() == pytest.approx(((w1.T @ w2).norm() * scale).item(), rel=1e-5)
    assert all(p.grad is None for p in net.parameters())


def test_weight_saturation_counts_pile_up_at_the_bound():
    """Half of the entries at +-c gives saturation 0.5; distinct magnitudes give 1/numel."""
    c = 0.01
    assert weight_saturation(torch.tensor([c, -c, 0.3 * c, -0.5 * c])).item() == 0.5
    assert weight_saturation(torch.arange(1.0, 11.0)).item() == pytest.approx(0.1)


def test_monitor_changes_nothing_in_training():
    """Training with the monitor ends with exactly the weights of training without it."""

    def run(callbacks):
        torch.manual_seed(0)
        model = WGANGP(_gen(), MLPCritic(hidden_dim=16, num_layers=2), latent_dim=2, n_critic=2, noise_seed=0)
        Trainer(max_steps=6, callbacks=callbacks, **trainer_kwargs()).fit(model, _data())
        return [p.detach().clone() for p in model.parameters()]

    for a, b in zip(run([]), run([LipschitzMonitor(every_n_steps=1)])):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_measures_at_exact_interval_and_logs_histograms_to_tensorboard(tmp_path):
    """With every_n_steps=3 and 10 steps the monitor measures at steps 3, 6, 9 and TensorBoard gets histograms."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    steps = []

    class Counting(LipschitzMonitor):
        def measure(self, pl_module, real, step=0):
            steps.append(step)
            return super().measure(pl_module, real, step)

    model = WGAN(_gen(), MLPCritic(hidden_dim=16, num_layers=2), latent_dim=2, noise_seed=0)
    logger = TensorBoardLogger(tmp_path, name="tb")
    trainer = Trainer(
        max_steps=10, callbacks=[Counting(every_n_steps=3)], **trainer_kwargs(logger=logger, log_every_n_steps=3)
    )
    trainer.fit(model, _data())
    assert steps == [3, 6, 9]
    events = EventAccumulator(logger.log_dir, size_guidance={"histograms": 0}).Reload()
    tags = events.Tags()
    assert {"lipschitz/grad_norm/interpolated", "lipschitz/weights"} <= set(tags["histograms"])
    assert [e.step for e in events.Histograms("lipschitz/weights")] == [3, 6, 9]
    assert "lipschitz/weight/saturation" in tags["scalars"]
    # WGAN's clipping piles weights up at +-0.01
    assert trainer.callback_metrics["lipschitz/weight/abs_max"].item() == pytest.approx(0.01)


def test_scalar_only_logger_works(tmp_path):
    """A logger without histograms (CSV) gets the scalar summaries and no error."""
    model = WGANGP(_gen(), MLPCritic(hidden_dim=16, num_layers=1), latent_dim=2, noise_seed=0)
    logger = CSVLogger(tmp_path, name="csv")
    trainer = Trainer(
        max_steps=4, callbacks=[LipschitzMonitor(every_n_steps=2)], **trainer_kwargs(logger=logger, log_every_n_steps=2)
    )
    trainer.fit(model, _data())
    header = (tmp_path / "csv" / "version_0" / "metrics.csv").read_text().splitlines()[0]
    assert "lipschitz/grad_norm/interpolated/mean" in header and "lipschitz/spectral_norm_product" in header


def test_invalid_arguments():
    """Out-of-range arguments raise errors naming the argument."""
    with pytest.raises(ValueError, match="`every_n_steps`"):
        LipschitzMonitor(every_n_steps=0)
    with pytest.raises(ValueError, match="`num_samples`"):
        LipschitzMonitor(num_samples=1)
    with pytest.raises(ValueError, match="`probe_radius`"):
        LipschitzMonitor(probe_radius=0.0)
    with pytest.raises(ValueError, match="`x` and `y`"):
        empirical_lipschitz(nn.Linear(2, 1), torch.zeros(3, 2), torch.zeros(4, 2))
