"""Self-training: rounds of pseudo-labels on unlabelled examples (Lee 2013; Xie et al. 2020).

Round 0 fits the stage plan on the labelled examples alone. Each later round

1. predicts the unlabelled examples with the model of the round before,
2. chooses their pseudo-labels afresh (`tfl.train.pseudo_labels`: the top
   probability must reach the threshold; classes kept in the labelled
   proportions), so an earlier pseudo-label can be dropped or change class,
3. fits the stage plan again, from the weights the run started with, on the
   labelled examples plus the examples holding a pseudo-label now: a round's
   model depends on its labels only, and errors do not pile up through
   training that carries on.

The examples below the threshold are never in a fit: the training data of a
round is built from the round's accepted examples only.

When every stage of the plan trains the head on a frozen backbone (a linear
probe, or head stages on cached features: `choose_route`), the backbone runs
once over the labelled, held-out and unlabelled examples, and every round
works on those features: a round costs a head fit (seconds). Otherwise each
round runs the plan on the model (`fit_stages`, which compiles per stage).
"""

import dataclasses
import time

import keras
import numpy as np
import tensorflow as tf

from tfl.data.order import shuffle_each_epoch
from tfl.model.classifier import Classifier
from tfl.traced import traced
from tfl.train.batchnorm import steps_per_epoch
from tfl.train.feature_cache import FeatureCache
from tfl.train.feature_cache import cache_decision
from tfl.train.fit_stage import FitOptions
from tfl.train.fit_stage import choose_route
from tfl.train.loop import fit_stages
from tfl.train.pseudo_labels import NO_LABEL
from tfl.train.pseudo_labels import check_balance
from tfl.train.pseudo_labels import check_threshold
from tfl.train.pseudo_labels import round_summary
from tfl.train.pseudo_labels import select_pseudo_labels


@dataclasses.dataclass
class SelfTrainingRecord:
    """What `fit_self_training` did, round by round.

    Attributes:
        rounds, threshold, balance: the settings.
        route: "cached features" (every round on the frozen backbone's
            features) or "model" (every round runs the plan on the model).
        num_labelled: labelled training examples.
        num_unlabeled: unlabelled examples.
        num_known: unlabelled examples whose true label is known (report only).
        per_round: one dict per round: `round`, `validation_accuracy`,
            `seconds`, and for rounds >= 1 the pseudo-labels the round trained
            on (`tfl.train.pseudo_labels.round_summary`: `accepted`,
            `per_class` with counts and accuracies, `accuracy`, `added`,
            `dropped`, `changed`); round 0 trained on the labels alone.
        history: the `TrainingHistory` of the last round's fit.
        pseudo_labels: each round's `PseudoLabels` (index 0: None).
        seconds: wall time.

    Examples:

    >>> record = SelfTrainingRecord(rounds=1, threshold=0.9, balance="none", route="model",
    ...     num_labelled=8, num_unlabeled=20, num_known=0, per_round=[])
    >>> sorted(record.to_dict())[:3]
    ['balance', 'method', 'num_known']
    """

    rounds: int
    threshold: float
    balance: str
    route: str
    num_labelled: int
    num_unlabeled: int
    num_known: int
    per_round: list
    history: object = None
    pseudo_labels: list = dataclasses.field(default_factory=list)
    seconds: float = 0.0
    method: str = "pseudo_label"

    def to_dict(self):
        """The record as JSON-ready data (the history and label arrays left out)."""
        skip = ("history", "pseudo_labels")
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in skip}

    def format(self, class_names):
        """A table of the rounds (`format_rounds`)."""
        return format_rounds(self.to_dict(), class_names)


