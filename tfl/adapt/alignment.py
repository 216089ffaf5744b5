"""Distances between two batches of features: MMD and CORAL, as differentiable losses.

Both take `x` of shape (m, d) and `y` of shape (n, d) (e.g. source and
target features) and return a scalar. They use `keras.ops` only, so they run
inside a `train_step` on any backend and accept numpy arrays too.
"""

from keras import ops

DEFAULT_BANDWIDTH_FACTORS = (0.25, 0.5, 1.0, 2.0, 4.0)


def mmd(x, y, bandwidths=None, *, unbiased=False):
    """Squared maximum mean discrepancy with a mixture of Gaussian kernels.

    The kernel is the mean of Gaussian kernels
    `k(a, b) = exp(-||a - b||^2 / (2 sigma^2))` over the bandwidths `sigma`
    (Gretton et al. 2012, "A Kernel Two-Sample Test"; several bandwidths as
    in Long et al. 2015, "Learning Transferable Features with Deep
    Adaptation Networks").

    The default estimator is the biased one (a V-statistic):
    `MMD^2_b = mean k(x, x') + mean k(y, y') - 2 mean k(x, y)`, every pair
    included. It is never negative, exactly 0 when the two batches are the
    same, and overestimates the population value by O(1/m + 1/n), which is
    harmless as a loss. `unbiased=True` gives the unbiased U-statistic
    (the pairs `i == j` left out of the within-batch means), which can be
    negative.

    Args:
        x: a batch of shape (m, d); m >= 2 with `unbiased=True`.
        y: a batch of shape (n, d); n >= 2 with `unbiased=True`.
        bandwidths: the kernel bandwidths `sigma`, a sequence of positive
            numbers. None uses the median heuristic: `sigma = f * median`,
            with `median` the median pairwise distance within the pooled batch
            (no gradient flows through it) and `f` in
            `DEFAULT_BANDWIDTH_FACTORS` (0.25, 0.5, 1, 2, 4).
        unbiased: use the unbiased estimator instead of the biased one.

    Returns:
        A float32 scalar tensor.

    Examples:

    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(64, 4)).astype("float32")
    >>> float(mmd(x, x))
    0.0
    >>> float(mmd(x, x + 3.0)) > 0.5
    True
    """
    x = ops.cast(ops.convert_to_tensor(x), "float32")
    y = ops.cast(ops.convert_to_tensor(y), "float32")
    _check_pair(x, y, "mmd", min_examples=2 if unbiased else 1)
    m = ops.shape(x)[0]
    n = ops.shape(y)[0]
    pooled = ops.concatenate([x, y], axis=0)
    distances = _squared_distances(pooled, pooled)
    if bandwidths is None:
        median = ops.sqrt(_median_between_examples(ops.stop_gradient(distances)))
        median = ops.maximum(median, 1e-6)
        sigmas = [median * factor for factor in DEFAULT_BANDWIDTH_FACTORS]
    else:
        sigmas = _check_bandwidths(bandwidths)
    kernel = 0.0
    for sigma in sigmas:
        kernel = kernel + ops.exp(-distances / (2.0 * ops.square(sigma)))
    kernel = kernel / len(sigmas)
    k_xx = kernel[:m, :m]
    k_yy = kernel[m:, m:]
    k_xy = kernel[:m, m:]
    m_float = ops.cast(m, "float32")
    n_float = ops.cast(n, "float32")
    if unbiased:
        within_x = (ops.sum(k_xx) - ops.trace(k_xx)) / (m_float * (m_float - 1.0))
        within_y = (ops.sum(k_yy) - ops.trace(k_yy)) / (n_float * (n_float - 1.0))
    else:
        within_x = ops.mean(k_xx)
        within_y = ops.mean(k_yy)
    value = within_x + within_y - 2.0 * ops.mean(k_xy)
    return value if unbiased else ops.maximum(value, 0.0)


def coral(x, y):
    """CORAL loss: the distance between the two batches' feature covariances.

    `||C_x - C_y||_F^2 / (4 d^2)` with `C` the unbiased sample covariance
    (divided by m - 1) and `d` the feature size (Sun & Saenko 2016, "Deep
    CORAL: Correlation Alignment for Deep Domain Adaptation"). Means are not
    compared: only second-order statistics.

    Args:
        x: a batch of shape (m, d). A batch of one example (the last, short
            batch of a stream) has no spread: its covariance counts as 0.
        y: a batch of shape (n, d).

    Returns:
        A float32 scalar tensor, 0 when the covariances are equal.

    Examples:

    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(64, 4)).astype("float32")
    >>> float(coral(x, x))
    0.0
    >>> float(coral(x, 3.0 * x)) > 0.0
    True
    """
    x = ops.cast(ops.convert_to_tensor(x), "float32")
    y = ops.cast(ops.convert_to_tensor(y), "float32")
    _check_pair(x, y, "coral")
    d = ops.cast(ops.shape(x)[1], "float32")
    difference = _covariance(x) - _covariance(y)
    return ops.sum(ops.square(difference)) / (4.0 * d * d)


def _covariance(x):
    count = ops.cast(ops.shape(x)[0], "float32")
    centred = x - ops.mean(x, axis=0, keepdims=True)  # all zeros for one example
    return ops.matmul(ops.transpose(centred), centred) / ops.maximum(count - 1.0, 1.0)


def _median_between_examples(distances):
    """The median of a square distance matrix's off-diagonal entries: the
    distances between two different examples, without each example's zero
    distance to itself (which pull the median of the whole matrix down,
    by a factor sqrt(2) for one example on each side)."""
    n = ops.shape(distances)[0]
    apart = ops.where(ops.eye(n, dtype="bool"), float("inf"), distances)
    values = ops.sort(ops.reshape(apart, [-1]))  # the n(n - 1) pair distances, then n infinities
    count = n * (n - 1)
    return (values[(count - 1) // 2] + values[count // 2]) / 2.0


def _squared_distances(a, b):
    """Pairwise squared Euclidean distances, clipped at 0 against round-off."""
    a_norms = ops.sum(ops.square(a), axis=1, keepdims=True)
    b_norms = ops.sum(ops.square(b), axis=1, keepdims=True)
    distances = a_norms + ops.transpose(b_norms) - 2.0 * ops.matmul(a, ops.transpose(b))
    return ops.maximum(distances, 0.0)


def _check_pair(x, y, name, min_examples=1):
    if len(x.shape) != 2 or len(y.shape) != 2:
        raise ValueError(
            f"{name}() compares two batches of feature vectors, shapes (m, d) and (n, d). "
            f"Received shapes {tuple(x.shape)} and {tuple(y.shape)}"
        )
    if x.shape[1] is not None and y.shape[1] is not None and x.shape[1] != y.shape[1]:
        raise ValueError(
            f"{name}() needs features of the same size in both batches. "
            f"Received shapes {tuple(x.shape)} and {tuple(y.shape)}"
        )
    for batch, label in ((x, "x"), (y, "y")):
        if batch.shape[0] is not None and batch.shape[0] < min_examples:
            raise ValueError(
                f"{name}() needs at least {min_examples} example(s) per batch. "
                f"Received {label} of shape {tuple(batch.shape)}"
            )


def _check_bandwidths(bandwidths):
    try:
        values = [float(b) for b in bandwidths]
    except TypeError:
        values = []
    if not values or not all(v > 0 for v in values):
        raise ValueError(
            "bandwidths is a non-empty sequence of positive kernel widths, or None for the median "
            f"heuristic. Received: bandwidths={bandwidths!r}"
        )
    return values
