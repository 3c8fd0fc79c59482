"""Image folders as LitData shards, streamed from a local folder or a bucket (``s3://``, ``gs://``, ...).

:func:`optimize_folder` (the ``lightning-gans convert-folder`` command) writes a folder read by
:func:`~lightning_gans.data.folder.find_images` (flat, or one sub-folder per class) into LitData
chunks with ``litdata.optimize``. Each record holds the image **file's bytes** (PNG stays PNG,
JPEG stays JPEG: nothing is re-encoded), its label and its path relative to the folder; a
``lightning_gans.json`` beside litdata's ``index.json`` (local outputs) records the classes and the count.

:class:`StreamingImageDataModule` streams those chunks with LitData's ``StreamingDataset`` and
``StreamingDataLoader``. Each record is decoded by the same reader as
:class:`~lightning_gans.data.ImageDataModule` (:func:`~lightning_gans.data.folder.read_image`) and
goes through the same transforms, so a folder and its shards give the same ``(images, labels)``
batches, pixel for pixel, only in another order. Under DDP each rank reads its own chunks (LitData
splits them by rank and worker), and the loader's ``state_dict`` (which Lightning saves in every
checkpoint) holds its position, so a mid-epoch resume continues with the next batch.

Needs the ``stream`` extra: ``pip install "lightning-gans[stream]"``.
"""

from __future__ import annotations

import functools
import json
import multiprocessing
import os
import re
import shutil
import sys
from typing import Any

from lightning.pytorch import LightningDataModule
from lightning_utilities.core.imports import RequirementCache

from lightning_gans import _checks
from lightning_gans.data.folder import find_images, read_image
from lightning_gans.data.images import _transform

__all__ = ["METADATA_FILE", "STREAM_HINT", "StreamingImageDataModule", "optimize_folder"]

_LITDATA_AVAILABLE = RequirementCache("litdata>=0.2.76")

STREAM_HINT = 'streaming needs LitData: pip install "lightning-gans[stream]" (or pip install litdata)'
"""What to install when LitData is missing."""

METADATA_FILE = "lightning_gans.json"
"""Written beside LitData's ``index.json`` by :func:`optimize_folder`: classes, number of images, source."""

_REMOTE_PREFIXES = ("s3://", "gs://", "r2://", "azure://", "hf://")  # the URLs LitData reads (its resolver)


def _is_remote(path: str) -> bool:
    return path.startswith(_REMOTE_PREFIXES)


def _require_litdata() -> None:
    if not _LITDATA_AVAILABLE:
        raise ModuleNotFoundError(f"{STREAM_HINT} ({_LITDATA_AVAILABLE.message}).")


class _FileRecord:
    """``i -> {"image": bytes, "label": int, "name": str}`` for file ``i`` (a class, so LitData's workers can pickle it)."""

    def __init__(self, root: str, files: list[str], labels: list[int] | None) -> None:
        self.root, self.files, self.labels = root, files, labels

    def __call__(self, i: int) -> dict[str, Any]:
        path = self.files[i]
        with open(path, "rb") as f:
            data = f.read()
        read_image(path, data)  # refuse a truncated or unreadable file now, naming it, not while training
        label = self.labels[i] if self.labels is not None else 0
        return {"image": data, "label": label, "name": os.path.relpath(path, self.root)}


