"""Sanity checks for explanations (Adebayo et al. 2018, "Sanity Checks for Saliency Maps").

An explanation that does not change when the model's weights are replaced by
random ones explains the input, not the model; one whose most-attributed
pixels or words matter no more than random ones explains nothing. These
functions measure both:

- `randomized`: some backbone stages of a classifier re-initialised for a
  block (model randomisation); compare the maps with `rank_correlation`
  (Spearman);
- `image_deletion_curves` and `text_deletion_curves`: the probability of the
  class explained as the most-attributed grid cells (or words) are removed
  first, and as they are removed in random orders; the area under each curve
  (lower is a better explanation).
"""

import contextlib

import keras
import numpy as np
import tensorflow as tf

from tfl.attribution.token_attributions import merge_word_pieces
from tfl.train.batchnorm import recalibrate_batchnorm


@contextlib.contextmanager
def randomized(model, stages, *, images=None, seed=0):
    """Re-initialises backbone stages of `model` for the block, and restores them after.

    Each weight of those stages' layers is drawn again as Keras initialises
    it: kernels and embeddings Glorot-uniform, biases, shifts and moving
    means 0, scales and moving variances 1. The head and the other stages
    keep their weights. On leaving the block every weight is put back, so
    explanations traced before (`tfl.explain` keeps them per model) serve
    the randomised model too, without tracing again.

    Freshly initialised BatchNorm statistics (mean 0, variance 1) do not fit
    random weights: through MobileNet 0.25's 27 layers the features shrink to
    about 1e-16 and a Grad-CAM map shows little but the zero-padding pattern.
    With `images`, the re-initialised stages' BatchNorm statistics are
    recomputed on them (`tfl.train.batchnorm.recalibrate_batchnorm`), as a
    network trained from those weights would start.

    Args:
        model: a tfl classifier.
        stages: stage names of `model.stage_layers()`, e.g. ["stride32"]
            (the top stage) or all of them.
        images: image models: `[N, H, W, 3]` in [0, 255] for the BatchNorm
            statistics, or None to keep them at 0 and 1 (a fusion model of
            image and text branches: None only).
        seed: the seed of the new weights.

    Examples:

    >>> kernel = [w for layer in model.stage_layers()["stride32"] for w in layer.weights if len(w.shape) == 4][0]
    >>> before = kernel.numpy()
    >>> with randomized(model, ["stride32"]):
    ...     changed = not np.allclose(kernel.numpy(), before)
    >>> changed, bool(np.allclose(kernel.numpy(), before))  # restored
    (True, True)
    """
    if images is not None and model.task == "image_text":
        raise ValueError(
            f"randomized(images=...) recomputes BatchNorm statistics by running the images through the model; "
            f"{model.name!r} is a fusion model of image and text branches (task 'image_text') and takes a text with "
            "each image. Pass images=None (the statistics stay at 0 and 1), or randomise an image-only model."
        )
    known = list(model.stage_layers())
    unknown = [s for s in stages if s not in known]
    if unknown or not stages:
        raise ValueError(f"Unknown stages {unknown or stages!r}. Known: {', '.join(known)}.")
    layers = [layer for stage in stages for layer in model.stage_layers()[stage]]
    variables = [variable for layer in layers for variable in layer.weights]
    saved = [np.array(variable.numpy()) for variable in variables]
    rng = np.random.default_rng(seed)
    try:
        for variable in variables:
            variable.assign(_random_value(variable, rng))
        if images is not None:
            batchnorms = [layer for layer in layers if isinstance(layer, keras.layers.BatchNormalization)]
            dataset = tf.data.Dataset.from_tensor_slices({"images": np.asarray(images, dtype=np.float32)}).batch(64)
            recalibrate_batchnorm(model, dataset.map(lambda x: (x, 0)), batchnorms)
        yield model
    finally:
        for variable, value in zip(variables, saved):
            variable.assign(value)


def _random_value(variable, rng):
    name = variable.path.rsplit("/", 1)[-1]
    shape = tuple(variable.shape)
    if name in ("gamma", "moving_variance"):
        return np.ones(shape, "float32")
    if name in ("bias", "beta", "moving_mean") or len(shape) < 2:
        return np.zeros(shape, "float32")
    receptive = int(np.prod(shape[:-2])) if len(shape) > 2 else 1
    fan_in, fan_out = shape[-2] * receptive, shape[-1] * receptive
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, shape).astype("float32")


