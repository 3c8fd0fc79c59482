"""The cheaper update: each speed option leaves the numbers as they were (bitwise, or to float rounding)."""

from __future__ import annotations

from functools import partial

import pytest
import torch
from lightning.pytorch import Trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from torch import nn
from torch.utils.data import TensorDataset
from torchdata.stateful_dataloader import StatefulDataLoader

from lightning_gans import GAN, WGANGP
from lightning_gans.callbacks import AdaptiveAugment, SpectralNorm
from lightning_gans.losses import minimax_critic_loss, non_saturating_generator_loss
from lightning_gans.modules.base import adam
from lightning_gans.nets import MLPCritic, MLPGenerator
from tests.conftest import trainer_kwargs

pytestmark = pytest.mark.usefixtures("one_thread")


def _data(n: int = 6 * 8 * 4, batch_size: int = 8, labels: bool = False) -> StatefulDataLoader:
    """Rows in a fixed order; a StatefulDataLoader, so a mid-epoch resume continues where it stopped."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 2, generator=g)
    tensors = (x, torch.randint(4, (n,), generator=g)) if labels else (x,)
    return StatefulDataLoader(TensorDataset(*tensors), batch_size=batch_size, shuffle=False, drop_last=True)


def _wgangp(cls=WGANGP, **kwargs) -> WGANGP:
    torch.manual_seed(0)
    kwargs.setdefault("num_classes", None)
    k = kwargs["num_classes"]
    g, d = MLPGenerator(latent_dim=2, hidden_dim=16, num_classes=k), MLPCritic(hidden_dim=16, num_classes=k)
    return cls(g, d, latent_dim=2, noise_seed=0, **kwargs)


def _weights(module: nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in module.parameters()]


class _Fused(WGANGP):
    fuse_critic_forwards = True


@pytest.mark.parametrize("num_classes", [None, 4])
def test_one_fused_critic_forward_equals_two_forwards(num_classes):
    """fuse_critic_forwards: critic updates after the first score real and fake in one call; after 3 of them (SGD)
    every weight is within 1e-6 of the two-forward run: only the summation order of the two halves' gradients
    differs (over many updates GAN training amplifies such rounding, as it does any)."""
    runs = {}
    sgd = partial(torch.optim.SGD, lr=0.05)
    for cls in (WGANGP, _Fused):
        module = _wgangp(cls, num_classes=num_classes, generator_optimizer=sgd, critic_optimizer=sgd)
        calls = []
        module.critic.register_forward_pre_hook(lambda net, args, calls=calls: calls.append(args[0].shape[0]))
        Trainer(**trainer_kwargs(max_steps=3)).fit(module, _data(labels=num_classes is not None))
        runs[cls] = (module, calls)
    (plain, plain_calls), (fused, fused_calls) = runs[WGANGP], runs[_Fused]
    assert fused._fuse_critic and not plain._fuse_critic
    assert (fused.critic_steps, fused.generator_steps) == (plain.critic_steps, plain.generator_steps) == (3, 0)
    assert 16 in fused_calls and 16 not in plain_calls  # one call of 8 real + 8 fake rows
    for a, b in zip(_weights(plain), _weights(fused)):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-6)


def test_critics_with_buffers_are_never_fused():
    """BatchNorm statistics or spectral norm's u/v would be updated once instead of twice: such critics score apart."""
    bn = _Fused(
        MLPGenerator(latent_dim=2, hidden_dim=8),
        nn.Sequential(nn.Linear(2, 8), nn.BatchNorm1d(8), nn.Linear(8, 1)),
        latent_dim=2,
    )
    Trainer(**trainer_kwargs(max_steps=2)).fit(bn, _data())
    sn = _Fused(MLPGenerator(latent_dim=2, hidden_dim=8), MLPCritic(hidden_dim=8), latent_dim=2)
    Trainer(**trainer_kwargs(max_steps=2, callbacks=[SpectralNorm()])).fit(sn, _data())
    assert not bn._fuse_critic and not sn._fuse_critic


def test_a_cycle_per_batch_trains_exactly_like_one_update_per_batch():
    """updates_per_batch='cycle' with batches of 6 x 8 rows equals one update per batch of 8 on the same rows, bit
    for bit: same weights, counters and global step (12 optimizer steps in 2 batches instead of 12)."""
    one = _wgangp()
    t_one = Trainer(**trainer_kwargs(max_steps=12))
    t_one.fit(one, _data(batch_size=8))
    cycle = _wgangp(updates_per_batch="cycle")
    t_cycle = Trainer(**trainer_kwargs(max_steps=12))
    t_cycle.fit(cycle, _data(batch_size=6 * 8))
    assert t_one.global_step == t_cycle.global_step == 12
    assert (cycle.critic_steps, cycle.generator_steps) == (one.critic_steps, one.generator_steps) == (10, 2)
    for a, b in zip(_weights(one), _weights(cycle)):
        assert torch.equal(a, b)


