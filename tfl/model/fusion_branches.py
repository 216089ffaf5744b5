"""The branches of a `FusionClassifier`: made by `image_branch`, `cnn_branch` and `text_branch`, checked here."""

import re

from tfl.backbones import get_backbone_spec
from tfl.data.image.pipeline import normalize_image_size

BRANCH_KINDS = ("image", "cnn", "text")
IMAGE_POOLINGS = ("avg", "max")
TEXT_POOLINGS = ("cls", "mean")
_BRANCH_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_KEYS = {
    "image": {"name", "kind", "backbone", "backbone_name", "image_size", "pooling", "frozen"},
    "cnn": {"name", "kind", "backbone", "image_size", "pooling", "frozen"},
    "text": {"name", "kind", "backbone", "encoder_name", "preprocessor", "pooling", "frozen"},
}


def image_branch(name, backbone, backbone_name, image_size, *, pooling="avg", frozen=False):
    """A branch around a registered `keras.applications` backbone, for `FusionClassifier`.

    It reads the model's `images` input (RGB in [0, 255], any size), resizes
    to `image_size` (cropped to its aspect ratio first, or stretched: the
    model's `resize`), applies the backbone's own preprocessing
    (`BackbonePreprocessing` of its registry entry) and pools its feature map.

    Args:
        name: the branch name, the prefix of its stage names ("source" gives
            "source/conv5"); lowercase letters, digits and `_`.
        backbone: the headless backbone (see `tfl.backbones.build_backbone`).
        backbone_name: its registry name; gives its preprocessing and stages.
        image_size: (height, width) the images are resized to, or an int.
        pooling: "avg" or "max".
        frozen: never train this branch: its stages are left out of
            `stage_layers()`, so every stage keeps it frozen.

    Examples:

    >>> backbone = tfl.backbones.build_backbone("resnet50", weights=None, image_size=32)
    >>> image_branch("source", backbone, "resnet50", 32, frozen=True)["kind"]
    'image'
    """
    return {
        "name": name,
        "kind": "image",
        "backbone": backbone,
        "backbone_name": backbone_name,
        "image_size": image_size,
        "pooling": pooling,
        "frozen": frozen,
    }


def cnn_branch(name, backbone, image_size, *, pooling="avg", frozen=False):
    """A branch around a `tfl.model.small_cnn` trained from scratch, for `FusionClassifier`.

    Like `image_branch`, with pixels scaled to [-1, 1] and the CNN's blocks as
    stages ("target/block1", ...).

    Args:
        name: the branch name, the prefix of its stage names.
        backbone: a model from `small_cnn`.
        image_size: (height, width) the images are resized to (the CNN's
            input size), or an int.
        pooling: "avg" or "max".
        frozen: never train this branch.

    Examples:

    >>> cnn_branch("target", small_cnn((32, 32)), 32)["kind"]
    'cnn'
    """
    return {
        "name": name,
        "kind": "cnn",
        "backbone": backbone,
        "image_size": image_size,
        "pooling": pooling,
        "frozen": frozen,
    }


def text_branch(name, encoder, encoder_name, *, preprocessor=None, pooling="mean", frozen=False):
    """A branch around a KerasHub BERT-family encoder, for `FusionClassifier`.

    It reads the inputs `token_ids`, `segment_ids` (when the encoder takes
    them) and `padding_mask`, and pools the token outputs.

    Args:
        name: the branch name, the prefix of its stage names ("text/layer_1").
        encoder: a KerasHub backbone (see `tfl.backbones.build_encoder`).
        encoder_name: what it was loaded from, for reports.
        preprocessor: its `TextClassifierPreprocessor`, carried by the model
            (`model.text_preprocessor`) to tokenize raw text; or None.
        pooling: "mean" (masked mean of the token outputs) or "cls" (the
            pooled [CLS] output, or the first token without a pooler).
        frozen: never train this branch.

    Examples:

    >>> encoder, preprocessor = tfl.backbones.build_encoder("all_minilm_l6_v2", 64)
    >>> text_branch("text", encoder, "all_minilm_l6_v2", preprocessor=preprocessor)["kind"]
    'text'
    """
    return {
        "name": name,
        "kind": "text",
        "backbone": encoder,
        "encoder_name": encoder_name,
        "preprocessor": preprocessor,
        "pooling": pooling,
        "frozen": frozen,
    }


def check_branches(branches):
    if isinstance(branches, dict) or not isinstance(branches, (list, tuple)):
        raise ValueError(
            "branches must be a list of branch dicts (from image_branch, cnn_branch or text_branch). "
            f"Received: branches={branches!r}"
        )
    if len(branches) < 2:
        raise ValueError(
            f"A FusionClassifier fuses at least 2 branches. Received: {len(branches)} "
            f"({', '.join(str(b.get('name')) for b in branches) or 'none'}). "
            "Use ImageClassifier or TextClassifier for a single backbone."
        )
    checked = [_check_branch(b) for b in branches]
    names = [b["name"] for b in checked]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"Branch names must be unique; repeated: {', '.join(repeated)}. Received names: {names}")
    models = [b["backbone"].name for b in checked]
    if len(set(models)) != len(models):
        raise ValueError(
            f"The branches' backbones need distinct model names; received: {models}. Rename one, e.g. "
            "backbone.name = 'target_resnet50' (build_fusion_model names them '<branch>_<model>')."
        )
    return checked


def _check_branch(b):
    """One branch dict, checked, with its defaults filled in."""
    b = dict(b)
    kind = b.get("kind")
    if kind not in BRANCH_KINDS:
        raise ValueError(f"Unknown branch kind {kind!r}. Known: {', '.join(BRANCH_KINDS)}. Received: {b!r}")
    unknown = sorted(set(b) - _KEYS[kind])
    if unknown:
        raise ValueError(
            f"Unknown key {unknown[0]!r} in {kind} branch {b.get('name')!r}. "
            f"Known: {', '.join(sorted(_KEYS[kind]))}."
        )
    name = b.get("name")
    if not isinstance(name, str) or not _BRANCH_NAME.match(name):
        raise ValueError(
            "A branch name is lowercase letters, digits and '_', starting with a letter "
            f"(it prefixes stage names: 'source/conv5'). Received: name={name!r}"
        )
    b["frozen"] = bool(b.get("frozen", False))
    if kind == "text":
        b["pooling"] = b.get("pooling", "mean")
        if b["pooling"] not in TEXT_POOLINGS:
            raise ValueError(
                f"Unknown text pooling {b['pooling']!r} in branch {name!r}. Known: {', '.join(TEXT_POOLINGS)}."
            )
        b["encoder_name"] = str(b.get("encoder_name"))
        b.setdefault("preprocessor", None)
    else:
        b["pooling"] = b.get("pooling", "avg")
        if b["pooling"] not in IMAGE_POOLINGS:
            raise ValueError(
                f"Unknown pooling {b['pooling']!r} in branch {name!r}. Known: {', '.join(IMAGE_POOLINGS)}."
            )
        b["image_size"] = list(normalize_image_size(b.get("image_size")))
        if kind == "image":
            b["backbone_name"] = get_backbone_spec(b.get("backbone_name")).name
    return b
