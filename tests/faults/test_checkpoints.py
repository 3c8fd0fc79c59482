"""Checkpoint faults: never write a broken checkpoint, never load one silently, resume with what the user set.

Each case asserts the exact error (type and a message naming ``ckpt_path`` or the tensor) or the
exact restored value. The files are real Lightning checkpoints of a tiny GAN, damaged as a disk,
an interrupted copy or a diverged run would damage them.
"""

from __future__ import annotations

import math
from functools import partial
from pathlib import Path

import pytest
import torch
from lightning.pytorch import Trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from torch.utils.data import DataLoader, TensorDataset

from lightning_gans import GAN, WGANGP, ToyDataModule
from lightning_gans.callbacks.divergence_guard import DivergenceError
from lightning_gans.nets import MLPCritic, MLPGenerator
from tests.conftest import trainer_kwargs

pytestmark = pytest.mark.usefixtures("one_thread")


def _gan(cls=GAN, hidden_dim: int = 8, **kw):
    torch.manual_seed(0)
    nets = (
        MLPGenerator(latent_dim=2, hidden_dim=hidden_dim, num_layers=1),
        MLPCritic(hidden_dim=hidden_dim, num_layers=1),
    )
    return cls(*nets, latent_dim=2, noise_seed=3, **kw)


def _fit(module, max_steps=4, ckpt_path=None, callbacks=(), loader=None, **kw):
    trainer = Trainer(**trainer_kwargs(max_steps=max_steps, callbacks=list(callbacks), **kw))
    if loader is not None:
        trainer.fit(module, train_dataloaders=loader, ckpt_path=ckpt_path)
    else:
        trainer.fit(module, datamodule=ToyDataModule(batch_size=16, batches_per_epoch=4, seed=0), ckpt_path=ckpt_path)
    return trainer


@pytest.fixture
def good_ckpt(tmp_path) -> Path:
    """A real checkpoint of a tiny GAN after 4 steps."""
    trainer = _fit(_gan())
    path = tmp_path / "good.ckpt"
    trainer.save_checkpoint(path)
    return path


def _resume_rejected(path, error, match):
    """Fit from ``path`` must raise ``error`` matching ``match`` before any update."""
    module = _gan()
    with pytest.raises(error, match=match):
        _fit(module, max_steps=8, ckpt_path=str(path))
    assert module.critic_steps + module.generator_steps == 0


# ------------------------------------------------------------------------------------------------
# Loading
def test_empty_file_names_ckpt_path(tmp_path):
    """A 0-byte checkpoint (the write was interrupted) is a ValueError naming `ckpt_path`, not a bare EOFError."""
    path = tmp_path / "last.ckpt"
    path.write_bytes(b"")
    _resume_rejected(path, ValueError, r"`ckpt_path` '.*last\.ckpt' is empty \(0 bytes\)")


def test_missing_file_names_ckpt_path(tmp_path):
    """A checkpoint path that does not exist is a FileNotFoundError naming `ckpt_path`."""
    _resume_rejected(tmp_path / "nope.ckpt", FileNotFoundError, r"`ckpt_path` '.*nope\.ckpt' does not exist")


def test_overwritten_bytes_fail_the_crc_check(good_ckpt):
    """4 KiB overwritten with 0xFF in the middle of the file: refused naming `ckpt_path` and the damaged member.

    Before, torch.load read it silently and the resume trained on NaN weights.
    """
    data = bytearray(good_ckpt.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 4096] = b"\xff" * 4096
    good_ckpt.write_bytes(bytes(data))
    _resume_rejected(good_ckpt, ValueError, r"`ckpt_path` '.*good\.ckpt' is corrupted: ")


