"""FixMatch (Sohn et al. 2020): pseudo-labels from weak views, trained on strong views, on the fly.

Each step takes a labelled batch of B images and an unlabelled batch of
`mu * B`. The classifier, in inference mode and without gradient, predicts a
weakly augmented view of each unlabelled image (a horizontal flip and a shift
of up to 12.5%); where its top probability reaches `threshold`, that class is
the pseudo-label of a strongly augmented view of the same image (the weak
changes, then RandAugment's colour and geometry operations and a random
erased patch, all `keras.layers`). The loss is

    cross-entropy(labelled) + lambda_u * sum(mask * cross-entropy(pseudo-label, strong view)) / (mu * B)

so the examples below the threshold add nothing. The labelled term is the
classifier's own training loss (`Classifier.training_loss`: its label
smoothing and class weights, `"balanced"` counted from the labelled training
data by `fit_fixmatch`, as in every stage); the pseudo-labels' term is plain
cross-entropy. Images only, and only on
the route that runs the backbone (a stage on cached features never sees the
augmented views); BatchNorm stays in inference mode (a stage that trains it
is refused), and so are MixUp and CutMix (FixMatch does not mix batches). A
stage's `early_stopping` stops it on `val_loss` and keeps its best epoch's
weights, as `fit_stages` does. True labels of unlabelled images, where known,
only score the pseudo-labels (`pseudo_label_accuracy`, per-class counts per epoch).
"""

import dataclasses
import time

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from tfl.model.classifier import Classifier
from tfl.model.prebuild import prebuild_optimizer
from tfl.train.early_stopping import BestEpoch
from tfl.train.feature_cache import cache_decision
from tfl.train.fit_stage import FitOptions
from tfl.train.fit_stage import check_early_stopping
from tfl.train.fit_stage import choose_route
from tfl.train.freezing import apply_stage
from tfl.train.history import StageRecord
from tfl.train.history import TrainingHistory
from tfl.train.loop import class_counts
from tfl.train.optimizers import make_optimizer
from tfl.train.pseudo_labels import check_threshold

UNKNOWN = -1


def weak_augmentation(seed=None):
    """FixMatch's weak view: a horizontal flip and a shift of up to 12.5% (reflected borders).

    Examples:

    >>> weak_augmentation(seed=0)(np.zeros((2, 32, 32, 3), "float32"), training=True).shape
    TensorShape([2, 32, 32, 3])
    """
    return keras.Sequential(
        [
            keras.layers.RandomFlip("horizontal", seed=seed),
            keras.layers.RandomTranslation(0.125, 0.125, fill_mode="reflect", seed=seed),
        ],
        name="weak_augmentation",
    )


def strong_augmentation(seed=None):
    """FixMatch's strong view: the weak one, RandAugment (2 operations) and a random erased patch.

    Examples:

    >>> strong_augmentation(seed=0)(np.full((2, 32, 32, 3), 128, "float32"), training=True).shape
    TensorShape([2, 32, 32, 3])
    """
    return keras.Sequential(
        [
            keras.layers.RandomFlip("horizontal", seed=seed),
            keras.layers.RandomTranslation(0.125, 0.125, fill_mode="reflect", seed=seed),
            keras.layers.RandAugment(value_range=(0, 255), num_ops=2, factor=0.5, seed=seed),
            keras.layers.RandomErasing(factor=0.5, scale=(0.02, 0.25), value_range=(0, 255), seed=seed),
        ],
        name="strong_augmentation",
    )


