"""The open core's extension points: every network call through generate/discriminate, lazy regularisation, a variant in one small subclass."""

from __future__ import annotations

import subprocess
import sys
from functools import partial
from pathlib import Path

import torch
from lightning.pytorch import Callback, Trainer
from torch.utils.data import DataLoader, TensorDataset

from lightning_gans import GAN, WGANGP, AdversarialModule
from lightning_gans.losses import AdversarialLoss, wasserstein_critic_loss, wasserstein_generator_loss
from lightning_gans.nets import MLPCritic, MLPGenerator
from tests.conftest import trainer_kwargs


def _toy_loader(n=64, batch_size=8, labels=False):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 2, generator=g)
    tensors = (x, torch.randint(3, (n,), generator=g)) if labels else (x,)
    return DataLoader(TensorDataset(*tensors), batch_size=batch_size, shuffle=False, drop_last=True)


def _nets():
    return MLPGenerator(latent_dim=2, hidden_dim=8, num_layers=1), MLPCritic(hidden_dim=8, num_layers=1)


def _zero_critic_loss(real_scores, fake_scores):
    return 0.0 * (real_scores.sum() + fake_scores.sum())


def _parameter_sum_penalty(critic, real, fake, *, labels=None, rng=None, grad_scale=None):
    return sum(p.sum() for p in critic.parameters())  # gradient 1 for every critic parameter


def test_penalty_every_k_runs_on_every_kth_critic_update_weighted_by_k(one_thread):
    """penalty_every=3: the penalty runs at critic steps 0, 3 (of 0..5) and moves each weight by lr * weight * 3."""
    calls = []

    def penalty(critic, real, fake, *, labels=None, rng=None, grad_scale=None):
        calls.append(model.critic_steps)
        return _parameter_sum_penalty(critic, real, fake, labels=labels, rng=rng, grad_scale=grad_scale)

    g, d = _nets()
    model = AdversarialModule(
        g,
        d,
        latent_dim=2,
        loss=AdversarialLoss(_zero_critic_loss, wasserstein_generator_loss),
        n_critic=2,
        penalty=penalty,
        penalty_weight=0.5,
        penalty_every=3,
        critic_optimizer=partial(torch.optim.SGD, lr=1.0),
        noise_seed=0,
    )
    deltas = []

    class Record(torch.nn.Module):
        pass

    def snapshot():
        return torch.cat([p.detach().flatten().clone() for p in model.critic.parameters()])

    original = model.critic_update

    def recording_update(real, labels, rng):
        before_step = snapshot()
        out = original(real, labels, rng)
        deltas.append(snapshot() - before_step)
        return out

    model.critic_update = recording_update
    Trainer(max_steps=9, **trainer_kwargs()).fit(model, _toy_loader())  # 6 critic + 3 generator updates
    assert calls == [0, 3]
    assert len(deltas) == 6
    for step, delta in enumerate(deltas):
        expected = -1.5 if step % 3 == 0 else 0.0  # lr 1 * penalty_weight 0.5 * penalty_every 3
        torch.testing.assert_close(delta, torch.full_like(delta, expected), rtol=0, atol=1e-6)


