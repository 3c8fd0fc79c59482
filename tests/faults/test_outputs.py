"""Output faults of `fit`: folders that cannot be written are found before the first step; one config.yaml per run."""

from __future__ import annotations

import os

import pytest
import torch

from lightning_gans._checks import InputError, new_output, output_suffix, writable_dir
from lightning_gans.cli import main
from tests.faults.test_cli import write_config

pytestmark = pytest.mark.usefixtures("one_thread")


def _no_step_taken(tmp_path) -> None:
    assert not list(tmp_path.rglob("*.ckpt"))


def test_unwritable_default_root_dir_is_named_before_the_first_step(tmp_path):
    """`default_root_dir` under a file: an InputError naming `trainer.default_root_dir` in setup; no checkpoint."""
    (tmp_path / "a_file").write_text("x")
    config = write_config(tmp_path / "gan.yaml", model="lightning_gans.GAN")
    with pytest.raises(InputError, match=r"`trainer.default_root_dir` '.*a_file/run' cannot be a folder: .* is a file"):
        main(["fit", "--config", config, "--trainer.default_root_dir", str(tmp_path / "a_file" / "run")])
    _no_step_taken(tmp_path)


def test_unwritable_checkpoint_dirpath_is_named_before_the_first_step(tmp_path):
    """A ModelCheckpoint `dirpath` that cannot be made: named before training (it used to fail at the first save)."""
    (tmp_path / "a_file").write_text("x")
    config = write_config(tmp_path / "gan.yaml", model="lightning_gans.GAN")
    with pytest.raises(InputError, match=r"`ModelCheckpoint.dirpath` '.*a_file/ckpts' cannot be a folder"):
        main(["fit", "--config", config, "--trainer.callbacks.dirpath", str(tmp_path / "a_file" / "ckpts")])
    _no_step_taken(tmp_path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_folder_is_not_writable(tmp_path):
    """A folder without write permission is refused by the probe, naming it."""
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(InputError, match=r"`out` '.*ro/x' is not writable"):
            writable_dir("out", folder / "x")
    finally:
        folder.chmod(0o700)


def test_two_runs_in_one_log_directory_do_not_share_config_yaml(tmp_path):
    """A second new run in a directory holding a run's config.yaml is refused before training (naming the directory);
    that run's config.yaml is unchanged; resuming that run there (--ckpt_path) is allowed."""
    config = write_config(tmp_path / "gan.yaml", model="lightning_gans.GAN")
    assert main(["fit", "--config", config]) == 0
    saved = tmp_path / "run" / "config.yaml"
    before = saved.read_text()
    with pytest.raises(InputError, match=r"the log directory '.*run' already holds config.yaml of another run"):
        main(["fit", "--config", config, "--trainer.max_steps", "8", "--model.init_args.n_critic", "2"])
    assert saved.read_text() == before
    assert torch.load(tmp_path / "ckpts" / "last.ckpt", weights_only=True)["global_step"] == 6
    last = str(tmp_path / "ckpts" / "last.ckpt")
    assert main(["fit", "--config", config, "--trainer.max_steps", "8", "--ckpt_path", last]) == 0
    assert torch.load(last, weights_only=True)["global_step"] == 8


def test_path_helpers_refuse_mixing_and_wrong_extensions(tmp_path):
    """new_output: an existing file or a non-empty folder is refused unless overwrite; output_suffix: the extension
    must be one of the formats (case-insensitive)."""
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "00000.png").write_bytes(b"")
    with pytest.raises(InputError, match=r"`--out` '.*old' already holds 1 file\(s\) \('00000.png', ...\)"):
        new_output("--out", tmp_path / "old", folder=True)
    assert new_output("--out", tmp_path / "old", overwrite=True, folder=True)
    assert new_output("--out", tmp_path / "new", folder=True)  # a new folder: nothing to mix with
    (tmp_path / "x.png").write_bytes(b"")
    with pytest.raises(InputError, match=r"`--out` '.*x.png' already exists"):
        new_output("--out", tmp_path / "x.png")
    assert output_suffix("--out", "A.PNG", {".png": "PNG"}) == ".png"
    with pytest.raises(InputError, match=r"`--json` 'x.txt': the extension '.txt' is not one of .json \(JSON\)"):
        output_suffix("--json", "x.txt", {".json": "JSON"})


def test_a_run_that_fails_before_its_first_update_leaves_no_config_yaml(tmp_path):
    """A new run whose generator does not take `latent_dim` fails at the first batch: its config.yaml is removed, so the
    corrected run in the same directory starts (instead of being refused as a second run)."""
    config = write_config(tmp_path / "gan.yaml", model="lightning_gans.GAN")
    with pytest.raises(ValueError, match=r"`generator` failed on noise of shape"):
        main(["fit", "--config", config, "--model.init_args.generator.init_args.latent_dim", "3"])
    assert not (tmp_path / "run" / "config.yaml").exists()
    assert main(["fit", "--config", config]) == 0
    assert (tmp_path / "run" / "config.yaml").exists()
