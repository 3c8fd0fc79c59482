"""PretrainedGenerator: save_pretrained / from_pretrained round trips offline on a local directory, with a model card."""

from __future__ import annotations

import glob
import json
import re
from pathlib import Path

import pytest
import torch

pytest.importorskip("huggingface_hub")
pytest.importorskip("safetensors")

from lightning_gans import GAN
from lightning_gans.cli import main
from lightning_gans.hub import PretrainedGenerator
from lightning_gans.nets import DCGANCritic, DCGANGenerator

FAULT_TESTS = (  # counted by scripts/count_fault_tests.py
    "test_python_module_without_config_is_an_error_naming_the_argument",
    "test_legacy_spectral_norm_hook_is_refused_with_a_clear_error",
    "test_folder_without_config_json_names_it",
    "test_cut_config_json_names_it",
    "test_truncated_weights_name_the_file",
    "test_init_args_that_do_not_build_the_saved_weights_name_both_files",
    "test_model_card_metadata_has_license_and_model_index",
)

DCGAN_8 = {
    "class_path": "lightning_gans.nets.DCGANGenerator",
    "init_args": {"latent_dim": 8, "image_size": 8, "channels": 1, "base_channels": 8},
}


def test_round_trip_through_a_local_directory(tmp_path):
    """save_pretrained writes weights, config and card; from_pretrained rebuilds a generator with identical outputs."""
    torch.manual_seed(0)
    module = GAN(DCGANGenerator(8, 8, 1, 8), DCGANCritic(8, 1, 8), latent_dim=8)
    generator = PretrainedGenerator.from_module(module, generator_config=DCGAN_8, metrics={"fid": 3.25})
    generator.save_pretrained(tmp_path / "gan")
    assert sorted(p.name for p in (tmp_path / "gan").iterdir()) == ["README.md", "config.json", "model.safetensors"]
    loaded = PretrainedGenerator.from_pretrained(tmp_path / "gan")  # a local path: no network
    z = torch.randn(5, 8)
    with torch.no_grad():
        assert torch.equal(loaded(z), module.generator.eval()(z))
    assert loaded.latent_dim == 8 and loaded.num_classes is None and loaded.metrics == {"fid": 3.25}
    rng = lambda: torch.Generator().manual_seed(1)  # noqa: E731
    assert torch.equal(loaded.sample(3, rng=rng()), generator.sample(3, rng=rng()))


def test_ema_weights_are_exported_by_default():
    """With an EMA generator set, from_module copies its weights (ema=False copies the raw generator's)."""
    torch.manual_seed(0)
    module = GAN(DCGANGenerator(8, 8, 1, 8), DCGANCritic(8, 1, 8), latent_dim=8)
    ema = DCGANGenerator(8, 8, 1, 8)  # different random weights stand in for an average
    object.__setattr__(module, "ema_generator", ema)
    z = torch.randn(4, 8)
    with torch.no_grad():
        assert torch.equal(PretrainedGenerator.from_module(module, generator_config=DCGAN_8)(z), ema.eval()(z))
        raw = PretrainedGenerator.from_module(module, generator_config=DCGAN_8, ema=False)
        assert torch.equal(raw(z), module.generator.eval()(z))
    assert PretrainedGenerator.from_module(module, generator_config=DCGAN_8).source == "EMA generator of a GAN"


def test_conditional_generator_needs_labels(tmp_path):
    """A conditional generator round-trips with num_classes; calling it without labels names `labels`."""
    config = {**DCGAN_8, "init_args": {**DCGAN_8["init_args"], "num_classes": 3}}
    generator = PretrainedGenerator(config, latent_dim=8, num_classes=3)
    generator.save_pretrained(tmp_path / "cgan")
    loaded = PretrainedGenerator.from_pretrained(tmp_path / "cgan")
    z, labels = torch.randn(6, 8), torch.tensor([0, 1, 2, 0, 1, 2])
    assert torch.equal(loaded(z, labels), generator(z, labels))
    assert loaded.sample(4).shape == (4, 1, 8, 8)
    with pytest.raises(ValueError, match=r"`labels` are required: this generator is conditional \(`num_classes`=3\)"):
        loaded(z)


def test_python_module_without_config_is_an_error_naming_the_argument():
    """A module built in Python records no generator config: from_module asks for `generator_config`."""
    module = GAN(DCGANGenerator(8, 8, 1, 8), DCGANCritic(8, 1, 8), latent_dim=8)
    with pytest.raises(ValueError, match="`generator_config` is needed"):
        PretrainedGenerator.from_module(module)
    with pytest.raises(ValueError, match="`generator` must be a dict with `class_path`"):
        PretrainedGenerator({"init_args": {}}, latent_dim=8)
    with pytest.raises(ValueError, match=r"is not an nn.Module class"):
        PretrainedGenerator({"class_path": "collections.OrderedDict"}, latent_dim=8)


