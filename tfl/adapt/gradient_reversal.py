"""`GradientReversal`: identity forward, gradient times `-strength` backward (Ganin et al. 2016)."""

import keras
from keras import ops

from tfl.serialization import keras_serializable


@keras_serializable
class GradientReversal(keras.layers.Layer):
    """Passes its input through unchanged and multiplies the gradient by `-strength`.

    Placed between the features and a domain classifier (DANN, Ganin et al.
    2016, "Domain-Adversarial Training of Neural Networks"), it lets the
    domain classifier learn to tell the domains apart while the layers below
    it receive the reversed gradient and learn features the domain classifier
    cannot separate.

    `strength` is a non-trainable variable, so a callback can change it during
    `fit` without recompiling (see `tfl.adapt.ReversalRamp`). The forward pass
    is exactly the identity for finite inputs; the gradient is exactly
    `-strength` times the incoming gradient. It is written with
    `stop_gradient`, so it works on every Keras backend:
    `stop_gradient(x) + (-strength) * (x - stop_gradient(x))`.

    Args:
        strength: the initial factor of the reversed gradient (0 passes no
            gradient, 1 reverses it unscaled). Saved in the layer's config as
            the initial value; the current value is a weight.
        **kwargs: passed to `keras.layers.Layer` (e.g. `name`).

    Examples:

    >>> layer = GradientReversal(strength=0.5)
    >>> x = tf.constant([1.0, -2.0])
    >>> with tf.GradientTape() as tape:
    ...     tape.watch(x)
    ...     y = layer(x)
    >>> tape.gradient(y, x).numpy()
    array([-0.5, -0.5], dtype=float32)
    """

    def __init__(self, strength=1.0, **kwargs):
        super().__init__(**kwargs)
        strength = float(strength)
        if not strength >= 0.0:
            raise ValueError(f"strength must be >= 0. Received: strength={strength!r}")
        self.initial_strength = strength
        self.strength = self.add_weight(
            shape=(),
            initializer=keras.initializers.Constant(strength),
            trainable=False,
            name="strength",
        )
        self.supports_masking = True
        self.built = True

    def call(self, inputs):
        frozen = ops.stop_gradient(inputs)
        factor = ops.cast(ops.negative(self.strength), inputs.dtype)
        return frozen + factor * (inputs - frozen)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config["strength"] = self.initial_strength
        return config
