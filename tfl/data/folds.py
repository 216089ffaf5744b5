"""Cross-validation folds: one labelled set split into K stratified, seeded folds.

A fold is data, not a training option. `fold_folders` writes, for each fold
of a folder of class folders, a `train/` and a `held_out/` folder of class
folders whose files are links to the original images; `fold_text_file`
writes, for each fold of a `.csv`, `.tsv` or `.jsonl` file, a `train` and a
`held_out` file of the same format and columns. Both deal the examples to
the folds with `stratified_folds` (one class per example), multi-label rows
with `multi_label_folds` (iterative stratification). A fold's run is then an ordinary run with
`data.source=train` and `data.validation_source=held_out`, so training,
resume, the feature cache and the run folder need nothing new.
"""

import dataclasses
import functools
import os

import numpy as np

from tfl.data.image.directory import labelled_files
from tfl.data.split import iterative_stratification
from tfl.data.text.file_parts import labelled_rows
from tfl.data.text.file_parts import write_parts
from tfl.io import write_folder

_UINT64 = 1 << 64  # seed sequences take non-negative ints


@dataclasses.dataclass(frozen=True)
class Fold:
    """One held-out fold of one repeat, as data: folders of class folders, or text files.

    Attributes:
        repeat: the repeat, from 0.
        index: the fold, from 0.
        train: the training part (every other fold): a folder of class
            folders, or a text file.
        held_out: this fold's examples, in the same form.
        num_train: examples (images or rows) in `train`.
        num_held_out: examples in `held_out`.
    """

    repeat: int
    index: int
    train: str
    held_out: str
    num_train: int
    num_held_out: int

    @property
    def name(self):
        """`"<repeat>-<index>"`, as in the run folders `fold-<repeat>-<index>`."""
        return f"{self.repeat}-{self.index}"


