"""Text classification data in a file: CSV, TSV (with a header row) or JSON Lines.

Files are read as bytes and decoded per row, so a row that is not UTF-8 is
named (or skipped) instead of failing the whole file.
"""

import csv
import dataclasses
import io
import json
import os

from tfl.data.arguments import path_argument
from tfl.data.options import resolve_options
from tfl.data.text.build import build_text_data
from tfl.data.text.build import build_text_evaluation_data
from tfl.data.text.labels import split_labels
from tfl.data.text.options import TextOptions
from tfl.data.text.rows import TextRows
from tfl.data.text.rows import check_columns
from tfl.data.text.rows import utf8_problem

TEXT_FILE_EXTENSIONS = (".csv", ".tsv", ".jsonl")


def from_text_file(
    path,
    text_column="text",
    label_column="label",
    text_pair_column=None,
    label_separator=None,
    validation_path=None,
    *,
    class_names=None,
    options=None,
    **overrides,
):
    """Builds text pipelines from a `.csv`, `.tsv` or `.jsonl` file.

    A `.csv` file is comma-separated with a header row and standard quoting
    ("a, b" in double quotes; a quote doubled inside). A `.tsv` file is
    tab-separated with a header row and no quoting (tabs and line breaks
    cannot occur in a cell). A `.jsonl` file holds one JSON object per line;
    a list as label makes the data multi-label. Blank lines are ignored; a
    leading UTF-8 byte order mark is dropped. Messages name rows by line
    ("data.csv line 7: empty text").

    Args:
        path: the file.
        text_column: the column (header name or JSON key) holding the text.
        label_column: the column holding the label: a class name, or a whole
            number (a CSV cell "3" is the class "3").
        text_pair_column: an optional column holding a second text, for
            sentence-pair tasks.
        label_separator: splits a label cell at this separator (e.g. "|"),
            which makes the data multi-label: "sports|politics".
        validation_path: an optional held-out file with the same columns.
            Without it, `validation_split` of each class is held out
            (stratified, seeded).
        class_names: the class names, in the model's output order; labels must
            be among them. Defaults to the sorted labels (numerically sorted
            when all are whole numbers).
        options: a `TextOptions` (preprocessor, batch size, split, seed,
            cache, bad rows, padding); None for the defaults.
        **overrides: `TextOptions` fields replacing those of `options`, e.g.
            `preprocessor=preprocessor, batch_size=16`.

    Returns:
        A `TextData`.

    Examples:

    >>> data = from_text_file("reviews.csv", text_column="review", label_column="stars")
    >>> data.class_names
    ('1', '2', '3', '4', '5')
    """
    options = resolve_options(TextOptions, options, overrides, "from_text_file")
    columns = {
        "text_column": text_column,
        "label_column": label_column,
        "text_pair_column": text_pair_column,
    }
    train = read_text_file(path, columns, label_separator, "path")
    held_out = None
    if validation_path is not None:
        held_out = read_text_file(validation_path, columns, label_separator, "validation_path")
    return build_text_data(train, held_out, options=options, class_names=class_names)


