"""`ReversalRamp`: raises the gradient reversal strength from 0 during `fit` (Ganin et al. 2016)."""

import math

import keras

from tfl.adapt.gradient_reversal import GradientReversal


class ReversalRamp(keras.callbacks.Callback):
    """Sets every `GradientReversal` layer's strength before each batch.

    The schedule of Ganin et al. 2016 ("Domain-Adversarial Training of Neural
    Networks"): `strength = max_strength * (2 / (1 + exp(-gamma * p)) - 1)`,
    with `p` the training progress from 0 (first batch) to 1 (end of the
    last epoch). Early on the domain classifier is still noise, so its
    reversed gradient is kept small. The strength is a variable of the layer,
    so changing it needs no recompiling. When the number of steps per epoch
    is unknown, `p` moves once per epoch. The strength reached is logged per
    epoch as `reversal_strength`.

    Args:
        max_strength: the strength the ramp tends to (reached at p = 1 up to
            `2 / (1 + exp(-gamma)) - 1`, 0.9999 for gamma = 10).
        gamma: how fast the ramp rises.

    Examples:

    >>> ramp = ReversalRamp()
    >>> [round(ramp.schedule(progress), 3) for progress in (0.0, 0.1, 0.5, 1.0)]
    [0.0, 0.462, 0.987, 1.0]

    Pass it to the `fit` of a `DomainAdaptation(..., method="dann")`:
    `adapted.fit(paired, epochs=10, callbacks=[ReversalRamp()])`.
    """

    def __init__(self, max_strength=1.0, gamma=10.0):
        super().__init__()
        if not float(max_strength) >= 0:
            raise ValueError(f"max_strength must be >= 0. Received: max_strength={max_strength!r}")
        self.max_strength = float(max_strength)
        self.gamma = float(gamma)
        self._layers = []
        self._epoch = 0
        self.strength = 0.0

    def schedule(self, progress):
        """The strength at training progress `progress` in [0, 1]."""
        progress = min(max(float(progress), 0.0), 1.0)
        return self.max_strength * (2.0 / (1.0 + math.exp(-self.gamma * progress)) - 1.0)

    def on_train_begin(self, logs=None):
        self._layers = _reversal_layers(self.model)
        if not self._layers:
            raise ValueError(
                f"ReversalRamp found no GradientReversal layer in {self.model.name!r}. "
                "Use it with DomainAdaptation(..., method='dann')."
            )

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        epochs = max(1, self.params.get("epochs") or 1)
        steps = self.params.get("steps")
        if steps:
            progress = (self._epoch * steps + batch) / (epochs * steps)
        else:
            progress = self._epoch / epochs
        self.strength = self.schedule(progress)
        for layer in self._layers:
            layer.strength.assign(self.strength)

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["reversal_strength"] = self.strength


def _reversal_layers(model):
    found, stack, seen = [], [model], set()
    while stack:
        layer = stack.pop()
        if id(layer) in seen:
            continue
        seen.add(id(layer))
        if isinstance(layer, GradientReversal):
            found.append(layer)
        stack.extend(getattr(layer, "layers", []))
    return found
