"""Labels of text rows to class ids or multi-hot vectors, with their class names.

Accepted labels, one per row: class names (strings); whole numbers (ints, or
floats such as 2.0 from a pandas column with gaps); a list of labels per row
(multi-label); or a 2-D 0/1 numpy array (multi-hot, multi-label).
"""

import math
import re

import numpy as np

from tfl.config.class_names import check_class_names

_INTEGER = re.compile(r"[+-]?\d+")


def split_labels(labels, separator):
    """Splits each string label at `separator` into a list (multi-label).

    Empty pieces are dropped ("a||b" -> ["a", "b"]); an empty cell stays empty
    (a missing label); lists and other values are kept as they are.
    """
    if separator is None:
        return labels
    if not isinstance(separator, str) or not separator:
        raise ValueError(
            f'label_separator is a non-empty string, e.g. "|". Received: {separator!r}'
        )
    return [
        [p.strip() for p in v.split(separator) if p.strip()] if isinstance(v, str) and v.strip()
        else v
        for v in labels
    ]


def encode_labels(train, held_out, class_names):
    """Encodes the labels of the training and held-out rows.

    Args:
        train: the training `TextRows` (labels already checked as present).
        held_out: the held-out `TextRows`, or None.
        class_names: the class names, or None to take them from the labels
            of all rows: the sorted unique strings (numerically sorted when all
            are whole numbers, "2" before "10"), or the sorted unique numbers
            as strings. With `class_names`, string labels must be among them
            and numbers are indices into them. Either way, a class that only
            held-out rows have is an error.

    Returns:
        `(y_train, y_held_out, class_names, multi_label)`: int32 ids `[N]`, or
        float32 multi-hot `[N, C]`; `y_held_out` is None without `held_out`.
    """
    class_names = None if class_names is None else tuple(check_class_names(class_names, strings_only=True))
    groups = [rows for rows in (train, held_out) if rows is not None]
    if any(_is_multi_hot(rows.labels) for rows in groups):
        return _encode_multi_hot(train, held_out, class_names)
    multi_label = any(_is_label_list(v) for rows in groups for v in rows.labels)
    values = [_normalize(rows, multi_label) for rows in groups]
    kind = _kind(groups, values)
    if class_names is None:
        # From all rows, so that a class seen only in validation gets its own error.
        class_names = _class_names_of([x for v in values for x in v], kind, multi_label)
        if not class_names:
            raise ValueError(
                f"{train.source} has no labels: every label list is empty. "
                "Give each row at least one label somewhere in the data."
            )
        index = {int(n) if kind == "int" else n: i for i, n in enumerate(class_names)}
    elif kind == "int":
        index = {i: i for i in range(len(class_names))}  # ids into class_names
    else:
        index = {n: i for i, n in enumerate(class_names)}
    encoded = [
        _encode(rows, v, index, class_names, kind, multi_label) for rows, v in zip(groups, values)
    ]
    _check_training_classes(encoded[0], class_names, multi_label, train)
    if held_out is None:
        return encoded[0], None, class_names, multi_label
    _check_held_out_classes(encoded[0], encoded[1], class_names, multi_label, held_out)
    return encoded[0], encoded[1], class_names, multi_label


def encode_labels_by_name(rows, class_names, multi_label):
    """Encodes held-out rows' labels as a trained model's class ids.

    Unlike `encode_labels`, the rows may hold any subset of the classes (a
    test file without rows of one class), and nothing is checked about
    training: labels are matched to `class_names` by name. Whole-number labels
    match the class of the same name when every class name is a whole number
    (a model trained on labels 1, 3 and 5); otherwise they are ids into
    `class_names`, as in `encode_labels`.

    Args:
        rows: the `TextRows` to score (labels already checked as present).
        class_names: the model's class names, in its output order.
        multi_label: the model is multi-label: labels are encoded as
            multi-hot vectors, whether a row holds a list or one label.

    Returns:
        int32 ids `[N]`, or float32 multi-hot `[N, C]` when `multi_label`.
    """
    class_names = tuple(class_names)
    values = _normalize(rows, multi_label)
    kind = _kind([rows], [values])
    if kind == "int" and all(_INTEGER.fullmatch(name) for name in class_names):
        index = {int(name): i for i, name in enumerate(class_names)}
    elif kind == "int":
        index = {i: i for i in range(len(class_names))}
    else:
        index = {name: i for i, name in enumerate(class_names)}
    for i, v in enumerate(values):
        for x in v if multi_label else [v]:
            key = int(x) if kind == "int" else x
            if key not in index:
                raise ValueError(
                    f"{rows.where(i)}: label {key!r} is not a class of the model; its classes are "
                    f"{list(class_names)}. Score data labelled with the model's classes (some of them "
                    "is fine): fix the label, or leave the row out."
                )
    return _encode(rows, values, index, class_names, kind, multi_label)


def _is_multi_hot(labels):
    return hasattr(labels, "ndim") and labels.ndim == 2


def _is_label_list(value):
    return isinstance(value, (list, tuple, set)) or (hasattr(value, "ndim") and value.ndim == 1)


def _normalize(rows, multi_label):
    """Labels as lists of scalars (multi-label) or scalars; strings stripped."""

    def scalar(v):
        if isinstance(v, (bool, np.bool_)):
            return str(bool(v))
        if isinstance(v, str):
            return v.strip()
        if isinstance(v, np.generic):
            return v.item()
        return v

    if multi_label:
        return [[scalar(x) for x in v] if _is_label_list(v) else [scalar(v)] for v in rows.labels]
    return [scalar(v) for v in rows.labels]