def from_text_file_for_evaluation(
    path,
    *,
    class_names,
    multi_label=False,
    text_column="text",
    label_column="label",
    text_pair_column=None,
    label_separator=None,
    options=None,
    **overrides,
):
    """Every row of a text file, labelled in a trained model's class order.

    The text counterpart of `from_directory_for_evaluation`, for scoring a
    model on a test file: nothing is split off, and label `i` means
    `class_names[i]`. The file may hold some of the model's classes only;
    labels are matched by name (whole numbers too, when the model's class
    names are whole numbers, e.g. star ratings). A label the model does not
    know is an error naming its line.

    Args:
        path: a `.csv`, `.tsv` or `.jsonl` file.
        class_names: the model's class names, in its output order.
        multi_label: the model is multi-label (labels become multi-hot).
        text_column, label_column, text_pair_column, label_separator: as in
            `from_text_file`.
        options: a `TextOptions`; of its fields, `preprocessor`,
            `batch_size`, `skip_bad_rows` and `trim_padding` are used: nothing
            is split, shuffled or cached.
        **overrides: `TextOptions` fields replacing those of `options`.

    Returns:
        A `TextData` whose `validation` holds every usable row in file order;
        its `train` is empty (`num_train` 0).

    Examples:

    A model of star ratings 1 to 6 scored on a file whose 20 rows rate 1 to 5
    (`class_names=model.class_names, preprocessor=model.preprocessor` for a
    trained model):

    >>> data = from_text_file_for_evaluation("reviews.csv", text_column="review", label_column="stars",
    ...     class_names=("1", "2", "3", "4", "5", "6"), preprocessor=preprocessor)
    >>> data.num_train, data.num_validation, data.validation_labels[:4].tolist()
    (0, 20, [0, 0, 0, 0])
    """
    options = resolve_options(TextOptions, options, overrides, "from_text_file_for_evaluation")
    options = dataclasses.replace(options, seed=0, cache=False, group_by_length=False)
    columns = {"text_column": text_column, "label_column": label_column, "text_pair_column": text_pair_column}
    rows = read_text_file(path, columns, label_separator, "evaluation_path")
    return build_text_evaluation_data(rows, options=options, class_names=class_names, multi_label=multi_label)


def is_text_file(path):
    """True if `path` ends in .csv, .tsv or .jsonl (any case)."""
    return os.fspath(path).lower().endswith(TEXT_FILE_EXTENSIONS)


def read_text_file(path, columns, label_separator, argument):
    """Reads the wanted columns of a text file into `TextRows`.

    Args:
        path: a `.csv`, `.tsv` or `.jsonl` file.
        columns: `{"text_column": ..., "label_column": ...,
            "text_pair_column": ... or None}`.
        label_separator: splits label cells into lists, or None.
        argument: the argument that named the file, for messages.

    Returns:
        A `TextRows` whose `bad` holds the rows that could not be read.
    """
    name = os.fspath(path)
    if not os.path.exists(name):
        raise FileNotFoundError(f"Text file not found: {name}. Check {path_argument(argument, name)}.")
    if os.path.isdir(name):
        raise ValueError(
            f"{path_argument(argument, name)} is a folder; text data is one {', '.join(TEXT_FILE_EXTENSIONS)} "
            "file. (A folder of class folders is image data.)"
        )
    if not is_text_file(name):
        raise ValueError(
            f"Unknown text file type: {name}. Known: {', '.join(TEXT_FILE_EXTENSIONS)} "
            "(a .json file of one object per line is .jsonl). Rename or convert the file."
        )
    header, records, bad = read_records(name)
    check_columns(header, columns, name)
    jsonl = name.lower().endswith(".jsonl")

    def column(key):
        if jsonl:
            return [record.get(key) for _, record in records]
        i = header.index(key)
        return [fields[i] for _, fields in records]

    pair_column = columns.get("text_pair_column")
    return TextRows(
        source=name,
        texts=column(columns["text_column"]),
        labels=split_labels(column(columns["label_column"]), label_separator),
        pairs=None if pair_column is None else column(pair_column),
        place=f"{name} line {{}}",
        numbers=[line for line, _ in records],
        bad=tuple(bad),
    )


def read_records(path):
    """The header and the rows of a `.csv`, `.tsv` or `.jsonl` file as they are, every column kept.

    Args:
        path: the file; its ending tells its format.

    Returns:
        `(header, records, bad)`: the column names (JSONL: every key seen, in
        order), a list of `(line, row)` where `row` is a list of fields (CSV,
        TSV) or a dict (JSONL), and descriptions of the rows that could not
        be read. `line` is the number messages name the row by, the same as
        in the `numbers` of `read_text_file`'s `TextRows`.
    """
    name = os.fspath(path)
    with open(name, "rb") as f:
        data = f.read()
    if name.lower().endswith(".jsonl"):
        return _read_jsonl(data, name)
    tsv = name.lower().endswith(".tsv")
    return read_delimited(data, name, "\t" if tsv else ",", csv.QUOTE_NONE if tsv else csv.QUOTE_MINIMAL)


