"""examples/sweep_wgangp_digits.yaml: a W&B sweep whose every run is a valid `lightning-gans fit` command line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytest.importorskip("wandb")

ROOT = Path(__file__).resolve().parents[2]
SWEEP = ROOT / "examples" / "sweep_wgangp_digits.yaml"
SCRIPT = str(Path(sys.executable).with_name("lightning-gans"))


def _config() -> dict:
    return yaml.safe_load(SWEEP.read_text(encoding="utf-8"))


def _agent_command(config: dict, values: dict) -> list[str]:
    """The command `wandb agent` runs for one set of values: its own flag builder, then the macros filled in."""
    from wandb.sdk.launch.sweeps.utils import create_sweep_command, create_sweep_command_args

    flags = create_sweep_command_args({"args": {k: {"value": v} for k, v in values.items()}})["args"]
    command = []
    for chunk in create_sweep_command(list(config["command"])):
        command += {"${env}": [], "${program}": [SCRIPT], "${args}": flags}.get(chunk, [chunk])
    return command


def test_sweep_config_is_well_formed():
    """Method, metric and parameters as the W&B sweep schema wants them; the metric is one GANMetrics logs."""
    from lightning_gans.evaluation.metrics import FID

    config = _config()
    assert config["method"] in ("grid", "random", "bayes")
    assert config["metric"] == {"name": f"eval/{FID}", "goal": "minimize"}
    assert config["program"] == "lightning-gans"
    assert config["command"][:3] == ["${env}", "${program}", "fit"] and config["command"][-1] == "${args}"
    for name, spec in config["parameters"].items():
        assert isinstance(spec.get("values"), list) and spec["values"], name
    config_file = config["command"][config["command"].index("--config") + 1]
    assert (ROOT / config_file).is_file()


def test_every_swept_command_line_parses_and_sets_the_values(capsys):
    """Each value of each parameter, as the agent passes it (`--key=value`), parses under our CLI
    (`--print_config`) and lands in the config, with the logger set to WandbLogger."""
    from lightning_gans.cli import main

    config = _config()
    names = list(config["parameters"])
    # every value of every parameter at least once (the first values elsewhere), not the whole product
    combos = [{n: config["parameters"][n]["values"][0] for n in names}]
    for name in names:
        for value in config["parameters"][name]["values"][1:]:
            combos.append({**combos[0], name: value})
    cwd = os.getcwd()
    os.chdir(ROOT)  # the agent runs from the repository root (the config path is relative)
    try:
        for values in combos:
            command = _agent_command(config, values)
            assert command[0] == SCRIPT and command[1] == "fit"
            with pytest.raises(SystemExit) as exit_:
                main([*command[1:], "--print_config"])
            assert exit_.value.code in (None, 0), values
            printed = yaml.safe_load(capsys.readouterr().out)
            assert printed["trainer"]["logger"]["class_path"] == "lightning.pytorch.loggers.WandbLogger"
            assert printed["seed_everything"] == values["seed_everything"]
            for key in ("gp_weight", "n_critic", "penalty_every"):
                assert printed["model"]["init_args"][key] == values[f"model.init_args.{key}"]
    finally:
        os.chdir(cwd)


def test_agent_command_runs_through_the_console_script():
    """The first combination through the installed console script: exit 0 (the agent's exact argv)."""
    config = _config()
    values = {n: spec["values"][0] for n, spec in config["parameters"].items()}
    proc = subprocess.run(
        [*_agent_command(config, values), "--print_config"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "WandbLogger" in proc.stdout
