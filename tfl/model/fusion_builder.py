"""`build_fusion_model`: branch descriptions (plain data) and class names -> a `FusionClassifier`."""

import keras

from tfl.backbones import build_backbone
from tfl.backbones import get_backbone_spec
from tfl.backbones import resolve_image_size
from tfl.backbones.encoders import build_encoder
from tfl.config.data_config import check_resize
from tfl.model.batchnorm import freeze_batchnorm
from tfl.model.dtype_policy import dtype_policy
from tfl.model.fusion_branches import cnn_branch
from tfl.model.fusion_branches import image_branch
from tfl.model.fusion_branches import text_branch
from tfl.model.fusion_classifier import FusionClassifier
from tfl.model.small_cnn import SMALL_CNN
from tfl.model.small_cnn import small_cnn

_KEYS = {
    "image": {"name", "backbone", "weights", "image_size", "pooling", "frozen"},
    "cnn": {"name", "backbone", "image_size", "filters", "pooling", "frozen"},
    "text": {"name", "encoder", "sequence_length", "pooling", "frozen"},
}


def build_fusion_model(
    branches,
    class_names,
    *,
    fusion="concat",
    dropout=0.2,
    multi_label=False,
    resize="crop",
    mixed_precision=None,
    name="fusion_classifier",
):
    """Builds a `FusionClassifier` from branch descriptions.

    Each branch is a dict of plain data; its kind follows from its keys:

    - a registered image backbone: `{"name": "source", "backbone": "resnet50",
      "weights": "imagenet", "image_size": 224, "pooling": "avg", "frozen": True}`
      (`weights`: "imagenet", None or a weights file; `image_size`: None for
      the backbone's default);
    - a small CNN trained from scratch: `{"name": "target", "backbone":
      "small_cnn", "image_size": 32, "filters": [16, 32]}`;
    - a text encoder: `{"name": "text", "encoder": "all_minilm_l6_v2",
      "sequence_length": 128, "pooling": "mean"}`.

    As in `build_model`, every BatchNormalization layer of the image
    backbones is frozen (inference mode, statistics kept), and each backbone
    is renamed `<branch>_<model name>` and built inside
    `keras.name_scope(<branch>)` (variable paths `<branch>/...`) so that two
    branches may use the same backbone. `frozen` (default False) keeps a branch out of every stage.

    Args:
        branches: a list of 2 or more branch dicts, with unique names.
        class_names: the class names, in output order.
        fusion: a `Fusion` mode or a dict of `Fusion` arguments.
        dropout: dropout rate before the output layer.
        multi_label: sigmoid outputs instead of a softmax.
        resize: "crop" (centre-crop to each image branch's aspect ratio, then
            resize) or "stretch" (resize the whole image).
        mixed_precision: None, "mixed_float16" or "mixed_bfloat16" (the
            output layer stays float32).
        name: the model's name.

    Returns:
        A `FusionClassifier`.

    Examples:

    >>> model = build_fusion_model(
    ...     [{"name": "source", "backbone": "resnet50", "weights": None, "image_size": 32, "frozen": True},
    ...      {"name": "target", "backbone": "small_cnn", "image_size": 32}],
    ...     ["cat", "dog"], fusion={"mode": "gated"})
    >>> list(model.stage_layers())
    ['target/block1', 'target/block2']
    """
    if isinstance(branches, dict) or not isinstance(branches, (list, tuple)):
        raise ValueError(f"branches must be a list of branch dicts. Received: branches={branches!r}")
    check_resize(resize)
    with dtype_policy(mixed_precision):
        built = [_build_branch(dict(b)) for b in branches]
        return FusionClassifier(
            built, class_names, fusion=fusion, dropout=dropout, multi_label=multi_label, resize=resize, name=name
        )


def _kind(branch):
    if "encoder" in branch:
        return "text"
    if branch.get("backbone") == SMALL_CNN:
        return "cnn"
    if "backbone" in branch:
        return "image"
    raise ValueError(
        f"A branch needs a 'backbone' (a registered name or {SMALL_CNN!r}) or an 'encoder'. Received: {branch!r}"
    )


def _build_branch(branch):
    kind = _kind(branch)
    unknown = sorted(set(branch) - _KEYS[kind])
    if unknown:
        raise ValueError(
            f"Unknown key {unknown[0]!r} in {kind} branch {branch.get('name')!r}. Known: {', '.join(sorted(_KEYS[kind]))}."
        )
    name = branch.get("name")
    options = {"frozen": branch.get("frozen", False)}
    if "pooling" in branch:
        options["pooling"] = branch["pooling"]
    # Variable paths "<branch>/...": two branches of one architecture keep apart (learning rates are keyed by path).
    with keras.name_scope(str(name)):
        return _built(kind, name, branch, options)


def _built(kind, name, branch, options):
    if kind == "text":
        encoder, preprocessor = build_encoder(branch["encoder"], branch.get("sequence_length", 128))
        encoder.name = f"{name}_{encoder.name}"
        return text_branch(name, encoder, branch["encoder"], preprocessor=preprocessor, **options)
    if kind == "cnn":
        size = branch.get("image_size", 32)
        cnn = small_cnn(size, branch.get("filters", (16, 32)), name=f"{name}_{SMALL_CNN}")
        return cnn_branch(name, cnn, size, **options)
    spec = get_backbone_spec(branch["backbone"])
    size = resolve_image_size(spec, branch.get("image_size"))
    backbone = build_backbone(spec.name, weights=branch.get("weights", "imagenet"), image_size=size)
    freeze_batchnorm(backbone)
    backbone.name = f"{name}_{backbone.name}"
    return image_branch(name, backbone, spec.name, size, **options)
