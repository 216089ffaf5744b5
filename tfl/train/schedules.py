"""`StageSchedule`: a stage's learning rate as a function of its step.

Each stage compiles a fresh optimizer, whose `iterations` counts the steps of
that stage from 0. The schedule reads that count, so it restarts with each
stage (a one-cycle per stage, as fastai's `fine_tune` runs one per phase) and,
because `iterations` is optimizer state saved with the model, it continues
where it stopped after a `.keras` file is loaded again: nothing is restarted.

Schedules (`t` = step / total steps of the stage, `peak` = the stage's rate):

- `"constant"`: `peak`.
- `"cosine"`: `peak * (1 + cos(pi t)) / 2`, from `peak` to 0.
- `"warmup_cosine"`: linear up to `peak` over the first `WARMUP_FRACTION`
  of the steps (the first step at `peak / warmup steps`), then cosine to 0 (the BERT recipe: Devlin
  et al. 2019 warm up linearly, as do most transformer fine-tuning scripts).
- `"one_cycle"`: cosine from `peak / ONE_CYCLE_DIV` up to `peak` over the
  first `ONE_CYCLE_PCT_START` of the steps, then cosine down to
  `peak / ONE_CYCLE_DIV_FINAL` (Smith and Topin 2018, with fastai's
  defaults `div=25`, `pct_start=0.25`, `div_final=1e5`). fastai also cycles
  Adam's beta_1; tfl keeps the optimizer's momentum fixed.
"""

import math

import keras
from keras import ops

from tfl.config.stage import SCHEDULES
from tfl.serialization import keras_serializable

WARMUP_FRACTION = 0.1
ONE_CYCLE_PCT_START = 0.25
ONE_CYCLE_DIV = 25.0
ONE_CYCLE_DIV_FINAL = 1e5


@keras_serializable
class StageSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """The learning rate of one stage, step by step.

    Args:
        kind: one of `"constant"`, `"cosine"`, `"warmup_cosine"`,
            `"one_cycle"` (see the module doc).
        peak: the stage's learning rate, the highest the schedule reaches.
        total_steps: the stage's training steps (epochs x steps per epoch).
            Beyond them the rate stays at its final value.

    Examples:

    >>> schedule = StageSchedule("one_cycle", peak=1e-3, total_steps=100)
    >>> [round(float(schedule(step)), 8) for step in (0, 25, 100)]
    [4e-05, 0.001, 1e-08]
    """

    def __init__(self, kind, peak, total_steps):
        if kind not in SCHEDULES:
            raise ValueError(f"Unknown schedule {kind!r}. Known: {', '.join(SCHEDULES)}.")
        if not peak > 0:
            raise ValueError(f"A schedule needs a peak learning rate > 0. Received: peak={peak!r}")
        if int(total_steps) < 1:
            raise ValueError(f"A schedule needs total_steps >= 1. Received: total_steps={total_steps!r}")
        self.kind = kind
        self.peak = float(peak)
        self.total_steps = int(total_steps)

    def __call__(self, step):
        return scheduled_rate(self.kind, step, self.peak, float(self.total_steps))

    def get_config(self):
        return {"kind": self.kind, "peak": self.peak, "total_steps": self.total_steps}


def scheduled_rate(kind, step, peak, total):
    """The rate of schedule `kind` at `step` of `total` steps that peak at
    `peak`; `peak` and `total` may be tensors (`tfl.train.shared_trace`
    keeps them in variables so that one traced step serves every stage)."""
    step = ops.cast(step, "float32")
    peak = ops.cast(peak, "float32")
    total = ops.cast(total, "float32")
    if kind == "constant":
        return peak + 0.0 * step
    if kind == "cosine":
        return _cosine(peak, 0.0, ops.minimum(step / total, 1.0))
    if kind == "warmup_cosine":
        warmup = ops.maximum(1.0, WARMUP_FRACTION * total)
        rising = peak * ops.minimum(step + 1.0, warmup) / warmup
        falling = _cosine(peak, 0.0, ops.clip((step - warmup) / ops.maximum(1.0, total - warmup), 0.0, 1.0))
        return ops.where(step < warmup, rising, falling)
    # one_cycle
    up = ops.maximum(1.0, ONE_CYCLE_PCT_START * total)
    start, end = peak / ONE_CYCLE_DIV, peak / ONE_CYCLE_DIV_FINAL
    rising = _cosine(start, peak, ops.minimum(step / up, 1.0))
    falling = _cosine(peak, end, ops.clip((step - up) / ops.maximum(1.0, total - up), 0.0, 1.0))
    return ops.where(step < up, rising, falling)


def _cosine(start, end, fraction):
    """From `start` (fraction 0) to `end` (fraction 1) along half a cosine."""
    return end + (start - end) * (1.0 + ops.cos(math.pi * fraction)) / 2.0


def learning_rates(schedule, steps):
    """The schedule's rate at steps 0 .. steps - 1, as a list of float."""
    return [float(schedule(step)) for step in range(steps)]
