"""The cross-validation folds: stratified, non-overlapping, seeded, as folders of links or text files."""

import csv
import json
import os

import numpy as np
import pytest

from tfl.data import from_text_file
from tfl.data.folds import fold_folders
from tfl.data.folds import fold_text_file
from tfl.data.folds import multi_label_folds
from tfl.data.folds import stratified_folds

KEYS = np.array([0] * 7 + [1] * 5 + [2] * 3 + [3] * 10)


@pytest.mark.parametrize("folds", [2, 3])
@pytest.mark.parametrize("repeat", [0, 1])
def test_each_class_is_dealt_evenly_round_the_folds(folds, repeat):
    assignment = stratified_folds(KEYS, folds, seed=7, repeat=repeat)

    assert sorted(set(assignment.tolist())) == list(range(folds))
    for key in np.unique(KEYS):
        members = np.equal(KEYS, key)
        n = int(members.sum())
        per_fold = np.bincount(assignment[members], minlength=folds)
        assert per_fold.min() >= n // folds and per_fold.max() <= -(-n // folds), (key, per_fold)
    sizes = np.bincount(assignment, minlength=folds)
    assert sizes.max() - sizes.min() <= 1


def test_the_folds_are_seeded_and_each_repeat_reshuffles():
    first = stratified_folds(KEYS, 3, seed=7, repeat=0)

    assert np.array_equal(first, stratified_folds(KEYS, 3, seed=7, repeat=0))
    assert not np.array_equal(first, stratified_folds(KEYS, 3, seed=7, repeat=1))
    assert not np.array_equal(first, stratified_folds(KEYS, 3, seed=8, repeat=0))


def test_more_folds_than_the_smallest_class_holds_is_an_error():
    with pytest.raises(ValueError, match=r"folds=4 is more than the 3 examples of class 2.*folds <= 3"):
        stratified_folds(KEYS, 4, seed=0)


@pytest.mark.parametrize("folds", [1, 2.5, True])
def test_folds_must_be_a_whole_number_of_at_least_two(folds):
    with pytest.raises(ValueError, match="Received: folds="):
        stratified_folds(KEYS, folds, seed=0)


def _targets(folder):
    """`{(class, original file)}` of the links below a fold's folder."""
    found = set()
    for name in os.listdir(folder):
        for link in os.listdir(os.path.join(folder, name)):
            found.add((name, os.path.realpath(os.path.join(folder, name, link))))
    return found


def test_every_image_is_held_out_exactly_once_per_repeat(image_folder, tmp_path):
    every = {(name, os.path.realpath(image_folder / name / f)) for name in ("bright", "dark") for f in os.listdir(image_folder / name)}

    found = fold_folders(image_folder, 4, tmp_path / "folds", repeats=2, seed=3)

    assert [fold.name for fold in found] == [f"{r}-{k}" for r in range(2) for k in range(4)]
    for repeat in range(2):
        held_out = [_targets(fold.held_out) for fold in found if fold.repeat == repeat]
        assert set().union(*held_out) == every and sum(map(len, held_out)) == len(every)
        for fold, out in zip([f for f in found if f.repeat == repeat], held_out):
            assert _targets(fold.train) == every - out
            assert (fold.num_train, fold.num_held_out) == (12, 4)
            assert sorted(name for name, _ in out) == ["bright", "bright", "dark", "dark"]
    assert _targets(found[0].held_out) != _targets(found[4].held_out)  # repeat 1 reshuffles


def test_a_fold_folder_is_a_source_like_any_other(image_folder, tmp_path):
    from tfl.data import from_directory

    fold = fold_folders(image_folder, 2, tmp_path / "folds", seed=0)[0]
    data = from_directory(fold.train, validation_path=fold.held_out, image_size=16)

    assert (data.class_names, data.num_train, data.num_validation) == (("bright", "dark"), 8, 8)


def test_too_many_folds_name_the_smallest_image_class(image_folder, tmp_path):
    with pytest.raises(ValueError, match=r"folds=9 is more than the 8 examples of class 'bright', the smallest"):
        fold_folders(image_folder, 9, tmp_path / "folds")


# Text: 7 "pos", 5 "neg" and 4 "mixed" rows, with a second text and a column no config names.
LABELS = ["pos", "neg", "pos", "mixed", "neg", "pos"] * 2 + ["pos", "neg", "mixed", "mixed"]
HEADER = ["text", "pair", "label", "note"]


