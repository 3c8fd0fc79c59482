"""Faults of the command line: exit status of the installed console script, and resume that honours the user.

Exit-status cases run ``.venv/bin/lightning-gans`` as a subprocess, as users and schedulers do
(each costs ~7 s of CPU, mostly imports, so there are few). Resume semantics run the same ``main``
in-process on a tiny config; each case asserts the exact value that trains, or the error naming the
argument.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from lightning_gans.cli import main

pytestmark = pytest.mark.usefixtures("one_thread")

CONSOLE_SCRIPT = str(Path(sys.executable).parent / "lightning-gans")
NETS = {
    "generator": {
        "class_path": "lightning_gans.nets.MLPGenerator",
        "init_args": {"latent_dim": 2, "out_dim": 2, "hidden_dim": 8, "num_layers": 1},
    },
    "critic": {
        "class_path": "lightning_gans.nets.MLPCritic",
        "init_args": {"in_dim": 2, "hidden_dim": 8, "num_layers": 1},
    },
}


def write_config(path: Path, model: str = "lightning_gans.WGAN", hidden_dim: int = 8, **init_args) -> str:
    """A tiny toy config: 8-unit nets, batches of 16, 4 batches an epoch, no logger, a checkpoint every 2 steps."""
    nets = {
        k: {"class_path": v["class_path"], "init_args": {**v["init_args"], "hidden_dim": hidden_dim}}
        for k, v in NETS.items()
    }
    config = {
        "seed_everything": 0,
        "trainer": {
            "accelerator": "cpu",
            "devices": 1,
            "max_steps": 6,
            "logger": False,
            "enable_progress_bar": False,
            "enable_model_summary": False,
            "default_root_dir": str(path.parent / "run"),
            "callbacks": [
                {
                    "class_path": "lightning.pytorch.callbacks.ModelCheckpoint",
                    "init_args": {"dirpath": str(path.parent / "ckpts"), "every_n_train_steps": 2, "save_last": True},
                }
            ],
        },
        "model": {"class_path": model, "init_args": {"latent_dim": 2, **nets, **init_args}},
        "data": {"class_path": "lightning_gans.ToyDataModule", "init_args": {"batch_size": 16, "batches_per_epoch": 4}},
    }
    path.write_text(yaml.safe_dump(config))
    return str(path)


def console(*args: str) -> subprocess.Popen:
    """Start the installed console script (one intra-op thread, warnings off); ``communicate()`` it later."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    return subprocess.Popen([CONSOLE_SCRIPT, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


@pytest.fixture(scope="module")
def console_runs(tmp_path_factory):
    """The console-script cases, started together (each spends most of its ~7 s CPU importing Lightning).

    ``success``: a 6-step tiny WGAN fit. ``other_class``: a WGAN-GP config resuming a WGAN checkpoint
    (made in-process beforehand).
    """
    tmp = tmp_path_factory.mktemp("console")
    for name in ("success", "other_class", "made"):
        (tmp / name).mkdir()
    assert main(["fit", "--config", write_config(tmp / "made" / "wgan.yaml")]) == 0
    procs = {
        "success": console("fit", "--config", write_config(tmp / "success" / "wgan.yaml")),
        "other_class": console(
            "fit",
            "--config",
            write_config(tmp / "other_class" / "wgangp.yaml", model="lightning_gans.WGANGP"),
            "--ckpt_path",
            str(tmp / "made" / "ckpts" / "last.ckpt"),
        ),
    }
    results = {}
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=300)
        results[name] = (proc.returncode, out, err)
    return tmp, results


def test_success_exits_0_without_printing_the_cli_object(console_runs):
    """A successful `fit` exits 0 and prints no `<...LightningCLI object at 0x...>` (it used to exit 1)."""
    tmp, results = console_runs
    status, out, err = results["success"]
    assert status == 0, err[-2000:]
    assert "LightningCLI object" not in out + err
    assert torch.load(tmp / "success" / "ckpts" / "last.ckpt", weights_only=True)["global_step"] == 6


