"""The open core: public extension points, lazy regularisation, labels, the protocol and _compat."""

from __future__ import annotations

import ast
import subprocess
import sys
from functools import partial
from pathlib import Path

import pytest
import torch
from lightning.pytorch import Trainer
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from lightning_gans import GAN, WGANGP, AdversarialModule
from lightning_gans.losses import AdversarialLoss, wasserstein_critic_loss, wasserstein_generator_loss
from lightning_gans.nets import MLPCritic, MLPGenerator
from lightning_gans.protocol import AdversarialProtocol, require, scores_per_sample, split_batch
from tests.conftest import trainer_kwargs

PACKAGE = Path(__file__).resolve().parents[1] / "lightning_gans"


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


def test_penalty_every_is_validated():
    g, d = _nets()
    for bad in (0, -2, 1.5, True, "16"):
        with pytest.raises(ValueError, match="`penalty_every`"):
            WGANGP(g, d, latent_dim=2, penalty_every=bad)


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


class _LabelledGenerator(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(2, 2)
        self.seen = []

    def forward(self, z, labels):
        self.seen.append(labels.clone())
        return self.lin(z) + labels[:, None].float()


class _LabelledCritic(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(2, 1)
        self.seen = []

    def forward(self, x, labels):
        self.seen.append(labels.clone())
        return self.lin(x).squeeze(1) + 0.1 * labels.float()


def test_conditional_labels_reach_both_networks_unchanged(one_thread):
    """Each batch's labels go to the generator (fakes paired with them) and to the critic for real, fake and penalty."""
    loader = _toy_loader(labels=True)
    batches = [y for _, y in loader]
    g, d = _LabelledGenerator(), _LabelledCritic()
    model = WGANGP(g, d, latent_dim=2, n_critic=1, num_classes=3, noise_seed=0)
    Trainer(max_steps=4, **trainer_kwargs()).fit(model, loader)
    # critic update (batch 0): G once, D real + fake + penalty; generator update (batch 1): G once, D once
    assert [t.tolist() for t in g.seen] == [batches[i].tolist() for i in range(4)]
    expected_critic = [batches[0]] * 3 + [batches[1]] + [batches[2]] * 3 + [batches[3]]
    assert [t.tolist() for t in d.seen] == [t.tolist() for t in expected_critic]


def test_conditional_sample_takes_labels_and_rejects_bad_ones():
    g, d = _LabelledGenerator(), _LabelledCritic()
    model = WGANGP(g, d, latent_dim=2, num_classes=3)
    model.sample(4, labels=2)
    assert g.seen[-1].tolist() == [2, 2, 2, 2]
    model.sample(3, labels=torch.tensor([0, 1, 2]))
    assert g.seen[-1].tolist() == [0, 1, 2]
    drawn = model.sample(500, rng=torch.Generator().manual_seed(0))
    assert drawn.shape == (500, 2) and set(g.seen[-1].tolist()) == {0, 1, 2}  # uniform by default
    for bad, match in (
        (3, r"\[0, 3\)"),
        (-1, r"\[0, 3\)"),
        (torch.tensor([0.5, 1.0]), "integer"),
        (torch.tensor([0, 1, 2]), r"shape \(2,\)"),
    ):
        with pytest.raises(
            ValueError,
            match="`labels`.*" + match if isinstance(bad, torch.Tensor) and bad.dtype.is_floating_point else "`labels`",
        ):
            model.sample(2, labels=bad)
    unconditional = WGANGP(*_nets(), latent_dim=2)
    with pytest.raises(ValueError, match="`labels` given, but this module is unconditional"):
        unconditional.sample(2, labels=1)


def test_conditional_module_refuses_unlabelled_batches_before_any_update(one_thread):
    g, d = _LabelledGenerator(), _LabelledCritic()
    model = WGANGP(g, d, latent_dim=2, num_classes=3)
    with pytest.raises(ValueError, match="`labels`: this module is conditional"):
        Trainer(max_steps=2, **trainer_kwargs()).fit(model, _toy_loader())
    assert model.critic_steps == 0 and g.seen == []


def test_unconditional_module_ignores_labels_in_batches(one_thread):
    """A labelled dataset trains an unconditional module exactly as the same data without labels."""
    runs = []
    for labels in (False, True):
        torch.manual_seed(0)
        model = WGANGP(*_nets(), latent_dim=2, noise_seed=0)
        Trainer(max_steps=6, **trainer_kwargs()).fit(model, _toy_loader(labels=labels))
        runs.append(torch.cat([p.detach().flatten() for p in model.parameters()]))
    assert torch.equal(runs[0], runs[1])


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


def test_a_penalty_of_another_signature_is_refused_at_construction_naming_penalty():
    """A penalty that cannot take (critic, real, fake, *, labels, rng, grad_scale) fails when the module is built."""

    def positional(critic, real, fake, rng, scale):  # the 0.1 signature: no shim, a clear error
        return critic(real).mean() * 0

    with pytest.raises(TypeError, match=r"`penalty` .*positional must take \(critic, real, fake, \*, labels=None"):
        AdversarialModule(*_nets(), latent_dim=2, penalty=positional, penalty_weight=1.0)


def test_bad_arguments_name_themselves():
    g, d = _nets()
    with pytest.raises(TypeError, match="`critic_optimizer` must build an optimizer"):
        GAN(g, d, latent_dim=2, critic_optimizer=torch.optim.Adam(d.parameters()))
    with pytest.raises(TypeError, match="`gp_weight` must be a number"):
        WGANGP(g, d, latent_dim=2, gp_weight="10")
    with pytest.raises(ValueError, match="`noise_seed` must be an integer"):
        GAN(g, d, latent_dim=2, noise_seed="7")
    with pytest.raises(ValueError, match="`num_classes` must be an integer >= 1"):
        GAN(g, d, latent_dim=2, num_classes=0)


def test_batchnorm_critic_with_gradient_penalty_warns_naming_critic():
    critic = nn.Sequential(nn.Linear(2, 8), nn.BatchNorm1d(8), nn.Linear(8, 1))
    with pytest.warns(UserWarning, match="`critic` has BatchNorm layers"):
        WGANGP(MLPGenerator(latent_dim=2), critic, latent_dim=2)


def test_protocol_helpers():
    x, y = torch.zeros(3, 2), torch.arange(3)
    assert split_batch(x) == (x, None)
    assert split_batch([x])[1] is None and split_batch((x, y))[1] is y
    with pytest.raises(TypeError, match="`batch`"):
        split_batch({"x": x})
    assert scores_per_sample(torch.zeros(3, 1), 3).shape == (3,)
    with pytest.raises(ValueError, match="`critic` must return one score per sample"):
        scores_per_sample(torch.zeros(3, 2), 3)
    members = [n for n in dir(AdversarialProtocol) if not n.startswith("_")] + list(AdversarialProtocol.__annotations__)
    model = WGANGP(*_nets(), latent_dim=2)
    assert [
        n for n in members if not (hasattr(WGANGP, n) or n in vars(model) or n in dict(model.named_children()))
    ] == []
    with pytest.raises(TypeError, match="`SampleLogger` needs a module with `sample`, `generator_steps`"):
        require(nn.Linear(1, 1), "SampleLogger", "sample", "generator_steps")


def test_modules_import_no_callback():
    """`lightning_gans.modules` (and the package root) import nothing from `lightning_gans.callbacks`."""
    code = "import sys, lightning_gans.modules; print(sorted(m for m in sys.modules if m.startswith('lightning_gans.callbacks')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"


# Private names that are not framework names (stdlib idioms).
_ALLOWED_FOREIGN_PRIVATE = {"_exit", "_asdict", "_replace", "_fields", "_make"}
_FRAMEWORKS = ("lightning", "torch", "torchmetrics", "torch_fidelity", "pytorch_lightning", "torchvision")


def _own_private_names(trees):
    """Private identifiers the package defines itself (functions, classes, attributes it assigns, arguments)."""
    own = set()
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                own.add(node.name)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                own.add(node.attr)
            elif isinstance(node, ast.arg):
                own.add(node.arg)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                own.add(node.id)
            elif (
                (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "setattr" and len(node.args) > 1)
                or (
                    isinstance(node, ast.Call)
                    and getattr(node.func, "attr", None) == "__setattr__"
                    and len(node.args) > 1
                )
            ) and isinstance(node.args[1], ast.Constant):
                own.add(node.args[1].value)
    return own


def test_private_framework_names_live_only_in_compat():
    """No file but `_compat.py` imports or reads a private name of Lightning, torch, torchmetrics or torch-fidelity."""
    files = {p: ast.parse(p.read_text(), filename=str(p)) for p in PACKAGE.rglob("*.py")}
    own = _own_private_names(files.values())
    offences = []
    for path, tree in files.items():
        if path.name == "_compat.py":
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in _FRAMEWORKS:
                parts = node.module.split(".")
                names = [a.name for a in node.names]
                if any(p.startswith("_") for p in parts) or any(
                    n.startswith("_") and not n.startswith("__") for n in names
                ):
                    offences.append(f"{path.relative_to(PACKAGE)}:{node.lineno} from {node.module} import {names}")
            elif isinstance(node, ast.Attribute):
                attr = node.attr
                if (
                    attr.startswith("_")
                    and not attr.startswith("__")
                    and attr not in own
                    and attr not in _ALLOWED_FOREIGN_PRIVATE
                ):
                    offences.append(f"{path.relative_to(PACKAGE)}:{node.lineno} .{attr}")
    assert offences == []


def test_the_scan_catches_a_private_name(tmp_path):
    """The scan above is not vacuous: a file reading `strategy._ddp_kwargs` is reported."""
    tree = ast.parse("def f(strategy):\n    return strategy._ddp_kwargs\n")
    own = _own_private_names([tree])
    hits = [
        n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute) and n.attr.startswith("_") and n.attr not in own
    ]
    assert hits == ["_ddp_kwargs"]


def test_lazy_r1_is_one_config_line_through_the_console_script(tmp_path):
    """`penalty: r1` + `penalty_every: 16` from the CLI: exit 0, and the checkpoint's module computes R1 every 16th update."""
    root = Path(__file__).resolve().parents[1]
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
