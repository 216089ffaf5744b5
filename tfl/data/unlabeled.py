"""Unlabelled examples for semi-supervised training (self-training, pseudo-labels).

The same inputs domain adaptation reads: a folder of loose images, or a text
file whose text column is read (`data.unlabeled_source`). Images in class
folders named like the classes, or a label column in the text file, give
*true* labels: `UnlabeledData.true_labels` keeps them for the report (how
accurate the accepted pseudo-labels are), and nothing trains on them: the
examples' pipeline (`UnlabeledData.inputs`) yields the inputs alone.
"""

import dataclasses
import os

import numpy as np
import tensorflow as tf

from tfl.data.arguments import path_argument
from tfl.data.image.files import scan_partly_labelled_folder
from tfl.data.image.pipeline import build_pipeline
from tfl.data.image.pipeline import load_image_file
from tfl.data.image.pipeline import normalize_image_size
from tfl.data.image.pipeline import resize_to_uint8
from tfl.data.image.pipeline import to_rgb
from tfl.data.text.file import TEXT_FILE_EXTENSIONS
from tfl.data.text.file import is_text_file
from tfl.data.text.file import read_text_file
from tfl.data.text.pipeline import build_text_pipeline
from tfl.data.text.rows import clean_text
from tfl.data.text.rows import handle_bad_rows

UNKNOWN = -1


@dataclasses.dataclass(frozen=True, eq=False)
class UnlabeledData:
    """Unlabelled examples in a fixed order.

    Args:
        inputs: batches of the model's inputs only (`{"images": ...}` or the
            tokenizer's dict), always in the same order: example `i` of the
            pass is `true_labels[i]`'s example.
        num_examples: how many.
        true_labels: int32 `[N]`, the class of each example where it is known
            (class folders, a label column), -1 where not; None when no label
            is known. For reports only: self-training never trains on them.
        source: names the examples in messages and reports.
        task: "image" or "text".

    Examples:

    >>> images = np.zeros((3, 8, 8, 3), np.uint8)
    >>> unlabeled = unlabeled_images(images, image_size=16)
    >>> unlabeled.num_examples, unlabeled.true_labels is None
    (3, True)
    """

    inputs: tf.data.Dataset
    num_examples: int
    true_labels: np.ndarray | None
    source: str
    task: str

    @property
    def num_known(self):
        """Examples whose true label is known."""
        return 0 if self.true_labels is None else int(np.sum(self.true_labels != UNKNOWN))

    def __repr__(self):
        return f"UnlabeledData({self.num_examples} examples from {self.source}, {self.num_known} with known labels)"


def unlabeled_images(
    source, *, image_size, class_names=(), true_labels=None, resize="crop", batch_size=32, skip_bad_files=False
):
    """Unlabelled images from a folder or a numpy array.

    Args:
        source: a folder of loose images, or of class folders named like
            `class_names` (their labels are known, for the report only), or
            both; or a uint8 array `[N, H, W, 3]` (values 0..255).
        image_size: `(height, width)` (or one int) the model takes.
        class_names: the model's class names (what class folders may be named).
        true_labels: with an array: the known classes (ids, -1 unknown), or None.
        resize: "crop" or "stretch", as the model's `resize`.
        batch_size: examples per batch.
        skip_bad_files: skip unreadable image files instead of failing.

    Returns:
        An `UnlabeledData`.

    Examples:

    >>> images = np.zeros((4, 8, 8, 3), np.uint8)
    >>> unlabeled_images(images, image_size=16, true_labels=[0, 1, -1, -1]).num_known
    2
    """
    image_size = normalize_image_size(image_size)
    if isinstance(source, (str, os.PathLike)):
        raw, labels = _scan_folder(os.fspath(source), tuple(class_names), skip_bad_files)
        name = os.fspath(source)

        def load(path):
            return load_image_file(path, image_size, resize)

    else:
        raw = np.asarray(source)
        if raw.ndim != 4 or raw.shape[0] == 0 or raw.shape[-1] not in (1, 3):
            raise ValueError(
                "Unlabelled images are an array [N, H, W, 3] (or [N, H, W, 1]) with N >= 1 and values "
                f"in [0, 255]. Received: shape {raw.shape}"
            )
        labels = _true_labels(true_labels, len(raw), len(class_names))
        name = f"an array of {len(raw)} images"

        def load(image):
            return resize_to_uint8(to_rgb(tf.cast(image, tf.float32)), image_size, resize)

    dataset = build_pipeline(
        tf.data.Dataset.from_tensor_slices((raw, np.zeros(len(raw), np.int32))),
        load,
        num_examples=len(raw),
        batch_size=batch_size,
        seed=0,
        cache=True,
        shuffle=False,
    )
    return UnlabeledData(dataset.map(lambda x, y: x), len(raw), _none_if_unknown(labels), name, "image")


