"""`build_model`: a `ModelConfig` and class names -> an `ImageClassifier` or a `TextClassifier`."""

import dataclasses

import keras

from tfl.backbones import build_backbone
from tfl.backbones import get_backbone_spec
from tfl.backbones import resolve_image_size
from tfl.backbones.encoders import build_encoder
from tfl.config import Config
from tfl.config.model_config import DEFAULT_POOLING
from tfl.config.model_config import TASKS
from tfl.model.batchnorm import freeze_batchnorm
from tfl.model.dtype_policy import dtype_policy
from tfl.model.fusion_builder import build_fusion_model
from tfl.model.image_classifier import ImageClassifier
from tfl.model.model_file import reading_model_file
from tfl.model.text_classifier import TextClassifier


def build_model(config, class_names, *, task="image", seed=None, text_pairs=False):
    """Builds a classifier from a `tfl.config.ModelConfig`.

    Images: the backbone gets its weights (ImageNet, a file, or random) and
    every BatchNormalization layer is frozen (inference mode, statistics
    kept). Text: the pretrained encoder and its preprocessor are loaded from
    `config.encoder`. The training stages decide what else trains. With
    `config.mixed_precision`, every layer is built under that dtype policy
    (float32 weights, 16-bit computation) except the output layer, which
    stays float32.

    Args:
        config: a `ModelConfig`, or a dict of its fields as a config file's
            `model` section holds them (`augmentation` and `fusion` as dicts).
        class_names: the class names, in output order.
        task: "image" or "text".
        seed: seed of the augmentation layers.
        text_pairs: text: the model classifies sentence pairs.

    Returns:
        An `ImageClassifier`, a `FusionClassifier` (images with
        `config.fusion.mode`) or a `TextClassifier`.

    Examples:

    >>> model = build_model(ModelConfig(backbone="mobilenet_v3_small", weights=None,
    ...                                 image_size=32), ["cat", "dog"])
    >>> model.backbone_name
    'mobilenet_v3_small'
    """
    if isinstance(config, dict):  # read as a config file's `model` section: nested sections, checked keys
        config = Config.from_dict({"model": config}).model
    if task not in TASKS:
        raise ValueError(f"Unknown task {task!r}. Known: {', '.join(TASKS)}.")
    with dtype_policy(config.mixed_precision):
        return _build(config, class_names, task, seed, text_pairs)


def _build(config, class_names, task, seed, text_pairs):
    if task == "text":
        encoder, preprocessor = build_encoder(config.encoder, config.sequence_length)
        return TextClassifier(
            encoder,
            preprocessor,
            class_names,
            encoder_name=config.encoder,
            pooling=config.pooling or DEFAULT_POOLING["text"],
            dropout=config.dropout,
            multi_label=config.multi_label,
            text_pairs=text_pairs,
            **_head_options(config),
            name="text_classifier",
        )
    spec = get_backbone_spec(config.backbone)
    image_size = resolve_image_size(spec, config.image_size)
    if config.fusion.mode is not None:
        return _build_fused(config, spec.name, image_size, class_names)
    backbone = build_backbone(spec.name, weights=config.weights, image_size=image_size)
    freeze_batchnorm(backbone)
    return ImageClassifier(
        backbone,
        class_names,
        backbone_name=spec.name,
        image_size=image_size,
        resize=config.resize,
        pooling=config.pooling or DEFAULT_POOLING["image"],
        dropout=config.dropout,
        multi_label=config.multi_label,
        augmentation=dataclasses.asdict(config.augmentation) if config.augmentation.enabled else None,
        seed=seed,
        **_head_options(config),
        name=f"{spec.name}_classifier",
    )


def _head_options(config):
    return {
        "head": config.head,
        "prototype_metric": config.prototype_metric,
        "prototype_temperature": config.prototype_temperature,
    }


def _build_fused(config, backbone_name, image_size, class_names):
    """The seeds' source/target pair: the configured backbone as the "source"
    branch, `config.fusion.branch` as the trainable "target" branch."""
    fusion = config.fusion
    pooling = config.pooling or DEFAULT_POOLING["image"]
    source = {
        "name": "source",
        "backbone": backbone_name,
        "weights": config.weights,
        "image_size": image_size,
        "pooling": pooling,
        "frozen": fusion.freeze_source,
    }
    target = {"name": "target", "backbone": fusion.branch, "image_size": image_size, "pooling": pooling}
    if fusion.branch != "small_cnn":
        target["weights"] = fusion.branch_weights
    mode = {"mode": fusion.mode}
    if fusion.mode == "weighted":
        mode.update(alpha=fusion.alpha, learnable=fusion.learnable)
    return build_fusion_model(
        [source, target],
        class_names,
        fusion=mode,
        dropout=config.dropout,
        multi_label=config.multi_label,
        resize=config.resize,
        mixed_precision=None,  # build_model already applies config.mixed_precision
        name=f"{backbone_name}_{fusion.branch}_fusion_classifier",
    )


class UnsafeModelError(ValueError):
    """A `.keras` file holds Python code (a `Lambda` layer), refused in safe mode.

    Examples:

    >>> issubclass(UnsafeModelError, ValueError)
    True
    """


def load_model(path, *, safe_mode=True):
    """Loads a `.keras` model written by tfl (no custom objects needed).

    Args:
        path: the `.keras` file.
        safe_mode: refuse files that hold Python code: a `Lambda` layer's
            function is stored as bytecode and runs when the model loads or
            predicts, so a file from someone else could run anything. tfl's
            own models hold none. Pass False (`--trust-model-code` on the
            command line) only for a file whose author you trust.

    Raises:
        UnsafeModelError: the file holds a `Lambda` layer and `safe_mode` is on.
        ModelFileError: a file from another tfl version that this one cannot
            read, naming both versions (see `reading_model_file`).

    Examples:

    >>> model.save("classifier.keras")
    >>> loaded = load_model("classifier.keras")
    >>> type(loaded).__name__, loaded.class_names
    ('ImageClassifier', ['cat', 'dog'])
    """
    try:
        with reading_model_file(path):
            return keras.saving.load_model(path, safe_mode=safe_mode)
    except ValueError as error:
        if safe_mode and "safe_mode" in str(error):
            raise UnsafeModelError(
                f"{path} holds Python code (a Lambda layer), which could run anything when it loads; "
                "tfl refuses it. If you trust whoever wrote the file, pass --trust-model-code "
                "(tfl.load_model(path, safe_mode=False)); better, rebuild the model without Lambda layers."
            ) from None
        raise