def rank_correlation(a, b):
    """Spearman's rank correlation of two arrays of the same size (ties get
    their mean rank); 0 when either is constant.

    Examples:

    >>> rank_correlation([1.0, 2.0, 3.0, 4.0], [10.0, 20.0, 40.0, 30.0])
    0.8
    """
    x, y = _ranks(np.ravel(a)), _ranks(np.ravel(b))
    if x.size != y.size:
        raise ValueError(f"rank_correlation needs arrays of one size. Received: {x.size} and {y.size} values")
    x, y = x - x.mean(), y - y.mean()
    norm = np.sqrt((x * x).sum() * (y * y).sum())
    return float((x * y).sum() / norm) if norm > 0 else 0.0


def _ranks(values):
    values = np.asarray(values, dtype=np.float64)
    order = np.argsort(values, kind="stable")
    ranks = np.empty(values.size)
    ranks[order] = np.arange(values.size)
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=ranks)
    return sums[inverse] / counts[inverse]


def _auc(curve):
    """Area under a curve sampled at evenly spaced fractions of 0..1 (trapezoid)."""
    curve = np.asarray(curve, dtype=np.float64)
    return float(((curve[1:] + curve[:-1]) / 2).mean())


def _probabilities(model, inputs, classes, batch_size=64):
    """The probability of `classes[i]` for each input of the dict `inputs`."""
    rows = []
    for start in range(0, len(classes), batch_size):
        batch = {name: value[start : start + batch_size] for name, value in inputs.items()}
        probabilities = np.asarray(model.predict_on_batch(batch))
        rows.append(probabilities[np.arange(len(probabilities)), classes[start : start + batch_size]])
    return np.concatenate(rows)


