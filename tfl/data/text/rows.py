"""Rows of text and labels as read from a source, and the checks every row passes.

A source (Python lists, a data frame, a CSV/TSV/JSONL file, TFDS) reads its
rows into `TextRows` without judging them. `clean_rows` then finds the bad ones
(empty or whitespace-only text, missing text or label, text that is not UTF-8)
and `handle_bad_rows` makes them one error that names them, or skips and logs
them, so every source treats bad input the same way.
"""

import dataclasses
import difflib
import logging
import math

import numpy as np

logger = logging.getLogger("tfl")

_LISTED_ROWS = 5
SKIP_HINT = (
    "Fix or remove them, or pass skip_bad_rows=True (data.skip_bad_files: true in a config, "
    "--skip-bad-files with `tfl train`, `tfl evaluate`, `tfl cv` or `tfl tune`) to skip them."
)


@dataclasses.dataclass(frozen=True)
class TextRows:
    """Parallel per-row values from one source, before any check.

    Args:
        source: names the input in messages, e.g. "data.csv" or "texts".
        texts: one value per row: str, bytes (UTF-8), or None/NaN if missing.
        labels: one label per row (a scalar, or a list of labels for
            multi-label data), or a 2-D multi-hot numpy array.
        pairs: the second text of each row, or None for single texts.
        place: names a row from its number, e.g. "data.csv line {}".
        numbers: the number of each row used in `place` (a line number, an
            index); None means the position 0..N-1.
        bad: rows already rejected while reading, described, e.g.
            "data.csv line 9: 3 fields, the header has 2".
    """

    source: str
    texts: list
    labels: object
    pairs: list | None = None
    place: str = "row {}"
    numbers: list[int] | None = None
    bad: tuple[str, ...] = ()

    def __len__(self):
        return len(self.texts)

    def where(self, i):
        """Names row `i`, e.g. "data.csv line 7"."""
        return self.place.format(i if self.numbers is None else self.numbers[i])

    def take(self, index):
        """The rows at the positions `index` (their places kept)."""
        index = list(index)
        labels = self.labels
        labels = labels[index] if hasattr(labels, "ndim") else [labels[i] for i in index]
        numbers = index if self.numbers is None else [self.numbers[i] for i in index]
        return dataclasses.replace(
            self,
            texts=[self.texts[i] for i in index],
            labels=labels,
            pairs=None if self.pairs is None else [self.pairs[i] for i in index],
            numbers=numbers,
            bad=(),
        )


def is_missing(value):
    """True for None, NaN and pandas' NA/NaT: a cell with no value."""
    if value is None:
        return True
    if isinstance(value, (float, np.floating)):
        return math.isnan(value)
    return type(value).__name__ in ("NAType", "NaTType")


def utf8_problem(text):
    """None if `text` (a str) is valid Unicode, else where its undecodable byte is.

    Bytes that were not UTF-8 survive decoding with `errors="surrogateescape"`
    as lone surrogates; TensorFlow cannot take such a string.
    """
    try:
        text.encode("utf-8")
        return None
    except UnicodeEncodeError as e:
        code = ord(text[e.start])
        byte = f"byte 0x{code - 0xDC00:02x}" if 0xDC80 <= code <= 0xDCFF else f"U+{code:04X}"
        return f"not UTF-8 ({byte} at character {e.start})"


def clean_text(value, what="text"):
    """Returns `(text, None)` for a usable text, or `(None, reason)`."""
    if is_missing(value):
        return None, f"missing {what}"
    if isinstance(value, bytes):
        try:
            value = value.decode("utf-8")
        except UnicodeDecodeError as e:
            return None, f"{what} is not UTF-8 (byte 0x{value[e.start]:02x} at position {e.start})"
    if not isinstance(value, str):
        return None, f"{what} is a {type(value).__name__} ({value!r:.40}), not a string"
    problem = utf8_problem(value)
    if problem:
        return None, f"{what} is {problem}"
    if not value.strip():
        return None, f"empty {what}" if not value else f"{what} is only whitespace"
    return str(value), None


