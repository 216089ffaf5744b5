"""`explain`: why a classifier predicts what it does, for image files, image arrays or strings.

Images get Grad-CAM (or Grad-CAM++) heatmaps at each image's own size, texts
word attributions by integrated gradients (or gradient x input); see
`tfl.attribution` and docs/explain.md.
"""

import dataclasses
import os
import time
import weakref

import numpy as np
import tensorflow as tf

from tfl.attribution import GradCam
from tfl.attribution import TokenAttributor
from tfl.attribution import grad_cam_model
from tfl.attribution import map_to_image
from tfl.attribution import merge_word_pieces
from tfl.attribution import normalize_map
from tfl.attribution.grad_cam import METHODS as IMAGE_METHODS
from tfl.attribution.token_attributions import METHODS as TEXT_METHODS
from tfl.data import load_images
from tfl.data.image.files import describe_bad_files
from tfl.data.image.files import find_bad_files
from tfl.data.image.files import has_image_extension
from tfl.data.image.files import image_size_of
from tfl.data.image.pipeline import decode_image
from tfl.model import ImageClassifier
from tfl.model import TextClassifier
from tfl.prediction import model_of

DEFAULT_METHODS = {"image": IMAGE_METHODS[0], "text": TEXT_METHODS[0]}
# Explainers already traced, per model: a second call with the same settings reuses the graph.
_EXPLAINERS = weakref.WeakKeyDictionary()


@dataclasses.dataclass
class Explanations:
    """What `explain` returns, one entry per input, in input order.

    Attributes:
        task: "image" or "text".
        method: "grad_cam", "grad_cam_plus_plus", "integrated_gradients" or
            "gradient_x_input".
        class_names: the model's classes.
        inputs: the file paths, "array[i]" for image arrays, or the texts.
        explained: per input, the class explained (its name).
        probabilities: float array `[N]`, the probability of that class.
        predicted: per input, the most probable class (its name).
        maps: images: per input a float32 array `[height, width]` in [0, 1]
            at the image's own size (0 outside the centre crop the model
            saw); None for texts.
        target: images: the feature map explained, e.g. "stride32 (output)".
        words: texts: per input its words (word pieces merged, special
            tokens dropped); None for images.
        attributions: texts: per input a float array, one value per word.
        score_changes: texts: float array `[N]`, the class score of the text
            minus that of the baseline.
        completeness_gaps: texts: float array `[N]`, |sum of the token
            attributions - score change| (integrated gradients: close to 0).
        seconds: the wall time of the explanations (model loading excluded).

    Examples:

    >>> explanations = explain(model, images[:2])
    >>> len(explanations.maps), explanations.maps[0].shape, explanations.explained[0] in ["cat", "dog"]
    (2, (32, 32), True)
    """

    task: str
    method: str
    class_names: list
    inputs: list
    explained: list
    probabilities: np.ndarray
    predicted: list
    maps: list = None
    target: str = None
    words: list = None
    attributions: list = None
    score_changes: np.ndarray = None
    completeness_gaps: np.ndarray = None
    seconds: float = 0.0


def explain(model_or_path, inputs, *, method=None, class_name=None, layer=None, steps=32, baseline="pad",
            batch_size=16, safe_mode=True):
    """Explains a tfl classifier's predictions: heatmaps for images, word attributions for texts.

    Args:
        model_or_path: a `tfl.model.Classifier` (image or text), a `.keras`
            file, or a run folder of `tfl train`.
        inputs: images: image file paths, or an array `[N, H, W, 3]` (or one
            `[H, W, 3]`, or a list of such arrays) with values in [0, 255];
            texts: a string or a list of strings.
        method: images: "grad_cam" (default) or "grad_cam_plus_plus"; texts:
            "integrated_gradients" (default) or "gradient_x_input".
        class_name: the class to explain, by name or index, for every
            input; None explains each input's most probable class.
        layer: images: the feature map, a stage name (`tfl backbones` lists
            them) or a backbone layer name; None for the last one before pooling.
        steps: integrated gradients' steps along the path (32-64).
        baseline: texts: "pad" or "mask", the token every word piece is
            replaced with in the baseline.
        batch_size: inputs per batch.
        safe_mode: for a path: refuse `.keras` files that hold Python code.

    Returns:
        `Explanations`, aligned with `inputs`.

    Raises:
        ValueError: empty inputs, a file that is not an image, texts for an
            image model (or images for a text model), an unknown class name,
            method or layer; each message names the value and the fix.

    Examples:

    >>> explanations = explain(model, images[:2], class_name="dog")
    >>> explanations.explained, [m.shape for m in explanations.maps]
    (['dog', 'dog'], [(32, 32), (32, 32)])
    >>> classifier = tfl.TextClassifier(encoder, preprocessor, ["neg", "pos"], encoder_name="tiny")
    >>> explanations = explain(classifier, ["a good movie"], steps=8)
    >>> explanations.words, len(explanations.attributions[0])
    ([['a', 'good', 'movie']], 3)
    """
    model = model_of(model_or_path, safe_mode, caller="explain")
    if not isinstance(model, (ImageClassifier, TextClassifier)):
        raise ValueError(
            f"explain explains an ImageClassifier or a TextClassifier; {model.name!r} is a {type(model).__name__} "
            f"({model.task}), whose branches explain has no target layer for. Explain each branch's own model."
        )
    methods = IMAGE_METHODS if model.task == "image" else TEXT_METHODS
    method = DEFAULT_METHODS[model.task] if method is None else method
    if method not in methods:
        raise ValueError(
            f"Unknown method {method!r} for the {model.task} model {model.name!r}. Known for {model.task} models: "
            f"{', '.join(methods)} (images: {', '.join(IMAGE_METHODS)}; texts: {', '.join(TEXT_METHODS)})."
        )
    index = class_index(model, class_name)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a whole number >= 1. Received: batch_size={batch_size!r}")
    start = time.perf_counter()
    if model.task == "image":
        if steps != 32 or baseline != "pad":
            raise ValueError("steps and baseline apply to text models; Grad-CAM needs neither.")
        result = _explain_images(model, inputs, method, index, layer, batch_size)
    else:
        if layer is not None:
            raise ValueError(f"layer applies to image models; {model.name!r} is a text model. Received: layer={layer!r}")
        result = _explain_texts(model, inputs, method, index, steps, baseline, batch_size)
    result.seconds = time.perf_counter() - start
    return result


