"""Build a backbone from the registry, with its weights; save one for reuse."""

import os

from tfl.backbones.registry import get_backbone_spec
from tfl.backbones.stages import stage_layers
from tfl.backbones.weights import build_imagenet
from tfl.backbones.weights import load_weights_file
from tfl.data.image.pipeline import normalize_image_size
from tfl.io import save_to_path


def resolve_image_size(spec, image_size=None):
    """Returns `(height, width)` for `spec`: `image_size`, or its default.

    Raises:
        ValueError: when a side is below the backbone's minimum.

    Examples:

    >>> spec = get_backbone_spec("mobilenet_v3_small")
    >>> resolve_image_size(spec), resolve_image_size(spec, 64)
    ((224, 224), (64, 64))
    """
    size = (spec.default_size, spec.default_size) if image_size is None else normalize_image_size(image_size)
    if min(size) < spec.min_size:
        raise ValueError(
            f"Backbone {spec.name!r} needs images of at least {spec.min_size}x{spec.min_size} "
            f"pixels. Received: image_size={size}. Use image_size={spec.min_size} or larger "
            f"(its ImageNet weights were trained at {spec.default_size})."
        )
    return size


def build_backbone(name, *, weights="imagenet", image_size=None):
    """Builds a headless backbone of `keras.applications` (or one added with `register_backbone`).

    Args:
        name: a registered backbone name (see `tfl.backbones.list_backbones()`).
        weights: "imagenet", None (random initialisation), or a path to a
            `.weights.h5`, legacy `.h5` or `.keras` file with this backbone's
            weights. Keras' own ImageNet file given as a path builds the
            model "imagenet" builds (EfficientNet: with the `Rescaling` layer
            Keras adds for those weights).
        image_size: (height, width) or an int; None for the default size.

    Returns:
        A functional `keras.Model` from images (preprocessed the backbone's own
        way) to its last feature map.

    Examples:

    >>> backbone = build_backbone("resnet50", weights=None, image_size=64)
    >>> backbone.output.shape
    (None, 2, 2, 2048)
    """
    spec = get_backbone_spec(name)
    height, width = resolve_image_size(spec, image_size)
    input_shape = (height, width, 3)
    if isinstance(weights, str) and weights.lower() == "imagenet":
        return build_imagenet(spec, input_shape)
    backbone = spec.constructor(
        include_top=False, weights=None, input_shape=input_shape, **spec.kwargs
    )
    if weights is not None:
        backbone = load_weights_file(backbone, weights, spec)
    return backbone


def backbone_stages(backbone, name):
    """The layers of `backbone` per named stage, from input to output.

    Examples:

    >>> model = tfl.build_model(tfl.ModelConfig(backbone="mobilenet_v3_small", weights=None, image_size=32), ["cat", "dog"])
    >>> stages = backbone_stages(model.backbone, "mobilenet_v3_small")
    >>> list(stages)
    ['stem', 'stride8', 'stride16', 'stride32']
    """
    return stage_layers(backbone, get_backbone_spec(name))


def save_backbone(backbone, path):
    """Saves a backbone's weights to `path` (`.weights.h5`) for `weights=path`.

    Args:
        backbone: a backbone model, or a tfl classifier (its backbone is saved).
        path: the file to write; must end in `.weights.h5`.

    Examples:

    >>> model = tfl.build_model(tfl.ModelConfig(backbone="mobilenet_v3_small", weights=None, image_size=32), ["cat", "dog"])
    >>> save_backbone(model, "backbone.weights.h5")
    'backbone.weights.h5'
    >>> config = tfl.ModelConfig(backbone="mobilenet_v3_small", weights="backbone.weights.h5", image_size=32)
    >>> tfl.build_model(config, ["cat", "dog"]).backbone.name
    'MobileNetV3Small'
    """
    path = os.fspath(path)
    if not path.endswith(".weights.h5"):
        raise ValueError(f"Backbone weights are saved as .weights.h5. Received: path={path!r}")
    backbone = getattr(backbone, "backbone", backbone)
    return save_to_path(path, backbone.save_weights, suffix=".weights.h5")
