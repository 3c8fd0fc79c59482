"""Conditional modules: labels reach the nets, penalties hold them fixed, bad labels fail early, resume is exact."""

from __future__ import annotations

import pytest
import torch
from lightning.pytorch import Trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from torch import nn
from torch.utils.data import DataLoader

from lightning_gans import GAN, WGANGP, ToyDataModule
from lightning_gans.callbacks import GeneratorEMA
from lightning_gans.data import TOY_DISTRIBUTIONS
from lightning_gans.nets import MLPCritic, MLPGenerator
from tests.conftest import trainer_kwargs

pytestmark = pytest.mark.usefixtures("one_thread")


class _Spy(nn.Module):
    """Wraps a net and records the labels of every call."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net
        self.calls: list[torch.Tensor] = []

    def forward(self, x, labels=None):
        self.calls.append(labels)
        return self.net(x, labels)


class _BatchRecorder(torch.utils.data.Dataset):
    def __init__(self, batches):
        self.batches = batches

    def __len__(self):
        return len(self.batches)

    def __getitem__(self, i):
        return self.batches[i]


def _loader(batches):
    return DataLoader(_BatchRecorder(batches), batch_size=None, shuffle=False)


def _toy_batches(n, size=8, num_classes=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [TOY_DISTRIBUTIONS["8gaussians"].sample_with_labels(size, g) for _ in range(n)]


def _wgangp(num_classes=8, **kw):
    g = MLPGenerator(latent_dim=2, hidden_dim=16, num_layers=2, num_classes=num_classes)
    d = MLPCritic(hidden_dim=16, num_layers=2, num_classes=num_classes)
    return WGANGP(g, d, latent_dim=2, num_classes=num_classes, n_critic=2, noise_seed=3, **kw)


def test_labels_reach_the_nets_unchanged():
    """Every critic and generator call in training gets exactly the labels of its batch (same values, dtype, device)."""
    module = _wgangp()
    module.generator, module.critic = _Spy(module.generator), _Spy(module.critic)
    batches = _toy_batches(6)
    Trainer(**trainer_kwargs(max_steps=6)).fit(module, _loader(batches))
    # n_critic=2: batches 0,1 critic updates (generator once, critic twice + gradient penalty), batch 2 a generator update, ...
    gen_expected, critic_expected = [], []
    for i, (_, y) in enumerate(batches):
        gen_expected.append(y)
        critic_expected += [y, y, y] if i % 3 < 2 else [y]  # real, fake, penalty interpolates | fake
    assert len(module.generator.calls) == len(gen_expected) and len(module.critic.calls) == len(critic_expected)
    for got, want in zip(module.generator.calls + module.critic.calls, gen_expected + critic_expected):
        assert got.dtype == torch.long and torch.equal(got, want)


def test_sample_passes_requested_labels():
    """sample(n, labels=tensor) and sample(n, labels=k) hand those labels to the generator; default labels are uniform from rng."""
    module = _wgangp()
    module.generator = _Spy(module.generator)
    wanted = torch.tensor([7, 0, 3, 3, 1])
    module.sample(5, labels=wanted)
    module.sample(4, labels=6)
    module.sample(2000, rng=torch.Generator().manual_seed(0))
    assert torch.equal(module.generator.calls[0], wanted) and torch.equal(
        module.generator.calls[1], torch.full((4,), 6)
    )
    counts = torch.bincount(module.generator.calls[2], minlength=8)
    assert counts.min() > 200 and counts.max() < 300  # uniform: 250 each, +-3.5 std
    assert torch.equal(
        module.sample_labels(10, torch.Generator().manual_seed(1)),
        module.sample_labels(10, torch.Generator().manual_seed(1)),
    )


class _LinearPerClass(nn.Module):
    """critic(x, y) = <w_y, x>: its input gradient is w_y, so the gradient penalty is mean((|w_y| - 1)^2) by hand."""

    def __init__(self, num_classes: int) -> None:
        super().__init__()
        norms = torch.arange(1, num_classes + 1, dtype=torch.float32) * 0.5  # |w_k| = 0.5 (k + 1): every class differs
        angles = torch.arange(num_classes, dtype=torch.float32)
        self.w = nn.Parameter(norms[:, None] * torch.stack([angles.cos(), angles.sin()], dim=1))

    def forward(self, x, labels):
        return (self.w[labels] * x).sum(dim=1)


def test_gradient_penalty_holds_the_labels_fixed():
    """The logged gradient penalty of one critic update equals mean((|w_{y_i}| - 1)^2) over the batch's labels y."""
    num_classes = 8
    critic = _LinearPerClass(num_classes)
    module = WGANGP(
        MLPGenerator(latent_dim=2, hidden_dim=8, num_layers=1, num_classes=num_classes),
        critic,
        latent_dim=2,
        num_classes=num_classes,
        noise_seed=0,
    )
    batches = _toy_batches(1, size=64)
    labels = batches[0][1]
    expected = ((critic.w.detach()[labels].norm(dim=1) - 1) ** 2).mean()
    trainer = Trainer(**trainer_kwargs(max_steps=1, log_every_n_steps=1))
    trainer.fit(module, _loader(batches))
    got = trainer.callback_metrics["train/gradient_penalty"]
    assert torch.allclose(got, expected, rtol=1e-5), (got, expected)
    # control: with uniformly drawn labels instead of the batch's the value would differ
    other = ((critic.w.detach()[torch.randint(num_classes, (64,))].norm(dim=1) - 1) ** 2).mean()
    assert not torch.allclose(other, expected, rtol=1e-3)


