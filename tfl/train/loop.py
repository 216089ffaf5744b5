"""The stage loop: set `trainable`, compile, fit, continue the epoch count.

A loop rather than a callback: in Keras 3 a `trainable` change after
`compile()` is ignored until the next `compile()`, so unfreezing inside a
callback during `fit` silently does nothing.
"""

import dataclasses
import logging
import time

import keras

from tfl.config.stage import Stage
from tfl.data.order import set_epoch
from tfl.model.batchnorm import batchnorm_layers
from tfl.train.batchnorm import batchnorm_check
from tfl.train.batchnorm import batchnorm_momentum_for
from tfl.train.batchnorm import recalibrate_batchnorm
from tfl.train.batchnorm import steps_per_epoch
from tfl.train.checkpoint import ResumePoint
from tfl.train.discriminative import ScaledUpdates
from tfl.train.distribute import check_scope
from tfl.train.distribute import fix_multi_worker_fit
from tfl.train.feature_cache import FeatureCache
from tfl.train.feature_cache import cache_decision
from tfl.train.freezing import apply_stage
from tfl.train.history import StageRecord
from tfl.train.history import TrainingHistory
from tfl.train.linear_probe import fit_linear_probe
from tfl.train.schedules import StageSchedule
from tfl.train.stage_report import stage_report

logger = logging.getLogger("tfl")

_OPTIMIZERS = {
    "adam": keras.optimizers.Adam,
    "adamw": keras.optimizers.AdamW,
    "sgd": lambda learning_rate: keras.optimizers.SGD(learning_rate, momentum=0.9),
    "rmsprop": keras.optimizers.RMSprop,
}


def default_stages(weights="imagenet", epochs=5, task="image", augmentation=False):
    """The default plan for a task and a backbone with `weights`.

    Pretrained images and text start with LP-FT (Kumar et al. 2022): a linear
    probe fitted to convergence on the frozen backbone's cached features, then
    fine-tuning. With image augmentation the cached features would miss it, so
    the head trains for `epochs` epochs at 1e-3 on augmented images instead.

    - Images with pretrained weights: the probe (or the head stage), then the
      top 2 backbone stages at 1e-4 for `epochs` (BatchNorm frozen throughout).
    - Images with `weights=None`: a head on random features learns little, so
      one stage trains the whole network at 1e-3, BatchNorm included, with its
      statistics recomputed at the end.
    - Text (`weights` is ignored: encoders come pretrained): the probe, then
      the whole encoder at 5e-5 with AdamW for `epochs`, the usual rate for
      fine-tuning BERT (Devlin et al. 2019 searched 2e-5 to 5e-5).
    """
    head = Stage(unfreeze="none", linear_probe=True)
    if task == "text":
        return (head, Stage(unfreeze="all", epochs=epochs, learning_rate=5e-5, optimizer="adamw"))
    if weights is None:
        return (Stage(unfreeze="all", epochs=epochs, learning_rate=1e-3, train_batchnorm=True),)
    if augmentation:
        head = Stage(unfreeze="none", epochs=epochs, learning_rate=1e-3)
    return (head, Stage(unfreeze="top 2", epochs=epochs, learning_rate=1e-4))


def make_optimizer(stage, steps, lr_multipliers=None):
    """The stage's optimizer, its schedule, and discriminative rates if any."""
    learning_rate = stage.learning_rate
    if stage.schedule != "constant":
        learning_rate = StageSchedule(stage.schedule, learning_rate, max(1, stage.epochs * steps))
    optimizer = _OPTIMIZERS[stage.optimizer](learning_rate=learning_rate)
    if lr_multipliers:
        optimizer = ScaledUpdates(optimizer, lr_multipliers)
    return optimizer


