"""R3GAN: the paper's loss and penalties on hand-computed values, one critic update equal to the reference
code's, the defaults, argument checks and a checkpoint round trip."""

import math

import pytest
import torch
from lightning.pytorch import Trainer
from torch import nn
from torch.utils.data import DataLoader

from lightning_gans import LOSSES, R3GAN
from lightning_gans.nets import DCGANCritic, DCGANGenerator
from lightning_gans.penalties import r1_r2_penalty
from tests.conftest import trainer_kwargs

pytestmark = pytest.mark.usefixtures("one_thread")


class Linear(nn.Module):
    """``f(x) = w.x + b`` on flattened samples: its input gradient is ``w`` for every sample."""

    def __init__(self, w: torch.Tensor, b: float = 0.0) -> None:
        super().__init__()
        self.w = nn.Parameter(w.clone())
        self.b = nn.Parameter(torch.tensor(b))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1) @ self.w + self.b


class Quadratic(nn.Module):
    """``f(x) = sum(a * x^2)``: its input gradient is ``2 a x``, different for every sample."""

    def __init__(self, a: torch.Tensor) -> None:
        super().__init__()
        self.a = nn.Parameter(a.clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.a * x.flatten(1) ** 2).sum(1)


class Fixed(nn.Module):
    """A generator that ignores its noise and returns fixed samples (so a test knows the fakes)."""

    def __init__(self, samples: torch.Tensor) -> None:
        super().__init__()
        self.samples = nn.Parameter(samples.clone())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.samples[: z.shape[0]]


def _softplus(v: float) -> float:
    return math.log1p(math.exp(v))


def _nets():
    torch.manual_seed(0)
    g = DCGANGenerator(latent_dim=4, image_size=8, channels=1, base_channels=4)
    d = DCGANCritic(image_size=8, channels=1, base_channels=4, norm="none")
    return g, d


def test_paper_defaults():
    """RpGAN loss, R1 + R2 at weight gamma / 2 every update, n_critic 1, Adam 2e-4 betas (0, 0.9) for both nets."""
    model = R3GAN(*_nets(), latent_dim=4)
    assert model.loss is LOSSES["relativistic_pairing"] and model.loss.relativistic
    assert model.penalty is r1_r2_penalty and model.penalty_every == 1 and model.n_critic == 1
    assert model.gamma == 0.05 and model.penalty_weight == 0.025
    for opt in model.configure_optimizers():
        assert isinstance(opt, torch.optim.Adam)
        assert opt.param_groups[0]["lr"] == 2e-4 and opt.param_groups[0]["betas"] == (0.0, 0.9)
    assert R3GAN(*_nets(), latent_dim=4, gamma=3.0).penalty_weight == 1.5


@pytest.mark.parametrize("gamma", [0.0, -1.0, float("nan"), "1", True])
def test_bad_gamma_is_named(gamma):
    """gamma must be a finite number > 0; the error names `gamma`."""
    with pytest.raises((ValueError, TypeError), match="`gamma`"):
        R3GAN(*_nets(), latent_dim=4, gamma=gamma)


def test_loss_equals_the_paper_on_hand_computed_scores():
    """Critic: mean softplus(-(D(x_i) - D(G(z_i)))); generator: mean softplus(-(D(G(z_i)) - D(x_i))), paired by index."""
    model = R3GAN(*_nets(), latent_dim=4)
    real, fake = torch.tensor([1.0, 0.0, -2.0]), torch.tensor([0.0, 2.0, -2.0])
    critic = (_softplus(-1.0) + _softplus(2.0) + _softplus(0.0)) / 3  # pairs (1, 0), (0, 2), (-2, -2)
    generator = (_softplus(1.0) + _softplus(-2.0) + _softplus(0.0)) / 3
    assert float(model.critic_loss(real, fake)) == pytest.approx(critic, rel=1e-6)
    assert float(model.generator_loss(fake, real)) == pytest.approx(generator, rel=1e-6)
    # pairing, not all-pairs: swapping the fakes' order changes the loss
    assert float(model.critic_loss(real, fake.flip(0))) != pytest.approx(critic, rel=1e-3)


def test_penalties_equal_the_paper_on_a_linear_and_a_quadratic_critic():
    """R1 + R2 = E||grad D(x)||^2 + E||grad D(G(z))||^2, the squared gradient summed over a sample's pixels:
    ``2 ||w||^2`` for a linear critic; ``E||2 a x||^2 + E||2 a y||^2`` for ``sum(a x^2)``."""
    w = torch.tensor([0.5, -1.0, 2.0, 0.25])
    real = torch.tensor([[[1.0, 2.0], [0.0, -1.0]], [[3.0, 0.5], [1.0, 1.0]]]).unsqueeze(1)  # (2, 1, 2, 2)
    fake = torch.tensor([[[0.0, 1.0], [2.0, 0.0]], [[-1.0, -1.0], [0.5, 2.0]]]).unsqueeze(1)
    assert float(r1_r2_penalty(Linear(w), real, fake).detach()) == pytest.approx(
        2 * 5.3125, rel=1e-6
    )  # ||w||^2 = 5.3125
    a = torch.tensor([1.0, 0.5, -1.0, 2.0])

    def sq(x):  # ||2 a x||^2 per sample, by hand
        return [sum((2 * ai * xi) ** 2 for ai, xi in zip(a.tolist(), s.flatten().tolist())) for s in x]

    expected = sum(sq(real)) / 2 + sum(sq(fake)) / 2
    assert float(r1_r2_penalty(Quadratic(a), real, fake).detach()) == pytest.approx(expected, rel=1e-6)


