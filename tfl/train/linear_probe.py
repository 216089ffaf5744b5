"""`fit_linear_probe`: a converged logistic-regression head on cached features.

The first half of LP-FT (Kumar et al. 2022, "Fine-Tuning can Distort
Pretrained Features and Underperform Out-of-Distribution"): fit the linear head
to convergence on the frozen backbone's features before any backbone layer
trains. A Dense head trained for a few epochs at 1e-3 is far from converged
(0.58 where a converged probe reaches 0.93 on the same features), and fine-
tuning from a poor head lets large early gradients distort the features.

The problem is convex: the mean cross-entropy of a softmax (or of one sigmoid
per class) plus an L2 penalty, minimised with full-batch L-BFGS in float64.
Raw feature scales range from 1e-10 (a random MobileNetV3) to 1e2, so the
features are centred and divided by one number, their overall standard
deviation, before the fit, and the scaling is folded back into the kernel and
bias, so the result drops into the model's own `Dense` head. One number, not
one per feature: per-feature standardisation blows up directions of tiny
variance, and the head then amplifies the small feature changes of the
fine-tuning that follows (measured on MiniLM: a per-feature-standardised probe
fell from 0.62 to chance after 12 fine-tuning steps at 5e-5).

The L2 weight is chosen by 5-fold cross-validated log-loss (as scikit-learn's
`LogisticRegressionCV` with `scoring="neg_log_loss"`). A nearly unregularised
probe separates a few dozen examples perfectly, its training loss falls to
about 0.01 and the fine-tuning stage after it then has almost no gradient to
follow: on MiniLM with 32 tweets per class, LP-FT with `C = 1` ended 7 points
below head-epochs-then-fine-tune, while the cross-validated L2 (100 times
stronger there, the same probe accuracy) left a training loss of 0.33 and
tied it (bench/lp_ft.py).
"""

import dataclasses

import numpy as np

# The candidate L2 weights, as multiples of 1 / N (1: scikit-learn's C = 1).
L2_GRID = (1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1000.0)
CV_FOLDS = 5
CV_MAX_EXAMPLES = 1000  # the search runs on a seeded subsample of larger sets
CV_MAX_ITER = 50  # per fit of the search, each started from its neighbour's solution


@dataclasses.dataclass(frozen=True)
class LinearProbe:
    """A fitted probe, in the raw feature space.

    Attributes:
        kernel: float32 `[features, classes]`, for `Dense.kernel`.
        bias: float32 `[classes]`, for `Dense.bias`.
        iterations: L-BFGS iterations run.
        converged: whether the gradient norm fell below the tolerance.
        loss: the final objective (mean loss plus the L2 term).
        l2: the L2 weight used (on the scaled features).
    """

    kernel: np.ndarray
    bias: np.ndarray
    iterations: int
    converged: bool
    loss: float
    l2: float = 0.0


def fit_linear_probe(
    features,
    labels,
    num_classes,
    *,
    multi_label=False,
    l2="cv",
    max_iter=500,
    tol=1e-5,
    class_weights=None,
    label_smoothing=0.0,
):
    """Fits a multinomial (or per-class binary) logistic regression with L2.

    Args:
        features: float `[N, D]` features.
        labels: int class ids `[N]`, or multi-hot `[N, C]` when `multi_label`.
        num_classes: C.
        multi_label: one sigmoid per class instead of a softmax.
        l2: weight of `0.5 * l2 * ||W||^2` added to the mean loss, on the
            scaled features. "cv" (the default) picks it from `L2_GRID / N`
            by 5-fold cross-validated log-loss (on at most 1,000 examples;
            below 10 examples it uses `1 / N`). None uses `1 / N`, the same
            problem as scikit-learn's `LogisticRegression(C=1.0)`.
        max_iter: the most L-BFGS iterations.
        tol: stop when the gradient's largest entry is below this.
        class_weights: one weight per class, or None: each example's loss
            is scaled by its class's weight (multi-label: each class's
            positive term), as `tfl.model.HeadLoss` does in the other stages.
        label_smoothing: targets move this far towards uniform, in [0, 1).

    Returns:
        A `LinearProbe` whose `kernel` and `bias` apply to raw features.

    Examples:

    >>> features = np.random.default_rng(0).normal(size=(12, 4)) + np.repeat(np.eye(3, 4), 4, axis=0) * 3
    >>> probe = fit_linear_probe(features, np.repeat([0, 1, 2], 4), num_classes=3)
    >>> probe.kernel.shape, probe.bias.shape
    ((4, 3), (3,))
    >>> bool((np.argmax(features @ probe.kernel + probe.bias, axis=1) == np.repeat([0, 1, 2], 4)).all())
    True
    """
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2 or len(x) == 0:
        raise ValueError(f"A linear probe needs features of shape [N, D] with N >= 1. Received shape {x.shape}.")
    n = x.shape[0]
    y = _targets(labels, n, num_classes, multi_label)
    weights = _example_weights(y, class_weights, multi_label)
    y = _smoothed(y, label_smoothing, multi_label)
    if isinstance(l2, str):
        if l2 != "cv":
            raise ValueError(f'l2 is a number >= 0, "cv" or None. Received: l2={l2!r}')
        multiple = _cross_validated_multiple(x, y, weights, num_classes, multi_label, max_iter, tol)
        l2 = multiple / n
    else:
        l2 = 1.0 / n if l2 is None else float(l2)
    if l2 < 0:
        raise ValueError(f"l2 must be >= 0. Received: l2={l2!r}")
    probe, _ = _fit(x, y, weights, num_classes, multi_label, l2, max_iter, tol)
    return probe