def _row(i, ending):
    """The cells of row `i`; CSV and JSONL cells carry what needs quoting or escaping."""
    text = {".csv": f'film {i}, "quoted"\nand a second line', ".tsv": f'film {i} "quoted"', ".jsonl": f"film {i} “ünï”\n"}
    note = {"kept": i} if ending == ".jsonl" else f"note {i}"
    return [text[ending], f"pair {i}", LABELS[i], note]


def _write_text_file(path, rows):
    """Writes `rows` (lists of cells under `HEADER`) as `path`'s ending says; returns its path."""
    if path.suffix == ".jsonl":
        path.write_text("".join(json.dumps(dict(zip(HEADER, row))) + "\n" for row in rows), encoding="utf-8")
    elif path.suffix == ".tsv":
        path.write_text("".join("\t".join(map(str, row)) + "\n" for row in [HEADER, *rows]), encoding="utf-8")
    else:
        with open(path, "w", newline="", encoding="utf-8") as f:
            csv.writer(f).writerows([HEADER, *rows])
    return str(path)


def _read_text_file(path):
    """`(header, rows)` of a fold's file, parsed here with the standard library alone."""
    if path.endswith(".jsonl"):
        with open(path, encoding="utf-8") as f:
            rows = [json.loads(line) for line in f if line.strip()]
        return list(rows[0]), [list(row.values()) for row in rows]
    with open(path, newline="", encoding="utf-8") as f:
        if path.endswith(".tsv"):
            lines = [line.rstrip("\n").split("\t") for line in f]
        else:
            lines = list(csv.reader(f))
    return lines[0], lines[1:]


@pytest.mark.parametrize("ending", [".csv", ".tsv", ".jsonl"], ids=["csv", "tsv", "jsonl"])
def test_every_row_is_held_out_exactly_once_per_repeat_with_every_column(ending, tmp_path):
    rows = [_row(i, ending) for i in range(len(LABELS))]
    source = _write_text_file(tmp_path / f"reviews{ending}", rows)
    ids = np.unique(LABELS, return_inverse=True)[1]  # class ids of the sorted labels

    found = fold_text_file(source, 3, tmp_path / "folds", text_pair_column="pair", repeats=2, seed=5)

    assert [fold.name for fold in found] == [f"{r}-{k}" for r in range(2) for k in range(3)]
    for repeat in range(2):
        dealt = stratified_folds(ids, 3, seed=5, repeat=repeat)  # the images' function deals the rows
        held_out = []
        for fold in [f for f in found if f.repeat == repeat]:
            assert fold.train.endswith(f"train{ending}") and fold.held_out.endswith(f"held_out{ending}")
            (train_header, train), (held_out_header, out) = _read_text_file(fold.train), _read_text_file(fold.held_out)
            assert train_header == held_out_header == HEADER
            assert out == [rows[i] for i in np.flatnonzero(dealt == fold.index)]
            assert train == [rows[i] for i in np.flatnonzero(dealt != fold.index)]
            assert (fold.num_train, fold.num_held_out) == (len(train), len(out))
            for label, n in (("pos", 7), ("neg", 5), ("mixed", 4)):
                assert n // 3 <= [row[2] for row in out].count(label) <= -(-n // 3)
            held_out += out
        assert sorted(map(str, held_out)) == sorted(map(str, rows))  # every row once
    assert _read_text_file(found[0].held_out) != _read_text_file(found[3].held_out)  # repeat 1 reshuffles


def test_every_fold_has_the_sources_classes_in_their_order(tmp_path):
    from tfl.data import from_text_file

    labels = ["10", "2", "7", "7", "10", "2", "7", "2", "10", "7"]  # sorted as numbers: 2, 7, 10
    source = _write_text_file(tmp_path / "numbers.csv", [[f"film {i}", "", label, ""] for i, label in enumerate(labels)])

    found = fold_text_file(source, 3, tmp_path / "folds", seed=0)

    assert from_text_file(source).class_names == ("2", "7", "10")
    for fold in found:
        assert from_text_file(fold.train).class_names == ("2", "7", "10")  # each training part has every class
        data = from_text_file(fold.train, validation_path=fold.held_out)
        assert (data.class_names, data.num_train, data.num_validation) == (("2", "7", "10"), fold.num_train, fold.num_held_out)


