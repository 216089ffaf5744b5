import collections
import logging
import re

import numpy as np
import pandas as pd
import pytest

from tests.data import text_fakes
from tests.data.text_fakes import CLS
from tests.data.text_fakes import ID
from tests.data.text_fakes import PAD
from tests.data.text_fakes import SEP
from tfl.data import from_dataframe
from tfl.data import from_texts


def _numbered(counts):
    """Texts "w0", "w1", ... labelled by class: {"a": 3, "b": 2} -> 5 rows."""
    labels = [name for name, count in counts.items() for _ in range(count)]
    return [f"w{i}" for i in range(len(labels))], labels


def test_a_known_sentence_gives_exact_token_ids():
    data = from_texts(
        ["The cat sat on the mat", "a dog"],
        ["x", "y"],
        validation_data=(["The cat sat on the mat"], ["x"]),
        preprocessor=text_fakes.preprocessor(16),
    )

    inputs, labels = next(iter(data.validation))

    expected = [CLS] + [ID[w] for w in ["the", "cat", "sat", "on", "the", "mat"]] + [SEP]
    # 8 tokens: the batch is trimmed from sequence_length 16 to them.
    np.testing.assert_array_equal(inputs["token_ids"][0], expected)
    np.testing.assert_array_equal(inputs["padding_mask"][0], [True] * 8)
    np.testing.assert_array_equal(inputs["segment_ids"][0], [0] * 8)
    assert inputs["token_ids"].dtype == "int32" and labels.dtype == "int32"
    assert data.sequence_length == 16 and data.truncated == {"train": 0, "validation": 0}


def test_labels_stay_with_their_texts_through_the_shuffle_and_reshuffle_each_epoch():
    texts, labels = _numbered({"a": 12, "b": 8, "c": 4})
    data = from_texts(texts, labels, batch_size=5, seed=3)

    first = text_fakes.texts_and_labels(data.train)
    second = text_fakes.texts_and_labels(data.train)

    truth = dict(zip(texts, labels))
    assert all(data.class_names[y] == truth[t] for t, y in first + second)
    assert sorted(first) == sorted(second) and first != second
    assert [t for t, _ in first] != sorted(t for t, _ in first)


def test_tokenized_training_batches_keep_their_labels():
    texts = ["good movie"] * 6 + ["bad movie"] * 6
    labels = ["pos"] * 6 + ["neg"] * 6
    data = from_texts(texts, labels, preprocessor=text_fakes.preprocessor(8), batch_size=4, seed=1)

    for inputs, y in data.train:
        first_word = inputs["token_ids"].numpy()[:, 1]
        np.testing.assert_array_equal(first_word == ID["good"], y.numpy() == 1)


def test_validation_is_fixed_and_matches_validation_labels():
    texts, labels = _numbered({"a": 10, "b": 10})
    data = from_texts(texts, labels, batch_size=3)

    first = text_fakes.texts_and_labels(data.validation)

    assert first == text_fakes.texts_and_labels(data.validation)
    np.testing.assert_array_equal([y for _, y in first], data.validation_labels)
    assert data.validation_labels.dtype == np.int32


def test_split_is_stratified_disjoint_and_complete():
    texts, labels = _numbered({"a": 10, "b": 5, "c": 2})
    data = from_texts(texts, labels, validation_split=0.2)

    train = text_fakes.texts_and_labels(data.train)
    held_out = text_fakes.texts_and_labels(data.validation)

    assert collections.Counter(data.class_names[y] for _, y in held_out) == {"a": 2, "b": 1, "c": 1}
    assert (data.num_train, data.num_validation) == (13, 4)
    assert sorted(t for t, _ in train + held_out) == sorted(texts)


def test_split_depends_on_the_seed_only():
    texts, labels = _numbered({"a": 15, "b": 15})

    def held_out(seed):
        return [t for t, _ in text_fakes.texts_and_labels(from_texts(texts, labels, seed=seed).validation)]

    assert held_out(5) == held_out(5)
    assert held_out(5) != held_out(6)


