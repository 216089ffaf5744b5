"""Classification metrics in numpy: confusion matrix, precision, recall, F1, ROC AUC.

Conventions, chosen to match scikit-learn so its functions can serve as a
reference:

- Zero division gives 0.0: precision of a class never predicted, recall of a
  class with no true example, and F1 where both are 0 (scikit-learn's
  `zero_division=0`).
- `macro_f1` averages F1 over the classes that occur in `y_true` or in the
  predictions. A class in neither has no F1 to speak of (0/0) and is left out,
  as scikit-learn leaves it out for single-label inputs. Its per-class F1 is
  still reported, as 0.0.
- ROC AUC is the Mann-Whitney U statistic with average ranks for ties, equal to
  the area under the ROC curve that `sklearn.metrics.roc_auc_score` returns.
  It is undefined (None) for a class without positives or without negatives;
  macro averages are taken over the classes where it is defined.
- Single-label predictions are the argmax of each row (the lowest class id on
  a tie). Multi-label predictions are probabilities above `THRESHOLD` (0.5 is
  negative, as in `keras.metrics.BinaryAccuracy`).

Every number in the returned dicts is a plain Python `int`, `float` or None,
so the dicts go to JSON as they are, with no NaN.
"""

import numpy as np

from tfl.config.class_names import check_class_names

THRESHOLD = 0.5


def confusion_matrix(y_true, y_pred, num_classes):
    """Counts of (true class, predicted class) pairs.

    Args:
        y_true: true class ids, shape `[N]`, integers in `[0, num_classes)`.
        y_pred: predicted class ids, shape `[N]`, same range.
        num_classes: number of classes C.

    Returns:
        An int64 array of shape `[C, C]`: rows are true classes, columns
        predicted classes.

    Examples:

    >>> confusion_matrix([0, 1, 1, 2], [0, 2, 1, 2], num_classes=3).tolist()
    [[1, 0, 0], [0, 1, 1], [0, 0, 1]]
    """
    whole = isinstance(num_classes, (int, np.integer)) and not isinstance(num_classes, bool)
    if not whole or num_classes < 1:
        raise ValueError(
            f"num_classes must be a whole number >= 1. Received: num_classes={num_classes!r}"
        )
    y_true = _class_ids(y_true, num_classes, "y_true")
    y_pred = _class_ids(y_pred, num_classes, "y_pred")
    if y_true.shape != y_pred.shape:
        raise ValueError(
            "y_true and y_pred must have one class id per example each. Received: "
            f"y_true with shape {y_true.shape}, y_pred with shape {y_pred.shape}"
        )
    counts = np.bincount(y_true * num_classes + y_pred, minlength=num_classes**2)
    return counts.reshape(num_classes, num_classes).astype(np.int64)


def roc_auc(y_true, y_score):
    """Area under the ROC curve of one binary problem, or None if undefined.

    Computed as the Mann-Whitney U statistic: the probability that a random
    positive scores higher than a random negative, ties counting one half
    (average ranks). It equals `sklearn.metrics.roc_auc_score(y_true, y_score)`.

    Args:
        y_true: labels of shape `[N]`, each 0 or 1 (or bool).
        y_score: scores of shape `[N]`; only their order matters.

    Returns:
        A float in [0, 1], or None if `y_true` has no positive or no negative.

    Examples:

    >>> roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    0.75
    >>> roc_auc([0, 1, 1], [0.5, 0.5, 0.9])
    0.75
    >>> roc_auc([1, 1], [0.2, 0.9]) is None
    True
    """
    labels = np.asarray(y_true)
    scores = np.asarray(y_score, dtype=np.float64)
    if labels.ndim != 1 or scores.shape != labels.shape:
        raise ValueError(
            "roc_auc needs y_true and y_score of the same shape [N]. Received: "
            f"y_true with shape {labels.shape}, y_score with shape {scores.shape}"
        )
    _check_binary(labels, "y_true")
    _check_finite(scores, "y_score")
    return _auc(labels.astype(bool), scores)


