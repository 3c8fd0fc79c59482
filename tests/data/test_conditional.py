"""Labelled data for conditional GANs: toy mode indices, digit labels, image-folder classes, `num_classes`."""

import pytest
import torch

from lightning_gans.data import TOY_DISTRIBUTIONS, DigitsDataModule, ImageDataModule, ToyDataModule


def test_toy_labels_are_the_mode_each_point_was_drawn_from():
    """Every labelled 8-Gaussians point lies within 5 std of centres[label]; all 8 labels occur."""
    dm = ToyDataModule("8gaussians", batch_size=64, batches_per_epoch=20, conditional=True)
    dm.setup("fit")
    assert dm.num_classes == 8
    toy = TOY_DISTRIBUTIONS["8gaussians"]
    for points, labels in dm.train_dataloader():
        assert points.shape == (64, 2) and labels.shape == (64,) and labels.dtype == torch.long
        assert ((points - toy.centers[labels]).norm(dim=1) < 5 * toy.std).all()
    assert set(dm._data.labels.flatten().tolist()) == set(range(8))


def test_conditional_toy_points_equal_the_unconditional_ones():
    """Labels are added to the very same points (same seed, same RNG stream): unconditional runs are unchanged."""
    plain = ToyDataModule("25gaussians", batch_size=16, batches_per_epoch=5, seed=3)
    labelled = ToyDataModule("25gaussians", batch_size=16, batches_per_epoch=5, seed=3, conditional=True)
    plain.setup("fit"), labelled.setup("fit")
    assert torch.equal(plain._data.batches, labelled._data.batches)
    assert plain.num_classes is None and labelled.num_classes == 25
    assert isinstance(next(iter(plain.train_dataloader())), torch.Tensor)  # no labels unless asked for


def test_toy_conditional_needs_modes():
    """The Swiss roll has no modes: `conditional`=True is an error naming the argument."""
    with pytest.raises(ValueError, match="`conditional`"):
        ToyDataModule("swissroll", conditional=True)
    with pytest.raises(TypeError, match="`conditional`"):
        ToyDataModule(conditional=1)


def test_digits_num_classes_follows_conditional():
    """Digits always carry labels 0-9; `num_classes` is 10 only when conditional."""
    assert DigitsDataModule().num_classes is None
    dm = DigitsDataModule(batch_size=16, conditional=True)
    assert dm.num_classes == 10
    dm.setup("fit")
    _, labels = next(iter(dm.train_dataloader()))
    assert labels.dtype == torch.long and labels.min() >= 0 and labels.max() < 10
    with pytest.raises(TypeError, match="`conditional`"):
        DigitsDataModule(conditional="yes")


def test_image_folder_yields_sub_folder_classes(tmp_path):
    """A folder with sub-folders a/, b/, c/: num_classes 3 and each image labelled by its sorted sub-folder index."""
    from PIL import Image

    for name in "cab":  # created out of order: labels follow the sorted names
        (tmp_path / name).mkdir()
        value = {"a": 0, "b": 128, "c": 255}[name]
        for i in range(2):
            Image.fromarray(torch.full((8, 8, 3), value, dtype=torch.uint8).numpy()).save(tmp_path / name / f"{i}.png")
    dm = ImageDataModule(str(tmp_path), dataset="folder", image_size=8, channels=1, batch_size=6, conditional=True)
    assert dm.num_classes == 3
    dm.setup("fit")
    images, labels = next(iter(dm.train_dataloader()))
    means = images.mean(dim=(1, 2, 3))
    for label, level in ((0, -1.0), (1, 128 / 127.5 - 1), (2, 1.0)):  # a: black, b: grey, c: white
        assert torch.allclose(means[labels == label], torch.tensor(level), atol=0.02)
    assert ImageDataModule(str(tmp_path), dataset="folder").num_classes is None
    assert ImageDataModule(str(tmp_path), dataset="CIFAR100", conditional=True).num_classes == 100


def test_image_folder_without_classes_names_root(tmp_path):
    """num_classes of an empty folder: an error naming `root` and what it lacks."""
    with pytest.raises(ValueError, match=r"`root`.*holds no image"):
        _ = ImageDataModule(str(tmp_path), dataset="folder", conditional=True).num_classes