def test_cycle_mode_resumes_exactly_from_a_batch_boundary(tmp_path):
    """A cycle run's step-6 checkpoint (ModelCheckpoint every 6 steps: every batch) resumed to step 18 equals the
    run straight through, bit for bit."""
    straight = _wgangp(updates_per_batch="cycle")
    every = ModelCheckpoint(dirpath=tmp_path, every_n_train_steps=6, save_top_k=-1, filename="{step}")
    Trainer(**trainer_kwargs(max_steps=18, callbacks=[every], enable_checkpointing=True)).fit(
        straight, _data(batch_size=48)
    )
    assert sorted(p.name for p in tmp_path.glob("*.ckpt")) == ["step=12.ckpt", "step=18.ckpt", "step=6.ckpt"]
    resumed = _wgangp(updates_per_batch="cycle")
    Trainer(**trainer_kwargs(max_steps=18)).fit(resumed, _data(batch_size=48), ckpt_path=tmp_path / "step=6.ckpt")
    assert (resumed.critic_steps, resumed.generator_steps) == (15, 3)
    for a, b in zip(_weights(straight), _weights(resumed)):
        assert torch.equal(a, b)


def test_cycle_mode_refuses_batches_it_cannot_split_and_ada():
    """A batch of 50 rows for n_critic 5 is refused before any update, naming `updates_per_batch`; ADA needs one
    update per batch and says so in setup."""
    module = _wgangp(updates_per_batch="cycle")
    with pytest.raises(ValueError, match=r"`updates_per_batch`='cycle' splits each batch into `n_critic` \+ 1 = 6"):
        Trainer(**trainer_kwargs(max_steps=6)).fit(module, _data(n=100, batch_size=50))
    assert module.critic_steps == module.generator_steps == 0
    with pytest.raises(ValueError, match=r"`AdaptiveAugment` .* needs one update per batch"):
        Trainer(**trainer_kwargs(max_steps=6, callbacks=[AdaptiveAugment()])).fit(
            _wgangp(updates_per_batch="cycle"), _data(batch_size=48)
        )
    with pytest.raises(ValueError, match="Unknown `updates_per_batch` 'two'"):
        _wgangp(updates_per_batch="two")


class _StepNoise(GAN):
    """Noise of update t from a generator seeded with t: a hand-written loop can draw the same."""

    def sample_noise(self, n, rng=None):
        step = self.critic_steps + self.generator_steps
        return torch.randn(n, self.latent_dim, generator=torch.Generator().manual_seed(100 + step))


def _reuse_gan(n_critic: int, num_classes: int | None, updates_per_batch: str = "cycle_reuse") -> _StepNoise:
    torch.manual_seed(0)
    g = MLPGenerator(latent_dim=2, hidden_dim=16, num_classes=num_classes)
    d = MLPCritic(hidden_dim=16, num_classes=num_classes)
    sgd = partial(torch.optim.SGD, lr=0.05)
    return _StepNoise(g, d, latent_dim=2, n_critic=n_critic, num_classes=num_classes, noise_seed=0,
                      generator_optimizer=sgd, critic_optimizer=sgd, updates_per_batch=updates_per_batch)  # fmt: skip


def _dcgan_example_loop(module: _StepNoise, loader, batches: int) -> None:
    """PyTorch's DCGAN example order, by hand: per batch, critic updates on its n_critic parts (fakes of the last
    part kept with the generator's graph), then the generator update on those fakes, the critic frozen."""
    g, d, k = module.generator, module.critic, module.n_critic
    opt_g, opt_d = torch.optim.SGD(g.parameters(), lr=0.05), torch.optim.SGD(d.parameters(), lr=0.05)
    step = 0

    def score(net, x, y):
        return net(x).view(-1) if y is None else net(x, y).view(-1)

    for b, batch in enumerate(loader):
        if b == batches:
            return
        real, labels = batch if len(batch) == 2 else (batch[0], None)
        for i, x in enumerate(real.chunk(k)):
            y = None if labels is None else labels.chunk(k)[i]
            z = torch.randn(x.shape[0], 2, generator=torch.Generator().manual_seed(100 + step))
            fake = g(z) if y is None else g(z, y)
            loss = minimax_critic_loss(score(d, x, y), score(d, fake.detach(), y))
            opt_d.zero_grad(set_to_none=True)
            loss.backward()
            opt_d.step()
            step += 1
        d.requires_grad_(False)
        loss = non_saturating_generator_loss(score(d, fake, y))
        opt_g.zero_grad(set_to_none=True)
        loss.backward()
        opt_g.step()
        d.requires_grad_(True)
        step += 1