def optimize_folder(
    src: str,
    dst: str,
    chunk_bytes: str | int = "64MB",
    num_workers: int = 1,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Write the images of folder ``src`` as LitData chunks into ``dst`` (a folder or a bucket URL).

    Every input is checked before anything is written: ``src`` must hold images (flat, or one
    sub-folder per class), and a local ``dst`` must be new or empty unless ``overwrite``. Each image
    is decoded once while converting, so a truncated file stops the conversion, naming it.

    Args:
        src: a flat folder of images, or one sub-folder per class (see :mod:`lightning_gans.data.folder`).
        dst: the output folder, or a URL LitData writes to (``s3://bucket/prefix``; credentials as for boto3).
        chunk_bytes: the most bytes in one chunk (LitData's ``chunk_bytes``: ``"64MB"``, or an int). Chunks are
            the unit LitData spreads over ranks and workers: a dataset of fewer chunks than
            ``ranks x workers`` is split inside chunks.
        num_workers: conversion processes (>= 1).
        overwrite: write into a local ``dst`` that already holds files (LitData's ``mode="overwrite"``).

    Returns:
        The metadata also written to ``dst``/:data:`METADATA_FILE` (a local ``dst`` only): ``num_images``, ``classes``, ``source``.

    Raises:
        InputError: ``src`` is missing or holds no image, ``dst`` holds files without ``overwrite``, or an
            argument is out of range (naming it), all before writing; an image is truncated or unreadable (naming
            it; a ``dst`` made by this call is removed).
        ModuleNotFoundError: LitData is not installed.

    Example:
        >>> optimize_folder("my_images/", "my_shards/")  # doctest: +SKIP
        {'num_images': 5000, 'classes': [], 'source': 'my_images/'}
    """
    num_workers = _checks.integer("num_workers", num_workers)
    if isinstance(chunk_bytes, int):
        chunk_bytes = _checks.integer("chunk_bytes", chunk_bytes)
    files, labels, classes = find_images(src, "src")
    remote = _is_remote(dst)
    if not remote:
        _checks.new_output("dst", dst, overwrite=overwrite, folder=True)
        a, b = os.path.abspath(src), os.path.abspath(dst)
        if os.path.commonpath([a, b]) in (a, b):  # `--overwrite` would delete images; a second run would read shards
            raise _checks.InputError(
                f"`dst` {dst!r} and `src` {src!r} are the same folder or one holds the other: write the shards elsewhere."
            )
    _require_litdata()
    import litdata

    fresh = not remote and not (os.path.isdir(dst) and any(os.scandir(dst)))  # ours to remove on failure
    # fork starts LitData's workers in a tenth of a second (spawn re-imports torch in each); LitData sets the start
    # method process-wide, so the caller's is put back afterwards
    previous = multiprocessing.get_start_method(allow_none=True)
    try:
        litdata.optimize(
            fn=_FileRecord(os.path.abspath(src), files, labels),
            inputs=list(range(len(files))),
            output_dir=dst if remote else os.path.abspath(dst),
            chunk_bytes=chunk_bytes,
            num_workers=num_workers,
            mode="overwrite" if overwrite else None,
            start_method="fork" if sys.platform.startswith("linux") else None,
            verbose=False,
        )
    except RuntimeError as err:  # LitData re-raises a worker's error as text: find our reader's message in it
        found = re.search(r"InputError: (cannot read the image file [^\n]*)", str(err))
        if found is None:
            raise
        if fresh:
            shutil.rmtree(dst, ignore_errors=True)
        raise _checks.InputError(
            f"`src` {src!r}: {found.group(1)}. Remove or replace the file and convert again"
            + ("; the partial output was removed." if fresh else f"; `dst` {dst!r} holds partial shards.")
        ) from None
    finally:
        multiprocessing.set_start_method(previous, force=True)
    metadata = {"num_images": len(files), "classes": classes, "source": src}
    if not remote:  # a bucket gets LitData's files only: a conditional DataModule on it takes `num_classes`
        with open(os.path.join(dst, METADATA_FILE), "w", encoding="utf-8") as f:
            f.write(json.dumps(metadata, indent=1) + "\n")
    return metadata


class _Decode:
    """A shard record -> ``(image, label)``: :func:`read_image` then ImageDataModule's transforms (picklable)."""

    def __init__(self, image_size: int, channels: int) -> None:
        self.image_size, self.channels = image_size, channels
        self._tf: Any = None

    def __call__(self, item: dict[str, Any]) -> tuple[Any, int]:
        if self._tf is None:
            self._tf = _transform(self.image_size, self.channels)
        image = read_image(item.get("name", "<shard record>"), item["image"])
        return self._tf(image), int(item["label"])

    def __getstate__(self) -> dict[str, Any]:
        return {"image_size": self.image_size, "channels": self.channels, "_tf": None}


@functools.cache
def _loader_class() -> type:
    """LitData's ``StreamingDataLoader``, made to start a new epoch after a resumed one that Lightning ended.

    After ``load_state_dict`` the loader's ``restore`` flag keeps every ``__iter__`` on the restored
    position until one iteration runs to its end. Lightning ends an epoch by counting batches (the
    loader's length, or ``limit_train_batches``) and never exhausts the iterator, so the epoch after a
    resumed one went on reading from the restored epoch (measured: a run resumed at batch 7 of 10 read 3
    batches past the epoch's end, then began epoch 2 in another order). Here the restored position
    serves the first iteration that reads a batch after ``load_state_dict``, and the next ``__iter__``
    starts a new epoch, as in a run that was never interrupted.
    """
    from litdata import StreamingDataLoader

    class _ResumableStreamingDataLoader(StreamingDataLoader):
        restore: bool  # set by StreamingDataLoader (load_state_dict, end of __iter__)
        _restored_unread = False  # a restored position no iteration has read from yet

        def load_state_dict(self, obj: dict[str, Any]) -> None:
            super().load_state_dict(obj)
            self._restored_unread = self.restore

        def __iter__(self) -> Any:
            if self.restore and not self._restored_unread:
                self.restore = False  # the restored epoch was read (and ended by Lightning): begin the next one
            for batch in super().__iter__():
                self._restored_unread = False
                yield batch

    return _ResumableStreamingDataLoader


class StreamingImageDataModule(LightningDataModule):
    """Images streamed from LitData shards written by :func:`optimize_folder`, as ``(images, labels)`` in [-1, 1].

    Batches are those of :class:`~lightning_gans.data.ImageDataModule` over the source folder (same
    reader, same resize/crop/channels, same scaling; labels are the class sub-folder's index, 0 for a
    flat folder): only the order differs. The last partial batch is dropped and, under DDP, every rank
    gets the same number of batches from its own chunks. Lightning saves the loader's position in each
    checkpoint and restores it with ``ckpt_path``, so a resumed run continues mid-epoch with the batch
    it would have read next.

    Args:
        input_dir: the shards' folder, or their URL (``s3://bucket/prefix``, ``gs://...``; LitData downloads
            chunks on demand into ``cache_dir``).
        image_size: output side length (>= 1).
        channels: 1 (grayscale) or 3 (RGB).
        batch_size: images per batch (>= 1, at most the number of images a rank reads).
        shuffle: shuffle chunks and the images inside them every epoch (LitData's ``shuffle``).
        seed: the shuffle's seed (each epoch reshuffles from ``seed`` and the epoch number, so resume is exact).
        num_workers: loader workers (>= 0); LitData splits each rank's chunks over them.
        conditional: expose :attr:`num_classes` so that the CLI makes the module class-conditional.
        num_classes: the number of classes, for a remote ``input_dir`` with ``conditional`` (a local one
            is read from :data:`METADATA_FILE`).
        cache_dir: where chunks of a remote ``input_dir`` are cached (default: LitData's).
        max_cache_size: the cache's budget, e.g. ``"50GB"`` (default: LitData's).
        storage_options: passed to LitData's cloud client (e.g. ``{"endpoint_url": ...}`` for an S3-compatible store);
            not saved in checkpoints' hyperparameters (put credentials in the environment: a CLI run also
            writes its config to ``config.yaml``).

    Raises:
        InputError: an argument is out of range (at construction); a local ``input_dir`` holds no shards, or
            ``batch_size`` exceeds the images of one rank (in ``setup``).
        ModuleNotFoundError: LitData is not installed (at construction).

    Example:
        >>> dm = StreamingImageDataModule("my_shards/", image_size=32, batch_size=64)  # doctest: +SKIP
    """

    def __init__(
        self,
        input_dir: str,
        image_size: int = 32,
        channels: int = 3,
        batch_size: int = 64,
        shuffle: bool = True,
        seed: int = 42,
        num_workers: int = 0,
        conditional: bool = False,
        num_classes: int | None = None,
        cache_dir: str | None = None,
        max_cache_size: str | None = None,
        storage_options: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        _require_litdata()
        if not isinstance(input_dir, str) or not input_dir:
            raise _checks.InputTypeError(f"`input_dir` must be a folder or URL of shards, got {input_dir!r}.")
        _checks.choice("channels", channels, (1, 3))
        self.image_size = _checks.integer("image_size", image_size)
        self.batch_size = _checks.integer("batch_size", batch_size)
        self.num_workers = _checks.integer("num_workers", num_workers, minimum=0)
        self.seed = _checks.integer("seed", seed, minimum=0)
        self.shuffle = _checks.boolean("shuffle", shuffle)
        self.conditional = _checks.boolean("conditional", conditional)
        self._num_classes = _checks.optional_integer("num_classes", num_classes)
        self.save_hyperparameters(ignore=["storage_options"])  # may hold keys: kept out of checkpoints
        self.input_dir, self.channels = input_dir, channels
        self.cache_dir, self.max_cache_size, self.storage_options = cache_dir, max_cache_size, storage_options
        self._data: Any = None

    def _check_local(self) -> None:
        if _is_remote(self.input_dir):
            return
        if not os.path.isdir(self.input_dir):
            raise _checks.MissingInputError(
                f"`input_dir` {self.input_dir!r} is not a folder; write shards with "
                "`lightning-gans convert-folder SRC DST` and pass DST."
            )
        if not os.path.isfile(os.path.join(self.input_dir, "index.json")):
            raise _checks.InputError(
                f"`input_dir` {self.input_dir!r} holds no LitData shards (no index.json); write them with "
                "`lightning-gans convert-folder SRC DST` and pass DST."
            )

    @property
    def num_classes(self) -> int | None:
        """The number of classes when ``conditional`` (``num_classes``, or the shards' :data:`METADATA_FILE`), else None."""
        if not self.conditional:
            return None
        if self._num_classes is not None:
            return self._num_classes
        if _is_remote(self.input_dir):
            raise _checks.InputError(
                f"`input_dir` {self.input_dir!r} is remote: with `conditional`=True pass `num_classes` too."
            )
        self._check_local()
        try:
            with open(os.path.join(self.input_dir, METADATA_FILE), encoding="utf-8") as f:
                classes = json.load(f)["classes"]
        except (OSError, ValueError, KeyError) as err:
            raise _checks.InputError(
                f"`input_dir` {self.input_dir!r}: cannot read the classes from {METADATA_FILE} ({err}); pass `num_classes`."
            ) from err
        if not classes:
            raise _checks.InputError(
                f"`input_dir` {self.input_dir!r} was converted from a flat folder: `conditional`=True needs one "
                "sub-folder per class."
            )
        return len(classes)

    def setup(self, stage: str) -> None:
        if self._data is not None:
            return
        self._check_local()
        from litdata import StreamingDataset

        self._data = StreamingDataset(
            self.input_dir,
            cache_dir=self.cache_dir,
            shuffle=self.shuffle,
            drop_last=True,
            seed=self.seed,
            max_cache_size=self.max_cache_size,
            storage_options=self.storage_options or {},
            transform=_Decode(self.image_size, self.channels),
        )

    def train_dataloader(self) -> Any:
        loader = _loader_class()(
            self._data, batch_size=self.batch_size, num_workers=self.num_workers, shuffle=self.shuffle, drop_last=True
        )
        if len(loader) == 0:  # drop_last: not one batch, so fit would train 0 updates
            raise _checks.InputError(
                f"`batch_size`={self.batch_size} is larger than the images one rank reads from `input_dir`="
                f"{self.input_dir!r} ({len(self._data)}): not one update would be made. Lower `batch_size`."
            )
        return loader
