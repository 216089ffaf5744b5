"""From checked-nothing rows to `TextData`: the one path every text source takes.

Bad rows, labels, the held-out split, classes, truncation and the pipelines
are handled here once, so a CSV file, a data frame and a TFDS data set fail,
skip, split and count in exactly the same way.
"""

import logging

import numpy as np

from tfl.data.split import split_examples
from tfl.data.text.data import TextData
from tfl.data.text.labels import encode_labels
from tfl.data.text.labels import encode_labels_by_name
from tfl.data.text.pipeline import build_text_pipeline
from tfl.data.text.pipeline import token_counts
from tfl.data.text.pipeline import truncation_limit
from tfl.data.text.rows import clean_rows
from tfl.data.text.rows import handle_bad_rows

logger = logging.getLogger("tfl")


def build_text_data(train, held_out=None, *, options, class_names=None):
    """Checks, labels, splits and tokenizes rows into a `TextData`.

    Args:
        train: the training `TextRows`.
        held_out: the held-out `TextRows`, or None to hold out
            `options.validation_split` of each class of `train` (stratified,
            seeded; multi-label rows per label, `multi_label_split`).
        options: the `TextOptions` (preprocessor, batch size, seed, cache,
            skip_bad_rows, group_by_length, trim_padding).
        class_names: the class names, or None to take them from the labels.

    Returns:
        A `TextData`.
    """
    train, held_out, skipped = _clean(train, held_out, options.skip_bad_rows)
    y_train, y_held_out, class_names, multi_label = encode_labels(train, held_out, class_names)
    # Tokens are counted once, over all rows, before any split.
    counts = _token_counts(train, held_out, options.preprocessor)
    if held_out is None:
        train_index, held_out_index = split_examples(y_train, options.validation_split, options.seed)
        if not len(held_out_index):
            raise ValueError(
                f"No row is left for validation in {train.source}: every class has a single "
                "row. Add rows, or give held-out data (validation_data, validation_path)."
            )
        held_out, y_held_out = train.take(held_out_index), y_train[held_out_index]
        train, y_train = train.take(train_index), y_train[train_index]
    else:
        train_index = np.arange(len(train))
        held_out_index = np.arange(len(train), len(train) + len(held_out))
    _warn_classes_without_training_rows(y_train, class_names, multi_label)
    truncated = None
    if counts is not None:
        limit = truncation_limit(options.preprocessor, train.pairs is not None)
        truncated = {
            "train": int(np.sum(counts[train_index] > limit)),
            "validation": int(np.sum(counts[held_out_index] > limit)),
        }
        _warn_truncated(truncated, len(train), len(held_out), options.sequence_length)
    train_pipeline = _pipeline(train, y_train, options, shuffle=True, classes=len(class_names))
    return _text_data(train_pipeline, len(train), held_out, y_held_out, class_names, multi_label, options,
                      truncated, skipped)


def build_text_evaluation_data(rows, *, options, class_names, multi_label):
    """Every row, labelled in a trained model's class order, as a `TextData` to score.

    The held-out counterpart of `build_text_data`: nothing is split off or
    shuffled, and the rows may hold any subset of the model's classes (see
    `encode_labels_by_name`). Bad rows fail, or are skipped with
    `options.skip_bad_rows`, as in training.

    Returns:
        A `TextData` whose `validation` holds every usable row in file order
        and whose `train` is empty (`num_train` 0).
    """
    rows, _, skipped = _clean(rows, None, options.skip_bad_rows)
    labels = encode_labels_by_name(rows, class_names, multi_label)
    counts = _token_counts(rows, None, options.preprocessor)
    truncated = None
    if counts is not None:
        limit = truncation_limit(options.preprocessor, rows.pairs is not None)
        truncated = {"train": 0, "validation": int(np.sum(counts > limit))}
        _warn_truncated(truncated, 0, len(rows), options.sequence_length)
    return _text_data(None, 0, rows, labels, tuple(class_names), multi_label, options, truncated, skipped)


