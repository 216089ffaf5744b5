"""Parts of a text file as text files of its own format: what its cross-validation folds are.

`labelled_rows` reads a `.csv`, `.tsv` or `.jsonl` file as `from_text_file`
reads it (bad rows named or skipped, labels checked, classes sorted), without
splitting anything off; `write_parts` writes chosen rows of it, by line, to
new files of the same format with every column, so the config that named the
columns of the source (`data.text_column`, `data.text_pair_column`,
`data.label_column`) reads the parts as they are.
"""

import csv
import io
import json
import os

from tfl.data.text.build import label_rows
from tfl.data.text.file import read_records
from tfl.data.text.file import read_text_file
from tfl.io import write_bytes


def labelled_rows(
    path, text_column="text", label_column="label", text_pair_column=None, label_separator=None, *, skip_bad_rows=False
):
    """The usable rows of a text file and their labels, read and checked as
    `from_text_file` reads them (nothing split off).

    Args:
        path: a `.csv`, `.tsv` or `.jsonl` file.
        text_column: the column holding the text.
        label_column: the column holding the label.
        text_pair_column: an optional second text column.
        label_separator: splits label cells into several labels
            (multi-label), or None.
        skip_bad_rows: leave bad rows out (logged) instead of failing.

    Returns:
        `(class_names, lines, labels)`: the class names in the order
        `from_text_file` gives them (the sorted labels), the line of each
        usable row (as messages name it, and `write_parts` takes it), and
        int32 class ids, or float32 multi-hot rows `[N, C]` for multi-label
        data.

    Examples:

    >>> class_names, lines, labels = labelled_rows("reviews.csv", text_column="review", label_column="stars")
    >>> class_names, lines[:3], labels[:3].tolist()
    (('1', '2', '3', '4', '5'), [2, 3, 4], [0, 0, 0])
    """
    columns = {"text_column": text_column, "label_column": label_column, "text_pair_column": text_pair_column}
    rows = read_text_file(path, columns, label_separator, "path")
    good, labels, class_names = label_rows(rows, skip_bad_rows=skip_bad_rows)
    return class_names, list(good.numbers), labels


def write_parts(source, parts, folder):
    """Writes rows of the text file `source`, chosen by line, to new files of its format.

    Each part keeps the header and every column of `source` (CSV quoted as
    needed, TSV as it was, JSONL one object a line), and its rows in the order
    given. Each file is written atomically.

    Args:
        source: a `.csv`, `.tsv` or `.jsonl` file.
        parts: `{name: lines}`: the rows of each new file, by the lines
            `labelled_rows` gives them.
        folder: where each `<name><ending of source>` goes; made if missing.

    Returns:
        `{name: path}` of the files written.

    Examples:

    >>> write_parts("reviews.csv", {"train": [2, 3], "held_out": [4]}, "parts")
    {'train': 'parts/train.csv', 'held_out': 'parts/held_out.csv'}
    """
    name = os.fspath(source)
    ending = os.path.splitext(name)[1].lower()
    header, records, _ = read_records(name)
    by_line = dict(records)
    written = {}
    for part, lines in parts.items():
        path = os.path.join(os.fspath(folder), f"{part}{ending}")
        write_bytes(path, _file_bytes(ending, header, [by_line[line] for line in lines]))
        written[part] = path
    return written


def _file_bytes(ending, header, rows):
    """The bytes of a `.csv`, `.tsv` or `.jsonl` file holding `rows` under `header`."""
    if ending == ".jsonl":
        return "".join(_json_line(row) for row in rows).encode("utf-8")
    if ending == ".tsv":  # read without quoting: a cell holds no tab and no line break
        text = "".join("\t".join(fields) + "\n" for fields in [header, *rows])
    else:  # the csv module's default quotes a cell with a comma, a quote, "\r" or "\n"
        buffer = io.StringIO()
        csv.writer(buffer).writerows([header, *rows])
        text = buffer.getvalue()
    # Bytes that were not UTF-8 were read as lone surrogates: written back as the same bytes.
    return text.encode("utf-8", errors="surrogateescape")


def _json_line(row):
    line = json.dumps(row, ensure_ascii=False)
    try:
        line.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate from a "\udc80" escape: kept as an escape
        line = json.dumps(row)
    return line + "\n"
