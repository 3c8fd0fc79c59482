"""Mixed precision: bf16-mixed on CPU, and the fp16 GradScaler path of the gradient penalty.

``16-mixed`` needs a GPU through the Trainer's string, but Lightning's ``MixedPrecision`` plugin
with a CPU ``GradScaler`` runs the same scaler code path on CPU, so it is tested here end to end.
"""

from __future__ import annotations

import math

import pytest
import torch
from lightning.pytorch import Trainer
from lightning.pytorch.plugins.precision import MixedPrecision
from torch import nn

from lightning_gans import WGANGP, ToyDataModule
from lightning_gans import penalties as P
from lightning_gans.callbacks import DivergenceGuard
from lightning_gans.nets import MLPCritic, MLPGenerator
from tests.conftest import trainer_kwargs

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny nets: one intra-op thread is fastest


class _ScaleSpy(WGANGP):
    """WGAN-GP recording the loss scale handed to the penalty at every critic update."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.scales: list = []
        penalty = self.penalty

        def recording(critic, real, fake, *, labels=None, rng=None, grad_scale=None):
            self.scales.append(grad_scale)
            return penalty(critic, real, fake, labels=labels, rng=rng, grad_scale=grad_scale)

        self.penalty = recording


def _wgangp(cls=WGANGP):
    return cls(
        MLPGenerator(latent_dim=2, hidden_dim=32, num_layers=2),
        MLPCritic(hidden_dim=32, num_layers=2),
        latent_dim=2,
        noise_seed=0,
    )


def test_bf16_mixed_wgangp_1000_critic_steps_stay_finite():
    """1,000 bf16-mixed WGAN-GP critic updates (n_critic=5) on 8 Gaussians: weights and losses stay finite."""
    module = _wgangp(_ScaleSpy)
    guard = DivergenceGuard()  # raises on any non-finite loss, gradient or weight
    trainer = Trainer(**trainer_kwargs(max_steps=1200, precision="bf16-mixed", callbacks=[guard]))
    trainer.fit(module, datamodule=ToyDataModule(batch_size=64, batches_per_epoch=200, seed=0))
    assert module.critic_steps == 1000 and module.generator_steps == 200
    assert set(module.scales) == {None}  # bf16 has no scaler: the penalty is unscaled
    assert all(torch.isfinite(p).all() for p in module.parameters())
    for name in ("train/critic_loss", "train/generator_loss", "train/gradient_penalty"):
        assert math.isfinite(float(trainer.callback_metrics[name])), name
    assert float(trainer.callback_metrics["train/gradient_penalty"]) < 1.0  # the constraint is being enforced


def _tiny_critic(dtype: torch.dtype) -> nn.Module:
    """Linear critic with small weights: its input gradients (~1e-7) underflow in fp16 without scaling."""
    torch.manual_seed(0)
    critic = nn.Sequential(nn.Linear(2, 8, bias=False), nn.Linear(8, 1, bias=False))
    with torch.no_grad():
        critic[0].weight.copy_(torch.rand(8, 2) * 2e-4)
        critic[1].weight.copy_(torch.rand(1, 8) * 2e-4)
    return critic.to(dtype)


def _penalty_param_grads(dtype: torch.dtype, scale):
    """Critic parameter gradients of the GP as a GradScaler produces them: backward of scale*gp, then unscale."""
    critic = _tiny_critic(dtype)
    g = torch.Generator().manual_seed(1)
    real, fake = torch.randn(16, 2, generator=g), torch.randn(16, 2, generator=g)
    gp = P.gradient_penalty(
        critic, real.to(dtype), fake.to(dtype), grad_scale=scale, rng=torch.Generator().manual_seed(2)
    )
    (gp * (scale or 1.0)).backward()
    return gp, [p.grad.float() / (scale or 1.0) for p in critic.parameters()]


def _relative_errors(grads, reference):
    return [((g - r).abs().max() / r.abs().max()).item() for g, r in zip(grads, reference)]


def test_scaled_penalty_is_exact_in_fp32():
    """In fp32 a power-of-two grad_scale changes neither the penalty nor its parameter gradients."""
    ref_gp, ref = _penalty_param_grads(torch.float32, None)
    for scale in (2.0**4, 2.0**10, 2.0**16):
        gp, grads = _penalty_param_grads(torch.float32, scale)
        assert torch.equal(gp, ref_gp)
        assert max(_relative_errors(grads, ref)) < 1e-6


def test_fp16_penalty_needs_the_scale():
    """In fp16 the unscaled penalty's gradients are >10% off (underflow); with grad_scale=1024 they match fp32 within 3%."""
    _, ref = _penalty_param_grads(torch.float32, None)
    _, unscaled = _penalty_param_grads(torch.float16, None)
    _, scaled = _penalty_param_grads(torch.float16, 2.0**10)
    assert min(_relative_errors(unscaled, ref)) > 0.1
    assert max(_relative_errors(scaled, ref)) < 0.03
    assert all(torch.isfinite(g).all() for g in scaled)


def test_fp16_mixed_scaler_path_end_to_end():
    """16-mixed with a GradScaler: the penalty gets the live scale; the first overflow is skipped by the scaler, not the guard."""
    module = _wgangp(_ScaleSpy)
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**16, growth_interval=10_000)
    trainer = Trainer(
        **trainer_kwargs(
            max_steps=36, plugins=[MixedPrecision("16-mixed", "cpu", scaler)], callbacks=[DivergenceGuard()]
        )
    )
    trainer.fit(module, datamodule=ToyDataModule(batch_size=64, batches_per_epoch=36, seed=0))
    assert len(module.scales) == module.critic_steps == 30
    assert module.scales[0] == 2.0**16  # fp16 cannot hold a gradient of 65536: the scaler halves ...
    assert 0 < scaler.get_scale() < 2.0**16 and module.scales[-1] == scaler.get_scale()  # ... and the penalty follows
    assert all(torch.isfinite(p).all() for p in module.parameters())
    assert math.isfinite(float(trainer.callback_metrics["train/gradient_penalty"]))


def test_guard_still_stops_when_the_scaler_gives_up():
    """Under 16-mixed a loss that is NaN at every scale stops once the scale drops below `min_grad_scale`."""

    class NaNCritic(WGANGP):
        def critic_loss(self, real_scores, fake_scores):
            return super().critic_loss(real_scores, fake_scores) * math.nan

    module = NaNCritic(MLPGenerator(latent_dim=2, hidden_dim=16), MLPCritic(hidden_dim=16), latent_dim=2, noise_seed=0)
    scaler = torch.amp.GradScaler("cpu", init_scale=4.0)
    trainer = Trainer(
        **trainer_kwargs(
            max_steps=30, plugins=[MixedPrecision("16-mixed", "cpu", scaler)], callbacks=[DivergenceGuard()]
        )
    )
    with pytest.raises(FloatingPointError, match=r"non-finite critic update at global step 3 .*critic loss = nan"):
        trainer.fit(module, datamodule=ToyDataModule(batch_size=16, batches_per_epoch=30, seed=0))
