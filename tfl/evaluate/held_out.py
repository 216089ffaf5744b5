"""`evaluate_held_out`: what `tfl train` and `tfl evaluate` both report on held-out data."""

import dataclasses

import numpy as np

from tfl.evaluate.interpretation import gather_examples
from tfl.evaluate.interpretation import interpret
from tfl.evaluate.interpretation import write_interpretation
from tfl.evaluate.metrics import classification_metrics
from tfl.evaluate.predict import predict_dataset
from tfl.evaluate.tta import check_tta


@dataclasses.dataclass
class HeldOutEvaluation:
    """A classifier's scores on a held-out dataset.

    Attributes:
        report: `classification_metrics` (accuracy, macro_f1, auc_roc,
            confusion_matrix, per_class, ...).
        interpretation: `interpret` (top losses, most confused pairs,
            per-class F1).
        y_true: the labels, in the dataset's order.
        y_prob: the predicted probabilities, in the same order.

    Examples:

    >>> evaluation = evaluate_held_out(model, data.validation)
    >>> evaluation.y_prob.shape, sorted(evaluation.interpretation)[:2]
    ((2, 2), ['classes_by_f1', 'loss'])
    """

    report: dict
    interpretation: dict
    y_true: np.ndarray
    y_prob: np.ndarray


def evaluate_held_out(model, dataset, *, top_losses=9, tta=False):
    """Scores a tfl classifier on `dataset` and interprets its errors.

    Args:
        model: a `tfl.model.Classifier` (its class names and head kind are used).
        dataset: batches of `(inputs, labels)`, e.g. `data.validation`.
        top_losses: how many highest-loss examples the interpretation keeps.
        tta: score the mean of the model's probabilities on the images and
            on their left-right mirror images (flip test-time augmentation);
            image models only.

    Returns:
        A `HeldOutEvaluation`.

    Examples:

    >>> evaluation = evaluate_held_out(model, data.validation)
    >>> sorted(evaluation.report)[:3]
    ['accuracy', 'auc_roc', 'class_names']
    >>> evaluate_held_out(model, data.validation, tta=True).y_prob.shape
    (2, 2)
    """
    if tta:
        check_tta(model)
    y_true, y_prob = predict_dataset(model, dataset, tta=tta)
    report = classification_metrics(y_true, y_prob, model.class_names, multi_label=model.multi_label)
    interpretation = interpret(y_true, y_prob, model.class_names, multi_label=model.multi_label, k=top_losses)
    return HeldOutEvaluation(report=report, interpretation=interpretation, y_true=y_true, y_prob=y_prob)


def write_held_out(folder, evaluation, dataset, *, texts=None, text_pairs=None, heatmaps=None):
    """Writes `interpretation.json` and `top_losses.png` (the top-loss
    examples shown: images, or `texts` for text data) into `folder`.

    `heatmaps`: None, or a function from the shown images `[N, H, W, 3]` to
    one [0, 1] map per image (`tfl.explanation.heatmap_function(model)`,
    Grad-CAM), drawn over each image; only those few images are explained.

    Returns:
        The file names written, relative to `folder`.

    Examples:

    >>> evaluation = evaluate_held_out(model, data.validation)
    >>> write_held_out("held_out", evaluation, data.validation)
    ['interpretation.json', 'top_losses.png']
    """
    indices = [record["index"] for record in evaluation.interpretation["top_losses"]]
    shown = gather_examples(dataset, indices, texts=texts, text_pairs=text_pairs)
    images = shown.get("images")
    maps = heatmaps(images) if heatmaps is not None and images is not None else None
    return write_interpretation(
        folder, evaluation.interpretation, images=images, texts=shown.get("texts"), heatmaps=maps
    )
