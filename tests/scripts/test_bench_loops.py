"""`benchmarks/bench_loops.py`: the loops users copy, re-written, do what theirs do, on their nets; the script runs."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import torch
from torch.optim.optimizer import register_optimizer_step_post_hook

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import bench_loops as bl

ROOT = Path(__file__).resolve().parents[2]

# Parameter counts of their nets, from the layer widths: Linear(a, b) has a*b + b, BatchNorm1d(b) 2b.
GENERATOR_PARAMETERS = (
    (100 * 128 + 128)
    + (128 * 256 + 256 + 2 * 256)
    + (256 * 512 + 512 + 2 * 512)
    + (512 * 1024 + 1024 + 2 * 1024)
    + (1024 * 784 + 784)
)
DISCRIMINATOR_PARAMETERS = (784 * 512 + 512) + (512 * 256 + 256) + (256 + 1)


def _count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _shapes(module: torch.nn.Module) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in module.state_dict().items()}


@pytest.mark.parametrize("kind", ["gan", "wgan"])
def test_our_modules_hold_their_nets(kind):
    """GAN/WGANGP wrap exactly their nets: 1,510,032 + 533,505 parameters, the same tensors and shapes, BatchNorm
    eps 0.8 as written there (their sigmoid has no parameters), and our modules start from the seed's weights."""
    g, d = bl.nets(bl.SETUPS["gan"], seed=0)
    assert _count(g) == GENERATOR_PARAMETERS == 1_510_032
    assert _count(d) == DISCRIMINATOR_PARAMETERS == 533_505
    assert [m.eps for m in g.modules() if isinstance(m, torch.nn.BatchNorm1d)] == [0.8, 0.8, 0.8]
    assert isinstance(d.model[-1], torch.nn.Sigmoid)  # gan.py's; wgan_gp.py's and Lightning's have none
    module = bl.our_module(kind, *bl.nets(bl.SETUPS["wgan_gp"], seed=0), seed=0)
    assert _shapes(module.generator) == _shapes(g) and _shapes(module.critic) == _shapes(d)
    assert all(torch.equal(a, b) for a, b in zip(module.generator.state_dict().values(), g.state_dict().values()))
    assert not any(True for _ in module.critic.buffers())  # so `fuse_critic_forwards` applies
    assert module.updates_per_batch == "cycle" and type(module).fuse_critic_forwards
    assert module.n_critic == (5 if kind == "wgan" else 1)


class _Steps:
    """Counts optimizer steps per network (by the identity of the first parameter), through torch's global hook."""

    def __init__(self, g: torch.nn.Module, d: torch.nn.Module) -> None:
        self.names = {id(next(g.parameters())): "generator", id(next(d.parameters())): "critic"}
        self.counts: Counter[str] = Counter()

    def __enter__(self) -> _Steps:
        def hook(opt, args, kwargs):
            self.counts[self.names[id(opt.param_groups[0]["params"][0])]] += 1

        self.handle = register_optimizer_step_post_hook(hook)
        return self

    def __exit__(self, *exc) -> None:
        self.handle.remove()


def _loader(batches: int, batch: int = 8) -> list:
    """An epoch of ``batches`` batches of digit-shaped images in [-1, 1] (a list: iterated afresh each epoch)."""
    torch.manual_seed(0)
    return [(torch.rand(batch, 1, 28, 28) * 2 - 1, torch.zeros(batch)) for _ in range(batches)]


def test_wgan_gp_loop_steps_the_critic_every_batch_and_the_generator_when_i_mod_5_is_0(one_thread):
    """wgan_gp.py as written: a critic step on every batch, a generator step on batches 0 and 5 of each 7-batch epoch
    (`i` restarts each epoch), so 5 generator updates take 7 + 7 + 1 = 15 critic updates."""
    g, d = bl.nets(bl.SETUPS["wgan_gp"], seed=0)
    with _Steps(g, d) as steps:
        counts = bl.pytorch_gan_wgan_gp(g, d, _loader(7), updates=5)
    assert (counts.generator, counts.critic, counts.batches) == (5, 15, 15)
    assert steps.counts == {"generator": 5, "critic": 15}


