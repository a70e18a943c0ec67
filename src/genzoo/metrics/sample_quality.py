"""Sample-quality metrics on feature vectors: FID, KID, improved precision/recall, classifier score.

Pure functions of feature arrays (NumPy or torch, computed in float64); which network made
the features is the caller's business (`genzoo.metrics.features`), and must be reported with
every number, together with the sample sizes N (FID and KID are biased / noisy in N).

  - Frechet distance (Heusel et al. 2017, "GANs trained by a two time-scale update rule",
    eq. 6) between Gaussians fitted to two feature sets:
        d^2 = ||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^{1/2}).
    Tr((S1 S2)^{1/2}) is computed as Tr((S1^{1/2} S2 S1^{1/2})^{1/2}): the two matrices are
    similar, and the second is symmetric positive semi-definite, so symmetric
    eigendecompositions suffice (no general `sqrtm`, no complex parts to discard) and singular
    covariances (fewer samples than dimensions) are handled without an offset.
  - Kernel inception distance (Binkowski et al. 2018, "Demystifying MMD GANs", Sec. 3 and
    App. D): the unbiased estimator of MMD^2 with the cubic polynomial kernel
    k(x, y) = (x.y / d + 1)^3, averaged over random subsets; mean and standard error.
  - Improved precision and recall (Kynkaanniemi et al. 2019, Sec. 3): each set's manifold is
    the union of balls around its points with radius the distance to the k-th nearest
    neighbour in the same set; precision = share of generated points inside the real manifold,
    recall = share of real points inside the generated manifold.
  - Classifier score: the Inception Score formula of Salimans et al. 2016,
    exp(E_x KL(p(y|x) || p(y))), applied to the predictions of genzoo's dataset classifier.
    It is NOT the Inception Score (no Inception network, not ImageNet classes) and is named
    so everywhere; it lies in [1, K] for K classes.
  - Recognised share: the share of images whose most probable class of the dataset has
    p(y|x) >= a threshold (default 0.9). Read next to the same share for real test images: a
    sample the dataset's classifier cannot name confidently is not a convincing image of the
    dataset, whatever its sharpness (speckle noise is sharp).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import torch

ArrayLike = np.ndarray | torch.Tensor


def _as_float64(values: ArrayLike, name: str, ndim: int) -> np.ndarray:
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().double().numpy()
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimension(s), got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} holds NaN or infinite values")
    return array


# ---- FID ----------------------------------------------------------------------------------
def gaussian_statistics(features: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Mean (D,) and unbiased covariance (D, D) of features (N, D), float64 (as pytorch-fid: np.cov, rowvar=False)."""
    array = _as_float64(features, "features", 2)
    if array.shape[0] < 2:
        raise ValueError(f"a covariance needs at least 2 feature vectors, got {array.shape[0]}")
    mu = array.mean(axis=0)
    centred = array - mu
    sigma = centred.T @ centred / (array.shape[0] - 1)
    return mu, sigma


def sqrtm_psd(matrix: ArrayLike) -> np.ndarray:
    """The symmetric positive semi-definite square root of a symmetric PSD matrix (D, D).

    Via the eigendecomposition M = V diag(w) V^T -> V diag(sqrt(max(w, 0))) V^T; eigenvalues
    that rounding pushed below zero are clipped. The input is symmetrised first.
    """
    array = _as_float64(matrix, "matrix", 2)
    if array.shape[0] != array.shape[1]:
        raise ValueError(f"matrix must be square, got shape {array.shape}")
    symmetric = (array + array.T) / 2
    eigenvalues, eigenvectors = np.linalg.eigh(symmetric)
    root = np.sqrt(np.clip(eigenvalues, 0.0, None))
    return (eigenvectors * root) @ eigenvectors.T


def trace_sqrt_product(sigma1: ArrayLike, sigma2: ArrayLike) -> float:
    """Tr((S1 S2)^{1/2}) for PSD S1, S2, as Tr((S1^{1/2} S2 S1^{1/2})^{1/2}) (a similar, symmetric PSD matrix)."""
    root1 = sqrtm_psd(sigma1)
    inner = root1 @ _as_float64(sigma2, "sigma2", 2) @ root1
    eigenvalues = np.linalg.eigvalsh((inner + inner.T) / 2)
    return float(np.sqrt(np.clip(eigenvalues, 0.0, None)).sum())


