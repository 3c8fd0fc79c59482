"""Analytic values of the critic penalties."""

import pytest
import torch
from torch import nn

from lightning_gans.penalties import gradient_penalty, input_gradients, interpolate, lipschitz_penalty, r1_penalty


def _linear(w):
    critic = nn.Linear(len(w), 1, bias=True)
    with torch.no_grad():
        critic.weight.copy_(torch.tensor([w]))
        critic.bias.fill_(0.3)
    return critic


@pytest.mark.parametrize("w", [[3.0, 4.0], [0.6, 0.0], [0.0, 0.0]])
def test_gradient_penalty_of_linear_critic(w):
    """For f(x) = w.x + b the two-sided penalty equals (||w|| - 1)^2, also when w = 0."""
    critic = _linear(w)
    gp = gradient_penalty(critic, torch.randn(16, 2), torch.randn(16, 2))
    norm = torch.tensor(w).norm().item()
    assert gp.item() == pytest.approx((norm - 1.0) ** 2, abs=1e-5)


def test_gradient_penalty_is_differentiable_and_finite_at_zero_gradient():
    """With a zero input gradient the penalty's gradient w.r.t. the critic's weights is finite (eps in the norm)."""
    critic = _linear([0.0, 0.0])
    gp = gradient_penalty(critic, torch.randn(8, 2), torch.randn(8, 2))
    gp.backward()
    assert torch.isfinite(critic.weight.grad).all()


def test_one_sided_penalty_ignores_norms_below_one():
    """WGAN-LP penalises only ||grad|| > 1: zero for ||w|| = 0.5, (||w|| - 1)^2 for ||w|| = 5."""
    assert lipschitz_penalty(_linear([0.3, 0.4]), torch.randn(8, 2), torch.randn(8, 2)).item() == pytest.approx(
        0.0, abs=1e-8
    )
    assert lipschitz_penalty(_linear([3.0, 4.0]), torch.randn(8, 2), torch.randn(8, 2)).item() == pytest.approx(
        16.0, rel=1e-5
    )


def test_r1_of_linear_and_quadratic_critics():
    """R1 is ||w||^2 for a linear critic and E[||2x||^2] for f(x) = ||x||^2."""
    assert r1_penalty(_linear([3.0, 4.0]), torch.randn(8, 2)).item() == pytest.approx(25.0, rel=1e-5)
    x = torch.randn(8, 3, 4, 4)
    expected = (2 * x).flatten(1).pow(2).sum(1).mean()
    assert r1_penalty(lambda v: v.flatten(1).pow(2).sum(1), x).item() == pytest.approx(expected.item(), rel=1e-5)


def test_penalties_broadcast_over_image_shapes():
    """Penalties accept any sample shape, 1 or 3 channels; the norm is over all non-batch dims."""
    for shape in [(5, 1, 8, 8), (5, 3, 4, 4), (5, 7)]:
        w = torch.randn(*shape[1:])
        critic = lambda v, w=w: (v * w).flatten(1).sum(1)  # noqa: E731
        gp = gradient_penalty(critic, torch.randn(*shape), torch.randn(*shape))
        assert gp.item() == pytest.approx((w.norm().item() - 1) ** 2, rel=1e-4)


def test_interpolation_is_per_sample_and_on_the_segment():
    """Each interpolate lies on its own real-fake segment with one weight per sample."""
    real, fake = torch.randn(64, 3, 2, 2), torch.randn(64, 3, 2, 2)
    x_hat = interpolate(real, fake, torch.Generator().manual_seed(0))
    alpha = ((x_hat - fake) / (real - fake)).flatten(1)
    assert torch.allclose(alpha, alpha[:, :1].expand_as(alpha), atol=1e-4)
    assert (alpha >= 0).all() and (alpha <= 1).all()
    assert alpha[:, 0].std() > 0.1  # different weights for different samples
    with pytest.raises(ValueError, match="`real` and `fake`"):
        interpolate(real, fake[:, :1])


def test_grad_scale_path_gives_the_unscaled_penalty():
    """With a loss scale, gradients are taken of scale * f and divided back: same penalty as without."""
    critic = _linear([3.0, 4.0])
    real, fake = torch.randn(8, 2), torch.randn(8, 2)
    plain = gradient_penalty(critic, real, fake, rng=torch.Generator().manual_seed(1))
    scaled = gradient_penalty(critic, real, fake, rng=torch.Generator().manual_seed(1), grad_scale=65536.0)
    assert scaled.item() == pytest.approx(plain.item(), rel=1e-6)
    grads = input_gradients(critic, real, grad_scale=1024.0)
    assert grads.dtype == torch.float32 and torch.allclose(grads, torch.tensor([[3.0, 4.0]]).expand(8, 2))


class _HalfSquaredNorm:
    """The critic f(x) = 1/2 ||x||^2, whose input gradient is x itself; records every input it is given."""

    def __init__(self) -> None:
        self.inputs: list[torch.Tensor] = []

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        self.inputs.append(x.detach().clone())
        return 0.5 * x.flatten(1).pow(2).sum(1)


