"""`prebuild_optimizer`: the optimizer's variables made before `fit`, so the
first training step is traced once, not twice.

Without a `tf.distribute` strategy, Keras 3 defers building the optimizer to
the first traced training step (`TensorFlowTrainer._maybe_symbolic_build`
returns early). A `tf.function` whose first call creates variables is traced
a second time, without them. Every `compile()` starts over, so every stage
paid for two traces of the whole training step: for MobileNetV3Small at
32 px, `fit` of one epoch with every layer but BatchNorm trainable took 9.8 s,
5.6 s with the optimizer built first (bench/trace_once.py, docs/performance.md).
"""


def prebuild_optimizer(model):
    """Builds `model.optimizer` on `model.trainable_variables` unless it is
    built already: what Keras does inside the first traced step, done eagerly.

    Call it after `compile()` and after the `trainable` flags are set, just
    before `fit`. A no-op for an uncompiled or unbuilt model.

    Examples:

    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    >>> model.compile(optimizer="adam", loss="mse")
    >>> model.optimizer.built
    False
    >>> prebuild_optimizer(model)
    >>> model.optimizer.built
    True
    """
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None or optimizer.built or not model.built:
        return
    optimizer.build(model.trainable_variables)
