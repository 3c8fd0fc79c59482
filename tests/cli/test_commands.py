"""`lightning-gans sample` and `lightning-gans evaluate`, run as users run them: the console script in a subprocess."""

from __future__ import annotations

import csv
import glob
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from lightning_gans.cli import main

SCRIPT = str(Path(sys.executable).with_name("lightning-gans"))

FAULT_TESTS = (  # counted by scripts/count_fault_tests.py
    "test_bad_input_is_an_error_naming_the_argument",
    "test_labels_for_an_unconditional_model_are_refused",
    "test_validate_test_predict_are_not_offered",
    "test_validate_refused_by_the_console_script",
    "test_help_lists_every_command_and_unknown_or_missing_commands_name_them",
    "test_labels_all_needs_num_a_multiple_of_the_classes",
    "test_value_range_that_the_generator_exceeds_is_refused",
    "test_sample_into_a_folder_of_older_samples_needs_overwrite",
    "test_extensions_mean_their_format",
    "test_sample_folder_then_evaluate_it_against_digits",
    "test_fake_folder_with_other_files_or_mixed_sizes_names_the_file",
    "test_export_refuses_a_folder_with_files_and_bad_metrics_json",
)

CONFIG = """
seed_everything: 0
trainer:
  accelerator: cpu
  devices: 1
  max_steps: 12          # 2 generator steps x (n_critic 5 + 1)
  log_every_n_steps: 6
  enable_model_summary: false
  enable_progress_bar: false
  logger:
    class_path: lightning.pytorch.loggers.CSVLogger
    init_args: {save_dir: SAVE_DIR}
  callbacks:
    - class_path: lightning_gans.callbacks.GANMetrics
      init_args: {feature_extractor: digits, num_samples: 200, every_n_epochs: null, kid_subset_size: 100, kid_subsets: 10}
    - class_path: lightning_gans.callbacks.GeneratorEMA
      init_args: {decay: 0.5}
model:
  class_path: lightning_gans.WGANGP
  init_args:
    latent_dim: 8
    generator:
      class_path: lightning_gans.nets.DCGANGenerator
      init_args: {latent_dim: 8, image_size: 8, channels: 1, base_channels: 8}
    critic:
      class_path: lightning_gans.nets.DCGANCritic
      init_args: {image_size: 8, channels: 1, base_channels: 8, norm: layer}
data:
  class_path: lightning_gans.DigitsDataModule
  init_args: {batch_size: 16, image_size: 8}
"""


def _env(tmp: Path) -> dict:
    # TORCH_HOME: the real-statistics cache lives under it; one thread: 2 cores shared by many processes
    return {
        **os.environ,
        "TORCH_HOME": str(tmp / "torch_home"),
        "OMP_NUM_THREADS": "1",
        "PYTHONWARNINGS": "ignore::DeprecationWarning",
    }