def test_export_command_writes_a_card_with_config_and_metrics(tmp_path, capsys):
    """`lightning-gans export` on a CLI checkpoint: exit 0; the card holds the run's YAML config and the metrics
    table from `--metrics`; the exported generator equals the checkpoint's EMA generator."""
    from lightning_gans.runs import load_run

    config = Path(__file__).resolve().parents[1] / "examples" / "wgangp_digits.yaml"
    main(
        [
            "fit",
            "--config",
            str(config),
            "--trainer.default_root_dir",
            str(tmp_path),
            "--trainer.max_steps",
            "12",
            "--trainer.enable_progress_bar",
            "false",
            "--data.init_args.batch_size",
            "16",
            "--trainer.callbacks+=lightning_gans.callbacks.GeneratorEMA",
            "--trainer.callbacks.decay",
            "0.5",
        ]
    )
    (ckpt,) = glob.glob(str(tmp_path / "**" / "last.ckpt"), recursive=True)  # the CLI keeps last.ckpt too
    (tmp_path / "metrics.json").write_text(json.dumps({"metrics": {"fid": 42.5, "precision": 0.25}}))
    assert (
        main(
            ["export", "--ckpt_path", ckpt, "--out", str(tmp_path / "hub"), "--metrics", str(tmp_path / "metrics.json")]
        )
        == 0
    )
    assert "Saved the EMA generator of a WGANGP" in capsys.readouterr().out
    card = (tmp_path / "hub" / "README.md").read_text()
    assert "library_name: lightning-gans" in card and "class_path: lightning_gans.WGANGP" in card
    assert re.search(r"^ +FID +42\.5000$", card, re.M) and re.search(r"^ +Precision +0\.2500$", card, re.M)
    loaded = PretrainedGenerator.from_pretrained(tmp_path / "hub")
    run = load_run(ckpt)
    z = torch.randn(3, loaded.latent_dim)
    with torch.no_grad():
        assert torch.equal(loaded(z), run.module.ema_generator(z))
    assert (
        main(["export", "--ckpt_path", ckpt, "--out", str(tmp_path / "x"), "--metrics", str(tmp_path / "none.json")])
        == 2
    )
    assert "`--metrics`" in capsys.readouterr().err


def test_spectral_normed_generator_exports_its_normalised_weights(tmp_path):
    """A generator under `SpectralNorm(generator=True)` exports as a plain net with the same eval-mode outputs.

    Catches: loading ``parametrizations.weight.original`` into a plain generator (a key error, as
    before), exporting the raw weight W instead of W / sigma(W) (outputs would differ), or folding the
    norm by removing the parametrization from a copy (torch shares the parametrized class, so the
    trained net would lose its ``weight``).
    """
    from lightning_gans.layers import apply_spectral_norm, is_spectral_normed

    torch.manual_seed(0)
    module = GAN(DCGANGenerator(8, 8, 1, 8), DCGANCritic(8, 1, 8), latent_dim=8)
    apply_spectral_norm(module.generator)
    module.generator.train()
    for _ in range(3):  # training-mode forwards move u/v away from their initial values
        module.generator(torch.randn(16, 8))
    generator = PretrainedGenerator.from_module(module, generator_config=DCGAN_8)
    assert module.generator.training  # mode restored
    generator.save_pretrained(tmp_path / "sn")
    loaded = PretrainedGenerator.from_pretrained(tmp_path / "sn")
    assert not any(is_spectral_normed(m) for m in loaded.modules())
    assert any(is_spectral_normed(m) for m in module.generator.modules())  # the trained net is left as it was
    z = torch.randn(5, 8)
    with torch.no_grad():
        torch.testing.assert_close(loaded(z), module.generator.eval()(z), rtol=1e-5, atol=1e-6)
        unnormalised = DCGANGenerator(8, 8, 1, 8)
        unnormalised.load_state_dict(
            {
                k.replace("parametrizations.weight.original", "weight"): v
                for k, v in module.generator.state_dict().items()
                if not k.endswith(("_u", "_v"))
            }
        )
        assert not torch.allclose(unnormalised.eval()(z), loaded(z), atol=1e-3)  # the raw W would give other images


def test_legacy_spectral_norm_hook_is_refused_with_a_clear_error():
    """torch's deprecated hook version of spectral norm is named in a ValueError, not a key error at load time."""
    torch.manual_seed(0)
    module = GAN(DCGANGenerator(8, 8, 1, 8), DCGANCritic(8, 1, 8), latent_dim=8)
    torch.nn.utils.spectral_norm(module.generator.net[0])
    with pytest.raises(ValueError, match="deprecated hook version"):
        PretrainedGenerator.from_module(module, generator_config=DCGAN_8)