def _kind(groups, values):
    """"str" or "int" for all labels; an error for fractions and mixtures."""
    kinds = {}
    for rows, group in zip(groups, values):
        for i, v in enumerate(group):
            for x in v if isinstance(v, list) else [v]:
                if isinstance(x, str):
                    kinds.setdefault("str", (rows, i, x))
                elif isinstance(x, int) or (isinstance(x, float) and math.isfinite(x) and x == int(x)):
                    kinds.setdefault("int", (rows, i, x))
                else:
                    raise ValueError(
                        f"{rows.where(i)}: label {x!r} is not a class. Labels are class names "
                        "(strings), whole numbers, or lists of them (multi-label)."
                    )
    if len(kinds) > 1:
        (rows_s, i_s, s), (rows_n, i_n, n) = kinds["str"], kinds["int"]
        raise ValueError(
            f"Labels mix strings and numbers: {s!r} ({rows_s.where(i_s)}) and {n!r} "
            f"({rows_n.where(i_n)}). Make them all class names or all class ids."
        )
    return next(iter(kinds), "str")


def _flat(values, multi_label):
    return [x for v in values for x in v] if multi_label else values


def _class_names_of(values, kind, multi_label):
    unique = set(_flat(values, multi_label))
    if kind == "int":
        return tuple(str(v) for v in sorted(int(v) for v in unique))
    if unique and all(_INTEGER.fullmatch(v) for v in unique):
        return tuple(sorted(unique, key=int))
    return tuple(sorted(unique))


def _encode(rows, values, index, class_names, kind, multi_label):
    ids = []
    for i, v in enumerate(values):
        row = []
        for x in v if multi_label else [v]:
            key = int(x) if kind == "int" else x
            if key not in index:
                raise _unknown_label(rows, i, key, class_names, kind)
            row.append(index[key])
        ids.append(row if multi_label else row[0])
    if not multi_label:
        return np.asarray(ids, dtype=np.int32).reshape([-1])
    hot = np.zeros([len(ids), len(class_names)], np.float32)
    for r, row in enumerate(ids):
        hot[r, row] = 1.0
    return hot


def _unknown_label(rows, i, value, class_names, kind):
    if kind == "int":
        return ValueError(
            f"{rows.where(i)}: label {value} is outside 0..{len(class_names) - 1}; "
            f"class_names has {len(class_names)} names and numeric labels are indices into it. "
            "Fix the label, or give class_names a name for every class."
        )
    return ValueError(
        f"{rows.where(i)}: label {value!r} is not one of class_names "
        f"({', '.join(class_names)}). Fix the label, or add it to class_names."
    )


def _encode_multi_hot(train, held_out, class_names):
    encoded = []
    for rows in (train, held_out):
        if rows is None:
            encoded.append(None)
            continue
        if not _is_multi_hot(rows.labels):
            raise ValueError(
                f"Labels of {rows.source} are not a 2-D multi-hot array, but those of "
                f"{train.source if rows is held_out else held_out.source} are. "
                "Label both alike."
            )
        try:
            values = np.asarray(rows.labels, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(
                f"Multi-hot labels of {rows.source} must hold 0 or 1. "
                f"Received dtype {rows.labels.dtype}"
            ) from None
        outside = ~np.isin(values, (0, 1))
        if outside.any():
            r, c = (int(v) for v in np.argwhere(outside)[0])
            raise ValueError(
                f"{rows.where(r)}: multi-hot labels hold 0 or 1; column {c} is {values[r, c]:g}."
            )
        encoded.append(values.astype(np.float32))
    num_classes = encoded[0].shape[1]
    if held_out is not None and encoded[1].shape[1] != num_classes:
        raise ValueError(
            f"Multi-hot labels of {train.source} have {num_classes} columns but those of "
            f"{held_out.source} have {encoded[1].shape[1]}. Give both the same classes."
        )
    if class_names is None:
        class_names = tuple(str(i) for i in range(num_classes))
    if len(class_names) != num_classes:
        raise ValueError(
            f"The multi-hot labels have {num_classes} columns but class_names has "
            f"{len(class_names)} names. Give one name per column."
        )
    if held_out is not None:
        _check_held_out_classes(encoded[0], encoded[1], class_names, True, held_out)
    return encoded[0], encoded[1], class_names, True


def _check_training_classes(y, class_names, multi_label, rows):
    if multi_label:
        return
    present = np.unique(y)
    if len(present) < 2:
        only = ", ".join(repr(class_names[i]) for i in present)
        raise ValueError(
            f"The training rows of {rows.source} hold a single class ({only}); a classifier "
            "needs examples of at least 2 classes. For multi-label data, give each row a "
            'list of labels (or pass label_separator="|").'
        )


def _check_held_out_classes(y_train, y_held_out, class_names, multi_label, rows):
    if multi_label:
        trained = y_train.any(axis=0)
        missing = np.flatnonzero(y_held_out.any(axis=0) & ~trained)
        first = [int(np.argmax(y_held_out[:, c] > 0)) for c in missing]
    else:
        trained = np.isin(np.arange(len(class_names)), y_train)
        missing = [c for c in np.unique(y_held_out) if not trained[c]]
        first = [int(np.argmax(y_held_out == c)) for c in missing]
    if len(missing):
        names = ", ".join(repr(class_names[c]) for c in missing)
        raise ValueError(
            f"Class {names} appears only in the validation rows (first at {rows.where(first[0])}), "
            "never in training: the model cannot learn it. Add training examples of it, or "
            "remove those validation rows."
        )
