"""Three few-shot classifiers, each fitted on the support set of many episodes at once.

Every function takes the features of a batch of episodes, `support` `[E,
S, D]` with episode-local labels `[E, S]` and `query` `[E, Q, D]`, and
returns the predicted labels of the queries `[E, Q]`:

- `prototype_predictions`: the nearest class prototype (Snell et al. 2017)
  by `tfl.model.prototypes`: cosine similarity to the mean of the
  L2-normalised support features, nothing trained.
- `probe_predictions`: multinomial logistic regression on the support set
  with L2 `1 / S` (scikit-learn's `C = 1`), on features centred and divided
  by their overall spread, as `tfl.train.fit_linear_probe` with `l2=None`.
  That function chooses the L2 by 5-fold cross-validation only from 10
  examples up, and falls back to `1 / S` below; 5-fold cross-validation of
  a 1-shot support set is impossible and of a 5-shot one a guess, so the
  fixed `1 / S` is used at every shot count: one rule for 1 and 5 shots.
  The problem is solved to convergence by Newton's method, all episodes
  together: the optimal kernel lies in the span of the centred support
  features, so each episode's problem has `S + 1` inputs per class whatever
  the feature width.
- `fine_tune_predictions`: a linear head on the L2-normalised features,
  initialised from the prototypes by `tfl.model.prototypes.dense_from_prototypes`
  (before any step it is the euclidean prototype classifier of the normalised
  features), then trained for `steps` full-batch steps of SGD with momentum
  on the support set's cross-entropy. Only this head trains, on frozen
  features: the fine-tuning baseline of Chen et al. 2019, not a fine-tuning of
  the backbone.
"""

import keras
import numpy as np

from tfl.model.prototypes import DEFAULT_TEMPERATURE
from tfl.model.prototypes import class_prototypes
from tfl.model.prototypes import dense_from_prototypes
from tfl.model.prototypes import prototype_scores

# The head of `fine_tune_predictions`: SGD with momentum as Chen et al.'s
# fine-tuning baseline (learning rate 0.01, momentum 0.9, weight decay 0.001),
# full batch, a fixed number of steps (no early stopping: there is no
# held-out data in an episode).
FINE_TUNE_STEPS = 100
FINE_TUNE_LEARNING_RATE = 0.01
FINE_TUNE_MOMENTUM = 0.9
FINE_TUNE_WEIGHT_DECAY = 0.001
FINE_TUNE_TEMPERATURE = DEFAULT_TEMPERATURE["cosine"]

_NEWTON_ITERATIONS = 50
_NEWTON_TOLERANCE = 1e-6
_BIAS_RIDGE = 1e-8  # only fixes the softmax's free shift of all biases; predictions do not see it


def prototype_predictions(support, support_labels, query, ways, *, metric="cosine", temperature=None):
    """The class of the nearest prototype for every query of every episode.

    Args:
        support: float `[E, S, D]`.
        support_labels: int `[E, S]`, in `[0, ways)`.
        query: float `[E, Q, D]`.
        ways: classes per episode.
        metric: "cosine" or "euclidean" (`tfl.model.prototypes.METRICS`).
        temperature: the scores' temperature (it does not change the
            predicted class).

    Returns:
        int `[E, Q]`.

    Examples:

    >>> support = np.array([[[1.0, 0.0], [0.0, 1.0]]])
    >>> prototype_predictions(support, [[0, 1]], np.array([[[0.9, 0.2], [0.1, 2.0]]]), 2).tolist()
    [[0, 1]]
    """
    support, support_labels, query = _checked(support, support_labels, query, ways)
    predictions = np.empty(query.shape[:2], dtype=np.int64)
    for e in range(len(support)):
        prototypes = class_prototypes(support[e], support_labels[e], ways, metric=metric)
        scores = prototype_scores(query[e], prototypes, metric=metric, temperature=temperature)
        predictions[e] = np.argmax(np.asarray(scores), axis=-1)
    return predictions


def probe_predictions(support, support_labels, query, ways, *, l2=None):
    """The predictions of an L2 logistic regression fitted on each episode's support set.

    Args:
        support: float `[E, S, D]`.
        support_labels: int `[E, S]`, in `[0, ways)`.
        query: float `[E, Q, D]`.
        ways: classes per episode.
        l2: the weight of `0.5 * l2 * ||W||^2` added to the mean
            cross-entropy, on the scaled features; None: `1 / S`.

    Returns:
        int `[E, Q]`.

    Examples:

    >>> support = np.array([[[2.0, 0.0], [0.0, 2.0], [-2.0, -2.0]]])
    >>> probe_predictions(support, [[0, 1, 2]], np.array([[[1.5, 0.2], [-1.0, -1.5]]]), 3).tolist()
    [[0, 2]]
    """
    support, support_labels, query = _checked(support, support_labels, query, ways)
    _, size, _ = support.shape
    l2 = 1.0 / size if l2 is None else float(l2)
    if not l2 > 0:
        raise ValueError(f"l2 must be > 0 (the episode's problem has no unique solution without it). Received: l2={l2!r}")
    inputs, query_inputs = _span_coordinates(support, query)
    targets = np.eye(ways)[support_labels]
    theta = _newton(inputs, targets, np.r_[np.full(inputs.shape[2] - 1, l2), _BIAS_RIDGE])
    return np.argmax(query_inputs @ theta, axis=-1)