def _example_weights(y, class_weights, multi_label):
    """Per-example (single-label, `[N, 1]`) or per-entry (multi-label, `[N, C]`)
    loss weights from the class weights; ones without them."""
    if class_weights is None:
        return np.ones((len(y), 1))
    weights = np.asarray(class_weights, dtype=np.float64)
    if weights.shape != (y.shape[1],) or np.any(weights < 0):
        raise ValueError(
            f"class_weights needs one weight >= 0 per class ({y.shape[1]}). Received: class_weights={class_weights!r}"
        )
    if multi_label:
        return 1.0 + y * (weights - 1.0)
    return (y @ weights)[:, None]


def _smoothed(y, label_smoothing, multi_label):
    if not 0 <= label_smoothing < 1:
        raise ValueError(f"label_smoothing is in [0, 1). Received: label_smoothing={label_smoothing!r}")
    return y * (1.0 - label_smoothing) + label_smoothing * (0.5 if multi_label else 1.0 / y.shape[1])


def _cross_validated_multiple(x, y, weights, num_classes, multi_label, max_iter, tol):
    """The multiple of 1 / N in `L2_GRID` with the lowest 5-fold held-out log-loss.

    Each fold walks the grid from the strongest L2 to the weakest, starting
    every fit from the previous solution, with a looser tolerance: the ranking
    of held-out losses needs no more, and strongly regularised fits converge
    in a few iterations.
    """
    n = len(x)
    if n < 2 * CV_FOLDS:
        return 1.0
    order = np.random.default_rng(0).permutation(n)[:CV_MAX_EXAMPLES]
    folds = np.array_split(order, CV_FOLDS)
    losses = np.zeros(len(L2_GRID))
    for k, fold in enumerate(folds):
        train = np.concatenate([f for j, f in enumerate(folds) if j != k])
        theta = None
        for i in reversed(range(len(L2_GRID))):
            probe, theta = _fit(
                x[train], y[train], weights[train], num_classes, multi_label, L2_GRID[i] / len(train),
                min(max_iter, CV_MAX_ITER), max(tol, 1e-4), theta,
            )
            logits = x[fold] @ probe.kernel.astype(np.float64) + probe.bias
            losses[i] += np.sum(_losses(logits, y[fold], weights[fold], multi_label))
    return L2_GRID[int(np.argmin(losses))]


def _losses(logits, y, weights, multi_label):
    """Per-example weighted log-loss of `logits` against one-hot or multi-hot `y`."""
    if multi_label:
        return np.sum(weights * (np.logaddexp(0.0, logits) - y * logits), axis=1)
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return -weights[:, 0] * np.sum(y * log_p, axis=1)