LABELS = {
    "strings_sorted": (["b", "a", "c", "a"], None, ("a", "b", "c"), [1, 0, 2, 0]),
    "strings_in_given_order": (["b", "a", "c", "a"], ("c", "b", "a"), ("c", "b", "a"), [1, 2, 0, 2]),
    "whole_number_strings_sorted_numerically": (["10", "2", "1", "2"], None, ("1", "2", "10"), [2, 1, 0, 1]),
    "ints_named_by_sorted_values": ([3, -1, 7, 3], None, ("-1", "3", "7"), [1, 0, 2, 1]),
    "ints_index_class_names": ([1, 0, 2, 1], ("neg", "neutral", "pos"), ("neg", "neutral", "pos"), [1, 0, 2, 1]),
    "integral_floats": (np.array([1.0, 0.0, 2.0, 1.0]), None, ("0", "1", "2"), [1, 0, 2, 1]),
    "numpy_strings": (np.array(["y", "x", "z", "x"]), None, ("x", "y", "z"), [1, 0, 2, 0]),
    "padded_strings": ([" b", "a ", "c", "a"], None, ("a", "b", "c"), [1, 0, 2, 0]),
}


@pytest.mark.parametrize("case", LABELS.values(), ids=LABELS.keys())
def test_labels_give_class_names_and_ids(case):
    labels, class_names, expected_names, expected_ids = case
    texts = ["t0", "t1", "t2", "t3"]
    data = from_texts(texts, labels, class_names=class_names, validation_data=(texts, labels))

    assert data.class_names == expected_names
    np.testing.assert_array_equal(data.validation_labels, expected_ids)


def test_lists_of_labels_are_multi_label_over_the_sorted_union():
    texts = ["t0", "t1", "t2", "t3"]
    labels = [["sports", "politics"], ["arts"], [], ("politics",)]
    data = from_texts(texts, labels, validation_data=(texts, labels))

    _, y = next(iter(data.validation))

    assert data.multi_label and data.class_names == ("arts", "politics", "sports")
    np.testing.assert_array_equal(y, [[0, 1, 1], [1, 0, 0], [0, 0, 0], [0, 1, 0]])
    assert y.dtype == "float32"


def test_a_2d_array_is_multi_hot():
    texts = ["t0", "t1", "t2"]
    multi_hot = np.array([[1, 0, 1], [0, 1, 0], [1, 1, 0]])
    data = from_texts(texts, multi_hot, class_names=["x", "y", "z"], validation_data=(texts, multi_hot))

    assert data.multi_label and data.class_names == ("x", "y", "z")
    np.testing.assert_array_equal(data.validation_labels, multi_hot)


def test_multi_label_is_stratified_per_label_and_allows_one_class():
    texts = [f"t{i}" for i in range(10)]
    data = from_texts(texts, [["only"]] * 10, validation_split=0.3)

    assert data.class_names == ("only",) and (data.num_train, data.num_validation) == (7, 3)


def test_raw_strings_without_a_preprocessor_include_the_pair():
    data = from_texts(["a", "b"], ["x", "y"], text_pairs=["c", "d"], validation_data=(["a"], ["y"], ["e"]))

    inputs, _ = next(iter(data.validation))

    assert set(inputs) == {"text", "text_pair"} and data.text_pairs
    assert inputs["text"].dtype == "string"
    assert inputs["text_pair"].numpy().tolist() == [b"e"]
    assert data.sequence_length is None and data.truncated is None


def test_pairs_get_segment_ids_0_then_1():
    data = from_texts(
        ["the cat", "a dog"], ["x", "y"], text_pairs=["a dog", "the cat"],
        validation_data=(["the cat"], ["x"], ["a dog"]), preprocessor=text_fakes.preprocessor(16),
    )

    inputs, _ = next(iter(data.validation))

    ids = [CLS, ID["the"], ID["cat"], SEP, ID["a"], ID["dog"], SEP]
    np.testing.assert_array_equal(inputs["token_ids"][0, :8], ids + [PAD])
    np.testing.assert_array_equal(inputs["segment_ids"][0, :8], [0, 0, 0, 0, 1, 1, 1, 0])