def _run(tmp: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([SCRIPT, *args], capture_output=True, text=True, env=_env(tmp), cwd=tmp, timeout=300)


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    """A 12-step WGAN-GP digits run with GANMetrics and GeneratorEMA, made by `lightning-gans fit`."""
    tmp = tmp_path_factory.mktemp("digits_run")
    config = tmp / "config.yaml"
    config.write_text(CONFIG.replace("SAVE_DIR", str(tmp / "logs")))
    proc = _run(tmp, "fit", "--config", str(config))
    assert proc.returncode == 0, proc.stderr[-3000:]
    (ckpt,) = glob.glob(str(tmp / "logs" / "**" / "last.ckpt"), recursive=True)  # the CLI keeps last.ckpt too
    (metrics_csv,) = glob.glob(str(tmp / "logs" / "**" / "metrics.csv"), recursive=True)
    with open(metrics_csv) as f:
        logged = {k: float(v) for row in csv.DictReader(f) for k, v in row.items() if k.startswith("eval/") and v}
    return tmp, ckpt, logged, proc


def test_sample_writes_a_grid_of_at_least_256_pixels(digits_run):
    """`sample --out x.png` exits 0 and writes one RGB grid PNG; 64 8x8 digits are upscaled to >= 256 px a side."""
    from torchvision.io import read_image

    tmp, ckpt, _, _ = digits_run
    proc = _run(tmp, "sample", "--ckpt_path", ckpt, "--num", "64", "--out", "grid.png")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "from the EMA generator" in proc.stdout
    image = read_image(str(tmp / "grid.png"))
    assert image.shape[0] == 3 and min(image.shape[1:]) >= 256
    assert image.shape[1] < 2 * 256  # upscaled by the smallest factor that reaches 256, not more


def test_sample_folder_and_npz_are_reproducible(digits_run):
    """`--out DIR/` writes --num 8x8 PNGs; `--out x.npz` holds the same samples (same --seed) in the generator's range."""
    from torchvision.io import read_image

    tmp, ckpt, _, _ = digits_run
    for out in ("pngs/", "samples.npz"):
        proc = _run(tmp, "sample", "--ckpt_path", ckpt, "--num", "5", "--seed", "3", "--out", out)
        assert proc.returncode == 0, proc.stderr[-3000:]
    files = sorted(os.listdir(tmp / "pngs"))
    assert files == [f"{i:05d}.png" for i in range(5)]
    samples = np.load(tmp / "samples.npz")["samples"]
    assert samples.shape == (5, 1, 8, 8) and samples.dtype == np.float32
    assert samples.min() >= -1 and samples.max() <= 1
    first = read_image(str(tmp / "pngs" / files[0]))  # (1, 8, 8) uint8: grey written as grey
    expected = np.round((samples[0, 0] + 1) / 2 * 255)
    assert first.shape == (1, 8, 8) and np.abs(first[0].numpy() - expected).max() <= 1


def test_sample_uses_ema_unless_told_otherwise(digits_run, tmp_path):
    """The default samples come from the EMA generator (they differ from --no_ema ones, which match the raw generator)."""
    from lightning_gans.callbacks.ema import load_ema_generator
    from lightning_gans.runs import generate, load_run

    _, ckpt, _, _ = digits_run
    run = load_run(ckpt)
    raw = load_run(ckpt, ema=False)
    assert run.ema and not raw.ema
    ema_samples, _ = generate(run.module, 6, seed=1)
    raw_samples, _ = generate(raw.module, 6, seed=1)
    z = raw.module.sample_noise(6, torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert torch.equal(raw_samples, raw.module.generator.eval()(z))
        ema = load_ema_generator(raw.module, ckpt)
        assert torch.equal(ema_samples, ema(z))
    assert not torch.allclose(ema_samples, raw_samples)


def test_evaluate_reproduces_the_metrics_fit_logged(digits_run):
    """`evaluate --ckpt_path X` alone: exit 0, a table, JSON whose every metric (FID, IS, KID, precision, recall,
    density, coverage) equals fit's final eval/*; the real statistics fit cached are read, not recomputed."""
    tmp, ckpt, logged, _ = digits_run
    proc = _run(tmp, "evaluate", "--ckpt_path", ckpt, "--json", "metrics.json")
    assert proc.returncode == 0, proc.stderr[-3000:]
    for label in ("FID", "IS", "KID", "Precision", "Recall", "Density", "Coverage"):
        assert f"\n{label} " in proc.stdout
    out = json.loads((tmp / "metrics.json").read_text())
    metrics, settings = out["metrics"], out["settings"]
    for key in ("fid", "is", "kid", "precision", "recall", "density", "coverage"):  # one Evaluator behind both
        assert metrics[key] == pytest.approx(logged[f"eval/{key}"], rel=1e-5)  # the CSV holds float32
    assert 0 <= metrics["precision"] <= 1 and 0 <= metrics["recall"] <= 1
    assert settings["n_fake"] == 200 and settings["n_real"] == 1797
    assert settings["real_statistics"].startswith("read from ")


def test_evaluate_folder_against_itself(digits_run):
    """`evaluate --fake DIR --real DIR` on the same 200 digit PNGs: exit 0, FID ~ 0, precision = recall = 1."""
    from torchvision.io import write_png

    from lightning_gans.data.digits import load_digits_tensor

    tmp, _, _, _ = digits_run
    folder = tmp / "real_digits"
    folder.mkdir(exist_ok=True)
    images, _ = load_digits_tensor(8)
    for i, image in enumerate(images[:200]):
        write_png(((image + 1) / 2 * 255).round().to(torch.uint8), str(folder / f"{i:04d}.png"))
    proc = _run(
        tmp,
        "evaluate",
        "--fake",
        str(folder),
        "--real",
        str(folder),
        "--feature_extractor",
        "digits",
        "--json",
        "-",
        "--no_cache",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout[proc.stdout.index("{") :])
    assert result["settings"]["n_fake"] == result["settings"]["n_real"] == 200
    assert result["settings"]["feature_extractor"].startswith("digits-classifier@")
    metrics = result["metrics"]
    assert abs(metrics["fid"]) < 1e-6 and metrics["precision"] == 1.0 and metrics["recall"] == 1.0


def test_bad_input_is_an_error_naming_the_argument(tmp_path, capsys):
    """A missing checkpoint, labels for an unconditional model and no input at all: exit 2 with the argument named."""
    assert main(["sample", "--ckpt_path", str(tmp_path / "nope.ckpt")]) == 2
    assert "`--ckpt_path`" in capsys.readouterr().err
    assert main(["evaluate"]) == 2
    assert "`--ckpt_path`" in capsys.readouterr().err
    assert main(["sample", "--ckpt_path", "x", "--num", "0"]) == 2
    assert "`--num` must be >= 1" in capsys.readouterr().err


def test_labels_for_an_unconditional_model_are_refused(digits_run, capsys):
    """`--labels` on an unconditional checkpoint names `--labels`."""
    _, ckpt, _, _ = digits_run
    assert main(["sample", "--ckpt_path", ckpt, "--labels", "3", "--out", "x.npz"]) == 2
    assert "`--labels` is for conditional models" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["validate", "test", "predict"])
def test_validate_test_predict_are_not_offered(name, capsys):
    """They exit 2 before any work, pointing to `evaluate` (GAN modules have no such step)."""
    assert main([name, "--config", "whatever.yaml"]) == 2
    assert "lightning-gans evaluate" in capsys.readouterr().err


def test_validate_refused_by_the_console_script(tmp_path):
    """The installed script exits 2 on `validate` with the message on stderr."""
    proc = _run(tmp_path, "validate")
    assert proc.returncode == 2 and "is not offered" in proc.stderr


def test_conditional_labels_all_gives_one_row_per_class(tmp_path):
    """`--labels all` for 10 classes and 20 samples: labels 0,0,1,1,...; samples equal generate(z, labels); the PNG
    folder names carry the class; a label outside [0, 10) is refused naming `--labels`."""
    from lightning_gans import GAN
    from lightning_gans.commands._run import CommandError, parse_labels
    from lightning_gans.commands.sample import write_samples
    from lightning_gans.nets import DCGANCritic, DCGANGenerator
    from lightning_gans.runs import generate

    model = GAN(
        DCGANGenerator(8, 8, 1, 8, num_classes=10), DCGANCritic(8, 1, 8, num_classes=10), latent_dim=8, num_classes=10
    )
    labels = parse_labels("all", 20, 10)
    assert labels.tolist() == [c for c in range(10) for _ in range(2)]
    assert parse_labels("3,4", 5, 10).tolist() == [3, 4, 3, 4, 3]
    samples, out_labels = generate(model, 20, seed=5, labels=labels, batch_size=7)  # batching must not matter
    z = model.sample_noise(20, torch.Generator().manual_seed(5))
    with torch.no_grad():
        assert torch.allclose(samples, model.generator.eval()(z, labels), atol=1e-6)
    paths = write_samples(samples, out_labels, str(tmp_path / "pngs") + "/", (-1.0, 1.0))
    assert os.path.basename(paths[3]) == "00003_class1.png" and len(paths) == 20
    with pytest.raises(CommandError, match=r"`--labels` '10': every label must be in \[0, 10\)"):
        parse_labels("10", 4, 10)
    drawn, drawn_labels = generate(model, 6, seed=1)  # no --labels: uniform labels from the seed
    assert drawn_labels is not None and drawn_labels.shape == (6,) and drawn.shape == (6, 1, 8, 8)


def test_help_lists_every_command_and_unknown_or_missing_commands_name_them(tmp_path):
    """`lightning-gans --help` names fit, sample, evaluate and export (exit 0); no command or a wrong one exits 2 naming them.

    Catches: a help that lists only LightningCLI's subcommands (sample/evaluate/export were invisible),
    or a misspelt command answered with "choose from 'fit'".
    """
    help_ = _run(tmp_path, "--help")
    assert help_.returncode == 0, help_.stderr
    for name in ("fit", "sample --ckpt_path", "evaluate --ckpt_path", "export --ckpt_path"):
        assert f"`{name}" in " ".join(help_.stdout.split()), help_.stdout
    for args in ([], ["evalute"]):
        proc = _run(tmp_path, *args)
        assert proc.returncode == 2 and "fit, sample, evaluate, export" in proc.stderr, (args, proc.stderr)


# ------------------------------------------------------------------------------------------------
# Faults at the edges of the commands: each checked before a file is written, with exit 2 naming the argument
def test_labels_all_needs_num_a_multiple_of_the_classes():
    """`--labels all --num 15` with 10 classes is refused naming the multiples 10 and 20 (it used to leave out classes
    8 and 9); `--num 5` names 10; a multiple gives each class the same count, one block per class.

    Decision: refuse rather than cover unevenly, because `--labels all` promises one grid row per class and
    class-balanced samples (what a per-class evaluation of the folder needs)."""
    from lightning_gans.commands._run import CommandError, parse_labels

    with pytest.raises(CommandError, match=r"`--num` must be a multiple of 10; got 15 \(use 10 or 20\)"):
        parse_labels("all", 15, 10)
    with pytest.raises(CommandError, match=r"got 5 \(use 10\)"):
        parse_labels("all", 5, 10)
    labels = parse_labels("all", 30, 10)
    assert torch.bincount(labels).tolist() == [3] * 10 and labels.tolist() == sorted(labels.tolist())


def test_value_range_that_the_generator_exceeds_is_refused(digits_run, capsys):
    """`--value_range 0 1` on a tanh generator: exit 2 naming `--value_range` and the range the samples span; no file
    (it used to write 97 % black pixels); `.npz` (raw values, nothing clipped) is still written."""
    tmp, ckpt, _, _ = digits_run
    out = tmp / "range.png"
    assert main(["sample", "--ckpt_path", ckpt, "--num", "16", "--value_range", "0", "1", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "the generator's samples have values in [-" in err and "outside `--value_range`=(0, 1)" in err
    assert "writing them as images would clip them" in err
    assert not out.exists()
    raw = tmp / "range.npz"
    assert main(["sample", "--ckpt_path", ckpt, "--num", "4", "--value_range", "0", "1", "--out", str(raw)]) == 0
    assert raw.exists()


def test_sample_into_a_folder_of_older_samples_needs_overwrite(digits_run, capsys):
    """`--out DIR/` holding older files: exit 2 naming `--out` and a file, nothing written; `--overwrite` replaces the
    earlier samples, so the folder holds exactly the new --num files."""
    tmp, ckpt, _, _ = digits_run
    folder = tmp / "older"
    assert main(["sample", "--ckpt_path", ckpt, "--num", "6", "--out", f"{folder}/"]) == 0
    assert main(["sample", "--ckpt_path", ckpt, "--num", "3", "--seed", "1", "--out", f"{folder}/"]) == 2
    assert "`--out`" in (err := capsys.readouterr().err) and "already holds 6 file(s) ('00000.png', ...)" in err
    assert len(os.listdir(folder)) == 6
    args = ["sample", "--ckpt_path", ckpt, "--num", "3", "--seed", "1", "--out", f"{folder}/", "--overwrite"]
    assert main(args) == 0
    assert sorted(os.listdir(folder)) == ["00000.png", "00001.png", "00002.png"]


def test_extensions_mean_their_format(digits_run, capsys):
    """`--out x.jpg` writes a JPEG (its magic bytes), `x.png` a PNG; `--out x.gif`, `--out x` and `--json x.txt`
    are refused with exit 2 naming the argument, before any work; an existing file needs --overwrite."""
    tmp, ckpt, _, _ = digits_run
    assert main(["sample", "--ckpt_path", ckpt, "--num", "4", "--out", str(tmp / "g.jpg")]) == 0
    assert (tmp / "g.jpg").read_bytes()[:3] == b"\xff\xd8\xff"
    assert main(["sample", "--ckpt_path", ckpt, "--num", "4", "--out", str(tmp / "g.jpg")]) == 2
    assert "already exists" in capsys.readouterr().err
    for out in ("g.gif", "g"):
        assert main(["sample", "--ckpt_path", ckpt, "--out", str(tmp / out)]) == 2
        assert "`--out`" in (err := capsys.readouterr().err) and "is not one of .png" in err
        assert not (tmp / out).exists()
    assert main(["evaluate", "--fake", str(tmp), "--real", "digits", "--json", str(tmp / "m.txt")]) == 2
    assert "`--json`" in (err := capsys.readouterr().err) and "'.txt' is not one of .json" in err


@pytest.mark.slow  # two console-script starts: ~20 s on 2 cores
def test_sample_folder_then_evaluate_it_against_digits(digits_run):
    """The documented pipeline as subprocesses: `sample --out DIR/` (grey PNGs) then `evaluate --fake DIR/ --real
    digits` exits 0 with 200 generated images (grey samples written as RGB used to fail with an error blaming the
    generator)."""
    tmp, ckpt, _, _ = digits_run
    proc = _run(tmp, "sample", "--ckpt_path", ckpt, "--num", "200", "--out", "pipeline/")
    assert proc.returncode == 0, proc.stderr[-3000:]
    proc = _run(tmp, "evaluate", "--fake", "pipeline/", "--real", "digits", "--json", "-", "--no_cache")
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout[proc.stdout.index("{") :])
    assert result["settings"]["n_fake"] == 200 and result["settings"]["n_real"] == 1797
    assert result["metrics"]["fid"] > 0


def test_fake_folder_with_other_files_or_mixed_sizes_names_the_file(tmp_path, capsys):
    """`--fake` with a notes.txt or with one 16x16 image among 8x8 ones: exit 2 naming that file."""
    from PIL import Image

    folder = tmp_path / "fake"
    folder.mkdir()
    for i in range(3):
        Image.new("L", (8, 8), 40 * i).save(folder / f"{i}.png")
    (folder / "notes.txt").write_text("samples of run 3")
    assert main(["evaluate", "--fake", str(folder), "--real", "digits"]) == 2
    assert f"{str(folder / 'notes.txt')!r} is not an image file" in capsys.readouterr().err
    (folder / "notes.txt").unlink()
    Image.new("L", (16, 16)).save(folder / "big.png")
    assert main(["evaluate", "--fake", str(folder), "--real", "digits"]) == 2
    err = capsys.readouterr().err
    assert f"{str(folder / 'big.png')!r} is an image of (C, H, W) (1, 16, 16), but" in err and "(1, 8, 8)" in err


def test_export_refuses_a_folder_with_files_and_bad_metrics_json(digits_run, tmp_path, capsys):
    """`export --out DIR` holding files: exit 2 naming `--out` (`--overwrite` writes); a cut `--metrics` file: exit 2
    naming `--metrics` as invalid JSON, not a JSONDecodeError traceback."""
    pytest.importorskip("huggingface_hub")
    _, ckpt, _, _ = digits_run
    out = tmp_path / "hub"
    out.mkdir()
    (out / "old.txt").write_text("x")
    assert main(["export", "--ckpt_path", ckpt, "--out", str(out)]) == 2
    assert "`--out`" in (err := capsys.readouterr().err) and "already holds 1 file(s)" in err
    (tmp_path / "cut.json").write_text('{"metrics": {"fid": 1')
    assert (
        main(["export", "--ckpt_path", ckpt, "--out", str(tmp_path / "new"), "--metrics", str(tmp_path / "cut.json")])
        == 2
    )
    assert "`--metrics`" in (err := capsys.readouterr().err) and "is not valid JSON" in err
    assert main(["export", "--ckpt_path", ckpt, "--out", str(out), "--overwrite"]) == 0
    assert (out / "model.safetensors").exists()
