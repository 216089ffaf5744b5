"""The order of training examples: a function of the seed and the epoch.

`Dataset.shuffle(seed=..., reshuffle_each_iteration=True)` gives a new order
at each pass, but which order depends on how many passes the process has
already made: after an LR finder, a BatchNorm check, or a restart from a
checkpoint, epoch 3 sees another order than epoch 3 of an uninterrupted run.

tfl's training pipelines shuffle with `shuffle_each_epoch` instead: each pass
draws its order from the seed and a pass counter (a Python int each pass
reads through `tf.py_function`), which `fit_stages` sets to the epoch about
to run (`set_epoch`). Epoch e of a run
then has the same order whatever ran before it, so a resumed run sees the
orders the uninterrupted run saw. Without `set_epoch` (a plain
`model.fit(data.train, epochs=5)`), the counter advances by one each pass
and every epoch still gets a new order.
"""

import threading

import numpy as np
import tensorflow as tf

# The pass counter: a Python int, read by each pass through `tf.py_function`.
# Not a `tf.Variable`: a variable created inside a `tf.distribute` scope would
# be mirrored across devices, and one created at import would start
# TensorFlow before a multi-worker strategy can be set up.
_NEXT_PASS = [0]
_LOCK = threading.Lock()

# Mixes the seed and the pass into one int64 shuffle seed.
_SEED_STRIDE = 1_000_003
_GRAPH_SEED = 87_654_321


def next_pass():
    """The epoch the next pass will use."""
    return _NEXT_PASS[0]


def set_epoch(epoch):
    """Makes the next pass over every training pipeline use epoch `epoch`'s order."""
    with _LOCK:
        _NEXT_PASS[0] = int(epoch)


def _take_pass():
    with _LOCK:
        epoch = _NEXT_PASS[0]
        _NEXT_PASS[0] = epoch + 1
    return np.int64(epoch)


def shuffle_each_epoch(dataset, buffer_size, seed):
    """`dataset` shuffled in an order drawn from `seed` and the epoch.

    Args:
        dataset: a finite `tf.data.Dataset`.
        buffer_size: the shuffle buffer (the dataset's size for a full shuffle).
        seed: an int; None counts as 0.

    Returns:
        A dataset with the same elements and cardinality; each pass reads the
        pass counter, shuffles with a seed made from it and `seed`, and adds
        one to the counter.

    Examples:

    >>> ds = shuffle_each_epoch(tf.data.Dataset.range(4), 4, seed=1)
    >>> set_epoch(3); first = list(ds.as_numpy_iterator())
    >>> set_epoch(3); list(ds.as_numpy_iterator()) == first
    True
    """
    base = int(seed or 0) * _SEED_STRIDE

    def one_pass(_):
        # This function graph's own seed, not the global one: the order
        # depends on `seed` and the epoch only. (With a global seed of 0,
        # TensorFlow would also test the tensor seed as a Python bool.)
        tf.random.set_seed(_GRAPH_SEED)
        epoch = tf.py_function(_take_pass, [], tf.int64)
        epoch.set_shape([])
        return dataset.shuffle(buffer_size, seed=base + epoch, reshuffle_each_iteration=False)

    shuffled = tf.data.Dataset.from_tensors(0).flat_map(one_pass)
    cardinality = int(dataset.cardinality())
    if cardinality >= 0:
        shuffled = shuffled.apply(tf.data.experimental.assert_cardinality(cardinality))
    return shuffled


def balanced_each_epoch(dataset, num_classes, num_examples, seed):
    """`num_examples` examples of `dataset` drawn with every class equally
    often (in expectation), in an order drawn from `seed` and the epoch.

    Each class is a stream of its own examples, reshuffled at each pass over
    them and repeated; `tf.data.Dataset.sample_from_datasets` draws from the
    streams with equal weights. Small classes are seen several times an epoch,
    large ones partly; the epoch keeps the data's size.

    Args:
        dataset: a finite dataset of single-label `(inputs, class id)` pairs.
        num_classes: the number of classes; a class without examples drops
            out of the draw (its stream is empty).
        num_examples: examples per epoch (the data's size).
        seed: an int; None counts as 0.

    Returns:
        A dataset of `num_examples` pairs a pass.

    Examples:

    >>> pairs = tf.data.Dataset.from_tensor_slices((tf.range(10), [0] * 8 + [1] * 2))
    >>> drawn = balanced_each_epoch(pairs, 2, 10, seed=1)
    >>> len(list(drawn.as_numpy_iterator()))
    10
    """
    labels = dataset.element_spec[1]
    if labels.shape.rank != 0 or not labels.dtype.is_integer:
        raise ValueError(
            "Balanced sampling draws each class equally often and needs single-label data: one class id "
            f"per example. Received: labels of shape {labels.shape} and dtype {labels.dtype.name} (multi-hot "
            "labels?). Use class_weight='balanced' for multi-label data, or turn balanced_sampling off."
        )
    base = int(seed or 0) * _SEED_STRIDE
    classes = range(num_classes)

    def one_pass(_):
        tf.random.set_seed(_GRAPH_SEED)
        epoch = tf.py_function(_take_pass, [], tf.int64)
        epoch.set_shape([])
        streams = [
            dataset.filter(lambda _, label, c=c: tf.equal(tf.cast(label, tf.int64), c))
            .shuffle(num_examples, seed=base + epoch * len(classes) + i)
            .repeat()
            for i, c in enumerate(classes)
        ]
        weights = [1.0 / len(classes)] * len(classes)
        return tf.data.Dataset.sample_from_datasets(streams, weights, seed=base + epoch).take(num_examples)

    drawn = tf.data.Dataset.from_tensors(0).flat_map(one_pass)
    return drawn.apply(tf.data.experimental.assert_cardinality(num_examples))
