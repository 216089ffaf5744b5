"""One decorator that marks a symbol public and makes Keras objects serializable.

Every custom layer, model and optimizer of tfl is registered under the package
name ``tfl``, so a ``.keras`` file written by tfl loads with
``keras.saving.load_model(path)`` once ``tfl`` is imported, with no
``custom_objects`` argument.
"""

import keras

_SERIALIZABLE_BASES = (
    keras.layers.Layer,
    keras.optimizers.Optimizer,
    keras.losses.Loss,
    keras.optimizers.schedules.LearningRateSchedule,
)


def tfl_export(symbol):
    """Marks `symbol` as part of tfl's public API.

    Keras layers, models, optimizers and schedules are also registered with
    `keras.saving.register_keras_serializable(package="tfl")`.

    Examples:

    >>> @tfl_export
    ... class Scale(keras.layers.Layer):
    ...     pass
    >>> keras.saving.get_registered_name(Scale)
    'tfl>Scale'
    """
    if isinstance(symbol, type) and issubclass(symbol, _SERIALIZABLE_BASES):
        keras.saving.register_keras_serializable(package="tfl")(symbol)
    symbol.__tfl_public__ = True
    return symbol