class _Spied(WGANGP):
    """Marks when generate/discriminate run; the networks' hooks check every call happens inside one."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.inside = 0
        self.net_calls = {"generator": 0, "critic": 0}
        self.outside_calls = []
        for name in ("generator", "critic"):
            getattr(self, name).register_forward_pre_hook(partial(self._seen, name))

    def _seen(self, name, module, args):
        self.net_calls[name] += 1
        if not self.inside:
            self.outside_calls.append(name)

    def generate(self, z, labels=None):
        self.inside += 1
        try:
            return super().generate(z, labels)
        finally:
            self.inside -= 1

    def discriminate(self, x, labels=None):
        self.inside += 1
        try:
            return super().discriminate(x, labels)
        finally:
            self.inside -= 1


def test_generate_and_discriminate_are_the_only_calls_of_the_networks(one_thread):
    """Through critic updates with the gradient penalty and generator updates, every net call is inside them."""
    g, d = _nets()
    model = _Spied(g, d, latent_dim=2, n_critic=2, noise_seed=0)
    Trainer(max_steps=6, **trainer_kwargs()).fit(model, _toy_loader())
    # 4 critic updates: 1 generator call + 2 critic calls + 1 penalty call; 2 generator updates: 1 + 1
    assert model.net_calls == {"generator": 4 + 2, "critic": 4 * 3 + 2}
    assert model.outside_calls == []


def test_lazy_r1_is_one_config_line_through_the_console_script(tmp_path):
    """`penalty: r1` + `penalty_every: 16` from the CLI: exit 0, and the checkpoint's module computes R1 every 16th update."""
    root = Path(__file__).resolve().parents[2]
    script = str(Path(sys.executable).parent / "lightning-gans")
    args = [
        script,
        "fit",
        "--config",
        str(root / "examples" / "gan_8gaussians.yaml"),
        "--model.init_args.penalty",
        "r1",
        "--model.init_args.penalty_weight",
        "5.0",
        "--model.init_args.penalty_every",
        "16",
        "--trainer.max_steps",
        "4",
        "--trainer.logger",
        "false",
        "--trainer.enable_progress_bar",
        "false",
        "--trainer.default_root_dir",
        str(tmp_path),
        "--trainer.callbacks+=lightning.pytorch.callbacks.ModelCheckpoint",
        "--trainer.callbacks.dirpath",
        str(tmp_path / "ckpt"),
        "--trainer.callbacks.save_last",
        "true",
    ]
    done = subprocess.run(args, capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    model = GAN.load_from_checkpoint(tmp_path / "ckpt" / "last.ckpt")
    assert (model.penalty_every, model.penalty_weight, model.hparams.penalty) == (16, 5.0, "r1")
    assert model.critic_steps == 2 and model.generator_steps == 2


class _SmallSNGAN(AdversarialModule):  # the README's claim: a hinge-loss SNGAN is this small a subclass
    default_generator_optimizer = partial(torch.optim.Adam, lr=2e-4, betas=(0.0, 0.9))
    default_critic_optimizer = partial(torch.optim.Adam, lr=2e-4, betas=(0.0, 0.9))

    def __init__(self, generator, critic, latent_dim, n_critic=5, **kwargs):
        super().__init__(generator, critic, latent_dim, loss="hinge", n_critic=n_critic, **kwargs)

    def configure_callbacks(self):
        from lightning_gans.callbacks import SpectralNorm

        return [SpectralNorm()]


def test_a_hinge_sngan_is_a_subclass_of_at_most_15_lines_and_trains_like_the_shipped_one(one_thread):
    """`_SmallSNGAN` (<= 15 lines, no private override) ends bit-identical to `SNGAN` after 12 updates."""
    import inspect

    from lightning_gans import SNGAN

    assert len(inspect.getsource(_SmallSNGAN).strip().splitlines()) <= 15
    params = []
    for cls in (_SmallSNGAN, SNGAN):
        torch.manual_seed(0)
        model = cls(*_nets(), latent_dim=2, noise_seed=0)
        Trainer(max_steps=12, **trainer_kwargs()).fit(model, _toy_loader())
        params.append(torch.cat([p.detach().flatten() for p in model.parameters()]))
    assert torch.equal(params[0], params[1])


def test_loss_decides_its_diagnostics(one_thread):
    """A user-built Wasserstein AdversarialLoss (equal, not identical, to the named one) still logs the W1 estimate."""
    loss = AdversarialLoss(wasserstein_critic_loss, wasserstein_generator_loss)
    model = AdversarialModule(*_nets(), latent_dim=2, loss=loss, noise_seed=0)
    trainer = Trainer(max_steps=2, **trainer_kwargs())
    trainer.fit(model, _toy_loader())
    assert "train/wasserstein_estimate" in trainer.callback_metrics
    plain = GAN(*_nets(), latent_dim=2, noise_seed=0)
    trainer = Trainer(max_steps=2, **trainer_kwargs())
    trainer.fit(plain, _toy_loader())
    assert "train/wasserstein_estimate" not in trainer.callback_metrics


class _Auxiliary(AdversarialModule):
    """An auxiliary loss of each update through the extra-loss hooks alone (no update copied)."""

    seen: list

    def extra_critic_loss(self, t):
        self.seen.append(("critic", t.real_scores is not None, t.fake.requires_grad))
        return 0.25 * sum(p.sum() for p in self.critic.parameters()), {"train/aux_critic": torch.tensor(1.0)}

    def extra_generator_loss(self, t):
        self.seen.append(("generator", t.real_scores is not None, t.fake.requires_grad))
        return 0.5 * sum(p.sum() for p in self.generator.parameters()), {"train/aux_generator": torch.tensor(2.0)}


def test_extra_loss_hooks_add_their_terms_to_each_update_and_log_them(one_thread):
    """Zero adversarial loss, SGD lr 1: a critic update moves every critic weight by exactly -0.25 (the hook's term),
    a generator update every generator weight by -0.5; both hooks' logs reach the outputs; the generator hook sees
    fakes with gradients and no real scores (the loss is not relativistic)."""
    sgd = partial(torch.optim.SGD, lr=1.0)
    zero = AdversarialLoss(_zero_critic_loss, lambda fake: 0.0 * fake.sum())
    model = _Auxiliary(*_nets(), latent_dim=2, loss=zero, generator_optimizer=sgd, critic_optimizer=sgd, noise_seed=0)
    model.seen = []
    before_c = [p.detach().clone() for p in model.critic.parameters()]
    before_g = [p.detach().clone() for p in model.generator.parameters()]
    outputs = []

    class Record(Callback):
        def on_train_batch_end(self, trainer, pl_module, out, batch, batch_idx):
            outputs.append(set(out))

    Trainer(max_steps=2, callbacks=[Record()], **trainer_kwargs()).fit(model, _toy_loader())  # 1 critic, 1 generator
    for before, after, step in (
        (before_c, model.critic.parameters(), -0.25),
        (before_g, model.generator.parameters(), -0.5),
    ):
        for b, a in zip(before, after):
            torch.testing.assert_close(a.detach() - b, torch.full_like(b, step), rtol=0, atol=1e-6)
    assert model.seen == [("critic", True, False), ("generator", False, True)]
    assert "train/aux_critic" in outputs[0] and "train/aux_generator" in outputs[1]