def fit_self_training(model, data, unlabeled, stages, *, rounds=3, threshold=0.9, balance="proportional",
                      options=None, **overrides):
    """Trains `model` on `data` and pseudo-labels of `unlabeled`, in rounds.

    Args:
        model: a single-label tfl classifier.
        data: its labelled `ImageData` or `TextData`.
        unlabeled: a `tfl.data.unlabeled.UnlabeledData` of the same task
            (its true labels, where known, are only reported).
        stages: the plan each round fits (a sequence of `tfl.config.Stage`).
        rounds: pseudo-label rounds after the labelled-only round 0, >= 1.
        threshold: the least top probability for a pseudo-label, in (0, 1].
        balance: "proportional" or "none" (`tfl.train.pseudo_labels`).
        options: `FitOptions` for every fit (no checkpoint: a run of rounds
            does not resume), or None.
        **overrides: `FitOptions` fields to change, e.g. `verbose=0`.

    Returns:
        A `SelfTrainingRecord`; the model holds the last round's weights.

    Examples:

    >>> from tfl.data.unlabeled import unlabeled_images
    >>> unlabeled = unlabeled_images(images, image_size=32, true_labels=labels)
    >>> record = fit_self_training(model, data, unlabeled, [Stage("probe")], rounds=1, threshold=0.5, verbose=0)
    >>> [entry["round"] for entry in record.per_round], record.route
    ([0, 1], 'cached features')
    """
    _check(model, unlabeled, rounds)
    threshold, balance = check_threshold(threshold), check_balance(balance)
    options = FitOptions.of(options, **overrides)
    if options.checkpoint is not None:
        raise ValueError("Self-training runs several fits and does not resume: pass checkpoint=None.")
    start = time.perf_counter()
    stages = tuple(stages)
    cached = _all_cached(model, stages, options)
    rounds_of = _CachedRounds(model, data, unlabeled, options) if cached else _ModelRounds(model, data, unlabeled)
    counts = np.bincount(rounds_of.labelled_labels, minlength=model.num_classes)
    initial = [np.array(weight) for weight in model.get_weights()]
    record = SelfTrainingRecord(
        rounds=rounds, threshold=threshold, balance=balance, route="cached features" if cached else "model",
        num_labelled=int(counts.sum()), num_unlabeled=unlabeled.num_examples, num_known=unlabeled.num_known,
        per_round=[],
    )
    pseudo, summary = None, None
    for round_index in range(rounds + 1):
        round_start = time.perf_counter()
        if round_index:
            probabilities = rounds_of.unlabeled_probabilities()
            previous = None if pseudo is None else pseudo.labels
            pseudo = select_pseudo_labels(probabilities, threshold, balance, counts)
            summary = round_summary(pseudo, previous, unlabeled.true_labels, model.class_names)
            model.set_weights(initial)
        if options.verbose:
            taken = "labels only" if pseudo is None else f"{summary['accepted']} pseudo-labels"
            print(f"Self-training round {round_index} of {rounds}: {taken}")
        labels = None if pseudo is None else pseudo.labels
        round_data, cache = rounds_of.round_data(labels, options.seed)
        record.history = fit_stages(model, round_data, stages, options, cache=cache)
        record.pseudo_labels.append(pseudo)
        record.per_round.append({
            "round": round_index,
            "pseudo_labels": summary,
            "validation_accuracy": rounds_of.validation_accuracy(),
            "seconds": time.perf_counter() - round_start,
        })
    record.seconds = time.perf_counter() - start
    if options.verbose:
        print(record.format(model.class_names))
    return record


def format_rounds(record, class_names):
    """A table of a self-training record's rounds (`SelfTrainingRecord.to_dict()`, as in report.json):
    pseudo-labels accepted per class with their accuracy where known, and the validation accuracy.

    Examples:

    >>> record = {"route": "model", "threshold": 0.9, "balance": "none",
    ...           "per_round": [{"round": 0, "pseudo_labels": None, "validation_accuracy": 0.5}]}
    >>> print(format_rounds(record, ["cat", "dog"]).splitlines()[-1])
        0             -             -         -   0.5000
    """
    lines = [
        f"Self-training ({record['route']}): threshold {record['threshold']}, balance {record['balance']}; "
        "pseudo-labels per class (their accuracy where the true labels are known)",
        "  round  " + "  ".join(f"{name[:12]:>12}" for name in class_names) + "  accuracy  val_acc",
    ]
    for entry in record["per_round"]:
        pseudo = entry["pseudo_labels"]
        cells = []
        for name in class_names:
            if pseudo is None:
                cells.append(f"{'-':>12}")
                continue
            counts = pseudo["per_class"][name]
            accuracy = "" if counts["accuracy"] is None else f" ({counts['accuracy']:.2f})"
            cells.append(f"{str(counts['accepted']) + accuracy:>12}")
        accuracy = "-" if pseudo is None or pseudo["accuracy"] is None else f"{pseudo['accuracy']:.3f}"
        validation = entry["validation_accuracy"]
        validation = "-" if validation is None else f"{validation:.4f}"
        lines.append(f"  {entry['round']:>5}  " + "  ".join(cells) + f"  {accuracy:>8}  {validation:>7}")
    return "\n".join(lines)


def _check(model, unlabeled, rounds):
    if not isinstance(model, Classifier):
        raise TypeError(f"fit_self_training trains a tfl classifier. Received: {type(model).__name__}")
    if model.multi_label:
        raise ValueError(
            "Self-training picks one pseudo-label per example: it needs a single-label classifier, and this one "
            "is multi-label."
        )
    if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1:
        raise ValueError(
            "rounds is the number of pseudo-label rounds after the labelled-only one, >= 1. "
            f"Received: rounds={rounds!r}"
        )
    if unlabeled.num_examples < 1:
        raise ValueError(f"The unlabelled data ({unlabeled.source}) holds no examples.")
    if model.task not in ("image", "text"):
        raise ValueError(
            f"Self-training pseudo-labels unlabelled images or texts, and {model.name!r} is a fusion model of image "
            f"and text branches (task {model.task!r}): each of its examples is an image and a text together. It takes "
            "image or text classifiers (fusion models of image branches only, or of text branches only, too); train "
            "this model on its labelled examples alone (tfl.train.fit_stages, or tfl train without --unlabeled)."
        )
    if unlabeled.task != model.task:
        raise ValueError(
            f"The unlabelled data ({unlabeled.source}) holds {unlabeled.task} examples, and the model is "
            f"a{'n' if model.task == 'image' else ''} {model.task} classifier: give unlabelled "
            f"{'images (a folder)' if model.task == 'image' else 'texts (a text file or a list)'}."
        )