def frechet_distance(mu1: ArrayLike, sigma1: ArrayLike, mu2: ArrayLike, sigma2: ArrayLike, *, eps: float = 0.0) -> float:
    """Squared Frechet distance of N(mu1, S1) and N(mu2, S2), Heusel et al. 2017 eq. 6.

        ||mu1 - mu2||^2 + Tr(S1) + Tr(S2) - 2 Tr((S1 S2)^{1/2})

    `eps` > 0 adds eps * I to both covariances (shifting the result by O(eps * D)); the
    eigendecomposition route needs no offset for singular covariances, so the default is 0.
    The result is clipped at 0 (rounding can make FID(x, x) a tiny negative number).
    """
    mu1, mu2 = _as_float64(mu1, "mu1", 1), _as_float64(mu2, "mu2", 1)
    sigma1, sigma2 = _as_float64(sigma1, "sigma1", 2), _as_float64(sigma2, "sigma2", 2)
    dim = mu1.shape[0]
    if mu2.shape != (dim,) or sigma1.shape != (dim, dim) or sigma2.shape != (dim, dim):
        raise ValueError(f"shapes do not match: mu1 {mu1.shape}, sigma1 {sigma1.shape}, mu2 {mu2.shape}, sigma2 {sigma2.shape}")
    if eps:
        offset = eps * np.eye(dim)
        sigma1, sigma2 = sigma1 + offset, sigma2 + offset
    difference = mu1 - mu2
    value = difference @ difference + np.trace(sigma1) + np.trace(sigma2) - 2.0 * trace_sqrt_product(sigma1, sigma2)
    return max(float(value), 0.0)


def fid(mu1: ArrayLike, sigma1: ArrayLike, mu2: ArrayLike, sigma2: ArrayLike) -> float:
    """FID from Gaussian statistics of two feature sets: `frechet_distance` (Heusel et al. 2017)."""
    return frechet_distance(mu1, sigma1, mu2, sigma2)


def fid_from_features(features_a: ArrayLike, features_b: ArrayLike) -> float:
    """FID of two feature sets (N_a, D), (N_b, D)."""
    return frechet_distance(*gaussian_statistics(features_a), *gaussian_statistics(features_b))


# ---- KID ----------------------------------------------------------------------------------
class KIDResult(NamedTuple):
    mean: float  # mean over subsets of the unbiased MMD^2 estimate
    std_error: float  # standard deviation over subsets / sqrt(subsets)


def polynomial_kernel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """k(x, y) = (x.y / d + 1)^3 for all pairs: (N, M); the KID kernel of Binkowski et al. 2018."""
    return (x @ y.T / x.shape[1] + 1.0) ** 3


def mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD^2 (Gretton et al. 2012, eq. 3) with the cubic kernel; x (m, D), y (n, D).

    sum_{i != j} k(x_i, x_j) / (m (m - 1)) + sum_{i != j} k(y_i, y_j) / (n (n - 1)) - 2 mean k(x_i, y_j)
    """
    m, n = len(x), len(y)
    k_xx, k_yy, k_xy = polynomial_kernel(x, x), polynomial_kernel(y, y), polynomial_kernel(x, y)
    within_x = (k_xx.sum() - np.trace(k_xx)) / (m * (m - 1))
    within_y = (k_yy.sum() - np.trace(k_yy)) / (n * (n - 1))
    return float(within_x + within_y - 2.0 * k_xy.mean())


def kid(features_a: ArrayLike, features_b: ArrayLike, *, subsets: int = 100, subset_size: int = 1000, seed: int = 0) -> KIDResult:
    """Kernel inception distance (Binkowski et al. 2018): mean and standard error of the unbiased
    MMD^2 over `subsets` random subsets (without replacement) of min(subset_size, N_a, N_b) points of each set.

    Its expectation is 0 when both sets come from the same distribution, so it can be negative.
    """
    a, b = _as_float64(features_a, "features_a", 2), _as_float64(features_b, "features_b", 2)
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"feature dimensions differ: {a.shape[1]} and {b.shape[1]}")
    size = min(subset_size, len(a), len(b))
    if size < 2 or subsets < 1:
        raise ValueError(f"KID needs subsets >= 1 of at least 2 points each, got {subsets} subsets of {size}")
    rng = np.random.default_rng(seed)
    values = np.array([
        mmd2_unbiased(a[rng.choice(len(a), size, replace=False)], b[rng.choice(len(b), size, replace=False)])
        for _ in range(subsets)
    ])
    std_error = float(values.std(ddof=1) / math.sqrt(subsets)) if subsets > 1 else float("nan")
    return KIDResult(float(values.mean()), std_error)


# ---- precision and recall -----------------------------------------------------------------
class PrecisionRecall(NamedTuple):
    precision: float  # share of fake points inside the real manifold
    recall: float  # share of real points inside the fake manifold


def _squared_distances(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """||x_i - y_j||^2 (B, M) for x (B, D), y (M, D), float64, clipped at 0."""
    return ((x * x).sum(1)[:, None] - 2.0 * x @ y.T + (y * y).sum(1)[None, :]).clamp_(min=0.0)


def _rows_per_block(columns: int, max_block_elements: int) -> int:
    return max(1, max_block_elements // max(columns, 1))


def knn_radii(points: torch.Tensor, k: int, *, max_block_elements: int = 2**23) -> torch.Tensor:
    """Squared distance of every point to its k-th nearest other point: (N,), blockwise (bounded memory)."""
    if len(points) <= k:
        raise ValueError(f"k-NN radii with k={k} need more than {k} points, got {len(points)}")
    radii = torch.empty(len(points), dtype=torch.float64)
    rows = _rows_per_block(len(points), max_block_elements)
    for start in range(0, len(points), rows):
        distances = _squared_distances(points[start : start + rows], points)  # (B, N)
        index = torch.arange(start, min(start + rows, len(points)))
        distances[index - start, index] = float("inf")  # a point is not its own neighbour
        radii[start : start + rows] = distances.kthvalue(k, dim=1).values
    return radii


def manifold_coverage(points: torch.Tensor, centres: torch.Tensor, radii: torch.Tensor, *, max_block_elements: int = 2**23) -> float:
    """Share of `points` inside at least one ball (centres_j, radius_j), radii squared: the manifold test of Kynkaanniemi et al."""
    inside = 0
    rows = _rows_per_block(len(centres), max_block_elements)
    for start in range(0, len(points), rows):
        distances = _squared_distances(points[start : start + rows], centres)  # (B, M)
        inside += int((distances <= radii[None, :]).any(dim=1).sum())
    return inside / len(points)


def precision_recall(real: ArrayLike, fake: ArrayLike, *, k: int = 3, max_block_elements: int = 2**23) -> PrecisionRecall:
    """Improved precision and recall (Kynkaanniemi et al. 2019, eqs. 1-2) with k-NN radii (paper: k = 3).

    Distances are computed in blocks of at most `max_block_elements` float64 entries (64 MiB
    by default), so 10k x 10k sets never hold a full distance matrix.
    """
    real_t = torch.from_numpy(_as_float64(real, "real", 2))
    fake_t = torch.from_numpy(_as_float64(fake, "fake", 2))
    if real_t.shape[1] != fake_t.shape[1]:
        raise ValueError(f"feature dimensions differ: {real_t.shape[1]} and {fake_t.shape[1]}")
    real_radii = knn_radii(real_t, k, max_block_elements=max_block_elements)
    fake_radii = knn_radii(fake_t, k, max_block_elements=max_block_elements)
    precision = manifold_coverage(fake_t, real_t, real_radii, max_block_elements=max_block_elements)
    recall = manifold_coverage(real_t, fake_t, fake_radii, max_block_elements=max_block_elements)
    return PrecisionRecall(precision, recall)


# ---- classifier score ---------------------------------------------------------------------
class ClassifierScore(NamedTuple):
    mean: float  # mean over splits of exp(E KL(p(y|x) || p(y)))
    std: float  # standard deviation over splits (0 for one split)


def classifier_score(class_probs: ArrayLike, *, splits: int = 10) -> ClassifierScore:
    """exp(E_x KL(p(y|x) || p(y))) (Salimans et al. 2016's Inception Score formula) on a
    classifier's predictions (N, K), p(y) the mean prediction within each of `splits` equal parts.

    With genzoo's dataset classifier this is a "classifier score", not the Inception Score.
    1 when every prediction is the same; K when predictions are one-hot with uniform marginal.
    """
    probs = _as_float64(class_probs, "class_probs", 2)
    if splits < 1 or len(probs) < splits:
        raise ValueError(f"need at least one prediction per split: {len(probs)} predictions, {splits} splits")
    if np.any(probs < 0) or not np.allclose(probs.sum(1), 1.0, atol=1e-4):
        raise ValueError("class_probs must be probability vectors (non-negative rows summing to 1)")
    scores = []
    for part in np.array_split(probs, splits):
        marginal = part.mean(0, keepdims=True)  # (1, K)
        # 0 * log 0 = 0: terms with p(y|x) = 0 contribute nothing.
        ratio = np.where(part > 0, part / np.where(marginal > 0, marginal, 1.0), 1.0)
        kl = (part * np.log(ratio)).sum(1)  # (n,)
        scores.append(math.exp(kl.mean()))
    return ClassifierScore(float(np.mean(scores)), float(np.std(scores)))


inception_score_like = classifier_score


# ---- recognised share -----------------------------------------------------------------------
RECOGNISED_THRESHOLD = 0.9


def recognised_share(class_probs: ArrayLike, *, threshold: float = RECOGNISED_THRESHOLD, classes: int | None = None) -> float:
    """Share of images whose top class probability max_y p(y|x) is >= threshold; class_probs (N, K') rows sum to 1.

    `classes`: only the first `classes` columns are classes of the dataset (genzoo's classifier
    adds an outlier class, "no image of the dataset", as its last column); None: all of them.
    """
    probs = _as_float64(class_probs, "class_probs", 2)
    if len(probs) == 0:
        raise ValueError("the recognised share needs at least one prediction")
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    if np.any(probs < 0) or not np.allclose(probs.sum(1), 1.0, atol=1e-4):
        raise ValueError("class_probs must be probability vectors (non-negative rows summing to 1)")
    if classes is not None and not 1 <= classes <= probs.shape[1]:
        raise ValueError(f"classes must be in 1..{probs.shape[1]}, got {classes}")
    return float((probs[:, :classes].max(axis=1) >= threshold).mean())
