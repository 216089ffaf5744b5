"""`export_model`: a tfl classifier -> `saved_models/<name>/<version>/` for TF Serving.

The layout is TF Serving's: a base folder per model, one folder per integer
version inside it; TF Serving polls the base folder and serves the highest
version. A version is written to a hidden temporary folder beside the target,
flushed to disk, and renamed into place in one step, so a poll never sees a
half-written version and an interrupted export leaves only a hidden folder
(which TF Serving ignores and the next export removes).
"""

import dataclasses
import os
import re
import time

import keras
import tensorflow as tf

from tfl.export.signatures import DEFAULT_TOP_K
from tfl.export.signatures import serving_signatures
from tfl.io import remove_stale_partials
from tfl.io import write_folder

DEFAULT_BASE = "saved_models"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


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
    """

    path: str
    version: int
    signatures: tuple
    size_bytes: int
    weights_bytes: int
    seconds: float


def check_export_name(name):
    """Refuses names that could leave the base folder or confuse TF Serving."""
    if not isinstance(name, str) or not _NAME.match(name) or ".." in name:
        raise ValueError(
            f"Export name {name!r} is not allowed: use letters, digits, '.', '_' and '-' "
            "(starting with a letter or digit, no '..', no path separators), e.g. 'flowers'."
        )
    return name


def versions(model_dir):
    """The integer versions present in `model_dir`, ascending."""
    if not os.path.isdir(model_dir):
        return []
    return sorted(int(entry) for entry in os.listdir(model_dir) if entry.isdigit())


def next_version(model_dir):
    """One more than the highest version present, or 1."""
    present = versions(model_dir)
    return present[-1] + 1 if present else 1


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

    Args:
        model: an `ImageClassifier` or `TextClassifier`, e.g. from
            `tfl.load_model("runs/x/model.keras")`.
        name: the model's name under `base`: letters, digits, `.`, `_`, `-`.
        base: TF Serving's base folder of all models.
        version: an integer version; None takes the next free one. An
            existing version is never overwritten.
        top_k: how many classes the outputs rank.
        verbose: print what `ExportArchive` writes.

    Returns:
        An `ExportResult`.

    Examples:

    >>> result = export_model(tfl.load_model("runs/flowers/model.keras"), "flowers")
    >>> result.path
    'saved_models/flowers/1'
    """
    start = time.perf_counter()
    check_export_name(name)
    if not isinstance(top_k, int) or isinstance(top_k, bool) or top_k < 1:
        raise ValueError(f"top_k must be an int >= 1. Received: top_k={top_k!r}")
    if not model.built or any(not layer.built for layer in model.layers):
        raise ValueError(
            f"Model {model.name!r} has unbuilt layers; call it on a batch (or load it from a "
            ".keras file) before exporting."
        )
    model_dir = os.path.join(os.fspath(base), name)
    if version is None:
        version = next_version(model_dir)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ValueError(f"version must be an int >= 1. Received: version={version!r}")
    target = os.path.join(model_dir, str(version))
    if os.path.exists(target):
        raise FileExistsError(
            f"{target} exists: versions are never overwritten (TF Serving may be serving it). "
            f"Pass another version, or leave it out for the next free one ({next_version(model_dir)})."
        )
    os.makedirs(model_dir, exist_ok=True)
    remove_stale_partials(model_dir)

    signatures = serving_signatures(model, top_k)
    archive = keras.export.ExportArchive()
    if hasattr(model, "preprocessor") and hasattr(model.preprocessor, "tokenizer"):
        # A preprocessor loaded from a .keras file is unbuilt until first called,
        # and ExportArchive.track refuses unbuilt layers.
        model.preprocessor(tf.constant(["build"]))
        archive.track(model.preprocessor)  # its vocabulary tables (no weights: stored once)
    for signature, function in signatures.items():
        archive.add_endpoint(signature, function)
    write_folder(target, lambda folder: archive.write_out(folder, verbose=verbose))
    return ExportResult(
        path=target,
        version=version,
        signatures=tuple(signatures),
        size_bytes=folder_bytes(target),
        weights_bytes=weights_bytes(model),
        seconds=time.perf_counter() - start,
    )