def compile_for(model, optimizer, *, multi_label=None, jit_compile=False):
    """Compiles `model` with the loss and metrics of its kind of head.

    Args:
        model: the model to compile.
        optimizer: a Keras optimizer.
        multi_label: sigmoid outputs; None reads `model.multi_label`.
        jit_compile: compile the training step with XLA.
    """
    if multi_label is None:
        multi_label = model.multi_label
    if multi_label:
        loss = keras.losses.BinaryCrossentropy()
        metrics = [keras.metrics.BinaryAccuracy(name="accuracy")]
    else:
        loss = keras.losses.SparseCategoricalCrossentropy()
        metrics = [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
    model.compile(optimizer=optimizer, loss=loss, metrics=metrics, jit_compile=jit_compile)
    fix_multi_worker_fit(model)  # keras-team/keras#20585; a no-op unless needed


def fit_stages(
    model,
    data,
    stages,
    *,
    callbacks=None,
    verbose="auto",
    feature_cache="auto",
    cache_dir=None,
    augmented_views=1,
    jit_compile=False,
    seed=0,
    checkpoint=None,
):
    """Trains `model` on `data` through `stages`, in order.

    Each stage sets the `trainable` flags (see `apply_stage`), compiles the
    model with a fresh optimizer at the stage's learning rate, and fits from
    where the previous stage stopped. After a stage that trained BatchNorm
    layers, their statistics are recomputed over the training data (see
    `Stage.recalibrate_batchnorm`). Before each stage a `StageReport` shows
    what will train; after a stage that trained the backbone, a check warns
    when the model scores far worse on training batches with its moving
    statistics than with batch statistics.

    A stage that trains only the head on a frozen backbone runs on cached
    features where that is valid (see `tfl.train.feature_cache`): the
    backbone runs once, and the model's own head layers train on its pooled
    features, so the full model holds the trained head afterwards. A
    `linear_probe` stage fits the head to convergence on those features.

    Under a `tf.distribute` strategy, build the model and call `fit_stages`
    inside the same `strategy.scope()`: the stages' optimizers are created
    there (see `tfl.train.distribute` and docs/distributed.md).

    Args:
        model: a tfl classifier, e.g. from `tfl.model.build_model`.
        data: a `tfl.data.ImageData` or `tfl.data.TextData` (it has `train`,
            `validation`, `num_train`).
        stages: a sequence of `tfl.config.Stage`.
        callbacks: Keras callbacks passed to every `fit`. In a stage on
            cached features, `fit` trains the head model, so the callbacks see
            `model.head_model()` as their model.
        verbose: passed to `fit`; 0 also silences the stage headers.
        feature_cache: "auto" trains head stages on cached features where
            valid; "off" never does (linear probes still need features).
        cache_dir: a folder that keeps cached features between runs, keyed by
            weights, preprocessing and examples; None keeps them in memory.
        augmented_views: with image augmentation, cache this many augmented
            views per training example; 1 turns the cache off for stages that
            augment.
        jit_compile: compile training steps with XLA.
        seed: shuffle seed of the cached features.
        checkpoint: a `tfl.train.TrainingCheckpoint`: save the model and
            optimizer after every epoch and every stage, and if it holds a
            saved state of this plan, continue from it: finished stages are
            skipped (their records come back), the stage in progress restarts
            at the epoch after its last finished one, with its `trainable`
            flags, optimizer state and schedule position restored. Data
            order after a resume differs from an uninterrupted run's (the
            shuffle restarts), so the results agree to within noise.

    Returns:
        A `TrainingHistory` with every epoch of every stage.

    Examples:

    >>> stages = [Stage("none", epochs=5, learning_rate=1e-3),
    ...           Stage("top 2", epochs=3, learning_rate=1e-4)]
    >>> history = fit_stages(model, data, stages)
    >>> history.boundaries
    [0, 5]
    """
    stages = tuple(stages)
    if not stages:
        raise ValueError("fit_stages() needs at least one stage.")
    check_scope(model)
    steps = steps_per_epoch(data.train, data.num_train)
    cache = FeatureCache(model, cache_dir=cache_dir, augmented_views=augmented_views)
    history = TrainingHistory(plan=stages)
    epoch = 0
    resume = _resume_point(checkpoint, stages, model, verbose)
    if resume is not None:
        history.stages.extend(StageRecord(**record) for record in resume.records)
        epoch = resume.epoch - resume.stage_epochs
    for index, stage in enumerate(stages):
        if resume is not None and index < resume.stage:
            continue
        midway = resume if resume is not None and index == resume.stage and resume.stage_epochs else None
        plan = apply_stage(model, stage)
        decision = cache_decision(model, stage, feature_cache, augmented_views)
        if stage.linear_probe and not decision.use:
            raise ValueError(
                f"Stage {index + 1} is a linear probe, which needs cached features, but the cache "
                f"is off for it: {decision.reason}. Use a head stage instead, e.g. "
                "Stage('none', epochs=5, learning_rate=1e-3) ('none:5:1e-3')."
            )
        report = stage_report(model, stage, plan, index=index, count=len(stages))
        if verbose:
            print(report.format())
            print(f"  Feature cache: {decision}")
            if midway is not None:
                print(f"  Resuming after epoch {midway.stage_epochs} of {stage.epochs} (from {checkpoint.directory})")
        else:
            for warning in report.warnings:
                logger.warning("Stage %d: %s", index + 1, warning)
        start = time.perf_counter()
        saver = None if checkpoint is None else _EpochSaver(checkpoint, model, index, epoch, history, midway)
        probe = None
        features = None
        if decision.use:
            features = cache.get(data)
            if verbose:
                print(
                    f"  Features of {len(features.train_features):,} training examples "
                    f"{'read from ' + str(cache_dir) if features.origin == 'disk' else 'computed'} "
                    f"in {features.seconds:.1f} s"
                )
            if stage.linear_probe:
                record_history, probe = _fit_probe(model, features, steps, verbose)
            else:
                record_history = _fit_head(
                    model, features, stage, steps, epoch, callbacks, verbose, jit_compile, seed, saver
                )
        else:
            record_history = _fit_model(model, data, stage, plan, steps, epoch, callbacks, verbose, jit_compile, saver)
        after = _recalibrate(model, data, stage, plan, verbose)
        check = _check_batchnorm(model, data, plan, index, verbose)
        history.stages.append(
            StageRecord(
                index=index,
                unfreeze=stage.unfreeze,
                trainable_stages=list(plan.trainable_stages),
                first_epoch=epoch,
                epochs=stage.epochs,
                learning_rate=stage.learning_rate,
                lr_decay=stage.lr_decay,
                train_batchnorm=stage.train_batchnorm,
                trainable_params=plan.trainable_params,
                seconds=time.perf_counter() - start + (midway.stage_seconds if midway else 0.0),
                history=record_history,
                after_recalibration=after,
                feature_cache=str(decision),
                feature_seconds=None if features is None else features.seconds,
                linear_probe=probe,
                report=report.to_dict(),
                batchnorm_check=check,
            )
        )
        epoch += stage.epochs
        if checkpoint is not None:
            saver.stage_finished(epoch)
    return history


def _resume_point(checkpoint, stages, model, verbose):
    """The checkpoint's saved state, checked against the plan, with the
    model's variables restored when it stopped between stages."""
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
    if not point.stage_epochs:
        checkpoint.restore(list(model.variables), point)
    if verbose:
        finished = f"{point.stage} of {len(stages)} stages finished"
        if point.stage_epochs:
            finished += f", stage {point.stage + 1} after epoch {point.stage_epochs}"
        print(f"Resuming from {checkpoint.directory}: {finished}.")
    return point


class _EpochOrder(keras.callbacks.Callback):
    """Gives each epoch of the training pipelines the order of its global
    epoch index (`tfl.data.order`), whatever iterated them before."""

    def on_epoch_begin(self, epoch, logs=None):
        set_epoch(epoch)


class _EpochSaver(keras.callbacks.Callback):
    """Saves the model, the optimizer of the model being fit and the stage's
    history so far to a `TrainingCheckpoint` after every epoch, and restores
    them when the stage resumes midway."""

    def __init__(self, checkpoint, model, index, first_epoch, history, midway):
        super().__init__()
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
        fitted.optimizer.build(fitted.trainable_variables)
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
        )
        self.checkpoint.save(variables, point)


