"""`fit_stage`: one stage of a plan, by the route `choose_route` picks.

Four routes train a stage:

- "probe": the head fitted to convergence as a linear probe (L-BFGS) on the
  frozen backbone's cached features;
- "prototypes": the probe of a prototype head (`head="prototypes"`): its
  prototypes set to the class means of the cached features, no gradient
  step (`tfl.train.prototype_fit`);
- "cached_head": the model's own head layers fitted with `fit` on cached
  features (the backbone ran once for all epochs);
- "model": the whole model fitted, the stage's `trainable` flags deciding
  what learns.

A stage sets the flags (`apply_stage`), recompiles with a fresh optimizer (the
classifier's loss, metrics, class weights and weight decay kept; a model
already compiled for the same stage keeps its traced step and has its
optimizer reset instead, `tfl.train.compiled_step`), fits, then
recomputes BatchNorm statistics where it trained them and checks, after a
stage that trained the backbone, that its moving statistics still hold. A
stage with `head_init="prototypes"` first starts the head from the class
means of the training features (`tfl.train.prototype_fit`).
"""

import dataclasses
import logging
import math
import time

import keras
import tensorflow as tf

from tfl.data.mix import mix_batches
from tfl.model.batchnorm import batchnorm_layers
from tfl.model.prebuild import prebuild_optimizer
from tfl.train.batchnorm import batchnorm_check
from tfl.train.batchnorm import batchnorm_momentum_for
from tfl.train.batchnorm import recalibrate_batchnorm
from tfl.train.compiled_step import compile_stage
from tfl.train.compiled_step import forget_compile
from tfl.train.distribute import fix_multi_worker_fit
from tfl.train.early_stopping import MONITOR
from tfl.train.early_stopping import BestEpoch
from tfl.train.feature_cache import FEATURE_CACHE_MODES
from tfl.train.feature_cache import cache_decision
from tfl.train.freezing import apply_stage
from tfl.train.history import StageRecord
from tfl.train.linear_probe import fit_linear_probe
from tfl.train.optimizers import make_optimizer
from tfl.train.prototype_fit import fit_prototypes
from tfl.train.prototype_fit import init_stage_head
from tfl.train.resume import EpochOrder
from tfl.train.resume import EpochSaver
from tfl.train.shared_trace import SHARED_TRACE_MODES
from tfl.train.stage_report import stage_report

logger = logging.getLogger("tfl")

ROUTES = ("probe", "prototypes", "cached_head", "model")


