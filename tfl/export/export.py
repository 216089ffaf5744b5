"""`export_model`: a tfl classifier -> `saved_models/<name>/<version>/` for TF Serving.

The layout is TF Serving's: a base folder per model, one folder per integer
version inside it; TF Serving polls the base folder and serves the highest
version. A version is written to a hidden temporary folder beside the target,
flushed to disk, and renamed into place in one step, so a poll never sees a
half-written version and an interrupted export leaves only a hidden folder
(which TF Serving ignores and the next export removes). Then the serving files
beside the versions (`models.config`, `README.md`, `requests/`) are rewritten
to describe the highest version (`write_serving_files`).
"""

import dataclasses
import os
import time

import tensorflow as tf

from tfl.evaluate import THRESHOLD
from tfl.export.layout import DEFAULT_BASE
from tfl.export.layout import check_export
from tfl.export.layout import next_version
from tfl.export.serving_files import CLASS_NAMES_FILE
from tfl.export.serving_files import OUTPUTS_FILE
from tfl.export.serving_files import ServingFiles
from tfl.export.serving_files import write_serving_files
from tfl.export.signatures import DEFAULT_TOP_K
from tfl.export.signatures import serving_signatures
from tfl.io import remove_stale_partials
from tfl.io import write_folder
from tfl.io import write_json
from tfl.model.text_classifier import TextClassifier


@dataclasses.dataclass(frozen=True)
class ExportResult:
    """What `export_model` wrote.

    Attributes:
        path: the version folder, `<base>/<name>/<version>`.
        version: the integer version.
        signatures: the signature names, `serving_default` first.
        size_bytes: bytes of the version folder.
        weights_bytes: bytes of the model's weights (their `variables/` part
            is the same size: the weights are stored once).
        seconds: time the export took.
        files: the `ServingFiles` written beside the versions.

    Examples:

    >>> result = export_model(model, "digits")
    >>> result.version, result.files.version, result.size_bytes > result.weights_bytes
    (1, 1, True)
    """

    path: str
    version: int
    signatures: tuple
    size_bytes: int
    weights_bytes: int
    seconds: float
    files: ServingFiles = None


def _servable(model, signatures):
    """What the SavedModel holds: the signatures, each weight once, and a text
    model's tokenizer (its vocabulary tables).

    A plain `tf.Module` rather than `keras.export.ExportArchive`: the archive
    traces every signature before `tf.saved_model.save`, which traces it again
    (inside the save, a function's cache key holds the save's variable policy).
    Here the signatures are traced once, by the save: an export of
    MobileNetV3Small at 32 px took 6.4 s, now 3.8 s (docs/performance.md).
    """
    servable = tf.Module()
    servable.model_weights = [weight.value for weight in model.weights]  # the tf.Variables the signatures read
    if isinstance(model, TextClassifier):
        # A preprocessor loaded from a .keras file is unbuilt until first called.
        model.preprocessor(tf.constant(["build"]))
        servable.tables = _lookup_tables(model.preprocessor)
    for name, function in signatures.items():
        setattr(servable, name, function)
    return servable


def _lookup_tables(layer):
    """The TF resources that `layer` and its sublayers hold: a tokenizer's
    vocabulary tables (found as a checkpoint finds them, without tracing)."""
    from tensorflow.saved_model.experimental import TrackableResource

    return [obj for obj in tf.train.TrackableView(layer).descendants() if isinstance(obj, TrackableResource)]


def weights_bytes(model):
    """Bytes of the model's weights, as stored (float32 = 4 bytes a value)."""
    return sum(int(tf.size(w)) * tf.as_dtype(w.dtype).size for w in model.weights)


def folder_bytes(path):
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(path) for f in files)


def export_model(model, name, *, base=DEFAULT_BASE, version=None, top_k=DEFAULT_TOP_K, verbose=False):
    """Exports a tfl classifier as a SavedModel for TF Serving.

    The signatures take what clients send: encoded image bytes (or float
    pixels) for an image model, raw strings (or string pairs) for a text
    model, with decoding, resizing, preprocessing or tokenization in the graph,
    and return `probabilities`, `class_ids`, `class_names` and `scores` of the
    `top_k` classes. Loading it needs TensorFlow only (and, for text models in
    a Python process, `import tensorflow_text` first; TF Serving's model server
    links those ops itself).

    Beside the versions it writes, with `write_serving_files`, the model
    config file, a README of the signatures and the `docker run` and `curl`
    commands, and example request bodies. Everything is checked before the
    signatures are built (`check_export`).

    Args:
        model: an `ImageClassifier` or `TextClassifier`, e.g. from
            `tfl.load_model("runs/x/model.keras")`.
        name: the model's name under `base`: letters, digits, `.`, `_`, `-`.
        base: TF Serving's base folder of all models.
        version: an integer version; None takes the next free one. An
            existing version is never overwritten.
        top_k: how many classes the outputs rank.
        verbose: print the version folder, its signatures and the number of weights.

    Returns:
        An `ExportResult`; its `files` are the `ServingFiles`.

    Examples:

    >>> result = export_model(model, "flowers")
    >>> result.path, result.signatures
    ('saved_models/flowers/1', ('serving_default', 'serving_pixels'))
    """
    start = time.perf_counter()
    model_dir = check_export(name, base=base, version=version, top_k=top_k)
    if not model.built or any(not layer.built for layer in model.layers):
        raise ValueError(
            f"Model {model.name!r} has unbuilt layers; call it on a batch (or load it from a "
            ".keras file) before exporting."
        )
    signatures = serving_signatures(model, top_k)  # refuses what it cannot serve before any folder is made
    if version is None:
        version = next_version(model_dir)
    target = os.path.join(model_dir, str(version))
    os.makedirs(model_dir, exist_ok=True)
    remove_stale_partials(model_dir)

    servable = _servable(model, signatures)

    def write_version(folder):
        tf.saved_model.save(servable, folder, signatures=signatures)
        write_json(os.path.join(folder, CLASS_NAMES_FILE), list(model.class_names))
        write_json(os.path.join(folder, OUTPUTS_FILE), {"multi_label": bool(model.multi_label), "threshold": THRESHOLD})

    try:
        write_folder(target, write_version)
    except OSError:
        if not os.path.isdir(target):
            raise
        raise FileExistsError(
            f"Version {version} of {model_dir} was written by another export while this one ran, and is kept "
            f"as it is. Export again for the next free version, or pass another version (--version)."
        ) from None
    if verbose:
        print(f"Saved {target}: signatures {', '.join(signatures)}; {len(model.weights)} weights.")
    # The files describe the highest version, which is this one unless `version` is below it:
    # each version's class names are read from its own folder.
    files = write_serving_files(model_dir, name)
    return ExportResult(
        path=target,
        version=version,
        signatures=tuple(signatures),
        size_bytes=folder_bytes(target),
        weights_bytes=weights_bytes(model),
        seconds=time.perf_counter() - start,
        files=files,
    )