def read_delimited(data, name, delimiter=",", quoting=csv.QUOTE_MINIMAL):
    """Parses CSV or TSV bytes with a header row, keeping undecodable bytes.

    The bytes are decoded with `errors="surrogateescape"`, so that a cell that
    is not UTF-8 can be found later (`utf8_problem`) and its row named, instead
    of failing the whole file.

    Args:
        data: the file's bytes.
        name: the file, for messages.
        delimiter: "," or "\\t".
        quoting: `csv.QUOTE_MINIMAL` (CSV) or `csv.QUOTE_NONE` (TSV).

    Returns:
        `(header, records, bad)`: the stripped column names, a list of
        `(line, fields)` with one field per column, and descriptions of rows
        with another number of fields.
    """
    text = data.decode("utf-8", errors="surrogateescape").removeprefix("\ufeff")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quoting=quoting)
    # csv refuses a cell over 131,072 characters; a long text is cut to
    # sequence_length (and counted) later, like any other.
    csv.field_size_limit(max(csv.field_size_limit(), len(text)))
    try:
        header = next(reader, None)
        if header is None:
            raise ValueError(f"{name} is empty. It needs a header row, e.g. text,label.")
        header = [h.strip() for h in header]
        problem = next(filter(None, map(utf8_problem, header)), None)
        if problem:
            raise ValueError(f"The header row of {name} is {problem}. Save the file as UTF-8.")
        duplicates = sorted({h for h in header if header.count(h) > 1})
        if duplicates:
            raise ValueError(
                f"The header row of {name} repeats {', '.join(map(repr, duplicates))}. "
                "Give every column its own name."
            )
        records, bad = [], []
        line = reader.line_num + 1
        for fields in reader:
            if fields and not (len(fields) == 1 and not fields[0].strip() and len(header) > 1):
                if len(fields) == len(header):
                    records.append((line, fields))
                else:
                    bad.append(
                        f"{name} line {line}: {len(fields)} field{'s' * (len(fields) != 1)}, "
                        f"the header has {len(header)}"
                        f"{_field_hint(delimiter) if len(fields) > len(header) else ''}"
                    )
            line = reader.line_num + 1
    except csv.Error as e:
        raise ValueError(
            f"{name} line {reader.line_num}: cannot be read as "
            f"{'TSV' if delimiter == chr(9) else 'CSV'} ({e})."
        ) from None
    return header, records, bad


def _field_hint(delimiter):
    if delimiter == ",":
        return " (quote a text that holds commas: \"a, b\")"
    return " (a tab inside a text?)"


def _read_jsonl(data, name):
    """Returns `(keys, records, bad)`: all keys seen, `(line, object)` pairs, bad lines."""
    data = data.removeprefix(b"\xef\xbb\xbf")
    keys, records, bad = {}, [], []
    for line, raw in enumerate(data.split(b"\n"), start=1):
        if not raw.strip():
            continue
        try:
            value = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError as e:
            bad.append(f"{name} line {line}: not UTF-8 (byte 0x{raw[e.start]:02x} at position {e.start})")
            continue
        except json.JSONDecodeError as e:
            bad.append(f"{name} line {line}: not valid JSON ({e.msg} at column {e.colno})")
            continue
        if not isinstance(value, dict):
            bad.append(f"{name} line {line}: a JSON {type(value).__name__}, not an object {{...}}")
            continue
        keys.update(dict.fromkeys(value))
        records.append((line, value))
    if not records and not bad:
        raise ValueError(
            f"{name} holds no rows. Give one JSON object per line, e.g. "
            '{"text": "a fine film", "label": "pos"}'
        )
    return list(keys), records, bad