def image_deletion_curves(model, images, heatmaps, classes, *, grid=8, steps=8, random_orders=5, seed=0):
    """Deletion curves of images: grid cells removed most-attributed first, and in random orders.

    The images, as the model sees them (e.g. `tfl.data.load_images` at
    `model.image_size`), are cut into `grid` x `grid` cells, each scored by the
    mean of its heatmap. `steps` times, the next `grid**2 / steps` cells are
    filled with the image's mean colour, and the probability of the class is
    read after each step (and before any): a curve of `steps + 1` points.

    Args:
        model: an image classifier: a `tfl.ImageClassifier`, or a fusion
            model of image branches only.
        images: `[N, H, W, 3]` in [0, 255].
        heatmaps: `[N, H, W]`, the maps of the same images (`tfl.explain`).
        classes: `[N]` the class index explained per image.
        grid, steps: cells per side; removal steps (a divisor of grid**2).
        random_orders: random orders per image, averaged.
        seed: the seed of the random orders.

    Returns:
        A dict of numpy arrays: `auc` `[N]` (the heatmap's order),
        `random_auc` `[N]` (the mean over random orders), `curve` `[N,
        steps + 1]` and `random_curve` (the mean random curve).

    Examples:

    >>> curves = image_deletion_curves(model, images[:2], np.ones((2, 32, 32)), [0, 1], random_orders=2)
    >>> curves["curve"].shape, curves["random_auc"].shape
    ((2, 9), (2,))
    """
    _check_reads(model, "image", "image_deletion_curves")
    images = np.asarray(images, dtype=np.float32)
    heatmaps = np.asarray(heatmaps, dtype=np.float32)
    if heatmaps.shape != images.shape[:3] or (grid * grid) % steps:
        raise ValueError(
            f"Give one heatmap per image of its size, and steps dividing grid**2. Received: images "
            f"{images.shape}, heatmaps {heatmaps.shape}, grid={grid}, steps={steps}"
        )
    rng = np.random.default_rng(seed)
    rows, columns = np.array_split(np.arange(images.shape[1]), grid), np.array_split(np.arange(images.shape[2]), grid)
    results = {"auc": [], "random_auc": [], "curve": [], "random_curve": []}
    for image, heatmap, label in zip(images, heatmaps, np.asarray(classes, dtype=np.int64)):
        cells = np.array([[heatmap[np.ix_(r, c)].mean() for c in columns] for r in rows]).ravel()
        orders = [np.argsort(-cells, kind="stable")] + [rng.permutation(grid * grid) for _ in range(random_orders)]
        batch = np.stack([_deleted(image, order[: k * grid * grid // steps], rows, columns)
                          for order in orders for k in range(steps + 1)])
        probabilities = _probabilities(model, {"images": batch}, np.full(len(batch), label)).reshape(len(orders), -1)
        _record(results, probabilities)
    return {name: np.asarray(values) for name, values in results.items()}


def _check_reads(model, task, caller):
    """Refuses a model that does not read `task` inputs alone, naming its kind and the curve it takes."""
    if model.task == task:
        return
    if model.task == "image_text":
        fix = "no deletion curve removes parts of an image and a text together"
    else:
        fix = f"use {model.task}_deletion_curves"
    raise ValueError(
        f"{caller} takes a model that reads {task}s alone (a{'n' if task == 'image' else ''} {task} classifier, or a "
        f"fusion model of {task} branches only); {model.name!r} is a {type(model).__name__} of task "
        f"{model.task!r}: {fix}."
    )


def _deleted(image, cells, rows, columns):
    copy = image.copy()
    fill = image.mean(axis=(0, 1))
    for cell in cells:
        r, c = rows[cell // len(columns)], columns[cell % len(columns)]
        copy[r[0] : r[-1] + 1, c[0] : c[-1] + 1] = fill
    return copy


def _record(results, probabilities):
    results["curve"].append(probabilities[0])
    results["random_curve"].append(probabilities[1:].mean(axis=0))
    results["auc"].append(_auc(probabilities[0]))
    results["random_auc"].append(float(np.mean([_auc(curve) for curve in probabilities[1:]])))


def text_deletion_curves(model, texts, attributions, classes, *, random_orders=5, seed=0):
    """Deletion curves of texts: words removed most-attributed first, and in random orders.

    A word is removed by masking its word pieces out of the attention
    (`padding_mask` false, the padding token in their place), one word per
    step, until none is left: a curve of `words + 1` points per text,
    compared by the area under it (over the fraction of words removed).

    Args:
        model: a text classifier: a `tfl.TextClassifier`, or a fusion
            model of text branches only.
        texts: the texts.
        attributions: per text, one number per word of `tfl.explain` (the
            words of `merge_word_pieces` on the model's own tokens).
        classes: `[N]` the class index explained per text.
        random_orders: random orders per text, averaged.
        seed: the seed of the random orders.

    Returns:
        A dict: `auc` and `random_auc` (numpy `[N]`), and per text its
        `curve` and mean `random_curve` (lists: texts differ in length).

    Examples:

    >>> classifier = tfl.TextClassifier(encoder, preprocessor, ["neg", "pos"], encoder_name="tiny")
    >>> curves = text_deletion_curves(classifier, ["a good movie"], [[0.1, 0.5, 0.2]], [1], random_orders=2)
    >>> len(curves["curve"][0]), curves["auc"].shape
    (4, (1,))
    """
    _check_reads(model, "text", "text_deletion_curves")
    rng = np.random.default_rng(seed)
    tokenizer = model.preprocessor.tokenizer
    inputs = {name: np.asarray(value) for name, value in model.preprocessor(tf.constant(list(texts))).items()}
    length = max(1, int(inputs["padding_mask"].sum(axis=1).max()))
    inputs = {name: value[:, :length] for name, value in inputs.items()}  # no all-padding columns
    results = {"auc": [], "random_auc": [], "curve": [], "random_curve": []}
    for row, (scores, label) in enumerate(zip(attributions, np.asarray(classes, dtype=np.int64))):
        tokens = [tokenizer.id_to_token(int(i)) for i in inputs["token_ids"][row]]
        _, _, spans = merge_word_pieces(tokens, np.zeros(len(tokens)), tokenizer.special_tokens)
        if len(spans) != len(scores):
            raise ValueError(f"texts[{row}] has {len(spans)} words; attributions[{row}] has {len(scores)} values.")
        orders = [np.argsort(-np.asarray(scores), kind="stable")] + [rng.permutation(len(spans)) for _ in range(random_orders)]
        batch = [_without_words(inputs, row, [spans[w] for w in order[:k]], tokenizer.pad_token_id)
                 for order in orders for k in range(len(spans) + 1)]
        batch = {name: np.stack([b[name] for b in batch]) for name in inputs}
        probabilities = _probabilities(model, batch, np.full(len(orders) * (len(spans) + 1), label))
        _record(results, probabilities.reshape(len(orders), -1))
    return {
        "auc": np.asarray(results["auc"]),
        "random_auc": np.asarray(results["random_auc"]),
        "curve": results["curve"],
        "random_curve": results["random_curve"],
    }


def _without_words(inputs, row, spans, pad_id):
    example = {name: value[row].copy() for name, value in inputs.items()}
    for span in spans:
        example["token_ids"][span] = pad_id
        example["padding_mask"][span] = False
    return example
