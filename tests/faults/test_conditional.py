"""Faults of conditional data and nets, augmentation, callbacks and penalty settings: no setting without effect passes.

Each case is an error naming the argument (or file) before the first training step, or a check that a
documented correct behaviour holds (a hidden folder is not a class).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from lightning.pytorch import Trainer
from PIL import Image

from lightning_gans import GAN, WGANGP, DigitsDataModule, ImageDataModule
from lightning_gans._checks import InputError
from lightning_gans.cli import main
from lightning_gans.nets import DCGANCritic, DCGANGenerator, MLPCritic, MLPGenerator
from lightning_gans.nets.conditional import check_nets_num_classes
from tests.conftest import trainer_kwargs

pytestmark = pytest.mark.usefixtures("one_thread")


def _cgan_config(tmp_path, net_classes: int) -> str:
    """A conditional digits CLI config whose nets are built for ``net_classes`` classes (the data has 10)."""
    nets = {"image_size": 8, "channels": 1, "base_channels": 8, "num_classes": net_classes}
    config = {
        "seed_everything": 0,
        "trainer": {
            "accelerator": "cpu",
            "max_steps": 2,
            "logger": False,
            "enable_checkpointing": False,
            "enable_progress_bar": False,
            "enable_model_summary": False,
            "default_root_dir": str(tmp_path / "run"),
        },
        "model": {
            "class_path": "lightning_gans.GAN",
            "init_args": {
                "latent_dim": 8,
                "generator": {
                    "class_path": "lightning_gans.nets.DCGANGenerator",
                    "init_args": {"latent_dim": 8, **nets},
                },
                "critic": {"class_path": "lightning_gans.nets.DCGANCritic", "init_args": nets},
            },
        },
        "data": {
            "class_path": "lightning_gans.DigitsDataModule",
            "init_args": {"batch_size": 16, "image_size": 8, "conditional": True},
        },
    }
    import yaml

    path = tmp_path / "cgan.yaml"
    path.write_text(yaml.safe_dump(config))
    return str(path)


def test_nets_built_for_another_number_of_classes_than_the_data_fail_before_the_first_step(tmp_path):
    """Digits (10 classes) with nets built for 5: an InputError naming `generator`, 5 and 10 in setup; no update
    (it used to be an IndexError from inside torch's embedding at the first batch with a label >= 5)."""
    with pytest.raises(
        InputError, match=r"`generator` \(DCGANGenerator\) was built for `num_classes`=5, but the run has 10"
    ):
        main(["fit", "--config", _cgan_config(tmp_path, 5)])
    (tmp_path / "ok").mkdir()
    assert main(["fit", "--config", _cgan_config(tmp_path / "ok", 10)]) == 0  # the same config with 10 classes trains


def test_check_nets_num_classes_names_the_net_and_both_numbers():
    """A conditional net in an unconditional run, an unconditional one in a conditional run, and a net that records
    nothing (not checked)."""
    with pytest.raises(
        InputError, match=r"`critic` \(MLPCritic\) was built for `num_classes`=3, but the run has unconditional"
    ):
        check_nets_num_classes(None, critic=MLPCritic(num_classes=3))
    with pytest.raises(
        InputError, match=r"`generator` \(MLPGenerator\) was built for `num_classes`=None, but the run has 4"
    ):
        check_nets_num_classes(4, generator=MLPGenerator())
    check_nets_num_classes(4, critic=torch.nn.Linear(2, 1), generator=MLPGenerator(num_classes=4))


def _class_folders(root, classes=("cat", "dog"), n: int = 2):
    for k, name in enumerate(classes):
        (root / name).mkdir(parents=True)
        for i in range(n):
            Image.new("L", (8, 8), 100 * k + 10 * i).save(root / name / f"{i}.png")
    return root


def test_ipynb_checkpoints_folder_is_no_class_and_labels_stay(tmp_path):
    """A `.ipynb_checkpoints` folder (with an image in it) beside cat/ and dog/: 2 classes, cat images label 0 and dog
    images label 1, as without it (it used to become class 0 and shift every label)."""
    root = _class_folders(tmp_path / "pets")
    (root / ".ipynb_checkpoints").mkdir()
    Image.new("L", (8, 8), 255).save(root / ".ipynb_checkpoints" / "0-checkpoint.png")
    data = ImageDataModule(root=str(root), image_size=8, channels=1, batch_size=2, conditional=True)
    assert data.num_classes == 2
    data.setup("fit")
    labels = sorted(int(label) for _, label in data._data)
    assert labels == [0, 0, 1, 1]
    first_dog = next(image for image, label in data._data if label == 1)
    assert torch.allclose(first_dog, torch.full((1, 8, 8), 100 / 255 * 2 - 1), atol=1e-6)


@pytest.mark.parametrize("policy", ["color,color", "translation,cutout,translation"])
def test_a_repeated_diff_augment_op_names_policy(policy):
    """A duplicated DiffAugment op is an error naming `policy` and the repeated op (it would silently double or no-op)."""
    from lightning_gans.callbacks import DiffAugment

    repeated = policy.split(",")[0]
    with pytest.raises(InputError, match=rf"`policy` names '{repeated}' more than once"):
        DiffAugment(policy)


def test_a_repeated_ada_op_names_ops():
    """ada_augment with a repeated op names `ops`."""
    from lightning_gans.augment import ADA_OPS, ada_augment

    with pytest.raises(InputError, match=rf"`ops` names '{ADA_OPS[0]}' more than once"):
        ada_augment(torch.zeros(2, 1, 8, 8), 0.5, ops=(ADA_OPS[0], ADA_OPS[0]))


def _digits_gan():
    return GAN(DCGANGenerator(8, 8, 1, 8), DCGANCritic(8, 1, 8), latent_dim=8)


def test_sample_logger_checks_the_data_in_setup():
    """SampleLogger with `value_range` (0, 1) on [-1, 1] digits, or on a generator of other-sized images: an InputError
    in setup naming the setting; no update is made."""
    from lightning_gans.callbacks import SampleLogger

    model = _digits_gan()
    with pytest.raises(
        InputError, match=r"the training images have values in \[-1, 1\], outside `value_range`=\(0, 1\)"
    ):
        Trainer(**trainer_kwargs(max_steps=2, callbacks=[SampleLogger(value_range=(0, 1))])).fit(
            model, DigitsDataModule(batch_size=16)
        )
    assert model.generator_steps + model.critic_steps == 0
    big = GAN(DCGANGenerator(8, 16, 1, 8), DCGANCritic(16, 1, 8), latent_dim=8)
    with pytest.raises(InputError, match=r"SampleLogger: the training images are \(1, 8, 8\) .* samples \(1, 16, 16\)"):
        Trainer(**trainer_kwargs(max_steps=2, callbacks=[SampleLogger()])).fit(big, DigitsDataModule(batch_size=16))
    assert big.generator_steps + big.critic_steps == 0


def test_sample_logger_refuses_points_in_setup():
    """A toy (2-D points) module under SampleLogger: an error in setup pointing to ToyPlot, not at the first grid."""
    from lightning_gans import ToyDataModule
    from lightning_gans.callbacks import SampleLogger

    model = GAN(MLPGenerator(latent_dim=2, hidden_dim=8), MLPCritic(hidden_dim=8), latent_dim=2)
    with pytest.raises(InputError, match=r"SampleLogger needs images .* for 2-D points use `ToyPlot`"):
        Trainer(**trainer_kwargs(max_steps=2, callbacks=[SampleLogger()])).fit(model, ToyDataModule(batch_size=16))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"penalty_weight": 5.0}, r"`penalty_weight`=5.0 given without a `penalty`"),
        ({"penalty_every": 16}, r"`penalty_every`=16 given without a `penalty`"),
        ({"penalty": "r1"}, r"`penalty` is set but `penalty_weight` is 0"),
    ],
    ids=["weight without penalty", "interval without penalty", "r1 with weight 0"],
)
def test_penalty_settings_without_effect_are_errors(kwargs, match):
    """A penalty weight or interval with no penalty, and a penalty with weight 0 (R1 logged but never trained on)."""
    with pytest.raises(InputError, match=match):
        GAN(MLPGenerator(latent_dim=2, hidden_dim=8), MLPCritic(hidden_dim=8), latent_dim=2, **kwargs)


