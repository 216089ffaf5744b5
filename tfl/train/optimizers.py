"""`make_optimizer`: a stage's optimizer, with its schedule, discriminative rates and weight decay."""

import keras

from tfl.train.discriminative import ScaledUpdates
from tfl.train.schedules import StageSchedule

_OPTIMIZERS = {
    "adam": keras.optimizers.Adam,
    "adamw": keras.optimizers.AdamW,
    "sgd": lambda **kwargs: keras.optimizers.SGD(momentum=0.9, **kwargs),
    "rmsprop": keras.optimizers.RMSprop,
}


def make_optimizer(stage, steps, lr_multipliers=None, weight_decay=None):
    """The stage's optimizer: its kind and rate, its schedule over
    `stage.epochs * steps` steps, and discriminative rates if any.

    Args:
        stage: a `tfl.config.Stage`.
        steps: optimizer steps per epoch.
        lr_multipliers: {variable path: multiplier} (`tfl.train.apply_stage`
            gives them), or None.
        weight_decay: decoupled weight decay (a classifier's
            `training_options.weight_decay`), or None for the optimizer's own
            default (0 except AdamW's 0.004).

    Examples:

    >>> type(make_optimizer(Stage("none", epochs=2, learning_rate=1e-3), steps=10)).__name__
    'Adam'
    """
    learning_rate = stage.learning_rate
    if stage.schedule != "constant":
        learning_rate = StageSchedule(stage.schedule, learning_rate, max(1, stage.epochs * steps))
    options = {"learning_rate": learning_rate}
    if weight_decay is not None:
        options["weight_decay"] = weight_decay
    optimizer = _OPTIMIZERS[stage.optimizer](**options)
    if lr_multipliers:
        optimizer = ScaledUpdates(optimizer, lr_multipliers)
    return optimizer
