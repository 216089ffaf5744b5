"""Texts and labels held in memory: Python lists, numpy arrays, pandas data frames."""

from tfl.data.options import resolve_options
from tfl.data.text.build import build_text_data
from tfl.data.text.labels import split_labels
from tfl.data.text.options import TextOptions
from tfl.data.text.rows import TextRows
from tfl.data.text.rows import check_columns


def from_texts(
    texts, labels, *, text_pairs=None, class_names=None, validation_data=None, options=None, **overrides
):
    """Builds text pipelines from texts and labels in memory.

    Args:
        texts: the texts: a list, numpy array or pandas Series of str (bytes
            are decoded as UTF-8).
        labels: one label per text, one of: class names (str), the classes
            being the sorted unique names (numerically sorted when all are
            whole numbers) unless `class_names` is given; whole numbers (ints,
            or floats such as 2.0 from a pandas column with gaps), named
            "0", "1", ... after their sorted unique values, or indices into
            `class_names` when it is given; a list of labels per text, which
            makes the data multi-label; or a 2-D 0/1 numpy array (N, C),
            multi-hot, also multi-label.
        text_pairs: optional second texts, one per text, for sentence-pair
            tasks (entailment, paraphrase).
        class_names: the class names, in the model's output order.
        validation_data: optional held-out `(texts, labels)` or
            `(texts, labels, text_pairs)`. Without it, `validation_split` of
            each class is held out (stratified, seeded); multi-label rows are
            stratified per label (`tfl.data.split.multi_label_split`).
        options: a `TextOptions` (preprocessor, batch size, split, seed,
            cache, bad rows, padding); None for the defaults.
        **overrides: `TextOptions` fields replacing those of `options`, e.g.
            `preprocessor=preprocessor, batch_size=16`.

    Returns:
        A `TextData`.

    Examples:

    >>> data = from_texts(["fun film", "dull film", "great", "awful"] * 5,
    ...     ["pos", "neg", "pos", "neg"] * 5, validation_split=0.2)
    >>> data.class_names, data.num_validation
    (('neg', 'pos'), 4)
    """
    options = resolve_options(TextOptions, options, overrides, "from_texts")
    train = _rows("texts", texts, labels, text_pairs, ("texts", "labels", "text_pairs"))
    held_out = None
    if validation_data is not None:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
            raise ValueError(
                "validation_data is (texts, labels) or (texts, labels, text_pairs). "
                f"Received: {type(validation_data).__name__} of "
                f"{len(validation_data) if hasattr(validation_data, '__len__') else '?'} items"
            )
        val_texts, val_labels, *val_pairs = validation_data
        names = ("validation_data[0]", "validation_data[1]", "validation_data[2]")
        held_out = _rows(
            "validation_data", val_texts, val_labels, val_pairs[0] if val_pairs else None, names
        )
    return build_text_data(train, held_out, options=options, class_names=class_names)


def from_dataframe(
    frame,
    text_column="text",
    label_column="label",
    text_pair_column=None,
    *,
    label_separator=None,
    class_names=None,
    validation_frame=None,
    options=None,
    **overrides,
):
    """Builds text pipelines from the columns of a data frame (e.g. pandas).

    Any object with `columns` and `frame[column]` works; pandas itself is not
    needed by tfl. Rows are named by position in messages ("frame row 7").

    Args:
        frame: the data frame.
        text_column: the column holding the text.
        label_column: the column holding the labels (see `from_texts`; a
            column of lists is multi-label).
        text_pair_column: an optional column holding a second text.
        label_separator: splits a string label at this separator (e.g. "|"),
            which makes the data multi-label.
        class_names: the class names, in the model's output order.
        validation_frame: an optional held-out frame with the same columns.
            Without it, `validation_split` of each class is held out
            (stratified, seeded).
        options: a `TextOptions` (preprocessor, batch size, split, seed,
            cache, bad rows, padding); None for the defaults.
        **overrides: `TextOptions` fields replacing those of `options`, e.g.
            `preprocessor=preprocessor, batch_size=16`.

    Returns:
        A `TextData`.

    Examples:

    >>> import pandas
    >>> frame = pandas.DataFrame({"review": ["fun", "dull"] * 5, "label": [1, 0] * 5})
    >>> data = from_dataframe(frame, text_column="review")
    >>> data.class_names
    ('0', '1')
    """
    options = resolve_options(TextOptions, options, overrides, "from_dataframe")
    columns = {
        "text_column": text_column,
        "label_column": label_column,
        "text_pair_column": text_pair_column,
    }
    train = _frame_rows(frame, "frame", columns, label_separator)
    held_out = None
    if validation_frame is not None:
        held_out = _frame_rows(validation_frame, "validation_frame", columns, label_separator)
    return build_text_data(train, held_out, options=options, class_names=class_names)


def _frame_rows(frame, name, columns, label_separator):
    if not hasattr(frame, "columns") or not hasattr(frame, "__getitem__"):
        raise TypeError(
            f"{name} is a data frame with named columns (e.g. a pandas.DataFrame). "
            f"Received: {type(frame).__name__}"
        )
    check_columns(list(frame.columns), columns, name)
    text_column, label_column, pair_column = columns.values()
    pairs = None if pair_column is None else _as_list(frame[pair_column], name)
    labels = split_labels(_as_list(frame[label_column], name), label_separator)
    rows = TextRows(
        name, _as_list(frame[text_column], name), labels, pairs, place=f"{name} row {{}}"
    )
    return rows


def _rows(source, texts, labels, pairs, names):
    texts = _as_list(texts, names[0])
    labels = _as_labels(labels, names[1])
    lengths = {names[0]: len(texts), names[1]: len(labels)}
    if pairs is not None:
        pairs = _as_list(pairs, names[2])
        lengths[names[2]] = len(pairs)
    if len(set(lengths.values())) > 1:
        raise ValueError(
            "Give exactly one label (and text pair) per text. Received: "
            + ", ".join(f"{n} of {k} items" for n, k in lengths.items())
        )
    return TextRows(source, texts, labels, pairs, place=f"{source}[{{}}]")


def _as_list(values, name):
    """A list of the values of a list, tuple, numpy array or pandas Series."""
    if values is None or isinstance(values, (str, bytes)) or getattr(values, "ndim", 1) != 1:
        shape = getattr(values, "shape", None)
        described = f"shape {shape}" if shape is not None else repr(values)[:60]
        raise ValueError(
            f"{name} is a list (or 1-D array, or Series) with one item per row. "
            f"Received: {type(values).__name__} {described}"
        )
    if hasattr(values, "tolist"):
        return values.tolist()
    return list(values)


def _as_labels(labels, name):
    """Labels as a list, or a 2-D array kept whole (multi-hot)."""
    if getattr(labels, "ndim", None) == 2:
        return labels.to_numpy() if hasattr(labels, "to_numpy") else labels
    return _as_list(labels, name)