def classification_metrics(y_true, y_prob, class_names, *, multi_label=False):
    """Accuracy, F1, ROC AUC, per-class scores and confusion matrix, as a dict.

    Single-label (`multi_label=False`): `y_true` holds class ids `[N]` (one-hot
    rows `[N, C]` and a trailing axis `[N, 1]` are also read), `y_prob` softmax
    probabilities `[N, C]`. A binary model with one sigmoid output may pass
    `y_prob` of shape `[N, 1]` with two class names; the column is the
    probability of class 1. `auc_roc` is, for two classes, the AUC of class 1's
    probability; for more, the macro average of the one-vs-rest AUCs of the
    classes with both positives and negatives in `y_true`.

    Multi-label (`multi_label=True`): `y_true` is multi-hot `[N, C]`, `y_prob`
    sigmoid probabilities `[N, C]`, a label is predicted when its probability
    is above `THRESHOLD`. `accuracy` is subset accuracy (every label of the
    example right); `macro_f1`, `micro_f1` and `auc_roc` are taken over labels.
    There is no C x C confusion matrix (`confusion_matrix` is None); instead
    each label's entry in `per_class` has its own 2 x 2 matrix
    `[[tn, fp], [fn, tp]]`, the layout of scikit-learn's
    `multilabel_confusion_matrix`.

    See the module docstring for zero division and undefined values.

    Args:
        y_true: true labels, as above.
        y_prob: predicted probabilities in [0, 1], as above. Logits are
            rejected when they fall outside [0, 1].
        class_names: one name per class (column of `y_prob`), all different.
        multi_label: whether each example may have any number of labels.

    Returns:
        A JSON-serialisable dict with keys `num_examples`, `num_classes`,
        `class_names`, `multi_label`, `threshold` (None for single-label),
        `accuracy`, `macro_f1` (over the classes that occur in `y_true` or in
        the predictions), `micro_f1` (equal to accuracy for single-label),
        `auc_roc` (None where undefined), `per_class` (class
        name -> `precision`, `recall`, `f1`, `support`, `auc_roc`, and for
        multi-label `confusion_matrix`) and `confusion_matrix` (a C x C list
        of lists of ints, or None for multi-label).

    Examples:

    >>> report = classification_metrics(
    ...     [0, 1, 1], [[0.8, 0.2], [0.3, 0.7], [0.6, 0.4]], ["cat", "dog"]
    ... )
    >>> round(report["accuracy"], 4), report["auc_roc"]
    (0.6667, 1.0)
    >>> report["per_class"]["dog"]
    {'precision': 1.0, 'recall': 0.5, 'f1': 0.6666666666666666, 'support': 2, 'auc_roc': 1.0}
    >>> report["confusion_matrix"]
    [[1, 0], [1, 1]]
    """
    names, y_true, y_prob = check_predictions(y_true, y_prob, class_names, multi_label)
    if multi_label:
        return _multi_label_metrics(y_true, y_prob, names)
    return _single_label_metrics(y_true, y_prob, names)


def check_predictions(y_true, y_prob, class_names, multi_label):
    """Checks labels, probabilities and class names against each other.

    Returns:
        `(class names, labels, probabilities)` as checked arrays: labels are
        class ids `[N]`, or multi-hot `[N, C]` when `multi_label`.
    """
    if not isinstance(multi_label, bool):
        raise ValueError(
            f"multi_label must be True or False. Received: multi_label={multi_label!r}"
        )
    names = check_class_names(class_names, multi_label=multi_label)
    probs = _check_probabilities(y_prob, names, multi_label)
    if multi_label:
        return names, _check_multi_hot(y_true, probs.shape), probs
    return names, _check_single_label(y_true, probs.shape), probs


def _single_label_metrics(y_true, y_prob, names):
    num_examples, num_classes = y_prob.shape
    y_pred = np.argmax(y_prob, axis=1)
    matrix = confusion_matrix(y_true, y_pred, num_classes)
    tp = np.diag(matrix)
    support = matrix.sum(axis=1)
    predicted = matrix.sum(axis=0)
    aucs = [_auc(y_true == k, y_prob[:, k]) for k in range(num_classes)]
    if num_classes == 2:
        auc = aucs[1]
    else:
        auc = _mean_defined(aucs)
    accuracy = float(tp.sum() / num_examples)
    return {
        "num_examples": int(num_examples),
        "num_classes": int(num_classes),
        "class_names": names,
        "multi_label": False,
        "threshold": None,
        "accuracy": accuracy,
        "macro_f1": _macro_f1(tp, support, predicted),
        "micro_f1": accuracy,
        "auc_roc": auc,
        "per_class": _per_class(names, tp, support, predicted, aucs),
        "confusion_matrix": matrix.tolist(),
    }


