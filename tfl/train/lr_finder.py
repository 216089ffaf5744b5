"""The learning-rate range test: train briefly at rising rates, read the loss curve.

Smith (2015, "Cyclical Learning Rates for Training Neural Networks", WACV
2017) trains for a few hundred batches while the learning rate grows from
very small to very large and looks at the loss: it first barely moves, then
falls, then blows up. A good rate lies where it falls fastest. fastai's
`lr_find` (`fastai/callback/schedule.py`) made this routine; this is the same
test, exponential rates, smoothed loss and all, for a tfl classifier and one
`Stage` of its plan.

The model comes back exactly as it was: every variable (weights, BatchNorm
statistics, random-seed states), every layer's `trainable` flag and the
variables of the optimizer it was compiled with are restored, bit for bit.
The test trains with a step of its own rather than `fit`, so the model is
never compiled again: its optimizer, loss, metrics and traced training step
stay the objects they were.
"""

import dataclasses
import math

import keras
import numpy as np
import tensorflow as tf

from tfl.config.stage import Stage
from tfl.model.classifier import Classifier
from tfl.traced import traced
from tfl.train.freezing import apply_stage
from tfl.train.optimizers import make_optimizer

STEEPEST = "steepest"
MINIMUM = "minimum/10"
METHODS = (STEEPEST, MINIMUM)


@dataclasses.dataclass
class LRFinderResult:
    """What a learning-rate range test found.

    Attributes:
        learning_rates: the rate of each step that ran, rising exponentially.
        losses: the training loss of each step's batch.
        smoothed_losses: the losses smoothed by a bias-corrected exponential
            moving average (what the stop rule and the suggestions read).
        suggestion: the suggested learning rate, found by `method`.
        method: how `suggestion` was chosen: "steepest" or "minimum/10".
        suggestions: {method: rate} for every method.
        stopped_early: whether the loss diverged before the last step.
        steps: the number of steps that ran.
        start: the first rate of the test.
        end: the last rate of the test (reached only without an early stop).

    Examples:

    >>> result = find_learning_rate(model, data, Stage("none"), start=1e-5, end=1.0, steps=6)
    >>> result.start, result.end, len(result.learning_rates)
    (1e-05, 1.0, 6)
    >>> sorted(result.suggestions)
    ['minimum/10', 'steepest']
    """

    learning_rates: list
    losses: list
    smoothed_losses: list
    suggestion: float
    method: str
    suggestions: dict
    stopped_early: bool
    steps: int
    start: float
    end: float

    def to_dict(self):
        """Plain data (lists, floats, a dict), e.g. for JSON or `plot_lr_finder`."""
        return dataclasses.asdict(self)


