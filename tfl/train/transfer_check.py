"""`transfer_check`: do the pretrained features describe this task better than
random features of the same network?

fastai's `fine_tune` (a frozen head epoch, then discriminative rates that
keep the lower layers nearly still) protects features worth keeping. When a
backbone's source is far from the target, there is nothing to protect: on
tfl's image demo (a MobileNetV3Small trained on digits 0-4, transferred to
digits 5-9 at 32 px) a linear probe scores 0.61 on the source features and
0.80 on a random network's, and training every layer with BatchNorm at one
rate wins by 7 points over fastai's plan (docs/demo.md). The pretrained
weights are then a good initialisation, not features.

The check needs only the training examples: the backbone's pooled features
and those of fresh, randomly initialised copies of the model are each scored
by a linear probe (`fit_linear_probe`) under stratified k-fold cross-
validation, on at most 1,000 distinct examples, against the best of two
random copies (one random initialisation can be unlucky). The pretrained
features transfer unless the random copy scores better on both held-out
accuracy and log-loss.
"""

import dataclasses
import logging

import numpy as np

from tfl.traced import traced
from tfl.train.linear_probe import fit_linear_probe

logger = logging.getLogger("tfl")

MAX_EXAMPLES = 1000
FOLDS = 5
RANDOM_COPIES = 2


@dataclasses.dataclass(frozen=True)
class TransferCheck:
    """The cross-validated linear-probe scores of both feature sets.

    Attributes:
        pretrained_log_loss: mean held-out log-loss on the model's features.
        random_log_loss: the same on the features of the best of
            `random_copies` randomly initialised copies.
        pretrained_accuracy: mean held-out accuracy on the model's features.
        random_accuracy: the same on that random copy's features.
        examples: distinct training examples scored.
        folds: cross-validation folds.

    Examples:

    >>> check = TransferCheck(0.4, 0.9, 0.85, 0.6, examples=100, folds=5)
    >>> check.features_transfer
    True
    """

    pretrained_log_loss: float
    random_log_loss: float
    pretrained_accuracy: float
    random_accuracy: float
    examples: int
    folds: int

    @property
    def features_transfer(self):
        """False only where a random copy's features score better on both
        accuracy and log-loss: on a tie (an easy task both solve) the
        pretrained features keep the benefit of the doubt."""
        random_better = (
            self.random_accuracy > self.pretrained_accuracy and self.random_log_loss < self.pretrained_log_loss
        )
        return not random_better

    def to_dict(self):
        return {**dataclasses.asdict(self), "features_transfer": self.features_transfer}

    def __str__(self):
        verdict = "transfer" if self.features_transfer else "do not beat random features"
        return (
            f"pretrained features {verdict}: linear probe on {self.examples} training examples, "
            f"{self.folds}-fold log-loss {self.pretrained_log_loss:.3f} (accuracy {self.pretrained_accuracy:.3f}) "
            f"against {self.random_log_loss:.3f} ({self.random_accuracy:.3f}) for a random copy of the network"
        )


