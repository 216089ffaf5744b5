"""`fit_stages`: a plan of stages, run in order, one `fit_stage` each.

A loop rather than a callback: in Keras 3 a `trainable` change after
`compile()` is ignored until the next `compile()`, so unfreezing inside a
callback during `fit` silently does nothing.
"""

import numpy as np

from tfl.config.stage import Stage
from tfl.config.stage import parse_stages
from tfl.model.classifier import Classifier
from tfl.train.batchnorm import steps_per_epoch
from tfl.train.distribute import check_scope
from tfl.train.feature_cache import FeatureCache
from tfl.train.feature_cache import cache_decision
from tfl.train.fit_stage import FitOptions
from tfl.train.fit_stage import StageContext
from tfl.train.fit_stage import check_early_stopping
from tfl.train.fit_stage import check_mixing
from tfl.train.fit_stage import choose_route
from tfl.train.fit_stage import fit_stage
from tfl.train.history import StageRecord
from tfl.train.history import TrainingHistory
from tfl.train.resume import plan_state
from tfl.train.resume import resume_point
from tfl.train.shared_trace import share_stages


def fit_stages(model, data, stages, options=None, *, cache=None, **overrides):
    """Trains `model` on `data` through `stages`, in order.

    Each stage sets the `trainable` flags (see `apply_stage`), compiles the
    model with a fresh optimizer at the stage's learning rate, and fits from
    where the previous stage stopped. Stages that train the whole model share
    one compile where that saves time (`FitOptions.shared_trace`): the
    optimizer then starts each stage fresh and moves only what the stage
    trains, with the same results (`tfl.train.shared_trace`). After a stage that trained BatchNorm
    layers, their statistics are recomputed over the training data (see
    `Stage.recalibrate_batchnorm`). Before each stage a `StageReport` shows
    what will train; after a stage that trained the backbone, a check warns
    when the model scores far worse on training batches with its moving
    statistics than with batch statistics.

    The stage's route (a linear probe, the head on cached features, or the
    whole model) is chosen by `choose_route` in `tfl/train/fit_stage.py`.

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
        stages: a sequence of `tfl.config.Stage`, or the same plan as text
            (`"none:5:1e-3,top2:3:1e-4"`, read by `tfl.config.parse_stages`).
        options: a `FitOptions` (callbacks, verbose, feature_cache,
            cache_dir, augmented_views, jit_compile, seed, mixup, cutmix,
            shared_trace, checkpoint), or None for the defaults.
        cache: the `FeatureCache` the head stages read their features from,
            or None for a fresh one (self-training hands each round's
            features to the same plan: `tfl.train.self_training`).
        **overrides: `FitOptions` fields to change, e.g. `verbose=0`.

    Returns:
        A `TrainingHistory` with every epoch of every stage.

    Examples:

    >>> stages = [Stage("none", epochs=2, learning_rate=1e-3),
    ...           Stage("top 1", epochs=1, learning_rate=1e-4)]
    >>> history = fit_stages(model, data, stages, verbose=0)
    >>> history.boundaries
    [0, 2]
    >>> history.stages[1].trainable_stages
    ['stride32']
    """
    stages = parse_stages(stages) if isinstance(stages, str) else tuple(stages)
    if not stages:
        raise ValueError("fit_stages() needs at least one stage.")
    wrong = [stage for stage in stages if not isinstance(stage, Stage)]
    if wrong:
        raise TypeError(
            f"fit_stages() takes tfl.config.Stage objects or a plan as text. Received: {wrong[0]!r} "
            f"({type(wrong[0]).__name__}). Write Stage('top 2', epochs=3, learning_rate=1e-4) or 'top2:3:1e-4'."
        )
    if not isinstance(model, Classifier):
        raise TypeError(
            f"fit_stages trains a tfl classifier (tfl.model.Classifier: ImageClassifier, TextClassifier, "
            f"FusionClassifier), e.g. from tfl.build_model. Received: {type(model).__name__}"
        )
    options = FitOptions.of(options, **overrides)
    check_scope(model)
    model.balance_classes(class_counts(model, data))
    history = TrainingHistory(plan=stages)
    context = StageContext(
        cache=cache or FeatureCache(model, cache_dir=options.cache_dir, augmented_views=options.augmented_views),
        steps=steps_per_epoch(data.train, data.num_train),
        count=len(stages),
        history=history,
    )
    decisions = [cache_decision(model, stage, options.feature_cache, options.augmented_views) for stage in stages]
    routes = [
        choose_route(stage, decision, index, prototype_head=model.prototype_head)
        for index, (stage, decision) in enumerate(zip(stages, decisions))
    ]
    for index, (stage, route, decision) in enumerate(zip(stages, routes, decisions)):
        # Every stage's refusal before any stage trains, not after the stages before it ran.
        check_early_stopping(stage, data, index)
        check_mixing(options, route, decision, index)
    context.shared = share_stages(model, stages, routes, context.steps, options.shared_trace, options.checkpoint)
    context.plan = plan_state(stages)
    resume = resume_point(options.checkpoint, stages, model, options.verbose)
    if resume is not None:
        history.stages.extend(StageRecord(**record) for record in resume.records)
        context.first_epoch = resume.epoch - resume.stage_epochs
    for index, stage in enumerate(stages):
        if resume is not None and index < resume.stage:
            continue
        context.index = index
        context.midway = resume if resume is not None and index == resume.stage and resume.stage_epochs else None
        record = fit_stage(model, data, stage, options, context)
        context.first_epoch += record.epochs  # the epochs that ran: fewer when the stage stopped early
    return history


def class_counts(model, data):
    """Training examples per class (positives per class when multi-label),
    counted only when `class_weight="balanced"` needs them."""
    if not model.counts_classes:
        return None
    counts = np.zeros(model.num_classes)
    for labels in data.train.map(lambda *batch: batch[1]).as_numpy_iterator():
        counts += labels.sum(axis=0) if model.multi_label else np.bincount(labels.reshape(-1), minlength=model.num_classes)
    return counts
