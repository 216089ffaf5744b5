"""`fit_adaptation`: domain adaptation as one more step after the stages (what `tfl train` runs).

It sets the `trainable` flags like a stage, wraps the classifier in a
`DomainAdaptation` model, and fits it on the source training data paired
with the target pool, logging the unsupervised scores (IM, SND) on the
target pool every epoch, and the target accuracy on the held-out labelled
target examples where there are any. The classifier holds the adapted
weights afterwards.
"""

import dataclasses
import time

import keras
import numpy as np

from tfl.adapt.domain_adaptation import DomainAdaptation
from tfl.adapt.domain_adaptation import paired_dataset
from tfl.adapt.reversal_ramp import ReversalRamp
from tfl.adapt.unsupervised_scores import UnsupervisedScores
from tfl.config.stage import Stage
from tfl.config.train_config import ALIGNING_METHODS
from tfl.train.freezing import apply_stage


@dataclasses.dataclass
class AdaptationRecord:
    """What `fit_adaptation` did and measured.

    Args:
        method, alpha, beta, align_weight, epochs, learning_rate, unfreeze:
            the settings it ran with.
        trainable_stages: the backbone stages that trained.
        trainable_params: parameters that trained (the DANN domain classifier
            excluded).
        num_target: examples in the target pool.
        num_target_labelled: of those, examples whose label was used.
        num_target_test: held-out labelled target examples.
        history: per-epoch logs of `DomainAdaptation.fit` (`loss`,
            `source_loss`, `target_loss`, `alignment_loss`, `target_im`,
            `target_snd`, `val_accuracy` with a target test set, ...).
        target_accuracy_before: held-out target accuracy before adapting
            (the model the stages trained), or None without a test set.
        target_accuracy_after: the same after adapting.
        restored_epoch: the epoch kept by `restore_best` (0-based), or None.
        seconds: wall time.

    Examples:

    >>> list(AdaptationRecord.__annotations__)[:4]
    ['method', 'alpha', 'beta', 'align_weight']
    """

    method: str
    alpha: float
    beta: float
    align_weight: float
    epochs: int
    learning_rate: float
    unfreeze: str
    trainable_stages: list
    trainable_params: int
    num_target: int
    num_target_labelled: int
    num_target_test: int
    history: dict
    target_accuracy_before: float | None
    target_accuracy_after: float | None
    restored_epoch: int | None
    seconds: float

    def to_dict(self):
        return dataclasses.asdict(self)


