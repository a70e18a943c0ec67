"""FID, KID, precision/recall and classifier score against closed forms and brute force."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg
import torch

from genzoo.data import load_dataset
from genzoo.metrics.features import FeatureExtractor, FeatureNet, FeatureNetConfig
from genzoo.metrics.sample_quality import (
    classifier_score,
    fid,
    fid_from_features,
    frechet_distance,
    gaussian_statistics,
    inception_score_like,
    kid,
    knn_radii,
    mmd2_unbiased,
    precision_recall,
    recognised_share,
    sqrtm_psd,
)


def random_spd(rng: np.random.Generator, dim: int, rank: int | None = None) -> np.ndarray:
    factor = rng.normal(size=(dim, rank or dim + 2))
    return factor @ factor.T / factor.shape[1]


def scipy_frechet(mu1, s1, mu2, s2) -> float:
    """The pytorch-fid computation, with scipy's general matrix square root of S1 S2."""
    covmean = scipy.linalg.sqrtm(s1 @ s2)
    covmean = covmean.real if np.iscomplexobj(covmean) else covmean
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


# ---- matrix square root and FID --------------------------------------------------------------
@pytest.mark.parametrize("dim", [1, 3, 16, 64])
def test_sqrtm_psd_matches_scipy(dim):
    rng = np.random.default_rng(dim)
    matrix = random_spd(rng, dim)
    root = sqrtm_psd(matrix)
    np.testing.assert_allclose(root, scipy.linalg.sqrtm(matrix).real, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(root @ root, matrix, rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(root, root.T)


def test_sqrtm_psd_of_a_singular_matrix():
    rng = np.random.default_rng(0)
    matrix = random_spd(rng, 12, rank=5)  # rank 5 < 12
    root = sqrtm_psd(matrix)
    np.testing.assert_allclose(root @ root, matrix, atol=1e-10)
    assert np.linalg.eigvalsh(root).min() > -1e-7


@pytest.mark.parametrize("dim", [2, 10, 40])
def test_frechet_distance_matches_scipy_sqrtm(dim):
    rng = np.random.default_rng(100 + dim)
    mu1, mu2 = rng.normal(size=dim), rng.normal(size=dim)
    s1, s2 = random_spd(rng, dim), random_spd(rng, dim)
    expected = scipy_frechet(mu1, s1, mu2, s2)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-8, abs=1e-9)
    assert fid(torch.from_numpy(mu1), torch.from_numpy(s1), mu2, s2) == pytest.approx(expected, rel=1e-8)  # torch accepted
    assert frechet_distance(mu2, s2, mu1, s1) == pytest.approx(expected, rel=1e-8)  # symmetric
    assert frechet_distance(mu1, s1, mu1, s1) == pytest.approx(0.0, abs=1e-9)


def test_frechet_distance_closed_forms():
    # 1-D: (m1 - m2)^2 + (sd1 - sd2)^2
    assert frechet_distance(np.array([1.0]), np.array([[4.0]]), np.array([-2.0]), np.array([[9.0]])) == pytest.approx(9 + 1)
    # diagonal covariances, some variances zero (singular): sum (sqrt(a) - sqrt(b))^2 + ||mu1 - mu2||^2
    a, b = np.array([0.0, 1.0, 4.0, 0.0, 2.0]), np.array([3.0, 0.0, 1.0, 0.0, 2.0])
    mu1, mu2 = np.arange(5.0), np.arange(5.0) + 0.5
    expected = ((np.sqrt(a) - np.sqrt(b)) ** 2).sum() + 5 * 0.25
    assert frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(expected, rel=1e-10)
    # the eps offset shifts the value by O(eps * D) only
    assert frechet_distance(mu1, np.diag(a), mu2, np.diag(b), eps=1e-6) == pytest.approx(expected, abs=1e-2)


def test_fid_of_rank_deficient_features_is_finite_and_matches_rotation_invariance():
    # fewer samples than dimensions: both covariances singular; FID is invariant under a rotation of feature space
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(20, 50)), rng.normal(size=(20, 50)) + 0.3
    rotation, _ = np.linalg.qr(rng.normal(size=(50, 50)))
    value = fid_from_features(x, y)
    assert math.isfinite(value) and value > 0
    assert fid_from_features(x @ rotation, y @ rotation) == pytest.approx(value, rel=1e-7)