def _fit(x, y, weights, num_classes, multi_label, l2, max_iter, tol, theta=None):
    """The probe for one L2 weight, and its parameters in the scaled space
    (`theta`, to start a nearby fit from)."""
    n, d = x.shape

    mean = x.mean(axis=0)
    scale = float(np.sqrt(np.mean(x.var(axis=0))))
    if not scale > 0:
        scale = 1.0  # every row is the same: only the bias can learn
    z = (x - mean) / scale

    def objective(theta):
        w = theta[: d * num_classes].reshape(d, num_classes)
        b = theta[d * num_classes :]
        logits = z @ w + b
        if multi_label:
            loss = np.mean(np.sum(weights * (np.logaddexp(0.0, logits) - y * logits), axis=1))
            error = weights * (_sigmoid(logits) - y)
        else:
            shifted = logits - logits.max(axis=1, keepdims=True)
            log_norm = np.log(np.exp(shifted).sum(axis=1, keepdims=True))
            log_p = shifted - log_norm
            loss = -np.mean(weights[:, 0] * np.sum(y * log_p, axis=1))
            error = weights * (np.exp(log_p) - y)
        error /= n
        loss += 0.5 * l2 * np.sum(w * w)
        grad_w = z.T @ error + l2 * w
        grad_b = error.sum(axis=0)
        return loss, np.concatenate([grad_w.ravel(), grad_b])

    start = np.zeros(d * num_classes + num_classes) if theta is None else theta
    theta, loss, iterations, converged = _lbfgs(objective, start, max_iter=max_iter, tol=tol)
    w = theta[: d * num_classes].reshape(d, num_classes)
    b = theta[d * num_classes :]
    kernel = w / scale
    bias = b - mean @ kernel
    probe = LinearProbe(
        kernel=kernel.astype(np.float32),
        bias=bias.astype(np.float32),
        iterations=iterations,
        converged=converged,
        loss=float(loss),
        l2=float(l2),
    )
    return probe, theta


def _targets(labels, n, num_classes, multi_label):
    labels = np.asarray(labels)
    if multi_label:
        if labels.shape != (n, num_classes):
            raise ValueError(
                f"Multi-label probe labels must be multi-hot of shape ({n}, {num_classes}). "
                f"Received shape {labels.shape}."
            )
        return labels.astype(np.float64)
    labels = labels.reshape(-1)
    if labels.shape != (n,):
        raise ValueError(f"Expected {n} class ids, one per feature row. Received shape {labels.shape}.")
    bad = labels[(labels < 0) | (labels >= num_classes)]
    if bad.size:
        raise ValueError(
            f"Label {int(bad[0])} is outside the class range 0..{num_classes - 1}. "
            "Check that the labels match the model's classes."
        )
    return np.eye(num_classes)[labels.astype(np.int64)]


def _sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _lbfgs(objective, theta, *, max_iter, tol, memory=10):
    """Minimises a smooth function with L-BFGS and a backtracking (Armijo) line search.

    Returns `(theta, value, iterations, converged)`.
    """
    value, grad = objective(theta)
    steps, changes = [], []  # s_k = theta_{k+1} - theta_k, y_k = grad_{k+1} - grad_k
    for iteration in range(1, max_iter + 1):
        if np.max(np.abs(grad)) < tol:
            return theta, value, iteration - 1, True
        direction = -_two_loop(grad, steps, changes)
        slope = grad @ direction
        if slope >= 0:  # not a descent direction: restart from the gradient
            steps, changes = [], []
            direction, slope = -grad, -(grad @ grad)
        step = 1.0
        while True:
            candidate = theta + step * direction
            new_value, new_grad = objective(candidate)
            if new_value <= value + 1e-4 * step * slope or step < 1e-10:
                break
            step *= 0.5
        if step < 1e-10 and new_value > value:
            return theta, value, iteration, False  # no progress possible
        s, y = candidate - theta, new_grad - grad
        if s @ y > 1e-12:
            steps.append(s)
            changes.append(y)
            if len(steps) > memory:
                steps.pop(0)
                changes.pop(0)
        theta, value, grad = candidate, new_value, new_grad
    return theta, value, max_iter, bool(np.max(np.abs(grad)) < tol)


def _two_loop(grad, steps, changes):
    """The L-BFGS two-loop recursion: an approximation of H^-1 @ grad."""
    q = grad.copy()
    alphas = []
    for s, y in zip(reversed(steps), reversed(changes)):
        rho = 1.0 / (y @ s)
        alpha = rho * (s @ q)
        q -= alpha * y
        alphas.append((rho, alpha))
    if steps:
        q *= (steps[-1] @ changes[-1]) / (changes[-1] @ changes[-1])
    for (s, y), (rho, alpha) in zip(zip(steps, changes), reversed(alphas)):
        beta = rho * (y @ q)
        q += (alpha - beta) * s
    return q