def test_truncated_file_names_ckpt_path(good_ckpt):
    """A checkpoint cut in half (an interrupted copy) is a ValueError naming `ckpt_path`."""
    data = good_ckpt.read_bytes()
    good_ckpt.write_bytes(data[: len(data) // 2])
    _resume_rejected(good_ckpt, ValueError, r"`ckpt_path` '.*good\.ckpt' is not a readable checkpoint")


def test_non_finite_weights_in_a_valid_file_are_refused(good_ckpt):
    """A well-formed checkpoint whose critic weight holds NaN is refused naming `ckpt_path` and the tensor."""
    checkpoint = torch.load(good_ckpt, weights_only=True)
    checkpoint["state_dict"]["critic.net.0.weight"][0, 0] = math.nan
    torch.save(checkpoint, good_ckpt)
    _resume_rejected(
        good_ckpt, ValueError, r"`ckpt_path` '.*' holds non-finite values in state_dict\['critic\.net\.0\.weight'\]"
    )


def test_non_finite_optimizer_state_is_refused(good_ckpt):
    """Finite weights but an infinite Adam second moment: refused naming the optimizer state entry."""
    checkpoint = torch.load(good_ckpt, weights_only=True)
    checkpoint["optimizer_states"][1]["state"][0]["exp_avg_sq"][0] = math.inf
    torch.save(checkpoint, good_ckpt)
    _resume_rejected(
        good_ckpt, ValueError, r"holds non-finite values in optimizer_states\[1\]\['state'\]\[0\]\['exp_avg_sq'\]"
    )


# ------------------------------------------------------------------------------------------------
# Saving
def test_non_finite_weights_are_never_written(tmp_path):
    """`trainer.save_checkpoint` of NaN weights raises naming the tensor and leaves the good file byte for byte."""
    module = _gan()
    trainer = _fit(module)
    path = tmp_path / "last.ckpt"
    trainer.save_checkpoint(path)
    good = path.read_bytes()
    with torch.no_grad():
        module.generator.net[0].bias[1] = math.nan
    with pytest.raises(
        DivergenceError,
        match=r"Refused to write checkpoint '.*last\.ckpt': non-finite values in state_dict\['generator\.net\.0\.bias'\] at global step 4",
    ):
        trainer.save_checkpoint(path)
    assert path.read_bytes() == good
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.ckpt"]


def test_non_finite_optimizer_state_is_never_written(tmp_path):
    """Finite weights with an infinite optimizer moment are not written either."""
    trainer = _fit(_gan())
    state = next(iter(trainer.optimizers[0].state.values()))
    state["exp_avg"].fill_(math.inf)
    with pytest.raises(
        DivergenceError, match=r"non-finite values in optimizer_states\[0\]\['state'\]\[\d+\]\['exp_avg'\]"
    ):
        trainer.save_checkpoint(tmp_path / "x.ckpt")
    assert not any(tmp_path.iterdir())


def test_a_write_that_fails_midway_leaves_the_old_file(tmp_path, monkeypatch):
    """A save that dies after writing part of the file (disk full, kill) leaves the previous checkpoint intact.

    Local checkpoints are written to ``<path>.partial`` and renamed over the old file only when complete.
    """
    trainer = _fit(_gan())
    path = tmp_path / "last.ckpt"
    trainer.save_checkpoint(path)
    good = path.read_bytes()
    inner = trainer.strategy.checkpoint_io.checkpoint_io

    def dies_midway(checkpoint, file, storage_options=None):
        Path(file).write_bytes(good[:100])
        raise OSError("No space left on device")

    monkeypatch.setattr(inner, "save_checkpoint", dies_midway)
    with pytest.raises(OSError, match="No space left"):
        trainer.save_checkpoint(path)
    assert path.read_bytes() == good
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.ckpt"]


# ------------------------------------------------------------------------------------------------
# Resuming with what the user set
def test_resume_keeps_the_new_learning_rate_and_the_saved_moments(good_ckpt):
    """A resume with a new critic learning rate trains with it; Adam's step count continues from the checkpoint.

    ``Optimizer.load_state_dict`` alone would put the checkpoint's lr (2e-4) back.
    """
    module = _gan(critic_optimizer=partial(torch.optim.Adam, lr=1e-3, betas=(0.5, 0.999)))
    trainer = _fit(module, max_steps=8, ckpt_path=str(good_ckpt))
    generator_opt, critic_opt = trainer.optimizers
    assert critic_opt.param_groups[0]["lr"] == 1e-3 and generator_opt.param_groups[0]["lr"] == 2e-4
    assert {int(s["step"]) for s in critic_opt.state.values()} == {4}  # 2 critic updates before, 2 after


def test_resume_with_another_optimizer_class_starts_its_state_afresh(good_ckpt):
    """Switching the critic from Adam to SGD on resume warns naming `critic_optimizer` and trains SGD from a fresh state."""
    module = _gan(critic_optimizer=partial(torch.optim.SGD, lr=0.01, momentum=0.9))
    with pytest.warns(
        UserWarning,
        match=r"`critic_optimizer` is a SGD now and was another optimizer in the checkpoint: its state starts afresh",
    ):
        trainer = _fit(module, max_steps=8, ckpt_path=str(good_ckpt))
    critic_opt = trainer.optimizers[1]
    assert critic_opt.param_groups[0]["momentum"] == 0.9 and all(
        "momentum_buffer" in s for s in critic_opt.state.values()
    )
    assert module.critic_steps == 4


def test_resume_with_other_network_shapes_is_refused(good_ckpt):
    """A critic twice as wide as in the checkpoint is refused naming `critic`, the parameter and both shapes."""
    torch.manual_seed(0)
    module = GAN(
        MLPGenerator(latent_dim=2, hidden_dim=8, num_layers=1), MLPCritic(hidden_dim=16, num_layers=1), latent_dim=2
    )
    with pytest.raises(
        ValueError,
        match=r"`critic` has other shapes than in `ckpt_path` .*critic\.net\.0\.weight is \(16, 2\) here and \(8, 2\)",
    ):
        _fit(module, max_steps=8, ckpt_path=str(good_ckpt))


def test_plain_shuffling_dataloader_resumes_exactly_at_an_epoch_end(tmp_path):
    """`DataLoader(shuffle=True)`: 1 epoch + checkpoint + resume to 3 epochs == 3 epochs straight, bit for bit.

    The shuffle order comes from the global torch RNG, which Lightning does not checkpoint; the module
    saves and restores it. The global RNG is set to another state before the resume, as a new process
    would. (Epoch-based: with ``max_steps``, Lightning 2.6 restarts an epoch-end checkpoint by running
    one batch of the finished epoch, then a new epoch, so the order differs whatever the RNG.)
    """
    data = TensorDataset(torch.randn(64, 2, generator=torch.Generator().manual_seed(5)))

    def run(max_epochs, ckpt_path=None, callbacks=()):
        module = _gan(WGANGP, n_critic=2)
        torch.manual_seed(123 if ckpt_path is None else 999)
        loader = DataLoader(data, batch_size=16, shuffle=True)
        trainer = Trainer(
            **trainer_kwargs(max_epochs=max_epochs, callbacks=list(callbacks), enable_checkpointing=bool(callbacks))
        )
        trainer.fit(module, train_dataloaders=loader, ckpt_path=ckpt_path)
        return module

    straight = run(3)
    run(1, callbacks=[ModelCheckpoint(dirpath=tmp_path, filename="{epoch}", every_n_epochs=1, save_top_k=-1)])
    resumed = run(3, ckpt_path=str(tmp_path / "epoch=0.ckpt"))
    assert resumed.critic_steps + resumed.generator_steps == 12
    for (name, a), b in zip(straight.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), name


def test_stateful_loader_resumes_exactly_from_an_epoch_end_checkpoint_with_max_steps(tmp_path):
    """Our datamodules' StatefulDataLoader with `max_steps` and an epoch-end checkpoint: 4 + resume to 12 == 12 straight, bit for bit.

    The case a plain DataLoader cannot make exact (Lightning 2.6 restarts an epoch-end checkpoint of a
    step-based run with one batch of the finished epoch); the loader's own state makes it exact.
    """

    def run(max_steps, ckpt_path=None, callbacks=()):
        module = _gan(WGANGP, n_critic=2)
        torch.manual_seed(123 if ckpt_path is None else 999)
        _fit(
            module, max_steps=max_steps, ckpt_path=ckpt_path, callbacks=callbacks, enable_checkpointing=bool(callbacks)
        )
        return module

    straight = run(12)
    run(4, callbacks=[ModelCheckpoint(dirpath=tmp_path, filename="{epoch}", every_n_epochs=1, save_top_k=-1)])
    resumed = run(12, ckpt_path=str(tmp_path / "epoch=0.ckpt"))
    assert resumed.critic_steps + resumed.generator_steps == 12
    for (name, a), b in zip(straight.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), name


# ------------------------------------------------------------------------------------------------
# A subclass defined in the training script (the README's "one small subclass"), whose class cannot be imported here
SCRIPT_SUBCLASS = '''
import sys, torch
from lightning.pytorch import Trainer
from lightning_gans import AdversarialModule, ToyDataModule
from lightning_gans.nets import MLPCritic, MLPGenerator

class HingeGAN(AdversarialModule):
    """A script's own variant: the hinge loss."""
    def __init__(self, *args, **kwargs):
        super().__init__(*args, loss="hinge", **kwargs)

torch.manual_seed(0)
module = HingeGAN(MLPGenerator(latent_dim=2, hidden_dim=8, num_layers=1), MLPCritic(hidden_dim=8, num_layers=1),
                     latent_dim=2, noise_seed=3)
trainer = Trainer(accelerator="cpu", max_steps=2, logger=False, enable_checkpointing=False,
                  enable_progress_bar=False, enable_model_summary=False)
trainer.fit(module, datamodule=ToyDataModule(batch_size=16, batches_per_epoch=4, seed=0))
trainer.save_checkpoint(sys.argv[1])
'''


def test_a_script_subclass_checkpoint_is_refused_as_the_base_class(tmp_path):
    """A checkpoint of `__main__.HingeGAN` (a training script's subclass with the hinge loss): GAN.load_from_checkpoint
    and Trainer.fit(GAN(...), ckpt_path=...) are refused naming the unimportable class and the loss it was trained
    with, before any update (they used to load and resume with the wrong loss and no word)."""
    import subprocess
    import sys

    path = tmp_path / "script.ckpt"
    script = tmp_path / "train.py"
    script.write_text(SCRIPT_SUBCLASS)
    proc = subprocess.run(
        [sys.executable, str(script), str(path)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**__import__("os").environ, "OMP_NUM_THREADS": "1"},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    nets = _gan()
    match = r"written by __main__\.HingeGAN, which cannot be imported here, and the module is a lightning_gans\.GAN"
    with pytest.raises(TypeError, match=match + r"; it was trained as base_class 'lightning_gans\.AdversarialModule'"):
        GAN.load_from_checkpoint(path, generator=nets.generator, critic=nets.critic)
    module = _gan()
    with pytest.raises(TypeError, match=match + r".*loss 'hinge' \(here: 'non_saturating'\)"):
        _fit(module, max_steps=4, ckpt_path=str(path))
    assert module.critic_steps + module.generator_steps == 0