def test_long_texts_are_cut_and_counted_exactly(caplog):
    # sequence_length 16: a text of 14 tokens fits ([CLS] + 14 + [SEP]), 15 is cut.
    texts = [text_fakes.words(n) for n in (3, 14, 15, 40)] * 2
    labels = ["x", "y", "x", "y"] * 2
    held_out = [text_fakes.words(14), text_fakes.words(100)]
    with caplog.at_level(logging.WARNING, logger="tfl"):
        data = from_texts(texts, labels, validation_data=(held_out, ["x", "y"]),
                          preprocessor=text_fakes.preprocessor(16))

    assert data.truncated == {"train": 4, "validation": 1}
    inputs, _ = next(iter(data.validation))
    np.testing.assert_array_equal(inputs["token_ids"][1], [CLS] + [ID["cat"]] * 14 + [SEP])
    assert [r.message for r in caplog.records] == [
        ("4 of 8 training and 1 of 2 validation texts are longer than sequence_length=16 "
        "tokens and were cut to fit; raise model.sequence_length to keep more of them.")
    ]


def test_long_pairs_are_counted_against_the_pair_limit():
    # A pair fits in 16 when its tokens sum to at most 13.
    firsts = [text_fakes.words(n) for n in (6, 7, 12)]
    seconds = [text_fakes.words(n, "dog") for n in (7, 7, 12)]
    data = from_texts(firsts, ["x", "y", "x"], text_pairs=seconds,
                      validation_data=(firsts, ["x", "y", "x"], seconds),
                      preprocessor=text_fakes.preprocessor(16))

    assert data.truncated == {"train": 2, "validation": 2}


def test_no_truncation_no_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="tfl"):
        from_texts(["the cat", "a dog"] * 3, ["x", "y"] * 3, preprocessor=text_fakes.preprocessor(8))

    assert not caplog.records


def test_cache_off_still_reshuffles_and_keeps_labels():
    texts, labels = _numbered({"a": 10, "b": 10})
    data = from_texts(texts, labels, cache=False, batch_size=4, seed=2)

    first, second = (text_fakes.texts_and_labels(data.train) for _ in range(2))

    assert first != second and sorted(first) == sorted(second)


def test_repr_and_num_classes():
    data = from_texts(["a", "b", "c", "d"], ["x", "y", "x", "y"], validation_split=0.5)

    assert data.num_classes == 2
    assert repr(data) == (
        "TextData(2 classes, 2 train, 2 validation, sequence_length=None, text_pairs=False, "
        "multi_label=False)"
    )


def test_dataframe_columns_and_integral_float_labels():
    frame = pd.DataFrame({"review": ["fun", "dull", "ok", "bad"], "stars": [5.0, 1.0, 3.0, 1.0]})

    data = from_dataframe(frame, text_column="review", label_column="stars", validation_frame=frame)

    assert data.class_names == ("1", "3", "5")
    np.testing.assert_array_equal(data.validation_labels, [2, 0, 1, 0])


def test_dataframe_label_separator_makes_multi_label():
    frame = pd.DataFrame({"text": ["a", "b", "c"], "tags": ["x|y", "y", "z | x"]})

    data = from_dataframe(frame, label_column="tags", label_separator="|", validation_frame=frame)

    assert data.class_names == ("x", "y", "z")
    np.testing.assert_array_equal(data.validation_labels, [[1, 1, 0], [0, 1, 0], [1, 0, 1]])


def test_dataframe_pairs_and_nan_labels_skipped(caplog):
    frame = pd.DataFrame({
        "q": ["a", "b", "c", "d", "e"], "p": ["f", "g", "h", "i", "j"],
        "label": [1, 0, np.nan, 1, 0],
    })
    with caplog.at_level(logging.WARNING, logger="tfl"):
        data = from_dataframe(frame, "q", "label", "p", validation_frame=frame, skip_bad_rows=True)

    assert data.text_pairs and data.class_names == ("0", "1")
    assert data.skipped_rows == ("frame row 2: missing label", "validation_frame row 2: missing label")
    assert len(caplog.records) == 1 and "Skipped 2 bad rows of 10" in caplog.records[0].message


def test_dataframe_unknown_column_suggests_a_close_one():
    frame = pd.DataFrame({"review": ["a"], "label": ["x"]})

    with pytest.raises(ValueError, match=r"frame has no column 'reveiw' \(text_column='reveiw'\)\. "
                                         r"Its columns: review, label\. Did you mean 'review'\?"):
        from_dataframe(frame, text_column="reveiw")


