"""`Stage`: one step of a staged fine-tuning plan, as plain data."""

import dataclasses
import math
import re

OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop")
SCHEDULES = ("constant", "cosine", "warmup_cosine", "one_cycle")

PROBE = "probe"
HEAD_INITS = ("prototypes",)

_TOP_K = re.compile(r"^top\s*(\d+)$")


@dataclasses.dataclass(frozen=True)
class Stage:
    """One training stage: which backbone stages train, for how long, how fast.

    A plan is a list of stages run in order by `tfl.train.fit_stages`. Each stage
    sets the `trainable` flags of the backbone, compiles the model again (in
    Keras 3 a `trainable` change is ignored until the next `compile()`), and
    continues the epoch count of the previous stage.

    Args:
        unfreeze: which named backbone stages train. `"none"` (alias `"head"`)
            trains the head on a frozen backbone; `"all"` trains every stage;
            `"top N"` the last N stages; or stage names joined by `+`, e.g.
            `"conv4+conv5"`. Names are checked against the backbone when the
            stage runs. `"probe"` is a linear-probe stage, the same as
            `unfreeze="none", linear_probe=True`.
        epochs: number of epochs of this stage (at least 1).
        learning_rate: peak learning rate of this stage.
        optimizer: one of `"adam"`, `"adamw"`, `"sgd"`, `"rmsprop"`.
        schedule: how the rate moves over the stage (see
            `tfl.train.StageSchedule`): `"constant"`; `"cosine"` (decay to
            0); `"warmup_cosine"` (linear warmup over the first 10% of the
            steps, then cosine to 0); `"one_cycle"` (from `learning_rate / 25`
            up to `learning_rate` over the first 25%, then down to
            `learning_rate / 1e5`, fastai's `fit_one_cycle`). The schedule
            restarts with each stage and continues, not restarts, when a
            saved model resumes training.
        lr_decay: discriminative learning rates. If set (0 < lr_decay <= 1),
            the top unfrozen backbone stage trains at `learning_rate *
            lr_decay`, the one below at `learning_rate * lr_decay**2`, and so
            on; the head keeps `learning_rate`. `None` trains all at one rate.
        train_batchnorm: if True, BatchNorm layers of the unfrozen stages
            update their moving statistics and their scale and offset, and the
            statistics are recomputed over the training data after the stage.
            Keep False when fine-tuning pretrained weights; the default plan
            for `weights=None` sets it.
        recalibrate_batchnorm: recompute the moving statistics of the
            backbone's BatchNorm layers over the training data at the end of
            the stage. None (the default) does it after a stage that trained
            BatchNorm layers, for those layers; True does it for every
            BatchNorm layer of the backbone, also frozen ones (AdaBN, Li et
            al. 2016: statistics of the target data under pretrained
            weights); False never does.
        linear_probe: fit the head to convergence on the frozen backbone's
            cached features (multinomial logistic regression with L2, full-
            batch L-BFGS) instead of training it for `epochs` epochs: the
            "LP" of LP-FT (Kumar et al. 2022). Needs `unfreeze="none"`; it
            counts as one epoch, and `learning_rate` and `optimizer` are
            unused. Written `"probe"` in a plan string.
        early_stopping: None (the default) runs every epoch; N stops the
            stage once `val_loss` has not improved for N epochs, and in
            either case ends the stage with the weights of its epoch of
            lowest `val_loss` (each stage keeps its own best: nothing carries
            over from an earlier stage). The next stage starts after the
            epochs that ran. Needs validation data; not for a linear probe.
        head_init: None (the default) trains the head from where it is;
            "prototypes" first sets it from the class means of the training
            split's frozen features, so the stage starts from the prototype
            classifier instead of a random head: a dense head gets the
            kernel and bias of the euclidean prototype classifier (Snell et
            al. 2017, section 2.4), at the temperature that maximises its
            leave-one-out log-likelihood on the features, and a prototype
            head gets the class means. Single-label only; not on
            a linear probe, which fits the head itself.

    Examples:

    >>> Stage(unfreeze="top 2", epochs=3, learning_rate=1e-4)
    Stage(unfreeze='top 2', epochs=3, learning_rate=0.0001, ...)
    >>> Stage.parse("conv5:2:1e-5")
    Stage(unfreeze='conv5', epochs=2, learning_rate=1e-05, ...)
    >>> Stage.parse("probe")
    Stage(unfreeze='none', epochs=1, ..., linear_probe=True, early_stopping=None, head_init=None)
    """

    unfreeze: str = "none"
    epochs: int = 1
    learning_rate: float = 1e-3
    optimizer: str = "adam"
    schedule: str = "constant"
    lr_decay: float | None = None
    train_batchnorm: bool = False
    recalibrate_batchnorm: bool | None = None
    linear_probe: bool = False
    early_stopping: int | None = None
    head_init: str | None = None

    def __post_init__(self):
        if isinstance(self.unfreeze, str) and self.unfreeze.strip().lower() == PROBE:  # Stage("probe")
            object.__setattr__(self, "unfreeze", "none")
            object.__setattr__(self, "linear_probe", True)
        object.__setattr__(self, "unfreeze", normalize_unfreeze(self.unfreeze))
        if isinstance(self.epochs, bool) or not isinstance(self.epochs, int) or self.epochs < 1:
            raise ValueError(f"A stage needs a whole number of epochs >= 1. Received: epochs={self.epochs!r}")
        if not (isinstance(self.learning_rate, (int, float)) and 0 < self.learning_rate < math.inf):
            raise ValueError(
                f"A stage needs a finite learning rate > 0. Received: learning_rate={self.learning_rate!r}"
            )
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"Unknown optimizer {self.optimizer!r}. Known: {', '.join(OPTIMIZERS)}.")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"Unknown schedule {self.schedule!r}. Known: {', '.join(SCHEDULES)}.")
        if self.lr_decay is not None and not 0 < self.lr_decay <= 1:
            raise ValueError(
                "lr_decay multiplies the learning rate of each lower backbone stage and "
                f"must be in (0, 1]. Received: lr_decay={self.lr_decay!r}"
            )
        if self.recalibrate_batchnorm not in (None, True, False):
            raise ValueError(
                "recalibrate_batchnorm is None (after stages that train BatchNorm), True or False. "
                f"Received: recalibrate_batchnorm={self.recalibrate_batchnorm!r}"
            )
        if self.linear_probe and self.unfreeze != "none":
            raise ValueError(
                "A linear probe fits the head on a frozen backbone; it needs unfreeze='none'. "
                f"Received: unfreeze={self.unfreeze!r}, linear_probe=True. Use a separate stage "
                "to fine-tune after the probe, e.g. 'probe,top2:3:1e-4'."
            )
        if self.early_stopping is not None and (
            isinstance(self.early_stopping, bool) or not isinstance(self.early_stopping, int) or self.early_stopping < 1
        ):
            raise ValueError(
                "early_stopping is the patience in epochs (a whole number >= 1), or None to run every epoch. "
                f"Received: early_stopping={self.early_stopping!r}"
            )
        if self.linear_probe and self.early_stopping is not None:
            raise ValueError(
                "A linear probe runs to convergence in one step; early stopping has nothing to stop. "
                f"Received: linear_probe=True, early_stopping={self.early_stopping!r}. Set it on the "
                "stages that follow the probe."
            )
        if self.head_init is not None and self.head_init not in HEAD_INITS:
            raise ValueError(
                f"Unknown head_init {self.head_init!r}. Known: {', '.join(HEAD_INITS)} (or None to keep the head). "
                f"Received: head_init={self.head_init!r}"
            )
        if self.linear_probe and self.head_init is not None:
            raise ValueError(
                "A linear probe fits the head itself, so a head_init would be overwritten. Received: "
                f"linear_probe=True, head_init={self.head_init!r}. Set head_init on a stage that trains "
                "with gradients, e.g. Stage('all', 3, 5e-5, head_init='prototypes'), instead of the probe."
            )
        if self.linear_probe and self.epochs != 1:
            raise ValueError(
                "A linear probe runs to convergence and counts as one epoch; leave epochs at 1. "
                f"Received: epochs={self.epochs!r}"
            )

    @property
    def trains_backbone(self):
        return self.unfreeze != "none"

    @classmethod
    def parse(cls, text, *, epochs=None, learning_rate=None):
        """Parses `UNFREEZE[:EPOCHS[:LEARNING_RATE]]`, e.g. `"top2:3:1e-4"`,
        or `"probe"` for a linear-probe stage.

        Missing parts come from `epochs` and `learning_rate`, or the defaults.
        """
        if text.strip().lower() == PROBE:
            return cls(unfreeze="none", linear_probe=True)
        parts = [p.strip() for p in text.split(":")]
        if not 1 <= len(parts) <= 3 or not parts[0]:
            raise ValueError(
                f"Cannot read stage {text!r}. Write UNFREEZE[:EPOCHS[:LEARNING_RATE]], "
                "e.g. 'none:5:1e-3' or 'top2:3:1e-4'."
            )
        kwargs = {"unfreeze": parts[0]}
        try:
            if len(parts) > 1 and parts[1]:
                kwargs["epochs"] = int(parts[1])
            elif epochs is not None:
                kwargs["epochs"] = epochs
            if len(parts) > 2 and parts[2]:
                kwargs["learning_rate"] = float(parts[2])
            elif learning_rate is not None:
                kwargs["learning_rate"] = learning_rate
        except ValueError:
            raise ValueError(
                f"Cannot read stage {text!r}: EPOCHS must be an integer and LEARNING_RATE a number, e.g. 'top2:3:1e-4'."
            ) from None
        return cls(**kwargs)


