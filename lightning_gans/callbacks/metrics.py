"""FID, IS and KID of the generator during and after training, offline, on one process or many."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator, Sequence
from typing import Any

import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.trainer.states import TrainerFn
from lightning.pytorch.utilities import rank_zero_warn
from lightning.pytorch.utilities.model_helpers import is_overridden
from torch import Tensor, nn
from torch.utils.data import Dataset

from lightning_gans.evaluation.cache import RealStatistics, RealStatisticsCache, default_cache_dir
from lightning_gans.evaluation.conditional import balanced_labels, class_accuracy, intra_fid
from lightning_gans.evaluation.convert import check_data_range
from lightning_gans.evaluation.evaluate import METRICS, compute_metrics, extract
from lightning_gans.evaluation.extractors import EXTRACTORS, build_extractor, extractor_id, resolve_inception_weights
from lightning_gans.evaluation.metrics import check_sample_count

__all__ = ["GANMetrics"]


class GANMetrics(Callback):
    """Generate ``num_samples`` images and log FID, IS and KID against the real data.

    FID (Heusel et al. 2017, https://arxiv.org/abs/1706.08500), IS (Salimans et al. 2016,
    https://arxiv.org/abs/1606.03498), KID (Binkowski et al. 2018, https://arxiv.org/abs/1801.01401),
    with torch-fidelity's Inception-v3 (through torchmetrics) or any ``nn.Module`` extractor (contract
    in :mod:`lightning_gans.evaluation.extractors`); ``"digits"`` selects the embedded digits classifier.
    Values equal torch-fidelity's ``calculate_metrics`` on the same images and weights.

    Logs ``eval/fid``, ``eval/is``, ``eval/is_std``, ``eval/kid``, ``eval/kid_std`` to every logger
    (and ``trainer.callback_metrics``, so ``ModelCheckpoint(monitor="eval/fid")`` works), and the
    settings that make the numbers comparable under the hyperparameter ``eval``.

    **When**: every ``every_n_epochs`` epochs, every ``every_n_generator_steps`` generator updates
    (``pl_module.generator_steps``, else ``trainer.global_step``), at the end of training, and at the
    end of ``trainer.validate``/``trainer.test`` (for modules that define those loops); never twice
    at the same step.

    **Generated images**: ``pl_module.sample(n, noise=z)`` (the EMA generator when set) on noise
    ``pl_module.sample_noise(num_samples, torch.Generator().manual_seed(seed))`` drawn
    afresh from the same seed at every evaluation, so evaluations differ only by the generator and a
    run on ``W`` processes evaluates exactly the samples of a single-process run: rank ``r``
    generates the ``r``-th contiguous share. The global RNG is never touched.

    **Conditional modules** (``pl_module.num_classes`` set): generated image ``i`` is drawn for class
    ``i mod num_classes``. Besides FID/IS/KID the callback logs ``eval/class_accuracy`` and
    ``eval/class_accuracy_<k>`` (the extractor's class prediction against the requested class, when
    its logits cover exactly ``num_classes`` classes, e.g. ``feature_extractor="digits"``), and
    ``eval/intra_fid`` and ``eval/intra_fid_<k>`` (FID within each class, Miyato & Koyama 2018,
    https://arxiv.org/abs/1802.05637; mean over classes), when the real data has labels (``(image,
    label)`` items). See :mod:`lightning_gans.evaluation.conditional`.

    **Real images**, without disturbing training: ``real_samples`` if given (a tensor
    ``(N, C, H, W)`` or a dataset of images or ``(image, ...)`` tuples); otherwise the ``.dataset``
    of the training dataloader (outside fit: of a fresh ``train_dataloader()`` of the datamodule or
    module), read
    by index in its own loop — the training loader, its sampler and the RNG are not used. ``num_real``
    items are chosen by a seeded permutation (all items by default). Their statistics are computed
    once, kept in memory, and stored in ``cache_dir`` as ``.npz`` keyed by (image digest or
    ``real_key``, extractor and weights digest, resize, ``data_range``, ``num_real``, ``seed``).

    **DDP**: each rank extracts its share of real and generated images; features are all-gathered,
    rank 0 computes the metrics and broadcasts them, so every rank holds identical values. Every rank
    runs the same collectives whatever it logs, so rank-0-only loggers cannot hang the run.

    Args:
        num_samples: generated images per evaluation (>= 2; FID needs more than the feature
            dimension for a full-rank covariance — 2,049 for Inception — and warns otherwise).
        feature_extractor: ``"inception"``, ``"digits"`` or an ``nn.Module`` following the contract.
        feature_extractor_weights_path: Inception weights file; default: the torch hub cache
            (``<hub dir>/checkpoints/weights-inception-2015-12-05-6726825d.pth``). Checked here, so a
            missing file fails before training.
        antialias: Inception resize: ``False`` = TF1-compatible bilinear (torch-fidelity, published
            FIDs); ``True`` = torchmetrics' antialiased resize.
        metrics: any of ``"fid"``, ``"is"``, ``"kid"``.
        every_n_epochs: evaluate after every N-th training epoch (``None``: never).
        every_n_generator_steps: evaluate after every N-th generator update (``None``: never).
        at_train_end: evaluate when training ends.
        on_validate: evaluate at the end of ``trainer.validate``.
        on_test: evaluate at the end of ``trainer.test``.
        data_range: ``(low, high)`` of generated and real images, e.g. ``(-1, 1)`` for tanh,
            ``(0, 1)``; values outside it raise instead of being clipped.
        real_samples: real images, see above (default: the training data).
        num_real: real images used (default: all).
        real_key: a name for the real data in the cache key instead of a digest of the images.
        cache_dir: where real statistics are stored (default: ``<torch hub dir>/lightning_gans/real_statistics``).
        cache: store and reuse real statistics on disk (in-memory reuse within a run is always on).
        batch_size: images per generator/extractor batch.
        kid_subsets: KID subsets (torch-fidelity: 100).
        kid_subset_size: KID subset size (torch-fidelity: 1000), lowered to the smaller set's size
            with a warning; the value used is logged.
        isc_splits: IS splits (torch-fidelity: 10).
        seed: seed of the generated noise, the real subset, IS shuffling and KID subsets
            (torch-fidelity's default 2020).
        prefix: prefix of the logged names.

    Raises:
        ValueError: an argument is out of range (the message names it).
        FileNotFoundError: Inception weights are missing (says where to get them and what to set).

    Example:
        >>> trainer = Trainer(callbacks=[GANMetrics(num_samples=1000, feature_extractor="digits")])  # doctest: +SKIP
    """

    def __init__(
        self,
        num_samples: int = 10_000,
        feature_extractor: str | nn.Module = "inception",
        feature_extractor_weights_path: str | None = None,
        antialias: bool = False,
        metrics: Sequence[str] = METRICS,
        every_n_epochs: int | None = 1,
        every_n_generator_steps: int | None = None,
        at_train_end: bool = True,
        on_validate: bool = True,
        on_test: bool = True,
        data_range: Sequence[float] = (-1.0, 1.0),
        real_samples: Tensor | Dataset | None = None,
        num_real: int | None = None,
        real_key: str | None = None,
        cache_dir: str | None = None,
        cache: bool = True,
        batch_size: int = 64,
        kid_subsets: int = 100,
        kid_subset_size: int = 1000,
        isc_splits: int = 10,
        seed: int = 2020,
        prefix: str = "eval/",
    ) -> None:
        for name, value, low in (
            ("num_samples", num_samples, 2),
            ("batch_size", batch_size, 1),
            ("kid_subsets", kid_subsets, 1),
            ("kid_subset_size", kid_subset_size, 2),
            ("isc_splits", isc_splits, 1),
        ):
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise ValueError(f"`{name}` must be an integer >= {low}, got {value!r}.")
        for name, value in (
            ("every_n_epochs", every_n_epochs),
            ("every_n_generator_steps", every_n_generator_steps),
            ("num_real", num_real),
        ):
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
                raise ValueError(f"`{name}` must be a positive integer or None, got {value!r}.")
        metrics = tuple(metrics)
        if not metrics or any(m not in METRICS for m in metrics):
            raise ValueError(f"`metrics` must be a non-empty subset of {list(METRICS)}, got {list(metrics)}.")
        if "is" in metrics and num_samples < isc_splits:
            raise ValueError(f"`num_samples`={num_samples} must be >= `isc_splits`={isc_splits} for IS.")
        if not (isinstance(feature_extractor, nn.Module) or feature_extractor in EXTRACTORS):
            raise ValueError(
                f"Unknown `feature_extractor` {feature_extractor!r}; expected one of {sorted(EXTRACTORS)} or an nn.Module."
            )
        if feature_extractor == "inception":  # fail now, before any training, when the weights are missing
            feature_extractor_weights_path = resolve_inception_weights(feature_extractor_weights_path)
        if real_samples is not None and not isinstance(real_samples, (Tensor, Dataset)):
            raise ValueError(
                f"`real_samples` must be a Tensor (N, C, H, W) or a Dataset, got {type(real_samples).__name__}."
            )

        self.num_samples = num_samples
        self.metrics = metrics
        self.every_n_epochs = every_n_epochs
        self.every_n_generator_steps = every_n_generator_steps
        self.at_train_end = at_train_end
        self.on_validate = on_validate
        self.on_test = on_test
        self.data_range = check_data_range(data_range)
        self.num_real = num_real
        self.batch_size = batch_size
        self.kid_subsets = kid_subsets
        self.kid_subset_size = kid_subset_size
        self.isc_splits = isc_splits
        self.seed = seed
        self.prefix = prefix
        self._extractor_spec = feature_extractor
        self._weights_path = feature_extractor_weights_path
        self._antialias = antialias
        self._real_samples = real_samples
        self._real_key = real_key
        self._cache = RealStatisticsCache(cache_dir or default_cache_dir()) if cache else None
        self._extractor: nn.Module | None = None
        self._extractor_id: str | None = None
        self._real: RealStatistics | None = None
        self._real_cache_key: dict[str, Any] | None = None
        self._config_logged = False
        self._last_global_step = -1
        self._last_generator_step = 0
        #: The metrics of the last evaluation, ``{"eval/fid": ..., ...}`` (identical on every rank).
        self.last_metrics: dict[str, float] = {}

    # ----------------------------------------------------------------------------------------
    # Lightning hooks: thin, they decide *when*; `evaluate` does the work.
    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        if not callable(getattr(pl_module, "sample", None)):
            raise TypeError("GANMetrics needs a module with `sample(n, noise=None, rng=None)` returning images.")
        if self._extractor is None:
            self._extractor = build_extractor(self._extractor_spec, self._weights_path, self._antialias)
            self._extractor_id = extractor_id(self._extractor)
        world = trainer.world_size
        if self.num_samples < world:
            raise ValueError(f"`num_samples`={self.num_samples} must be >= the number of processes ({world}).")
        dim = getattr(self._extractor, "num_features", None)
        if "fid" in self.metrics and isinstance(dim, int) and trainer.is_global_zero:
            check_sample_count(self.num_samples, dim, "generated", "num_samples")
        self._check_inputs_fit(trainer, pl_module)

    def _check_inputs_fit(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Convert two generated and two real images for the extractor now (without running it), so that
        a ``data_range``, channel or image-size mismatch fails in ``setup``, before training, not at the
        first evaluation."""
        from lightning_gans.evaluation.convert import to_extractor_input

        in_channels = getattr(self._extractor, "in_channels", None)
        fake = next(iter(self._fake_batches(pl_module, 0, min(2, self.num_samples))))
        to_extractor_input(fake, self.data_range, in_channels, "generated samples")
        try:
            data = self._real_dataset(trainer)
        except ValueError:  # no real images reachable yet: checked at the first evaluation
            return
        real = next(iter(self._real_batches(data, torch.arange(min(2, len(data))))))
        to_extractor_input(real, self.data_range, in_channels, "real samples")
        if fake.shape[1:] != real.shape[1:]:
            raise ValueError(
                f"GANMetrics: generated samples have shape {tuple(fake.shape[1:])} but the real images "
                f"{tuple(real.shape[1:])} (C, H, W): metrics between different image sizes compare resolutions, not "
                "models. Make the generator's `image_size`/`channels` match the data's (or pass `real_samples` of its size)."
            )

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._log_config(trainer)

    def on_train_batch_end(
        self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        n = self.every_n_generator_steps
        if n is None:
            return
        steps = int(getattr(pl_module, "generator_steps", trainer.global_step))
        if steps > self._last_generator_step and steps % n == 0:
            self._last_generator_step = steps
            self._evaluate_once(trainer, pl_module)

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if self.every_n_epochs is not None and (trainer.current_epoch + 1) % self.every_n_epochs == 0:
            self._evaluate_once(trainer, pl_module)

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if self.at_train_end:
            self._evaluate_once(trainer, pl_module)
        if self.last_metrics and trainer.is_global_zero:  # the final numbers on the console, not only in the logs
            from lightning_gans.evaluation.report import format_metrics_table

            step = getattr(pl_module, "generator_steps", trainer.global_step)
            print(
                format_metrics_table(self.last_metrics, title=f"GANMetrics after {step} generator steps:"), flush=True
            )

    def on_validation_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if self.on_validate and trainer.state.fn == TrainerFn.VALIDATING:
            self.evaluate(trainer, pl_module)

    def on_test_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if self.on_test:
            self.evaluate(trainer, pl_module)

    def state_dict(self) -> dict[str, Any]:
        return {"last_global_step": self._last_global_step, "last_generator_step": self._last_generator_step}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._last_global_step = int(state_dict["last_global_step"])
        self._last_generator_step = int(state_dict["last_generator_step"])

    # ----------------------------------------------------------------------------------------
    # Evaluation
    def evaluate(self, trainer: Trainer, pl_module: LightningModule) -> dict[str, float]:
        """Compute the metrics now, log them, and return them. Call on every rank."""
        self._log_config(trainer)
        real = self._real_statistics(trainer, pl_module)
        features, logits = self._fake_features(trainer, pl_module)
        result: dict[str, float] | None = None
        if trainer.is_global_zero:
            subset = min(self.kid_subset_size, features.shape[0], real.n)
            result = compute_metrics(
                features, logits, real, self.metrics, self.kid_subsets, subset, self.isc_splits, self.seed
            )
            result.update(self._conditional_metrics(trainer, pl_module, features, logits, real))
        result = trainer.strategy.broadcast(result, src=0)
        metrics = {self.prefix + k: float(v) for k, v in result.items()}
        for logger in trainer.loggers:  # loggers write on rank 0 only
            logger.log_metrics(metrics, step=trainer.global_step)
        trainer.callback_metrics.update({k: torch.tensor(v) for k, v in metrics.items()})
        self.last_metrics = metrics
        return metrics

    def _evaluate_once(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.sanity_checking or trainer.global_step == self._last_global_step:
            return
        self._last_global_step = trainer.global_step
        self.evaluate(trainer, pl_module)

    def _shard(self, trainer: Trainer, n: int) -> tuple[int, int]:
        """The contiguous range of ``n`` items this rank handles."""
        m = math.ceil(n / trainer.world_size)
        start = min(trainer.global_rank * m, n)
        return start, min(start + m, n)

    def _gather(self, trainer: Trainer, pl_module: LightningModule, x: Tensor, n: int) -> Tensor:
        """Concatenate every rank's contiguous share ``x`` into the full ``(n, ...)`` tensor, on every rank."""
        world = trainer.world_size
        if world == 1:
            return x
        m = math.ceil(n / world)
        padded = x.new_zeros((m, *x.shape[1:]))
        padded[: x.shape[0]] = x
        gathered = trainer.strategy.all_gather(padded.to(pl_module.device))  # (world, m, ...)
        return gathered.reshape(world * m, *x.shape[1:])[:n].cpu()

    def _fake_batches(self, pl_module: LightningModule, start: int, stop: int) -> Iterator[Tensor]:
        if callable(getattr(pl_module, "sample_noise", None)):
            g = torch.Generator(device=pl_module.device).manual_seed(self.seed)
            noise = pl_module.sample_noise(self.num_samples, g)
            num_classes = getattr(pl_module, "num_classes", None)
            labels = balanced_labels(self.num_samples, num_classes, pl_module.device) if num_classes else None
            for s in range(start, stop, self.batch_size):
                z = noise[s : min(s + self.batch_size, stop)]
                if labels is None:
                    yield pl_module.sample(z.shape[0], noise=z)
                else:
                    yield pl_module.sample(z.shape[0], noise=z, labels=labels[s : s + z.shape[0]])
        else:  # no shared prior: per-rank streams (results then depend on the number of processes)
            g = torch.Generator(device=pl_module.device).manual_seed(self.seed + start)
            for s in range(start, stop, self.batch_size):
                yield pl_module.sample(min(self.batch_size, stop - s), rng=g)

    def _fake_features(self, trainer: Trainer, pl_module: LightningModule) -> tuple[Tensor, Tensor | None]:
        start, stop = self._shard(trainer, self.num_samples)
        extractor = self._extractor.to(pl_module.device)
        features, logits = extract(
            extractor, self._fake_batches(pl_module, start, stop), self.data_range, "generated samples"
        )
        features = self._gather(trainer, pl_module, features, self.num_samples)
        logits = None if logits is None else self._gather(trainer, pl_module, logits, self.num_samples)
        return features, logits

    def _conditional_metrics(
        self,
        trainer: Trainer,
        pl_module: LightningModule,
        features: Tensor,
        logits: Tensor | None,
        real: RealStatistics,
    ) -> dict[str, float]:
        """Class accuracy (logits over exactly ``num_classes`` classes) and intra-FID (real labels known) of a conditional module."""
        num_classes = getattr(pl_module, "num_classes", None)
        if not num_classes:
            return {}
        labels = balanced_labels(self.num_samples, num_classes)  # what _fake_batches asked for
        out = (
            class_accuracy(logits, labels, num_classes) if logits is not None and logits.shape[1] == num_classes else {}
        )
        if "fid" in self.metrics and (real_labels := self._real_labels(trainer)) is not None:
            out.update(intra_fid(features, labels, real.features, real_labels, num_classes))
        return out

    def _real_labels(self, trainer: Trainer) -> Tensor | None:
        """Labels of the real images in the order of their features, or None when the data has none."""
        data, indices = self._real_indices(trainer)
        if isinstance(data, Tensor):
            return None
        targets = getattr(data, "targets", None)  # torchvision datasets and ImageFolder: no image decoding
        if targets is None and isinstance(getattr(data, "tensors", None), tuple) and len(data.tensors) > 1:
            targets = data.tensors[1]  # TensorDataset(images, labels)
        if targets is not None:
            return torch.as_tensor(targets)[indices].long()
        items = [data[int(i)] for i in indices]
        if not all(isinstance(it, (tuple, list)) and len(it) > 1 for it in items):
            return None
        return torch.as_tensor([int(it[1]) for it in items])

    # ----------------------------------------------------------------------------------------
    # Real statistics: memory, then disk, then computed (sharded), then stored.
    def _real_dataset(self, trainer: Trainer) -> Tensor | Dataset:
        if self._real_samples is not None:
            return self._real_samples
        loader = trainer.train_dataloader
        if loader is None:  # outside fit: a fresh loader from the datamodule or module; only its dataset is read
            source = trainer.datamodule if trainer.datamodule is not None else trainer.lightning_module
            if is_overridden("train_dataloader", source):
                loader = source.train_dataloader()
        dataset = getattr(loader, "dataset", None)
        if dataset is None:
            raise ValueError(
                "GANMetrics needs real images: pass `real_samples` (a Tensor or Dataset), or train with a dataloader "
                "whose `.dataset` yields images or (image, ...) tuples."
            )
        return dataset

    def _real_indices(self, trainer: Trainer) -> tuple[Tensor | Dataset, Tensor]:
        data = self._real_dataset(trainer)
        total = len(data)
        n = total if self.num_real is None else min(self.num_real, total)
        if n < trainer.world_size or n < 2:
            raise ValueError(
                f"Too few real images ({n}) for FID/KID on {trainer.world_size} process(es); check `num_real`."
            )
        if n == total:
            return data, torch.arange(total)
        g = torch.Generator().manual_seed(self.seed)
        return data, torch.randperm(total, generator=g)[:n].sort().values

    def _real_batches(self, data: Tensor | Dataset, indices: Tensor) -> Iterator[Tensor]:
        for s in range(0, len(indices), self.batch_size):
            idx = indices[s : s + self.batch_size]
            if isinstance(data, Tensor):
                yield data[idx]
            else:
                items = [data[int(i)] for i in idx]
                yield torch.stack([it[0] if isinstance(it, (tuple, list)) else it for it in items])

    def _real_statistics(self, trainer: Trainer, pl_module: LightningModule) -> RealStatistics:
        if self._real is not None:
            return self._real
        data, indices = self._real_indices(trainer)
        n = len(indices)
        if (
            "fid" in self.metrics
            and trainer.is_global_zero
            and isinstance(getattr(self._extractor, "num_features", None), int)
        ):
            check_sample_count(n, self._extractor.num_features, "real", "num_real")
        start, stop = self._shard(trainer, n)
        mine = indices[start:stop]
        key = {
            "data": self._real_key or self._digest(trainer, pl_module, data, mine, n),
            "extractor": self._extractor_id,
            "data_range": list(self.data_range),
            "num_real": n,
            "seed": self.seed,
        }
        self._real_cache_key = key
        cached = self._cache.load(key) if (self._cache is not None and trainer.is_global_zero) else None
        if trainer.strategy.broadcast(cached is not None, src=0):
            self._real = trainer.strategy.broadcast(cached, src=0)
            return self._real
        extractor = self._extractor.to(pl_module.device)
        features, _ = extract(extractor, self._real_batches(data, mine), self.data_range, "real samples")
        features = self._gather(trainer, pl_module, features, n)
        stats = RealStatistics.from_features(features) if trainer.is_global_zero else None
        if stats is not None and self._cache is not None:
            self._cache.save(key, stats)
        self._real = trainer.strategy.broadcast(stats, src=0)
        return self._real

    def _digest(self, trainer: Trainer, pl_module: LightningModule, data: Any, mine: Tensor, n: int) -> str:
        """A digest of the chosen real images that does not depend on the number of processes."""
        per_image = [
            int.from_bytes(
                hashlib.sha256(img.detach().cpu().float().contiguous().numpy().tobytes()).digest()[:8],
                "little",
                signed=True,
            )
            for batch in self._real_batches(data, mine)
            for img in batch
        ]
        digests = self._gather(trainer, pl_module, torch.tensor(per_image, dtype=torch.long), n)
        return "images-sha256:" + hashlib.sha256(digests.numpy().tobytes()).hexdigest()[:24]

    # ----------------------------------------------------------------------------------------
    def _config(self, trainer: Trainer) -> dict[str, Any]:
        n_real = len(self._real_indices(trainer)[1])
        subset = min(self.kid_subset_size, self.num_samples, n_real)
        if subset < self.kid_subset_size and "kid" in self.metrics:
            rank_zero_warn(
                f"GANMetrics: `kid_subset_size`={self.kid_subset_size} exceeds the number of images "
                f"(generated {self.num_samples}, real {n_real}); using {subset}."
            )
        return {
            "feature_extractor": self._extractor_id,
            "resize": getattr(self._extractor, "resize", "done by the extractor"),
            "antialias": bool(getattr(self._extractor, "antialias", False)),
            "n_real": n_real,
            "n_fake": self.num_samples,
            "data_range": list(self.data_range),
            "metrics": list(self.metrics),
            "kid_subsets": self.kid_subsets,
            "kid_subset_size": subset,
            "isc_splits": self.isc_splits,
            "seed": self.seed,
        }

    def _log_config(self, trainer: Trainer) -> None:
        if self._config_logged:
            return
        self._config_logged = True
        config = self._config(trainer)
        for logger in trainer.loggers:
            logger.log_hyperparams({"eval": config})
