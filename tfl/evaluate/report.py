"""The evaluation report: metrics of a model on a dataset, written as JSON."""

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

    >>> report = evaluate_model(model, data.validation, ["cat", "dog"])
    >>> report["class_names"], report["num_examples"], len(report["confusion_matrix"])
    (['cat', 'dog'], 2, 2)
    >>> write_json("runs/exp1/report.json", report)
    'runs/exp1/report.json'
    """
    y_true, y_prob = predict_dataset(model, dataset)
    return classification_metrics(y_true, y_prob, class_names, multi_label=multi_label)
