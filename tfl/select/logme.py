"""`logme`: how well frozen features explain the labels, without training anything.

LogME (You, Liu, Wang and Long, "LogME: Practical Assessment of Pre-trained
Models for Transfer Learning", ICML 2021) scores features `F` (`n x D`) for a
target `y` by the evidence of a Bayesian linear model: a weight prior
`w ~ N(0, 1/alpha I)` and noise `y | F, w ~ N(F w, 1/beta I)`, whose
marginal likelihood is `y ~ N(0, 1/alpha F F^T + 1/beta I)`. `alpha` and
`beta` are chosen to maximise it, by the paper's fixed-point iteration
(Algorithm 1) on the singular value decomposition `F = U S V^T`:

    gamma = sum_i beta s_i^2 / (alpha + beta s_i^2)
    m     = beta (alpha I + beta F^T F)^-1 F^T y
    alpha = gamma / m^T m
    beta  = (n - gamma) / ||F m - y||^2

and the score is the maximised log evidence divided by `n`:

    L = n/2 log beta + D/2 log alpha - n/2 log 2 pi - beta/2 ||F m - y||^2
        - alpha/2 m^T m - 1/2 log |alpha I + beta F^T F|

For classification each class is one target (one-vs-rest, 1 for the class,
0 otherwise) and the score is the mean over classes. Higher is better; the
values of different data sets are not comparable, those of different
feature extractors on the same data are.

Scaling `F` by a constant `c` moves the best `alpha` to `alpha c^2` and
leaves the evidence unchanged, as the paper notes. The iteration here runs on
`F` divided by its root-mean-square value, so it starts near the answer
whatever the raw scale (a random MobileNetV3's features are near 1e-10) and
returns the evidence of `F` itself.
"""

import numpy as np

MAX_ITERATIONS = 1000
TOLERANCE = 1e-12  # relative change of alpha and beta at which the iteration stops


def logme(features, labels):
    """The LogME score of `features` for `labels` (see the module doc).

    Args:
        features: float array `[n, D]`, one row per example.
        labels: int class ids `[n]` (classification: one-vs-rest per class
            present, averaged), or a float array `[n, T]` of T targets
            (multi-hot labels, regression), averaged over the columns.

    Returns:
        The mean per-example log evidence, a float (higher is better).

    Raises:
        ValueError: naming the bad shape, size or value.

    Examples:

    >>> rng = np.random.default_rng(0)
    >>> labels = rng.integers(0, 2, 100)
    >>> informative = labels[:, None] + 0.1 * rng.normal(size=(100, 8))
    >>> logme(informative, labels) > logme(rng.normal(size=(100, 8)), labels)
    True
    """
    f, targets = _check(features, labels)
    scale = np.sqrt(np.mean(f * f))
    if not scale > 0:
        raise ValueError("Every feature is 0: LogME needs features that vary. Received: features of all zeros.")
    f = f / scale
    u, s, _ = np.linalg.svd(f, full_matrices=False)
    sigma = s * s
    evidences = [_evidence(sigma, u, y, f.shape[1])[0] for y in targets.T]
    # F / scale has the same evidence as F at the optimum (alpha scales by scale^2).
    return float(np.mean(evidences))


def _evidence(sigma, u, y, dim):
    """The fixed-point iteration and the evidence for one target `y`.

    Args:
        sigma: squared singular values of F, `[k]` with k = min(n, D).
        u: the left singular vectors, `[n, k]`.
        y: the target, `[n]`.
        dim: D, the number of features.
    """
    n = len(y)
    z = u.T @ y  # y in the basis of the left singular vectors
    outside = max(float(y @ y - z @ z), 0.0)  # the part of y no feature can reach
    alpha, beta = 1.0, 1.0
    for _ in range(MAX_ITERATIONS):
        shrink = alpha + beta * sigma
        gamma = float(np.sum(beta * sigma / shrink))
        m2 = float(np.sum((beta * np.sqrt(sigma) * z / shrink) ** 2))
        residual = float(np.sum((alpha * z / shrink) ** 2)) + outside
        new_alpha = gamma / max(m2, 1e-300)
        new_beta = (n - gamma) / max(residual, 1e-300)
        done = abs(new_alpha - alpha) <= TOLERANCE * alpha and abs(new_beta - beta) <= TOLERANCE * beta
        alpha, beta = new_alpha, new_beta
        if done:
            break
    shrink = alpha + beta * sigma
    m2 = float(np.sum((beta * np.sqrt(sigma) * z / shrink) ** 2))
    residual = float(np.sum((alpha * z / shrink) ** 2)) + outside
    log_det = float(np.sum(np.log(shrink))) + (dim - len(sigma)) * np.log(alpha)
    evidence = (
        n / 2 * np.log(beta) + dim / 2 * np.log(alpha) - n / 2 * np.log(2 * np.pi)
        - beta / 2 * residual - alpha / 2 * m2 - log_det / 2
    )
    return float(evidence / n), alpha, beta


def _check(features, labels):
    """`(features, targets)` as float64 `[n, D]` and `[n, T]`, checked."""
    f = np.asarray(features, np.float64)
    if f.ndim != 2 or f.shape[0] < 2 or f.shape[1] < 1:
        raise ValueError(
            "features are a 2-D array [examples, features] with at least 2 examples. "
            f"Received: features of shape {f.shape}"
        )
    if not np.all(np.isfinite(f)):
        raise ValueError("features hold NaN or infinite values. Received: features with non-finite entries")
    labels = np.asarray(labels)
    if labels.ndim == 1 and labels.shape[0] == f.shape[0]:
        if not np.issubdtype(labels.dtype, np.integer):
            raise ValueError(
                "1-D labels are integer class ids; pass float targets as a 2-D array [examples, targets]. "
                f"Received: labels of dtype {labels.dtype}"
            )
        classes = np.unique(labels)
        return f, (labels[:, None] == classes[None, :]).astype(np.float64)
    if labels.ndim == 2 and labels.shape[0] == f.shape[0]:
        return f, labels.astype(np.float64)
    raise ValueError(
        f"labels are class ids [{f.shape[0]}] or targets [{f.shape[0]}, T], one row per feature row. "
        f"Received: labels of shape {labels.shape}"
    )