def test_a_damaged_real_statistics_cache_during_fit_is_named_and_recomputed(tmp_path):
    """A cut cache file under GANMetrics: fit warns naming the file and finishes with the same FID as with a fresh
    cache (it used to die with a bare BadZipFile at the first evaluation)."""
    from lightning_gans.callbacks import GANMetrics

    def run() -> float:
        metrics = GANMetrics(
            feature_extractor="digits",
            num_samples=50,
            kid_subset_size=20,
            kid_subsets=2,
            every_n_epochs=None,
            cache_dir=str(tmp_path / "cache"),
            metrics=["fid"],
        )
        torch.manual_seed(0)
        model = WGANGP(DCGANGenerator(8, 8, 1, 8), DCGANCritic(8, 1, 8, norm="layer"), latent_dim=8, noise_seed=0)
        Trainer(**trainer_kwargs(max_steps=2, callbacks=[metrics])).fit(model, DigitsDataModule(batch_size=16))
        return metrics.last_metrics["eval/fid"]

    first = run()
    (cached,) = list((tmp_path / "cache").rglob("*.*"))
    cached.write_bytes(cached.read_bytes()[:100])
    with pytest.warns(UserWarning, match=r"cache file .* is damaged .* Recomputing"):
        again = run()
    assert again == pytest.approx(first, rel=1e-9)
    assert np.isfinite(first)