def test_too_many_folds_name_the_smallest_text_class_and_write_nothing(tmp_path):
    source = _write_text_file(tmp_path / "reviews.csv", [_row(i, ".csv") for i in range(len(LABELS))])

    with pytest.raises(ValueError, match=r"folds=5 is more than the 4 examples of class 'mixed', the smallest.*folds <= 4"):
        fold_text_file(source, 5, tmp_path / "folds")
    assert not (tmp_path / "folds").exists()


def _multi_hot(seed=0, n=60):
    """Rows of 4 labels of unequal frequency, some rows with two or none."""
    rng = np.random.default_rng(seed)
    return (rng.random((n, 4)) < np.array([0.5, 0.3, 0.15, 0.1])).astype(np.int64)


@pytest.mark.parametrize("folds", [2, 3, 5])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_multi_label_folds_hold_each_label_about_evenly(folds, seed):
    hot = _multi_hot(seed)
    assignment = multi_label_folds(hot, folds, seed=seed)

    assert sorted(set(assignment.tolist())) == list(range(folds))
    for label in range(hot.shape[1]):
        per_fold = np.bincount(assignment[hot[:, label] == 1], minlength=folds)
        ideal = hot[:, label].sum() / folds
        assert np.abs(per_fold - ideal).max() < 1.0 + 1e-9, (label, per_fold, ideal)
    sizes = np.bincount(assignment, minlength=folds)
    assert sizes.max() - sizes.min() <= 2


def test_multi_label_folds_are_seeded_and_each_repeat_redraws():
    hot = _multi_hot()
    first = multi_label_folds(hot, 3, seed=7, repeat=0)

    assert np.array_equal(first, multi_label_folds(hot, 3, seed=7, repeat=0))
    assert not np.array_equal(first, multi_label_folds(hot, 3, seed=7, repeat=1))


def test_more_folds_than_the_rarest_label_holds_is_an_error():
    hot = np.array([[1, 0], [1, 1], [1, 0], [0, 1], [1, 0]])

    with pytest.raises(ValueError, match=r"folds=3 is more than the 2 examples with label 'b', the rarest.*folds <= 2"):
        multi_label_folds(hot, 3, seed=0, class_names=("a", "b"))


@pytest.mark.parametrize(
    "name, content, separator",
    [
        ("tags.jsonl", "".join(json.dumps({"text": f"film {i}", "label": [t] + (["c"] if i % 2 else [])}) + "\n"
                               for i, t in enumerate("abababab")), None),
        ("tags.csv", "text,label\n" + "".join(f"film {i},{t}{'|c' if i % 2 else ''}\n" for i, t in enumerate("abababab")),
         "|"),
    ],
    ids=["jsonl_lists", "label_separator"],
)
def test_multi_label_rows_are_dealt_to_folds_with_every_label_in_each(name, content, separator, tmp_path):
    (tmp_path / name).write_text(content)

    found = fold_text_file(tmp_path / name, 2, tmp_path / "folds", label_separator=separator)

    assert [(fold.num_train, fold.num_held_out) for fold in found] == [(4, 4), (4, 4)]
    for fold in found:
        parts = [from_text_file(part, label_separator=separator, validation_path=part).validation_labels
                 for part in (fold.train, fold.held_out)]
        for labels in parts:  # every label in both parts: a, b, c, in the same columns
            assert labels.shape[1] == 3 and labels.sum(axis=0).tolist() == [2, 2, 2]


def test_bad_rows_are_named_or_left_out_of_every_fold(tmp_path):
    rows = [_row(i, ".csv") for i in range(len(LABELS))]
    rows[4][0] = ""  # line 10: each row above spans two lines
    source = _write_text_file(tmp_path / "reviews.csv", rows)

    with pytest.raises(ValueError, match=r"reviews.csv line 10: empty text"):
        fold_text_file(source, 2, tmp_path / "folds")
    found = fold_text_file(source, 2, tmp_path / "folds", skip_bad_rows=True)

    held_out = [row for fold in found for row in _read_text_file(fold.held_out)[1]]
    assert sorted(map(str, held_out)) == sorted(map(str, rows[:4] + rows[5:]))