def test_other_module_class_on_resume_exits_1_naming_model(console_runs):
    """A WGAN checkpoint given to a WGAN-GP config is refused (exit 1) naming `model` and both classes; nothing trains."""
    tmp, results = console_runs
    status, _, err = results["other_class"]
    assert status == 1
    assert "TypeError: `ckpt_path` " in err
    assert "holds a lightning_gans.WGAN, but the module is a lightning_gans.WGANGP" in err
    assert "(CLI: `--model lightning_gans.WGAN`)" in err
    assert not (tmp / "other_class" / "ckpts").exists()


def test_empty_checkpoint_names_ckpt_path(tmp_path):
    """A 0-byte `--ckpt_path` (an interrupted write) is a ValueError naming `ckpt_path`, not Lightning's CLI's bare EOFError.

    In-process: the console script's exit status for an error is the `other_class` case above.
    """
    empty = tmp_path / "empty.ckpt"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match=rf"`ckpt_path` '{empty}' is empty \(0 bytes\)"):
        main(["fit", "--config", write_config(tmp_path / "wgan.yaml"), "--ckpt_path", str(empty)])
    assert not (tmp_path / "ckpts").exists()


def test_misspelt_option_exits_2_naming_it(tmp_path, capsys):
    """A misspelt option is a command-line error: status 2 (argparse's), naming the option; nothing is built."""
    with pytest.raises(SystemExit) as exit_info:
        main(["fit", "--config", write_config(tmp_path / "wgan.yaml"), "--model.init_args.n_critc", "2"])
    assert exit_info.value.code == 2 and "n_critc" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------------
# Resume honours explicit values (in-process: the console script's `main`, without the interpreter start)
def _fit(config: str, *extra: str) -> int:
    return main(["fit", "--config", config, *extra])


def _resumed(tmp_path, *extra, **config_args):
    """Train 6 steps of a tiny WGAN (clip_value 0.02, n_critic 5), then resume to step 12 with ``extra``; the last checkpoint."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    assert _fit(write_config(tmp_path / "a" / "first.yaml", clip_value=0.02)) == 0  # `main` returns the exit status
    second = write_config(tmp_path / "b" / "second.yaml", **config_args)
    assert (
        _fit(second, "--ckpt_path", str(tmp_path / "a" / "ckpts" / "last.ckpt"), "--trainer.max_steps", "12", *extra)
        == 0
    )
    return torch.load(tmp_path / "b" / "ckpts" / "last.ckpt", weights_only=True)


def test_resume_uses_explicit_values_and_checkpoint_values_for_the_rest(tmp_path):
    """`--model.init_args.n_critic 2` and a new critic learning rate given with --ckpt_path train; unspecified values come from the checkpoint.

    Lightning 2.6 parses the checkpoint's hyper-parameters over the config (n_critic would stay 5 and the
    learning rate the old one). Steps 6-11 after resume with n_critic 2: the cycle position was 1 of 5
    (critic updates at steps 5 of 6), so 1 more critic update, then G, C, C, G, C -> 4 + 2.
    """
    ckpt = _resumed(
        tmp_path,
        "--model.init_args.n_critic",
        "2",
        "--model.init_args.critic_optimizer",
        "torch.optim.RMSprop",
        "--model.init_args.critic_optimizer.lr",
        "0.001",
    )
    hparams = ckpt["hyper_parameters"]
    assert hparams["n_critic"] == 2 and hparams["critic_optimizer"]["init_args"]["lr"] == 0.001
    assert hparams["clip_value"] == 0.02  # not given on resume: the checkpoint's value, not the class default 0.01
    g_state, c_state = ckpt["optimizer_states"]
    assert c_state["param_groups"][0]["lr"] == 0.001 and g_state["param_groups"][0]["lr"] == 5e-5
    state = ckpt["lightning_gans"]
    assert (state["critic_steps"], state["generator_steps"]) == (5 + 4, 1 + 2)


def test_resume_with_other_network_shapes_is_refused_naming_the_network(tmp_path):
    """A resume whose generator/critic have other widths fails naming `generator`, the parameter and both shapes."""
    with pytest.raises(
        ValueError,
        match=r"`generator` has other shapes than in `ckpt_path` .*generator\.net\.0\.weight is \(16, 2\) here and \(8, 2\)",
    ):
        _resumed(tmp_path, hidden_dim=16)