def _text_data(train, num_train, held_out, y_held_out, class_names, multi_label, options, truncated, skipped):
    """The `TextData` of a training pipeline (None: none, for data only scored) and held-out rows."""
    validation = _pipeline(held_out, y_held_out, options, shuffle=False)
    return TextData(
        train=validation.take(0) if train is None else train,
        validation=validation,
        class_names=class_names,
        num_train=num_train,
        num_validation=len(held_out),
        multi_label=multi_label,
        validation_labels=y_held_out,
        sequence_length=options.sequence_length,
        text_pairs=held_out.pairs is not None,
        truncated=truncated,
        skipped_rows=skipped,
        validation_texts=tuple(held_out.texts),
        validation_text_pairs=None if held_out.pairs is None else tuple(held_out.pairs),
    )


def label_rows(rows, *, skip_bad_rows):
    """`build_text_data`'s checks of rows and labels, with nothing split off or tokenized.

    Args:
        rows: a `TextRows`.
        skip_bad_rows: leave bad rows out (logged) instead of failing.

    Returns:
        `(good, labels, class_names)`: the usable `TextRows` (each keeps its
        number), their int32 class ids, or float32 multi-hot rows `[N, C]`
        for multi-label data, and the class names in the order
        `build_text_data` gives them for the same rows.
    """
    good, _, _ = _clean(rows, None, skip_bad_rows)
    labels, _, class_names, _ = encode_labels(good, None, None)
    return good, labels, class_names


def _clean(train, held_out, skip_bad_rows):
    """`(train, held_out, skipped)`: the rows without bad ones, and the bad ones skipped.

    Bad rows are an error naming them, unless `skip_bad_rows`.
    """
    groups = [rows for rows in (train, held_out) if rows is not None]
    if held_out is not None and (train.pairs is None) != (held_out.pairs is None):
        with_pairs, without = (train, held_out) if train.pairs is not None else (held_out, train)
        raise ValueError(
            f"{with_pairs.source} has text pairs but {without.source} has single texts. "
            "Give both the second text, or neither."
        )
    for rows in groups:
        if not len(rows) and not rows.bad:
            raise ValueError(f"{rows.source} holds no rows. Give at least one text per class.")
    cleaned = [clean_rows(rows) for rows in groups]
    bad = [d for _, descriptions in cleaned for d in descriptions]
    num_rows = sum(len(rows) + len(rows.bad) for rows in groups)
    skipped = handle_bad_rows(bad, num_rows, " and ".join(r.source for r in groups), skip_bad_rows)
    for rows, (good, _) in zip(groups, cleaned):
        if not len(good):
            raise ValueError(
                f"No usable row is left in {rows.source}: all {len(rows) + len(rows.bad)} "
                "are bad. Check the columns and the file's content."
            )
    return cleaned[0][0], cleaned[1][0] if held_out is not None else None, skipped


def _token_counts(train, held_out, preprocessor):
    """The token count of each row of `train` then `held_out`; None without a preprocessor."""
    if preprocessor is None:
        return None
    groups = [train] if held_out is None else [train, held_out]
    pairs = None if train.pairs is None else [p for rows in groups for p in rows.pairs]
    return token_counts([t for rows in groups for t in rows.texts], pairs, preprocessor)


def _pipeline(rows, labels, options, shuffle, classes=None):
    return build_text_pipeline(
        rows.texts,
        rows.pairs,
        labels,
        options.preprocessor,
        batch_size=options.batch_size,
        seed=options.seed,
        cache=options.cache,
        shuffle=shuffle,
        group_by_length=options.group_by_length,
        trim_padding=options.trim_padding,
        balanced_classes=classes if shuffle and options.balanced_sampling else None,
    )


def _warn_classes_without_training_rows(y_train, class_names, multi_label):
    trained = y_train.any(axis=0) if multi_label else np.isin(np.arange(len(class_names)), y_train)
    if not trained.all():
        names = ", ".join(repr(class_names[c]) for c in np.flatnonzero(~trained))
        logger.warning(
            "No training row has class %s; the model will not learn to predict it.", names
        )


def _warn_truncated(truncated, num_train, num_validation, sequence_length):
    if not any(truncated.values()):
        return
    logger.warning(
        "%d of %d training and %d of %d validation texts are longer than sequence_length=%d "
        "tokens and were cut to fit; raise model.sequence_length to keep more of them.",
        truncated["train"],
        num_train,
        truncated["validation"],
        num_validation,
        sequence_length,
    )
