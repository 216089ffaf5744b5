"""Prototype maths: class means of features, and the scores they give.

A prototypical network (Snell et al. 2017) classifies an example by its
distance to each class's prototype, the mean of that class's (support)
features. With a pretrained encoder the meta-training step is optional
(Chen et al. 2019; Tian et al. 2020): the prototypes of frozen features are a
strong few-shot classifier on their own.

Two metrics:

- `"cosine"`: prototypes are the means of the L2-normalised features, and the
  score of class k is `cos(f, p_k) / temperature` (a cosine classifier, as
  "Baseline++" in Chen et al.).
- `"euclidean"`: prototypes are the plain means, and the score is
  `-||f - p_k||^2 / temperature`. Expanding the square,
  `-||f||^2 + 2 p_k.f - ||p_k||^2`: the first term is the same for every
  class, so a softmax over these scores equals the softmax of a linear layer
  with kernel `2 p_k / temperature` and bias `-||p_k||^2 / temperature`
  (Snell et al., section 2.4): `dense_from_prototypes`.

Every function takes NumPy arrays or tensors and returns float32 tensors
(`keras.ops`), so the same code runs in the `PrototypeHead` layer and on
cached features (`dense_from_prototypes` returns NumPy arrays, and
`within_class_spread` and `leave_one_out_temperature` floats, for setting
weights).
"""

import keras
import numpy as np

METRICS = ("cosine", "euclidean")
# Cosine scores lie in [-1, 1]; a temperature of 0.1 (scale 10) makes a
# softmax over them confident, as Chen et al.'s cosine classifier.
DEFAULT_TEMPERATURE = {"cosine": 0.1, "euclidean": 1.0}
_EPSILON = 1e-12


def check_metric(metric):
    """Returns `metric` if it is a known prototype metric; raises otherwise."""
    if metric not in METRICS:
        raise ValueError(
            f"Unknown prototype metric {metric!r}. Known: {', '.join(METRICS)}. "
            f"Received: metric={metric!r}"
        )
    return metric


def check_temperature(temperature):
    """Returns `temperature` as a float if it is positive; raises otherwise."""
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float, np.floating)):
        raise TypeError(f"temperature must be a positive number; received temperature={temperature!r}.")
    if not np.isfinite(temperature) or temperature <= 0:
        raise ValueError(
            f"temperature must be a positive number (e.g. 0.1 for cosine, 1.0 for euclidean); "
            f"received temperature={temperature!r}."
        )
    return float(temperature)


def l2_normalize(features):
    """Divides each row of `features` by its L2 norm (rows of zeros stay zero)."""
    features = keras.ops.cast(keras.ops.convert_to_tensor(features), "float32")
    norms = keras.ops.sqrt(keras.ops.sum(keras.ops.square(features), axis=-1, keepdims=True))
    return features / keras.ops.maximum(norms, _EPSILON)


def class_prototypes(features, labels, num_classes, *, metric="cosine"):
    """The prototype of each class: the mean of its examples' features.

    Args:
        features: float `[N, D]`.
        labels: int class ids `[N]`, in `[0, num_classes)`.
        num_classes: how many prototypes to return.
        metric: "cosine" (the mean of L2-normalised features) or "euclidean"
            (the plain mean).

    Returns:
        A float32 tensor `[num_classes, D]`.

    Raises:
        ValueError: a class has no example, or a label is out of range.

    Examples:

    >>> features = np.array([[1.0, 0.0], [3.0, 0.0], [0.0, 2.0]])
    >>> np.asarray(class_prototypes(features, [0, 0, 1], 2, metric="euclidean")).tolist()
    [[2.0, 0.0], [0.0, 2.0]]
    >>> np.asarray(class_prototypes(features, [0, 0, 1], 2, metric="cosine")).tolist()
    [[1.0, 0.0], [0.0, 1.0]]
    """
    check_metric(metric)
    labels = np.asarray(labels).astype(np.int64).reshape(-1)
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(
            f"Labels must be class ids in [0, {num_classes}); received labels from "
            f"{int(labels.min())} to {int(labels.max())}."
        )
    counts = np.bincount(labels, minlength=num_classes)
    if (counts == 0).any():
        missing = np.flatnonzero(counts == 0).tolist()
        raise ValueError(
            f"Every class needs at least one example for its prototype; classes {missing} have none. "
            "Give at least one labelled example of each class."
        )
    if metric == "cosine":
        features = l2_normalize(features)
    features = keras.ops.cast(keras.ops.convert_to_tensor(features), "float32")
    one_hot = keras.ops.one_hot(labels, num_classes, dtype="float32")  # [N, C]
    sums = keras.ops.matmul(keras.ops.transpose(one_hot), features)  # [C, D]
    return sums / keras.ops.convert_to_tensor(counts[:, None].astype(np.float32))


