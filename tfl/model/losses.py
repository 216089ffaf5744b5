"""The loss and metrics of a classifier's head, with label smoothing and class weights."""

import keras
import numpy as np

from tfl.serialization import keras_serializable


def head_loss(multi_label, label_smoothing=0.0, class_weights=None, soft_targets=False):
    """The loss of a softmax (single-label) or sigmoid (multi-label) head.

    Without label smoothing or class weights this is Keras' own
    `SparseCategoricalCrossentropy` / `BinaryCrossentropy`, so the default
    trains exactly as a plain Keras model would.

    Args:
        multi_label: sigmoid outputs and multi-hot labels.
        label_smoothing: in [0, 1): the targets move this far towards uniform.
        class_weights: one weight per class, or None. Single-label: each
            example's loss is scaled by its class's weight. Multi-label: each
            class's positive term is scaled by its weight (the negatives keep 1).
        soft_targets: single-label: training targets may be class
            probabilities `[B, C]` (MixUp, CutMix) as well as class ids
            (`HeadLoss`, also when nothing else asks for it).

    Returns:
        A `keras.losses.Loss`.

    Examples:

    >>> head_loss(multi_label=False).name
    'sparse_categorical_crossentropy'
    >>> loss = head_loss(multi_label=False, class_weights=[1.0, 3.0])
    >>> round(float(loss(np.array([1]), np.array([[0.5, 0.5]]))), 4)
    2.0794
    """
    if class_weights is None:
        if multi_label:
            return keras.losses.BinaryCrossentropy(label_smoothing=label_smoothing)
        if not label_smoothing and not soft_targets:
            return keras.losses.SparseCategoricalCrossentropy()
    return HeadLoss(multi_label, label_smoothing, class_weights)


def head_metrics(multi_label, soft_targets=False):
    """The metrics every stage reports: `accuracy` (per label when multi-label;
    against the most probable target class when the targets are soft).

    Examples:

    >>> [metric.name for metric in head_metrics(multi_label=True)]
    ['accuracy']
    """
    if multi_label:
        return [keras.metrics.BinaryAccuracy(name="accuracy")]
    if soft_targets:
        return [HeadAccuracy(name="accuracy")]
    return [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]


def _soft(y_true, y_pred):
    """Whether single-label targets are class probabilities `[B, C]` (else class ids)."""
    return len(y_true.shape) == 2 and y_true.shape[-1] == y_pred.shape[-1] and (y_pred.shape[-1] or 0) > 1


def _accuracy(y_true, y_pred):
    ops = keras.ops
    labels = ops.argmax(y_true, axis=-1) if _soft(y_true, y_pred) else ops.reshape(y_true, (-1,))
    return ops.cast(ops.equal(ops.cast(labels, "int32"), ops.cast(ops.argmax(y_pred, axis=-1), "int32")), "float32")


@keras_serializable
class HeadAccuracy(keras.metrics.MeanMetricWrapper):
    """Single-label accuracy for class ids or soft targets (their most
    probable class): MixUp's training batches and plain validation batches
    share one metric.

    Examples:

    >>> metric = HeadAccuracy()
    >>> metric.update_state(np.array([[0.7, 0.3], [0.2, 0.8]]), np.array([[0.9, 0.1], [0.6, 0.4]]))
    >>> float(metric.result())
    0.5
    """

    def __init__(self, name="accuracy", dtype=None):
        super().__init__(_accuracy, name=name, dtype=dtype)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}


def balanced_class_weights(class_counts):
    """scikit-learn's "balanced" weights: `n_examples / (n_classes * count)`.

    A class with no example gets weight 1 (it adds no loss anyway).

    Args:
        class_counts: examples per class (single-label), or positives per
            class (multi-label), in class order.

    Returns:
        A list of float, one per class.

    Examples:

    >>> balanced_class_weights([30, 10])
    [0.6666666666666666, 2.0]
    """
    counts = np.asarray(class_counts, dtype="float64")
    total = counts.sum()
    return [float(total / (len(counts) * count)) if count > 0 else 1.0 for count in counts]


@keras_serializable
class HeadLoss(keras.losses.Loss):
    """Cross-entropy on probabilities with label smoothing and class weights.

    Single-label heads take int class ids (as `SparseCategoricalCrossentropy`
    does) or class probabilities `[B, C]` (MixUp, CutMix) and smooth the
    targets; multi-label heads take multi-hot targets. Serializable: a compiled model keeps it through `.keras` files.

    Args:
        multi_label: sigmoid outputs and multi-hot labels.
        label_smoothing: in [0, 1).
        class_weights: one weight per class, or None.
        **kwargs: passed to `keras.losses.Loss` (e.g. `name`).

    Examples:

    >>> loss = HeadLoss(multi_label=False, label_smoothing=0.1)
    >>> round(float(loss(np.array([0]), np.array([[0.9, 0.1]]))), 4)
    0.2152
    """

    def __init__(self, multi_label=False, label_smoothing=0.0, class_weights=None, name="head_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        self.multi_label = bool(multi_label)
        self.label_smoothing = float(label_smoothing)
        self.class_weights = None if class_weights is None else [float(w) for w in class_weights]

    def call(self, y_true, y_pred):
        ops = keras.ops
        y_pred = ops.clip(ops.cast(y_pred, "float32"), keras.config.epsilon(), 1.0 - keras.config.epsilon())
        num_classes = ops.shape(y_pred)[-1]
        smoothing = self.label_smoothing
        if self.multi_label:
            targets = ops.cast(y_true, "float32")
            smoothed = targets * (1.0 - smoothing) + 0.5 * smoothing
            terms = -(smoothed * ops.log(y_pred) + (1.0 - smoothed) * ops.log(1.0 - y_pred))
            if self.class_weights is not None:
                weights = ops.convert_to_tensor(self.class_weights, "float32")
                terms = terms * (1.0 + targets * (weights - 1.0))
            return ops.mean(terms, axis=-1)
        if _soft(y_true, y_pred):
            targets = ops.cast(y_true, "float32")
        else:
            targets = ops.one_hot(ops.cast(ops.reshape(y_true, (-1,)), "int32"), num_classes)
        weights = None
        if self.class_weights is not None:  # a soft target's weight: its classes' weights, mixed alike
            weights = ops.sum(targets * ops.convert_to_tensor(self.class_weights, "float32"), axis=-1)
        targets = targets * (1.0 - smoothing) + smoothing / ops.cast(num_classes, "float32")
        losses = -ops.sum(targets * ops.log(y_pred), axis=-1)
        return losses if weights is None else losses * weights

    def get_config(self):
        return {
            **super().get_config(),
            "multi_label": self.multi_label,
            "label_smoothing": self.label_smoothing,
            "class_weights": self.class_weights,
        }
