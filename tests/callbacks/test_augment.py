"""DiffAugment and AdaptiveAugment callbacks: what the critic sees, gradients, resume, ADA's p, DDP."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from functools import partial
from pathlib import Path

import pytest
import torch
from lightning.pytorch import Callback, Trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from torch import nn
from torch.utils.data import TensorDataset
from torchdata.stateful_dataloader import StatefulDataLoader

from lightning_gans import GAN, PENALTIES, WGANGP
from lightning_gans import protocol as M
from lightning_gans.augment import diff_augment
from lightning_gans.callbacks import AdaptiveAugment, DiffAugment
from lightning_gans.callbacks.adaptive_augment import REAL_SIGN
from lightning_gans.nets import DCGANCritic, DCGANGenerator
from tests.conftest import trainer_kwargs

pytestmark = pytest.mark.usefixtures("one_thread")

ROOT = Path(__file__).resolve().parents[2]


def _loader(images: torch.Tensor, batch_size: int = 8) -> StatefulDataLoader:
    return StatefulDataLoader(TensorDataset(images), batch_size=batch_size, shuffle=True, drop_last=True)


class ConstantGenerator(nn.Module):
    """Every fake image is 0.5 everywhere (a parameter feeds the value, so gradients can reach it)."""

    def __init__(self) -> None:
        super().__init__()
        self.value = nn.Parameter(torch.tensor(0.5))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.value.expand(z.shape[0], 1, 8, 8) + 0.0 * z[:, :1, None, None]


class SpyCritic(nn.Module):
    """A linear critic that records every batch it scores."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(64, 1)
        self.seen: list[torch.Tensor] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen.append(x.detach().clone())
        return self.linear(x.flatten(1)).squeeze(1)


class SignCritic(nn.Module):
    """Scores every sample ``sign`` (a parameter with zero gradient keeps the optimizer busy)."""

    def __init__(self, sign: float) -> None:
        super().__init__()
        self.sign = sign
        self.w = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.sign * (1.0 + self.w.abs()) + 0.0 * x.flatten(1).sum(1)


# ----------------------------------------------------------------------------------------------
def test_diffaugment_reaches_the_critic_for_real_and_fake_in_both_updates():
    """With cutout only, every batch the critic scores (real = 1s, fake = 0.5s; critic and generator
    updates) has exactly one zeroed square per image; without the callback none has."""
    for augment in (True, False):
        critic = SpyCritic()
        frozen = partial(torch.optim.SGD, lr=0.0)  # fakes stay exactly 0.5
        model = GAN(ConstantGenerator(), critic, latent_dim=4, noise_seed=0, generator_optimizer=frozen)
        callbacks = [DiffAugment("cutout")] if augment else []
        Trainer(**trainer_kwargs(max_steps=4, callbacks=callbacks)).fit(model, _loader(torch.ones(16, 1, 8, 8)))
        assert len(critic.seen) == 2 * 2 + 2 * 1  # 2 critic updates (real, fake), 2 generator updates (fake)
        kinds = []
        for batch in critic.seen:
            values = set(batch.unique().tolist()) - {0.0}
            assert len(values) == 1
            kinds.append(values.pop())
            zeros = (batch == 0).flatten(1).sum(1)
            assert bool((zeros > 0).all()) == augment and bool((zeros <= 16).all())  # one square of side <= 4
        assert kinds == [1.0, 0.5, 0.5, 1.0, 0.5, 0.5]  # C: real, fake; G: fake; C: real, fake; G: fake
        assert model.critic_augment is None  # removed after fit: sampling sees clean images


def test_generator_gets_gradients_through_translation_and_cutout():
    """The generator's gradient through the installed augmentation equals the one through
    augment.diff_augment with the same RNG (a hand-built graph), and is nonzero."""
    torch.manual_seed(0)
    g = DCGANGenerator(latent_dim=4, image_size=8, channels=1, base_channels=4)
    d = DCGANCritic(image_size=8, channels=1, base_channels=4, norm="layer")
    model = GAN(g, d, latent_dim=4, noise_seed=0)
    callback = DiffAugment("translation,cutout")
    model.critic_augment = callback.augment
    z, real = torch.randn(6, 4), torch.randn(6, 1, 8, 8)

    def grads(build):
        g.zero_grad()
        build().sum().backward()
        return [p.grad.clone() for p in g.parameters()]

    via_module = grads(lambda: d(model.critic_inputs(real, g(z), torch.Generator().manual_seed(3))[1]))
    rng = torch.Generator().manual_seed(3)
    diff_augment(real, "translation,cutout", rng)  # the module augments the real batch first
    via_hand = grads(lambda: d(diff_augment(g(z), "translation,cutout", rng)))
    for a, b in zip(via_module, via_hand):
        assert torch.equal(a, b)
    assert sum(float(a.abs().sum()) for a in via_module) > 0


