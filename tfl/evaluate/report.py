"""The evaluation report: metrics of a model on a dataset, written as JSON."""

import contextlib
import json
import math
import os
import uuid

import numpy as np

from tfl.evaluate.metrics import classification_metrics
from tfl.evaluate.predict import predict_dataset


def evaluate_model(model, dataset, class_names, *, multi_label=False):
    """Predicts over `dataset` and scores the predictions.

    Args:
        model: a Keras model with one output of probabilities `[batch, C]`.
        dataset: a batched `tf.data.Dataset` of `(inputs, labels)` pairs.
        class_names: the C class names, in output order.
        multi_label: whether the labels are multi-hot and the outputs sigmoids.

    Returns:
        The dict of `tfl.evaluate.classification_metrics`.

    Examples:

    >>> report = evaluate_model(model, validation_ds, ["cat", "dog"])
    >>> write_json("runs/exp1/report.json", report)
    'runs/exp1/report.json'
    """
    y_true, y_prob = predict_dataset(model, dataset)
    return classification_metrics(y_true, y_prob, class_names, multi_label=multi_label)


def write_json(path, obj):
    """Writes `obj` as JSON to `path`, atomically.

    The text goes to a temporary file in the same folder, is flushed and
    fsynced, then moved over `path` with `os.replace`; a crash or kill at any
    moment leaves either the old file or the new one, never a partial one.
    Missing parent folders are created.

    numpy scalars and arrays become plain numbers and lists, tuples become
    lists, paths become strings, NaN and infinities become null. Any other
    type is a `TypeError`, raised before anything is written.

    Args:
        path: where to write, a string or path-like.
        obj: dicts, lists, numbers, strings, None and numpy values, nested.

    Returns:
        `path`, as given.

    Examples:

    >>> write_json("runs/exp1/report.json", {"accuracy": np.float32(0.5), "auc": float("nan")})
    'runs/exp1/report.json'
    """
    text = json.dumps(to_json(obj), indent=2, allow_nan=False) + "\n"
    return write_atomically(path, lambda file: file.write(text.encode("utf-8")))


def write_atomically(path, write):
    """Writes a file so that a crash or kill leaves the old one or the new one.

    `write(file)` fills a temporary binary file in the same folder, which is
    flushed, fsynced and renamed over `path` with `os.replace`; the rename
    itself is made durable. Missing parent folders are created; on any error
    the temporary file is removed and `path` is untouched.

    Returns:
        `path`, as given.
    """
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    temporary = os.path.join(folder, f".{os.path.basename(path)}.{uuid.uuid4().hex}.tmp")
    try:
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(descriptor, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(temporary)
        raise
    fsync_folder(folder)
    return path


def to_json(obj):
    """A copy of `obj` made of plain JSON types only, as `write_json` stores it.

    Args:
        obj: dicts, lists, tuples, numbers, strings, None, path-likes and
            numpy scalars and arrays, nested.

    Examples:

    >>> to_json({"x": np.arange(3), "y": np.float64("nan"), "z": (1, 2.5)})
    {'x': [0, 1, 2], 'y': None, 'z': [1, 2.5]}
    """
    if isinstance(obj, dict):
        return {_json_key(key): to_json(value) for key, value in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_json(value) for value in obj]
    if isinstance(obj, np.ndarray):
        return to_json(obj.tolist())
    if isinstance(obj, np.generic):
        return to_json(obj.item())
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if obj is None or isinstance(obj, (str, int)):
        return obj
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    raise TypeError(
        f"Cannot write a value of type {type(obj).__name__} to JSON. Received: {obj!r:.80}"
    )


def _json_key(key):
    if isinstance(key, np.generic):
        key = key.item()
    if isinstance(key, str):
        return key
    if isinstance(key, (int, float)) and not isinstance(key, bool):
        return str(key)
    raise TypeError(
        f"JSON object keys must be strings or numbers. Received: key {key!r} of "
        f"type {type(key).__name__}"
    )


def fsync_folder(folder):
    """Makes the rename itself durable (POSIX; elsewhere a no-op)."""
    if os.name != "posix":
        return
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