def find_learning_rate(
    model,
    data,
    stage=None,
    *,
    start=1e-7,
    end=10.0,
    steps=100,
    smoothing=0.98,
    divergence=4.0,
    method=STEEPEST,
):
    """Runs a learning-rate range test on `model` and restores it afterwards.

    Step `i` of `steps` trains on one batch at the rate
    `start * (end / start) ** (i / (steps - 1))`, cycling through
    `data.train` if it has fewer batches. The loss is smoothed as fastai does,
    `avg = smoothing * avg + (1 - smoothing) * loss`, divided by
    `1 - smoothing ** (i + 1)`; the test stops early once the smoothed loss is
    above `divergence` times its lowest value so far, or not finite.

    Suggestions, both after fastai's `lr_find` (which drops the first tenth of
    the steps and the last five points, and stops at the first non-finite
    loss; so do these):

    - "steepest" (fastai's `steep`): the rate where the smoothed loss falls
      fastest against the log of the rate, the start of the segment with the
      most negative `d smoothed_loss / d log(rate)`. Smith (2017) picks the
      rate where the loss falls most steeply.
    - "minimum/10" (fastai's `minimum`): the rate of the lowest smoothed loss
      divided by 10, a step back from where the loss turns up.

    The stage's `trainable` flags are applied (as `fit_stages` does) and the
    step trains with `training=True` like `fit`, so BatchNorm layers the stage
    keeps frozen keep their statistics; those it trains update them, and
    everything is restored at the end anyway. The optimizer is the stage's,
    with its discriminative rates, at a constant rate set before each step
    (the stage's schedule is not applied). The loss is the classifier's
    `training_loss()`, as in every stage. Restored afterwards: every variable of the model, every layer's
    `trainable` flag, and the variables of `model.optimizer` if the model was
    compiled; the model is not compiled by the test. `data.train` itself is
    iterated: a pipeline that reshuffles each pass is one pass further on.

    Args:
        model: a tfl classifier (e.g. from `tfl.model.build_model`), or any
            Keras model with softmax outputs (sigmoid if `model.multi_label`).
        data: an object with a `train` `tf.data.Dataset` of `(inputs, labels)`
            batches (a `tfl.data.ImageData` or `TextData`), or the dataset.
        stage: the `tfl.config.Stage` to test, e.g. the next one of the plan.
            None tests a head stage, `Stage("none")`, on a tfl classifier. A
            Keras model without named stages trains what is trainable now,
            with the stage's optimizer (Adam for None).
        start: the first learning rate (> 0).
        end: the last learning rate (> start).
        steps: the number of steps (batches) at most, >= 2.
        smoothing: the weight of the moving average, in [0, 1); 0 does not
            smooth.
        divergence: stop once the smoothed loss exceeds this multiple of its
            best value (> 1).
        method: which suggestion `suggestion` holds: "steepest" or
            "minimum/10"; both are in `suggestions`.

    Returns:
        An `LRFinderResult`.

    Raises:
        ValueError: for a bad argument (named, with the accepted values), a
            linear-probe stage, a model with nothing to train, or an empty
            `data.train`.
        RuntimeError: when the loss is not finite from the first steps on, so
            there is no curve to read (lower `start`).

    Examples:

    >>> result = find_learning_rate(model, data, Stage("none"), steps=8)
    >>> result.method, result.steps, len(result.losses) == result.steps
    ('steepest', 8, True)
    >>> stages = [Stage("none", epochs=1, learning_rate=result.suggestion)]
    """
    _check_arguments(start, end, steps, smoothing, divergence, method)
    if stage is not None and stage.linear_probe:
        raise ValueError(
            "A linear-probe stage fits the head by L-BFGS, with no learning rate to find. "
            f"Received: stage={stage!r}. Test the stage that follows it, e.g. Stage('top 2')."
        )
    train = getattr(data, "train", data)
    rates = start * (end / start) ** (np.arange(steps) / (steps - 1))
    saved = _SavedState(model)
    try:
        optimizer, variables = _prepare(model, stage, start)
        train_step = _train_step(model, optimizer, variables)
        losses, smoothed, stopped_early = _run(train_step, optimizer, _cycle(train), rates, smoothing, divergence)
    finally:
        saved.restore()
    learning_rates = [float(rate) for rate in rates[: len(losses)]]
    suggestions = suggest_learning_rates(learning_rates, smoothed, planned_steps=steps)
    return LRFinderResult(
        learning_rates=learning_rates,
        losses=losses,
        smoothed_losses=smoothed,
        suggestion=suggestions[method],
        method=method,
        suggestions=suggestions,
        stopped_early=stopped_early,
        steps=len(losses),
        start=float(start),
        end=float(end),
    )


def suggest_learning_rates(learning_rates, smoothed_losses, planned_steps=None):
    """The suggested rates of a loss curve: {"steepest": rate, "minimum/10": rate}.

    The points read are those from `planned_steps // 10` to the fifth-to-last,
    up to the first non-finite loss (fastai's `lr_find`); with fewer than two
    such points, all points up to the first non-finite loss.

    Raises:
        RuntimeError: with fewer than two finite points.
    """
    rates = np.asarray(learning_rates, dtype="float64")
    losses = np.asarray(smoothed_losses, dtype="float64")
    finite = np.isfinite(losses)
    usable = len(losses) if finite.all() else int(np.argmin(finite))
    if usable < 2:
        raise RuntimeError(
            f"The loss was not finite from step {usable + 1} on (losses: {list(losses[:5])}), so the "
            f"learning-rate test has no curve to read. Start lower: start={rates[0]:g} is too high."
        )
    first = (len(rates) if planned_steps is None else planned_steps) // 10
    window = slice(first, min(usable, len(losses) - 5))
    if window.stop - window.start < 2:
        window = slice(0, usable)
    rates, losses = rates[window], losses[window]
    slopes = np.diff(losses) / np.diff(np.log(rates))
    return {
        STEEPEST: float(rates[int(np.argmin(slopes))]),
        MINIMUM: float(rates[int(np.argmin(losses))] / 10),
    }


