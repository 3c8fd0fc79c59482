"""Data faults: no silent no-ops and no silently wrong images; each error names the argument or the file."""

from __future__ import annotations

import numpy as np
import pytest
from lightning.pytorch import Trainer
from PIL import Image

from lightning_gans import GAN, DigitsDataModule, ImageDataModule
from lightning_gans.nets import MLPCritic, MLPGenerator
from tests.conftest import trainer_kwargs

pytestmark = pytest.mark.usefixtures("one_thread")


def _folder(root, n: int = 3, size: int = 8, mode: str = "RGB"):
    """``n`` PNG files in ``root/a/``; pixel values 0, 40, 80, ... (times 257 for 16-bit modes)."""
    (root / "a").mkdir(parents=True)
    for i in range(n):
        value = (40 * i) % 256
        if mode == "I;16":
            Image.fromarray(np.full((size, size), value * 257, dtype=np.uint16)).save(root / "a" / f"{i}.png")
        else:
            Image.new(mode, (size, size), (value,) * len(mode) if mode == "RGB" else value).save(
                root / "a" / f"{i}.png"
            )
    return root


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda tmp: ImageDataModule(root=str(tmp), image_size=0), "`image_size` must be an integer >= 1, got 0"),
        (lambda tmp: ImageDataModule(root=str(tmp), image_size=32.0), "`image_size` must be an integer >= 1, got 32.0"),
        (lambda tmp: ImageDataModule(root=str(tmp), batch_size=0), "`batch_size` must be an integer >= 1, got 0"),
        (lambda tmp: ImageDataModule(root=str(tmp), num_workers=-1), "`num_workers` must be an integer >= 0, got -1"),
        (lambda tmp: DigitsDataModule(image_size=4), "`image_size` must be an integer >= 8, got 4"),
        (
            lambda tmp: DigitsDataModule(batch_size=1798),
            r"`batch_size`=1798 is larger than the dataset \(1797 digits\)",
        ),
        (lambda tmp: DigitsDataModule(num_workers=-1), "`num_workers` must be an integer >= 0, got -1"),
    ],
    ids=[
        "image_size=0",
        "image_size=32.0",
        "batch_size=0",
        "num_workers=-1",
        "digits image_size=4",
        "digits batch_size=1798",
        "digits num_workers=-1",
    ],
)
def test_bad_datamodule_arguments_fail_at_construction(tmp_path, build, match):
    """Each out-of-range datamodule argument is a ValueError naming it when the datamodule is built, not at the first batch."""
    with pytest.raises(ValueError, match=match):
        build(tmp_path)


def test_batch_size_larger_than_the_image_folder_is_an_error_before_training(tmp_path):
    """3 images with batch_size 4 and drop_last: an error naming `batch_size` in setup, not 0 updates and exit 0."""
    data = ImageDataModule(root=str(_folder(tmp_path)), image_size=8, channels=1, batch_size=4)
    module = GAN(
        MLPGenerator(latent_dim=2, out_dim=64, hidden_dim=8, num_layers=1),
        MLPCritic(in_dim=64, hidden_dim=8, num_layers=1),
        latent_dim=2,
    )
    with pytest.raises(ValueError, match=r"`batch_size`=4 is larger than the dataset \(3 images in `root`="):
        Trainer(**trainer_kwargs(max_steps=2)).fit(module, datamodule=data)
    assert module.critic_steps + module.generator_steps == 0


@pytest.mark.parametrize("channels", [1, 3])
def test_16_bit_grayscale_pngs_are_scaled_not_clipped(tmp_path, channels):
    """16-bit PNGs (mode I;16) of values 0, 40*257, 80*257 load as 8-bit 0, 40, 80 scaled to [-1, 1].

    Pillow's convert("L") used to clip every value above 255, turning all three into white (1.0).
    """
    root = _folder(tmp_path, mode="I;16")
    assert Image.open(root / "a" / "1.png").mode == "I;16"
    data = ImageDataModule(root=str(root), image_size=8, channels=channels, batch_size=1)
    data.setup("fit")
    values = sorted(float(data._data[i][0].mean()) for i in range(3))
    expected = [v / 255 * 2 - 1 for v in (0, 40, 80)]
    assert values == pytest.approx(expected, abs=1e-6)
    assert data._data[0][0].shape == (channels, 8, 8)


def test_8_bit_images_are_unchanged_by_the_loader(tmp_path):
    """Control: 8-bit RGB files load with the exact values of torchvision's own loader path (40 -> 40/255*2-1)."""
    data = ImageDataModule(root=str(_folder(tmp_path)), image_size=8, channels=3, batch_size=1)
    data.setup("fit")
    assert sorted(float(data._data[i][0].mean()) for i in range(3)) == pytest.approx(
        [v / 255 * 2 - 1 for v in (0, 40, 80)], abs=1e-6
    )


def test_truncated_image_names_the_file(tmp_path):
    """A PNG cut short (an interrupted copy) raises naming the file, instead of Pillow's "image file is truncated"."""
    root = _folder(tmp_path, size=32)
    broken = root / "a" / "1.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(broken)
    broken.write_bytes(broken.read_bytes()[:200])
    data = ImageDataModule(root=str(root), image_size=8, channels=3, batch_size=1)
    data.setup("fit")
    index = data._data.files.index(str(broken))
    with pytest.raises(ValueError, match=rf"cannot read the image file '{broken}' \(truncated or not an image\)"):
        data._data[index]


def test_image_size_disagreeing_with_the_nets_is_named():
    """Digits at 8x8 with a generator making 16x16 images: the error names the shapes and `image_size`, before any update."""
    from lightning_gans.nets import DCGANCritic, DCGANGenerator

    module = GAN(
        DCGANGenerator(latent_dim=4, image_size=16, channels=1), DCGANCritic(image_size=16, channels=1), latent_dim=4
    )
    with pytest.raises(
        ValueError,
        match=r"`generator` output shape \(16, 1, 16, 16\) does not match the data's shape \(16, 1, 8, 8\).*`image_size`",
    ):
        Trainer(**trainer_kwargs(max_steps=2)).fit(module, datamodule=DigitsDataModule(batch_size=16))
    assert module.critic_steps + module.generator_steps == 0


def test_channels_disagreeing_with_the_nets_is_named(tmp_path):
    """RGB images with a 1-channel generator: the error names the shapes and `channels`, before any update."""
    from lightning_gans.nets import DCGANCritic, DCGANGenerator

    root = _folder(tmp_path, n=4, size=16)
    module = GAN(
        DCGANGenerator(latent_dim=4, image_size=16, channels=1), DCGANCritic(image_size=16, channels=1), latent_dim=4
    )
    data = ImageDataModule(root=str(root), image_size=16, channels=3, batch_size=2)
    with pytest.raises(
        ValueError,
        match=r"`generator` output shape \(2, 1, 16, 16\) does not match the data's shape \(2, 3, 16, 16\).*`channels`",
    ):
        Trainer(**trainer_kwargs(max_steps=2)).fit(module, datamodule=data)
    assert module.critic_steps + module.generator_steps == 0