def _fit_model(model, data, stage, plan, steps, epoch, callbacks, verbose, jit_compile, saver=None):
    """One stage on the whole model; returns its history."""
    momenta = [(layer, layer.momentum) for layer in plan.batchnorm_layers]
    for layer, momentum in momenta:
        layer.momentum = batchnorm_momentum_for(steps, momentum)
    compile_for(model, make_optimizer(stage, steps, plan.lr_multipliers), jit_compile=jit_compile)
    try:
        initial = epoch if saver is None else saver.initial_epoch(model)
        fitted = model.fit(
            data.train,
            validation_data=data.validation,
            initial_epoch=initial,
            epochs=epoch + stage.epochs,
            callbacks=[_EpochOrder(), *(callbacks or []), *([saver] if saver else [])],
            shuffle=False,  # the tf.data pipeline shuffles, with its seed
            verbose=verbose,
        )
    finally:
        for layer, momentum in momenta:
            layer.momentum = momentum
    history = _plain(fitted.history)
    return history if saver is None else saver.merged(history)


def _recalibrate(model, data, stage, plan, verbose):
    """Recomputes BatchNorm statistics as the stage asks; returns validation
    metrics afterwards, or None when nothing was recomputed."""
    if stage.recalibrate_batchnorm is None:
        layers = plan.batchnorm_layers
    elif stage.recalibrate_batchnorm:
        layers = batchnorm_layers(model.backbone)
    else:
        layers = ()
    if not layers or not recalibrate_batchnorm(model, data.train, layers):
        return None
    if data.validation is None:
        return None
    after = model.evaluate(data.validation, verbose=0, return_dict=True)
    if verbose:
        print(f"  BatchNorm statistics recomputed; validation: {_format(after)}")
    return after