def class_index(model, class_name):
    """The index of `class_name` (a name or an index) in `model.class_names`;
    -1 for None (each input's most probable class).

    Examples:

    >>> class_index(model, "dog"), class_index(model, 0), class_index(model, None)
    (1, 0, -1)
    """
    if class_name is None:
        return -1
    names = list(model.class_names)
    if isinstance(class_name, str) and class_name in names:
        return names.index(class_name)
    if isinstance(class_name, (int, np.integer)) and not isinstance(class_name, bool) and 0 <= class_name < len(names):
        return int(class_name)
    raise ValueError(
        f"Unknown class {class_name!r}. Known: {', '.join(names)} (or indices 0 to {len(names) - 1}); "
        f"None explains each input's most probable class. Received: class_name={class_name!r}"
    )


def heatmap_function(model):
    """For an `ImageClassifier`, a function from images `[N, H, W, 3]` to
    their Grad-CAM maps `[N, H, W]` (the predicted class); None for other
    models (text, fusion).
    `tfl train` and `tfl evaluate` draw them over `top_losses.png`.

    Examples:

    >>> heatmap_function(model)(images[:2]).shape
    (2, 32, 32)
    """
    if not isinstance(model, ImageClassifier):
        return None

    def heatmaps(images):  # once per run, for a few images: eagerly, without tracing a graph
        explanations = _explain_images(model, np.asarray(images, dtype=np.float32), "grad_cam", -1, None, 32, False)
        return np.stack(explanations.maps)

    return heatmaps


def _explainer(model, key, build):
    cache = _EXPLAINERS.setdefault(model, {})
    if key not in cache:
        cache[key] = build()
    return cache[key]


def _probabilities(model, scores):
    scores = tf.convert_to_tensor(scores)
    return (tf.sigmoid(scores) if model.multi_label else tf.nn.softmax(scores)).numpy()


def _explain_images(model, inputs, method, index, layer, batch_size, graph=True):
    names, groups = _image_groups(model, inputs)
    if graph:
        explainer = _explainer(model, ("image", layer, method), lambda: GradCam(grad_cam_model(model, layer), method))
    else:
        explainer = GradCam(grad_cam_model(model, layer), method, graph=False)
    maps, scores, classes = [], [], []
    for images, sizes in groups:
        for start in range(0, len(images), batch_size):
            batch = images[start : start + batch_size]
            low, batch_scores, batch_classes = explainer(batch, [index] * len(batch))
            for heatmap, (height, width) in zip(low, sizes[start : start + batch_size]):
                maps.append(map_to_image(normalize_map(heatmap), height, width, model.image_size, model.resize))
            scores.append(batch_scores)
            classes.append(batch_classes)
    return _result(model, method, names, np.concatenate(scores), np.concatenate(classes),
                   maps=maps, target=explainer.model.target)


def _result(model, method, inputs, scores, classes, **fields):
    probabilities = _probabilities(model, scores)
    return Explanations(
        task=model.task,
        method=method,
        class_names=list(model.class_names),
        inputs=list(inputs),
        explained=[model.class_names[c] for c in classes],
        probabilities=probabilities[np.arange(len(classes)), classes],
        predicted=[model.class_names[c] for c in probabilities.argmax(axis=1)],
        **fields,
    )