def _reference_critic_loss(critic: nn.Module, real: torch.Tensor, fake: torch.Tensor, gamma: float) -> torch.Tensor:
    """brownvc/R3GAN, R3GAN/Trainer.py, AccumulateDiscriminatorGradients, line by line (no augmentation)."""
    real = real.detach().requires_grad_(True)
    fake = fake.detach().requires_grad_(True)
    real_logits, fake_logits = critic(real), critic(fake)
    (g_real,) = torch.autograd.grad(real_logits.sum(), real, create_graph=True)
    (g_fake,) = torch.autograd.grad(fake_logits.sum(), fake, create_graph=True)
    r1, r2 = g_real.square().sum([1, 2, 3]), g_fake.square().sum([1, 2, 3])
    adversarial = nn.functional.softplus(-(real_logits - fake_logits))
    return (adversarial + (gamma / 2) * (r1 + r2)).mean()


@pytest.mark.parametrize("critic_class", [Linear, Quadratic])
def test_one_critic_update_equals_the_reference_code(critic_class):
    """The module's first critic update (SGD, lr 1) moves the critic by exactly minus the gradient of the reference
    code's critic loss; for the linear critic also by the closed form ``grad softplus term + gamma * 2 w``."""
    torch.manual_seed(0)
    gamma = 0.7
    real = torch.randn(4, 1, 2, 2)
    fake = torch.randn(4, 1, 2, 2)
    init = torch.tensor([0.5, -1.0, 2.0, 0.25])
    critic = Linear(init, 0.1) if critic_class is Linear else Quadratic(init)
    reference = critic_class(init, 0.1) if critic_class is Linear else critic_class(init)
    sgd = lambda params: torch.optim.SGD(params, lr=1.0)  # noqa: E731
    model = R3GAN(Fixed(fake), critic, latent_dim=3, gamma=gamma, generator_optimizer=sgd, critic_optimizer=sgd)
    Trainer(**trainer_kwargs(max_steps=1)).fit(model, DataLoader(real, batch_size=4))
    assert (model.critic_steps, model.generator_steps) == (1, 0)
    grads = torch.autograd.grad(_reference_critic_loss(reference, real, fake, gamma), list(reference.parameters()))
    for p0, p1, g in zip(reference.parameters(), critic.parameters(), grads):
        torch.testing.assert_close(p1.detach(), p0.detach() - g, rtol=1e-5, atol=1e-6)
    if critic_class is Linear:
        d = (real.flatten(1) - fake.flatten(1)) @ init  # D(x_i) - D(G(z_i)), the bias cancels
        dloss_dd = -torch.sigmoid(-d) / 4  # d/dd mean softplus(-d)
        closed_form = (dloss_dd[:, None] * (real.flatten(1) - fake.flatten(1))).sum(0) + gamma * 2 * init
        torch.testing.assert_close(critic.w.detach(), init - closed_form, rtol=1e-5, atol=1e-6)


def test_generator_update_scores_the_real_batch():
    """The generator's loss is the mirror softplus(-(D(G(z_i)) - D(x_i))) on its own real batch: with a linear
    critic and SGD lr 1 the fixed fakes move by minus its gradient, sigmoid(-(D(y_i) - D(x_i))) w / N each."""
    real = torch.randn(6, 1, 2, 2, generator=torch.Generator().manual_seed(1))
    fake = torch.randn(3, 1, 2, 2, generator=torch.Generator().manual_seed(2))
    w = torch.tensor([0.5, -1.0, 2.0, 0.25])
    frozen = lambda params: torch.optim.SGD(params, lr=0.0)  # noqa: E731  # the critic stays at w
    sgd = lambda params: torch.optim.SGD(params, lr=1.0)  # noqa: E731
    generator = Fixed(fake)
    model = R3GAN(generator, Linear(w), latent_dim=3, generator_optimizer=sgd, critic_optimizer=frozen)
    Trainer(**trainer_kwargs(max_steps=2)).fit(model, DataLoader(real, batch_size=3))  # batch 2 is the G update
    assert (model.critic_steps, model.generator_steps) == (1, 1)
    d = fake.flatten(1) @ w - real[3:].flatten(1) @ w  # D(G(z_i)) - D(x_i)
    step = (torch.sigmoid(-d) / 3)[:, None] * w  # minus d/dy_i of mean softplus(-d)
    torch.testing.assert_close(generator.samples.detach().flatten(1), fake.flatten(1) + step, rtol=1e-5, atol=1e-6)


def test_checkpoint_round_trip(tmp_path):
    """A fitted R3GAN reloads with its networks passed in: gamma, the weight, step counts and samples are equal."""
    model = R3GAN(*_nets(), latent_dim=4, gamma=0.4, noise_seed=0)
    trainer = Trainer(**trainer_kwargs(max_steps=4))
    trainer.fit(model, DataLoader(torch.rand(32, 1, 8, 8) * 2 - 1, batch_size=8))
    assert torch.isfinite(trainer.callback_metrics["train/penalty"])
    trainer.save_checkpoint(tmp_path / "r3.ckpt")
    loaded = R3GAN.load_from_checkpoint(tmp_path / "r3.ckpt", generator=_nets()[0], critic=_nets()[1])
    assert loaded.gamma == 0.4 and loaded.penalty_weight == 0.2 and loaded.penalty is r1_r2_penalty
    assert (loaded.critic_steps, loaded.generator_steps) == (2, 2)
    z = torch.randn(5, 4)
    assert torch.equal(loaded.sample(5, noise=z), model.sample(5, noise=z))