def _check_arguments(start, end, steps, smoothing, divergence, method):
    if not _is_number(start) or not start > 0:
        raise ValueError(
            f"The learning-rate test needs a first rate start > 0 (e.g. 1e-7). Received: start={start!r}"
        )
    if not _is_number(end) or not end > start:
        raise ValueError(
            f"The learning-rate test needs a last rate end > start={start!r} (e.g. end=10.0). "
            f"Received: end={end!r}"
        )
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 2:
        raise ValueError(
            f"The learning-rate test needs a whole number of steps >= 2 (e.g. 100). Received: steps={steps!r}"
        )
    if not _is_number(smoothing) or not 0 <= smoothing < 1:
        raise ValueError(
            f"smoothing is the weight of the moving average of the loss, in [0, 1) (e.g. 0.98; 0 does "
            f"not smooth). Received: smoothing={smoothing!r}"
        )
    if not _is_number(divergence) or not divergence > 1:
        raise ValueError(
            "divergence is the multiple of the best smoothed loss at which the test stops; it must "
            f"be > 1 (e.g. 4.0). Received: divergence={divergence!r}"
        )
    if method not in METHODS:
        raise ValueError(f"Unknown suggestion method {method!r}. Known: {', '.join(METHODS)}.")


def _is_number(value):
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def _prepare(model, stage, start):
    """Sets the stage's `trainable` flags; returns its optimizer, built, and the variables it trains."""
    multipliers, weight_decay = {}, None
    if isinstance(model, Classifier):
        stage = stage or Stage("none")
        multipliers = apply_stage(model, stage).lr_multipliers
        weight_decay = model.training_options.weight_decay  # as fit_stages builds the stage's optimizer
    stage = stage or Stage()
    constant = dataclasses.replace(stage, schedule="constant", learning_rate=start)
    optimizer = make_optimizer(constant, steps=1, lr_multipliers=multipliers, weight_decay=weight_decay)
    variables = list(model.trainable_variables)
    if not variables:
        raise ValueError(
            f"The model {model.name!r} has no trainable variables, so there is no rate to find. "
            "Pass the stage to test, e.g. stage=Stage('none') to train the head."
        )
    optimizer.build(variables)
    return optimizer, variables


def _train_step(model, optimizer, variables):
    """One step as `fit` takes it: `training=True`, the classifier's training loss, layer losses added."""
    loss_fn = model.training_loss() if isinstance(model, Classifier) else keras.losses.SparseCategoricalCrossentropy()

    def train_step(batch):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(batch)
        with tf.GradientTape() as tape:
            predictions = model(x, training=True)
            loss = loss_fn(y, predictions, sample_weight=sample_weight)
            if model.losses:
                loss = loss + tf.add_n(model.losses)
        optimizer.apply(tape.gradient(loss, variables), variables)
        return loss

    return traced(train_step, reduce_retracing=True)


def _run(train_step, optimizer, batches, rates, smoothing, divergence):
    """The test proper; returns `(losses, smoothed losses, stopped_early)`."""
    losses, smoothed = [], []
    average, best = 0.0, math.inf
    for i, rate in enumerate(rates):
        optimizer.learning_rate = float(rate)
        loss = float(train_step(next(batches)))
        average = smoothing * average + (1 - smoothing) * loss
        value = average / (1 - smoothing ** (i + 1))
        losses.append(loss)
        smoothed.append(value)
        if not math.isfinite(value) or value > divergence * best:
            return losses, smoothed, i < len(rates) - 1
        best = min(best, value)
    return losses, smoothed, False


def _cycle(dataset):
    """The dataset's batches, over and over."""
    while True:
        empty = True
        for batch in dataset:
            empty = False
            yield batch
        if empty:
            raise ValueError("The learning-rate test needs training batches, but data.train yielded none.")


class _SavedState:
    """Every variable, `trainable` flag and optimizer variable of a model, to put back."""

    def __init__(self, model):
        # Parents before children: a layer's `trainable` setter also sets its sublayers'.
        self.layers = model._flatten_layers(include_self=True, recursive=True)
        self.flags = [layer.trainable for layer in self.layers]
        # Weights, BatchNorm statistics and seed-generator states (dropout, augmentation).
        self.variables = list(model.variables)
        if model.compiled:  # Keras gives an uncompiled model no `optimizer`
            self.variables += list(model.optimizer.variables)
        self.values = [np.array(variable.numpy(), copy=True) for variable in self.variables]
        self.variable_flags = [variable.trainable for variable in self.variables]

    def restore(self):
        for layer, flag in zip(self.layers, self.flags):
            layer.trainable = flag
        for variable, value, flag in zip(self.variables, self.values, self.variable_flags):
            variable.trainable = flag
            variable.assign(value)
