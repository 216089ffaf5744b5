"""`predict`: class names and probabilities for image files, image arrays or raw strings."""

import dataclasses
import os

import numpy as np
import tensorflow as tf

from tfl.data import load_images
from tfl.evaluate import THRESHOLD
from tfl.evaluate import top_k as ranked
from tfl.evaluate.tta import check_tta
from tfl.evaluate.tta import flip_images
from tfl.model import load_model
from tfl.model.classifier import Classifier

MODEL_FILE = "model.keras"


@dataclasses.dataclass
class Predictions:
    """What `predict` returns, one entry per input, in input order.

    Attributes:
        class_names: the model's classes, in column order.
        probabilities: float array `[N, C]`.
        top_k: per input, the `k` most probable `(class name, probability)`.
        labels: per input, the predicted class name (single-label), or the
            list of classes at or above 0.5 (multi-label).

    Examples:

    >>> predictions = predict(model, images[:3], top_k=1)
    >>> predictions.class_names, predictions.probabilities.shape, len(predictions.top_k[0])
    (['cat', 'dog'], (3, 2), 1)
    """

    class_names: list
    probabilities: np.ndarray
    top_k: list
    labels: list


def predict(model_or_path, inputs, *, top_k=1, batch_size=32, safe_mode=True, tta=False):
    """Predicts with a tfl classifier without building its input dict.

    Args:
        model_or_path: a `tfl.model.Classifier`, a `.keras` file, or a run
            folder of `tfl train` (its `model.keras`).
        inputs: images: image file paths, or an array of images `[N, H, W, 3]`
            (or one `[H, W, 3]`) with values in [0, 255], resized and cropped
            by the model's own rule; text: a string or a list of strings
            (sentence pairs: a list of `(text, text_pair)` tuples).
        top_k: how many classes to rank per input (at most the classes).
        batch_size: inputs per forward pass.
        safe_mode: for a path: refuse `.keras` files that hold Python code.
        tta: average the probabilities on the images and on their
            left-right mirror images (flip test-time augmentation); image
            models only.

    Returns:
        `Predictions`.

    Examples:

    >>> model.save("pets.keras")
    >>> predictions = predict("pets.keras", ["cat.jpg", "dog.png"], top_k=2)
    >>> len(predictions.labels), predictions.probabilities.shape
    (2, (2, 2))
    >>> [name for name, probability in predictions.top_k[0]]  # most probable first
    [...]
    >>> predict(model, images[:3], tta=True).probabilities.shape  # with the mirror images, averaged
    (3, 2)
    """
    model = model_of(model_or_path, safe_mode)
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
        raise ValueError(f"top_k must be a whole number >= 1. Received: top_k={top_k!r}")
    if tta:
        check_tta(model)
    model_inputs = _model_inputs(model, inputs)
    probabilities = np.asarray(model.predict(model_inputs, batch_size=batch_size, verbose=0))
    if tta:
        flipped = np.asarray(model.predict(flip_images(model_inputs), batch_size=batch_size, verbose=0))
        probabilities = (probabilities + flipped) / 2
    k = min(top_k, model.num_classes)
    if model.multi_label:
        labels = [[name for name, p in zip(model.class_names, row) if p >= THRESHOLD] for row in probabilities]
    else:
        labels = [model.class_names[i] for i in probabilities.argmax(axis=1)]
    return Predictions(
        class_names=list(model.class_names),
        probabilities=probabilities,
        top_k=ranked(probabilities, model.class_names, k),
        labels=labels,
    )


def model_of(model_or_path, safe_mode=True, caller="predict"):
    """A tfl classifier itself, or the one loaded from a `.keras` file or a
    run folder of `tfl train` (its `model.keras`); `caller` names the
    function in errors."""
    if isinstance(model_or_path, Classifier):
        return model_or_path
    if not isinstance(model_or_path, (str, os.PathLike)):
        raise TypeError(
            f"{caller} takes a tfl classifier, a .keras file or a run folder. "
            f"Received: {type(model_or_path).__name__}"
        )
    path = os.fspath(model_or_path)
    if os.path.isdir(path):
        path = os.path.join(path, MODEL_FILE)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No model at {path}. Give a .keras file or a run folder of `tfl train`.")
    return load_model(path, safe_mode=safe_mode)


def _is_pair(text):
    return isinstance(text, (tuple, list)) and len(text) == 2 and all(isinstance(t, str) for t in text)


def _check_text_kind(model, texts, fits, kind):
    """Refuses the first of `texts` that `fits` rejects, saying the `kind` of input the model reads."""
    bad = next((i for i, text in enumerate(texts) if not fits(text)), None)
    if bad is not None:
        raise ValueError(
            f"{model.name!r} reads {kind}. Received: {texts[bad]!r:.200} (inputs[{bad}])"
        )


def _model_inputs(model, inputs):
    """The model's input dict for raw `inputs`."""
    if model.task == "text":
        texts = [inputs] if isinstance(inputs, str) else list(inputs)
        if not texts or not all(isinstance(t, (str, tuple, list)) for t in texts):
            raise ValueError(f"A text model predicts on strings. Received: {inputs!r:.200}")
        if model.text_pairs:
            _check_text_kind(model, texts, _is_pair, "sentence pairs: a list of (text, text_pair) tuples")
            firsts, seconds = zip(*texts)
            return model.preprocessor(x=(tf.constant(list(firsts)), tf.constant(list(seconds))))
        _check_text_kind(
            model, texts, lambda text: isinstance(text, str),
            "single texts: a string or a list of strings. A model for (text, text_pair) tuples is trained "
            "with a second text column (data.text_pair_column, --text-pair-column)",
        )
        return model.preprocessor(tf.constant(texts))
    if model.task != "image":
        raise ValueError(
            f"predict reads images or texts; {model.name!r} takes both ({model.task}). "
            "Call model.predict with its input dict."
        )
    if isinstance(inputs, (str, os.PathLike)) or (isinstance(inputs, (list, tuple)) and inputs and isinstance(inputs[0], (str, os.PathLike))):
        return {"images": load_images(inputs, model.image_size, model.resize)}
    images = np.asarray(inputs, dtype="float32")
    if images.ndim == 3:
        images = images[None]
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(
            "Image arrays are [N, height, width, 3] (or one [height, width, 3]) with values in [0, 255]. "
            f"Received: an array of shape {images.shape}"
        )
    return {"images": images}
