"""One traced training step for the stages of a plan that train the whole model.

Keras throws its traced train and test functions away at every `compile()`,
and a `trainable` change takes effect only through one (TRAPS.md), so a plan
that recompiles per stage traces the model once per stage: on a small data set
that is a large share of the run (`bench/fixed_costs.py`). `SharedTrace`
compiles the model once for the stages it covers, with the `trainable` flags
of all of them together (their union), and each stage then changes variables
only:

- `StagedUpdates` gives each variable a rate multiplier held in a variable:
  0 for the variables the stage keeps frozen (they do not move), the
  discriminative multiplier (or 1) for those it trains;
- the learning rate follows the stage's schedule, whose kind, peak and number
  of steps are variables too;
- the optimizer's state (step count, moments) is reset to a fresh one's.

Adam, AdamW, SGD and RMSprop compute each variable's update from that
variable's own gradient and state, so a stage trains its variables as it would
with an optimizer of its own: results agree with the per-stage path to float
round-off (tests/train/test_shared_trace.py). The price: a stage that trains
less than the union still differentiates the union (the extra gradients are
computed and dropped), so its steps cost more. `FitOptions(shared_trace=
"auto")` shares only while that extra work stays below what a trace costs
(`share_stages`).

Not shared: stages that train BatchNorm layers (their mode is part of the
graph), stages with another optimizer than the first shared one, and runs with
a checkpoint or under a `tf.distribute` strategy: those take the per-stage
path, a compile per stage.
"""

import dataclasses

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from tfl.config.stage import SCHEDULES
from tfl.config.stage import Stage
from tfl.serialization import keras_serializable
from tfl.train.discriminative import WrappingOptimizer
from tfl.train.freezing import apply_stage
from tfl.train.freezing import resolve_unfreeze
from tfl.train.optimizers import make_optimizer
from tfl.train.schedules import scheduled_rate

SHARED_TRACE_MODES = ("auto", "on", "off")
# "auto" shares while the extra steps (those of stages that train less than the
# union) number at most this many per trace saved. Measured by
# bench/fixed_costs.py on 2 cores: a trace of MobileNet 0.25 at 224 px costs
# 1.5-4 s, the extra backward pass 0.03-0.05 s a step; tracing costs more
# on a busy machine, so the break-even is 40-100 steps.
EXTRA_STEPS_PER_TRACE = 64
_SHAREABLE = (keras.optimizers.Adam, keras.optimizers.AdamW, keras.optimizers.SGD, keras.optimizers.RMSprop)


@keras_serializable
class StagedUpdates(WrappingOptimizer):
    """An optimizer whose stage (schedule and which variables move) is set by
    assigning variables, so one traced training step serves every stage.

    Each variable trains at the stage's rate times its scale (0: it does not
    move; weight decay is scaled alike). The update of Adam, AdamW, SGD and
    RMSprop is linear in the rate, so this is training that variable at that
    rate.

    Args:
        inner_optimizer: an Adam, AdamW, SGD or RMSprop optimizer (its state
            starts at zero, which `start_stage` restores); its learning rate
            is replaced by the staged schedule.
        name: the optimizer's name.

    Examples:

    >>> optimizer = StagedUpdates(keras.optimizers.Adam())
    >>> optimizer.build(model.trainable_variables)
    >>> optimizer.start_stage(Stage("none", epochs=2, learning_rate=1e-3), 10,
    ...                       [(v, 1.0) for v in model.head.trainable_variables])
    >>> round(float(optimizer.learning_rate), 6)
    0.001
    """

    def __init__(self, inner_optimizer, name=None, **kwargs):
        if kwargs:
            raise ValueError(f"StagedUpdates takes no optimizer arguments ({', '.join(kwargs)}); set them on the inner one.")
        kind = next((base for base in _SHAREABLE if type(inner_optimizer) is base), None)
        if kind is None:
            raise TypeError(
                "StagedUpdates resets its inner optimizer's state to zeros between stages, which is a fresh "
                f"state only for {', '.join(o.__name__ for o in _SHAREABLE)}. Received: {type(inner_optimizer).__name__}"
            )
        super().__init__(learning_rate=0.0, name=name)
        self.stage_schedule = self.add_variable((3,), initializer="zeros", dtype="float32", name="stage_schedule")
        config = inner_optimizer.get_config()
        config["learning_rate"] = _StagedRate(self.stage_schedule)
        self.inner_optimizer = _PER_VARIABLE_RATE[kind].from_config(config)
        self.update_scales = None
        self._positions = {}

    def build(self, var_list):
        super().build(var_list)
        self.update_scales = self.add_variable((len(var_list),), initializer="ones", dtype="float32", name="update_scales")
        # By the variable itself: two branches of a fusion model may hold variables of one path.
        self._positions = {id(variable): index for index, variable in enumerate(var_list)}
        self.inner_optimizer.update_scales = self.update_scales
        self.inner_optimizer.build(var_list)

    @WrappingOptimizer.learning_rate.setter
    def learning_rate(self, learning_rate):
        raise TypeError("StagedUpdates takes its learning rate from the stage: use start_stage().")

    def start_stage(self, stage, steps, scales):
        """Makes the optimizer a fresh one for `stage`: its state reset, its
        schedule over `stage.epochs * steps` steps, and `scales` ((variable,
        rate multiplier) pairs) for the variables it trains; the others keep
        their values."""
        unknown = [variable.path for variable, _ in scales if id(variable) not in self._positions]
        if unknown:
            raise ValueError(f"Variable {unknown[0]!r} is not one this optimizer was built for (the shared stages').")
        for variable in self.inner_optimizer.variables:
            variable.assign(ops.zeros_like(variable))
        values = np.zeros(len(self._positions), "float32")
        for variable, scale in scales:
            values[self._positions[id(variable)]] = scale
        self.update_scales.assign(values)
        kind = float(SCHEDULES.index(stage.schedule))
        self.stage_schedule.assign(np.array([kind, stage.learning_rate, max(1, stage.epochs * steps)], "float32"))

    def apply(self, grads, trainable_variables=None):
        self.inner_optimizer.apply(grads, trainable_variables)

    def get_config(self):
        inner = self.inner_optimizer.get_config()
        inner["learning_rate"] = 0.0  # rebuilt as the staged schedule, read from the saved variables
        kind = next(base for base in _SHAREABLE if isinstance(self.inner_optimizer, base))
        return {"name": self.name, "inner_optimizer": keras.saving.serialize_keras_object(kind.from_config(inner))}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        inner = keras.saving.deserialize_keras_object(config.pop("inner_optimizer"), custom_objects=custom_objects)
        return cls(inner, **config)


