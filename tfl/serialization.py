"""One decorator that registers tfl's Keras objects for `.keras` files.

Every custom layer, model, optimizer, schedule, loss and metric of tfl is registered
under the package name ``tfl``, so a ``.keras`` file written by tfl loads with
``keras.saving.load_model(path)`` once ``tfl`` is imported, with no
``custom_objects`` argument. What is public is listed by each subpackage's
``__all__``, not by this decorator.
"""

import keras

_SERIALIZABLE_BASES = (
    keras.layers.Layer,
    keras.optimizers.Optimizer,
    keras.losses.Loss,
    keras.metrics.Metric,
    keras.optimizers.schedules.LearningRateSchedule,
)
_BASE_NAMES = (
    "keras.layers.Layer, keras.optimizers.Optimizer, keras.losses.Loss, keras.metrics.Metric, "
    "keras.optimizers.schedules.LearningRateSchedule"
)


def keras_serializable(cls):
    """Registers a Keras class with `keras.saving.register_keras_serializable(package="tfl")`.

    Args:
        cls: a subclass of `keras.layers.Layer` (models included),
            `keras.optimizers.Optimizer`, `keras.losses.Loss`,
            `keras.metrics.Metric` or
            `keras.optimizers.schedules.LearningRateSchedule`.

    Returns:
        `cls`, registered as `"tfl>ClassName"`.

    Raises:
        TypeError: if `cls` is not one of those Keras classes.

    Examples:

    >>> @keras_serializable
    ... class Scale(keras.layers.Layer):
    ...     pass
    >>> keras.saving.get_registered_name(Scale)
    'tfl>Scale'
    """
    if not (isinstance(cls, type) and issubclass(cls, _SERIALIZABLE_BASES)):
        raise TypeError(f"keras_serializable registers subclasses of {_BASE_NAMES}. Received: {cls!r}")
    return keras.saving.register_keras_serializable(package="tfl")(cls)