def test_penalty_sees_augmented_images():
    """WGAN-GP's penalty receives what the critic saw: each of its interpolates lies between an augmented real and fake."""
    seen = {}

    def recording_penalty(critic, real, fake, *, labels=None, rng=None, grad_scale=None):
        seen["real"], seen["fake"] = real.detach(), fake.detach()
        return PENALTIES["gradient_penalty"](critic, real, fake, labels=labels, rng=rng, grad_scale=grad_scale)

    torch.manual_seed(0)
    model = WGANGP(
        ConstantGenerator(),
        DCGANCritic(image_size=8, channels=1, base_channels=4, norm="layer"),
        latent_dim=4,
        n_critic=1,
        noise_seed=0,
    )
    model.penalty = recording_penalty
    Trainer(**trainer_kwargs(max_steps=1, callbacks=[DiffAugment("cutout")])).fit(
        model, _loader(torch.ones(16, 1, 8, 8))
    )
    assert ((seen["real"] == 0).flatten(1).sum(1) > 0).all() and ((seen["fake"] == 0).flatten(1).sum(1) > 0).all()


# ----------------------------------------------------------------------------------------------
def _fit_images(callback_factory, max_steps: int, ckpt_dir=None, save_every=None, ckpt_path=None):
    torch.manual_seed(0)
    g = DCGANGenerator(latent_dim=4, image_size=8, channels=1, base_channels=4)
    d = DCGANCritic(image_size=8, channels=1, base_channels=4, norm="layer")
    model = WGANGP(g, d, latent_dim=4, n_critic=2, noise_seed=5)
    augment = callback_factory()
    callbacks = [augment]
    if save_every is not None:
        callbacks.append(
            ModelCheckpoint(dirpath=ckpt_dir, every_n_train_steps=save_every, save_top_k=-1, filename="{step}")
        )
    trainer = Trainer(
        **trainer_kwargs(max_steps=max_steps, callbacks=callbacks, enable_checkpointing=save_every is not None)
    )
    images = torch.randn(40, 1, 8, 8, generator=torch.Generator().manual_seed(1)).tanh()
    torch.manual_seed(123)
    trainer.fit(model, _loader(images), ckpt_path=ckpt_path)
    return model, augment


@pytest.mark.parametrize(
    "factory",
    [lambda: DiffAugment(), lambda: AdaptiveAugment(interval=1, speed_kimg=0.05, initial_p=0.3, target=0.0)],
    ids=["diffaugment", "ada"],
)
def test_resume_is_bit_identical_with_augmentation(tmp_path, factory):
    """7 batches + save + 7 more == 14 straight (mid-epoch, mid-cycle): weights and ADA's p, bit for bit."""
    straight, straight_cb = _fit_images(factory, 14)
    _fit_images(factory, 7, ckpt_dir=tmp_path, save_every=7)
    resumed, resumed_cb = _fit_images(factory, 14, ckpt_path=str(tmp_path / "step=7.ckpt"))
    for (name, a), b in zip(straight.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), name
    if isinstance(straight_cb, AdaptiveAugment):
        assert straight_cb.p == resumed_cb.p and straight_cb.rt == resumed_cb.rt
        assert straight_cb.p != 0.3  # p moved from initial_p, so the comparison means something


def test_augmentation_changes_training():
    """Control for the resume test: the same run without augmentation ends with different weights."""
    with_aug, _ = _fit_images(lambda: DiffAugment(), 6)
    without, _ = _fit_images(Callback, 6)
    assert not torch.equal(with_aug.generator.net[0].weight, without.generator.net[0].weight)


# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("sign", "expected_p"), [(1.0, 5 * 4 * 8 / 400), (-1.0, 0.0)])
def test_ada_p_rises_when_every_real_scores_positive_and_stays_at_zero_when_negative(sign, expected_p):
    """r_t = +1 > 0.6: p grows by interval * batch / (speed_kimg * 1000) per adjustment (5 adjustments
    of 4 updates x 8 images at 0.4 kimg: 0.4); r_t = -1: p stays exactly 0."""
    ada = AdaptiveAugment(target=0.6, interval=4, speed_kimg=0.4)
    model = GAN(ConstantGenerator(), SignCritic(sign), latent_dim=4, noise_seed=0)
    Trainer(**trainer_kwargs(max_steps=40, callbacks=[ada])).fit(model, _loader(torch.rand(64, 1, 8, 8)))
    assert model.critic_steps == 20
    assert ada.rt == sign
    assert ada.p == pytest.approx(expected_p, abs=1e-12)


def test_ada_p_is_clamped_to_one_and_logged():
    """A fast speed saturates p at exactly 1; `train/ada_p` reaches the logged metrics."""
    ada = AdaptiveAugment(target=0.6, interval=1, speed_kimg=0.01)
    model = GAN(ConstantGenerator(), SignCritic(1.0), latent_dim=4, noise_seed=0)
    trainer = Trainer(**trainer_kwargs(max_steps=8, callbacks=[ada]))
    trainer.fit(model, _loader(torch.rand(64, 1, 8, 8)))
    assert ada.p == 1.0 and float(trainer.callback_metrics["train/ada_p"]) == 1.0


def test_real_sign_diagnostic_name_matches_the_module():
    """The callback's spelling of the diagnostic is the module's."""
    assert REAL_SIGN == M.REAL_SIGN


def test_ada_checkpoint_round_trip():
    """state_dict / load_state_dict carry p, r_t and the partial interval."""
    a = AdaptiveAugment()
    a.p, a.rt, a._sign_sum, a._count, a._updates = 0.25, 0.7, 3.0, 16, 2
    b = AdaptiveAugment()
    b.load_state_dict(a.state_dict())
    assert b.state_dict() == a.state_dict()


def test_two_augmentations_are_refused():
    """DiffAugment and AdaptiveAugment together raise in setup, naming the first."""
    model = GAN(ConstantGenerator(), SpyCritic(), latent_dim=4)
    trainer = Trainer(**trainer_kwargs(max_steps=1, callbacks=[DiffAugment(), AdaptiveAugment()]))
    with pytest.raises(ValueError, match=r"`AdaptiveAugment` cannot augment .* DiffAugment"):
        trainer.fit(model, _loader(torch.rand(16, 1, 8, 8)))


def test_module_without_critic_augment_is_refused():
    """A LightningModule without the attribute gets a TypeError naming it."""
    from lightning.pytorch.demos.boring_classes import BoringModel

    with pytest.raises(TypeError, match="`DiffAugment` needs a module with `critic_augment`"):
        Trainer(**trainer_kwargs(max_steps=1, callbacks=[DiffAugment()])).fit(BoringModel())


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda: DiffAugment("color,zoom"), "`policy`"),
        (lambda: AdaptiveAugment(target=2.0), "`target`"),
        (lambda: AdaptiveAugment(interval=0), "`interval`"),
        (lambda: AdaptiveAugment(speed_kimg=0), "`speed_kimg`"),
        (lambda: AdaptiveAugment(initial_p=-0.1), "`initial_p`"),
        (lambda: AdaptiveAugment(ops=("xflip", "hue")), "`ops`"),
    ],
)
def test_bad_arguments_name_the_argument(build, match):
    """Out-of-range arguments raise a ValueError naming the argument, before any training."""
    with pytest.raises(ValueError, match=match):
        build()


# ----------------------------------------------------------------------------------------------
@pytest.mark.slow  # a 2-process DDP run: ~10 s alone, more on a busy machine
def test_ada_p_is_identical_on_both_ddp_ranks(tmp_path):
    """2-process gloo DDP: rank 0's critic scores +1 and rank 1's -1. With target -0.5 only the
    all-reduced r_t (0) raises p on rank 1; both ranks end with the same p = 3 * 2 * 16 / 400."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("LOCAL_RANK", "RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")
    }
    env.update(PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "distributed" / "scripts" / "ada_ddp.py"), str(tmp_path)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        out, _ = proc.communicate(timeout=180)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        raise
    assert proc.returncode == 0, out.decode(errors="replace")[-3000:]
    r0, r1 = (torch.load(tmp_path / f"ada_rank{r}.pt", weights_only=True) for r in (0, 1))
    assert r0["critic_steps"] == r1["critic_steps"] == 6
    assert r0["rt"] == r1["rt"] == 0.0
    assert r0["p"] == r1["p"] == pytest.approx(3 * 2 * 16 / 400, abs=1e-12)
