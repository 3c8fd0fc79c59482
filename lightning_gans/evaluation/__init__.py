"""Evaluation without Lightning: the :class:`Evaluator`, pure metric functions, feature extractors, caches.

The Lightning glue is :class:`lightning_gans.callbacks.GANMetrics` (a schedule around the
:class:`Evaluator`); ``lightning-gans evaluate`` calls the :class:`Evaluator` directly.
"""

from lightning_gans.evaluation.cache import RealStatistics, RealStatisticsCache
from lightning_gans.evaluation.conditional import balanced_labels, class_accuracy, intra_fid
from lightning_gans.evaluation.convert import CHANNEL_CONVERSIONS, check_data_range, to_extractor_input
from lightning_gans.evaluation.density_coverage import density_coverage
from lightning_gans.evaluation.evaluator import (
    METRICS,
    SINGLE_PROCESS,
    Collective,
    Evaluator,
    Features,
    MetricInputs,
    compute_metrics,
    extract,
)
from lightning_gans.evaluation.extractors import (
    EXTRACTORS,
    INCEPTION_WEIGHTS_FILE,
    INCEPTION_WEIGHTS_URL,
    DigitsClassifier,
    InceptionV3Extractor,
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
    FIDStatistics,
    check_sample_count,
    features_to_statistics,
    frechet_distance,
    inception_score,
    kernel_inception_distance,
)
from lightning_gans.evaluation.precision_recall import knn_radii, manifold_coverage, precision_recall

__all__ = [
    "CHANNEL_CONVERSIONS",
    "EXTRACTORS",
    "FID",
    "INCEPTION_WEIGHTS_FILE",
    "INCEPTION_WEIGHTS_URL",
    "IS",
    "IS_STD",
    "KID",
    "KID_STD",
    "METRICS",
    "SINGLE_PROCESS",
    "Collective",
    "DigitsClassifier",
    "Evaluator",
    "FIDStatistics",
    "Features",
    "InceptionV3Extractor",
    "MetricInputs",
    "RealStatistics",
    "RealStatisticsCache",
    "balanced_labels",
    "build_extractor",
    "check_data_range",
    "check_sample_count",
    "class_accuracy",
    "compute_metrics",
    "density_coverage",
    "extract",
    "extractor_id",
    "features_to_statistics",
    "frechet_distance",
    "inception_score",
    "intra_fid",
    "kernel_inception_distance",
    "knn_radii",
    "manifold_coverage",
    "precision_recall",
    "resolve_inception_weights",
    "run_extractor",
    "to_extractor_input",
]
