"""Which unlabelled examples get a pseudo-label, and what a round of them was worth.

`select_pseudo_labels` is the one rule of self-training (`tfl.train.self_training`):

1. An example is a candidate for its most probable class when that
   probability is at least `threshold`; below it, it gets no label.
2. `balance="proportional"` (the default) keeps the accepted classes in the
   proportions of the labelled training classes, as large as the candidates
   allow: with labelled frequencies `f_c` and `m_c` candidates of class `c`,
   the round takes `n_c = floor(f_c * K)` of class `c`, where
   `K = min_c m_c / f_c` over the classes with labels. With balanced labels
   every class takes as many as the rarest class has candidates; a class
   with no candidate stops the round from taking any. The `n_c` most
   confident candidates of each class are kept. `balance="none"` keeps every
   candidate.

`round_summary` counts what a round took per class, what changed since the
previous round, and, where the true labels are known, how accurate the
accepted pseudo-labels are.
"""

import dataclasses

import numpy as np

BALANCES = ("proportional", "none")
NO_LABEL = -1


@dataclasses.dataclass(frozen=True)
class PseudoLabels:
    """The pseudo-labels of one round.

    Attributes:
        labels: int32 `[N]`: the accepted class of each unlabelled example,
            -1 for the examples without a pseudo-label.
        confidence: float32 `[N]`: each example's top probability.
        candidates: int `[C]`: examples per class at or above the threshold.

    Examples:

    >>> pseudo = select_pseudo_labels(np.array([[0.9, 0.1], [0.6, 0.4]]), 0.8)
    >>> pseudo.accepted.tolist(), pseudo.candidates.tolist()
    ([], [1, 0])
    """

    labels: np.ndarray
    confidence: np.ndarray
    candidates: np.ndarray

    @property
    def accepted(self):
        """The indices of the examples with a pseudo-label."""
        return np.flatnonzero(self.labels != NO_LABEL)


def check_threshold(threshold):
    """`threshold` as a float in (0, 1], or a ValueError naming it.

    Examples:

    >>> check_threshold(0.9)
    0.9
    """
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 < threshold <= 1:
        raise ValueError(
            "The pseudo-label threshold is the least top probability an unlabelled example needs for a "
            f"pseudo-label, in (0, 1], e.g. 0.9. Received: threshold={threshold!r}"
        )
    return float(threshold)


def check_balance(balance):
    """`balance` if it is one of `BALANCES`, else a ValueError naming it."""
    if balance not in BALANCES:
        raise ValueError(f"Unknown pseudo-label balance {balance!r}. Known: {', '.join(BALANCES)}.")
    return balance


def select_pseudo_labels(probabilities, threshold, balance="proportional", labelled_counts=None):
    """Chooses the pseudo-labels of a round (the rule is in the module doc).

    Args:
        probabilities: float `[N, C]`: the model's class probabilities for
            the unlabelled examples.
        threshold: the least top probability for a pseudo-label, in (0, 1].
        balance: "proportional" or "none".
        labelled_counts: labelled training examples per class `[C]`, whose
            proportions "proportional" keeps; None means equal proportions.

    Returns:
        A `PseudoLabels`.

    Examples:

    >>> p = np.array([[0.95, 0.05], [0.97, 0.03], [0.2, 0.8], [0.05, 0.95]])
    >>> select_pseudo_labels(p, 0.9).labels.tolist()  # one per class: the rarer class has one candidate
    [-1, 0, -1, 1]
    >>> select_pseudo_labels(p, 0.9, balance="none").labels.tolist()
    [0, 0, -1, 1]
    """
    threshold = check_threshold(threshold)
    check_balance(balance)
    probabilities = np.asarray(probabilities, np.float64)
    if probabilities.ndim != 2 or probabilities.shape[1] < 2:
        raise ValueError(f"probabilities must be [N, C] with C >= 2. Received: shape {probabilities.shape}")
    count = probabilities.shape[1]
    best = probabilities.argmax(axis=1)
    confidence = probabilities.max(axis=1)
    candidate = confidence >= threshold
    candidates = np.bincount(best[candidate], minlength=count)
    labels = np.full(len(probabilities), NO_LABEL, np.int32)
    quota = candidates if balance == "none" else _proportional_quota(candidates, labelled_counts, count)
    for c in range(count):
        members = np.flatnonzero(candidate & (best == c))
        # the most confident first; ties by position, so the choice is repeatable
        chosen = members[np.lexsort((members, -confidence[members]))][: int(quota[c])]
        labels[chosen] = c
    return PseudoLabels(labels=labels, confidence=confidence.astype(np.float32), candidates=candidates)


def _proportional_quota(candidates, labelled_counts, count):
    """`n_c = floor(f_c * min_c(m_c / f_c))` over the classes with labels."""
    if labelled_counts is None:
        frequencies = np.full(count, 1.0 / count)
    else:
        counts = np.asarray(labelled_counts, np.float64).reshape(-1)
        if counts.shape != (count,) or np.any(counts < 0) or counts.sum() <= 0:
            raise ValueError(
                f"labelled_counts are the labelled examples per class, {count} counts >= 0 with a positive "
                f"sum. Received: {labelled_counts!r}"
            )
        frequencies = counts / counts.sum()
    present = frequencies > 0
    size = np.min(candidates[present] / frequencies[present])
    return np.where(present, np.floor(frequencies * size + 1e-9), 0).astype(np.int64)


def round_summary(pseudo, previous, true_labels, class_names):
    """What a round took, per class, and how it compares with the previous round.

    Args:
        pseudo: the round's `PseudoLabels`.
        previous: the previous round's labels (int `[N]`, -1 none), or None.
        true_labels: the examples' known classes (-1 unknown), or None.
        class_names: the class names.

    Returns:
        A dict: `accepted` (total), `per_class` ({class: {"candidates",
        "accepted", "known", "correct", "accuracy"}}; accuracy over the
        accepted examples whose true label is known, None without one),
        `accuracy` (all classes), `added`, `dropped` (accepted before, not
        now) and `changed` (accepted both times, another class now).

    Examples:

    >>> pseudo = select_pseudo_labels(np.array([[0.9, 0.1], [0.1, 0.9]]), 0.8)
    >>> summary = round_summary(pseudo, None, np.array([0, 0]), ("a", "b"))
    >>> summary["per_class"]["b"]["accuracy"], summary["accuracy"]
    (0.0, 0.5)
    """
    labels = pseudo.labels
    taken = labels != NO_LABEL
    known = np.zeros(len(labels), bool) if true_labels is None else np.asarray(true_labels) != NO_LABEL
    correct = known & taken & (labels == (true_labels if true_labels is not None else labels))
    per_class = {}
    for c, name in enumerate(class_names):
        mine = labels == c
        mine_known = int(np.sum(mine & known))
        per_class[name] = {
            "candidates": int(pseudo.candidates[c]),
            "accepted": int(np.sum(mine)),
            "known": mine_known,
            "correct": int(np.sum(mine & correct)),
            "accuracy": float(np.sum(mine & correct) / mine_known) if mine_known else None,
        }
    known_taken = int(np.sum(taken & known))
    before = np.full(len(labels), NO_LABEL) if previous is None else np.asarray(previous)
    had = before != NO_LABEL
    return {
        "accepted": int(np.sum(taken)),
        "per_class": per_class,
        "accuracy": float(np.sum(correct) / known_taken) if known_taken else None,
        "added": int(np.sum(taken & ~had)),
        "dropped": int(np.sum(had & ~taken)),
        "changed": int(np.sum(had & taken & (before != labels))),
    }