@pytest.mark.parametrize(("n_critic", "num_classes"), [(1, None), (2, None), (2, 4)])
def test_cycle_reuse_is_the_dcgan_example_order_and_saves_a_generator_forward(n_critic, num_classes):
    """updates_per_batch='cycle_reuse' equals the hand-written DCGAN-example loop (generator update on the last
    critic update's fakes, graph kept; same real part and labels) on the same rows and noise, bit for bit; each
    cycle runs n_critic generator forwards (one fewer than 'cycle') and counts n_critic + 1 optimizer steps."""
    batches = 4
    module = _reuse_gan(n_critic, num_classes)
    forwards = []
    module.generator.register_forward_pre_hook(lambda net, args: forwards.append(args[0].shape[0]))
    trainer = Trainer(**trainer_kwargs(max_steps=batches * (n_critic + 1)))
    trainer.fit(module, _data(batch_size=8 * n_critic, labels=num_classes is not None))
    assert trainer.global_step == batches * (n_critic + 1)
    assert (module.critic_steps, module.generator_steps) == (batches * n_critic, batches)
    assert forwards == [8] * (batches * n_critic)
    reference = _reuse_gan(n_critic, num_classes)
    _dcgan_example_loop(reference, _data(batch_size=8 * n_critic, labels=num_classes is not None), batches)
    moved = max((a - b).abs().max().item() for a, b in zip(_weights(reference), _weights(_reuse_gan(1, num_classes))))
    assert moved > 1e-3
    for a, b in zip(_weights(module), _weights(reference)):
        assert torch.equal(a, b)
    cycle = _reuse_gan(n_critic, num_classes, "cycle")  # the papers' order: a fresh generator forward for its update
    calls = []
    cycle.generator.register_forward_pre_hook(lambda net, args: calls.append(args[0].shape[0]))
    Trainer(**trainer_kwargs(max_steps=n_critic + 1)).fit(
        cycle, _data(batch_size=8 * (n_critic + 1), labels=num_classes is not None)
    )
    assert len(calls) == n_critic + 1


def test_cycle_reuse_resumes_exactly_and_refuses_what_it_cannot_run(tmp_path):
    """A 'cycle_reuse' run's step-6 checkpoint resumed to step 18 equals the straight run bit for bit; a batch it
    cannot split into n_critic parts, and a run standing mid-cycle, are refused before any update."""
    straight = _reuse_gan(2, None)
    every = ModelCheckpoint(dirpath=tmp_path, every_n_train_steps=6, save_top_k=-1, filename="{step}")
    Trainer(**trainer_kwargs(max_steps=18, callbacks=[every], enable_checkpointing=True)).fit(
        straight, _data(batch_size=16)
    )
    resumed = _reuse_gan(2, None)
    Trainer(**trainer_kwargs(max_steps=18)).fit(resumed, _data(batch_size=16), ckpt_path=tmp_path / "step=6.ckpt")
    assert (resumed.critic_steps, resumed.generator_steps) == (12, 6)
    for a, b in zip(_weights(straight), _weights(resumed)):
        assert torch.equal(a, b)
    odd = _reuse_gan(2, None)
    with pytest.raises(ValueError, match=r"`updates_per_batch`='cycle_reuse' splits each batch into `n_critic` = 2"):
        Trainer(**trainer_kwargs(max_steps=3)).fit(odd, _data(n=90, batch_size=9))
    assert odd.critic_steps == odd.generator_steps == 0
    mid = _reuse_gan(2, None)
    mid._cycle_position = 1  # as after a checkpoint taken mid-cycle with updates_per_batch='one'
    with pytest.raises(ValueError, match=r"'cycle_reuse' runs a whole cycle per batch.*after critic update 1 of 2"):
        Trainer(**trainer_kwargs(max_steps=3)).fit(mid, _data(batch_size=16))
    assert mid.critic_steps == 0


