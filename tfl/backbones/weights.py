"""Backbone weights: ImageNet through Keras' own download and cache, or a local file.

Offline, Keras' download fails (or, on some networks, hangs); tfl bounds it
with a socket timeout and turns the failure into an error that says where to
put the file and what to pass instead.
"""

import contextlib
import math
import os
import re
import socket
import warnings

import keras

# Seconds a stalled connection may take before the download is given up.
DOWNLOAD_TIMEOUT_S = float(os.environ.get("TFL_DOWNLOAD_TIMEOUT", "30"))

# What Keras' ImageNet weights of EfficientNet (v1) put in its `Normalization` layer: the
# ImageNet mean, and the standard deviations as the variance (keras/src/applications/efficientnet.py,
# IMAGENET_STDDEV_RGB; tensorflow/tensorflow#49930).
_EFFICIENTNET_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_EFFICIENTNET_IMAGENET_STD = (0.229, 0.224, 0.225)

WEIGHT_FILE_SUFFIXES = (".weights.h5", ".h5", ".keras")


class WeightsUnavailableError(RuntimeError):
    """Pretrained weights could not be downloaded or read.

    Examples:

    >>> issubclass(WeightsUnavailableError, RuntimeError)
    True
    """


def keras_cache_dir():
    """The folder where Keras keeps downloaded application weights.

    `$KERAS_HOME/models`, or `~/.keras/models`; Keras falls back to
    `/tmp/.keras/models` when the home folder is not writable.

    Examples:

    >>> os.path.basename(keras_cache_dir())
    'models'
    """
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    if not os.access(os.path.dirname(home) if not os.path.exists(home) else home, os.W_OK):
        home = os.path.join("/tmp", ".keras")
    return os.path.join(home, "models")


@contextlib.contextmanager
def _socket_timeout(seconds):
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(previous)


def _is_download_failure(error):
    text = str(error)
    return (
        isinstance(error, (OSError, socket.timeout))
        or "URL fetch failure" in text
        or "HTTP error" in text
    )


def build_imagenet(spec, input_shape):
    """Builds `spec`'s backbone with ImageNet weights (downloaded once, then cached).

    The file is the one trained at `input_shape`'s size if it is square and
    published (`spec.imagenet_sizes`: MobileNet v1 and v2 have several),
    else the one trained at `spec.default_size` (`spec.imagenet_weights_size`).
    Keras' download holds the same rule, except for MobileNetV2 at widths 1.3
    and 1.4, released at 224 only, where it asks for a file of the input's
    size that does not exist: those, and any square size without its own
    file, are built at the size the weights were trained at, whose weights
    then go to the backbone of the input's size (all layers are
    convolutional).

    Raises:
        WeightsUnavailableError: when the download fails or stalls, naming the
            backbone, the cache folder and file name, and the alternatives.
    """
    trained_at = spec.imagenet_weights_size(tuple(input_shape[:2])) if input_shape is not None else None
    square = input_shape is not None and input_shape[0] == input_shape[1]
    try:
        with _socket_timeout(DOWNLOAD_TIMEOUT_S):
            if square and spec.imagenet_sizes and input_shape[0] != trained_at:
                # Keras would ask for a file trained at this size that is not published (MobileNetV2 1.3
                # and 1.4 below 224): the weights trained at `trained_at`, in a backbone of this size.
                source = spec.constructor(
                    include_top=False, weights="imagenet", input_shape=(trained_at, trained_at, input_shape[2]),
                    **spec.kwargs,
                )
                backbone = spec.constructor(include_top=False, weights=None, input_shape=input_shape, **spec.kwargs)
                backbone.set_weights(source.get_weights())
                return backbone
            return spec.constructor(
                include_top=False, weights="imagenet", input_shape=input_shape, **spec.kwargs
            )
    except Exception as error:
        if not _is_download_failure(error):
            raise
        raise WeightsUnavailableError(_unavailable_message(spec, input_shape, error)) from error


def _unavailable_message(spec, input_shape, error):
    url = re.search(r"https?://\S+?\.h5", str(error))
    where = keras_cache_dir()
    size = spec.imagenet_weights_size(input_shape[:2])
    trained_at = f" trained at {size}x{size}" if spec.imagenet_sizes else ""
    file_hint = (
        f"download {url.group(0)} on a machine with network and place it in {where}/ "
        f"(as {url.group(0).rsplit('/', 1)[1]})"
        if url
        else f"place the Keras weights file of {spec.keras_name} (include_top=False) in {where}/"
    )
    sizes = ""
    if len(spec.imagenet_sizes) > 1:
        sizes = (
            f" Keras publishes this backbone's weights for inputs of {', '.join(map(str, spec.imagenet_sizes))} "
            f"pixels, one file each; image_size={input_shape[0]}x{input_shape[1]} asks for the file "
            f"trained at {size}x{size}. A weights file given as a path loads at any image size."
        )
    return (
        f"Could not download the ImageNet weights{trained_at} of backbone {spec.name!r} "
        f"(keras.applications.{spec.keras_name}): {_first_line(error)}. "
        f"To use them offline, {file_hint}.{sizes} Or pass weights=PATH with a weights file "
        "of this backbone (.weights.h5, .h5 or a .keras model saved by tfl), or "
        "weights=None to start from random weights."
    )


