"""`TrainingHistory`: one history across all stages, with the stage boundaries."""

import dataclasses


@dataclasses.dataclass
class StageRecord:
    """What one stage did.

    Attributes:
        index: position of the stage in the plan.
        unfreeze: the stage's `unfreeze` value.
        trainable_stages: backbone stages that trained.
        first_epoch: the global index of its first epoch.
        epochs: number of epochs that ran (fewer than planned when the stage
            stopped early).
        learning_rate: its learning rate.
        lr_decay: its discriminative decay, or None.
        train_batchnorm: whether BatchNorm layers trained (and were recalibrated).
        trainable_params: trainable parameters in this stage.
        seconds: wall time of the stage, recalibration included.
        history: {metric: [value per epoch]} as Keras reports it.
        after_recalibration: validation metrics after BatchNorm statistics were
            recomputed at the end of the stage, or None.
        feature_cache: whether the stage trained on cached features, and why.
        feature_seconds: time spent computing (or reading) the cached
            features, or None when the stage did not use them.
        feature_origin: where those features came from: "computed", "disk"
            (every example read from `train.feature_cache_dir`), "disk and
            computed" (some were), "memory" (computed by an earlier stage of
            this run), or None.
        linear_probe: for a linear-probe stage: L-BFGS iterations, whether it
            converged, the final objective and the seconds; else None.
        report: the stage report printed before the stage
            (`tfl.train.StageReport.to_dict()`): per backbone stage and the
            head, trainable or frozen, parameters, BatchNorm mode, rate.
        batchnorm_check: after a stage that trained the backbone, accuracy
            on training batches in inference mode and with batch statistics
            (`tfl.train.batchnorm.batchnorm_check`), or None.
        early_stopping: for a stage with `early_stopping`: the patience,
            the planned epochs, the global epoch it stopped after (None when
            it ran them all), the global epoch whose weights it ended with
            (`best_epoch`) and its `best_val_loss`; else None.
        prototypes: for a stage that fitted a prototype head's class means
            (route "prototypes") or started its head from them
            (`head_init="prototypes"`): the head, metric, temperature,
            examples per class and seconds; else None.

    Examples:

    >>> history = fit_stages(model, data, [Stage("none", epochs=1)], verbose=0)
    >>> record = history.stages[0]
    >>> record.index, record.unfreeze, record.epochs, record.feature_cache
    (0, 'none', 1, 'on (frozen backbone, no augmentation)')
    """

    index: int
    unfreeze: str
    trainable_stages: list
    first_epoch: int
    epochs: int
    learning_rate: float
    lr_decay: float | None
    train_batchnorm: bool
    trainable_params: int
    seconds: float
    history: dict
    after_recalibration: dict | None = None
    feature_cache: str = "off"
    feature_seconds: float | None = None
    feature_origin: str | None = None
    linear_probe: dict | None = None
    report: dict | None = None
    batchnorm_check: dict | None = None
    early_stopping: dict | None = None
    prototypes: dict | None = None


@dataclasses.dataclass
class TrainingHistory:
    """The combined history of a staged run.

    Attributes:
        stages: a `StageRecord` per stage that ran.
        plan: the `Stage`s that were asked for, in order.
        transfer_check: for `fine_tune`, the `TransferCheck` (a dict) that
            chose the plan, or None.

    Examples:

    >>> stages = [Stage("none", epochs=2), Stage("none", epochs=1)]
    >>> history = tfl.fit_stages(model, data, stages, verbose=0)
    >>> len(history.history["val_accuracy"])   # every epoch, all stages
    3
    >>> history.boundaries                      # the epoch each stage starts at
    [0, 2]
    """

    stages: list = dataclasses.field(default_factory=list)
    plan: tuple = ()
    transfer_check: dict | None = None

    @property
    def history(self):
        """{metric: [value per epoch]} across all stages."""
        combined = {}
        for record in self.stages:
            for key, values in record.history.items():
                combined.setdefault(key, []).extend(values)
        return combined

    @property
    def epoch_stages(self):
        """The stage index of each epoch."""
        return [record.index for record in self.stages for _ in range(record.epochs)]

    @property
    def boundaries(self):
        """The global epoch index at which each stage starts."""
        return [record.first_epoch for record in self.stages]

    @property
    def seconds(self):
        return sum(record.seconds for record in self.stages)

    def to_dict(self):
        return {
            "stages": [dataclasses.asdict(record) for record in self.stages],
            "plan": [dataclasses.asdict(stage) for stage in self.plan],
            "boundaries": self.boundaries,
            "history": self.history,
            "seconds": self.seconds,
            "transfer_check": self.transfer_check,
        }
