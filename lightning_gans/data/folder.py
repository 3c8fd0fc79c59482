"""One reader for folders of images, shared by ``ImageDataModule(dataset="folder")`` and ``lightning-gans evaluate``.

A folder is either **flat** (the images directly inside it: one unlabelled set) or **by class** (one
sub-folder per class, ``root/<class>/<image>``, labelled by the sub-folder's index in sorted order,
as torchvision's ``ImageFolder``). Hidden entries (``.ipynb_checkpoints``, ``.DS_Store`` ...) are
never images nor classes. Files are matched by extension (:data:`IMAGE_EXTENSIONS`) and read with
Pillow: 16-bit grayscale is scaled to 8 bits (x 255/65535, where Pillow's ``convert("L")`` would
clip at 255), and a truncated or unreadable file is an :class:`~lightning_gans._checks.InputError`
naming it. ``strict=True`` (``lightning-gans evaluate``'s folders, whose count of images is part of
the result) also refuses any other visible file and images whose size or channel count differs
from the first one's, naming the file, before any image is decoded.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import Dataset

from lightning_gans._checks import InputError, MissingInputError

__all__ = ["IMAGE_EXTENSIONS", "ImageFolderDataset", "check_same_format", "find_images", "read_image", "to_tensor"]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")
"""File extensions read as images (case-insensitive)."""

_SIXTEEN_BIT_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I")  # Pillow's modes for 16-bit grayscale PNG/TIFF
_GREY_MODES = ("1", "LA", "F")  # one-channel modes besides "L" (alpha dropped)


def _visible(name: str) -> bool:
    return not name.startswith(".") and not name.startswith("__")


def _is_image(name: str) -> bool:
    return _visible(name) and name.lower().endswith(IMAGE_EXTENSIONS)


def _refuse_other_files(argument: str, folder: str, names: list[str]) -> None:
    others = [n for n in names if _visible(n) and not _is_image(n) and os.path.isfile(os.path.join(folder, n))]
    if others:
        raise InputError(
            f"`{argument}`: {os.path.join(folder, others[0])!r} is not an image file (the extensions read are "
            f"{', '.join(IMAGE_EXTENSIONS)}); move it out of the folder"
            + (f" ({len(others)} such files)." if len(others) > 1 else ".")
        )


def find_images(
    root: str, argument: str = "root", strict: bool = False
) -> tuple[list[str], list[int] | None, list[str]]:
    """The image files under ``root``, their labels and the class names.

    A flat folder gives ``(files, None, [])``; a folder of class sub-folders gives ``(files, labels,
    classes)`` with the classes in sorted order. Both at once (images beside class folders) is an error,
    as is a folder with no image. Hidden entries (``.ipynb_checkpoints``, ``.DS_Store``) are skipped.

    Args:
        root: the folder.
        argument: the argument that named ``root``, for error messages.
        strict: a visible file that is not an image (by extension) is an error instead of being skipped.

    Raises:
        InputError: ``root`` is no directory, holds no image, mixes images and class folders, or (``strict``)
            holds another file (naming ``argument`` and the file).
    """
    if not os.path.exists(root):
        raise MissingInputError(f"`{argument}` {root!r} does not exist.")
    if not os.path.isdir(root):
        raise InputError(f"`{argument}` {root!r} is a file, not a directory of images.")
    entries = sorted(e for e in os.listdir(root) if _visible(e))
    images = [e for e in entries if _is_image(e) and os.path.isfile(os.path.join(root, e))]
    classes = [e for e in entries if os.path.isdir(os.path.join(root, e))]
    if strict:
        _refuse_other_files(argument, root, entries)
    if images and classes:
        raise InputError(
            f"`{argument}` {root!r} holds both images ({images[0]!r}, ...) and sub-folders ({classes[0]!r}, ...): "
            "use a flat folder of images, or one sub-folder per class."
        )
    if images:
        return [os.path.join(root, e) for e in images], None, []
    files, labels = [], []
    for k, name in enumerate(classes):
        for dirpath, dirnames, names in os.walk(os.path.join(root, name)):
            dirnames[:] = sorted(d for d in dirnames if _visible(d))
            if strict:
                _refuse_other_files(argument, dirpath, sorted(names))
            found = sorted(n for n in names if _is_image(n))
            files += [os.path.join(dirpath, n) for n in found]
            labels += [k] * len(found)
    if not files:
        raise InputError(
            f"`{argument}` {root!r} holds no image ({', '.join(IMAGE_EXTENSIONS)}), neither directly nor in class sub-folders."
        )
    return files, labels, classes


def read_image(path: str, data: bytes | None = None) -> Any:
    """The image at ``path`` as a Pillow image (16-bit grayscale scaled to 8 bits).

    Args:
        path: the image file.
        data: the file's bytes, already read (``path`` then only names it in errors); used by the
            streaming shards (:mod:`lightning_gans.data.streaming`), which hold the files' bytes.

    Raises:
        InputError: the file is truncated or not an image (naming it).
    """
    import io

    import numpy as np
    from PIL import Image

    try:
        with open(path, "rb") if data is None else io.BytesIO(data) as f:
            image = Image.open(f)
            image.load()  # decode now, inside the try: truncation surfaces here
    except (OSError, SyntaxError, ValueError) as err:  # PIL.UnidentifiedImageError is an OSError
        raise InputError(f"cannot read the image file {path!r} (truncated or not an image): {err}") from err
    if image.mode in _SIXTEEN_BIT_MODES:
        values = np.asarray(image, dtype=np.float64) * (255.0 / 65535.0)
        return Image.fromarray(np.clip(np.rint(values), 0, 255).astype(np.uint8), mode="L")
    return image


def _format(path: str) -> tuple[int, int, int]:
    """``(channels, height, width)`` of the image file at ``path`` as :func:`to_tensor` would give it, from its header."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            mode, (width, height) = image.mode, image.size
    except (OSError, SyntaxError, ValueError) as err:
        raise InputError(f"cannot read the image file {path!r} (truncated or not an image): {err}") from err
    channels = 1 if mode in ("L", *_GREY_MODES, *_SIXTEEN_BIT_MODES) else 3
    return channels, height, width


