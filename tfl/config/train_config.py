"""The `train` section of a config: the plan of stages, distribution and domain adaptation."""

import dataclasses
import math

from tfl.config.stage import PROBE
from tfl.config.stage import Stage
from tfl.config.stage import normalize_unfreeze
from tfl.config.stage import parse_stage
from tfl.config.value_error import ConfigValueError

FEATURE_CACHE = ("auto", "off")
PLANS = ("default", "fine_tune")
ADAPTATION_METHODS = ("source_only", "joint", "mmd", "coral", "dann")
ALIGNING_METHODS = ("mmd", "coral", "dann")
UNSUPERVISED_SCORES = ("im", "snd")
STRATEGIES = ("mirrored", "multi_worker", "tpu")
SELF_TRAINING_METHODS = ("pseudo_label", "fixmatch")
PSEUDO_LABEL_BALANCES = ("proportional", "none")


@dataclasses.dataclass(frozen=True)
class SelfTrainingConfig:
    """Self-training on `data.unlabeled_source` (`tfl.train.self_training`).

    Round 0 runs the plan on the labelled data; each of `rounds` more rounds
    pseudo-labels the unlabelled examples with the model of the round before
    (top probability >= `threshold`; classes kept in the labelled
    proportions with `balance: proportional`) and runs the plan again, from
    the starting weights, on the labels and the current pseudo-labels.

    With `method: fixmatch` (images; `tfl.train.fixmatch`), the plan's
    stages run once instead, each step adding to the labelled loss
    `lambda_u` times the cross-entropy of strongly augmented unlabelled
    images against the pseudo-labels of their weak views (where those reach
    `threshold`), `mu` unlabelled images per labelled one. Every stage must
    run the backbone: no linear probe, `feature_cache: off`.

    Args:
        method: None (off), "pseudo_label" (rounds) or "fixmatch".
        rounds: pseudo-label rounds after the labelled-only one, >= 1
            (pseudo_label).
        threshold: the least top probability for a pseudo-label, in (0, 1].
        balance: "proportional" (each class at most its labelled share of
            what the rarest class allows) or "none" (every candidate)
            (pseudo_label).
        lambda_u: weight of the unlabelled loss, >= 0 (fixmatch).
        mu: unlabelled images per labelled one in a step, >= 1 (fixmatch).

    Examples:

    >>> SelfTrainingConfig(method="pseudo_label", threshold=0.8).rounds
    3
    """

    method: str | None = None
    rounds: int = 3
    threshold: float = 0.9
    balance: str = "proportional"
    lambda_u: float = 1.0
    mu: int = 7

    def __post_init__(self):
        if self.method is not None and self.method not in SELF_TRAINING_METHODS:
            raise ValueError(
                f"Unknown self-training method {self.method!r}. Known: {', '.join(SELF_TRAINING_METHODS)} "
                "(or null for none)."
            )
        if not self.rounds >= 1:
            raise ConfigValueError(
                "rounds", self.rounds, "counts the pseudo-label rounds after the labelled-only one, >= 1."
            )
        if not 0 < self.threshold <= 1:
            raise ConfigValueError(
                "threshold", self.threshold, "is the least top probability for a pseudo-label, in (0, 1], e.g. 0.9."
            )
        if not 0 <= self.lambda_u < math.inf:
            raise ConfigValueError("lambda_u", self.lambda_u, "is a finite weight >= 0.")
        if not self.mu >= 1:
            raise ConfigValueError("mu", self.mu, "is a count of unlabelled images per labelled one, >= 1.")
        if self.balance not in PSEUDO_LABEL_BALANCES:
            raise ValueError(
                f"Unknown self_training.balance {self.balance!r}. Known: {', '.join(PSEUDO_LABEL_BALANCES)}."
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
        unfreeze: what trains besides the head, as in a stage: "all",
            "none" (alias "head"), "top N" (or the number N) or backbone
            stage names joined by "+"; kept in a stage's canonical form
            ("top 2"). Not "probe": adaptation trains with gradients, so a
            linear probe goes in `train.stages`.
        labels_per_class: target labels used per class (seeded choice; the
            others are withheld); None uses every label of the training
            pool, 0 none.
        restore_best: None, "im" or "snd": keep the epoch with the best
            unsupervised score on the target pool (no target labels needed).

    Examples:

    >>> AdaptationConfig(method="mmd", align_weight=0.5).align_weight
    0.5
    >>> AdaptationConfig().method is None
    True
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
        object.__setattr__(self, "unfreeze", _adaptation_unfreeze(self.unfreeze))
        if self.method is not None and self.method not in ADAPTATION_METHODS:
            raise ValueError(
                f"Unknown adaptation method {self.method!r}. Known: {', '.join(ADAPTATION_METHODS)} "
                "(or null for no adaptation)."
            )
        for name in ("alpha", "beta"):
            value = getattr(self, name)
            if not 0 <= value <= 1:
                raise ConfigValueError(name, value, "is a mixing weight in [0, 1].")
        if not 0 <= self.align_weight < math.inf:
            raise ConfigValueError("align_weight", self.align_weight, "is a weight >= 0.")
        if not self.epochs >= 1:
            raise ConfigValueError("epochs", self.epochs, "(of adaptation) must be >= 1.")
        if not 0 < self.learning_rate < math.inf:
            raise ConfigValueError("learning_rate", self.learning_rate, "must be a finite number > 0.")
        if self.labels_per_class is not None and not self.labels_per_class >= 0:
            raise ConfigValueError(
                "labels_per_class", self.labels_per_class, "is a count >= 0, or null for every label."
            )
        if self.restore_best is not None and self.restore_best not in UNSUPERVISED_SCORES:
            raise ValueError(
                f"Unknown restore_best {self.restore_best!r}. Known: {', '.join(UNSUPERVISED_SCORES)} (or null)."
            )
        aligns = self.method in ALIGNING_METHODS and self.align_weight > 0
        if self.method == "source_only" and self.alpha == 0:
            raise ValueError(
                "method 'source_only' learns from the source loss alone, and alpha=0 weighs it 0: nothing "
                "would train. Set alpha > 0 (train.adaptation.alpha, --adapt-alpha), or choose another method. "
                f"Received: method='source_only', alpha={self.alpha!r}"
            )
        if self.labels_per_class == 0 and self.method not in (None, "source_only") and not aligns:
            raise ValueError(
                f"labels_per_class=0 withholds every target label, and method {self.method!r} with "
                f"align_weight={self.align_weight} has no alignment term: nothing would learn on the target. "
                "Keep some target labels (train.adaptation.labels_per_class, --target-labels-per-class), or use "
                "an alignment method (mmd, coral, dann; --adapt) with align_weight > 0."
            )
        if self.method not in (None, "source_only") and self.beta == 0 and not aligns:
            raise ValueError(
                f"beta=0 with method={self.method!r} and align_weight={self.align_weight}: nothing would "
                "learn on the target. Set beta > 0 (with target labels), or use an alignment method "
                "(mmd, coral, dann) with align_weight > 0."
            )


_ADAPTATION_UNFREEZE = (
    "unfreeze is what trains besides the head while adapting: all, none (alias head), top N (or the number N) "
    "or backbone stage names joined by '+', e.g. 'top 2' or 'conv4+conv5'"
)


def _adaptation_unfreeze(value):
    """`AdaptationConfig.unfreeze` in a stage's canonical form (`normalize_unfreeze`), or a ValueError
    naming the key, the accepted values and the fix; "probe" too, which adaptation cannot run."""
    try:
        unfreeze = normalize_unfreeze(value)
    except ValueError as e:
        raise ValueError(f"{_ADAPTATION_UNFREEZE}. {e}") from None
    if unfreeze.lower() == PROBE:
        raise ValueError(
            f"{_ADAPTATION_UNFREEZE}; 'probe' is a linear-probe stage, and adaptation trains with gradients. "
            "Set train.adaptation.unfreeze to none to adapt the head alone (or all, top N), and put 'probe' "
            f"in train.stages to fit a probe before adapting. Received: unfreeze={value!r}"
        )
    return unfreeze


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """The training plan.

    Args:
        stages: the stages to run, in order: mappings of `Stage` fields, or
            plan strings such as "probe" or "top2:3:1e-4", read as `tfl train
            --stages` reads them (a stage without EPOCHS gets `epochs`, or
            `tfl train --epochs` where given; one without a rate 1e-3, or
            1e-4 if it trains part of the backbone). None uses the
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
        self_training: pseudo-label rounds with `data.unlabeled_source`
            (see `SelfTrainingConfig`).
        deterministic: make TensorFlow's ops deterministic
            (`tf.config.experimental.enable_op_determinism`), so that two runs
            with the same `data.seed` give the same weights and metrics also
            on GPUs, where several kernels otherwise add in a varying order.
            Slower on GPUs; on CPUs tfl's runs repeat without it. It stays on
            for the rest of the process.
        label_smoothing: targets move this far towards uniform, in [0, 1)
            (`Classifier.compile`); kept by every stage.
        class_weight: None, "balanced" (n / (classes * count), from the
            training labels) or {class name: weight} (finite weights >= 0;
            missing classes weigh 1); through the loss, kept by every stage.
        weight_decay: decoupled weight decay of every stage's optimizer (a
            finite number >= 0), or None for the optimizer's own (AdamW:
            0.004, others: none).
        early_stopping: the patience, in epochs, of every stage of the plan
            that sets none itself (linear probes aside): a stage stops once
            `val_loss` has not improved for that many epochs and ends on its
            best epoch's weights (`Stage.early_stopping`). None runs every
            epoch.
        mixup: MixUp's Beta alpha (e.g. 0.2) on the training batches of
            stages that train the whole model, with soft targets; 0 is off.
            Images, single-label. Stages on cached features (linear probes,
            head stages with `feature_cache: auto`) refuse it: set
            `feature_cache: off` and give stages without a probe.
        cutmix: CutMix's Beta alpha (e.g. 1.0), likewise; with both on, each
            batch uses one of the two.
        strategy: None (one device), "mirrored" (every local GPU, or every
            logical CPU device), "multi_worker" (the cluster in the
            `TF_CONFIG` environment variable) or "tpu" (a Cloud TPU): a
            `tf.distribute` strategy. `data.batch_size` stays the global
            batch, split across the replicas (docs/distributed.md).

    Examples:

    >>> [(s.unfreeze, s.epochs, s.learning_rate) for s in TrainConfig(stages=("probe", "top2"), epochs=3).stages]
    [('none', 1, 0.001), ('top 2', 3, 0.0001)]
    >>> TrainConfig().plan
    'default'
    """

    stages: tuple[Stage, ...] | None = None
    epochs: int = 5
    plan: str = "default"
    feature_cache: str = "auto"
    feature_cache_dir: str | None = None
    augmented_views: int = 1
    jit_compile: bool = False
    adaptation: AdaptationConfig = AdaptationConfig()
    self_training: SelfTrainingConfig = SelfTrainingConfig()
    strategy: str | None = None
    deterministic: bool = False
    label_smoothing: float = 0.0
    class_weight: str | dict[str, float] | None = None
    weight_decay: float | None = None
    early_stopping: int | None = None
    mixup: float = 0.0
    cutmix: float = 0.0

    def __post_init__(self):
        if self.stages is not None:
            object.__setattr__(self, "stages", tuple(self._parse_stage(i, stage) for i, stage in enumerate(self.stages)))
        if self.strategy is not None and self.strategy not in STRATEGIES:
            raise ValueError(
                f"Unknown strategy {self.strategy!r}. Known: {', '.join(STRATEGIES)} (or null for one device)."
            )
        if not self.epochs >= 1:
            raise ConfigValueError("epochs", self.epochs, "must be >= 1.")
        if self.plan not in PLANS:
            raise ValueError(
                f"Unknown plan {self.plan!r}. Known: {', '.join(PLANS)} (or give stages explicitly)."
            )
        if self.feature_cache not in FEATURE_CACHE:
            raise ValueError(f"Unknown feature_cache {self.feature_cache!r}. Known: {', '.join(FEATURE_CACHE)}.")
        if not self.augmented_views >= 1:
            raise ConfigValueError("augmented_views", self.augmented_views, "must be >= 1.")
        if not 0 <= self.label_smoothing < 1:
            raise ConfigValueError("label_smoothing", self.label_smoothing, "is in [0, 1).")
        if isinstance(self.class_weight, str) and self.class_weight != "balanced":
            raise ValueError(
                "class_weight is 'balanced', a mapping {class name: weight} or null. "
                f"Received: class_weight={self.class_weight!r}"
            )
        if isinstance(self.class_weight, dict):
            _check_class_weights(self.class_weight)
        if self.weight_decay is not None and not 0 <= self.weight_decay < math.inf:
            raise ConfigValueError("weight_decay", self.weight_decay, "must be a finite number >= 0, or null.")
        if self.early_stopping is not None and not self.early_stopping >= 1:
            raise ConfigValueError(
                "early_stopping", self.early_stopping, "is the patience in epochs (>= 1), or null to run every epoch."
            )
        for name in ("mixup", "cutmix"):
            if not 0 <= getattr(self, name) < math.inf:
                raise ConfigValueError(name, getattr(self, name), "is a finite Beta alpha >= 0 (0: off).")
        if self.stages is not None and not self.stages:
            raise ValueError("stages is empty. Give at least one stage, or null for the default plan.")
        if self.self_training.method is not None and (self.adaptation.method is not None or self.strategy):
            raise ValueError(
                "train.self_training runs without train.adaptation and without a distribution strategy. "
                f"Received: adaptation method {self.adaptation.method!r}, strategy {self.strategy!r}. Set them to null."
            )
        if self.strategy is not None and self.adaptation.method is not None:
            raise ValueError(
                f"train.adaptation (method {self.adaptation.method!r}) does not run under a distribution strategy "
                f"yet (strategy {self.strategy!r}). Set one of them to null."
            )

    def _parse_stage(self, index, stage):
        """A plan string read as `--stages` reads it (`parse_stage`: `epochs` where it gives none)."""
        if not isinstance(stage, str):
            return stage
        try:
            return parse_stage(stage, epochs=self.epochs)
        except ValueError as e:
            raise ValueError(f"stages[{index}]: {e}") from None


def _check_class_weights(weights):
    """A `{class name: weight}` mapping's weights: finite numbers >= 0."""
    for name, weight in weights.items():
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not 0 <= weight < math.inf:
            raise ConfigValueError(
                "class_weight",
                weights,
                f"maps class names to finite weights >= 0 (missing classes weigh 1); {name!r} weighs {weight!r}.",
            )
