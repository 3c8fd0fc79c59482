"""`compile=`: compiled generator/critic forwards in the updates, eager critic for penalties (double backward)."""

import typing

import pytest
import torch
from lightning.pytorch import Trainer

from lightning_gans import GAN, PENALTIES, WGANGP
from lightning_gans import penalties as P
from lightning_gans import protocol as M
from lightning_gans.nets import MLPCritic, MLPGenerator
from tests.conftest import trainer_kwargs

pytestmark = pytest.mark.usefixtures("one_thread")


def _data():
    return torch.utils.data.DataLoader(torch.randn(64, 2), batch_size=16)


def _nets():
    torch.manual_seed(0)
    return MLPGenerator(latent_dim=2, hidden_dim=16, num_layers=2), MLPCritic(hidden_dim=16, num_layers=2)


class _Recorder(torch.nn.Module):
    """Stands in for torch.compile's wrapper: counts the calls that go through it."""

    calls: typing.ClassVar[dict[str, int]] = {}

    def __init__(self, net: torch.nn.Module, name: str) -> None:
        super().__init__()
        self.net, self.name = net, name

    def forward(self, *args):
        _Recorder.calls[self.name] = _Recorder.calls.get(self.name, 0) + 1
        return self.net(*args)


def test_updates_use_compiled_forwards_and_penalties_the_eager_critic(monkeypatch):
    """WGAN-GP, n_critic 2, 6 batches: the compiled critic scores real and fake of 4 critic updates and
    the fakes of 2 generator updates (10 calls); the gradient penalty's critic call never goes through it."""
    names = iter(["generator", "critic"])
    monkeypatch.setattr(M.torch, "compile", lambda net, **kw: _Recorder(net, next(names)))
    _Recorder.calls = {}
    penalty_calls = []

    def spy_penalty(critic, real, fake, *, labels=None, rng=None, grad_scale=None):
        before = dict(_Recorder.calls)
        value = PENALTIES["gradient_penalty"](critic, real, fake, labels=labels, rng=rng, grad_scale=grad_scale)
        penalty_calls.append(_Recorder.calls == before)
        return value

    model = WGANGP(*_nets(), latent_dim=2, n_critic=2, noise_seed=0, compile=True)
    model.penalty = spy_penalty
    Trainer(**trainer_kwargs(max_steps=6)).fit(model, _data())
    assert _Recorder.calls == {"generator": 4 + 2, "critic": 4 * 2 + 2}
    assert penalty_calls == [True] * 4


def test_compiled_critic_cannot_double_backward_which_is_why_penalties_run_eagerly():
    """The failure the eager path avoids: autograd.grad(create_graph=True) through a compiled critic, then backward."""
    torch._dynamo.reset()
    critic = torch.compile(
        torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1)), backend="aot_eager"
    )
    with pytest.raises(RuntimeError):
        P.gradient_penalty(lambda x: critic(x).squeeze(1), torch.randn(4, 2), torch.randn(4, 2)).backward()


@pytest.mark.parametrize("cls", [GAN, WGANGP])
def test_compiled_training_matches_eager(cls):
    """With a real torch.compile (aot_eager backend: dynamo + aot_autograd, no C++ build) GAN and
    WGAN-GP train 6 batches without error and end with the eager run's weights (within 1e-5)."""
    torch._dynamo.reset()
    runs = []
    for compile in (False, {"backend": "aot_eager"}):
        model = cls(*_nets(), latent_dim=2, noise_seed=0, compile=compile)
        Trainer(**trainer_kwargs(max_steps=6)).fit(model, _data())
        runs.append(model)
    assert runs[1]._compiled and not runs[0]._compiled
    for (name, a), b in zip(runs[0].state_dict().items(), runs[1].state_dict().values()):
        assert torch.allclose(a, b, atol=1e-5), name
    assert runs[1].sample(3).shape == (3, 2)  # sampling runs eagerly


@pytest.mark.slow  # inductor builds C++ kernels: tens of seconds on a busy 2-core machine
def test_default_inductor_compile_trains_wgangp():
    """compile=True (inductor) trains WGAN-GP with its gradient penalty: no crash, finite weights."""
    torch._dynamo.reset()
    model = WGANGP(*_nets(), latent_dim=2, n_critic=2, noise_seed=0, compile=True)
    Trainer(**trainer_kwargs(max_steps=6)).fit(model, _data())
    assert all(torch.isfinite(p).all() for p in model.parameters())


@pytest.mark.parametrize(
    ("value", "error", "match"),
    [("yes", TypeError, "`compile`"), ({"bakend": "aot_eager"}, ValueError, r"`compile` has arguments .*bakend")],
)
def test_bad_compile_values_name_the_argument(value, error, match):
    """A non-bool/non-dict or an argument torch.compile does not take is refused at construction."""
    with pytest.raises(error, match=match):
        GAN(*_nets(), latent_dim=2, compile=value)


@pytest.mark.parametrize("cls", [GAN, WGANGP])
def test_compiled_training_matches_eager_under_bf16_autocast(cls):
    """precision="bf16-mixed": the compiled forwards run under the same autocast as the eager ones,
    and the gradient penalty's eager critic too; 6 batches end at the eager run's weights.

    Catches: a compiled forward traced outside autocast (float32 matmuls where the eager run has
    bf16: a float32 WGAN-GP run ends 6.5e-5 away from the bf16 one, measured, above the 1e-5 allowed)
    or a penalty that breaks under autocast + compile.
    """
    torch._dynamo.reset()
    runs = []
    for compile in (False, {"backend": "aot_eager"}):
        model = cls(*_nets(), latent_dim=2, noise_seed=0, compile=compile)
        Trainer(**trainer_kwargs(max_steps=6, precision="bf16-mixed")).fit(model, _data())
        runs.append(model)
    assert runs[1]._compiled and runs[1].critic_steps == runs[0].critic_steps
    for (name, a), b in zip(runs[0].state_dict().items(), runs[1].state_dict().values()):
        assert a.dtype == torch.float32 and torch.allclose(a, b, atol=1e-5), (name, (a - b).abs().max())