def test_default_adam_is_fused_on_cpu_and_steps_like_the_for_loop_adam():
    """The papers' Adam of the class defaults is torch's fused Adam on CPU; 20 steps on the same gradients land
    within 1e-6 of the for-loop implementation."""
    torch.manual_seed(0)
    a, b = nn.Linear(8, 8), nn.Linear(8, 8)
    b.load_state_dict(a.state_dict())
    fused = adam(1e-3, (0.0, 0.9))(a.parameters())
    plain = torch.optim.Adam(b.parameters(), lr=1e-3, betas=(0.0, 0.9))
    assert fused.param_groups[0]["fused"] is True
    for _ in range(20):
        grads = [torch.randn_like(p) for p in a.parameters()]
        for net, opt in ((a, fused), (b, plain)):
            for p, g in zip(net.parameters(), grads):
                p.grad = g.clone()
            opt.step()
    for p, q in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-6, atol=1e-6)
    gan = GAN(MLPGenerator(latent_dim=2, hidden_dim=8), MLPCritic(hidden_dim=8), latent_dim=2)
    assert all(opt.param_groups[0]["fused"] is True for opt in gan.configure_optimizers())


class _FullPath(WGANGP):
    fast_optimizer_steps = False

    def manual_backward(self, loss, *args, **kwargs) -> None:
        self.manual_backwards = getattr(self, "manual_backwards", 0) + 1
        super().manual_backward(loss, *args, **kwargs)


def _resumable_run(cls, tmp_path, name: str):
    """12 updates with a checkpoint at step 6, then a resume from it to 12: the straight run, its trainer, the resumed."""
    module = _wgangp(cls)
    every = ModelCheckpoint(dirpath=tmp_path / name, every_n_train_steps=6, save_top_k=-1, filename="{step}")
    trainer = Trainer(**trainer_kwargs(max_steps=12, callbacks=[every], enable_checkpointing=True))
    trainer.fit(module, _data())
    resumed = _wgangp(cls)
    Trainer(**trainer_kwargs(max_steps=12)).fit(resumed, _data(), ckpt_path=tmp_path / name / "step=6.ckpt")
    return module, trainer, resumed


def test_fast_optimizer_steps_equal_lightnings_full_path(tmp_path):
    """The fast path (raw optimizer steps on one fp32 device) gives the full path's weights, optimizer states,
    counters, global step and checkpoint cadence bit for bit, and resumes exactly; a module that switches it off
    really takes the full path (manual_backward at every update)."""
    fast, t_fast, fast_resumed = _resumable_run(WGANGP, tmp_path, "fast")
    full, t_full, full_resumed = _resumable_run(_FullPath, tmp_path, "full")
    assert (full.manual_backwards, full_resumed.manual_backwards) == (12, 6)
    assert fast._fast_steps and not full._fast_steps
    assert t_fast.global_step == t_full.global_step == 12
    assert (fast.critic_steps, fast.generator_steps) == (full.critic_steps, full.generator_steps) == (10, 2)
    assert sorted(p.name for p in (tmp_path / "fast").iterdir()) == ["step=12.ckpt", "step=6.ckpt"]
    for a, b in zip(_weights(fast), _weights(full)):
        assert torch.equal(a, b)
    for opt_fast, opt_full in zip(t_fast.optimizers, t_full.optimizers):
        for s_fast, s_full in zip(opt_fast.state.values(), opt_full.state.values()):
            assert all(torch.equal(s_fast[k], s_full[k]) for k in ("exp_avg", "exp_avg_sq"))
    for a, b in zip(_weights(fast), _weights(fast_resumed)):
        assert torch.equal(a, b)


class _WatchesBackward(WGANGP):
    def on_after_backward(self) -> None:
        self.seen = getattr(self, "seen", 0) + 1


def test_fast_path_keeps_out_of_the_way_of_hooks_and_other_layers():
    """Whoever watches a backward or a step (a module hook, DivergenceGuard), mixed precision and a profiler keep the
    full path, so their hooks run at every update."""
    from lightning_gans.callbacks import DivergenceGuard

    watched = _wgangp(_WatchesBackward)
    Trainer(**trainer_kwargs(max_steps=6)).fit(watched, _data())
    assert not watched._fast_steps and watched.seen == 6
    for overrides in ({"callbacks": [DivergenceGuard()]}, {"precision": "bf16-mixed"}, {"profiler": "simple"}):
        module = _wgangp()
        Trainer(**trainer_kwargs(max_steps=2, **overrides)).fit(module, _data())
        assert not module._fast_steps, overrides
    plain = _wgangp()
    Trainer(**trainer_kwargs(max_steps=2)).fit(plain, _data())
    assert plain._fast_steps