def _image_groups(model, inputs):
    """`(names, groups)`: a name per input, and `(images, sizes)` groups of one
    shape each, in input order, with each image's own `(height, width)`."""
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    if isinstance(inputs, (list, tuple)) and not inputs:
        raise ValueError("explain needs at least one input. Received: inputs=[] (give image files or arrays).")
    if isinstance(inputs, (list, tuple)) and all(isinstance(i, (str, os.PathLike)) for i in inputs):
        paths = [os.fspath(i) for i in inputs]
        for path in paths:
            if not os.path.isfile(path):
                raise ValueError(
                    f"Not an image file: {path!r}. {model.name!r} is an image model: it explains image files or "
                    "arrays [N, height, width, 3] in [0, 255]; texts need a text model."
                )
        bad = find_bad_files(paths, check_extension=False)
        if bad:
            raise ValueError(
                f"explain reads image files; {len(bad)} of the {len(paths)} inputs are not readable images:\n"
                f"{describe_bad_files(bad)}\nGive JPEG, PNG, GIF or BMP files, or image arrays."
            )
        images = load_images(paths, model.image_size, model.resize).numpy()
        return paths, [(images, [_image_height_width(path) for path in paths])]
    arrays = _image_arrays(model, inputs)
    names = [f"array[{i}]" for i in range(len(arrays))]
    groups = []
    for array in arrays:  # consecutive images of one shape share batches
        if groups and groups[-1][0][-1].shape == array.shape:
            groups[-1][0].append(array)
        else:
            groups.append(([array], []))
        groups[-1][1].append(array.shape[:2])
    return names, [(np.stack(images), sizes) for images, sizes in groups]


def _image_arrays(model, inputs):
    arrays = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
    if any(isinstance(a, str) for a in arrays):
        raise ValueError(
            f"{model.name!r} is an image model: it explains image files or arrays, not a mix with strings. "
            f"Received: {inputs!r:.200}"
        )
    try:
        arrays = [np.asarray(a, dtype=np.float32) for a in arrays]
    except (TypeError, ValueError):
        raise ValueError(
            f"{model.name!r} is an image model: give image file paths or arrays [N, height, width, 3] "
            f"with values in [0, 255]. Received: {inputs!r:.200}"
        ) from None
    if len(arrays) == 1 and arrays[0].ndim == 4:
        arrays = list(arrays[0])
    if not arrays:
        raise ValueError("explain needs at least one input. Received: an empty array (shape (0, ...)).")
    for array in arrays:
        if array.ndim != 3 or array.shape[-1] != 3:
            raise ValueError(
                "Image arrays are [N, height, width, 3] (or one [height, width, 3]) with values in [0, 255]. "
                f"Received: an image of shape {array.shape}"
            )
    return arrays


def _image_height_width(path):
    size = image_size_of(path)
    if size is not None:
        return int(size[1]), int(size[0])
    image = decode_image(tf.io.read_file(path))
    return int(image.shape[0]), int(image.shape[1])


def _explain_texts(model, inputs, method, index, steps, baseline, batch_size):
    texts = _texts(model, inputs)
    explainer = _explainer(
        model, ("text", method, steps, baseline), lambda: TokenAttributor(model, method, steps, baseline)
    )
    tokenizer = model.preprocessor.tokenizer
    words, attributions, parts = [], [], []
    for start in range(0, len(texts), batch_size):
        encoded = model.preprocessor(tf.constant(texts[start : start + batch_size]))
        length = max(1, int(tf.reduce_max(tf.reduce_sum(tf.cast(encoded["padding_mask"], tf.int32), axis=1))))
        encoded = {name: value[:, :length] for name, value in encoded.items()}  # no all-padding columns
        result = explainer(encoded, [index] * len(encoded["token_ids"]))
        for ids, values in zip(encoded["token_ids"].numpy(), result["attributions"]):
            merged, scores, _ = merge_word_pieces(
                [tokenizer.id_to_token(int(i)) for i in ids], values, tokenizer.special_tokens
            )
            words.append(merged)
            attributions.append(np.asarray(scores, dtype=np.float32))
        parts.append(result)
    joined = {name: np.concatenate([p[name] for p in parts]) for name in parts[0] if name != "attributions"}
    return _result(
        model, method, texts, joined["scores"], joined["classes"], words=words, attributions=attributions,
        score_changes=joined["score_change"], completeness_gaps=joined["completeness_gap"],
    )


def _texts(model, inputs):
    texts = [inputs] if isinstance(inputs, str) else inputs
    if isinstance(texts, np.ndarray) and texts.dtype.kind in "US":
        texts = texts.tolist()
    if isinstance(texts, (list, tuple)) and any(isinstance(t, (list, tuple)) for t in texts):
        raise ValueError(
            f"explain reads single texts; {model.name!r} was given sentence pairs, which it does not explain yet. "
            "Explain each text alone, or join a pair into one string."
        )
    if not isinstance(texts, (list, tuple)) or not all(isinstance(t, str) for t in texts):
        raise ValueError(
            f"{model.name!r} is a text model: it explains strings (a string or a list of strings), not images "
            f"or arrays; images need an image model. Received: {type(inputs).__name__} {inputs!r:.120}"
        )
    if not texts:
        raise ValueError("explain needs at least one input. Received: inputs=[] (give one or more strings).")
    files = [t for t in texts if has_image_extension(t) and os.path.isfile(t)]
    if files:
        raise ValueError(
            f"{model.name!r} is a text model, and {files[0]!r} is an image file: a text model explains strings, "
            "images need an image model."
        )
    return list(texts)
