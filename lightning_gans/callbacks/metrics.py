"""FID, IS, KID and more of the generator during and after training: a schedule around the Evaluator."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from lightning.pytorch.trainer.states import TrainerFn
from lightning.pytorch.utilities.model_helpers import is_overridden
from torch import Tensor, nn
from torch.utils.data import Dataset

from lightning_gans import _checks
from lightning_gans.callbacks._schedule import GeneratorStepSchedule
from lightning_gans.distributed import sync_sampling_statistics
from lightning_gans.evaluation.evaluator import Evaluator
from lightning_gans.evaluation.metrics import check_sample_count
from lightning_gans.evaluation.report import format_metrics_table
from lightning_gans.protocol import require

__all__ = ["GANMetrics"]


class GANMetrics(Callback):
    """Generate ``num_samples`` images and log the metrics of :class:`~lightning_gans.evaluation.Evaluator`.

    FID, IS, KID, precision/recall, density/coverage (and for conditional modules class accuracy and
    intra-FID) with torch-fidelity's Inception-v3 or any extractor (``"digits"``, ``"mnist"``: the
    embedded classifiers), as ``eval/fid``, ``eval/is`` ... to every logger and
    ``trainer.callback_metrics``, with the settings that make them comparable (hyper-parameter ``eval``).

    **When**: after every ``every_n_generator_steps`` generator updates, after the last batch of every
    ``every_n_epochs``-th epoch and of training, and at the end of ``trainer.validate``/``test``;
    never twice for one generator step. An evaluation's values stay in ``callback_metrics`` until the
    next batch starts, and the trainer's ``ModelCheckpoint`` and ``EarlyStopping`` callbacks that
    monitor one of them are handed each evaluation (``on_validation_end``), so they act on every
    evaluation and never on a stale value (recipe: docs/evaluation.md).

    **Images**: ``pl_module.sample`` (the EMA generator when set) on fixed noise; real images from
    ``real_samples`` or the training dataloader's ``.dataset``, read by index (the loader and the RNG
    are untouched), their statistics cached in memory and in ``cache_dir``.

    Args:
        num_samples: generated images per evaluation (>= 2).
        feature_extractor: ``"inception"``, ``"digits"``, ``"mnist"`` or an ``nn.Module`` (contract in
            :mod:`lightning_gans.evaluation.extractors`).
        feature_extractor_weights_path: Inception weights file (default: the torch hub cache); checked here.
        antialias: Inception resize: ``False`` = TF1-compatible (torch-fidelity, published FIDs).
        metrics: names in :data:`lightning_gans.evaluation.METRICS`, or ``None`` for all that apply.
        every_n_epochs: evaluate after every N-th training epoch (``None``: never).
        every_n_generator_steps: evaluate after every N-th generator update (``None``: never).
        at_train_end: evaluate when training ends.
        on_validate: evaluate at the end of ``trainer.validate``.
        on_test: evaluate at the end of ``trainer.test``.
        data_range: ``(low, high)`` of generated and real images; values outside it raise.
        real_samples: real images, a tensor ``(N, C, H, W)`` or a dataset (default: the training data).
        num_real: real images used (default: all).
        real_key: a name for the real data in the cache key instead of a digest of the images.
        cache_dir: where real statistics are stored.
        cache: store and reuse real statistics on disk.
        batch_size: images per generator/extractor batch.
        kid_subsets: KID subsets (torch-fidelity: 100).
        kid_subset_size: KID subset size (torch-fidelity: 1000), lowered to the smaller set's size.
        isc_splits: IS splits (torch-fidelity: 10).
        seed: seed of the generated noise, the real subset, IS shuffling and KID subsets.
        prefix: prefix of the logged names.

    Raises:
        ValueError: an argument is out of range (the message names it).
        FileNotFoundError: Inception weights are missing (says where to get them and what to set).
    """

    def __init__(
        self,
        num_samples: int = 10_000,
        feature_extractor: str | nn.Module = "inception",
        feature_extractor_weights_path: str | None = None,
        antialias: bool = False,
        metrics: Sequence[str] | None = None,
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
        if real_samples is not None and not isinstance(real_samples, (Tensor, Dataset)):
            raise _checks.InputError(
                f"`real_samples` must be a Tensor (N, C, H, W) or a Dataset, got {type(real_samples).__name__}."
            )
        self.evaluator = Evaluator(
            feature_extractor, metrics=metrics, num_samples=num_samples, num_real=num_real, data_range=data_range,
            batch_size=batch_size, kid_subsets=kid_subsets, kid_subset_size=kid_subset_size, isc_splits=isc_splits,
            seed=seed, feature_extractor_weights_path=feature_extractor_weights_path, antialias=antialias,
            cache_dir=cache_dir, cache=cache, real_key=real_key,
        )  # fmt: skip
        self.every_n_epochs = _checks.optional_integer("every_n_epochs", every_n_epochs)
        self.schedule = GeneratorStepSchedule(every_n_generator_steps, at_train_end)
        self.on_validate, self.on_test = (
            _checks.boolean("on_validate", on_validate),
            _checks.boolean("on_test", on_test),
        )
        self.prefix = prefix
        self._real_samples = real_samples
        self._config_logged = False
        #: The metrics of the last evaluation, ``{"eval/fid": ..., ...}`` (identical on every rank).
        self.last_metrics: dict[str, float] = {}

    # -- Lightning hooks: they decide *when*; the Evaluator does the work --------------------------
    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        require(pl_module, self, "sample")
        ev = self.evaluator
        if ev.num_samples < trainer.world_size:
            raise _checks.InputError(
                f"`num_samples`={ev.num_samples} must be >= the number of processes ({trainer.world_size})."
            )
        dim = getattr(ev.extractor, "num_features", None)
        if isinstance(dim, int) and trainer.is_global_zero and ev.metrics_apply("fid"):
            check_sample_count(ev.num_samples, dim, "generated", "num_samples")
        _check_inputs_fit(ev, pl_module, self._real_data(trainer, required=False))

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._log_config(trainer)

    def on_train_batch_start(self, trainer: Trainer, pl_module: LightningModule, batch: Any, batch_idx: int) -> None:
        for key in self.last_metrics:  # an evaluation is fresh for one batch end: never a stale value to monitor
            trainer.callback_metrics.pop(key, None)

    def on_train_batch_end(
        self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        step = _generator_steps(trainer, pl_module)
        epoch_due = (
            self.every_n_epochs is not None
            and trainer.is_last_batch
            and (trainer.current_epoch + 1) % self.every_n_epochs == 0
        )
        if (
            self.schedule.due(step)
            or (epoch_due and self.schedule.not_done(step))
            or self.schedule.due_at_end(step, _last_batch(trainer))
        ):
            self._evaluate(trainer, pl_module, step)

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        step = _generator_steps(trainer, pl_module)
        if self.schedule.due_at_end(step, True):  # stopped early (EarlyStopping, max_time): not evaluated yet
            self._evaluate(trainer, pl_module, step)
        if self.last_metrics and trainer.is_global_zero:  # the final numbers on the console, not only in the logs
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
        return self.schedule.state_dict()

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.schedule.load_state_dict(state_dict)

    # -- evaluation --------------------------------------------------------------------------------
    def evaluate(self, trainer: Trainer, pl_module: LightningModule) -> dict[str, float]:
        """Compute the metrics now, log them, and return them. Call on every rank."""
        self._log_config(trainer)
        ev = self.evaluator.to(pl_module.device)
        sync_sampling_statistics(
            pl_module, trainer.strategy
        )  # every rank samples through the same BatchNorm statistics
        result = ev.evaluate(pl_module, self._real_data(trainer), _TrainerCollective(trainer), pl_module.device)
        metrics = {self.prefix + k: float(v) for k, v in result.items()}
        for logger in trainer.loggers:  # loggers write on rank 0 only
            logger.log_metrics(metrics, step=trainer.global_step)
        trainer.callback_metrics.update({k: torch.tensor(v) for k, v in metrics.items()})
        self.last_metrics = metrics
        return metrics

    def _evaluate(self, trainer: Trainer, pl_module: LightningModule, step: int) -> None:
        if trainer.sanity_checking:
            return
        self.schedule.mark(step)
        self.evaluate(trainer, pl_module)
        if trainer.is_global_zero:  # one line per evaluation, printed above the progress bar
            _print_line(trainer, f"GANMetrics at {step} generator steps: {_metrics_line(self.last_metrics)}")
        for callback in _monitoring(trainer, self.last_metrics):  # they rank / stop on this evaluation now
            callback.on_validation_end(trainer, pl_module)

    def _real_data(self, trainer: Trainer, required: bool = True) -> Any:
        return self._real_samples if self._real_samples is not None else _training_dataset(trainer, required)

    def _log_config(self, trainer: Trainer) -> None:
        if self._config_logged:
            return
        self._config_logged = True
        config = self.evaluator.settings(len(self.evaluator.real_indices(self._real_data(trainer), trainer.world_size)))
        for logger in trainer.loggers:
            logger.log_hyperparams({"eval": config})


class _TrainerCollective:
    """The evaluator's collectives through the trainer's strategy (every rank runs the same calls)."""

    def __init__(self, trainer: Trainer) -> None:
        self.trainer, self.world_size, self.rank = trainer, trainer.world_size, trainer.global_rank

    def all_gather(self, tensor: Tensor) -> Tensor:
        return self.trainer.strategy.all_gather(tensor)

    def broadcast(self, obj: Any, src: int = 0) -> Any:
        return self.trainer.strategy.broadcast(obj, src=src)


def _metrics_line(metrics: dict[str, float]) -> str:
    """``{"eval/fid": 12.345, "eval/is": 2.1}`` as ``eval/fid 12.35, eval/is 2.1`` (4 significant digits)."""
    return ", ".join(f"{name} {value:.4g}" for name, value in metrics.items())


def _print_line(trainer: Trainer, line: str) -> None:
    """Print ``line`` through the progress bar when one is shown (so that the bar is redrawn below it)."""
    bar = trainer.progress_bar_callback
    if bar is not None and getattr(bar, "is_enabled", False):
        bar.print(line)
    else:
        print(line, flush=True)


def _image(item: Any) -> Any:
    return item[0] if isinstance(item, (tuple, list)) else item


def _generator_steps(trainer: Trainer, pl_module: LightningModule) -> int:
    return int(getattr(pl_module, "generator_steps", trainer.global_step))


def _last_batch(trainer: Trainer) -> bool:
    """Whether this batch ends ``fit`` (``max_steps`` reached, or the last batch of the last epoch)."""
    if trainer.max_steps is not None and 0 <= trainer.max_steps <= trainer.global_step:
        return True
    max_epochs = trainer.max_epochs
    return bool(
        trainer.is_last_batch and max_epochs is not None and max_epochs >= 0 and trainer.current_epoch + 1 >= max_epochs
    )


def _training_dataset(trainer: Trainer, required: bool) -> Any:
    """The ``.dataset`` of the training dataloader (outside fit: of a fresh one, whose dataset alone is read)."""
    loader = trainer.train_dataloader
    if loader is None:
        datamodule = getattr(trainer, "datamodule", None)
        source = datamodule if datamodule is not None else trainer.lightning_module
        if is_overridden("train_dataloader", source):
            loader = source.train_dataloader()
    dataset = getattr(loader, "dataset", None)
    if dataset is None and required:
        raise _checks.InputError(
            "GANMetrics needs real images: pass `real_samples` (a Tensor or Dataset), or train with a dataloader "
            "whose `.dataset` yields images or (image, ...) tuples."
        )
    return dataset


def _monitoring(trainer: Trainer, metrics: dict[str, float]) -> list[Callback]:
    """The trainer's ``ModelCheckpoint`` and ``EarlyStopping`` callbacks that monitor one of ``metrics``."""
    callbacks: list[Callback] = getattr(trainer, "callbacks", [])
    return [cb for cb in callbacks if isinstance(cb, (ModelCheckpoint, EarlyStopping)) and cb.monitor in metrics]


def _check_inputs_fit(ev: Evaluator, pl_module: LightningModule, data: Any) -> None:
    """Run two generated and two real images through the extractor's checks now, so that a range, channel
    or size mismatch, or a metric the extractor cannot give, fails in ``setup``, before any training."""
    ev.to(pl_module.device)
    fake = next(ev.fake_batches(pl_module, 0, min(2, ev.num_samples)))
    x = ev.check_images(fake, "generated samples")
    if ev.metrics is not None and "is" in ev.metrics:  # IS asked for by name: does the extractor give logits?
        with torch.no_grad():
            ev.check_metrics(has_logits=isinstance(ev.extractor(x), (tuple, list)))
    if data is None:  # no real images reachable yet: checked at the first evaluation
        return
    real = torch.stack([_image(data[i]) for i in range(min(2, len(data)))])
    ev.check_images(real, "real samples")
    if fake.shape[1:] != real.shape[1:]:
        raise _checks.InputError(
            f"GANMetrics: generated samples have shape {tuple(fake.shape[1:])} but the real images "
            f"{tuple(real.shape[1:])} (C, H, W): metrics between different image sizes compare resolutions, not "
            "models. Make the generator's `image_size`/`channels` match the data's (or pass `real_samples` of its size)."
        )
