"""Metrics: likelihood bounds, sample quality (FID, KID, precision/recall), feature extractors, run evaluation.

    frechet_distance(mu1, s1, mu2, s2) / fid(...)   FID from Gaussian statistics (pure)
    kid(a, b) / precision_recall(real, fake)        on feature arrays (pure)
    classifier_score(probs)                         Inception Score formula on genzoo's classifier
    load_feature_extractor("fashion-mnist", shape)  the cached per-dataset classifier (trained if missing)
    reference_statistics(extractor, "fashion-mnist") cached test-split statistics
    evaluate_run(run_dir)                           likelihood, sample quality and speed of a trained run
"""

from genzoo.metrics.evaluate import METRICS, evaluate_run, write_metrics_json
from genzoo.metrics.features import (
    FeatureExtractor,
    FeatureExtractorError,
    FeatureNetConfig,
    FeatureTraining,
    load_feature_extractor,
    train_feature_classifier,
)
from genzoo.metrics.reference import ReferenceStatistics, reference_statistics
from genzoo.metrics.sample_quality import (
    classifier_score,
    fid,
    fid_from_features,
    frechet_distance,
    gaussian_statistics,
    inception_score_like,
    kid,
    precision_recall,
    sqrtm_psd,
)

__all__ = [
    "METRICS",
    "FeatureExtractor",
    "FeatureExtractorError",
    "FeatureNetConfig",
    "FeatureTraining",
    "ReferenceStatistics",
    "classifier_score",
    "evaluate_run",
    "fid",
    "fid_from_features",
    "frechet_distance",
    "gaussian_statistics",
    "inception_score_like",
    "kid",
    "load_feature_extractor",
    "precision_recall",
    "reference_statistics",
    "sqrtm_psd",
    "train_feature_classifier",
    "write_metrics_json",
]