def test_fid_of_gaussian_samples_approaches_the_closed_form():
    rng = np.random.default_rng(7)
    dim, count = 6, 200_000
    mu1, mu2 = rng.normal(size=dim), rng.normal(size=dim)
    s1, s2 = random_spd(rng, dim), random_spd(rng, dim)
    x = rng.multivariate_normal(mu1, s1, size=count)
    y = rng.multivariate_normal(mu2, s2, size=count)
    true_value = frechet_distance(mu1, s1, mu2, s2)
    assert true_value > 1.0
    assert fid_from_features(x, y) == pytest.approx(true_value, rel=0.01)
    mu_x, sigma_x = gaussian_statistics(x)
    np.testing.assert_allclose(sigma_x, np.cov(x, rowvar=False), rtol=1e-10)  # the pytorch-fid estimator


def test_fid_of_images_is_zero_for_identical_sets_and_grows_with_noise():
    """A random-weight feature network on shapes: FID(test, test) ~ 0, increasing in the noise std."""
    images = load_dataset("shapes", "test", n_test=400, size=28, channels=1).images  # (400, 1, 28, 28) uint8
    with torch.random.fork_rng():
        torch.manual_seed(0)
        net = FeatureNet(FeatureNetConfig((1, 28, 28), 5, widths=(8, 16), convs_per_block=1, feature_dim=16)).eval()
    extractor = FeatureExtractor(net=net, dataset="shapes")
    reference = gaussian_statistics(extractor.features(images).double())
    assert frechet_distance(*reference, *reference) == pytest.approx(0.0, abs=1e-9)
    generator = torch.Generator().manual_seed(1)
    noise = torch.randn(images.shape, generator=generator)
    values = []
    for std in (0.0, 8.0, 24.0, 64.0, 128.0):
        noisy = (images.float() + std * noise).round().clamp(0, 255).to(torch.uint8)
        values.append(frechet_distance(*reference, *gaussian_statistics(extractor.features(noisy).double())))
    assert values[0] == pytest.approx(0.0, abs=1e-9)
    assert all(later > earlier for earlier, later in zip(values, values[1:])), values
    assert values[-1] > 100 * values[1]


# ---- KID -----------------------------------------------------------------------------------
def test_mmd2_unbiased_matches_a_direct_double_sum():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(7, 3)), rng.normal(size=(5, 3)) + 1
    k = lambda a, b: (a @ b / 3 + 1) ** 3  # noqa: E731
    xx = sum(k(x[i], x[j]) for i in range(7) for j in range(7) if i != j) / (7 * 6)
    yy = sum(k(y[i], y[j]) for i in range(5) for j in range(5) if i != j) / (5 * 4)
    xy = sum(k(x[i], y[j]) for i in range(7) for j in range(5)) / 35
    assert mmd2_unbiased(x, y) == pytest.approx(xx + yy - 2 * xy, rel=1e-12)


def test_kid_is_unbiased_for_equal_distributions_and_positive_for_different_ones():
    rng = np.random.default_rng(11)
    dim, subset = 16, 25  # a small subset makes the bias of the biased estimator visible
    a, b = rng.normal(size=(4000, dim)), rng.normal(size=(4000, dim))  # two independent samples, same distribution
    mean, std_error = kid(a, b, subsets=200, subset_size=subset, seed=0)
    assert std_error > 0
    assert abs(mean) < 3 * std_error, (mean, std_error)
    # the biased (V-statistic) estimator on the same subsets is clearly positive: the test can tell them apart
    sampler = np.random.default_rng(0)
    biased = []
    for _ in range(200):
        x, y = a[sampler.choice(4000, subset, replace=False)], b[sampler.choice(4000, subset, replace=False)]
        k = lambda p, q: (p @ q.T / dim + 1) ** 3  # noqa: E731
        biased.append(k(x, x).mean() + k(y, y).mean() - 2 * k(x, y).mean())
    assert np.mean(biased) > 10 * std_error
    shifted = rng.normal(size=(4000, dim)) + 0.3
    different = kid(a, shifted, subsets=50, subset_size=200, seed=0)
    assert different.mean > 10 * different.std_error > 0
    assert kid(a, b, subsets=5, subset_size=subset, seed=3) == kid(a, b, subsets=5, subset_size=subset, seed=3)