def _varied_norm_batch():
    """Real and fake batches whose interpolates have gradient norms (= their own norms) from ~0.1 to ~4."""
    torch.manual_seed(3)
    direction = torch.nn.functional.normalize(torch.randn(12, 2, 3, 3).flatten(1), dim=1).view(12, 2, 3, 3)
    scale = torch.linspace(0.1, 4.0, 12).view(12, 1, 1, 1)
    real = scale * direction
    fake = real + 0.05 * torch.randn_like(real)
    return real, fake


def test_gradient_penalty_is_per_sample_for_a_non_linear_critic():
    """For f(x) = 1/2 ||x||^2 the penalty is mean_i (||xhat_i|| - 1)^2, one norm per sample, not one for the batch."""
    real, fake = _varied_norm_batch()
    critic = _HalfSquaredNorm()
    gp = gradient_penalty(critic, real, fake)
    (x_hat,) = critic.inputs  # the interpolates the penalty differentiated at
    alpha = ((x_hat - fake) / (real - fake)).flatten(1)
    assert torch.allclose(alpha, alpha[:, :1].expand_as(alpha), atol=1e-3)  # on each sample's own segment
    norms = [float(v) for v in x_hat.flatten(1).norm(dim=1)]
    assert max(norms) / min(norms) > 10  # the per-sample norms really differ
    expected = sum((n - 1.0) ** 2 for n in norms) / len(norms)
    assert gp.item() == pytest.approx(expected, rel=1e-5)
    rms = (sum(n * n for n in norms) / len(norms)) ** 0.5  # a batch-level norm gives a different value
    assert abs(gp.item() - (rms - 1.0) ** 2) > 0.5


def test_one_sided_penalty_is_per_sample_for_a_non_linear_critic():
    """For f(x) = 1/2 ||x||^2, WGAN-LP is mean_i max(0, ||xhat_i|| - 1)^2: samples with norm < 1 add 0."""
    real, fake = _varied_norm_batch()
    critic = _HalfSquaredNorm()
    lp = lipschitz_penalty(critic, real, fake)
    norms = [float(v) for v in critic.inputs[0].flatten(1).norm(dim=1)]
    assert min(norms) < 1 < max(norms)
    expected = sum(max(0.0, n - 1.0) ** 2 for n in norms) / len(norms)
    assert lp.item() == pytest.approx(expected, rel=1e-5)


def test_input_gradients_of_a_non_linear_critic_are_the_inputs():
    """The gradient of f(x) = 1/2 ||x||^2 at x is x, sample by sample (also under a loss scale)."""
    x = torch.randn(6, 1, 4, 4)
    for scale in (None, 1024.0):
        torch.testing.assert_close(input_gradients(_HalfSquaredNorm(), x, grad_scale=scale), x)


@pytest.mark.parametrize("name", ["r1", "lipschitz_penalty", "gradient_penalty"])
def test_named_penalty_in_a_module_fit(name, one_thread):
    """penalty="r1" / "lipschitz_penalty" / "gradient_penalty" in a fit: the logged penalty equals the formula applied to
    the inputs the critic received (recorded by hooks), and the penalty changes the critic's update."""
    import sys
    from functools import partial
    from pathlib import Path

    from lightning.pytorch import Trainer

    from lightning_gans import AdversarialModule, ToyDataModule
    from lightning_gans.nets import MLPCritic, MLPGenerator
    from tests.conftest import trainer_kwargs

    sys.path.insert(0, str(Path(__file__).parent / "distributed" / "scripts"))
    from common import NoiseRecorder

    def fit(weight: float, lr: float, penalty: str | None = name):
        torch.manual_seed(0)
        module = AdversarialModule(
            MLPGenerator(latent_dim=2, hidden_dim=16, num_layers=1),
            MLPCritic(hidden_dim=16, num_layers=2),
            latent_dim=2,
            loss="wasserstein",
            penalty=penalty,
            penalty_weight=weight,
            critic_optimizer=partial(torch.optim.SGD, lr=lr),
            noise_seed=0,
        )
        with torch.no_grad():
            for p in module.critic.parameters():
                p.mul_(3.0)  # input-gradient norms around and above 1, where the one-sided penalty acts
        recorder = NoiseRecorder(module)
        trainer = Trainer(**trainer_kwargs(max_steps=1))  # one critic update
        trainer.fit(module, ToyDataModule(batch_size=32, batches_per_epoch=4, seed=0))
        return module, recorder, trainer

    module, recorder, trainer = fit(weight=3.0, lr=0.0)  # lr 0: the critic keeps the weights it was scored with
    real, fake, penalised = recorder.critic_inputs[0]  # R1 differentiates at the real batch, the others at interpolates
    grads = input_gradients(module.discriminate, penalised)
    norms = grads.flatten(1).norm(dim=1)
    assert norms.std() > 1e-3 and norms.max() > 1  # a non-linear critic: per-sample norms differ, some above 1
    if name == "r1":
        assert torch.equal(penalised, real)
        expected = norms.pow(2).mean()
    else:
        assert not torch.equal(penalised, real) and not torch.equal(penalised, fake)
        expected = (torch.relu(norms - 1) if name == "lipschitz_penalty" else (norms - 1)).pow(2).mean()
    logged = trainer.callback_metrics["train/gradient_penalty" if name == "gradient_penalty" else "train/penalty"]
    assert logged.item() == pytest.approx(expected.item(), rel=1e-5)

    without, _, _ = fit(weight=0.0, lr=0.1, penalty=None)
    with_penalty, _, _ = fit(weight=1e3, lr=0.1)
    gap = max((a - b).abs().max().item() for a, b in zip(without.critic.parameters(), with_penalty.critic.parameters()))
    assert gap > 1e-4  # the penalty's gradient reached the critic's step