def parse_stages(text, *, epochs=None):
    """Parses a comma-separated plan such as `"probe,top2:3:1e-4"` or `"none:5:1e-3,top2:3:1e-4"`.

    Stages without a learning rate get 1e-3 for a head stage and 1e-4 for a
    stage that trains part of the backbone.

    Examples:

    >>> probe, top2 = parse_stages("probe,top2:3:1e-4")
    >>> probe.unfreeze, probe.epochs, probe.learning_rate, probe.linear_probe
    ('none', 1, 0.001, True)
    >>> top2.unfreeze, top2.epochs, top2.learning_rate
    ('top 2', 3, 0.0001)
    """
    stages = [parse_stage(item, epochs=epochs) for item in text.split(",") if item.strip()]
    if not stages:
        raise ValueError(f"No stages in {text!r}. Example: 'none:5:1e-3,top2:3:1e-4'.")
    return tuple(stages)


def parse_stage(text, *, epochs=None):
    """Parses one stage of a plan string, `UNFREEZE[:EPOCHS[:LEARNING_RATE]]` or `"probe"`, as
    `parse_stages` reads each of its items (and a config's `train.stages` its strings).

    Without EPOCHS the stage gets `epochs` (or 1); without LEARNING_RATE, 1e-3
    for a head stage and 1e-4 for a stage that trains part of the backbone.

    Examples:

    >>> parse_stage("top2", epochs=4)
    Stage(unfreeze='top 2', epochs=4, learning_rate=0.0001, ...)
    """
    item = text.strip()
    stage = Stage.parse(item, epochs=epochs)
    if len(item.split(":")) < 3 and stage.trains_backbone and not stage.linear_probe:
        stage = dataclasses.replace(stage, learning_rate=1e-4)
    return stage


def normalize_unfreeze(value):
    """Returns the canonical text of an `unfreeze` value, or raises.

    Canonical forms: `"none"`, `"all"`, `"top N"`, or names joined by `+`.
    """
    if isinstance(value, (list, tuple)):
        if not value:
            return "none"
        if not all(isinstance(v, str) and v.strip() for v in value):
            raise ValueError(f"Stage names must be non-empty strings. Received: unfreeze={value!r}")
        return "+".join(v.strip() for v in value)
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ValueError(f"unfreeze must be 'none', 'all', 'top N', or stage names. Received: unfreeze={value!r}")
    text = str(value).strip().lower() if not isinstance(value, int) else f"top {value}"
    if text in ("none", "head", ""):
        return "none"
    if text == "all":
        return "all"
    match = _TOP_K.match(text)
    if match:
        k = int(match.group(1))
        if k < 1:
            raise ValueError(f"'top N' needs N >= 1. Received: unfreeze={value!r}")
        return f"top {k}"
    names = [n.strip() for n in str(value).split("+")]
    if not all(names):
        raise ValueError(f"Empty stage name in unfreeze={value!r}. Example: 'conv4+conv5'.")
    return "+".join(names)