def _all_cached(model, stages, options):
    """Whether every stage trains on cached features, with one view per example."""
    if options.augmented_views > 1 and model.augmenter is not None:
        return False
    return all(
        choose_route(stage, cache_decision(model, stage, options.feature_cache, options.augmented_views), index)
        != "model"
        for index, stage in enumerate(stages)
    )


class _FixedFeatures:
    """A feature cache that hands out the round's features (the backbone does not change)."""

    def __init__(self, features):
        self.features = features

    def get(self, data):
        return self.features

    def features_kept(self):
        return self.features  # computed once, before the rounds


class _CachedRounds:
    """Rounds on the frozen backbone's features, computed once."""

    def __init__(self, model, data, unlabeled, options):
        self.model, self.data = model, data
        started = time.perf_counter()
        labelled = FeatureCache(model, cache_dir=options.cache_dir).get(data)
        self.labelled = labelled
        self.labelled_labels = np.asarray(labelled.train_labels).astype(np.int64).reshape(-1)
        self.unlabeled_features = _features(model, unlabeled.inputs)
        self.seconds = time.perf_counter() - started

    def unlabeled_probabilities(self):
        return keras.ops.convert_to_numpy(self.model.head_model()(self.unlabeled_features, training=False))

    def round_data(self, labels, seed):
        features, targets = self.labelled.train_features, self.labelled.train_labels
        if labels is not None:
            accepted = np.flatnonzero(labels != NO_LABEL)
            features = np.concatenate([features, self.unlabeled_features[accepted]])
            targets = np.concatenate([targets, labels[accepted].astype(targets.dtype)])
        cached = dataclasses.replace(self.labelled, train_features=features, train_labels=targets, views=1)
        batches = tf.data.Dataset.from_tensor_slices((features, targets)).batch(_batch_size(self.data))
        round_data = dataclasses.replace(self.data, train=batches, num_train=len(features))
        return round_data, _FixedFeatures(cached)

    def validation_accuracy(self):
        if self.labelled.validation_features is None:
            return None
        head = self.model.head_model()
        probabilities = keras.ops.convert_to_numpy(head(self.labelled.validation_features, training=False))
        return _accuracy(probabilities, self.labelled.validation_labels)


class _ModelRounds:
    """Rounds that run the plan on the model: the round's examples go through the data pipeline."""

    def __init__(self, model, data, unlabeled):
        self.model, self.data, self.unlabeled = model, data, unlabeled
        self.labelled_labels = np.concatenate(
            [np.asarray(labels).reshape(-1) for labels in data.train.map(lambda *batch: batch[1])]
        ).astype(np.int64)
        self.predict = traced(lambda inputs: model(inputs, training=False), reduce_retracing=True)

    def _probabilities(self, dataset):
        return np.concatenate([keras.ops.convert_to_numpy(self.predict(inputs)) for inputs in dataset])

    def unlabeled_probabilities(self):
        return self._probabilities(self.unlabeled.inputs)

    def round_data(self, labels, seed):
        if labels is None:
            return self.data, None
        accepted = int(np.sum(labels != NO_LABEL))
        pseudo = tf.data.Dataset.zip(
            (self.unlabeled.inputs.unbatch(), tf.data.Dataset.from_tensor_slices(labels.astype(np.int32)))
        ).filter(lambda inputs, label: label != NO_LABEL)
        pseudo = pseudo.apply(tf.data.experimental.assert_cardinality(accepted))
        labelled = self.data.train.unbatch().map(lambda inputs, label: (inputs, tf.cast(label, tf.int32)))
        count = len(self.labelled_labels) + accepted
        train = labelled.concatenate(pseudo).apply(tf.data.experimental.assert_cardinality(count))
        train = shuffle_each_epoch(train, count, seed).padded_batch(_batch_size(self.data))
        return dataclasses.replace(self.data, train=train.prefetch(tf.data.AUTOTUNE), num_train=count), None

    def validation_accuracy(self):
        if self.data.validation is None:
            return None
        probabilities = self._probabilities(self.data.validation.map(lambda *batch: batch[0]))
        labels = np.concatenate([np.asarray(y).reshape(-1) for y in self.data.validation.map(lambda *b: b[1])])
        return _accuracy(probabilities, labels)


def _features(model, dataset):
    """Pooled features of every example of `dataset` (inputs only), in order."""
    feature_model = model.feature_model()
    extract = traced(lambda inputs: feature_model(inputs, training=False), input_signature=[dataset.element_spec])
    return np.concatenate([keras.ops.convert_to_numpy(extract(inputs)).astype(np.float32) for inputs in dataset])


def _batch_size(data):
    """The data's batch size, from its examples and batches per epoch."""
    return max(1, -(-data.num_train // steps_per_epoch(data.train, data.num_train)))


def _accuracy(probabilities, labels):
    return float(np.mean(np.argmax(probabilities, axis=1) == np.asarray(labels).reshape(-1)))