def check_same_format(files: list[str], argument: str = "root") -> tuple[int, int, int]:
    """The ``(C, H, W)`` shared by every image in ``files`` (read from the headers; nothing is decoded).

    Raises:
        InputError: a file's size or channel count differs from the first file's, or a file is no image (naming it).
    """
    first = _format(files[0])
    for path in files[1:]:
        found = _format(path)
        if found != first:
            raise InputError(
                f"`{argument}`: {path!r} is an image of (C, H, W) {found}, but {files[0]!r} is {first}: all images "
                "must have one size and channel count (metrics compare images of one format)."
            )
    return first


def to_tensor(image: Any) -> Tensor:
    """A Pillow image as float ``(C, H, W)`` in [0, 1], grey kept as 1 channel, alpha dropped."""
    import numpy as np

    if image.mode not in ("L", "RGB"):
        image = image.convert("L" if image.mode in _GREY_MODES else "RGB")  # RGBA, P, CMYK, ... -> RGB
    array = np.asarray(image, dtype=np.uint8)
    x = torch.from_numpy(array.copy()).float().div_(255)
    return x.unsqueeze(0) if x.dim() == 2 else x.permute(2, 0, 1).contiguous()


class ImageFolderDataset(Dataset):
    """The images of a flat or class folder (see the module docstring), as ``image`` or ``(image, label)`` items.

    Args:
        root: the folder.
        transform: ``transform(pil_image) -> Tensor``; default :func:`to_tensor` (float in [0, 1]).
        argument: the argument that named ``root``, for error messages.
        with_labels: yield ``(image, label)`` (label 0 for a flat folder) instead of the image alone.
        strict: refuse files that are not images and images of another size or channel count than the
            first (:func:`check_same_format`), at construction.

    Raises:
        InputError: see :func:`find_images` and :func:`check_same_format`.
    """

    def __init__(
        self,
        root: str,
        transform: Callable[[Any], Tensor] | None = None,
        argument: str = "root",
        with_labels: bool = False,
        strict: bool = False,
    ) -> None:
        self.root = root
        self.files, labels, self.classes = find_images(root, argument, strict=strict)
        if strict:
            check_same_format(self.files, argument)
        self.targets: list[int] | None = labels
        self.transform = transform or to_tensor
        self.with_labels = with_labels

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> Any:
        image = self.transform(read_image(self.files[i]))
        if not self.with_labels:
            return image
        return image, (self.targets[i] if self.targets is not None else 0)