class FixMatch(keras.Model):
    """A classifier trained with FixMatch on `({"labelled", "unlabeled"}, {"labelled", "unlabeled"})` batches
    (`fixmatch_dataset`); `y["unlabeled"]` holds true labels (-1 unknown) that only score the pseudo-labels.

    Args:
        classifier: a single-label image classifier (`tfl.model.Classifier`).
        threshold: the least top probability of the weak view for a pseudo-label, in (0, 1].
        lambda_u: weight of the unlabelled loss, >= 0.
        seed: seed of the augmentations.

    Examples:

    >>> fixmatch = FixMatch(model, threshold=0.95)
    >>> fixmatch.compile(optimizer=keras.optimizers.Adam(1e-3))
    >>> pool = tf.data.Dataset.from_tensor_slices({"images": images.astype("float32")}).batch(4)
    >>> batches = fixmatch_dataset(data.train, pool, batch_size=4, mu=2)
    >>> x, y = next(iter(batches))
    >>> x["labelled"]["images"].shape[0], x["unlabeled"]["images"].shape[0]  # mu times the labelled batch
    (4, 8)

    Then `fixmatch.fit(batches, epochs=10)` trains `model`; its history has
    `loss`, `accuracy` and `mask_rate` (the share of unlabelled images above
    the threshold).
    """

    def __init__(self, classifier, threshold=0.95, lambda_u=1.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.classifier = classifier
        self.threshold = check_threshold(threshold)
        if isinstance(lambda_u, bool) or not isinstance(lambda_u, (int, float)) or lambda_u < 0:
            raise ValueError(f"lambda_u is the weight of the unlabelled loss, >= 0. Received: lambda_u={lambda_u!r}")
        self.lambda_u = float(lambda_u)
        if classifier.training_options.class_weight == "balanced":
            raise ValueError(
                "class_weight='balanced' needs the training labels. Train with tfl.train.fit_fixmatch, which "
                "counts them, or pass the weights: model.compile(class_weight={class name: weight})."
            )
        # The classifier's label smoothing, class weights (or own loss), as every stage trains with.
        loss = classifier.training_loss()
        self.supervised_loss = keras.losses.get(loss) if isinstance(loss, str) else loss
        self.weak = weak_augmentation(seed)
        self.strong = strong_augmentation(seed)
        count = classifier.num_classes
        self.class_counts = self.add_weight(shape=(3, count), initializer="zeros", trainable=False, name="class_counts")
        self.trackers = {
            name: keras.metrics.Mean(name=name)
            for name in ("loss", "supervised_loss", "unlabeled_loss", "mask_rate")
        }
        self.pseudo_label_accuracy = keras.metrics.Mean(name="pseudo_label_accuracy")
        self.accuracy = keras.metrics.SparseCategoricalAccuracy(name="accuracy")
        self.val_loss_tracker = keras.metrics.Mean(name="validation_loss")
        self.val_accuracy = keras.metrics.SparseCategoricalAccuracy(name="validation_accuracy")

    @property
    def metrics(self):
        return [
            *self.trackers.values(), self.accuracy, self.pseudo_label_accuracy, self.val_loss_tracker, self.val_accuracy
        ]

    def call(self, inputs, training=None):
        return self.classifier(inputs, training=training)

    def fit(self, x=None, *args, **kwargs):
        """`keras.Model.fit` on a `fixmatch_dataset`; `shuffle` is False by default (the pipelines shuffle)."""
        if isinstance(x, tf.data.Dataset):
            kwargs.setdefault("shuffle", False)
        prebuild_optimizer(self)  # one trace of the training step, not two
        return super().fit(x, *args, **kwargs)

    def train_step(self, data):
        x, y = data
        unlabeled = x["unlabeled"]["images"]
        weak = self.weak(unlabeled, training=True)
        strong = self.strong(unlabeled, training=True)
        guess = ops.stop_gradient(self.classifier({"images": weak}, training=False))
        pseudo = ops.argmax(guess, axis=-1)
        mask = ops.cast(ops.max(guess, axis=-1) >= self.threshold, "float32")
        with tf.GradientTape() as tape:
            labelled = self.classifier(x["labelled"], training=True)
            supervised = ops.mean(self.supervised_loss(y["labelled"], labelled))
            predicted = self.classifier({"images": strong}, training=True)
            unlabeled_loss = ops.sum(mask * keras.losses.sparse_categorical_crossentropy(pseudo, predicted)) / ops.cast(
                ops.shape(mask)[0], "float32"
            )
            loss = supervised + self.lambda_u * unlabeled_loss
            scaled = self.optimizer.scale_loss(loss)
        variables = self.classifier.trainable_variables
        self.optimizer.apply(tape.gradient(scaled, variables), variables)
        self._count(pseudo, mask, y["unlabeled"])
        for name, value in (("loss", loss), ("supervised_loss", supervised), ("unlabeled_loss", unlabeled_loss)):
            self.trackers[name].update_state(value)
        self.trackers["mask_rate"].update_state(ops.mean(mask))
        self.accuracy.update_state(y["labelled"], labelled)
        return {m.name: m.result() for m in (*self.trackers.values(), self.accuracy, self.pseudo_label_accuracy)}

    def _count(self, pseudo, mask, truth):
        """Per class: pseudo-labels taken, of them with a known true label, of them right."""
        truth = ops.cast(truth, "int32")
        pseudo = ops.cast(pseudo, "int32")
        known = mask * ops.cast(truth != UNKNOWN, "float32")
        right = known * ops.cast(truth == pseudo, "float32")
        one_hot = ops.one_hot(pseudo, self.classifier.num_classes)
        counts = ops.stack([ops.sum(one_hot * m[:, None], axis=0) for m in (mask, known, right)])
        self.class_counts.assign_add(counts)
        self.pseudo_label_accuracy.update_state(ops.sum(right) / ops.maximum(ops.sum(known), 1.0), ops.sum(known))

    def test_step(self, data):
        x, y = data[0], data[1]
        probabilities = self.classifier(x, training=False)
        labels = ops.cast(y, "int32")
        self.val_loss_tracker.update_state(keras.losses.sparse_categorical_crossentropy(labels, probabilities))
        self.val_accuracy.update_state(labels, probabilities)
        return {"loss": self.val_loss_tracker.result(), "accuracy": self.val_accuracy.result()}


def fixmatch_dataset(labelled, unlabeled, batch_size, mu=7, true_labels=None, seed=0):
    """Pairs each labelled batch with `mu * batch_size` examples of the repeated, shuffled unlabelled pool.

    Args:
        labelled: a batched dataset of `(inputs, labels)`, e.g. `ImageData.train`.
        unlabeled: a batched dataset of inputs (`UnlabeledData.inputs`).
        batch_size: the labelled batch size B.
        mu: unlabelled examples per labelled one, >= 1.
        true_labels: the pool's true labels (-1 unknown) for the report, or None.
        seed: the pool's shuffle seed.

    Returns:
        A dataset of `({"labelled": inputs, "unlabeled": inputs}, {"labelled": labels,
        "unlabeled": true labels})`, one element per labelled batch.

    Examples:

    >>> pool = tf.data.Dataset.from_tensor_slices({"images": images.astype("float32")}).batch(4)
    >>> x, y = next(iter(fixmatch_dataset(data.train, pool, batch_size=4, mu=2)))
    >>> sorted(x), x["unlabeled"]["images"].shape[0]
    (['labelled', 'unlabeled'], 8)
    """
    if isinstance(mu, bool) or not isinstance(mu, int) or mu < 1:
        raise ValueError(f"mu is the number of unlabelled examples per labelled one, >= 1. Received: mu={mu!r}")
    count = int(unlabeled.unbatch().reduce(0, lambda total, _: total + 1))
    if count < 1:
        raise ValueError("The unlabelled pool is empty: FixMatch needs unlabelled images.")
    truth = np.full(count, UNKNOWN, np.int32) if true_labels is None else np.asarray(true_labels, np.int32)
    pool = tf.data.Dataset.zip((unlabeled.unbatch(), tf.data.Dataset.from_tensor_slices(truth)))
    pool = pool.cache().repeat().shuffle(count, seed=seed).batch(mu * batch_size, drop_remainder=True)
    paired = tf.data.Dataset.zip((labelled, pool)).map(
        lambda first, second: (
            {"labelled": first[0], "unlabeled": second[0]},
            {"labelled": first[1], "unlabeled": second[1]},
        )
    )
    return paired.prefetch(tf.data.AUTOTUNE)


@dataclasses.dataclass
class FixMatchRecord:
    """What `fit_fixmatch` did: per stage, per epoch, the losses, the share of unlabelled
    images above the threshold (`mask_rate`) and per class the pseudo-labels taken
    (counted over the epoch's unlabelled batches) and their accuracy where true labels are known.

    Examples:

    >>> FixMatchRecord(threshold=0.95, lambda_u=1.0, mu=7, num_unlabeled=10, num_known=0).to_dict()["mu"]
    7
    """

    threshold: float
    lambda_u: float
    mu: int
    num_unlabeled: int
    num_known: int
    stages: list = dataclasses.field(default_factory=list)
    seconds: float = 0.0
    method: str = "fixmatch"
    history: object = None

    def to_dict(self):
        """The record as JSON-ready data (the `TrainingHistory` left out: report.json has its stages)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "history"}


class _EpochCounts(keras.callbacks.Callback):
    """Reads and resets the per-class counts of a `FixMatch` model after each epoch."""

    def __init__(self, fixmatch, class_names):
        super().__init__()
        self.fixmatch, self.class_names, self.epochs = fixmatch, class_names, []

    def on_epoch_begin(self, epoch, logs=None):
        self.fixmatch.class_counts.assign(ops.zeros_like(self.fixmatch.class_counts))

    def on_epoch_end(self, epoch, logs=None):
        taken, known, right = keras.ops.convert_to_numpy(self.fixmatch.class_counts)
        self.epochs.append({
            name: {
                "accepted": int(taken[c]), "known": int(known[c]), "correct": int(right[c]),
                "accuracy": float(right[c] / known[c]) if known[c] else None,
            }
            for c, name in enumerate(self.class_names)
        })


def fit_fixmatch(model, data, unlabeled, stages, *, threshold=0.95, lambda_u=1.0, mu=7, options=None, **overrides):
    """Trains an image classifier through `stages` with FixMatch on `unlabeled` (see the module doc).

    Args:
        model: a single-label image classifier.
        data: its labelled `ImageData`.
        unlabeled: an `UnlabeledData` of images (true labels only reported).
        stages: the plan; every stage must run the backbone (no linear probe,
            `feature_cache="off"` for head stages) and keep BatchNorm frozen.
        threshold: the least top probability of the weak view, in (0, 1].
        lambda_u: weight of the unlabelled loss.
        mu: unlabelled images per labelled one in a step.
        options: `FitOptions` (verbose, seed, feature_cache, callbacks), or None.
        **overrides: `FitOptions` fields to change.

    Returns:
        A `FixMatchRecord`; the model holds the trained weights.

    Examples:

    >>> from tfl.data.unlabeled import unlabeled_images
    >>> pool = unlabeled_images(images, image_size=32)
    >>> record = fit_fixmatch(model, data, pool, [Stage("none")], mu=1, feature_cache="off", verbose=0)
    >>> sorted(record.stages[0]["history"])[:2]
    ['accuracy', 'loss']
    """
    options = FitOptions.of(options, **overrides)
    _check(model, data, unlabeled, stages, options)
    model.balance_classes(class_counts(model, data))
    start = time.perf_counter()
    steps = max(1, int(data.train.cardinality()))
    batch_size = max(1, -(-data.num_train // steps))
    record = FixMatchRecord(
        threshold=check_threshold(threshold), lambda_u=float(lambda_u), mu=mu,
        num_unlabeled=unlabeled.num_examples, num_known=unlabeled.num_known,
    )
    train = fixmatch_dataset(data.train, unlabeled.inputs, batch_size, mu, unlabeled.true_labels, options.seed)
    record.history = TrainingHistory(plan=tuple(stages))
    for index, stage in enumerate(stages):
        plan = apply_stage(model, stage)
        fixmatch = FixMatch(model, threshold, lambda_u, seed=options.seed)
        optimizer = make_optimizer(stage, steps, plan.lr_multipliers, model.training_options.weight_decay)
        fixmatch.compile(optimizer=optimizer)
        counts = _EpochCounts(fixmatch, model.class_names)
        first_epoch = sum(r.epochs for r in record.history.stages)
        # As in every stage: stop after `early_stopping` epochs without a lower val_loss, on the best epoch's weights.
        best = None if stage.early_stopping is None else BestEpoch(stage.early_stopping, stage.epochs, first_epoch)
        stage_start = time.perf_counter()
        history = fixmatch.fit(
            train, validation_data=data.validation, initial_epoch=first_epoch, epochs=first_epoch + stage.epochs,
            shuffle=False, verbose=options.verbose,
            callbacks=[counts, *options.callbacks, *([best] if best else [])],
        )
        logs = {k: [float(v) for v in values] for k, values in history.history.items()}
        seconds = time.perf_counter() - stage_start
        if best is not None and options.verbose:
            print(f"  {best.describe()}")
        record.stages.append({"index": index, "unfreeze": stage.unfreeze, "history": logs, "per_class": counts.epochs})
        record.history.stages.append(StageRecord(
            index=index, unfreeze=stage.unfreeze, trainable_stages=list(plan.trainable_stages),
            first_epoch=first_epoch, epochs=len(counts.epochs),
            learning_rate=stage.learning_rate, lr_decay=stage.lr_decay, train_batchnorm=False,
            trainable_params=plan.trainable_params, seconds=seconds, history=logs,
            early_stopping=None if best is None else best.summary(),
        ))
    record.seconds = time.perf_counter() - start
    return record


def format_fixmatch(record, class_names):
    """The last epoch of each FixMatch stage: pseudo-labels per class (accuracy where known), mask rate.

    Examples:

    >>> record = {"threshold": 0.95, "mu": 7, "lambda_u": 1.0, "stages": [{"index": 0, "unfreeze": "none",
    ...     "history": {"mask_rate": [0.5], "val_accuracy": [0.75]},
    ...     "per_class": [{"cat": {"accepted": 3, "accuracy": 1.0}, "dog": {"accepted": 1, "accuracy": None}}]}]}
    >>> print(format_fixmatch(record, ["cat", "dog"]).splitlines()[-1])
        1  none              3 (1.00)             1    0.500    0.7500
    """
    lines = [
        f"FixMatch: threshold {record['threshold']}, mu {record['mu']}, lambda_u {record['lambda_u']}; "
        "pseudo-labels per class in the last epoch (their accuracy where the true labels are known)",
        "  stage  unfreeze  " + "  ".join(f"{name[:12]:>12}" for name in class_names) + "  mask_rate   val_acc",
    ]
    for stage in record["stages"]:
        last = stage["per_class"][-1] if stage["per_class"] else {}
        cells = []
        for name in class_names:
            counts = last.get(name, {"accepted": 0, "accuracy": None})
            accuracy = "" if counts["accuracy"] is None else f" ({counts['accuracy']:.2f})"
            cells.append(f"{str(counts['accepted']) + accuracy:>12}")
        history = stage["history"]
        validation = history.get("val_accuracy", [None])[-1]
        validation = "-" if validation is None else f"{validation:.4f}"
        lines.append(
            f"  {stage['index'] + 1:>5}  {str(stage['unfreeze'])[:8]:<8}  " + "  ".join(cells)
            + f"  {history['mask_rate'][-1]:>9.3f}  {validation:>8}"
        )
    return "\n".join(lines)


def _check(model, data, unlabeled, stages, options):
    if isinstance(model, Classifier) and model.task == "image_text":
        raise ValueError(
            f"FixMatch augments images: it trains a single-label image classifier (a fusion model of image "
            f"branches only too), and {model.name!r} is a fusion model of image and text branches (task "
            f"{model.task!r}): each of its examples is an image and a text together, and unlabelled data holds "
            "images alone. Train it on its labelled examples alone (tfl.train.fit_stages)."
        )
    if not isinstance(model, Classifier) or model.task != "image" or model.multi_label:
        raise ValueError(
            "FixMatch augments images: it trains a single-label image classifier. For text, or multi-label "
            "data, use self-training with pseudo-label rounds (method 'pseudo_label')."
        )
    if unlabeled.task != "image":
        raise ValueError(f"FixMatch needs unlabelled images; {unlabeled.source} holds {unlabeled.task}.")
    if options.mixup or options.cutmix:
        raise ValueError(
            "FixMatch trains on its own weak and strong views of the images and does not mix batches: MixUp "
            f"and CutMix would be ignored. Received: mixup={options.mixup}, cutmix={options.cutmix}. Set both "
            "to 0 (leave out --mixup and --cutmix), or use method 'pseudo_label', whose rounds mix the batches "
            "of stages that train the whole model."
        )
    for index, stage in enumerate(stages):
        check_early_stopping(stage, data, index)
        decision = cache_decision(model, stage, options.feature_cache, options.augmented_views)
        if choose_route(stage, decision, index) != "model":
            raise ValueError(
                f"FixMatch needs the backbone in the loop (its views are augmented images), and stage {index + 1} "
                f"({stage.unfreeze}{', a linear probe' if stage.linear_probe else ''}) would train on cached "
                f"features ({decision}). Use stages without a probe and feature_cache='off' (--feature-cache off), "
                "e.g. 'none:10:1e-3,top2:5:1e-4', or method 'pseudo_label' for cached rounds."
            )
        if stage.train_batchnorm:
            raise ValueError(
                f"FixMatch keeps BatchNorm frozen (its strongly augmented batches would skew the statistics); "
                f"stage {index + 1} trains BatchNorm. Set train_batchnorm=False."
            )
