"""The backbone registry: look up a `BackboneSpec` by name, list them all."""

import difflib

from tfl.backbones.keras_applications import SPECS

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
        f"lists the {len(_REGISTRY)} known backbones. Received: backbone={name!r}"
    )


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
        for spec in SPECS
    ]
