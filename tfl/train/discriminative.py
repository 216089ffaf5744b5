"""Discriminative learning rates: lower rates for lower backbone stages, in `fit`.

Keras optimizers have one learning rate. `ScaledUpdates` wraps any of them
and multiplies each variable's update (new value - old value) by that
variable's multiplier. For SGD (with momentum), Adam, AdamW and RMSprop this
is the same as training the variable with `learning_rate * multiplier`
(their updates are linear in the rate), while scaling the gradient instead
would do nothing under Adam, which divides the scale away.
"""

import keras
from keras import ops

from tfl.serialization import keras_serializable


class WrappingOptimizer(keras.optimizers.Optimizer):
    """An optimizer that hands its work to `inner_optimizer`: its variables,
    learning rate and step count are the inner one's (with its own variables
    first). `ScaledUpdates` and `tfl.train.shared_trace.StagedUpdates` build on it."""

    @property
    def variables(self):
        return self._variables + self.inner_optimizer.variables

    @property
    def learning_rate(self):
        return self.inner_optimizer.learning_rate

    @learning_rate.setter
    def learning_rate(self, learning_rate):
        self.inner_optimizer.learning_rate = learning_rate

    @property
    def iterations(self):
        return self.inner_optimizer.iterations

    def finalize_variable_values(self, var_list):
        self.inner_optimizer.finalize_variable_values(var_list)


@keras_serializable
class ScaledUpdates(WrappingOptimizer):
    """An optimizer wrapper that scales each variable's update by a multiplier.

    Args:
        inner_optimizer: the `keras.optimizers.Optimizer` that computes updates.
        multipliers: {variable path: multiplier}. Variables not listed train at
            the inner optimizer's learning rate.
        name: the optimizer's name.

    Examples:

    >>> optimizer = ScaledUpdates(keras.optimizers.Adam(1e-3),
    ...                           {"resnet50/conv1_conv/kernel": 0.1})
    """

    def __init__(self, inner_optimizer, multipliers, name=None, **kwargs):
        if kwargs:
            raise ValueError(
                f"ScaledUpdates takes no optimizer arguments ({', '.join(kwargs)}); "
                "set them on the inner optimizer."
            )
        super().__init__(learning_rate=0.0, name=name)
        self.inner_optimizer = inner_optimizer
        self.multipliers = {str(k): float(v) for k, v in multipliers.items()}

    def build(self, var_list):
        self.inner_optimizer.build(var_list)
        super().build(var_list)

    def apply(self, grads, trainable_variables=None):
        if trainable_variables is None:
            return self.inner_optimizer.apply(grads)
        scaled = [
            (variable, self.multipliers[variable.path])
            for variable in trainable_variables
            if self.multipliers.get(variable.path, 1.0) != 1.0
        ]
        before = [ops.copy(variable.value) for variable, _ in scaled]
        self.inner_optimizer.apply(grads, trainable_variables)
        for (variable, multiplier), old in zip(scaled, before):
            variable.assign(old + multiplier * (variable.value - old))

    def get_config(self):
        return {
            "name": self.name,
            "inner_optimizer": keras.saving.serialize_keras_object(self.inner_optimizer),
            "multipliers": dict(self.multipliers),
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        inner = keras.saving.deserialize_keras_object(
            config.pop("inner_optimizer"), custom_objects=custom_objects
        )
        return cls(inner, **config)