def test_dataframe_needs_a_frame():
    with pytest.raises(TypeError, match="frame is a data frame with named columns.*Received: list"):
        from_dataframe([["a", "x"]])


BAD_ROWS = {
    "empty_text": (["", "b"], ["x", "y"], "texts[0]: empty text"),
    "whitespace_text": ([" \t\n", "b"], ["x", "y"], "texts[0]: text is only whitespace"),
    "none_text": ([None, "b"], ["x", "y"], "texts[0]: missing text"),
    "nan_text": ([float("nan"), "b"], ["x", "y"], "texts[0]: missing text"),
    "number_text": ([42, "b"], ["x", "y"], "texts[0]: text is a int (42), not a string"),
    "bytes_not_utf8": ([b"caf\xe9", "b"], ["x", "y"], "texts[0]: text is not UTF-8 (byte 0xe9 at position 3)"),
    "lone_surrogate": (["caf\udce9", "b"], ["x", "y"], "texts[0]: text is not UTF-8 (byte 0xe9 at character 3)"),
    "none_label": (["a", "b"], [None, "y"], "texts[0]: missing label"),
    "empty_label": (["a", "b"], ["  ", "y"], "texts[0]: missing label"),
    "nan_label": (["a", "b"], ["x", float("nan")], "texts[1]: missing label"),
    "pandas_na_label": (["a", "b"], pd.array(["x", None], dtype="string"), "texts[1]: missing label"),
    "none_in_label_list": (["a", "b"], [["x", None], ["y"]], "texts[0]: missing label in the label list"),
}


@pytest.mark.parametrize("case", BAD_ROWS.values(), ids=BAD_ROWS.keys())
def test_a_bad_row_is_an_error_naming_it_and_the_skip_switch(case):
    texts, labels, message = case
    with pytest.raises(ValueError, match=rf"(?s)1 of 6 rows of texts are bad:\n  {re.escape(message)}\n.*"
                                         r"skip_bad_rows=True \(data.skip_bad_files: true.*--skip-bad-files"):
        from_texts(texts + ["c", "d", "e", "f"], list(labels) + ["x", "y", "x", "y"])


@pytest.mark.parametrize("case", BAD_ROWS.values(), ids=BAD_ROWS.keys())
def test_a_bad_row_is_skipped_counted_and_logged_once(case, caplog):
    texts, labels, message = case
    with caplog.at_level(logging.WARNING, logger="tfl"):
        data = from_texts(texts + ["c", "d", "e", "f"], list(labels) + ["x", "y", "x", "y"],
                          skip_bad_rows=True, validation_split=0.4)

    assert data.num_train + data.num_validation == 5
    assert data.skipped_rows == (message,)
    assert len(caplog.records) == 1 and "Skipped 1 bad rows of 6 in texts" in caplog.records[0].message


def test_the_error_lists_five_rows_and_the_total():
    texts = ["ok", "ok2"] + [""] * 12

    with pytest.raises(ValueError, match=r"12 of 14 rows of texts are bad:\n  texts\[2\]: empty text\n"
                                         r"(  texts\[\d+\]: empty text\n){4}  \.\.\. and 7 more\n"):
        from_texts(texts, ["x", "y"] * 7)