class _PerVariableRate:
    """Mixed into an optimizer class: each variable's rate (and weight decay)
    is the optimizer's times the variable's entry in `update_scales`."""

    update_scales = None

    def update_step(self, gradient, variable, learning_rate):
        scale = ops.cast(self.update_scales[self._get_variable_index(variable)], learning_rate.dtype)
        return super().update_step(gradient, variable, learning_rate * scale)

    def _apply_weight_decay(self, variables):
        if self.weight_decay is None:
            return
        for variable in variables:
            if self._use_weight_decay(variable):
                scale = ops.cast(self.update_scales[self._get_variable_index(variable)], variable.dtype)
                rate = ops.cast(self.learning_rate, variable.dtype) * scale
                variable.assign(variable - variable * ops.cast(self.weight_decay, variable.dtype) * rate)


_PER_VARIABLE_RATE = {base: type(f"Staged{base.__name__}", (_PerVariableRate, base), {}) for base in _SHAREABLE}


class _StagedRate(keras.optimizers.schedules.LearningRateSchedule):
    """The learning rate of the current stage: `schedule` holds (kind index,
    peak, steps); `step` is the stage's step (the optimizer restarts it)."""

    def __init__(self, schedule):
        self.schedule = schedule

    def __call__(self, step):
        values = ops.convert_to_tensor(self.schedule)
        rates = ops.stack([scheduled_rate(kind, step, values[1], values[2]) for kind in SCHEDULES])
        return ops.take(rates, ops.cast(values[0], "int32"))

    def get_config(self):
        return {}


@dataclasses.dataclass
class SharedTrace:
    """The stages of a plan that share one compile, and its state.

    Attributes:
        indices: the positions of the shared stages in the plan.
        union: a `Stage` whose `trainable` flags are those of all of them.
        compiled: whether the model has been compiled for them yet.
    """

    indices: tuple
    union: Stage
    compiled: bool = False

    def start(self, model, stage, plan, steps, compile_model):
        """Readies `model` for `stage`, whose own `trainable` flags are set
        (`apply_stage` gave `plan`): compiles on the first shared stage
        (`compile_model(optimizer)`); every stage sets the flags back to the
        union and starts its optimizer."""
        trained = list(model.trainable_weights)
        apply_stage(model, self.union)
        if not self.compiled:
            optimizer = StagedUpdates(_inner_optimizer(stage, model.training_options.weight_decay))
            compile_model(optimizer)
            model.optimizer.build(model.trainable_variables)
            self.compiled = True
        scales = [(variable, plan.lr_multipliers.get(variable.path, 1.0)) for variable in trained]
        model.optimizer.start_stage(stage, steps, scales)


def share_stages(model, stages, routes, steps, mode="auto", checkpoint=None):
    """The stages of `stages` that share one compile, as a `SharedTrace`, or
    None when none do (fewer than two can, or `mode` says not to).

    Args:
        model: the classifier.
        stages: the plan.
        routes: each stage's route (`choose_route`); only "model" stages share.
        steps: optimizer steps per epoch.
        mode: "auto" (share while the extra work is small), "on", "off".
        checkpoint: the plan's checkpoint, if any (then nothing is shared).

    Examples:

    >>> stages = parse_stages("none:2:1e-3,top2:2:1e-4,all:2:1e-5")
    >>> share_stages(model, stages, ["model"] * 3, steps=8).indices
    (0, 1, 2)
    """
    if mode not in SHARED_TRACE_MODES:
        raise ValueError(f"Unknown shared_trace {mode!r}. Known: {', '.join(SHARED_TRACE_MODES)}.")
    if mode == "off" or checkpoint is not None or tf.distribute.has_strategy():
        return None
    names = list(model.stage_layers())
    eligible = [
        index
        for index, (stage, route) in enumerate(zip(stages, routes))
        if route == "model" and not (stage.train_batchnorm and resolve_unfreeze(stage.unfreeze, names))
    ]
    indices = tuple(index for index in eligible if stages[index].optimizer == stages[eligible[0]].optimizer) if eligible else ()
    if len(indices) < 2:
        return None
    selected = {index: set(resolve_unfreeze(stages[index].unfreeze, names)) for index in indices}
    union = set().union(*selected.values())
    extra = sum(stages[index].epochs * steps for index in indices if selected[index] != union)
    if mode == "auto" and extra > EXTRA_STEPS_PER_TRACE * (len(indices) - 1):
        return None
    unfreeze = "none" if not union else "+".join(name for name in names if name in union)
    return SharedTrace(indices=indices, union=Stage(unfreeze, epochs=1, learning_rate=1e-3))


def _inner_optimizer(stage, weight_decay):
    """The stage's kind of optimizer, with its weight decay; the rate comes from the staged schedule."""
    return make_optimizer(dataclasses.replace(stage, schedule="constant", lr_decay=None), 1, None, weight_decay)
