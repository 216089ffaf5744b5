"""Interpretation: the examples a model is most wrong about, the classes it mixes up, per-class F1.

Three views of a model's held-out predictions, after fastai's
`ClassificationInterpretation`, computed in numpy from the labels and
probabilities `tfl.evaluate.predict_dataset` returns (no model call):

- `top_losses`: the examples with the highest cross-entropy, highest first,
  with their actual and predicted classes. The loss of one example is what
  Keras' loss would give it, probabilities clipped to `[EPSILON, 1 - EPSILON]`:
  `-log p(actual class)` for single-label data; for multi-label data the
  binary cross-entropy summed over the C labels (Keras'
  `binary_crossentropy` takes the mean, so it is this divided by C).
- `most_confused`: the off-diagonal cells of the confusion matrix, largest
  first: (actual, predicted, count). Single-label only: a multi-label example
  has no one predicted class to confuse with, and each label's own 2 x 2
  matrix is in `per_class`.
- `per_class`: precision, recall, F1 and support of each class, as
  `tfl.evaluate.classification_metrics` computes them.

`interpret` returns all three as one JSON-ready dict; `write_interpretation`
writes it as `interpretation.json` with the figure `top_losses.png`.
"""

import collections
import os

import numpy as np

from tfl.evaluate.metrics import THRESHOLD
from tfl.evaluate.metrics import check_predictions
from tfl.evaluate.metrics import classification_metrics
from tfl.evaluate.plots import plot_top_losses
from tfl.evaluate.plots import save_figure
from tfl.io import write_json

# Keras' default fuzz factor (keras.config.epsilon()), which its cross-entropy losses clip by.
EPSILON = 1e-7
INTERPRETATION_FILE = "interpretation.json"
TOP_LOSSES_PLOT = "top_losses.png"
# Shown between the two texts of a pair.
PAIR_SEPARATOR = " | "

ConfusedPair = collections.namedtuple("ConfusedPair", ["actual", "predicted", "count"])


def example_losses(y_true, y_prob, class_names, *, multi_label=False):
    """The cross-entropy of each example, as Keras' loss would give it.

    Args:
        y_true: true labels, read as `tfl.evaluate.classification_metrics`
            reads them: class ids `[N]` (or one-hot `[N, C]`), or multi-hot
            `[N, C]` with `multi_label=True`.
        y_prob: probabilities `[N, C]` (or `[N, 1]` for a binary sigmoid).
        class_names: the C class names.
        multi_label: whether the labels are multi-hot and the outputs sigmoids.

    Returns:
        A float64 array `[N]`: `-log p(actual class)`, or for multi-label the
        binary cross-entropy summed over the labels; probabilities are
        clipped to `[EPSILON, 1 - EPSILON]` first.

    Examples:

    >>> example_losses([0, 1], [[0.5, 0.5], [0.9, 0.1]], ["cat", "dog"]).round(4).tolist()
    [0.6931, 2.3026]
    """
    _, labels, probs = check_predictions(y_true, y_prob, class_names, multi_label)
    return _losses(labels, probs, multi_label)


def top_losses(y_true, y_prob, class_names, *, k=9, multi_label=False):
    """The `k` examples with the highest loss, highest first.

    Args:
        y_true: true labels, as in `example_losses`.
        y_prob: probabilities, as in `example_losses`.
        class_names: the C class names.
        k: how many examples, a whole number >= 1; all of them when there
            are fewer than `k`.
        multi_label: whether the labels are multi-hot and the outputs sigmoids.

    Returns:
        A list of at most `k` dicts, by decreasing `loss` (equal losses in
        example order). Each has `index` (the example's row in `y_true`, the
        dataset order), `actual`, `predicted` and `loss`. Single-label:
        `actual` and `predicted` are class names, `probability` is the
        probability of the actual class and `predicted_probability` that of
        the predicted one (the argmax). Multi-label: `actual` and `predicted`
        are lists of class names (predicted: probability above `THRESHOLD`),
        and `probabilities` maps each of those classes to its probability.

    Examples:

    >>> top_losses([0, 1, 1], [[0.9, 0.1], [0.8, 0.2], [0.4, 0.6]], ["cat", "dog"], k=2)[0]
    {'index': 1, 'actual': 'dog', 'predicted': 'cat', 'probability': 0.2, \
'predicted_probability': 0.8, 'loss': 1.6094379124341003}
    """
    _check_whole(k, "k", "how many examples to list, e.g. k=9")
    names, labels, probs = check_predictions(y_true, y_prob, class_names, multi_label)
    losses = _losses(labels, probs, multi_label)
    order = np.argsort(-losses, kind="stable")[:k]
    if multi_label:
        return [_multi_label_record(i, labels[i], probs[i], losses[i], names) for i in order]
    return [_single_label_record(i, labels[i], probs[i], losses[i], names) for i in order]