def unlabeled_texts(source, *, preprocessor, class_names=(), true_labels=None, text_column="text",
                    text_pair_column=None, label_column="label", batch_size=32, skip_bad_rows=False):
    """Unlabelled texts from a `.csv`, `.tsv` or `.jsonl` file, or a list.

    Args:
        source: a text file whose `text_column` is read (a `label_column`
            holding class names, where present, gives true labels for the
            report only; empty cells are unknown), or a list of str (of
            `(text, text_pair)` tuples for a sentence-pair model).
        preprocessor: the model's KerasHub preprocessor, or None for raw strings.
        class_names: the model's class names.
        true_labels: with a list: the known class ids (-1 unknown), or None.
        text_column: the file's text column.
        text_pair_column: the file's second text column, for a sentence-pair
            model; None for single texts.
        label_column: the file's label column, if it has one.
        batch_size: examples per batch.
        skip_bad_rows: skip (and log) rows of the file, or items of the list,
            that training data would refuse (a missing, empty or
            whitespace-only text, text that is not UTF-8, a wrong number of
            fields, invalid JSON) instead of failing. A list that mixes
            strings and pairs is always refused.

    Returns:
        An `UnlabeledData`.

    Examples:

    >>> unlabeled_texts(["good", "bad", "fine"], preprocessor=None).num_examples
    3
    """
    if isinstance(source, (str, os.PathLike)):
        texts, labels = _read_texts(os.fspath(source), tuple(class_names), text_column, text_pair_column,
                                    label_column, skip_bad_rows)
        name = os.fspath(source)
    else:
        source = list(source)
        name = f"a list of {len(source)} texts"
        labels = _true_labels(true_labels, len(source), len(class_names))
        texts, kept = _list_texts(source, name, skip_bad_rows)
        labels = None if labels is None else labels[kept]
    if not texts:
        raise ValueError(f"No unlabelled texts in {name}. Give at least one text.")
    pairs = None
    if isinstance(texts[0], tuple):
        texts, pairs = [first for first, _ in texts], [second for _, second in texts]
    dataset = build_text_pipeline(
        texts, pairs, np.zeros(len(texts), np.int32), preprocessor,
        batch_size=batch_size, seed=0, cache=True, shuffle=False, trim_padding=False,
    )
    return UnlabeledData(dataset.map(lambda x, y: x), len(texts), _none_if_unknown(labels), name, "text")


def load_unlabeled(source, task, *, class_names, batch_size=32, image_size=None, resize="crop",
                   preprocessor=None, text_column="text", text_pair_column=None, label_column="label",
                   skip_bad_files=False):
    """`data.unlabeled_source` for a run of `task`: an image folder or a text file.

    Raises a ValueError naming the source when it holds the other task's data.

    Examples:

    >>> load_unlabeled("to_predict/", "image", class_names=("cat", "dog"), image_size=32).num_examples
    2
    """
    name = os.fspath(source)
    if task == "image":
        if is_text_file(name):
            raise ValueError(
                f"{path_argument('data.unlabeled_source', name)} is a text file, and this run trains an image "
                "classifier. Give a folder of unlabelled images (class folders named like the classes are allowed)."
            )
        return unlabeled_images(name, image_size=image_size, class_names=class_names, resize=resize,
                                batch_size=batch_size, skip_bad_files=skip_bad_files)
    if os.path.isdir(name) or not is_text_file(name):
        raise ValueError(
            f"{path_argument('data.unlabeled_source', name)} is not a {'/'.join(TEXT_FILE_EXTENSIONS)} file, "
            f"and this run trains a text classifier. Give a text file with the column {text_column!r}."
        )
    return unlabeled_texts(name, preprocessor=preprocessor, class_names=class_names, text_column=text_column,
                           text_pair_column=text_pair_column, label_column=label_column, batch_size=batch_size,
                           skip_bad_rows=skip_bad_files)