BAD_INPUT = {
    "single_class": ({"texts": ["a", "b", "c"], "labels": ["x"] * 3},
                     r"training rows of texts hold a single class \('x'\); a classifier needs"),
    "single_class_of_given_names": ({"texts": ["a", "b"], "labels": [0, 0], "class_names": ["x", "y"]},
                                    r"single class \('x'\)"),
    "class_only_in_validation": (
        {"texts": ["a", "b"], "labels": ["x", "y"], "validation_data": (["c", "d"], ["x", "z"])},
        r"Class 'z' appears only in the validation rows \(first at validation_data\[1\]\), never in training"),
    "multi_label_class_only_in_validation": (
        {"texts": ["a", "b"], "labels": [["x"], ["y"]], "validation_data": (["c"], [["x", "z"]])},
        r"Class 'z' appears only in the validation rows \(first at validation_data\[0\]\)"),
    "empty": ({"texts": [], "labels": []}, "texts holds no rows. Give at least one text per class"),
    "all_bad": ({"texts": ["", " "], "labels": ["x", "y"], "skip_bad_rows": True},
                "No usable row is left in texts: all 2 are bad"),
    "more_labels": ({"texts": ["a", "b"], "labels": ["x", "y", "x"]},
                    "one label .* per text. Received: texts of 2 items, labels of 3 items"),
    "fewer_pairs": ({"texts": ["a", "b"], "labels": ["x", "y"], "text_pairs": ["c"]},
                    "texts of 2 items, labels of 2 items, text_pairs of 1 items"),
    "one_string": ({"texts": "a b c", "labels": ["x"]}, "texts is a list .* Received: str 'a b c'"),
    "2d_texts": ({"texts": np.array([["a"], ["b"]]), "labels": ["x", "y"]}, r"Received: ndarray shape \(2, 1\)"),
    "fraction_label": ({"texts": ["a", "b"], "labels": [0.5, 1.0]}, r"texts\[0\]: label 0.5 is not a class"),
    "mixed_labels": ({"texts": ["a", "b"], "labels": ["x", 1]}, r"Labels mix strings and numbers: 'x' \(texts\[0\]\) and 1"),
    "unknown_name": ({"texts": ["a", "b"], "labels": ["x", "q"], "class_names": ["x", "y"]},
                     r"texts\[1\]: label 'q' is not one of class_names \(x, y\)"),
    "id_outside_names": ({"texts": ["a", "b"], "labels": [0, 2], "class_names": ["x", "y"]},
                         r"texts\[1\]: label 2 is outside 0..1"),
    "multi_hot_not_0_1": ({"texts": ["a", "b"], "labels": np.array([[1, 2], [0, 1]])},
                          r"texts\[0\]: multi-hot labels hold 0 or 1; column 1 is 2"),
    "duplicate_class_names": ({"texts": ["a", "b"], "labels": ["x", "y"], "class_names": ["x", "x"]},
                              "Class names must be unique; repeated: x"),
    "pairs_only_in_training": ({"texts": ["a", "b"], "labels": ["x", "y"], "text_pairs": ["c", "d"],
                                    "validation_data": (["a"], ["x"])},
                               "texts has text pairs but validation_data has single texts"),
    "one_row_per_class": ({"texts": ["a", "b"], "labels": ["x", "y"]}, "No row is left for validation"),
    "bad_validation_data": ({"texts": ["a", "b"], "labels": ["x", "y"], "validation_data": ["a"]},
                            r"validation_data is \(texts, labels\) or \(texts, labels, text_pairs\)"),
    "bad_batch_size": ({"texts": ["a", "b"], "labels": ["x", "y"], "batch_size": 0}, "batch_size must be an int >= 1"),
    "bad_validation_split": ({"texts": ["a", "b"], "labels": ["x", "y"], "validation_split": 1.5},
                             r"validation_split is the held-out fraction .* Received: validation_split=1.5"),
}


@pytest.mark.parametrize("case", BAD_INPUT.values(), ids=BAD_INPUT.keys())
def test_bad_input_is_a_clear_error(case):
    kwargs, message = case
    with pytest.raises(ValueError, match=message):
        from_texts(kwargs.pop("texts"), kwargs.pop("labels"), **kwargs)


def test_a_preprocessor_must_look_like_one():
    with pytest.raises(TypeError, match=r"KerasHub TextClassifierPreprocessor.*Received: str with "
                                        r"sequence_length=None"):
        from_texts(["a", "b"], ["x", "y"], preprocessor="bert_base_en")


def test_a_label_that_is_never_a_rows_first_is_in_both_parts_of_the_split():
    texts = [f"t{i}" for i in range(10)]
    labels = [["a"]] * 8 + [["a", "b"]] * 2  # 'b' only ever comes second
    for seed in range(8):
        data = from_texts(texts, labels, validation_split=0.5, seed=seed)
        assert data.class_names == ("a", "b")
        assert data.validation_labels[:, 1].sum() == 1, seed  # one 'b' held out, one to learn it from