def fit_adaptation(
    model,
    source,
    target,
    *,
    method,
    alpha=1.0,
    beta=1.0,
    align_weight=1.0,
    epochs=5,
    learning_rate=1e-4,
    unfreeze="all",
    restore_best=None,
    verbose="auto",
):
    """Adapts a trained classifier to the target domain with `DomainAdaptation.fit`.

    Args:
        model: a single-label tfl classifier (image, fusion or text).
        source: the source data (`ImageData`/`TextData`); its `train` pipeline
            is paired batch by batch with the target pool.
        target: the `TargetData` of `tfl.data.image.target.load_target_images`
            (or anything with `train`, `images`, `test`, `test_labels`,
            `num_train`, `num_labelled`, `num_test`).
        method: "source_only", "joint", "mmd", "coral" or "dann".
        alpha: mixing weight of the source loss, in [0, 1].
        beta: mixing weight of the target supervised loss, in [0, 1].
        align_weight: weight of the alignment term, >= 0.
        epochs: passes over the source training data.
        learning_rate: Adam's learning rate.
        unfreeze: what trains besides the head, as in `Stage.unfreeze`;
            BatchNorm stays frozen.
        restore_best: None, "im" or "snd": keep the weights of the epoch with
            the best unsupervised score on the target pool.
        verbose: passed to `fit`.

    Returns:
        An `AdaptationRecord`.

    Examples:

    >>> from tfl.data.image.target import load_target_images
    >>> target = load_target_images("test/", class_names=data.class_names, image_size=32, labels_per_class=0)
    >>> record = fit_adaptation(model, data, target, method="coral", epochs=1, unfreeze="none", verbose=0)
    >>> record.method, record.num_target, record.num_target_labelled, sorted(record.history)[:2]
    ('coral', 4, 0, ['alignment_loss', 'loss'])
    """
    start = time.perf_counter()
    stage = Stage(unfreeze, epochs=epochs, learning_rate=learning_rate)
    plan = apply_stage(model, stage)
    trainable_params = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    adapted = DomainAdaptation(model, method, alpha=alpha, beta=beta, align_weight=align_weight)
    adapted.compile(optimizer=keras.optimizers.Adam(learning_rate))
    target_stream = target.train if target.num_labelled else target.train.map(lambda images, labels: images)
    scores = UnsupervisedScores(target.images, restore_best=restore_best)
    callbacks = [scores] + ([ReversalRamp()] if method == "dann" else [])
    before = _accuracy(model, target)
    if verbose:
        print(_describe_run(adapted, plan, target, epochs, learning_rate))
    fitted = adapted.fit(
        paired_dataset(source.train, target_stream),
        epochs=epochs,
        validation_data=target.test,
        callbacks=callbacks,
        shuffle=False,  # the tf.data pipelines shuffle, with their seeds
        verbose=verbose,
    )
    after = _accuracy(model, target)
    if verbose and before is not None:
        print(f"  Held-out target accuracy: {before:.4f} before, {after:.4f} after adapting")
    return AdaptationRecord(
        method=method,
        alpha=float(alpha),
        beta=float(beta),
        align_weight=float(align_weight),
        epochs=int(epochs),
        learning_rate=float(learning_rate),
        unfreeze=stage.unfreeze,
        trainable_stages=list(plan.trainable_stages),
        trainable_params=trainable_params,
        num_target=int(target.num_train),
        num_target_labelled=int(target.num_labelled),
        num_target_test=int(target.num_test),
        history={k: [float(v) for v in vs] for k, vs in fitted.history.items()},
        target_accuracy_before=before,
        target_accuracy_after=after,
        restored_epoch=scores.best_epoch,
        seconds=time.perf_counter() - start,
    )


def check_target_labels(target, *, method, align_weight, source):
    """Refuses a target pool without labels when `method` learns on the target only from labels.

    `tfl train` calls it once the target is loaded, before the stages train,
    so that such a run fails at once instead of after every stage
    (`DomainAdaptation` itself would refuse only at its first step).

    Args:
        target: the `TargetData` of `tfl.data.image.target.load_target_images`.
        method: the adaptation method.
        align_weight: the weight of its alignment term.
        source: the target data as the user named it (`data.target_source`).

    Examples:

    >>> from tfl.data.image.target import load_target_images
    >>> target = load_target_images("test/", class_names=data.class_names, image_size=32, labels_per_class=0)
    >>> check_target_labels(target, method="coral", align_weight=1.0, source="test/")  # aligns: no labels needed
    """
    aligns = method in ALIGNING_METHODS and align_weight > 0
    if target.num_labelled or method in (None, "source_only") or aligns:
        return
    raise ValueError(
        f"The target data {source!r} has no labelled images in its training pool ({target.num_train} images, "
        f"{target.num_test} labelled ones held out), and adaptation method {method!r} with "
        f"align_weight={align_weight:g} learns on the target only from labels: nothing would learn on the "
        "target. Put labelled target images in class folders named like the source's classes (and leave "
        "train.adaptation.labels_per_class / --target-labels-per-class above 0), or use an alignment method "
        "(mmd, coral, dann; train.adaptation.method, --adapt) with align_weight > 0."
    )


def _describe_run(adapted, plan, target, epochs, learning_rate):
    """The line `fit_adaptation` prints before fitting: the objective, what trains, the target data."""
    trains = ", ".join(plan.trainable_stages) or "head only"
    return (
        f"Adaptation: {adapted.method} (alpha {adapted.alpha:g}, beta {adapted.beta:g}, "
        f"align_weight {adapted.align_weight:g}), {epochs} epoch(s) at {learning_rate:g}; trains {trains}; "
        f"target pool {target.num_train} ({target.num_labelled} labelled), {target.num_test} held out"
    )


def _accuracy(model, target):
    if target.test is None:
        return None
    probabilities = model.predict(target.test, verbose=0)
    return float(np.mean(np.argmax(probabilities, axis=-1) == np.asarray(target.test_labels)))