def _multi_label_metrics(y_true, y_prob, names):
    num_examples, num_classes = y_prob.shape
    y_pred = y_prob > THRESHOLD
    tp = np.sum(y_true & y_pred, axis=0)
    fp = np.sum(~y_true & y_pred, axis=0)
    fn = np.sum(y_true & ~y_pred, axis=0)
    tn = np.sum(~y_true & ~y_pred, axis=0)
    support = tp + fn
    predicted = tp + fp
    aucs = [_auc(y_true[:, k], y_prob[:, k]) for k in range(num_classes)]
    per_class = _per_class(names, tp, support, predicted, aucs)
    for k, name in enumerate(names):
        per_class[name]["confusion_matrix"] = [
            [int(tn[k]), int(fp[k])],
            [int(fn[k]), int(tp[k])],
        ]
    return {
        "num_examples": int(num_examples),
        "num_classes": int(num_classes),
        "class_names": names,
        "multi_label": True,
        "threshold": THRESHOLD,
        "accuracy": float(np.mean(np.all(y_true == y_pred, axis=1))),
        "macro_f1": _macro_f1(tp, support, predicted),
        "micro_f1": _f1(tp.sum(), support.sum(), predicted.sum()),
        "auc_roc": _mean_defined(aucs),
        "per_class": per_class,
        "confusion_matrix": None,
    }


def _per_class(names, tp, support, predicted, aucs):
    return {
        name: {
            "precision": _divide(tp[k], predicted[k]),
            "recall": _divide(tp[k], support[k]),
            "f1": _f1(tp[k], support[k], predicted[k]),
            "support": int(support[k]),
            "auc_roc": aucs[k],
        }
        for k, name in enumerate(names)
    }


def _divide(numerator, denominator):
    """numerator / denominator as a float, 0.0 when the denominator is 0."""
    return float(numerator / denominator) if denominator else 0.0


def _f1(tp, support, predicted):
    # 2PR / (P + R) = 2 tp / (support + predicted), with no 0/0 on the way.
    return _divide(2 * tp, support + predicted)


def _macro_f1(tp, support, predicted):
    scores = [
        _f1(tp[k], support[k], predicted[k])
        for k in range(len(tp))
        if support[k] + predicted[k] > 0
    ]
    return float(np.mean(scores)) if scores else None


def _mean_defined(values):
    defined = [v for v in values if v is not None]
    return float(np.mean(defined)) if defined else None


def _auc(positive, scores):
    """Mann-Whitney AUC of a bool mask `positive` against float `scores`."""
    num_positive = int(np.count_nonzero(positive))
    num_negative = positive.size - num_positive
    if num_positive == 0 or num_negative == 0:
        return None
    ranks = _average_ranks(scores)
    # Ranks are whole or half numbers, so this sum is exact in float64.
    u = ranks[positive].sum() - num_positive * (num_positive + 1) / 2
    return float(u / (num_positive * num_negative))


def _average_ranks(values):
    """1-based ranks of `values`; tied values share the mean of their ranks."""
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    starts_group = np.concatenate([[True], ordered[1:] != ordered[:-1]])
    group = np.cumsum(starts_group) - 1
    starts = np.flatnonzero(starts_group)
    ends = np.concatenate([starts[1:], [values.size]])
    # A group at sorted positions start .. end-1 holds ranks start+1 .. end.
    group_rank = (starts + 1 + ends) / 2
    ranks = np.empty(values.size, dtype=np.float64)
    ranks[order] = group_rank[group]
    return ranks


# Input checks. Each names the bad value and where it is.