def weight_sum_penalty(critic, real, fake, *, labels=None, rng=None, grad_scale=None):
    """A new penalty is this one function: sum of the critic's parameters (gradient 1 for each)."""
    return sum(p.sum() for p in critic.parameters())


def _zero(real_scores, fake_scores=None):
    return 0.0 * real_scores.sum()


def test_a_new_one_function_penalty_by_penalty_from_python(one_thread):
    """`penalty=weight_sum_penalty`, weight 0.5, SGD lr 1, zero adversarial loss: each critic weight moves by -0.5
    per critic update; the penalty is logged as train/penalty and named by its import path in the checkpoint."""
    from functools import partial

    from lightning.pytorch import Trainer

    from lightning_gans import AdversarialModule, ToyDataModule
    from lightning_gans.checkpoints import module_identity
    from lightning_gans.losses import AdversarialLoss
    from lightning_gans.nets import MLPCritic, MLPGenerator
    from tests.conftest import trainer_kwargs

    module = AdversarialModule(
        MLPGenerator(latent_dim=2, hidden_dim=8, num_layers=1),
        MLPCritic(hidden_dim=8, num_layers=1),
        latent_dim=2,
        loss=AdversarialLoss(_zero, _zero),
        penalty=weight_sum_penalty,
        penalty_weight=0.5,
        critic_optimizer=partial(torch.optim.SGD, lr=1.0),
        noise_seed=0,
    )
    before = [p.detach().clone() for p in module.critic.parameters()]
    trainer = Trainer(**trainer_kwargs(max_steps=1))
    trainer.fit(module, ToyDataModule(batch_size=16, batches_per_epoch=2, seed=0))
    for b, a in zip(before, module.critic.parameters()):
        torch.testing.assert_close(a.detach() - b, torch.full_like(b, -0.5), rtol=0, atol=1e-6)
    assert "train/penalty" in trainer.callback_metrics
    assert module_identity(module)["penalty"] == "tests.test_penalties.weight_sum_penalty"


def test_a_new_one_function_penalty_by_import_path_from_a_config(tmp_path, one_thread):
    """`--model.init_args.penalty tests.test_penalties.weight_sum_penalty` through the CLI: the module trains with
    that function, keeps the path as its hyper-parameter, and its checkpoint reloads alone with the same penalty."""
    from pathlib import Path

    from lightning_gans import GAN
    from lightning_gans.cli import run

    root = Path(__file__).resolve().parents[1]
    cli = run(
        [
            "fit",
            "--config",
            str(root / "examples" / "gan_8gaussians.yaml"),
            "--model.init_args.penalty",
            "tests.test_penalties.weight_sum_penalty",
            "--model.init_args.penalty_weight",
            "0.1",
            "--trainer.max_steps",
            "2",
            "--trainer.logger",
            "false",
            "--trainer.enable_progress_bar",
            "false",
            "--trainer.default_root_dir",
            str(tmp_path),
        ]
    )
    assert cli.model.penalty is weight_sum_penalty
    assert cli.model.hparams.penalty == "tests.test_penalties.weight_sum_penalty"
    path = tmp_path / "model.ckpt"
    cli.trainer.save_checkpoint(path)
    assert GAN.load_from_checkpoint(path).penalty is weight_sum_penalty


def test_named_penalties_are_the_functions_themselves():
    """PENALTIES maps names straight to the functions (no wrappers); the input-gradient ones are marked."""
    from lightning_gans import penalties as P

    assert P.PENALTIES["gradient_penalty"] is P.gradient_penalty and P.PENALTIES["r1"] is P.r1_penalty
    marked = {name for name, fn in P.PENALTIES.items() if P.needs_input_gradients(fn)}
    assert marked == {"gradient_penalty", "lipschitz_penalty", "zero_centered_gp", "r1", "r2", "r1_r2"}
    assert P.get_penalty("r1") is P.r1_penalty and P.get_penalty(None) is None
    with pytest.raises(ValueError, match="Unknown `penalty` 'r3'"):
        P.get_penalty("r3")
    with pytest.raises(ValueError, match=r"`penalty` 'no_such_module\.fn' cannot be imported"):
        P.get_penalty("no_such_module.fn")