def fine_tune_predictions(
    support,
    support_labels,
    query,
    ways,
    *,
    steps=FINE_TUNE_STEPS,
    learning_rate=FINE_TUNE_LEARNING_RATE,
    momentum=FINE_TUNE_MOMENTUM,
    weight_decay=FINE_TUNE_WEIGHT_DECAY,
    temperature=FINE_TUNE_TEMPERATURE,
):
    """The predictions of a prototype-initialised linear head, fine-tuned on each support set.

    The head reads L2-normalised features; its kernel and bias start as
    `dense_from_prototypes` of the normalised features' class means (so at
    `steps=0` it predicts as the euclidean prototype classifier), then
    `steps` full-batch SGD steps with momentum (`v = momentum * v + g`,
    `w -= learning_rate * v`, weight decay on the kernel) minimise the
    support set's mean cross-entropy.

    Args:
        support: float `[E, S, D]`.
        support_labels: int `[E, S]`, in `[0, ways)`.
        query: float `[E, Q, D]`.
        ways: classes per episode.
        steps: full-batch steps (0: the initial head).
        learning_rate, momentum, weight_decay: of the SGD steps.
        temperature: of the initial head (`dense_from_prototypes`).

    Returns:
        int `[E, Q]`.

    Examples:

    >>> support = np.array([[[1.0, 0.0], [0.0, 1.0]]])
    >>> fine_tune_predictions(support, [[0, 1]], np.array([[[0.9, 0.2], [0.1, 2.0]]]), 2, steps=10).tolist()
    [[0, 1]]
    """
    support, support_labels, query = _checked(support, support_labels, query, ways)
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 0:
        raise ValueError(f"steps is a whole number >= 0. Received: steps={steps!r}")
    features = _normalized(support)
    kernel, bias = _initial_heads(features, support_labels, ways, temperature)
    targets = np.eye(ways, dtype=np.float32)[support_labels]
    kernel_velocity, bias_velocity = np.zeros_like(kernel), np.zeros_like(bias)
    transposed = _transposed(features)
    for _ in range(steps):
        error = (_softmax(features @ kernel + bias[:, None, :]) - targets) / features.shape[1]
        kernel_gradient = transposed @ error + weight_decay * kernel
        kernel_velocity = momentum * kernel_velocity + kernel_gradient
        bias_velocity = momentum * bias_velocity + error.sum(axis=1)
        kernel -= learning_rate * kernel_velocity
        bias -= learning_rate * bias_velocity
    return np.argmax(_normalized(query) @ kernel + bias[:, None, :], axis=-1)


def _checked(support, support_labels, query, ways):
    support = np.asarray(support, dtype=np.float64)
    query = np.asarray(query, dtype=np.float64)
    support_labels = np.asarray(support_labels).astype(np.int64)
    if support.ndim != 3 or query.ndim != 3 or support.shape[::2] != query.shape[::2]:
        raise ValueError(
            "support is [episodes, S, D] and query [episodes, Q, D], with the same episodes and D. "
            f"Received shapes {support.shape} and {query.shape}."
        )
    if support_labels.shape != support.shape[:2]:
        raise ValueError(f"support_labels is [episodes, S] {support.shape[:2]}. Received shape {support_labels.shape}.")
    if support_labels.min() < 0 or support_labels.max() >= ways:
        raise ValueError(f"Support labels are in [0, ways={ways}). Received labels up to {support_labels.max()}.")
    return support, support_labels, query


def _transposed(x):
    """`x` with its last two axes swapped, contiguous: NumPy's batched matmul takes its
    fast BLAS path only for contiguous operands (a strided one was 100 times slower)."""
    return np.ascontiguousarray(np.swapaxes(x, -1, -2))


def _normalized(features):
    norms = np.linalg.norm(features, axis=-1, keepdims=True)
    return (features / np.maximum(norms, 1e-12)).astype(np.float32)


def _initial_heads(features, labels, ways, temperature):
    """Kernels `[E, D, ways]` and biases `[E, ways]` of the prototype-initialised heads."""
    kernels, biases = [], []
    for e in range(len(features)):
        prototypes = class_prototypes(features[e], labels[e], ways, metric="euclidean")
        kernel, bias = dense_from_prototypes(prototypes, temperature=temperature)
        kernels.append(kernel)
        biases.append(bias)
    return np.stack(kernels), np.stack(biases)


def _softmax(logits):
    shifted = logits - logits.max(axis=-1, keepdims=True)
    exponentials = np.exp(shifted)
    return exponentials / exponentials.sum(axis=-1, keepdims=True)