def test_gan_loop_makes_one_generator_and_one_discriminator_step_a_batch(one_thread):
    """gan.py: each batch is one generator step then one discriminator step, across epochs (3-batch epochs)."""
    g, d = bl.nets(bl.SETUPS["gan"], seed=0)
    with _Steps(g, d) as steps:
        counts = bl.pytorch_gan_gan(g, d, _loader(3), updates=4)
    assert (counts.generator, counts.critic, counts.batches) == (4, 4, 4)
    assert steps.counts == {"generator": 4, "critic": 4}


@pytest.mark.parametrize(("kind", "critic_steps"), [("gan", 4), ("wgan", 20)])
def test_our_plain_loop_makes_n_critic_critic_updates_per_generator_update(one_thread, kind, critic_steps):
    """Our plain loop: `n_critic` (1 or 5) critic updates, then one generator update, one batch each."""
    g, d = bl.nets(bl.SETUPS["gan"], seed=0)
    d = bl.logits(d)
    with _Steps(g, d) as steps:
        counts = bl.plain_loop(kind, g, d, _loader(3), updates=4, seed=0)
    assert (counts.generator, counts.critic, counts.batches) == (4, critic_steps, 4 + critic_steps)
    assert steps.counts == {"generator": 4, "critic": critic_steps}


def test_ours_and_our_plain_loop_score_gan_py_discriminator_in_logits():
    """Beside gan.py (sigmoid discriminator), ours and our plain loop get its weights without the sigmoid:
    their scores are the logits of its probabilities."""
    _, d = bl.nets(bl.SETUPS["gan"], seed=0)
    x = torch.rand(16, 1, 28, 28) * 2 - 1
    assert not isinstance(bl.logits(d).model[-1], torch.nn.Sigmoid)
    torch.testing.assert_close(bl.logits(d)(x), torch.logit(d(x).double()).float(), rtol=1e-4, atol=1e-4)


def test_the_plain_loops_run_as_without_lightning():
    """`without_lightning_import` removes the variable Lightning sets on import, and restores it."""
    assert os.environ.get(bl._NVML) == "1"  # set by importing lightning
    with bl.without_lightning_import():
        assert bl._NVML not in os.environ
    assert os.environ.get(bl._NVML) == "1"


def test_the_loops_benchmark_runs_tiny():
    """`bench_loops.py --tiny` exits 0 and prints a row per run, each at exactly 3 generator updates, with the
    critic updates of each loop: wgan_gp.py 11 (batches 0, 5, 10), ours and our plain loop 15, the GANs 3."""
    done = subprocess.run(
        [sys.executable, "benchmarks/bench_loops.py", "--tiny"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={"OMP_NUM_THREADS": "1", "PATH": "", **{k: v for k, v in os.environ.items() if k == "PYTHONPATH"}},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    rows = [line.split(" | ") for line in done.stdout.splitlines() if line.startswith("| ") and "---" not in line]
    assert [(r[0], r[1], r[2]) for r in rows[1:]] == [
        ("| PyTorch-GAN wgan_gp.py", "PyTorch-GAN wgan_gp.py", "3 / 11"),
        ("| PyTorch-GAN wgan_gp.py", bl.OURS, "3 / 15"),
        ("| PyTorch-GAN wgan_gp.py", bl.REUSE, "3 / 15"),
        ("| PyTorch-GAN wgan_gp.py", bl.PLAIN, "3 / 15"),
        ("| PyTorch-GAN gan.py", "PyTorch-GAN gan.py", "3 / 3"),
        ("| PyTorch-GAN gan.py", bl.OURS, "3 / 3"),
        ("| PyTorch-GAN gan.py", bl.REUSE, "3 / 3"),
        ("| PyTorch-GAN gan.py", bl.PLAIN, "3 / 3"),
        ("| Lightning GAN example", "Lightning GAN example", "3 / 3"),
        ("| Lightning GAN example", bl.OURS, "3 / 3"),
        ("| Lightning GAN example", bl.REUSE, "3 / 3"),
    ], done.stdout
    assert all(float(r[4].strip("*")) > 0 for r in rows[1:] if r[1] != r[0][2:]), done.stdout  # a ratio each
