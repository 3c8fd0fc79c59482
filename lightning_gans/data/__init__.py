"""DataModules: generated 2-D toys, embedded digits, torchvision/image-folder data, and streamed LitData shards."""

from lightning_gans.data.digits import DigitsDataModule, load_digits_tensor
from lightning_gans.data.images import IMAGE_DATASETS, ImageDataModule
from lightning_gans.data.streaming import StreamingImageDataModule, optimize_folder
from lightning_gans.data.toy import TOY_DISTRIBUTIONS, ToyDataModule, ToyDistribution, mode_coverage

__all__ = [
    "IMAGE_DATASETS",
    "TOY_DISTRIBUTIONS",
    "DigitsDataModule",
    "ImageDataModule",
    "StreamingImageDataModule",
    "ToyDataModule",
    "ToyDistribution",
    "load_digits_tensor",
    "mode_coverage",
    "optimize_folder",
]