def most_confused(confusion_matrix, class_names, *, min_count=1):
    """The (actual, predicted) class pairs the model mixes up most often.

    Args:
        confusion_matrix: counts `[C, C]`, rows the actual classes, columns
            the predicted ones (`tfl.evaluate.confusion_matrix`, or a
            report's `"confusion_matrix"`).
        class_names: the C class names.
        min_count: leave out pairs seen fewer times, a whole number >= 1.

    Returns:
        A list of `ConfusedPair(actual, predicted, count)` named tuples, one
        per off-diagonal cell with at least `min_count` examples, by
        decreasing count (equal counts in class order).

    Examples:

    >>> most_confused([[5, 2, 0], [1, 4, 3], [0, 0, 6]], ["cat", "dog", "fox"])
    [ConfusedPair(actual='dog', predicted='fox', count=3), \
ConfusedPair(actual='cat', predicted='dog', count=2), \
ConfusedPair(actual='dog', predicted='cat', count=1)]
    """
    _check_whole(min_count, "min_count", "the fewest mix-ups a pair needs to be listed, e.g. min_count=1")
    names = [str(name) for name in class_names]
    counts = _check_counts(confusion_matrix, names)
    off_diagonal = counts.copy()
    np.fill_diagonal(off_diagonal, 0)
    actual, predicted = np.nonzero(off_diagonal >= min_count)
    pairs = sorted(zip(actual, predicted), key=lambda pair: (-off_diagonal[pair], pair))
    return [ConfusedPair(names[i], names[j], int(off_diagonal[i, j])) for i, j in pairs]


def interpret(y_true, y_prob, class_names, *, multi_label=False, k=9, min_count=1):
    """Top losses, most confused pairs and per-class scores, as one JSON-ready dict.

    Args:
        y_true: true labels, as in `example_losses`.
        y_prob: probabilities, as in `example_losses`.
        class_names: the C class names.
        multi_label: whether the labels are multi-hot and the outputs sigmoids.
        k: how many top losses to list.
        min_count: the fewest mix-ups a pair in `most_confused` needs.

    Returns:
        A dict with `num_examples`, `multi_label`, `loss` (which loss the
        numbers are), `mean_loss`, `top_losses` (see `top_losses`),
        `most_confused` (dicts with `actual`, `predicted`, `count`; None for
        multi-label, see the module doc), `per_class` (class name ->
        `precision`, `recall`, `f1`, `support`, ..., from
        `classification_metrics`) and `classes_by_f1` (the class names, lowest
        F1 first; equal F1 in class order).

    Examples:

    >>> result = interpret([0, 1, 1], [[0.9, 0.1], [0.8, 0.2], [0.4, 0.6]], ["cat", "dog"])
    >>> result["top_losses"][0]["index"], result["most_confused"]
    (1, [{'actual': 'dog', 'predicted': 'cat', 'count': 1}])
    >>> result["per_class"]["cat"]["f1"]
    0.6666666666666666
    """
    _check_whole(k, "k", "how many examples to list, e.g. k=9")
    _check_whole(min_count, "min_count", "the fewest mix-ups a pair needs to be listed, e.g. min_count=1")
    metrics = classification_metrics(y_true, y_prob, class_names, multi_label=multi_label)
    names, labels, probs = check_predictions(y_true, y_prob, class_names, multi_label)
    losses = _losses(labels, probs, multi_label)
    confused = None
    if not multi_label:
        pairs = most_confused(metrics["confusion_matrix"], names, min_count=min_count)
        confused = [pair._asdict() for pair in pairs]
    f1 = [metrics["per_class"][name]["f1"] for name in names]
    return {
        "num_examples": int(losses.size),
        "multi_label": multi_label,
        "loss": (
            "binary cross-entropy summed over the labels" if multi_label
            else "cross-entropy: -log p(actual class)"
        ),
        "mean_loss": float(losses.mean()),
        "top_losses": top_losses(y_true, y_prob, names, k=k, multi_label=multi_label),
        "most_confused": confused,
        "per_class": metrics["per_class"],
        "classes_by_f1": [names[c] for c in np.argsort(f1, kind="stable")],
    }


def gather_examples(dataset, indices, *, texts=None, text_pairs=None):
    """The inputs at `indices` of a dataset, for showing: images or texts.

    Args:
        dataset: a batched dataset of `(inputs, labels)` in a fixed order,
            the one the predictions were made on. Images are read from
            `inputs["images"]` (or `inputs` itself, a `[B, H, W, 3]` tensor),
            texts from `inputs["text"]` (and `"text_pair"`).
        indices: positions in the dataset, e.g. `[r["index"] for r in records]`.
        texts: all the texts of the dataset, in its order, to take the texts
            from instead (a preprocessor leaves only token ids in the batches;
            see `TextData.validation_texts`). The dataset is then not read.
        text_pairs: the second texts, with `texts`, or None.

    Returns:
        A dict with `images` (an array `[len(indices), H, W, 3]`, values in
        [0, 255]) or `texts` (a list of str, a pair as "first | second"), or
        neither when the dataset's inputs hold no images or texts.

    Examples:

    >>> shown = gather_examples(data.validation, [1, 0])
    >>> shown["images"].shape
    (2, 32, 32, 3)
    """
    indices = [int(i) for i in indices]
    if texts is not None:
        if text_pairs is not None:
            return {"texts": [f"{texts[i]}{PAIR_SEPARATOR}{text_pairs[i]}" for i in indices]}
        return {"texts": [str(texts[i]) for i in indices]}
    spec = dataset.element_spec[0]
    if isinstance(spec, dict) and "images" in spec:
        kind = "images"
    elif isinstance(spec, dict) and "text" in spec:
        kind = "texts"
    elif not isinstance(spec, dict) and spec.shape.rank == 4:
        kind = "images"
    else:
        return {}
    wanted = set(indices)
    found = {}
    start = 0
    for inputs, _ in dataset.as_numpy_iterator():
        rows = _shown_rows(inputs, kind)
        for offset in range(len(rows)):
            if start + offset in wanted:
                found[start + offset] = rows[offset]
        start += len(rows)
        if len(found) == len(wanted):
            break
    missing = sorted(wanted - set(found))
    if missing:
        raise ValueError(
            f"The dataset has {start} examples, fewer than the index {missing[-1]} asks for. "
            "Pass the dataset the predictions were made on."
        )
    shown = [found[i] for i in indices]
    return {kind: np.stack(shown) if kind == "images" else shown}


