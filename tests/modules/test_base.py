"""The base module's alternation, step semantics, checkpoints and public contract."""

import csv
import glob
import os
from functools import partial

import pytest
import torch
from lightning.pytorch import Callback, Trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger
from torch import nn

from lightning_gans import GAN, WGAN, WGANGP, ToyDataModule
from lightning_gans.nets import MLPCritic, MLPGenerator
from tests.conftest import trainer_kwargs


def nets(hidden=16):
    return MLPGenerator(latent_dim=2, hidden_dim=hidden, num_layers=2), MLPCritic(hidden_dim=hidden, num_layers=2)


def toy(batches=40, batch_size=32):
    return ToyDataModule(batch_size=batch_size, batches_per_epoch=batches)


@pytest.mark.parametrize("n_critic", [1, 5])
@pytest.mark.parametrize("k", [7, 12])
def test_exact_step_counts(n_critic, k):
    """After k batches: global_step == k, generator_steps == k // (n_critic + 1), critic_steps == the rest."""
    model = WGANGP(*nets(), latent_dim=2, n_critic=n_critic)
    trainer = Trainer(max_steps=k, **trainer_kwargs())
    trainer.fit(model, toy())
    assert trainer.global_step == k
    assert model.generator_steps == k // (n_critic + 1)
    assert model.critic_steps == k - k // (n_critic + 1)


def test_each_update_steps_exactly_one_optimizer():
    """Batches alternate n_critic critic steps, then one generator step: the optimizers' step counts show it."""
    model = GAN(*nets(), latent_dim=2, n_critic=2)
    order = []

    trainer = Trainer(max_steps=9, **trainer_kwargs())

    class Record(Callback):
        def on_fit_start(self, trainer, pl_module):
            for name, opt in zip("GC", trainer.optimizers):
                opt.register_step_post_hook(lambda *a, name=name: order.append(name))

    trainer.callbacks.append(Record())
    trainer.fit(model, toy())
    assert "".join(order) == "CCGCCGCCG"


def test_max_epochs_counts_all_batches_and_epochs_continue_the_cycle():
    """Two epochs of 5 batches with n_critic=2: the cycle continues across the epoch boundary (10 updates, 3 G)."""
    model = GAN(*nets(), latent_dim=2, n_critic=2)
    trainer = Trainer(max_epochs=2, **trainer_kwargs())
    trainer.fit(model, toy(batches=5))
    assert trainer.global_step == 10
    assert (model.critic_steps, model.generator_steps) == (7, 3)


def test_checkpoint_cadence_and_counters_round_trip(tmp_path):
    """every_n_train_steps=6 saves at batches 6, 12, 18; each checkpoint holds the counters at that batch."""
    model = WGANGP(*nets(), latent_dim=2)
    ckpt = ModelCheckpoint(dirpath=tmp_path, every_n_train_steps=6, save_top_k=-1, filename="{step}")
    trainer = Trainer(max_steps=18, **trainer_kwargs(enable_checkpointing=True, callbacks=[ckpt]))
    trainer.fit(model, toy())
    files = sorted(os.path.basename(p) for p in glob.glob(str(tmp_path / "*.ckpt")))
    assert files == ["step=12.ckpt", "step=18.ckpt", "step=6.ckpt"]
    loaded = WGANGP.load_from_checkpoint(tmp_path / "step=12.ckpt", generator=nets()[0], critic=nets()[1])
    assert (loaded.critic_steps, loaded.generator_steps) == (10, 2)
    assert loaded.noise_seed == model.noise_seed


def test_logged_step_counts_batches_and_both_losses_reach_the_logger(tmp_path):
    """With log_every_n_steps=1 the logger gets steps 0..k-1; each loss takes a new value only at its own batches.

    Lightning re-sends the latest value of a key on later steps, so a row holds the most recent value of each loss.
    """
    model = WGANGP(*nets(), latent_dim=2, n_critic=2)
    logger = CSVLogger(tmp_path, name="run")
    trainer = Trainer(max_steps=9, **trainer_kwargs(logger=logger, log_every_n_steps=1))
    trainer.fit(model, toy())
    with open(os.path.join(logger.log_dir, "metrics.csv")) as f:
        rows = {int(r["step"]): r for r in csv.DictReader(f) if r.get("train/critic_loss")}
    assert sorted(rows) == list(range(9))

    def changes(key):
        values = [rows[s].get(key) or None for s in range(9)]
        return [s for s in range(9) if values[s] is not None and (s == 0 or values[s] != values[s - 1])]

    assert changes("train/generator_loss") == [2, 5, 8]
    assert changes("train/critic_loss") == [0, 1, 3, 4, 6, 7]
    for r in rows.values():
        assert float(r["train/wasserstein_estimate"]) == pytest.approx(-float(r["train/critic_loss"]), rel=1e-5)
        assert float(r["train/gradient_penalty"]) >= 0