def _check_probabilities(y_prob, names, multi_label):
    try:
        probs = np.asarray(y_prob, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(f"y_prob must be an array of numbers: {error}") from None
    if probs.ndim != 2:
        raise ValueError(
            "y_prob must have shape [num_examples, num_classes]. "
            f"Received: y_prob with shape {probs.shape}"
        )
    if probs.shape[0] == 0:
        raise ValueError("Metrics need at least one example. Received: y_prob with 0 rows")
    if not multi_label and probs.shape[1] == 1 and len(names) == 2:
        probs = np.concatenate([1.0 - probs, probs], axis=1)
    if probs.shape[1] != len(names):
        raise ValueError(
            f"y_prob has {probs.shape[1]} columns but class_names has {len(names)} "
            f"names. Received: class_names={names}, y_prob with shape {probs.shape}"
        )
    _check_finite(probs, "y_prob")
    outside = (probs < 0) | (probs > 1)
    if outside.any():
        where, count = _first(outside)
        raise ValueError(
            "y_prob must hold probabilities in [0, 1] (softmax or sigmoid outputs, "
            f"not logits). Received: {probs[where].item()!r} at y_prob{list(where)} "
            f"({count} value(s) outside [0, 1])"
        )
    return probs


def _check_single_label(y_true, prob_shape):
    num_examples, num_classes = prob_shape
    labels = _numeric(y_true, "y_true")
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    elif labels.ndim == 2 and labels.shape == prob_shape:
        _check_binary(labels, "y_true")
        ones = labels.sum(axis=1)
        bad = np.flatnonzero(ones != 1)
        if bad.size:
            raise ValueError(
                "One-hot y_true must have exactly one 1 per row (use multi_label=True "
                f"for multi-hot labels). Received: row {bad[0]} = {labels[bad[0]].tolist()}"
            )
        labels = np.argmax(labels, axis=1)
    if labels.ndim != 1:
        raise ValueError(
            f"y_true must hold one class id per example, shape [{num_examples}] (or "
            f"one-hot, [{num_examples}, {num_classes}]). "
            f"Received: y_true with shape {labels.shape}"
        )
    if labels.shape[0] != num_examples:
        raise ValueError(
            f"y_true has {labels.shape[0]} labels but y_prob has {num_examples} rows; "
            "they must describe the same examples."
        )
    return _class_ids(labels, num_classes, "y_true")


def _check_multi_hot(y_true, prob_shape):
    labels = _numeric(y_true, "y_true")
    if labels.shape != prob_shape:
        raise ValueError(
            "Multi-label y_true must be multi-hot with the shape of y_prob "
            f"[num_examples, num_classes]. Received: y_true with shape {labels.shape}, "
            f"y_prob with shape {prob_shape}"
        )
    _check_binary(labels, "y_true")
    return labels.astype(bool)


def _class_ids(values, num_classes, name):
    ids = _numeric(values, name)
    if ids.ndim != 1:
        raise ValueError(
            f"{name} must be a 1-D array of class ids. Received: {name} with shape {ids.shape}"
        )
    if ids.dtype.kind == "f":
        _check_finite(ids, name)
        fractional = ids != np.round(ids)
        if fractional.any():
            where, _ = _first(fractional)
            raise ValueError(
                f"{name} must hold whole class ids. Received: {ids[where].item()!r} at "
                f"{name}[{where[0]}]"
            )
    outside = (ids < 0) | (ids >= num_classes)
    if outside.any():
        where, count = _first(outside)
        raise ValueError(
            f"{name} holds labels outside [0, {num_classes}): {ids[where].item()!r} at "
            f"{name}[{where[0]}] ({count} in all). There are {num_classes} classes."
        )
    return ids.astype(np.int64)


def _numeric(values, name):
    array = np.asarray(values)
    if array.dtype.kind == "b":
        return array.astype(np.int64)
    if array.dtype.kind not in "iuf":
        raise ValueError(
            f"{name} must hold numbers. Received: {name} with dtype {array.dtype}"
        )
    return array


def _check_binary(labels, name):
    bad = (labels != 0) & (labels != 1)
    if bad.any():
        where, count = _first(bad)
        raise ValueError(
            f"{name} must hold only 0 and 1. Received: {labels[where].item()!r} at "
            f"{name}{list(where)} ({count} value(s) neither 0 nor 1)"
        )


def _check_finite(values, name):
    bad = ~np.isfinite(values)
    if bad.any():
        where, count = _first(bad)
        raise ValueError(
            f"{name} holds {values[where].item()!r} at {name}{list(where)} "
            f"({count} NaN or infinite value(s) in all)"
        )


def _first(mask):
    """(index tuple of the first True in `mask`, number of True values)."""
    where = tuple(int(i) for i in np.argwhere(mask)[0])
    return where, int(np.count_nonzero(mask))
