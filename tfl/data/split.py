"""The held-out split: deterministic, seeded and stratified per class (per label for multi-label data)."""

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


def split_examples(labels, validation_split, seed):
    """`(train_indices, validation_indices)` of labelled examples: `stratified_split`
    for class ids `[N]`, `multi_label_split` for multi-hot rows `[N, C]`."""
    labels = np.asarray(labels)
    if labels.ndim == 2:
        return multi_label_split(labels, validation_split, seed)
    return stratified_split(labels, validation_split, seed)


def multi_label_split(multi_hot, validation_split, seed):
    """Splits multi-label examples so that each label is held out in about its share.

    The rows are dealt by iterative stratification (`iterative_stratification`)
    into a training part of `1 - validation_split` and a held-out part of
    `validation_split`, of every label and of the rows. A label with 2 or more
    rows keeps at least one for training (a label only the held-out part had
    could not be learned); a label's single row trains.

    Args:
        multi_hot: 0/1 array `[N, C]`.
        validation_split: held-out fraction, in (0, 1).
        seed: the split seed.

    Returns:
        `(train_indices, validation_indices)`, each sorted ascending.

    Examples:

    >>> hot = np.array([[1, 0], [1, 0], [1, 1], [0, 1], [1, 0], [0, 1], [1, 1], [0, 1]])
    >>> train, held_out = multi_label_split(hot, 0.5, seed=0)
    >>> hot[held_out].sum(axis=0).tolist(), hot[train].sum(axis=0).tolist()
    ([3, 2], [2, 3])
    """
    check_validation_split(validation_split)
    hot = np.asarray(multi_hot) > 0
    rng = np.random.default_rng([seed % _UINT64])
    held = iterative_stratification(hot, (1.0 - validation_split, validation_split), rng) == 1
    for label in np.flatnonzero(hot.sum(axis=0) >= 1):
        rows = np.flatnonzero(hot[:, label])
        if held[rows].all():  # none left to learn it from: its first row (in a seeded order) trains
            held[rng.permutation(rows)[0]] = False
    return np.flatnonzero(~held), np.flatnonzero(held)


def iterative_stratification(multi_hot, proportions, rng):
    """Deals multi-label rows into parts of the given proportions, label by label.

    Sechidis et al. 2011 ("On the Stratification of Multi-label Data"): the
    label with the fewest rows still to place goes first, and each of its rows
    goes to the part that still wants the most of that label (ties: the part
    that wants the most rows, then a draw from `rng`); rows without a label
    fill the parts that want the most rows. Each part ends with about its
    proportion of every label, which dealing by one class per row cannot
    promise.

    Args:
        multi_hot: bool or 0/1 array `[N, C]`.
        proportions: the parts' shares of the rows, summing to 1.
        rng: a numpy `Generator`: the order of the rows and the ties.

    Returns:
        An int array: each row's part, `0..len(proportions) - 1`.
    """
    hot = np.asarray(multi_hot) > 0
    num_rows = hot.shape[0]
    proportions = np.asarray(proportions, dtype=np.float64)
    order = rng.permutation(num_rows)
    wanted_of_label = np.outer(proportions, hot.sum(axis=0))
    wanted = proportions * num_rows
    assignment = np.full(num_rows, -1, dtype=np.int64)

    def place(row, want):
        best = np.flatnonzero(np.isclose(want, want.max()))
        best = best[np.isclose(wanted[best], wanted[best].max())]
        part = int(rng.choice(best))
        assignment[row] = part
        wanted_of_label[part] -= hot[row]
        wanted[part] -= 1

    while True:
        left = (hot & (assignment < 0)[:, None]).sum(axis=0)
        if not left.any():
            break
        label = int(np.argmin(np.where(left > 0, left, num_rows + 1)))
        for row in order[hot[order, label] & (assignment[order] < 0)]:
            place(row, wanted_of_label[:, label])
    for row in order[assignment[order] < 0]:
        place(row, wanted)
    return assignment