@pytest.mark.parametrize(
    "labels, what",
    [
        (torch.full((8,), 8), "out of range"),
        (torch.full((8,), -1), "negative"),
        (torch.zeros(8), "float"),
        (None, "missing"),
        (torch.zeros(5, dtype=torch.long), "wrong length"),
    ],
)
def test_bad_training_labels_fail_before_any_update(labels, what):
    """A conditional module given bad labels raises a ValueError naming `labels`; no parameter moved, no step counted."""
    module = _wgangp()
    before = {k: v.clone() for k, v in module.state_dict().items()}
    x = torch.randn(8, 2)
    batch = x if labels is None else (x, labels)
    with pytest.raises(ValueError, match="`labels`"):
        Trainer(**trainer_kwargs(max_steps=3)).fit(module, _loader([batch] * 3))
    assert module.critic_steps == module.generator_steps == 0
    for k, v in module.state_dict().items():
        assert torch.equal(v, before[k]), k


def test_bad_sampling_labels_are_errors():
    """sample(): labels out of range, negative, float, wrong length -> `labels` error; labels for an unconditional module too."""
    module = _wgangp()
    for bad in (8, -1, torch.full((3,), 8), torch.tensor([0.0, 1.0, 2.0]), torch.zeros(2, dtype=torch.long), 1.5):
        with pytest.raises(ValueError, match="`labels`"):
            module.sample(3, labels=bad)
    plain = GAN(MLPGenerator(latent_dim=2, hidden_dim=8), MLPCritic(hidden_dim=8), latent_dim=2)
    with pytest.raises(ValueError, match="`labels`"):
        plain.sample(3, labels=0)
    with pytest.raises(ValueError, match="`labels`"):
        plain.generate(torch.randn(3, 2), torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match="`labels`"):
        plain.discriminate(torch.randn(3, 2), torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match="`labels`"):
        module.generate(torch.randn(3, 2))


def test_unconditional_module_ignores_dataset_labels():
    """An unconditional module trains on (x, labels) batches exactly as on x alone (labels are data, not conditioning)."""

    def fit(batches):
        torch.manual_seed(0)
        m = GAN(
            MLPGenerator(latent_dim=2, hidden_dim=8, num_layers=1),
            MLPCritic(hidden_dim=8, num_layers=1),
            latent_dim=2,
            noise_seed=1,
        )
        Trainer(**trainer_kwargs(max_steps=4)).fit(m, _loader(batches))
        return m

    batches = _toy_batches(4)
    a, b = fit(batches), fit([x for x, _ in batches])
    for k, v in a.state_dict().items():
        assert torch.equal(v, b.state_dict()[k]), k


def _fit_toy(max_steps, ckpt_dir=None, save_every=None, ckpt_path=None):
    torch.manual_seed(0)
    module = _wgangp()
    ema = GeneratorEMA(decay=0.9)
    callbacks = [ema]
    if save_every is not None:
        callbacks.append(
            ModelCheckpoint(dirpath=ckpt_dir, every_n_train_steps=save_every, save_top_k=-1, filename="{step}")
        )
    trainer = Trainer(
        **trainer_kwargs(max_steps=max_steps, callbacks=callbacks, enable_checkpointing=save_every is not None)
    )
    torch.manual_seed(123)
    trainer.fit(
        module,
        datamodule=ToyDataModule(batch_size=16, batches_per_epoch=10, seed=0, conditional=True),
        ckpt_path=ckpt_path,
    )
    return module, trainer