@dataclasses.dataclass(frozen=True)
class FitOptions:
    """How `fit_stages` runs a plan (what it trains is the plan's business).

    Args:
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
        mixup: MixUp's Beta alpha on the training batches of stages that
            train the whole model (0: off); refused for stages on cached
            features, where it would be ignored. Images, single-label only.
        cutmix: CutMix's Beta alpha, likewise (both on: one of the two per
            batch, `tfl.data.mix.mix_batches`).
        shared_trace: "auto" compiles the model once for the stages that
            train it whole (route "model") where that saves time, so they
            share one traced training step (`tfl.train.shared_trace`); "on"
            wherever it can, "off" compiles per stage.
        checkpoint: a `tfl.train.TrainingCheckpoint`: save the model and
            optimizer after every epoch and every stage, and if it holds a
            saved state of this plan, continue from it: finished stages are
            skipped (their records come back), the stage in progress restarts
            at the epoch after its last finished one, with its `trainable`
            flags, optimizer state and schedule position restored. The data
            order is drawn from the seed and the epoch (`tfl.data.order`), so
            a resumed run sees the batches an uninterrupted one would, and
            ends with its weights to float rounding (docs/reliability.md).

    Examples:

    >>> FitOptions.of(None, verbose=0).feature_cache
    'auto'
    """

    callbacks: tuple = ()
    verbose: object = "auto"
    feature_cache: str = "auto"
    cache_dir: object = None
    augmented_views: int = 1
    jit_compile: bool = False
    seed: int = 0
    mixup: float = 0.0
    cutmix: float = 0.0
    shared_trace: str = "auto"
    checkpoint: object = None

    def __post_init__(self):
        object.__setattr__(self, "callbacks", tuple(self.callbacks or ()))
        if self.feature_cache not in FEATURE_CACHE_MODES:
            raise ValueError(
                f"Unknown feature_cache {self.feature_cache!r}. Known: {', '.join(FEATURE_CACHE_MODES)}."
            )
        if self.shared_trace not in SHARED_TRACE_MODES:
            raise ValueError(
                f"Unknown shared_trace {self.shared_trace!r}. Known: {', '.join(SHARED_TRACE_MODES)}."
            )
        if isinstance(self.augmented_views, bool) or not isinstance(self.augmented_views, int) or self.augmented_views < 1:
            raise ValueError(f"augmented_views must be a whole number >= 1. Received: {self.augmented_views!r}")
        for name in ("mixup", "cutmix"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < math.inf:
                raise ValueError(f"{name} is a finite Beta alpha >= 0 (0: off). Received: {name}={value!r}")

    @classmethod
    def of(cls, options=None, **overrides):
        """`options` (a `FitOptions` or None) with `overrides` replacing its fields."""
        known = [field.name for field in dataclasses.fields(cls)]
        unknown = sorted(set(overrides) - set(known))
        if unknown:
            raise TypeError(f"Unknown fit option {unknown[0]!r}. Known: {', '.join(known)}.")
        return dataclasses.replace(options or cls(), **overrides)


@dataclasses.dataclass
class StageContext:
    """Where a stage sits in its plan, and what the plan's stages share.

    Args:
        cache: the plan's `FeatureCache` (features are computed once).
        steps: optimizer steps per epoch of the training data.
        index: the stage's position in the plan.
        count: the number of stages in the plan.
        first_epoch: the global index of the stage's first epoch.
        history: the plan's `TrainingHistory` so far (saved with checkpoints).
        midway: the `ResumePoint` when this stage resumes after an epoch.
        shared: the plan's `SharedTrace` (stages compiled once), or None.
        plan: the plan's stages as a checkpoint keeps them
            (`tfl.train.resume.plan_state`), or None.
    """

    cache: object
    steps: int
    index: int = 0
    count: int = 1
    first_epoch: int = 0
    history: object = None
    midway: object = None
    shared: object = None
    plan: list | None = None


def choose_route(stage, decision, index=0, *, prototype_head=False):
    """The route of a stage: "probe", "prototypes", "cached_head" or "model"
    (the one place that decides). `decision` is the stage's `CacheDecision`;
    `prototype_head`: the model's head is a `PrototypeHead`, whose probe is
    its class means ("prototypes").

    Examples:

    >>> from tfl.train.feature_cache import CacheDecision
    >>> choose_route(Stage("probe"), CacheDecision(True, "frozen"), prototype_head=True)
    'prototypes'
    >>> choose_route(Stage("top 1"), CacheDecision(False, "the backbone trains"))
    'model'
    """
    if stage.linear_probe and not decision.use:
        raise ValueError(
            f"Stage {index + 1} is a linear probe, which needs cached features, but the cache "
            f"is off for it: {decision.reason}. Use a head stage instead, e.g. "
            "Stage('none', epochs=5, learning_rate=1e-3) ('none:5:1e-3')."
        )
    if decision.use and stage.linear_probe:
        return "prototypes" if prototype_head else "probe"
    return "cached_head" if decision.use else "model"


def fit_stage(model, data, stage, options, context):
    """Runs one stage of a plan on `model` (a `tfl.model.Classifier`).

    Args:
        model: the classifier.
        data: its `ImageData` or `TextData`.
        stage: a `tfl.config.Stage`.
        options: the plan's `FitOptions`.
        context: the stage's `StageContext`.

    Returns:
        The stage's `StageRecord`, also appended to `context.history`.

    Examples:

    >>> from tfl.train.fit_stage import StageContext
    >>> context = StageContext(cache=FeatureCache(model), steps=2, history=TrainingHistory())
    >>> record = fit_stage(model, data, Stage("none"), FitOptions(verbose=0), context)
    >>> record.index, record.epochs, context.history.stages == [record]
    (0, 1, True)
    """
    check_early_stopping(stage, data, context.index)
    plan = apply_stage(model, stage)
    decision = cache_decision(model, stage, options.feature_cache, options.augmented_views)
    route = choose_route(stage, decision, context.index, prototype_head=model.prototype_head)
    check_mixing(options, route, decision, context.index)
    report = stage_report(model, stage, plan, index=context.index, count=context.count)
    _announce(report, decision, stage, context, options)
    start = time.perf_counter()
    saver = None
    if options.checkpoint is not None:
        saver = EpochSaver(
            options.checkpoint, model, context.index, context.first_epoch, context.history, context.midway,
            context.plan,
        )
    kept = context.cache.features_kept()
    features = None if route == "model" else context.cache.get(data)
    init = None if context.midway else init_stage_head(model, data, stage, context.cache, options.verbose)
    best = _best_epoch(stage, context)
    history, probe, fitted = _run_route(route, model, data, features, stage, plan, options, context, (saver, best))
    epochs = stage.epochs if best is None else len(history[MONITOR])
    if best is not None and options.verbose:
        print(f"  {best.describe()}")
    after = _recalibrate(model, data, stage, plan, options.verbose)
    check = _check_batchnorm(model, data, plan, context.index, options.verbose)
    record = StageRecord(
        index=context.index,
        unfreeze=stage.unfreeze,
        trainable_stages=list(plan.trainable_stages),
        first_epoch=context.first_epoch,
        epochs=epochs,
        learning_rate=stage.learning_rate,
        lr_decay=stage.lr_decay,
        train_batchnorm=stage.train_batchnorm,
        trainable_params=plan.trainable_params,
        seconds=time.perf_counter() - start + (context.midway.stage_seconds if context.midway else 0.0),
        history=history,
        after_recalibration=after,
        feature_cache=str(decision),
        feature_seconds=None if features is None else features.seconds,
        feature_origin=None if features is None else ("memory" if features is kept else features.origin),
        linear_probe=probe,
        report=report.to_dict(),
        batchnorm_check=check,
        early_stopping=None if best is None else best.summary(),
        prototypes=fitted or init,
    )
    if context.history is not None:
        context.history.stages.append(record)
    if saver is not None:
        saver.stage_finished(context.first_epoch + epochs)
    return record


def _run_route(route, model, data, features, stage, plan, options, context, callbacks):
    """Trains the stage by its route; returns `(history, linear probe info,
    prototype info)`."""
    if route == "probe":
        return (*_fit_probe(model, features, context.steps, options.verbose), None)
    if route == "prototypes":
        info = fit_prototypes(model, features)
        if options.verbose:
            count = len(features.train_features)
            print(f"  Prototypes: the class means of {count} training features ({info['metric']})")
        return _evaluate_head(model, features, context.steps, options.verbose), None, info
    if route == "cached_head":
        return _fit_head(model, features, stage, options, context, callbacks), None, None
    return _fit_model(model, data, stage, plan, options, context, callbacks), None, None


def check_mixing(options, route, decision, index):
    """Refuses MixUp or CutMix for a stage whose route does not train the whole model."""
    if (options.mixup or options.cutmix) and route != "model":
        raise ValueError(
            f"Stage {index + 1} trains on cached features ({decision}), where MixUp and CutMix, which mix "
            f"the images of training batches, would be ignored. Received: mixup={options.mixup}, "
            f"cutmix={options.cutmix}, route {route!r}. Train the whole model in every stage: "
            "feature_cache='off' (--feature-cache off) and no linear probe, e.g. 'none:3:1e-3,top2:3:1e-4'."
        )


def check_early_stopping(stage, data, index):
    """Refuses early stopping for a stage without validation data."""
    if stage.early_stopping is not None and data.validation is None:
        raise ValueError(
            f"Stage {index + 1} stops early on {MONITOR!r}, which needs validation data, and the data has "
            f"none. Received: early_stopping={stage.early_stopping}, validation=None. Give validation data "
            "(a validation split or folder), or set early_stopping=None."
        )


def _best_epoch(stage, context):
    """A fresh `BestEpoch` for a stage that stops early (never one of an earlier stage), else None."""
    if stage.early_stopping is None:
        return None
    earlier = context.midway.history.get(MONITOR, []) if context.midway is not None else []
    return BestEpoch(stage.early_stopping, stage.epochs, context.first_epoch, earlier)


def _announce(report, decision, stage, context, options):
    if not options.verbose:
        for warning in report.warnings:
            logger.warning("Stage %d: %s", context.index + 1, warning)
        return
    print(report.format())
    print(f"  Feature cache: {decision}")
    midway = context.midway
    if midway is not None:
        print(
            f"  Resuming after epoch {midway.stage_epochs} of {stage.epochs} "
            f"(from {options.checkpoint.directory})"
        )


def _compile(fitted, model, optimizer, jit_compile, soft_targets=False):
    """Compiles `fitted` (the model, or its head model) with the classifier's
    training options: a stage changes the optimizer (and, with MixUp or
    CutMix, takes soft targets), nothing else."""
    if fitted is model:
        model.recompile(optimizer, jit_compile=jit_compile, **({"soft_targets": True} if soft_targets else {}))
    else:
        fitted.compile(
            optimizer=optimizer, loss=model.training_loss(), metrics=model.training_metrics(), jit_compile=jit_compile
        )
    fix_multi_worker_fit(fitted)  # keras-team/keras#20585; a no-op unless needed


def _fit(fitted, train, validation, stage, options, context, callbacks):
    """`fitted.fit` for the stage's epochs, from where the plan stands.
    `callbacks` is `(EpochSaver or None, BestEpoch or None)`."""
    saver, best = callbacks
    first = context.first_epoch
    prebuild_optimizer(fitted)  # one trace of the training step, not two (tfl/model/prebuild.py)
    fitted_history = fitted.fit(
        train,
        validation_data=validation,
        initial_epoch=first if saver is None else saver.initial_epoch(fitted),
        epochs=first + stage.epochs,
        callbacks=[EpochOrder(), *options.callbacks, *(c for c in (saver, best) if c is not None)],
        shuffle=False,  # the tf.data pipelines shuffle, with their seed
        verbose=options.verbose,
    )
    history = _plain(fitted_history.history)
    return history if saver is None else saver.merged(history)


def _fit_model(model, data, stage, plan, options, context, callbacks):
    """The "model" route; returns the stage's history."""
    momenta = [(layer, layer.momentum) for layer in plan.batchnorm_layers]
    for layer, momentum in momenta:
        layer.momentum = batchnorm_momentum_for(context.steps, momentum)
    mixing = bool(options.mixup or options.cutmix)

    def compile_model(optimizer):
        _compile(model, model, optimizer, options.jit_compile, soft_targets=mixing)

    if context.shared is not None and context.index in context.shared.indices:
        forget_compile(model)
        context.shared.start(model, stage, plan, context.steps, compile_model)
    else:
        optimizer = make_optimizer(stage, context.steps, plan.lr_multipliers, model.training_options.weight_decay)
        if options.checkpoint is None and not tf.distribute.has_strategy():
            compile_stage(model, optimizer, compile_model, jit_compile=options.jit_compile, soft_targets=mixing)
        else:  # a checkpoint restores the optimizer's state; a strategy has its own fixes (_compile)
            forget_compile(model)
            compile_model(optimizer)
    train = data.train
    if mixing:
        train = mix_batches(train, model.num_classes, mixup=options.mixup, cutmix=options.cutmix, seed=options.seed)
    try:
        return _fit(model, train, data.validation, stage, options, context, callbacks)
    finally:
        for layer, momentum in momenta:
            layer.momentum = momentum


def _fit_head(model, features, stage, options, context, callbacks):
    """The "cached_head" route: `fit` of the model's own head layers on the
    cached features, in batches of the data's size (as many per view as the
    data has); returns the stage's history."""
    head = model.head_model()
    batch_size = features.batch_size_for(context.steps)
    train, validation = features.datasets(batch_size, options.seed)
    steps = max(1, -(-len(features.train_features) // batch_size))
    optimizer = make_optimizer(stage, steps, weight_decay=model.training_options.weight_decay)
    _compile(head, model, optimizer, options.jit_compile)
    return _fit(head, train, validation, stage, options, context, callbacks)


def _fit_probe(model, features, steps, verbose):
    """The "probe" route; returns `(history, probe info)`."""
    start = time.perf_counter()
    options = model.training_options
    fitted = fit_linear_probe(
        features.train_features,
        features.train_labels,
        model.num_classes,
        multi_label=model.multi_label,
        class_weights=model.class_weights() if options.loss is None else None,
        label_smoothing=options.label_smoothing if options.loss is None else 0.0,
    )
    model.head.set_weights([fitted.kernel, fitted.bias])
    info = {
        "iterations": fitted.iterations,
        "converged": fitted.converged,
        "objective": fitted.loss,
        "l2": fitted.l2,
        "seconds": time.perf_counter() - start,
    }
    record = _evaluate_head(model, features, steps, verbose=False)
    if verbose:
        print(
            f"  Linear probe: {fitted.iterations} L-BFGS iterations "
            f"({'converged' if fitted.converged else 'not converged'}) in {info['seconds']:.2f} s; "
            + _format({k: v[0] for k, v in record.items()})
        )
    return record, info


def _evaluate_head(model, features, steps, verbose):
    """The head's loss and metrics on the cached training (and validation)
    features, as a one-epoch history."""
    head = model.head_model()
    _compile(head, model, keras.optimizers.Adam(), jit_compile=False)
    train, validation = features.datasets(features.batch_size_for(steps), seed=0)
    record = {key: [float(value)] for key, value in head.evaluate(train, verbose=0, return_dict=True).items()}
    if validation is not None:
        for key, value in head.evaluate(validation, verbose=0, return_dict=True).items():
            record[f"val_{key}"] = [float(value)]
    if verbose:
        print("  " + _format({k: v[0] for k, v in record.items()}))
    return record


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
    if not model.compiled:  # a first stage on cached features compiled only the head model
        forget_compile(model)
        _compile(model, model, keras.optimizers.Adam(), jit_compile=False)
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


def _plain(history):
    return {k: [float(v) for v in vs] for k, vs in history.items()}


def _format(metrics):
    return ", ".join(f"{k} {v:.4f}" for k, v in metrics.items())