# ------------------------------------------------------------------------------------------------
# Broken folders: each an InputError naming the file and what was expected, never a raw traceback
@pytest.fixture
def saved(tmp_path):
    """A saved 8x8 DCGAN generator folder."""
    torch.manual_seed(0)
    PretrainedGenerator(DCGAN_8, latent_dim=8).save_pretrained(tmp_path / "gan")
    return tmp_path / "gan"


def test_folder_without_config_json_names_it(saved):
    """No config.json: a MissingInputError naming the folder and config.json (it used to be a TypeError about `generator`)."""
    from lightning_gans._checks import MissingInputError

    (saved / "config.json").unlink()
    with pytest.raises(MissingInputError, match=rf"'{saved}' holds no config.json \(a folder written by"):
        PretrainedGenerator.from_pretrained(saved)


def test_cut_config_json_names_it(saved):
    """config.json cut in the middle (an interrupted copy): an InputError naming the file as invalid JSON."""
    from lightning_gans._checks import InputError

    text = (saved / "config.json").read_text()
    (saved / "config.json").write_text(text[: len(text) // 2])
    with pytest.raises(InputError, match=r"config.json' is not valid JSON .*the file may be cut"):
        PretrainedGenerator.from_pretrained(saved)
    (saved / "config.json").write_text('{"latent_dim": 8}')  # valid JSON, but not a generator's config
    with pytest.raises(InputError, match=r"config.json' must be a JSON object with `generator`"):
        PretrainedGenerator.from_pretrained(saved)


def test_truncated_weights_name_the_file(saved):
    """model.safetensors cut to half its bytes, or missing: an error naming it (not a SafetensorError traceback)."""
    from lightning_gans._checks import InputError, MissingInputError

    weights = saved / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match=r"model.safetensors' is not a readable safetensors file .*truncated"):
        PretrainedGenerator.from_pretrained(saved)
    weights.unlink()
    with pytest.raises(MissingInputError, match=r"holds no model.safetensors"):
        PretrainedGenerator.from_pretrained(saved)


def test_init_args_that_do_not_build_the_saved_weights_name_both_files(saved):
    """config.json edited to base_channels 16 (weights trained with 8): an InputError naming model.safetensors and
    config.json's `generator`; an unknown init_arg names the class it does not build."""
    from lightning_gans._checks import InputError

    config = json.loads((saved / "config.json").read_text())
    config["generator"]["init_args"]["base_channels"] = 16
    (saved / "config.json").write_text(json.dumps(config))
    with pytest.raises(
        InputError, match=r"model.safetensors' does not fit the generator that config.json's `generator`"
    ):
        PretrainedGenerator.from_pretrained(saved)
    config["generator"]["init_args"] = {**DCGAN_8["init_args"], "widht": 3}
    (saved / "config.json").write_text(json.dumps(config))
    with pytest.raises(InputError, match=r"config.json'.*init_args .* do not build lightning_gans.nets.DCGANGenerator"):
        PretrainedGenerator.from_pretrained(saved)


def test_model_card_metadata_has_license_and_model_index(tmp_path):
    """The README.md front matter parses as YAML with `license` (given, or `other`) and a `model-index` entry per
    metric with its value; a card without metrics has no model-index."""
    import yaml

    torch.manual_seed(0)
    module = GAN(DCGANGenerator(8, 8, 1, 8), DCGANCritic(8, 1, 8), latent_dim=8)
    run_config = {"data": {"class_path": "lightning_gans.DigitsDataModule"}}
    generator = PretrainedGenerator.from_module(
        module, generator_config=DCGAN_8, metrics={"fid": 3.25, "kid": 0.5}, run_config=run_config, license="cc-by-4.0"
    )
    generator.save_pretrained(tmp_path / "gan")
    meta = yaml.safe_load((tmp_path / "gan" / "README.md").read_text().split("---")[1])
    assert meta["license"] == "cc-by-4.0" and meta["library_name"] == "lightning-gans"
    (entry,) = meta["model-index"]
    results = {m["type"]: m["value"] for r in entry["results"] for m in r["metrics"]}
    assert results == {"fid": 3.25, "kid": 0.5}
    assert entry["results"][0]["dataset"]["name"] == "DigitsDataModule"
    assert entry["results"][0]["task"]["type"] == "unconditional-image-generation"
    PretrainedGenerator(DCGAN_8, latent_dim=8).save_pretrained(tmp_path / "plain")
    plain = yaml.safe_load((tmp_path / "plain" / "README.md").read_text().split("---")[1])
    assert plain["license"] == "other" and "model-index" not in plain
    assert PretrainedGenerator.from_pretrained(tmp_path / "gan").license == "cc-by-4.0"
