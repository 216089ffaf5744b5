"""The stage loop: set `trainable`, compile, fit, continue the epoch count.

A loop rather than a callback: in Keras 3 a `trainable` change after
`compile()` is ignored until the next `compile()`, so unfreezing inside a
callback during `fit` silently does nothing.
"""

import time

import keras

from tfl.config.stage import Stage
from tfl.train.batchnorm import batchnorm_momentum_for
from tfl.train.batchnorm import recalibrate_batchnorm
from tfl.train.batchnorm import steps_per_epoch
from tfl.train.discriminative import ScaledUpdates
from tfl.train.freezing import apply_stage
from tfl.train.history import StageRecord
from tfl.train.history import TrainingHistory

_OPTIMIZERS = {
    "adam": keras.optimizers.Adam,
    "adamw": keras.optimizers.AdamW,
    "sgd": lambda learning_rate: keras.optimizers.SGD(learning_rate, momentum=0.9),
    "rmsprop": keras.optimizers.RMSprop,
}


def default_stages(weights="imagenet", epochs=5, task="image"):
    """The default plan for a task and a backbone with `weights`.

    Images with pretrained weights: the head on the frozen backbone at 1e-3,
    then the top 2 backbone stages at 1e-4, `epochs` each (BatchNorm frozen
    throughout). Images with `weights=None`: a head on random features learns
    little, so one stage trains the whole network at 1e-3, BatchNorm
    included, with its statistics recomputed at the end.
    Text (`weights` is ignored: encoders come pretrained): the head on the
    frozen encoder at 1e-3, then the whole encoder at 5e-5 with AdamW, the
    usual rate for fine-tuning BERT (Devlin et al. 2019 searched 2e-5 to 5e-5).
    """
    if task == "text":
        return (
            Stage(unfreeze="none", epochs=epochs, learning_rate=1e-3),
            Stage(unfreeze="all", epochs=epochs, learning_rate=5e-5, optimizer="adamw"),
        )
    if weights is None:
        return (Stage(unfreeze="all", epochs=epochs, learning_rate=1e-3, train_batchnorm=True),)
    return (
        Stage(unfreeze="none", epochs=epochs, learning_rate=1e-3),
        Stage(unfreeze="top 2", epochs=epochs, learning_rate=1e-4),
    )


def make_optimizer(stage, steps, lr_multipliers=None):
    """The stage's optimizer, its schedule, and discriminative rates if any."""
    learning_rate = stage.learning_rate
    if stage.schedule == "cosine":
        learning_rate = keras.optimizers.schedules.CosineDecay(
            learning_rate, decay_steps=max(1, stage.epochs * steps)
        )
    optimizer = _OPTIMIZERS[stage.optimizer](learning_rate=learning_rate)
    if lr_multipliers:
        optimizer = ScaledUpdates(optimizer, lr_multipliers)
    return optimizer


def compile_for(model, optimizer):
    """Compiles `model` with the loss and metrics of its kind of head."""
    if model.multi_label:
        loss = keras.losses.BinaryCrossentropy()
        metrics = [keras.metrics.BinaryAccuracy(name="accuracy")]
    else:
        loss = keras.losses.SparseCategoricalCrossentropy()
        metrics = [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
    model.compile(optimizer=optimizer, loss=loss, metrics=metrics)


def fit_stages(model, data, stages, *, callbacks=None, verbose="auto"):
    """Trains `model` on `data` through `stages`, in order.

    Each stage sets the `trainable` flags (see `apply_stage`), compiles the
    model with a fresh optimizer at the stage's learning rate, and fits from
    where the previous stage stopped. After a stage that trained BatchNorm
    layers, their statistics are recomputed over the training data.

    Args:
        model: a tfl classifier, e.g. from `tfl.model.build_model`.
        data: a `tfl.data.ImageData` or `tfl.data.TextData` (it has `train`,
            `validation`, `num_train`).
        stages: a sequence of `tfl.config.Stage`.
        callbacks: Keras callbacks passed to every `fit`.
        verbose: passed to `fit`; 0 also silences the stage headers.

    Returns:
        A `TrainingHistory` with every epoch of every stage.

    Examples:

    >>> stages = [Stage("none", epochs=5, learning_rate=1e-3),
    ...           Stage("top 2", epochs=3, learning_rate=1e-4)]
    >>> history = fit_stages(model, data, stages)
    >>> history.boundaries
    [0, 5]
    """
    stages = tuple(stages)
    if not stages:
        raise ValueError("fit_stages() needs at least one stage.")
    steps = steps_per_epoch(data.train, data.num_train)
    history = TrainingHistory()
    epoch = 0
    for index, stage in enumerate(stages):
        plan = apply_stage(model, stage)
        if verbose:
            _print_header(index, len(stages), stage, plan)
        momenta = [(layer, layer.momentum) for layer in plan.batchnorm_layers]
        for layer, momentum in momenta:
            layer.momentum = batchnorm_momentum_for(steps, momentum)
        compile_for(model, make_optimizer(stage, steps, plan.lr_multipliers))
        start = time.perf_counter()
        try:
            fitted = model.fit(
                data.train,
                validation_data=data.validation,
                initial_epoch=epoch,
                epochs=epoch + stage.epochs,
                callbacks=list(callbacks or []),
                shuffle=False,  # the tf.data pipeline shuffles, with its seed
                verbose=verbose,
            )
        finally:
            for layer, momentum in momenta:
                layer.momentum = momentum
        after = None
        if plan.batchnorm_layers:
            recalibrate_batchnorm(model, data.train, plan.batchnorm_layers)
            if data.validation is not None:
                after = model.evaluate(data.validation, verbose=0, return_dict=True)
                if verbose:
                    print(f"  BatchNorm statistics recomputed; validation: {_format(after)}")
        history.stages.append(
            StageRecord(
                index=index,
                unfreeze=stage.unfreeze,
                trainable_stages=list(plan.trainable_stages),
                first_epoch=epoch,
                epochs=stage.epochs,
                learning_rate=stage.learning_rate,
                lr_decay=stage.lr_decay,
                train_batchnorm=stage.train_batchnorm,
                trainable_params=plan.trainable_params,
                seconds=time.perf_counter() - start,
                history={k: [float(v) for v in vs] for k, vs in fitted.history.items()},
                after_recalibration=after,
            )
        )
        epoch += stage.epochs
    return history


def _print_header(index, count, stage, plan):
    trains = ", ".join(plan.trainable_stages) if plan.trainable_stages else "head only"
    extra = f", lr_decay {stage.lr_decay}" if stage.lr_decay else ""
    batchnorm = "training" if plan.batchnorm_layers else "frozen"
    print(
        f"Stage {index + 1}/{count}: unfreeze={stage.unfreeze!r} ({trains}); "
        f"{stage.epochs} epoch(s) at {stage.learning_rate:g} ({stage.optimizer}, {stage.schedule}{extra}); "
        f"BatchNorm {batchnorm}; {plan.trainable_params:,} trainable parameters"
    )


def _format(metrics):
    return ", ".join(f"{k} {v:.4f}" for k, v in metrics.items())


__all__ = ["compile_for", "default_stages", "fit_stages", "make_optimizer"]
