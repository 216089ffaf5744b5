"""`compile_stage`: a stage's compile, skipped when the model is already compiled for it.

Keras traces a model's training step again after every `compile()`, and every
stage compiles with a fresh optimizer. A program that trains the same model
again with the same kind of stage (the demos' runs on another labelled set, a
self-training round, a notebook cell run twice) would pay the whole trace each
time: 8-9 s of a 28 s MobileNetV3Small run at 32 px, 8-9 s of a MiniLM
fine-tuning (docs/performance.md, "The same stage again").

`compile_stage` keeps the traced step when nothing it depends on changed since
the model's last compile by `fit_stages`:

- the optimizer's configuration (kind, rate, schedule with its number of
  steps, discriminative rates, weight decay), names aside;
- the variables that train, and the mode and momentum of every BatchNorm
  layer (both are fixed in the traced graph);
- the classifier's training options (loss, metrics, label smoothing, class
  weights) and the compile arguments (`jit_compile`, soft targets).

Then the model keeps its compiled optimizer, whose state (step count,
moments) is set to a fresh one's: training goes on exactly as after a new
compile, without the trace. Anything else compiles as before.
"""

import weakref

import keras

from tfl.model.batchnorm import batchnorm_layers

_COMPILED = weakref.WeakKeyDictionary()


def compile_stage(model, optimizer, compile_model, **compile_options):
    """Compiles `model` for a stage with `optimizer` (`compile_model(optimizer)`),
    or, when its last compile here was for the same stage, resets its
    optimizer to a fresh state and keeps the traced training step.

    Call it after the stage's `trainable` flags and BatchNorm momenta are set.

    Args:
        model: the classifier.
        optimizer: the stage's new, unbuilt optimizer.
        compile_model: compiles the model with an optimizer.
        **compile_options: what else the compile depends on (e.g.
            `jit_compile`); a change compiles again.

    Returns:
        True when the compiled step was kept, False when it compiled
        (tests/train/test_compiled_step.py checks both against a fresh compile).
    """
    key = _key(model, optimizer, compile_options)
    compiled = _COMPILED.get(model)
    same = compiled is not None and compiled[0] == key and compiled[1] is model.optimizer
    if same and _reset_to_fresh(model.optimizer, optimizer, model.trainable_variables):
        return True
    compile_model(optimizer)
    if model.optimizer is optimizer:  # not wrapped by Keras (a loss-scale optimizer is not reset here)
        _COMPILED[model] = (key, optimizer)
    else:
        _COMPILED.pop(model, None)
    return False


def forget_compile(model):
    """Makes the next `compile_stage` of `model` compile (after a compile elsewhere)."""
    _COMPILED.pop(model, None)


def _key(model, optimizer, compile_options):
    return (
        _without_names(keras.saving.serialize_keras_object(optimizer)),
        # The objects themselves: the traced step holds them, so a variable or
        # layer replaced by another of the same name and shape compiles again.
        tuple((variable.path, id(variable)) for variable in model.trainable_variables),
        tuple((id(layer), layer.trainable, float(layer.momentum)) for layer in batchnorm_layers(model)),
        model.training_options,
        tuple(sorted(compile_options.items())),
    )


def _without_names(config):
    """An optimizer's serialized config without its (uniquified) names."""
    if isinstance(config, dict):
        return {key: _without_names(value) for key, value in config.items() if key != "name"}
    if isinstance(config, (list, tuple)):
        return [_without_names(value) for value in config]
    return config


def _reset_to_fresh(compiled, fresh, variables):
    """Sets `compiled`'s state to that of `fresh` (same configuration) built
    on `variables`; False, changing nothing, when their states do not match."""
    fresh.build(variables)
    old, new = compiled.variables, fresh.variables
    if len(old) != len(new) or any(a.shape != b.shape or a.dtype != b.dtype for a, b in zip(old, new)):
        return False
    for target, value in zip(old, new):
        target.assign(value)
    return True