def write_interpretation(folder, interpretation, *, images=None, texts=None, heatmaps=None):
    """Writes `interpretation.json` and `top_losses.png` into `folder`, atomically.

    Args:
        folder: where to write; created if missing.
        interpretation: the dict of `interpret`.
        images: the images of `interpretation["top_losses"]`, in its order
            (`gather_examples(...)["images"]`), or None.
        texts: their texts instead, or None. With neither, the figure lists
            the examples' indices and classes.
        heatmaps: with `images`, a [0, 1] map per image drawn over it, or None.

    Returns:
        The file names written, relative to `folder`. With `texts`, each
        record in the JSON file also holds its `text`.

    Examples:

    >>> result = interpret([0, 1, 1], [[0.9, 0.1], [0.8, 0.2], [0.4, 0.6]], ["cat", "dog"])
    >>> write_interpretation("interpretation", result, texts=["a", "b", "c"])
    ['interpretation.json', 'top_losses.png']
    """
    folder = os.fspath(folder)
    # The figure first: it checks that images or texts match the records.
    figure = plot_top_losses(interpretation["top_losses"], images=images, texts=texts, heatmaps=heatmaps)
    if texts is not None:
        records = [{**record, "text": text} for record, text in zip(interpretation["top_losses"], texts)]
        interpretation = {**interpretation, "top_losses": records}
    write_json(os.path.join(folder, INTERPRETATION_FILE), interpretation)
    save_figure(figure, os.path.join(folder, TOP_LOSSES_PLOT))
    return [INTERPRETATION_FILE, TOP_LOSSES_PLOT]


def _losses(labels, probs, multi_label):
    clipped = np.clip(probs, EPSILON, 1.0 - EPSILON)
    if multi_label:
        return -np.sum(np.where(labels, np.log(clipped), np.log1p(-clipped)), axis=1)
    return -np.log(clipped[np.arange(labels.size), labels])


def _single_label_record(index, label, row, loss, names):
    predicted = int(np.argmax(row))
    return {
        "index": int(index),
        "actual": names[label],
        "predicted": names[predicted],
        "probability": float(row[label]),
        "predicted_probability": float(row[predicted]),
        "loss": float(loss),
    }


def _multi_label_record(index, labels, row, loss, names):
    predicted = row > THRESHOLD
    shown = np.flatnonzero(labels | predicted)
    return {
        "index": int(index),
        "actual": [names[c] for c in np.flatnonzero(labels)],
        "predicted": [names[c] for c in np.flatnonzero(predicted)],
        "probabilities": {names[c]: float(row[c]) for c in shown},
        "loss": float(loss),
    }


def _shown_rows(inputs, kind):
    if kind == "images":
        return inputs["images"] if isinstance(inputs, dict) else inputs
    texts = [_decoded(t) for t in inputs["text"]]
    if "text_pair" in inputs:
        return [f"{a}{PAIR_SEPARATOR}{_decoded(b)}" for a, b in zip(texts, inputs["text_pair"])]
    return texts


def _decoded(text):
    return text.decode("utf-8", errors="replace") if isinstance(text, bytes) else str(text)


def _check_whole(value, name, meaning):
    whole = isinstance(value, (int, np.integer)) and not isinstance(value, bool)
    if not whole or value < 1:
        raise ValueError(f"{name} must be a whole number >= 1 ({meaning}). Received: {name}={value!r}")


def _check_counts(matrix, names):
    try:
        counts = np.asarray(matrix, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(f"confusion_matrix must be an array of counts: {error}") from None
    if counts.shape != (len(names), len(names)):
        raise ValueError(
            f"confusion_matrix must be square with one row and one column per class "
            f"({len(names)} class names). Received: confusion_matrix with shape {counts.shape}, "
            f"class_names={names}"
        )
    bad = ~np.isfinite(counts) | (counts < 0) | (counts != np.round(counts))
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise ValueError(
            "confusion_matrix must hold counts (whole numbers >= 0). Received: "
            f"{counts[i, j].item()!r} at confusion_matrix[{i}, {j}]"
        )
    return counts.astype(np.int64)