def prototype_scores(features, prototypes, *, metric="cosine", temperature=None):
    """The score (logit) of each class for each example.

    Args:
        features: float `[N, D]`.
        prototypes: float `[C, D]` (from `class_prototypes`).
        metric: "cosine" or "euclidean".
        temperature: scores are divided by it; None for the metric's default
            (0.1 for cosine, 1.0 for euclidean).

    Returns:
        A float32 tensor `[N, C]`: `cos(f, p) / temperature` or
        `-||f - p||^2 / temperature`.

    Examples:

    >>> prototypes = np.array([[2.0, 0.0], [0.0, 2.0]])
    >>> np.asarray(prototype_scores([[1.0, 1.0]], prototypes, metric="euclidean")).tolist()
    [[-2.0, -2.0]]
    >>> np.round(np.asarray(prototype_scores([[1.0, 0.0]], prototypes, temperature=0.5)), 4).tolist()
    [[2.0, 0.0]]
    """
    check_metric(metric)
    temperature = check_temperature(DEFAULT_TEMPERATURE[metric] if temperature is None else temperature)
    features = keras.ops.cast(keras.ops.convert_to_tensor(features), "float32")
    prototypes = keras.ops.cast(keras.ops.convert_to_tensor(prototypes), "float32")
    if metric == "cosine":
        similarity = keras.ops.matmul(l2_normalize(features), keras.ops.transpose(l2_normalize(prototypes)))
    else:
        # ||f||^2 - 2 f.p + ||p||^2, without forming the [N, C, D] differences.
        squared = (
            keras.ops.sum(keras.ops.square(features), axis=-1, keepdims=True)
            - 2.0 * keras.ops.matmul(features, keras.ops.transpose(prototypes))
            + keras.ops.sum(keras.ops.square(prototypes), axis=-1)[None, :]
        )
        similarity = -keras.ops.maximum(squared, 0.0)
    return similarity / temperature


def dense_from_prototypes(prototypes, *, temperature=1.0):
    """The kernel and bias of a linear head whose softmax equals the euclidean
    prototype classifier's (Snell et al. 2017, section 2.4).

    `-||f - p_k||^2 / t = (2 p_k.f - ||p_k||^2) / t - ||f||^2 / t`, and the last
    term is the same for every class, so a softmax over either gives the same
    probabilities.

    Args:
        prototypes: float `[C, D]`: plain (euclidean) class means of the
            features the head reads.
        temperature: the euclidean classifier's temperature.

    Returns:
        `(kernel, bias)`: float32 NumPy arrays `[D, C]` and `[C]`, for
        `keras.layers.Dense.kernel` and `.bias`.

    Examples:

    >>> kernel, bias = dense_from_prototypes(np.array([[1.0, 0.0], [0.0, 3.0]]))
    >>> kernel.tolist(), bias.tolist()
    ([[2.0, 0.0], [0.0, 6.0]], [-1.0, -9.0])
    """
    temperature = check_temperature(temperature)
    prototypes = np.asarray(keras.ops.convert_to_numpy(prototypes), dtype=np.float64)
    kernel = 2.0 * prototypes.T / temperature
    bias = -np.sum(prototypes**2, axis=-1) / temperature
    return kernel.astype(np.float32), bias.astype(np.float32)


def within_class_spread(features, labels, prototypes):
    """The mean squared euclidean distance of each example's features to its
    own class's prototype: a temperature at which euclidean prototype scores
    are not saturated (an example's own class scores about -1, another class
    `-(1 + ||p_own - p_other||^2 / spread)`).

    Args:
        features: float `[N, D]`.
        labels: int class ids `[N]`.
        prototypes: float `[C, D]`, the plain class means of `features`.

    Returns:
        A positive float (1.0 when every example sits on its prototype).

    Examples:

    >>> features = np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 5.0]])
    >>> within_class_spread(features, [0, 0, 1], np.array([[1.0, 0.0], [0.0, 5.0]]))
    0.6666666666666666
    """
    features = np.asarray(keras.ops.convert_to_numpy(features), dtype=np.float64)
    prototypes = np.asarray(keras.ops.convert_to_numpy(prototypes), dtype=np.float64)
    labels = np.asarray(labels).astype(np.int64).reshape(-1)
    spread = float(np.mean(np.sum((features - prototypes[labels]) ** 2, axis=-1)))
    return spread if spread > 0 else 1.0


