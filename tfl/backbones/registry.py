"""The backbone registry: look up a `BackboneSpec` by name, list them all, add your own."""

import difflib

from tfl.backbones.keras_applications import SPECS
from tfl.backbones.spec import BackboneSpec

_REGISTRY = {spec.name: spec for spec in SPECS}


def _key(name):
    return name.lower().replace("_", "").replace("-", "")


_BY_KEY = {_key(name): spec for name, spec in _REGISTRY.items()}


def get_backbone_spec(name):
    """Returns the `BackboneSpec` of `name`.

    Matching ignores case, `_` and `-`, so "ResNet50V2", "resnet50_v2" and
    "resnet50-v2" are the same backbone.

    Raises:
        ValueError: for an unknown name, naming the closest known names (not
            all of them: `tfl backbones` and `list_backbones()` list them).

    Examples:

    >>> get_backbone_spec("ResNet50V2").name
    'resnet50_v2'
    >>> get_backbone_spec("resnet5")
    Traceback (most recent call last):
    ...
    ValueError: Unknown backbone 'resnet5'...
    """
    if not isinstance(name, str):
        raise ValueError(f"A backbone name is a string. Received: backbone={name!r}")
    spec = _BY_KEY.get(_key(name))
    if spec is not None:
        return spec
    close = difflib.get_close_matches(_key(name), list(_BY_KEY), n=4, cutoff=0.5)
    suggestion = f" Did you mean: {', '.join(_BY_KEY[c].name for c in close)}?" if close else ""
    raise ValueError(
        f"Unknown backbone {name!r}.{suggestion} `tfl backbones` (in Python: `tfl.list_backbones()`) "
        f"lists the {len(_REGISTRY)} known backbones. A backbone added with "
        "tfl.backbones.register_backbone is known to the process that registered it: register it "
        f"again before building or loading a model on it. Received: backbone={name!r}"
    )


def register_backbone(spec, *, replace=False):
    """Adds `spec` to the registry: every tfl entry point then accepts its name.

    For a backbone that `keras.applications` does not have: your own
    functional model, described as a `BackboneSpec` whose `constructor` takes
    Keras' application arguments (`include_top`, `weights`, `input_shape`)
    and whose `stages` name where each stage begins. Registration lasts for
    the Python process: a command line run, or a notebook kernel started
    later, registers it again before naming it.

    Args:
        spec: the `BackboneSpec`.
        replace: replace a registered backbone of the same name (names match
            ignoring case, `_` and `-`) instead of refusing.

    Returns:
        `spec`.

    Raises:
        TypeError: `spec` is not a `BackboneSpec`.
        ValueError: the name is taken and `replace` is False.

    Examples:

    >>> import keras
    >>> def two_stage_net(include_top=False, weights=None, input_shape=None):
    ...     if weights is not None:
    ...         raise ValueError(f"two_stage_net has no pretrained weights. Received: weights={weights!r}")
    ...     images = keras.Input(input_shape)
    ...     x = keras.layers.Conv2D(8, 3, strides=2, name="stem_conv")(images)
    ...     x = keras.layers.Conv2D(16, 3, strides=2, name="top_conv")(x)
    ...     return keras.Model(images, x, name="two_stage_net")
    >>> spec = register_backbone(BackboneSpec(
    ...     name="two_stage_net", constructor=two_stage_net, module="", preprocessing="tf",
    ...     default_size=32, min_size=16, feature_dim=16, stages=("stem", ("top", starts_at("^top_conv$"))),
    ...     family="mine"))
    >>> get_backbone_spec("two-stage-net").stage_names
    ('stem', 'top')
    >>> register_backbone(spec)
    Traceback (most recent call last):
    ...
    ValueError: A backbone named 'two_stage_net' is registered already...
    """
    if not isinstance(spec, BackboneSpec):
        raise TypeError(
            f"register_backbone takes a tfl.backbones.BackboneSpec. Received: {type(spec).__name__} {spec!r}"
        )
    key = _key(spec.name)
    if key in _BY_KEY and not replace:
        raise ValueError(
            f"A backbone named {_BY_KEY[key].name!r} is registered already (built by "
            f"{_BY_KEY[key].keras_name}). Choose another name, or pass replace=True to replace it. "
            f"Received: name={spec.name!r}"
        )
    if key in _BY_KEY:
        del _REGISTRY[_BY_KEY[key].name]
    _REGISTRY[spec.name] = spec
    _BY_KEY[key] = spec
    return spec


def backbone_names():
    """All registered backbone names, in registry order.

    Examples:

    >>> backbone_names()[:3]
    ['vgg16', 'vgg19', 'resnet50']
    """
    return list(_REGISTRY)


def list_backbones():
    """One row per backbone: name, Keras class, family, sizes and stages.

    Examples:

    >>> rows = list_backbones()
    >>> rows[0]["name"], rows[0]["stages"]
    ('vgg16', ['block1', 'block2', 'block3', 'block4', 'block5'])
    """
    return [
        {
            "name": spec.name,
            "keras_class": spec.keras_name,
            "keras_arguments": dict(spec.kwargs),
            "family": spec.family,
            "preprocessing": spec.preprocessing,
            "default_size": spec.default_size,
            "min_size": spec.min_size,
            "imagenet_sizes": list(spec.imagenet_sizes or (spec.default_size,)),
            "feature_dim": spec.feature_dim,
            "stages": list(spec.stage_names),
        }
        for spec in _REGISTRY.values()
    ]