def label_problem(value):
    """None for a present label, else why it is missing."""
    if hasattr(value, "ndim") and value.ndim == 1 and value.dtype.kind == "f":
        return "missing label (NaN in the multi-hot row)" if np.isnan(value).any() else None
    if isinstance(value, (list, tuple, set)) or (hasattr(value, "ndim") and value.ndim == 1):
        for item in value:
            problem = label_problem(item)
            if problem:
                return f"{problem} in the label list"
        return None
    if is_missing(value) or (isinstance(value, str) and not value.strip()):
        return "missing label"
    if isinstance(value, str):
        problem = utf8_problem(value)
        return f"label is {problem}" if problem else None
    return None


def clean_rows(rows):
    """Splits rows into good ones (texts as str) and descriptions of the bad ones.

    Args:
        rows: a `TextRows`.

    Returns:
        `(good, bad)`: a `TextRows` of the usable rows, texts and pairs as
        str, and a list like ["data.csv line 7: empty text", ...] that
        includes the rows already rejected while reading.
    """
    bad = list(rows.bad)
    keep, texts, pairs = [], [], []
    for i in range(len(rows)):
        text, problem = clean_text(rows.texts[i])
        pair = None
        if problem is None and rows.pairs is not None:
            pair, problem = clean_text(rows.pairs[i], "text pair")
        if problem is None:
            problem = label_problem(rows.labels[i])
        if problem:
            bad.append(f"{rows.where(i)}: {problem}")
            continue
        keep.append(i)
        texts.append(text)
        pairs.append(pair)
    good = rows.take(keep)
    good = dataclasses.replace(good, texts=texts, pairs=None if rows.pairs is None else pairs)
    return good, bad


def describe_rows(descriptions, limit=_LISTED_ROWS):
    """At most `limit` descriptions, one a line, and how many more there are."""
    lines = [f"  {d}" for d in descriptions[:limit]]
    if len(descriptions) > limit:
        lines.append(f"  ... and {len(descriptions) - limit} more")
    return "\n".join(lines)


def handle_bad_rows(bad, num_rows, source, skip_bad_rows):
    """Raises an error naming the bad rows, or logs them once and returns them.

    Args:
        bad: descriptions of the bad rows.
        num_rows: all rows read, bad ones included.
        source: names the input, e.g. "data.csv".
        skip_bad_rows: skip and log instead of raising.

    Returns:
        The descriptions, as a tuple (empty when nothing was bad).
    """
    if not bad:
        return ()
    if not skip_bad_rows:
        raise ValueError(
            f"{len(bad)} of {num_rows} rows of {source} are bad:\n{describe_rows(bad)}\n"
            f"{SKIP_HINT}"
        )
    logger.warning(
        "Skipped %d bad rows of %d in %s:\n%s", len(bad), num_rows, source, describe_rows(bad)
    )
    return tuple(bad)


def check_columns(columns, wanted, source):
    """Checks that every wanted column exists; the error lists those that do.

    Args:
        columns: the columns the source has (a header, JSON keys).
        wanted: `{argument: column}`, e.g. `{"text_column": "text"}`; None
            values are not wanted.
        source: names the input in messages.
    """
    columns = [str(c) for c in columns]
    for argument, column in wanted.items():
        if column is None or column in columns:
            continue
        close = difflib.get_close_matches(str(column), columns, n=1, cutoff=0.5)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(
            f"{source} has no column {column!r} ({argument}={column!r}). Its columns: "
            f"{', '.join(columns) or 'none'}.{hint} Pass {argument}= one of them{_elsewhere(argument)}."
        )


def _elsewhere(argument):
    """How a column argument is given outside Python: its config key and its flag."""
    if not argument.endswith("_column"):
        return ""
    flag = "--" + argument.replace("_", "-")
    return f" (data.{argument} in a config, {flag} with `tfl train` or `tfl evaluate`)"