def test_paper_default_optimizers():
    """GAN: Adam 2e-4 (0.5, 0.999); WGAN: RMSprop 5e-5; WGAN-GP: Adam 1e-4 (0, 0.9); n_critic 1/5/5."""
    expected = {
        GAN: (torch.optim.Adam, 2e-4, (0.5, 0.999), 1),
        WGAN: (torch.optim.RMSprop, 5e-5, None, 5),
        WGANGP: (torch.optim.Adam, 1e-4, (0.0, 0.9), 5),
    }
    for cls, (opt_cls, lr, betas, n_critic) in expected.items():
        model = cls(*nets(), latent_dim=2)
        assert model.n_critic == n_critic
        for opt in model.configure_optimizers():
            assert type(opt) is opt_cls and opt.defaults["lr"] == lr
            if betas:
                assert opt.defaults["betas"] == betas
    assert WGANGP(*nets(), latent_dim=2).penalty_weight == 10.0
    assert WGAN(*nets(), latent_dim=2).clip_value == 0.01


def test_injected_optimizers_and_parameter_split():
    """Injected factories build the optimizers: the first over the generator, the second over the critic."""
    g, c = nets()
    model = WGANGP(
        g,
        c,
        latent_dim=2,
        generator_optimizer=partial(torch.optim.SGD, lr=0.1),
        critic_optimizer=partial(torch.optim.SGD, lr=0.2),
    )
    g_opt, c_opt = model.configure_optimizers()
    assert g_opt.defaults["lr"] == 0.1 and c_opt.defaults["lr"] == 0.2
    assert {id(p) for p in g_opt.param_groups[0]["params"]} == {id(p) for p in g.parameters()}
    assert {id(p) for p in c_opt.param_groups[0]["params"]} == {id(p) for p in c.parameters()}


def test_generator_update_leaves_critic_untouched_and_vice_versa():
    """A critic batch changes only critic weights; a generator batch changes only generator weights."""
    model = WGANGP(*nets(), latent_dim=2, n_critic=1)
    snap = lambda m: [p.detach().clone() for p in m.parameters()]  # noqa: E731
    g0, c0 = snap(model.generator), snap(model.critic)
    Trainer(max_steps=1, **trainer_kwargs()).fit(model, toy())
    assert all(torch.equal(a, b) for a, b in zip(g0, model.generator.parameters()))
    assert not all(torch.equal(a, b) for a, b in zip(c0, model.critic.parameters()))
    c1 = snap(model.critic)
    Trainer(max_steps=1, **trainer_kwargs()).fit(model, toy())  # a new fit, one batch: the generator's turn
    assert model.generator_steps == 1
    assert all(torch.equal(a, b) for a, b in zip(c1, model.critic.parameters()))


def test_sample_does_not_touch_training_state():
    """sample(n) returns (n, *S) with no grad, restores train mode, and leaves BatchNorm running stats alone."""
    gen = nn.Sequential(nn.Linear(2, 8), nn.BatchNorm1d(8), nn.Linear(8, 2))
    model = GAN(gen, MLPCritic(hidden_dim=8), latent_dim=2)
    before = gen[1].running_mean.clone()
    out = model.sample(16)
    assert out.shape == (16, 2) and not out.requires_grad
    assert gen.training
    assert torch.equal(gen[1].running_mean, before)
    z = torch.randn(4, 2)
    assert torch.equal(model.sample(4, noise=z), model.sample(4, noise=z))
    a = model.sample(4, rng=torch.Generator().manual_seed(3))
    b = model.sample(4, rng=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)


def test_load_from_checkpoint_for_inference_without_trainer(tmp_path):
    """A Python-built module reloads with its networks passed in and samples identically."""
    model = GAN(*nets(), latent_dim=2, loss="minimax")
    trainer = Trainer(max_steps=4, **trainer_kwargs())
    trainer.fit(model, toy())
    trainer.save_checkpoint(tmp_path / "m.ckpt")
    loaded = GAN.load_from_checkpoint(tmp_path / "m.ckpt", generator=nets()[0], critic=nets()[1])
    z = torch.randn(5, 2)
    assert torch.equal(loaded.sample(5, noise=z), model.sample(5, noise=z))
    assert loaded.hparams.loss == "minimax" and loaded.n_critic == 1
    assert (loaded.critic_steps, loaded.generator_steps) == (2, 2)


class HingeGAN(GAN):
    """A user subclass changing only the loss (what examples/user_project.py shows)."""

    def critic_loss(self, real_scores, fake_scores):
        return torch.relu(1 - real_scores).mean() + torch.relu(1 + fake_scores).mean()


def test_subclass_with_custom_loss_trains_with_it():
    """Overriding critic_loss is all a variant needs: the logged critic loss is the hinge value."""
    model = HingeGAN(*nets(), latent_dim=2)
    trainer = Trainer(max_steps=1, **trainer_kwargs())
    trainer.fit(model, toy())
    assert trainer.callback_metrics["train/critic_loss"].item() == pytest.approx(2.0, abs=0.2)  # ~2 at init


def test_labelled_batches_are_accepted():
    """(x, y) batches from labelled datasets train like plain tensors."""
    from torch.utils.data import DataLoader, TensorDataset

    data = DataLoader(TensorDataset(torch.randn(64, 2), torch.zeros(64)), batch_size=16)
    model = WGAN(*nets(), latent_dim=2, n_critic=1)
    Trainer(max_steps=4, **trainer_kwargs()).fit(model, data)
    assert (model.critic_steps, model.generator_steps) == (2, 2)
