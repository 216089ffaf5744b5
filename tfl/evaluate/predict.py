"""Running a model over a labelled dataset, and reading off its top classes."""

import numpy as np
import tensorflow as tf

from tfl.evaluate.tta import flip_averaged
from tfl.traced import traced


def predict_dataset(model, dataset, *, tta=False):
    """Runs `model` once over `dataset` and collects labels and outputs.

    The model is called as `model(inputs, training=False)` inside one
    `tf.function`, traced once for the dataset's element spec (so a smaller
    last batch does not trace it again). This avoids `model.predict`, which
    costs about 0.1 s per call. Batches are taken in the dataset's order; shuffle
    or not, the labels and outputs stay paired row by row.

    Args:
        model: a callable Keras model whose output is one tensor of shape
            `[batch, C]`, e.g. softmax or sigmoid probabilities.
        dataset: a batched `tf.data.Dataset` of `(inputs, labels)` pairs;
            `inputs` may be a tensor or a dict of tensors, as the model takes.
        tta: average the outputs on the images and on their left-right
            mirror images (flip test-time augmentation; the images are the
            `"images"` entry of a dict, or the tensor itself).

    Returns:
        `(y_true, y_prob)`: numpy arrays of the labels and of the model
        outputs, concatenated along the first axis in dataset order.

    Examples:

    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, "softmax")])
    >>> x, y = np.ones((10, 4), "float32"), np.arange(10) % 3
    >>> dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(4)
    >>> y_true, y_prob = predict_dataset(model, dataset)
    >>> y_true.shape, y_prob.shape
    ((10,), (10, 3))
    """
    spec = dataset.element_spec
    if not (isinstance(spec, tuple) and len(spec) == 2):
        raise ValueError(
            "predict_dataset needs a batched dataset of (inputs, labels) pairs. "
            f"Received: element_spec={spec!r}"
        )

    def call(inputs):
        if tta:
            return flip_averaged(model, inputs)
        return model(inputs, training=False)

    forward = traced(call, input_signature=[spec[0]])

    labels, outputs = [], []
    for inputs, batch_labels in dataset:
        batch_outputs = forward(inputs)
        if not tf.is_tensor(batch_outputs):
            raise ValueError(
                "predict_dataset needs a model with one output tensor. "
                f"Received: an output of type {type(batch_outputs).__name__}"
            )
        labels.append(np.asarray(batch_labels))
        outputs.append(np.asarray(batch_outputs))
    if not outputs:
        raise ValueError("predict_dataset received an empty dataset: nothing to predict.")
    return np.concatenate(labels, axis=0), np.concatenate(outputs, axis=0)


def top_k(probabilities, class_names, k):
    """The `k` most probable classes of each example, most probable first.

    Args:
        probabilities: array of shape `[N, C]` (one row per example).
        class_names: the C class names, in column order.
        k: how many classes to return per example, 1 <= k <= C.

    Returns:
        A list of N lists of `k` `(class_name, probability)` tuples, sorted by
        decreasing probability; equal probabilities keep column order.

    Examples:

    >>> top_k([[0.1, 0.7, 0.2]], ["cat", "dog", "fox"], k=2)
    [[('dog', 0.7), ('fox', 0.2)]]
    """
    probs = np.asarray(probabilities, dtype=np.float64)
    if probs.ndim != 2:
        raise ValueError(
            "top_k needs probabilities of shape [num_examples, num_classes]. "
            f"Received: probabilities with shape {probs.shape}"
        )
    names = [str(name) for name in class_names]
    num_classes = probs.shape[1]
    if len(names) != num_classes:
        raise ValueError(
            f"probabilities have {num_classes} columns but class_names has {len(names)} "
            f"names. Received: class_names={names}"
        )
    whole = isinstance(k, (int, np.integer)) and not isinstance(k, bool)
    if not whole or not 1 <= k <= num_classes:
        raise ValueError(
            f"k must be a whole number from 1 to {num_classes} (the number of classes). "
            f"Received: k={k!r}"
        )
    if not np.all(np.isfinite(probs)):
        row, column = np.argwhere(~np.isfinite(probs))[0]
        raise ValueError(
            f"probabilities hold {probs[row, column].item()!r} at "
            f"probabilities[{row}, {column}]"
        )
    order = np.argsort(-probs, axis=1, kind="stable")[:, :k]
    return [
        [(names[j], float(row[j])) for j in columns]
        for row, columns in zip(probs, order)
    ]