def _check_batchnorm(model, data, plan, index, verbose):
    """After a stage that trained the backbone: are its BatchNorm statistics stale?"""
    if not plan.trainable_stages:
        return None
    check = batchnorm_check(model, data.train)
    if check is None:
        return None
    if check["stale"]:
        message = (
            f"Stage {index + 1}: on {check['examples']} training examples the model scores "
            f"{check['inference_accuracy']:.3f} with its BatchNorm moving statistics (inference mode) "
            f"but {check['training_mode_accuracy']:.3f} with batch statistics: the moving statistics "
            "do not describe the data. Recompute them: Stage(..., recalibrate_batchnorm=True), or "
            "tfl.train.recalibrate_batchnorm(model, data.train, layers)."
        )
        if verbose:
            print(f"  WARNING: {message}")
        else:
            logger.warning(message)
    return check


def _fit_head(model, features, stage, steps, epoch, callbacks, verbose, jit_compile, seed, saver=None):
    """A head stage on cached features: `fit` of the model's own head layers,
    in batches of the data's size (as many per view as the data has)."""
    head = model.head_model()
    batch_size = features.batch_size_for(steps)
    train, validation = features.datasets(batch_size, seed)
    steps = max(1, -(-len(features.train_features) // batch_size))
    compile_for(head, make_optimizer(stage, steps), multi_label=model.multi_label, jit_compile=jit_compile)
    initial = epoch if saver is None else saver.initial_epoch(head)
    fitted = head.fit(
        train,
        validation_data=validation,
        initial_epoch=initial,
        epochs=epoch + stage.epochs,
        callbacks=[_EpochOrder(), *(callbacks or []), *([saver] if saver else [])],
        shuffle=False,
        verbose=verbose,
    )
    history = _plain(fitted.history)
    return history if saver is None else saver.merged(history)


def _fit_probe(model, features, steps, verbose):
    """Fits the head as a converged linear probe; returns `(history, probe info)`."""
    start = time.perf_counter()
    fitted = fit_linear_probe(
        features.train_features,
        features.train_labels,
        model.num_classes,
        multi_label=model.multi_label,
    )
    model.head.set_weights([fitted.kernel, fitted.bias])
    info = {
        "iterations": fitted.iterations,
        "converged": fitted.converged,
        "objective": fitted.loss,
        "l2": fitted.l2,
        "seconds": time.perf_counter() - start,
    }
    head = model.head_model()
    compile_for(head, keras.optimizers.Adam(), multi_label=model.multi_label)
    train, validation = features.datasets(features.batch_size_for(steps), seed=0)
    metrics = head.evaluate(train, verbose=0, return_dict=True)
    record = {key: [float(value)] for key, value in metrics.items()}
    if validation is not None:
        for key, value in head.evaluate(validation, verbose=0, return_dict=True).items():
            record[f"val_{key}"] = [float(value)]
    if verbose:
        print(
            f"  Linear probe: {fitted.iterations} L-BFGS iterations "
            f"({'converged' if fitted.converged else 'not converged'}) in {info['seconds']:.2f} s; "
            + _format({k: v[0] for k, v in record.items()})
        )
    return record, info


def _plain(history):
    return {k: [float(v) for v in vs] for k, vs in history.items()}


def _format(metrics):
    return ", ".join(f"{k} {v:.4f}" for k, v in metrics.items())


__all__ = ["compile_for", "default_stages", "fit_stages", "make_optimizer"]
