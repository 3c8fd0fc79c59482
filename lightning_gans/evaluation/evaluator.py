"""The Lightning-free evaluator: settings, feature extractor and real-statistics cache in one object.

:class:`Evaluator` turns images into metrics: :meth:`~Evaluator.real_statistics` of a real data set
(computed once, kept in memory and on disk), :meth:`~Evaluator.fake_features` of a generator (or of
a folder of images), :meth:`~Evaluator.compute` of the registered metrics. ``GANMetrics`` schedules
it during training and ``lightning-gans evaluate`` calls it directly; both therefore compute the
same numbers.

**A new metric is one function and one entry** in :data:`METRICS`: ``fn(inputs: MetricInputs) ->
{name: value}``, returning ``{}`` when its inputs are missing (IS without logits, intra-FID without
real labels). It then appears in ``GANMetrics``' logs and in ``lightning-gans evaluate --json``.

**Several processes** (DDP): pass a :class:`Collective` (``GANMetrics`` wraps the trainer's
strategy). Each rank extracts a contiguous share of the real and generated images, the features are
all-gathered, rank 0 computes the metrics and broadcasts them, so every rank holds the same values
and a run on ``W`` processes evaluates exactly the images of a single-process run.
"""

from __future__ import annotations

import hashlib
import math
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from lightning_gans import _checks
from lightning_gans.evaluation.cache import RealStatistics, RealStatisticsCache, default_cache_dir
from lightning_gans.evaluation.conditional import balanced_labels, class_accuracy, intra_fid
from lightning_gans.evaluation.convert import to_extractor_input
from lightning_gans.evaluation.density_coverage import density_coverage
from lightning_gans.evaluation.extractors import (
    EXTRACTORS,
    build_extractor,
    extractor_id,
    resolve_inception_weights,
    run_extractor,
)
from lightning_gans.evaluation.metrics import (
    FID,
    IS,
    IS_STD,
    KID,
    KID_STD,
    check_sample_count,
    features_to_statistics,
    frechet_distance,
    inception_score,
    kernel_inception_distance,
)
from lightning_gans.evaluation.precision_recall import precision_recall

__all__ = [
    "METRICS",
    "SINGLE_PROCESS",
    "Collective",
    "Evaluator",
    "Features",
    "MetricInputs",
    "compute_metrics",
    "extract",
]


# -- the metrics -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Features:
    """Extracted features of a set of images: ``features (N, D)``, ``logits (N, K)`` or None, ``labels (N,)`` or None."""

    features: Tensor
    logits: Tensor | None = None
    labels: Tensor | None = None

    @property
    def n(self) -> int:
        return self.features.shape[0]


@dataclass(frozen=True)
class MetricInputs:
    """What a metric function receives: the generated features, the real statistics and the settings."""

    fake: Features
    real: RealStatistics
    kid_subsets: int
    kid_subset_size: int
    isc_splits: int
    seed: int
    num_classes: int | None


def _fid(x: MetricInputs) -> dict[str, float]:
    return {FID: frechet_distance(features_to_statistics(x.fake.features), x.real.fid)}


def _is(x: MetricInputs) -> dict[str, float]:
    if x.fake.logits is None:
        return {}
    mean, std = inception_score(x.fake.logits, x.isc_splits, x.seed)
    return {IS: mean, IS_STD: std}


def _kid(x: MetricInputs) -> dict[str, float]:
    mean, std = kernel_inception_distance(x.fake.features, x.real.features, x.kid_subsets, x.kid_subset_size, x.seed)
    return {KID: mean, KID_STD: std}


def _precision_recall(x: MetricInputs) -> dict[str, float]:
    return precision_recall(x.fake.features, x.real.features, k=3)


def _density_coverage(x: MetricInputs) -> dict[str, float]:
    return density_coverage(x.fake.features, x.real.features, k=5)


def _class_accuracy(x: MetricInputs) -> dict[str, float]:
    logits, labels, k = x.fake.logits, x.fake.labels, x.num_classes
    if logits is None or labels is None or k is None or logits.shape[1] != k:
        return {}
    return class_accuracy(logits, labels, k)


def _intra_fid(x: MetricInputs) -> dict[str, float]:
    if x.fake.labels is None or x.real.labels is None or x.num_classes is None:
        return {}
    return intra_fid(x.fake.features, x.fake.labels, x.real.features, x.real.labels, x.num_classes)