def transfer_check(model, data, *, seed=0, max_examples=MAX_EXAMPLES, folds=FOLDS, random_copies=RANDOM_COPIES):
    """Scores the model's frozen features against a random copy's (see the module doc).

    Args:
        model: a single-label tfl image classifier.
        data: its `tfl.data.ImageData` (only `data.train` is used).
        seed: the subsample and fold seed.
        max_examples: score at most this many distinct training examples.
        folds: cross-validation folds.
        random_copies: randomly initialised copies to score; the best one is
            the bar (one random init can be unlucky).

    Returns:
        A `TransferCheck`, or None where it cannot say: a multi-label model,
        or fewer than 2 examples per fold of every class.

    Examples:

    >>> check = transfer_check(model, data, folds=2, random_copies=1)
    >>> check.examples, check.folds
    (6, 2)
    """
    if model.multi_label or data.num_train < 2 * folds:
        return None
    copies = [type(model).from_config(model.get_config()) for _ in range(random_copies)]  # fresh random inits
    x, *randoms, labels = _features(data.train, [model, *copies], limit=3 * max_examples)
    # Repeated examples (data repeated to lengthen an epoch) would sit in the
    # training and held-out folds at once: keep one of each. An example is
    # known by all its feature vectors (one backbone may map many to one),
    # rounded: the same image computes slightly differently in another batch.
    identity = np.hstack([_rounded(features) for features in (x, *randoms)])
    _, first = np.unique(identity, axis=0, return_index=True)
    keep = np.sort(first)
    rng = np.random.default_rng(seed)
    if len(keep) > max_examples:
        keep = np.sort(rng.choice(keep, max_examples, replace=False))
    counts = np.bincount(labels[keep], minlength=model.num_classes)
    if np.min(counts[counts > 0]) < 2 or len(keep) < 2 * folds or np.count_nonzero(counts) < 2:
        return None
    fold_of = stratified_folds(labels[keep], min(folds, int(np.min(counts[counts > 0]))), rng)
    scores = {"pretrained": cross_validated_probe(x[keep], labels[keep], fold_of, model.num_classes)}
    scores["random"] = min(  # the best random copy: the bar the pretrained features must clear
        cross_validated_probe(features[keep], labels[keep], fold_of, model.num_classes) for features in randoms
    )
    check = TransferCheck(
        pretrained_log_loss=scores["pretrained"][0],
        random_log_loss=scores["random"][0],
        pretrained_accuracy=scores["pretrained"][1],
        random_accuracy=scores["random"][1],
        examples=len(keep),
        folds=int(fold_of.max()) + 1,
    )
    logger.info("Transfer check: %s", check)
    return check


def _features(dataset, models, limit):
    """Pooled features of every model on the same pass over `dataset` (a
    shuffling pipeline gives each pass another order), then the labels."""
    signature = [dataset.element_spec[0]]
    extractors = []
    for model in models:
        feature_model = model.feature_model()
        extractors.append(traced(lambda inputs, f=feature_model: f(inputs, training=False),
                                      input_signature=signature))
    columns = [[] for _ in range(len(models) + 1)]
    seen = 0
    for inputs, labels in dataset:
        for column, extract in zip(columns, extractors, strict=False):
            column.append(extract(inputs).numpy().astype(np.float64))
        columns[-1].append(np.asarray(labels))
        seen += len(columns[-1][-1])
        if seen >= limit:
            break
    return [np.concatenate(column) for column in columns]


def _rounded(features):
    """Features on a scale of their own spread, to 4 decimals."""
    return np.round(features / (np.std(features) + 1e-300), 4)


def stratified_folds(labels, folds, rng):
    """A fold index per example, each class spread evenly over the folds."""
    fold_of = np.empty(len(labels), np.int64)
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        fold_of[members] = np.arange(len(members)) % folds
    return fold_of


def cross_validated_probe(features, labels, fold_of, num_classes, **probe_options):
    """Mean held-out (log-loss, accuracy) of a linear probe over the folds;
    `probe_options` go to `fit_linear_probe` (`l2`, `tol`, `max_iter`)."""
    losses, accuracies = [], []
    for fold in range(int(fold_of.max()) + 1):
        held_out = fold_of == fold
        probe = fit_linear_probe(features[~held_out], labels[~held_out], num_classes, **probe_options)
        logits = features[held_out] @ probe.kernel.astype(np.float64) + probe.bias.astype(np.float64)
        logits -= logits.max(axis=1, keepdims=True)
        log_probabilities = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
        truth = labels[held_out]
        losses.append(float(-log_probabilities[np.arange(len(truth)), truth].mean()))
        accuracies.append(float((log_probabilities.argmax(axis=1) == truth).mean()))
    return float(np.mean(losses)), float(np.mean(accuracies))