def _true_labels(true_labels, count, num_classes):
    if true_labels is None:
        return None
    labels = np.asarray(true_labels).astype(np.int64).reshape(-1)
    if len(labels) != count:
        raise ValueError(f"true_labels has {len(labels)} entries for {count} examples; give one per example.")
    bad = labels[(labels < UNKNOWN) | ((labels >= num_classes) if num_classes else False)]
    if len(bad):
        raise ValueError(
            f"true_labels holds {bad[0]}, which is not a class id 0..{num_classes - 1} or -1 (unknown)."
        )
    return labels.astype(np.int32)


def _list_texts(source, name, skip_bad_rows):
    """The texts of a list (`(text, text_pair)` tuples when its first item is a pair), and the
    positions kept: an item that training would refuse is an error naming it, or skipped."""
    pairs = bool(source) and isinstance(source[0], (tuple, list))
    kinds = "(text, text_pair) pairs, like source[0]" if pairs else "strings, like source[0]"
    texts, kept, bad = [], [], []
    for i, item in enumerate(source):
        if pairs and isinstance(item, (tuple, list)) and len(item) != 2:
            raise ValueError(f"source[{i}] holds {len(item)} texts: {item!r:.80}. A pair is (text, text_pair).")
        if isinstance(item, (tuple, list)) != pairs:
            raise ValueError(
                f"source[{i}] is {item!r:.80}, but a list of unlabelled texts holds {kinds}: strings for a "
                "single-text model, (text, text_pair) tuples for a sentence-pair model, never both."
            )
        cleaned = [clean_text(value, what) for value, what in zip(item if pairs else [item], ("text", "text pair"))]
        problem = next((problem for _, problem in cleaned if problem), None)
        if problem:
            bad.append(f"source[{i}]: {problem}")
            continue
        texts.append(tuple(text for text, _ in cleaned) if pairs else cleaned[0][0])
        kept.append(i)
    handle_bad_rows(bad, len(source), name, skip_bad_rows)
    return texts, kept


def _none_if_unknown(labels):
    return None if labels is None or not np.any(labels != UNKNOWN) else labels


def _scan_folder(root, class_names, skip_bad_files):
    """The folder's image paths and true labels (-1 for loose images)."""
    return scan_partly_labelled_folder(
        root,
        class_names,
        skip_bad_files=skip_bad_files,
        name="the unlabelled images folder",
        argument="data.unlabeled_source",
    )


def _read_texts(path, class_names, text_column, text_pair_column, label_column, skip_bad_rows):
    """The file's texts (or `(text, text_pair)` pairs), and its labels where it has a label column
    (class names; others unknown). Bad rows are an error naming them, or skipped and logged."""
    columns = {"text_column": text_column, "label_column": label_column, "text_pair_column": text_pair_column}
    try:
        rows = read_text_file(path, columns, None, "data.unlabeled_source")
        cells = rows.labels
    except ValueError as error:
        if f"(label_column={label_column!r})" not in str(error):
            raise
        rows = read_text_file(path, {**columns, "label_column": text_column}, None, "data.unlabeled_source")
        cells = None
    bad, texts, labels = list(rows.bad), [], []
    for i in range(len(rows)):
        text, problem = clean_text(rows.texts[i])
        pair = None
        if problem is None and rows.pairs is not None:
            pair, problem = clean_text(rows.pairs[i], "text pair")
        if problem:
            bad.append(f"{rows.where(i)}: {problem}")
            continue
        texts.append(text if rows.pairs is None else (text, pair))
        cell = None if cells is None else cells[i]
        labels.append(class_names.index(str(cell)) if cell is not None and str(cell) in class_names else UNKNOWN)
    handle_bad_rows(bad, len(rows) + len(rows.bad), path, skip_bad_rows)
    return texts, None if cells is None else np.array(labels, np.int32)