def test_conditional_resume_is_bit_identical_and_reloads_without_a_trainer(tmp_path):
    """13 batches + save + 13 more == 26 straight (weights, EMA, optimizers); the checkpoint reloads alone and samples the same."""
    straight, straight_trainer = _fit_toy(26)
    _fit_toy(13, ckpt_dir=tmp_path, save_every=13)
    resumed, resumed_trainer = _fit_toy(26, ckpt_path=str(tmp_path / "step=13.ckpt"))
    for (k, v), (k2, v2) in zip(resumed.state_dict().items(), straight.state_dict().items()):
        assert k == k2 and torch.equal(v, v2), k
    for a, b in zip(resumed_trainer.optimizers, straight_trainer.optimizers):
        for s, t in zip(a.state_dict()["state"].values(), b.state_dict()["state"].values()):
            assert all(torch.equal(s[key], t[key]) for key in s)
    assert "projection.embed.weight" in {k.split("critic.", 1)[-1] for k in straight.state_dict()}

    ckpt = tmp_path / "final.ckpt"
    straight_trainer.save_checkpoint(ckpt)
    g = MLPGenerator(latent_dim=2, hidden_dim=16, num_layers=2, num_classes=8)
    d = MLPCritic(hidden_dim=16, num_layers=2, num_classes=8)
    reloaded = WGANGP.load_from_checkpoint(ckpt, generator=g, critic=d)
    assert (
        reloaded.num_classes == 8 and reloaded.ema_generator is not None
    )  # the saved EMA drives sample(), as in training
    for k in (0, 5):
        assert torch.equal(
            reloaded.sample(16, labels=k, rng=torch.Generator().manual_seed(4)),
            straight.sample(16, labels=k, rng=torch.Generator().manual_seed(4)),
        )


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_conditional_wgangp_puts_each_class_on_its_mode(seed):
    """Conditional WGAN-GP on the 8 Gaussians labelled by mode: >= 90% of sample(n, labels=k) within 3 sigma of mode k, every k.

    Budget (measured on 3 seeds, min over classes 0.93 / 0.98 / 0.95): 800 generator steps, n_critic 2,
    Adam 1e-3 betas (0, 0.9), gradient-penalty weight 1, batch 64, 3 hidden layers of 64 units, EMA 0.98.
    """
    from functools import partial

    from lightning.pytorch import seed_everything

    seed_everything(seed, verbose=False)
    opt = partial(torch.optim.Adam, lr=1e-3, betas=(0.0, 0.9))
    module = WGANGP(
        MLPGenerator(latent_dim=2, hidden_dim=64, num_classes=8),
        MLPCritic(hidden_dim=64, num_classes=8),
        latent_dim=2,
        num_classes=8,
        n_critic=2,
        gp_weight=1.0,
        generator_optimizer=opt,
        critic_optimizer=opt,
        noise_seed=seed,
    )
    data = ToyDataModule("8gaussians", batch_size=64, batches_per_epoch=200, seed=seed, conditional=True)
    Trainer(**trainer_kwargs(max_steps=800 * 3, callbacks=[GeneratorEMA(decay=0.98)])).fit(module, data)
    toy = TOY_DISTRIBUTIONS["8gaussians"]
    fractions = []
    for k in range(8):
        x = module.sample(500, labels=k, rng=torch.Generator().manual_seed(1))
        fractions.append(((x - toy.centers[k]).norm(dim=1) <= 3 * toy.std).float().mean().item())
    print(f"seed {seed}: fraction within 3 sigma of the requested mode, per class: {[round(f, 2) for f in fractions]}")
    assert min(fractions) >= 0.9, fractions


def _console_script() -> str:
    import shutil
    import sys
    from pathlib import Path

    beside = Path(sys.executable).parent / "lightning-gans"
    return str(beside) if beside.exists() else shutil.which("lightning-gans")


def _cli(tmp_path, *args):
    import os
    import subprocess
    from pathlib import Path

    config = Path(__file__).resolve().parents[2] / "examples" / "cgan_digits.yaml"
    cmd = [
        _console_script(),
        "fit",
        "--config",
        str(config),
        "--trainer.max_steps",
        "4",
        "--trainer.default_root_dir",
        str(tmp_path),
        "--trainer.enable_progress_bar",
        "false",
        "--trainer.logger",
        "false",
        "--model.init_args.generator.init_args.base_channels",
        "8",
        "--model.init_args.critic.init_args.base_channels",
        "8",
        *args,
    ]
    env = dict(os.environ, OMP_NUM_THREADS="1", TORCH_HOME=str(tmp_path / "torch"))
    return subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)


def test_cli_links_the_data_num_classes_and_the_checkpoint_reloads_alone(tmp_path):
    """`lightning-gans fit --config examples/cgan_digits.yaml` exits 0; the module took num_classes=10 from the data; reload needs no Trainer."""
    import glob

    from lightning_gans import GAN

    proc = _cli(tmp_path)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    (ckpt,) = glob.glob(str(tmp_path / "**" / "last.ckpt"), recursive=True)  # the CLI keeps last.ckpt too
    model = GAN.load_from_checkpoint(ckpt)  # networks and num_classes from the saved CLI config
    assert model.num_classes == 10 and model.critic.conditioning == "projection"
    assert model.generator_steps == 2 and model.sample(3, labels=4).shape == (3, 1, 8, 8)


def test_cli_refuses_a_model_num_classes_that_disagrees_with_the_data(tmp_path):
    """An explicit `--model.init_args.num_classes 5` against the digits' 10 exits non-zero naming the argument, before training."""
    proc = _cli(tmp_path, "--model.init_args.num_classes", "5")
    assert proc.returncode != 0
    assert "`model.init_args.num_classes`=5" in proc.stderr and "`num_classes` is 10" in proc.stderr
    assert "generator step" not in proc.stdout  # GANMetrics never reported: no training happened