def check_fold_counts(folds, repeats=1):
    """Checks `folds` (an int >= 2) and `repeats` (an int >= 1)."""
    for name, value, least in (("folds", folds, 2), ("repeats", repeats, 1)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < least:
            raise ValueError(f"{name} is a whole number >= {least}. Received: {name}={value!r}")


def stratified_folds(keys, folds, seed, repeat=0, *, class_names=None):
    """The held-out fold of every example: each class dealt round the folds.

    Every class is shuffled by its own generator seeded with `(seed, repeat,
    class)` and dealt to the folds in turn, starting where the previous
    class stopped: each fold holds `n // folds` or `n // folds + 1` of a
    class's `n` examples, and fold sizes differ by at most one.

    Args:
        keys: int array, one class id per example.
        folds: the number of folds K, at most the smallest class's count.
        seed: the split seed.
        repeat: the repeat; another repeat deals another shuffle.
        class_names: the name of each class id, for the error that names
            the smallest class; None names it by its id.

    Returns:
        An int array of fold indices in `0..folds-1`, one per example.

    Examples:

    >>> stratified_folds(np.array([0, 0, 0, 1, 1, 1]), 3, seed=1).tolist()
    [0, 1, 2, 1, 2, 0]
    """
    check_fold_counts(folds)
    keys = np.asarray(keys, dtype=np.int64)
    classes, counts = np.unique(keys, return_counts=True)
    if len(classes) and counts.min() < folds:
        smallest = int(classes[np.argmin(counts)])
        name = smallest if class_names is None else repr(class_names[smallest])
        raise ValueError(
            f"folds={folds} is more than the {counts.min()} examples of class {name}, the smallest: "
            f"every held-out fold needs an example of each class. Use folds <= {counts.min()}, "
            "or add examples of that class."
        )
    assignment = np.empty(len(keys), dtype=np.int64)
    start = 0
    for key in classes:
        members = np.flatnonzero(keys == key)
        rng = np.random.default_rng([seed % _UINT64, repeat, int(key) % _UINT64])
        assignment[rng.permutation(members)] = (start + np.arange(len(members))) % folds
        start = (start + len(members)) % folds
    return assignment


def multi_label_folds(hot, folds, seed, repeat=0, *, class_names=None):
    """The held-out fold of every example of multi-label data: iterative stratification.

    `tfl.data.split.iterative_stratification` (Sechidis et al. 2011) into
    `folds` equal parts, seeded with `(seed, repeat)`: each fold holds about
    `1 / folds` of every label, which dealing by one class per example cannot
    promise.

    Args:
        hot: 0/1 array `[N, C]`, one row of labels per example.
        folds: the number of folds K, at most the smallest label's count.
        seed: the split seed.
        repeat: the repeat; another repeat draws other ties and another
            order of examples.
        class_names: the name of each label, for the errors; None names a
            label by its column.

    Returns:
        An int array of fold indices in `0..folds-1`, one per example.

    Examples:

    >>> hot = np.array([[1, 0], [1, 0], [1, 1], [0, 1], [0, 1], [1, 1]])
    >>> found = multi_label_folds(hot, 2, seed=0)
    >>> [hot[found == fold].sum(axis=0).tolist() for fold in range(2)]
    [[2, 2], [2, 2]]
    """
    check_fold_counts(folds)
    hot = np.asarray(hot) > 0
    counts = hot.sum(axis=0)

    def name(label):
        return label if class_names is None else repr(class_names[label])

    present = np.flatnonzero(counts)
    if len(present) and counts[present].min() < folds:
        smallest = int(present[np.argmin(counts[present])])
        raise ValueError(
            f"folds={folds} is more than the {counts[smallest]} examples with label {name(smallest)}, the "
            f"rarest: every held-out fold needs an example of each label. Use folds <= {counts[smallest]}, "
            "or add examples with that label."
        )
    rng = np.random.default_rng([seed % _UINT64, repeat])
    assignment = iterative_stratification(hot, np.full(folds, 1.0 / folds), rng)
    for label in present:
        if len(np.unique(assignment[hot[:, label]])) < 2:
            raise ValueError(
                f"Every example with label {name(label)} fell in one fold, so that fold's training part "
                f"has none of them. Use fewer folds than {folds}, or add examples with that label."
            )
    return assignment


def fold_folders(source, folds, root, *, repeats=1, seed=0, skip_bad_files=False):
    """Splits a folder of class folders into `folds` stratified folds, `repeats` times.

    Each fold's `train/` and `held_out/` folders go to
    `<root>/fold-<repeat>-<index>/` and hold links to the images of `source`
    (named `<number>-<file name>`, so images of nested folders never clash).
    A fold folder that exists already is kept: the split is deterministic.

    Args:
        source: the folder of class folders (`data.source`).
        folds: K, from 2 to the image count of the smallest class.
        root: where the fold folders go.
        repeats: how many times to split, each with another shuffle.
        seed: the split seed (`data.seed`).
        skip_bad_files: leave unreadable images out instead of failing.

    Returns:
        The list of `Fold`, repeat by repeat.

    Examples:

    >>> found = fold_folders("flowers/", 3, "cv_folds", seed=0)
    >>> [(fold.name, fold.num_train, fold.num_held_out) for fold in found]
    [('0-0', 6, 3), ('0-1', 6, 3), ('0-2', 6, 3)]
    """
    check_fold_counts(folds, repeats)
    class_names, paths, labels = labelled_files(source, skip_bad_files=skip_bad_files)

    def fill(folder, held_out):
        _link_fold(folder, class_names, paths, labels, held_out)

    return _write_folds(labels, class_names, folds, root, repeats, seed, fill, ("train", "held_out"))


def fold_text_file(
    source,
    folds,
    root,
    *,
    text_column="text",
    label_column="label",
    text_pair_column=None,
    label_separator=None,
    repeats=1,
    seed=0,
    skip_bad_rows=False,
):
    """Splits a `.csv`, `.tsv` or `.jsonl` file into `folds` stratified folds, `repeats` times.

    The rows are read and checked as `from_text_file` reads them, and dealt
    to the folds by `stratified_folds`, as `fold_folders` deals images. Each
    fold's `train` and `held_out` files (ending as `source` ends) go to
    `<root>/fold-<repeat>-<index>/`: the header and every column of `source`
    (the text pair column too), its rows in their order. Every class has a
    row in every fold, so in every training part, and the class names, the
    sorted labels of a fold's two files together, are those of `source` in
    every fold. A fold folder that exists already is kept: the split is
    deterministic.

    Args:
        source: the text file (`data.source`).
        folds: K, from 2 to the row count of the smallest class.
        root: where the fold folders go.
        text_column: the column holding the text (`data.text_column`).
        label_column: the column holding the label (`data.label_column`).
        text_pair_column: an optional second text column.
        label_separator: splits label cells (`data.label_separator`). Data
            it makes multi-label (as JSONL label lists do) is dealt by
            `multi_label_folds` (iterative stratification) instead of by
            one class per row.
        repeats: how many times to split, each with another shuffle.
        seed: the split seed (`data.seed`).
        skip_bad_rows: leave bad rows out of every fold (logged) instead of
            failing (`data.skip_bad_files`).

    Returns:
        The list of `Fold`, repeat by repeat.

    Examples:

    >>> found = fold_text_file("reviews.csv", 2, "cv_folds", text_column="review", label_column="stars")
    >>> [(os.path.basename(fold.train), fold.num_train, fold.num_held_out) for fold in found]
    [('train.csv', 10, 10), ('train.csv', 10, 10)]
    """
    check_fold_counts(folds, repeats)
    class_names, lines, labels = labelled_rows(
        source, text_column, label_column, text_pair_column, label_separator, skip_bad_rows=skip_bad_rows
    )
    lines = np.asarray(lines)

    def fill(folder, held_out):
        write_parts(source, {"train": lines[~held_out].tolist(), "held_out": lines[held_out].tolist()}, folder)

    ending = os.path.splitext(os.fspath(source))[1].lower()
    return _write_folds(labels, class_names, folds, root, repeats, seed, fill, (f"train{ending}", f"held_out{ending}"))


def _write_folds(labels, class_names, folds, root, repeats, seed, fill, names):
    """Deals `labels` (class ids, or multi-hot rows) to the folds of each
    repeat and makes each fold folder that is missing by `fill(folder,
    held_out)` (a bool per example); `names` are the fold's training and
    held-out parts in it."""
    deal = stratified_folds if np.ndim(labels) == 1 else multi_label_folds
    made = []
    for repeat in range(repeats):
        assignment = deal(labels, folds, seed, repeat, class_names=class_names)
        for index in range(folds):
            folder = os.path.join(os.fspath(root), f"fold-{repeat}-{index}")
            held_out = assignment == index
            if not os.path.isdir(folder):
                write_folder(folder, functools.partial(fill, held_out=held_out))
            made.append(
                Fold(
                    repeat=repeat,
                    index=index,
                    train=os.path.join(folder, names[0]),
                    held_out=os.path.join(folder, names[1]),
                    num_train=int((~held_out).sum()),
                    num_held_out=int(held_out.sum()),
                )
            )
    return made


def _link_fold(folder, class_names, paths, labels, held_out):
    """Fills `folder/train` and `folder/held_out` with links to `paths`."""
    for number, (path, label, out) in enumerate(zip(paths, labels, held_out)):
        class_folder = os.path.join(folder, "held_out" if out else "train", class_names[label])
        os.makedirs(class_folder, exist_ok=True)
        os.symlink(os.path.abspath(path), os.path.join(class_folder, f"{number:06d}-{os.path.basename(path)}"))