# The bracket of the leave-one-out search, as multiples of the within-class
# spread: at most ten times sharper or flatter than `within_class_spread`. Where
# the classes separate even without each example's own vote, the loss keeps
# falling as t -> 0, towards saturated logits that leave fine-tuning no gradient.
_LOO_RANGE = (0.1, 10.0)
_LOO_STEPS = 60


def leave_one_out_temperature(features, labels, prototypes):
    """The temperature at which the euclidean prototype classifier is best
    calibrated on examples it has not seen: the `t` that maximises the
    leave-one-out log-likelihood of `softmax(-||f_i - p_k||^2 / t)`, where
    example i's own class prototype is recomputed without it.

    The probe's L2 is chosen by cross-validated log-loss for the same reason
    (`tfl.train.fit_linear_probe`): fitted on the examples it then scores, a
    classifier looks surer than it is. Without example i, its class mean
    moves to `(n p - f_i) / (n - 1)`, so its squared distance to it is
    `(n / (n - 1))^2 ||f_i - p||^2`; the other classes' prototypes do not
    change. The loss is convex in `1 / t` (a log-sum-exp of functions linear
    in it, plus a linear term), so its derivative is searched by bisection on
    `log t` inside `[0.1, 10]` times the within-class spread
    (`within_class_spread`): classes that separate even left-one-out would
    otherwise drive `t` to 0 and the start to saturated logits.

    Examples of singleton classes have no leave-one-out prototype and are left
    out of the loss; when no class has two examples, the within-class spread
    (`within_class_spread`) is returned. Where held-out examples are no closer
    to their own class than to others (the prototypes do not generalise), the
    loss falls all the way to the bracket's upper end: a flat start.

    Args:
        features: float `[N, D]`.
        labels: int class ids `[N]`.
        prototypes: float `[C, D]`, the plain class means of `features`.

    Returns:
        A positive float.

    Examples:

    Left out, (0, 0) and (2, 0) are 4 from their own class and 5 from the
    other, (1, 1) is 4 from its own and 1 from the other, (1, 3) 4 and 9:

    >>> features = np.array([[0.0, 0.0], [2.0, 0.0], [1.0, 1.0], [1.0, 3.0]])
    >>> round(leave_one_out_temperature(features, [0, 0, 1, 1], np.array([[1.0, 0.0], [1.0, 2.0]])), 2)
    4.12
    """
    features = np.asarray(keras.ops.convert_to_numpy(features), dtype=np.float64)
    prototypes = np.asarray(keras.ops.convert_to_numpy(prototypes), dtype=np.float64)
    labels = np.asarray(labels).astype(np.int64).reshape(-1)
    spread = within_class_spread(features, labels, prototypes)
    counts = np.bincount(labels, minlength=len(prototypes))[labels]
    kept = counts > 1
    if not kept.any():
        return spread
    features, labels, counts = features[kept], labels[kept], counts[kept]
    distances = (
        np.sum(features**2, axis=1, keepdims=True)
        - 2.0 * features @ prototypes.T
        + np.sum(prototypes**2, axis=1)[None, :]
    )
    rows = np.arange(len(labels))
    own = np.sum((features - prototypes[labels]) ** 2, axis=1) * (counts / (counts - 1.0)) ** 2
    distances[rows, labels] = own
    distances = np.maximum(distances, 0.0)

    def slope(log_t):
        """d(mean loss) / d(1 / t): own distance minus its expectation under the softmax."""
        logits = -distances / np.exp(log_t)
        logits -= logits.max(axis=1, keepdims=True)
        probabilities = np.exp(logits)
        probabilities /= probabilities.sum(axis=1, keepdims=True)
        return float(np.mean(own - np.sum(probabilities * distances, axis=1)))

    # The loss falls while the slope in 1 / t is negative; 1 / t falls as log t rises.
    low, high = np.log(spread * _LOO_RANGE[0]), np.log(spread * _LOO_RANGE[1])
    if slope(low) <= 0:  # sharper is still better at the bracket's lower end
        return float(np.exp(low))
    if slope(high) >= 0:  # even a nearly uniform classifier is too sure
        return float(np.exp(high))
    for _ in range(_LOO_STEPS):
        middle = (low + high) / 2
        if slope(middle) > 0:
            low = middle
        else:
            high = middle
    return float(np.exp((low + high) / 2))
