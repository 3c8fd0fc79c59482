"""The datamodules: toy distributions, embedded digits, and the offline error for missing image data."""

import pytest
import torch

from lightning_gans.data import (
    TOY_DISTRIBUTIONS,
    DigitsDataModule,
    ImageDataModule,
    ToyDataModule,
    load_digits_tensor,
    mode_coverage,
)


def test_eight_gaussians_match_the_paper_constants():
    """8 modes on a circle of radius 2/1.414 with std 0.02/1.414; samples sit within 3 std of a centre 99%+."""
    toy = TOY_DISTRIBUTIONS["8gaussians"]
    assert toy.centers.norm(dim=1).allclose(torch.full((8,), 2 / 1.414))
    assert toy.std == pytest.approx(0.02 / 1.414)
    x = toy.sample(20000, torch.Generator().manual_seed(0))
    modes, quality = mode_coverage(x, toy.centers, toy.std)
    assert modes == 8 and quality > 0.98  # 3 sigma in 2-D holds 98.9%


def test_twenty_five_gaussians_grid():
    """25 modes on a 5x5 grid; real samples cover all of them."""
    toy = TOY_DISTRIBUTIONS["25gaussians"]
    assert len(toy.centers) == 25
    assert mode_coverage(toy.sample(20000, torch.Generator().manual_seed(0)), toy.centers, toy.std)[0] == 25


def test_mode_coverage_of_a_collapsed_sampler():
    """All samples on one centre: 1 mode covered, all high quality; samples far away: 0 modes."""
    toy = TOY_DISTRIBUTIONS["8gaussians"]
    assert mode_coverage(toy.centers[:1].expand(100, 2), toy.centers, toy.std) == (1, 1.0)
    assert mode_coverage(torch.zeros(100, 2), toy.centers, toy.std) == (0, 0.0)


def test_toy_datamodule_is_seeded_and_batched():
    """Same seed, same data; batches of (batch_size, 2); an epoch is batches_per_epoch batches."""
    a, b = (
        ToyDataModule("swissroll", batch_size=8, batches_per_epoch=3, seed=1),
        ToyDataModule("swissroll", batch_size=8, batches_per_epoch=3, seed=1),
    )
    a.setup("fit"), b.setup("fit")
    batches = list(a.train_dataloader())
    assert len(batches) == 3 and batches[0].shape == (8, 2)
    assert torch.equal(torch.sort(a._data.batches.flatten())[0], torch.sort(b._data.batches.flatten())[0])


def test_digits_are_embedded_and_scaled():
    """1,797 digits in [-1, 1], 8x8 natively or upsampled, with labels 0-9."""
    x, y = load_digits_tensor()
    assert x.shape == (1797, 1, 8, 8) and x.min() == -1.0 and x.max() == 1.0
    assert set(y.tolist()) == set(range(10))
    assert load_digits_tensor(16)[0].shape == (1797, 1, 16, 16)
    dm = DigitsDataModule(batch_size=32)
    dm.setup("fit")
    images, labels = next(iter(dm.train_dataloader()))
    assert images.shape == (32, 1, 8, 8) and labels.shape == (32,)


def test_missing_image_dataset_gives_offline_error(tmp_path):
    """No local copy and download=False: a FileNotFoundError naming `root` and `download=True`."""
    dm = ImageDataModule(str(tmp_path), dataset="MNIST", image_size=32, channels=1)
    with pytest.raises(FileNotFoundError, match=r"`root`=.*no MNIST.*`download=True`"):
        dm.setup("fit")
    with pytest.raises(FileNotFoundError, match=r"`root` '.*absent' does not exist"):
        ImageDataModule(str(tmp_path / "absent"), dataset="folder").setup("fit")


def test_image_folder_loads_and_scales(tmp_path):
    """An ImageFolder of PNGs loads as (N, C, S, S) in [-1, 1] with the requested channels."""
    from PIL import Image

    (tmp_path / "cls").mkdir()
    for i in range(4):
        Image.fromarray((torch.rand(20, 24, 3) * 255).byte().numpy()).save(tmp_path / "cls" / f"{i}.png")
    dm = ImageDataModule(str(tmp_path), dataset="folder", image_size=16, channels=1, batch_size=2)
    dm.setup("fit")
    images, _ = next(iter(dm.train_dataloader()))
    assert images.shape == (2, 1, 16, 16) and images.min() >= -1 and images.max() <= 1


def test_toy_datamodules_pickle_for_ddp_spawn():
    """Every toy datamodule pickles (ddp_spawn sends it to the workers) and samples the same after a round trip."""
    import pickle

    for name in TOY_DISTRIBUTIONS:
        dm = pickle.loads(pickle.dumps(ToyDataModule(name, batch_size=4, batches_per_epoch=2)))
        x = dm.distribution.sample(5, torch.Generator().manual_seed(0))
        assert torch.equal(x, TOY_DISTRIBUTIONS[name].sample(5, torch.Generator().manual_seed(0)))