METRICS: dict[str, Callable[[MetricInputs], dict[str, float]]] = {
    "fid": _fid,
    "is": _is,
    "kid": _kid,
    "precision_recall": _precision_recall,
    "density_coverage": _density_coverage,
    "class_accuracy": _class_accuracy,
    "intra_fid": _intra_fid,
}
"""Metric name -> ``fn(MetricInputs) -> {result key: value}``; ``{}`` where the inputs do not apply.

``fid`` (Heusel et al. 2017), ``is`` (needs logits; Salimans et al. 2016), ``kid`` (Binkowski et al.
2018), ``precision_recall`` (k = 3; Kynkäänniemi et al. 2019), ``density_coverage`` (k = 5; Naeem et
al. 2020), and for conditional generators ``class_accuracy`` (logits over exactly ``num_classes``)
and ``intra_fid`` (real labels known; Miyato & Koyama 2018).
"""


# -- several processes -----------------------------------------------------------------------------
class Collective(Protocol):
    """The collectives an evaluation on several processes needs (``GANMetrics`` wraps the trainer's strategy)."""

    world_size: int
    rank: int

    def all_gather(self, tensor: Tensor) -> Tensor:
        """Every rank's ``tensor`` (same shape on all ranks), stacked: ``(world_size, *tensor.shape)``."""
        ...

    def broadcast(self, obj: Any, src: int = 0) -> Any:
        """``obj`` of rank ``src``, on every rank."""
        ...


class _SingleProcess:
    world_size = 1
    rank = 0

    def all_gather(self, tensor: Tensor) -> Tensor:
        return tensor.unsqueeze(0)

    def broadcast(self, obj: Any, src: int = 0) -> Any:
        return obj


SINGLE_PROCESS: Collective = _SingleProcess()
"""The collectives of one process: gathering and broadcasting are identities."""


def _share(n: int, dist: Collective) -> tuple[int, int]:
    """The contiguous range of ``n`` items this rank handles."""
    m = math.ceil(n / dist.world_size)
    start = min(dist.rank * m, n)
    return start, min(start + m, n)


def _gather(x: Tensor, n: int, dist: Collective, device: torch.device) -> Tensor:
    """Concatenate every rank's contiguous share ``x`` into the full ``(n, ...)`` tensor, on every rank."""
    if dist.world_size == 1:
        return x
    m = math.ceil(n / dist.world_size)
    padded = x.new_zeros((m, *x.shape[1:]))
    padded[: x.shape[0]] = x
    return dist.all_gather(padded.to(device)).reshape(dist.world_size * m, *x.shape[1:])[:n].cpu()


# -- images ----------------------------------------------------------------------------------------
@torch.no_grad()
def extract(
    extractor: nn.Module, batches: Iterable[Tensor], data_range: tuple[float, float], what: str = "images"
) -> tuple[Tensor, Tensor | None]:
    """Run ``extractor`` over image batches ``(B, C, H, W)`` in ``data_range``: CPU ``(features (N, D), logits (N, K) or None)``.

    Raises:
        ValueError: values outside ``data_range``, a channel count with no conversion, or no images (naming ``what``).
    """
    device = next(iter(extractor.parameters()), torch.empty(0)).device
    in_channels = getattr(extractor, "in_channels", None)
    features, logits = [], []
    for batch in batches:
        f, lg = run_extractor(extractor, to_extractor_input(batch.to(device), data_range, in_channels, what))
        features.append(f.float().cpu())
        if lg is not None:
            logits.append(lg.float().cpu())
    if not features:
        raise ValueError(f"No {what} to evaluate.")
    return torch.cat(features), (torch.cat(logits) if logits else None)


def compute_metrics(
    fake_features: Tensor,
    fake_logits: Tensor | None,
    real: RealStatistics,
    metrics: Sequence[str] | None = None,
    kid_subsets: int = 100,
    kid_subset_size: int = 1000,
    isc_splits: int = 10,
    seed: int = 2020,
    fake_labels: Tensor | None = None,
    num_classes: int | None = None,
) -> dict[str, float]:
    """The metrics of :data:`METRICS` named in ``metrics`` (``None``: every one that applies) of generated
    features against real statistics; ``kid_subset_size`` is used as given (it must not exceed either set)."""
    fake = Features(fake_features, fake_logits, fake_labels)
    inputs = MetricInputs(fake, real, kid_subsets, kid_subset_size, isc_splits, seed, num_classes)
    names = list(metrics or METRICS)
    if fake_labels is not None:  # a conditional generator: class accuracy, and intra-FID beside FID, always
        names += [n for n in ("class_accuracy", "intra_fid") if n not in names and (n != "intra_fid" or "fid" in names)]
    result: dict[str, float] = {}
    for name in names:
        result.update(METRICS[name](inputs))
    return result