# ---- precision and recall -------------------------------------------------------------------
def test_knn_radii_match_brute_force_and_blocks_do_not_matter():
    rng = np.random.default_rng(0)
    points = torch.from_numpy(rng.normal(size=(60, 4)))
    distances = torch.cdist(points, points).pow(2)
    expected = distances.sort(dim=1).values[:, 3]  # index 0 is the point itself
    torch.testing.assert_close(knn_radii(points, 3), expected, rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(knn_radii(points, 3, max_block_elements=7 * 60), expected, rtol=1e-9, atol=1e-9)


def test_precision_recall_of_a_set_with_itself_is_one_and_with_a_far_cluster_zero():
    rng = np.random.default_rng(1)
    real = rng.normal(size=(500, 8))
    assert precision_recall(real, real) == (1.0, 1.0)
    far = rng.normal(size=(400, 8)) + 100.0
    assert precision_recall(real, far) == (0.0, 0.0)


def test_precision_recall_see_mode_dropping_and_bad_samples():
    rng = np.random.default_rng(2)
    left, right = rng.normal(size=(600, 2)) - 20, rng.normal(size=(600, 2)) + 20
    real = np.concatenate([left, right])
    one_mode = rng.normal(size=(600, 2)) - 20  # good samples, half the modes
    precision, recall = precision_recall(real, one_mode, k=3, max_block_elements=10_000)  # small blocks
    assert precision > 0.9 and 0.4 < recall < 0.55
    half_junk = np.concatenate([rng.normal(size=(300, 2)) - 20, rng.normal(size=(300, 2)) + 20, rng.normal(size=(600, 2)) * 0.1 + [200, 0]])
    precision, recall = precision_recall(real, half_junk, k=3)
    assert 0.4 < precision < 0.55 and recall > 0.9


# ---- classifier score -----------------------------------------------------------------------
def test_classifier_score_is_k_for_uniform_one_hot_and_one_for_constant_predictions():
    classes, splits = 7, 5
    one_hot = np.eye(classes)[np.arange(classes * splits * 4) % classes]  # every split has a uniform marginal
    score = classifier_score(one_hot, splits=splits)
    assert score.mean == pytest.approx(classes, rel=1e-12) and score.std == pytest.approx(0.0, abs=1e-12)
    constant = np.tile(np.random.default_rng(0).dirichlet(np.ones(classes)), (100, 1))
    assert classifier_score(constant, splits=splits).mean == pytest.approx(1.0, rel=1e-12)
    assert inception_score_like is classifier_score


def test_classifier_score_matches_the_formula_on_random_predictions():
    probs = np.random.default_rng(3).dirichlet(np.full(4, 0.3), size=300)
    marginal = probs.mean(0)
    expected = math.exp(np.mean(np.sum(probs * (np.log(probs) - np.log(marginal)), axis=1)))
    assert classifier_score(probs, splits=1).mean == pytest.approx(expected, rel=1e-10)
    assert 1.0 < expected < 4.0
    with pytest.raises(ValueError, match="probability"):
        classifier_score(probs * 2, splits=1)


# ---- recognised share ------------------------------------------------------------------------
def test_recognised_share_counts_predictions_at_or_above_the_threshold():
    probs = np.array([
        [1.0, 0.0, 0.0],  # one-hot: recognised
        [0.9, 0.05, 0.05],  # exactly at the threshold: recognised
        [0.05, 0.899, 0.051],  # just below
        [1 / 3, 1 / 3, 1 / 3],  # uniform: never
        [0.0, 0.02, 0.98],
    ])
    assert recognised_share(probs) == pytest.approx(3 / 5)
    assert recognised_share(probs, threshold=0.95) == pytest.approx(2 / 5)
    assert recognised_share(probs, threshold=0.3) == pytest.approx(1.0)
    assert recognised_share(torch.from_numpy(probs[2:4]).float()) == 0.0  # torch accepted
    confident = np.random.default_rng(0).dirichlet(np.full(10, 0.02), size=2000)  # mostly near one-hot
    expected = float((confident.max(1) >= 0.9).mean())
    assert 0.5 < expected < 1.0 and recognised_share(confident) == pytest.approx(expected)
    with pytest.raises(ValueError, match="probability"):
        recognised_share(probs * 2)
    with pytest.raises(ValueError, match="threshold"):
        recognised_share(probs, threshold=0.0)
