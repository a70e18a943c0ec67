"""Metrics: likelihood bounds, sample quality (FID, KID, precision/recall), feature extractors, run evaluation.

    frechet_distance(mu1, s1, mu2, s2) / fid(...)   FID from Gaussian statistics (pure)
    kid(a, b) / precision_recall(real, fake)        on feature arrays (pure)
    classifier_score(probs)                         Inception Score formula on genzoo's classifier
    choose_feature_extractor("fashion-mnist")      the cached classifier evaluations use (default trained if none, announced)
    load_feature_extractor("fashion-mnist", shape)  the cached classifier of one recipe (trained if missing)
    recognised_share(probs)                         share of images the classifier names with p(y|x) >= 0.9
    reference_statistics(extractor, "fashion-mnist") cached test-split statistics
    evaluate_run(run_dir)                           likelihood, sample quality and speed of a trained run
"""

from genzoo.metrics.evaluate import METRICS, EvaluationSettings, evaluate_run, write_metrics_json
from genzoo.metrics.features import (
    FeatureExtractor,
    FeatureExtractorError,
    FeatureNetConfig,
    FeatureTraining,
    choose_feature_extractor,
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
    recognised_share,
    sqrtm_psd,
)

__all__ = [
    "METRICS",
    "FeatureExtractor",
    "FeatureExtractorError",
    "FeatureNetConfig",
    "FeatureTraining",
    "ReferenceStatistics",
    "choose_feature_extractor",
    "classifier_score",
    "EvaluationSettings",
    "evaluate_run",
    "fid",
    "fid_from_features",
    "frechet_distance",
    "gaussian_statistics",
    "inception_score_like",
    "kid",
    "load_feature_extractor",
    "precision_recall",
    "recognised_share",
    "reference_statistics",
    "sqrtm_psd",
    "train_feature_classifier",
    "write_metrics_json",
]
