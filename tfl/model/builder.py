"""`build_model`: a `ModelConfig` and class names -> an `ImageClassifier`."""

import dataclasses

import keras

from tfl.backbones import build_backbone
from tfl.backbones import get_backbone_spec
from tfl.backbones import resolve_image_size
from tfl.config import ModelConfig
from tfl.model.batchnorm import freeze_batchnorm
from tfl.model.image_classifier import ImageClassifier


def build_model(config, class_names, *, seed=None):
    """Builds a classifier from a `tfl.config.ModelConfig`.

    The backbone gets its weights (ImageNet, a file, or random) and every
    BatchNormalization layer is frozen (inference mode, statistics kept); the
    training stages decide what else trains.

    Args:
        config: a `ModelConfig`, or a dict of its fields.
        class_names: the class names, in output order.
        seed: seed of the augmentation layers.

    Returns:
        An `ImageClassifier`.

    Examples:

    >>> model = build_model(ModelConfig(backbone="mobilenet_v3_small", weights=None,
    ...                                 image_size=32), ["cat", "dog"])
    >>> model.backbone_name
    'mobilenet_v3_small'
    """
    if isinstance(config, dict):
        config = ModelConfig(**config)
    spec = get_backbone_spec(config.backbone)
    image_size = resolve_image_size(spec, config.image_size)
    backbone = build_backbone(spec.name, weights=config.weights, image_size=image_size)
    freeze_batchnorm(backbone)
    return ImageClassifier(
        backbone,
        class_names,
        backbone_name=spec.name,
        image_size=image_size,
        pooling=config.pooling or "avg",
        dropout=config.dropout,
        multi_label=config.multi_label,
        augmentation=dataclasses.asdict(config.augmentation) if config.augmentation.enabled else None,
        seed=seed,
        name=f"{spec.name}_classifier",
    )


def load_model(path, *, safe_mode=True):
    """Loads a `.keras` model written by tfl (no custom objects needed)."""
    return keras.saving.load_model(path, safe_mode=safe_mode)
