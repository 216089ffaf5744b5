"""Resuming a plan: the checkpoint's saved state, and the callbacks that save each epoch."""

import dataclasses
import json
import time

import keras

from tfl.data.order import set_epoch
from tfl.model.prebuild import prebuild_optimizer
from tfl.train.checkpoint import ResumePoint


def resume_point(checkpoint, stages, model, verbose):
    """The checkpoint's saved state, checked against the plan, with the
    model's variables restored; the stage in progress restores its
    optimizer's when it starts fitting (`EpochSaver.initial_epoch`)."""
    point = checkpoint.load() if checkpoint is not None else None
    if point is None:
        return None
    done = [record["unfreeze"] for record in point.records]
    if point.stage > len(stages) or done != [stage.unfreeze for stage in stages[: len(done)]]:
        raise ValueError(
            f"The checkpoint in {checkpoint.directory} was saved by another plan (stages {done} finished, "
            f"then stage {point.stage + 1}); this plan is {[stage.unfreeze for stage in stages]}. Start "
            "over with resume=False (--no-resume), or choose another output folder."
        )
    _check_saved_stages(checkpoint, point, stages)
    # The model as it was saved, before the stage in progress sets anything up: a stage
    # resumed midway computes its cached features (and its report) from these weights,
    # and gets its optimizer's state back when it starts fitting (`EpochSaver`).
    checkpoint.restore(list(model.variables), point, model_only=True)
    if verbose:
        finished = f"{point.stage} of {len(stages)} stages finished"
        if point.stage_epochs:
            finished += f", stage {point.stage + 1} after epoch {point.stage_epochs}"
        print(f"Resuming from {checkpoint.directory}: {finished}.")
    return point


def plan_state(stages):
    """The stages of a plan as JSON-ready dicts, as a checkpoint keeps them."""
    return [json.loads(json.dumps(dataclasses.asdict(stage), default=str)) for stage in stages]


def _check_saved_stages(checkpoint, point, stages):
    """Refuses a resume whose finished stages, or the stage in progress, differ from those saved
    (other epochs, rates, ...): the same `unfreeze` names are not the same plan."""
    if point.plan is None:  # a checkpoint saved before plans were kept
        return
    now = plan_state(stages)
    for index in range(min(point.stage + 1, len(stages), len(point.plan))):
        saved, current = point.plan[index], now[index]
        changed = sorted(key for key in set(saved) | set(current) if saved.get(key) != current.get(key))
        if changed:
            differences = ", ".join(f"{key} {saved.get(key)!r} then, {current.get(key)!r} now" for key in changed)
            state = "finished" if index < point.stage else "in progress"
            raise ValueError(
                f"The checkpoint in {checkpoint.directory} was saved by another plan: stage {index + 1} "
                f"({state}) differs in {differences}. Continue with the plan it was saved by, start over "
                "with resume=False (--no-resume), or choose another output folder."
            )


class EpochOrder(keras.callbacks.Callback):
    """Gives each epoch of the training pipelines the order of its global
    epoch index (`tfl.data.order`), whatever iterated them before."""

    def on_epoch_begin(self, epoch, logs=None):
        set_epoch(epoch)


class EpochSaver(keras.callbacks.Callback):
    """Saves the model, the optimizer of the model being fit and the stage's
    history so far to a `TrainingCheckpoint` after every epoch, and restores
    them when the stage resumes midway."""

    def __init__(self, checkpoint, model, index, first_epoch, history, midway, plan=None):
        super().__init__()
        self.plan = plan
        self.checkpoint = checkpoint
        self.full_model = model
        self.index = index
        self.first_epoch = first_epoch
        self.training_history = history
        self.midway = midway
        self.stage_history = {key: list(values) for key, values in (midway.history if midway else {}).items()}
        self.previous_seconds = midway.stage_seconds if midway else 0.0
        self.started = time.perf_counter()
        self.fitted = None

    def initial_epoch(self, fitted):
        """Prepares `fitted` (compiled) to continue; returns the epoch to start at."""
        self.fitted = fitted
        if self.midway is None:
            return self.first_epoch
        prebuild_optimizer(fitted)
        self.checkpoint.restore(self._variables(), self.midway)
        return self.first_epoch + self.midway.stage_epochs

    def merged(self, history):
        """The stage's history, the epochs before the resume included (the
        logs this callback saw: the same that `fit`'s history holds)."""
        merged = {key: list(values) for key, values in self.stage_history.items()}
        for key, values in history.items():
            merged.setdefault(key, list(values))
        return merged

    def on_epoch_end(self, epoch, logs=None):
        for key, value in (logs or {}).items():
            self.stage_history.setdefault(key, []).append(float(value))
        self._save(epoch + 1, epoch + 1 - self.first_epoch, self.stage_history, self._variables())

    def stage_finished(self, epoch):
        self._save(epoch, 0, {}, list(self.full_model.variables), stage=self.index + 1)

    def _variables(self):
        return list(self.full_model.variables) + list(self.fitted.optimizer.variables)

    def _save(self, epoch, stage_epochs, history, variables, stage=None):
        optimizer_variables = len(variables) - len(self.full_model.variables)
        point = ResumePoint(
            stage=self.index if stage is None else stage,
            stage_epochs=stage_epochs,
            epoch=epoch,
            history=history,
            stage_seconds=self.previous_seconds + time.perf_counter() - self.started,
            records=[dataclasses.asdict(record) for record in self.training_history.stages],
            weights="",
            variable_paths=[],
            optimizer_variables=optimizer_variables,
            saved_at=time.time(),
            plan=self.plan,
        )
        self.checkpoint.save(variables, point)
