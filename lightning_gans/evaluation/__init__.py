"""FID / IS / KID evaluation: pure metric maths, feature extractors, range conversion, real-statistics cache.

The Lightning glue is :class:`lightning_gans.callbacks.GANMetrics`; everything here runs without a Trainer.
"""

from lightning_gans.evaluation.cache import RealStatistics, RealStatisticsCache
from lightning_gans.evaluation.convert import CHANNEL_CONVERSIONS, check_data_range, to_extractor_input
from lightning_gans.evaluation.evaluate import compute_metrics, extract
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
    "DigitsClassifier",
    "FIDStatistics",
    "InceptionV3Extractor",
    "RealStatistics",
    "RealStatisticsCache",
    "build_extractor",
    "check_data_range",
    "check_sample_count",
    "compute_metrics",
    "extract",
    "extractor_id",
    "features_to_statistics",
    "frechet_distance",
    "inception_score",
    "kernel_inception_distance",
    "resolve_inception_weights",
    "run_extractor",
    "to_extractor_input",
]