def _image(item: Any) -> Tensor:
    return item[0] if isinstance(item, (tuple, list)) else item


def _batches(data: Tensor | Dataset, indices: Tensor, batch_size: int) -> Iterator[Tensor]:
    for start in range(0, len(indices), batch_size):
        idx = indices[start : start + batch_size]
        yield data[idx] if isinstance(data, Tensor) else torch.stack([_image(data[int(i)]) for i in idx])


def _labels_of(data: Tensor | Dataset, indices: Tensor) -> Tensor | None:
    """Labels of the chosen real images (``targets``, a TensorDataset's second tensor, or ``(image, label)`` items)."""
    if isinstance(data, Tensor):
        return None
    targets = getattr(data, "targets", None)
    tensors = getattr(data, "tensors", None)
    if targets is None and isinstance(tensors, tuple) and len(tensors) > 1:
        targets = tensors[1]
    if targets is not None:
        return torch.as_tensor(targets)[indices].long()
    items = [data[int(i)] for i in indices]
    if not all(isinstance(it, (tuple, list)) and len(it) > 1 for it in items):
        return None
    return torch.as_tensor([int(it[1]) for it in items])


class Evaluator:
    """FID, IS, KID, precision/recall, density/coverage (and class accuracy, intra-FID) of generated images.

    Args:
        feature_extractor: ``"inception"``, ``"digits"``, another name in
            :data:`~lightning_gans.evaluation.extractors.EXTRACTORS`, or an ``nn.Module`` following the
            extractor contract.
        metrics: names in :data:`METRICS` to compute, or ``None`` for every one that applies.
        num_samples: generated images per evaluation (>= 2).
        num_real: real images used (default: all), chosen by a seeded permutation.
        data_range: ``(low, high)`` of generated and real images; values outside it raise, never clipped.
        batch_size: images per generator/extractor batch.
        kid_subsets: KID subsets (torch-fidelity: 100).
        kid_subset_size: KID subset size (torch-fidelity: 1000), lowered to the smaller set's size with a warning.
        isc_splits: IS splits (torch-fidelity: 10).
        seed: seed of the generated noise, the real subset, IS shuffling and KID subsets (torch-fidelity's 2020).
        feature_extractor_weights_path: Inception weights file (default: the torch hub cache); checked here.
        antialias: Inception resize: ``False`` = TF1-compatible (torch-fidelity, published FIDs).
        cache_dir: where real statistics are stored (default: ``<torch hub dir>/lightning_gans/real_statistics``).
        cache: store and reuse real statistics on disk (in-memory reuse is always on).
        real_key: a name for the real data in the cache key instead of a digest of the images.

    Raises:
        ValueError: an argument is out of range or unknown (naming it).
        FileNotFoundError: Inception weights are missing (says where to get them and what to set).

    Examples:
        >>> from lightning_gans.data import load_digits_tensor
        >>> evaluator = Evaluator("digits", num_samples=100, cache=False)
        >>> real = evaluator.real_statistics(load_digits_tensor()[0])
        >>> round(evaluator.compute(evaluator.features(load_digits_tensor()[0][:100]), real)["fid"], 1)  # doctest: +SKIP
    """

    def __init__(
        self,
        feature_extractor: str | nn.Module = "inception",
        *,
        metrics: Sequence[str] | None = None,
        num_samples: int = 10_000,
        num_real: int | None = None,
        data_range: Sequence[float] = (-1.0, 1.0),
        batch_size: int = 64,
        kid_subsets: int = 100,
        kid_subset_size: int = 1000,
        isc_splits: int = 10,
        seed: int = 2020,
        feature_extractor_weights_path: str | None = None,
        antialias: bool = False,
        cache_dir: str | None = None,
        cache: bool = True,
        real_key: str | None = None,
    ) -> None:
        self.num_samples = _checks.integer("num_samples", num_samples, minimum=2)
        self.num_real = _checks.optional_integer("num_real", num_real, minimum=2)
        self.batch_size = _checks.integer("batch_size", batch_size)
        self.kid_subsets = _checks.integer("kid_subsets", kid_subsets)
        self.kid_subset_size = _checks.integer("kid_subset_size", kid_subset_size, minimum=2)
        self.isc_splits = _checks.integer("isc_splits", isc_splits)
        self.seed = _checks.integer("seed", seed, minimum=0)
        self.data_range = _checks.value_range("data_range", data_range)
        if metrics is not None:
            metrics = tuple(metrics)
            if not metrics or any(m not in METRICS for m in metrics):
                raise _checks.InputError(
                    f"`metrics` must be a non-empty list of names in {list(METRICS)} (or None), got {list(metrics)}."
                )
        self.metrics: tuple[str, ...] | None = metrics
        if self.metrics_apply("is") and self.num_samples < self.isc_splits:
            raise _checks.InputError(
                f"`num_samples`={self.num_samples} must be >= `isc_splits`={self.isc_splits} for IS."
            )
        if not isinstance(feature_extractor, nn.Module):
            _checks.choice("feature_extractor", feature_extractor, sorted(EXTRACTORS))
        if feature_extractor == "inception":  # fail now, before any training, when the weights are missing
            feature_extractor_weights_path = resolve_inception_weights(feature_extractor_weights_path)
        self._spec = feature_extractor
        self._weights_path = feature_extractor_weights_path
        self._antialias = _checks.boolean("antialias", antialias)
        self.cache = RealStatisticsCache(cache_dir or default_cache_dir()) if _checks.boolean("cache", cache) else None
        self.real_key = real_key
        self._extractor: nn.Module | None = None
        self._extractor_id: str | None = None
        self._memo: tuple[Any, int, RealStatistics] | None = None  # (data, n, statistics) of the last real set
        self._warned_kid = False
        #: The cache key of the last real statistics computed or read (data digest, extractor id, range, n, seed).
        self.real_cache_key: dict[str, Any] | None = None
        #: Where the last real statistics came from: ``"memory"``, ``"read from <file>"`` or ``"computed[, stored in <file>]"``.
        self.real_source = ""

    # -- the extractor -------------------------------------------------------------------------------
    @property
    def extractor(self) -> nn.Module:
        """The feature extractor in eval mode without gradients (built on first use)."""
        if self._extractor is None:
            self._extractor = build_extractor(self._spec, self._weights_path, self._antialias)
        return self._extractor

    @property
    def extractor_id(self) -> str:
        """``name@digest`` of the extractor's weights: part of the cache key and the logged settings.

        Computed once (hashing Inception's 95 MB takes ~0.1 s): the extractor is frozen (eval mode, no gradients).
        """
        if self._extractor_id is None:
            self._extractor_id = extractor_id(self.extractor)
        return self._extractor_id

    def to(self, device: torch.device | str) -> Evaluator:
        """Move the extractor to ``device`` (images are moved there batch by batch)."""
        self.extractor.to(device)
        return self

    def check_images(self, images: Tensor, what: str) -> Tensor:
        """``images`` as the extractor will see them; a range, channel or shape mismatch raises now, naming ``what``."""
        return to_extractor_input(images, self.data_range, getattr(self.extractor, "in_channels", None), what)

    def check_metrics(self, has_logits: bool) -> None:
        """Refuse explicitly requested metrics the inputs cannot give (IS without logits), before any evaluation."""
        if self.metrics is not None and "is" in self.metrics and not has_logits:
            raise _checks.InputError(
                "`metrics` asks for IS, but the feature extractor returns no class logits; drop 'is'."
            )

    def features(self, images: Tensor | Dataset, what: str = "images", labels: Tensor | None = None) -> Features:
        """Features of a tensor ``(N, C, H, W)`` or a dataset of images (or ``(image, ...)`` items), in order."""
        indices = torch.arange(len(images))  # type: ignore[arg-type]
        out = extract(self.extractor, _batches(images, indices, self.batch_size), self.data_range, what)
        return Features(*out, labels)

    # -- real statistics -----------------------------------------------------------------------------
    def real_indices(self, data: Tensor | Dataset, world_size: int = 1) -> Tensor:
        """The real images used: all, or ``num_real`` chosen by a permutation seeded with ``seed`` (sorted)."""
        total = len(data)  # type: ignore[arg-type]
        n = total if self.num_real is None else min(self.num_real, total)
        if n < max(2, world_size):
            raise _checks.InputError(
                f"Too few real images ({n}) for FID/KID on {world_size} process(es); check `num_real`."
            )
        if n == total:
            return torch.arange(total)
        return torch.randperm(total, generator=torch.Generator().manual_seed(self.seed))[:n].sort().values

    def real_statistics(
        self, data: Tensor | Dataset, dist: Collective = SINGLE_PROCESS, device: Any = "cpu"
    ) -> RealStatistics:
        """Features, FID statistics and labels of the real images: from memory, the disk cache, or computed (and stored).

        Args:
            data: a tensor ``(N, C, H, W)`` or a dataset of images or ``(image, label, ...)`` items.
            dist: the collectives when several processes evaluate together.
            device: where this rank's images are moved for gathering.
        """
        indices = self.real_indices(data, dist.world_size)
        if self._memo is not None and self._memo[0] is data and self._memo[1] == len(indices):
            self.real_source = "memory"
            return self._memo[2]
        n = len(indices)
        dim = getattr(self.extractor, "num_features", None)
        if dist.rank == 0 and isinstance(dim, int) and self.metrics_apply("fid"):
            check_sample_count(n, dim, "real", "num_real")
        start, stop = _share(n, dist)
        key = {
            "data": self.real_key or self._digest(data, indices[start:stop], n, dist, device),
            "extractor": self.extractor_id,
            "data_range": list(self.data_range),
            "num_real": n,
            "seed": self.seed,
        }
        self.real_cache_key = key
        path = self.cache.path(key) if self.cache is not None else None
        cached = self._read_cache(key) if dist.rank == 0 else None
        if dist.broadcast(cached is not None, 0):
            stats = dist.broadcast(cached, 0)
            self.real_source = f"read from {path}"
        else:
            batches = _batches(data, indices[start:stop], self.batch_size)
            mine, _ = extract(self.extractor, batches, self.data_range, "real samples")
            features = _gather(mine, n, dist, torch.device(device))
            stats = RealStatistics.from_features(features, _labels_of(data, indices)) if dist.rank == 0 else None
            if stats is not None and self.cache is not None:
                self.cache.save(key, stats)
            stats = dist.broadcast(stats, 0)
            self.real_source = "computed" + (f", stored in {path}" if path else "")
        self._memo = (data, n, stats)
        return stats

    def _read_cache(self, key: dict[str, Any]) -> RealStatistics | None:
        if self.cache is None:
            return None
        try:
            return self.cache.load(key)
        except _checks.InputError as err:  # a damaged file: say so, and compute the statistics again
            warnings.warn(f"{err} Recomputing the real statistics.", UserWarning, stacklevel=3)
            return None

    def _digest(self, data: Any, mine: Tensor, n: int, dist: Collective, device: Any) -> str:
        """A digest of the chosen real images that does not depend on the number of processes."""
        per_image = [
            int.from_bytes(
                hashlib.sha256(img.detach().cpu().float().contiguous().numpy().tobytes()).digest()[:8],
                "little",
                signed=True,
            )
            for batch in _batches(data, mine, self.batch_size)
            for img in batch
        ]
        digests = _gather(torch.tensor(per_image, dtype=torch.long), n, dist, torch.device(device))
        return "images-sha256:" + hashlib.sha256(digests.numpy().tobytes()).hexdigest()[:24]

    # -- generated images ----------------------------------------------------------------------------
    def fake_batches(self, generator: Any, start: int, stop: int) -> Iterator[Tensor]:
        """Images ``start:stop`` of the ``num_samples`` an evaluation generates (see :meth:`fake_features`)."""
        for z, labels in self._noise_shares(generator, start, stop):
            yield (
                generator.sample(z.shape[0], noise=z)
                if labels is None
                else generator.sample(z.shape[0], noise=z, labels=labels)
            )

    def _noise_shares(self, generator: Any, start: int, stop: int) -> Iterator[tuple[Tensor, Tensor | None]]:
        device = getattr(generator, "device", torch.device("cpu"))
        noise = generator.sample_noise(self.num_samples, torch.Generator(device=device).manual_seed(self.seed))
        num_classes = getattr(generator, "num_classes", None)
        labels = balanced_labels(self.num_samples, num_classes, device) if num_classes else None
        for s in range(start, stop, self.batch_size):
            e = min(s + self.batch_size, stop)
            yield noise[s:e], None if labels is None else labels[s:e]

    def fake_features(self, generator: Any, dist: Collective = SINGLE_PROCESS, device: Any = "cpu") -> Features:
        """Features of ``num_samples`` images of ``generator`` (anything with ``sample(n, noise=, labels=)`` and ``sample_noise``).

        The noise is ``generator.sample_noise(num_samples, torch.Generator().manual_seed(seed))``, drawn
        afresh at every evaluation, so evaluations differ only by the generator; image ``i`` of a
        conditional generator (``num_classes`` set) is drawn for class ``i mod num_classes``. Rank
        ``r`` generates the ``r``-th contiguous share. The global RNG is never touched.
        """
        start, stop = _share(self.num_samples, dist)
        batches = self.fake_batches(generator, start, stop)
        mine, mine_logits = extract(self.extractor, batches, self.data_range, "generated samples")
        features = _gather(mine, self.num_samples, dist, torch.device(device))
        logits = None if mine_logits is None else _gather(mine_logits, self.num_samples, dist, torch.device(device))
        num_classes = getattr(generator, "num_classes", None)
        return Features(features, logits, balanced_labels(self.num_samples, num_classes) if num_classes else None)

    # -- metrics -------------------------------------------------------------------------------------
    def metrics_apply(self, name: str) -> bool:
        """Whether ``name`` is among the metrics to compute (all are when ``metrics`` is None)."""
        return self.metrics is None or name in self.metrics

    def kid_subset(self, n_fake: int, n_real: int) -> int:
        """The KID subset size used: ``kid_subset_size`` lowered to the smaller set's size (warning once)."""
        subset = min(self.kid_subset_size, n_fake, n_real)
        if subset < self.kid_subset_size and self.metrics_apply("kid") and not self._warned_kid:
            self._warned_kid = True
            warnings.warn(
                f"`kid_subset_size`={self.kid_subset_size} exceeds the number of images (generated {n_fake}, "
                f"real {n_real}); using {subset}.",
                UserWarning,
                stacklevel=3,
            )
        return subset

    def compute(self, fake: Features, real: RealStatistics, num_classes: int | None = None) -> dict[str, float]:
        """Every requested metric of ``fake`` against ``real``, as ``{result key: value}``."""
        classes = num_classes if num_classes is not None else _num_classes(fake)
        subset = self.kid_subset(fake.n, real.n)
        return compute_metrics(
            fake.features, fake.logits, real, self.metrics, self.kid_subsets, subset, self.isc_splits, self.seed,
            fake.labels, classes,
        )  # fmt: skip

    def evaluate(
        self, generator: Any, real_data: Tensor | Dataset, dist: Collective = SINGLE_PROCESS, device: Any = "cpu"
    ) -> dict[str, float]:
        """:meth:`real_statistics`, :meth:`fake_features` and :meth:`compute` in one call (on every rank)."""
        real = self.real_statistics(real_data, dist, device)
        fake = self.fake_features(generator, dist, device)
        result = self.compute(fake, real, getattr(generator, "num_classes", None)) if dist.rank == 0 else None
        return dist.broadcast(result, 0)

    def settings(self, n_real: int) -> dict[str, Any]:
        """The settings that make two evaluations comparable (logged under the hyper-parameter ``eval``)."""
        extractor = self.extractor
        return {
            "feature_extractor": self.extractor_id,
            "resize": getattr(extractor, "resize", "done by the extractor"),
            "antialias": bool(getattr(extractor, "antialias", False)),
            "n_real": n_real,
            "n_fake": self.num_samples,
            "data_range": list(self.data_range),
            "metrics": list(self.metrics or METRICS),
            "kid_subsets": self.kid_subsets,
            "kid_subset_size": self.kid_subset(self.num_samples, n_real),
            "isc_splits": self.isc_splits,
            "seed": self.seed,
        }


def _num_classes(fake: Features) -> int | None:
    return None if fake.labels is None else int(fake.labels.max()) + 1
