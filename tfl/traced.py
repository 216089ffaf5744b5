"""`traced`: a `tf.function` made for one model, whose traces TensorFlow counts on their own.

TensorFlow logs "N out of the last M calls to <function> triggered tf.function
retracing" when functions made from the same Python code trace often: it
counts the traces of every `tf.function` by the wrapped function's `__code__`,
not by the `tf.function` object. tfl makes a function per model to predict
or to extract features, and a cross-validation's folds, a search's trials or
rank's candidates each bring a new model: each traces once, by design, and
TensorFlow's shared count reads them as a retracing bug, a warning that tells
the user to fix something that is not wrong. A function made by `traced` is
counted on its own, so the warning still appears where that one function
really traces again and again (new shapes on every call).

Like `tfl.io`, this module is shared by every folder of `tfl` and imports no
other part of it.
"""

import functools

import tensorflow as tf


def traced(function, **options):
    """`tf.function(function, **options)`, with its own count of traces.

    Examples:

    >>> double = traced(lambda x: 2 * x, input_signature=[tf.TensorSpec([None], tf.float32)])
    >>> double(tf.constant([1.0, 2.0])).numpy().tolist()
    [2.0, 4.0]
    """
    # A partial object has no `__code__`: TensorFlow then keys the counts by the
    # partial itself, which is new for every call of `traced`.
    return tf.function(functools.partial(function), **options)