def load_weights_file(backbone, path, spec):
    """Loads a backbone's weights from `path` into `backbone` (built with `spec`).

    Accepts `.weights.h5` (e.g. written by `tfl.backbones.save_backbone`),
    Keras' legacy `.h5` weight files (such as its own ImageNet downloads), and
    `.keras` files holding this backbone, alone or inside a tfl classifier.

    Returns:
        The backbone holding the weights: `backbone`, or for Keras' ImageNet
        weights of EfficientNet, `backbone` with the layer Keras adds for
        them (`_with_imagenet_rescaling`).

    Raises:
        FileNotFoundError: the file does not exist.
        WeightsUnavailableError: the file holds weights of another architecture.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"Weights file not found: {path}. Pass weights='imagenet', weights=None, "
            f"or the path of a weights file of backbone {spec.name!r}."
        )
    if not path.endswith(WEIGHT_FILE_SUFFIXES):
        raise WeightsUnavailableError(
            f"Cannot read weights from {path}: tfl reads {', '.join(WEIGHT_FILE_SUFFIXES)} files."
        )
    try:
        if path.endswith(".keras"):
            _copy_from_keras_file(backbone, path)
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                backbone.load_weights(path)
    except (ValueError, KeyError, TypeError) as error:
        raise WeightsUnavailableError(
            f"{path} does not hold weights of backbone {spec.name!r} "
            f"(keras.applications.{spec.keras_name}): {_first_line(error).rstrip('.')}. "
            "Pass a weights file written for this backbone, or the backbone it was written for."
        ) from None
    return _with_imagenet_rescaling(backbone, spec)


def _with_imagenet_rescaling(backbone, spec):
    """`backbone` as Keras builds it for the weights it holds.

    Keras' EfficientNet (v1) built with `weights="imagenet"` has one layer
    more than built with `weights=None`: a `Rescaling` by 1/sqrt(std) after
    its `Normalization`, whose ImageNet variance holds the standard
    deviations. Without it the stem sees inputs about twice too small. An
    EfficientNet built with `weights=None` whose `Normalization` then
    received those ImageNet statistics (from Keras' file, or a backbone
    trained from it, given as a path) is returned with that layer, its
    weights unchanged; any other backbone is returned as it is.
    """
    if not (spec.from_keras_applications and spec.module == "efficientnet"):
        return backbone
    normalizations = [layer for layer in backbone.layers if isinstance(layer, keras.layers.Normalization)]
    if len(normalizations) != 1 or not _holds_imagenet_statistics(normalizations[0]):
        return backbone

    def call(layer, *args, **kwargs):
        outputs = layer(*args, **kwargs)
        if isinstance(layer, keras.layers.Normalization):
            return keras.layers.Rescaling([1.0 / math.sqrt(std) for std in _EFFICIENTNET_IMAGENET_STD])(outputs)
        return outputs

    images = keras.Input(batch_shape=backbone.input.shape, name=backbone.layers[0].name)
    rebuilt = keras.models.clone_model(backbone, input_tensors=images, call_function=call)
    for target_layer, source_layer in zip(_weighted_layers(rebuilt), _weighted_layers(backbone)):
        _set_weights(target_layer, source_layer.get_weights())
    return rebuilt


def _set_weights(layer, weights):
    layer.set_weights(weights)
    if isinstance(layer, keras.layers.Normalization):
        layer.finalize_state()  # its mean and variance are read from its weights here, not by set_weights


def _holds_imagenet_statistics(normalization):
    mean, variance = (keras.ops.convert_to_numpy(v).reshape(-1) for v in (normalization.mean, normalization.variance))
    return (
        mean.shape == variance.shape == (3,)
        and all(math.isclose(a, b, abs_tol=1e-6) for a, b in zip(mean, _EFFICIENTNET_IMAGENET_MEAN))
        and all(math.isclose(a, b, abs_tol=1e-6) for a, b in zip(variance, _EFFICIENTNET_IMAGENET_STD))
    )


def _copy_from_keras_file(backbone, path):
    loaded = keras.saving.load_model(path, compile=False, safe_mode=True)  # weights never need code
    source = _find_matching_model(loaded, backbone)
    if source is None:
        raise ValueError(f"no model inside {os.path.basename(path)} has this backbone's layers")
    for target_layer, source_layer in zip(_weighted_layers(backbone), _weighted_layers(source)):
        _set_weights(target_layer, source_layer.get_weights())


def _find_matching_model(model, backbone):
    """`model` or the first model nested in it with `backbone`'s architecture."""
    if _same_architecture(model, backbone):
        return model
    for layer in model.layers if isinstance(model, keras.Model) else []:
        if isinstance(layer, keras.Model):
            found = _find_matching_model(layer, backbone)
            if found is not None:
                return found
    return None


def _same_architecture(a, b):
    """Whether `a` holds weights for `b`: the same layers with weights, in order, of the same
    types and shapes. Layers without weights may differ (Keras' EfficientNet has one `Rescaling`
    more when built for ImageNet weights: `_with_imagenet_rescaling`)."""
    if not isinstance(a, keras.Model):
        return False
    a_layers, b_layers = _weighted_layers(a), _weighted_layers(b)
    return len(a_layers) == len(b_layers) and all(
        type(x) is type(y) and [w.shape for w in x.weights] == [w.shape for w in y.weights]
        for x, y in zip(a_layers, b_layers)
    )


def _weighted_layers(model):
    return [layer for layer in model.layers if layer.weights]


def _first_line(error):
    text = str(error).strip().splitlines()
    return text[0].split(" Example error message")[0] if text else type(error).__name__
