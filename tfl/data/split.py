"""The held-out split: deterministic, seeded and stratified per class."""

import numpy as np

_UINT64 = 1 << 64  # seed sequences take non-negative ints


def check_validation_split(validation_split):
    if not isinstance(validation_split, (int, float)) or not 0 < validation_split < 1:
        raise ValueError(
            "validation_split is the held-out fraction of each class, in (0, 1). "
            f"Received: validation_split={validation_split!r}"
        )


def stratified_split(keys, validation_split, seed):
    """Splits example indices into training and held-out indices, per class.

    Each class holds out `round(n * validation_split)` of its `n` examples,
    at least 1 and at most `n - 1`, so a class with 2 or more examples is in
    both splits; a class with 1 example is used for training only. Every class
    is shuffled by its own generator seeded with `(seed, class)`, so adding a
    class does not move the examples of the others.

    Args:
        keys: int array, one class id per example.
        validation_split: held-out fraction, in (0, 1).
        seed: the split seed.

    Returns:
        `(train_indices, validation_indices)`, each sorted ascending.

    Examples:

    >>> train, held_out = stratified_split(np.array([0, 0, 0, 1, 1]), 0.4, seed=1)
    >>> len(held_out)
    2
    """
    check_validation_split(validation_split)
    keys = np.asarray(keys, dtype=np.int64)
    order = np.argsort(keys, kind="stable")
    classes, starts = np.unique(keys[order], return_index=True)
    train, held_out = [], []
    for key, members in zip(classes, np.split(order, starts[1:])):
        n = len(members)
        n_held_out = min(max(int(np.floor(n * validation_split + 0.5)), 1), n - 1)
        rng = np.random.default_rng([seed % _UINT64, int(key) % _UINT64])
        members = rng.permutation(members)
        held_out.append(members[:n_held_out])
        train.append(members[n_held_out:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(held_out))


def first_class(multi_hot):
    """The first positive class of each multi-hot row, or -1 for a row of zeros.

    The key multi-label examples are stratified by in `stratified_split`.

    Examples:

    >>> first_class(np.array([[0, 1, 1], [0, 0, 0]]))
    array([ 1, -1])
    """
    return np.where(multi_hot.any(axis=1), multi_hot.argmax(axis=1), -1)