def _span_coordinates(support, query):
    """Support and query features in each episode's basis of its centred, scaled support features.

    The features are centred on the support mean and divided by their overall
    spread (`fit_linear_probe`'s scaling); an orthonormal basis of the centred
    support rows holds every kernel the L2 problem can end at. The basis comes
    from the eigenvectors of the `[S, S]` Gram matrix (`C C^T = U diag(s^2) U^T`,
    so the support's coordinates are `U s` and a query's `q C^T U / s`), not
    an SVD of `[S, D]`: 0.4 s instead of 10 s for 600 episodes of 96 x 384.
    Directions of (numerically) zero spread get coordinate 0, so the ridge
    keeps their weights at 0. A column of ones is appended for the bias.
    Returns `[E, S, S + 1]` and `[E, Q, S + 1]`.
    """
    mean = support.mean(axis=1, keepdims=True)
    centred = support - mean
    scale = np.sqrt(np.mean(centred**2, axis=(1, 2)))
    scale = np.where(scale > 0, scale, 1.0)[:, None, None]
    centred /= scale
    gram = _matmul(centred, _transposed(centred))  # [E, S, S]
    eigenvalues, vectors = np.linalg.eigh(gram)
    kept = eigenvalues > 1e-10 * np.maximum(eigenvalues[:, -1:], 1e-300)
    root = np.sqrt(np.where(kept, eigenvalues, 1.0))
    inputs = np.where(kept[:, None, :], vectors * root[:, None, :], 0.0)
    query_inputs = _matmul(_matmul((query - mean) / scale, _transposed(centred)), vectors)
    query_inputs = np.where(kept[:, None, :], query_inputs / root[:, None, :], 0.0)
    return _with_ones(inputs), _with_ones(query_inputs)


def _matmul(a, b):
    """Batched matrix product in float64 through TensorFlow: 3 times NumPy's on 2 cores."""
    return keras.ops.convert_to_numpy(keras.ops.matmul(a, b))


def _with_ones(x):
    return np.concatenate([x, np.ones(x.shape[:2] + (1,))], axis=-1)


def _objective(inputs, targets, theta, ridge):
    logits = inputs @ theta
    shifted = logits - logits.max(axis=-1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    loss = -np.mean(np.sum(targets * log_p, axis=-1), axis=1)
    return loss + 0.5 * np.einsum("j,ejc->e", ridge, theta**2), np.exp(log_p)


def _newton(inputs, targets, ridge):
    """Minimises each episode's mean cross-entropy plus `0.5 * ridge_j * theta_jc^2` by
    Newton's method with a backtracking line search. Returns `theta` `[E, J, C]`."""
    episodes, size, width = inputs.shape
    ways = targets.shape[2]
    theta = np.zeros((episodes, width, ways))
    value, p = _objective(inputs, targets, theta, ridge)
    transposed = _transposed(inputs)
    for _ in range(_NEWTON_ITERATIONS):
        gradient = transposed @ (p - targets) / size + ridge[:, None] * theta
        if np.max(np.abs(gradient)) < _NEWTON_TOLERANCE:
            break
        # Hessian: sum over examples of (x x^T) kron (diag(p) - p p^T), plus the ridge.
        # One [E, J, J] block per pair of classes, X^T diag(w_cd) X, never the [E, S, J*J] outer
        # products (4 GB at 32 shots, 3 ways).
        curvature = p[..., :, None] * np.eye(ways) - p[..., :, None] * p[..., None, :]  # [E, S, C, C]
        blocks = np.empty((episodes, ways, ways, width, width))
        for c in range(ways):
            for d in range(c, ways):
                blocks[:, c, d] = _matmul(transposed, inputs * curvature[:, :, c, d, None]) / size
                blocks[:, d, c] = blocks[:, c, d]
        hessian = blocks.transpose(0, 3, 1, 4, 2)
        hessian = hessian.reshape(episodes, width * ways, width * ways)
        hessian += np.diag(np.repeat(ridge, ways))
        # keras.ops (TensorFlow): NumPy's batched solve of 600 such systems took seconds, this 0.1 s.
        step = keras.ops.convert_to_numpy(keras.ops.solve(hessian, gradient.reshape(episodes, -1, 1)))
        step = step.reshape(theta.shape)
        theta, value, p = _line_search(inputs, targets, ridge, theta, value, gradient, step)
    return theta


def _line_search(inputs, targets, ridge, theta, value, gradient, step):
    """Halves each episode's Newton step until its objective falls enough (Armijo)."""
    slope = np.sum(gradient * step, axis=(1, 2))
    size = np.ones(len(theta))
    for _ in range(30):
        candidate = theta - size[:, None, None] * step
        new_value, new_p = _objective(inputs, targets, candidate, ridge)
        accepted = new_value <= value - 1e-4 * size * slope
        if accepted.all():
            break
        size = np.where(accepted, size, 0.5 * size)
    keep = accepted | (new_value <= value)
    theta = np.where(keep[:, None, None], candidate, theta)
    value = np.where(keep, new_value, value)
    _, p = _objective(inputs, targets, theta, ridge)
    return theta, value, p
