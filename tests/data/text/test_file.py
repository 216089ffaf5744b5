import json
import logging
import re

import numpy as np
import pytest

from tests.data import text_fakes
from tfl.data import from_text_file
from tfl.data import from_text_file_for_evaluation

CSV = 'text,label\nthe cat sat,pos\n"a dog, good",neg\nfun movie,pos\nbad movie,neg\n'


def _rows_of(data):
    pairs = text_fakes.texts_and_labels(data.validation)
    return [(text, data.class_names[y]) for text, y in pairs]


def test_csv_reads_quoted_commas_and_labels(tmp_path):
    path = text_fakes.write(tmp_path / "data.csv", CSV)

    data = from_text_file(path, validation_path=path)

    assert data.class_names == ("neg", "pos")
    assert _rows_of(data) == [("the cat sat", "pos"), ("a dog, good", "neg"),
                              ("fun movie", "pos"), ("bad movie", "neg")]


def test_tsv_has_no_quoting(tmp_path):
    path = text_fakes.write(tmp_path / "data.tsv", 'label\ttext\npos\t"quoted" start\nneg\tsay "hi\n')

    data = from_text_file(path, validation_path=path)

    assert _rows_of(data) == [('"quoted" start', "pos"), ('say "hi', "neg")]


def test_jsonl_list_labels_are_multi_label(tmp_path):
    lines = [{"text": "a", "label": ["x", "y"]}, {"text": "b", "label": "y"}, {"text": "c", "label": []}]
    path = text_fakes.write(tmp_path / "data.jsonl", "\n".join(map(json.dumps, lines)) + "\n")

    data = from_text_file(path, validation_path=path)

    assert data.multi_label and data.class_names == ("x", "y")
    np.testing.assert_array_equal(data.validation_labels, [[1, 1], [0, 1], [0, 0]])


def test_label_separator_splits_cells(tmp_path):
    path = text_fakes.write(tmp_path / "tags.csv", "text,tags\na,sports|politics\nb,arts\nc,arts| sports\n")

    data = from_text_file(path, label_column="tags", label_separator="|", validation_path=path)

    assert data.class_names == ("arts", "politics", "sports")
    np.testing.assert_array_equal(data.validation_labels, [[0, 1, 1], [1, 0, 0], [1, 0, 1]])


def test_numeric_labels_sort_numerically_and_columns_are_chosen(tmp_path):
    path = text_fakes.write(tmp_path / "stars.csv", "id,stars,review\n1,10,a\n2,2,b\n3,1,c\n4,2,d\n")

    data = from_text_file(path, text_column="review", label_column="stars", validation_path=path)

    assert data.class_names == ("1", "2", "10")
    np.testing.assert_array_equal(data.validation_labels, [2, 1, 0, 1])


def test_pairs_from_a_column(tmp_path):
    path = text_fakes.write(tmp_path / "pairs.jsonl", '{"q": "the cat", "p": "a dog", "label": 1}\n'
                                                      '{"q": "a dog", "p": "the cat", "label": 0}\n')

    data = from_text_file(path, "q", "label", "p", validation_path=path,
                          preprocessor=text_fakes.preprocessor(16))

    inputs, _ = next(iter(data.validation))
    assert data.text_pairs
    np.testing.assert_array_equal(inputs["segment_ids"][0, :8], [0, 0, 0, 0, 1, 1, 1, 0])


def test_bom_crlf_and_blank_lines_are_ignored(tmp_path):
    path = text_fakes.write(tmp_path / "data.csv", b"\xef\xbb\xbftext,label\r\na,x\r\n\r\nb,y\r\n\r\n")

    data = from_text_file(path, validation_path=path)

    assert _rows_of(data) == [("a", "x"), ("b", "y")]


def test_a_quoted_line_break_stays_in_the_text_and_lines_are_counted(tmp_path):
    path = text_fakes.write(tmp_path / "data.csv", 'text,label\n"two\nlines",x\nb,y\n,x\n')

    with pytest.raises(ValueError, match=re.escape(f"{path} line 5: empty text")):
        from_text_file(path)
    data = from_text_file(path, validation_path=path, skip_bad_rows=True)
    assert _rows_of(data) == [("two\nlines", "x"), ("b", "y")]


def _csv_with(bad_line):
    return f"text,label\nthe cat,x\na dog,y\n{bad_line}\ngood,x\nbad,y\n"


BAD_ROWS = {
    "empty_text": (".csv", _csv_with(",x"), "line 4: empty text"),
    "whitespace_text": (".csv", _csv_with("   ,x"), "line 4: text is only whitespace"),
    "missing_label": (".csv", _csv_with("a text,"), "line 4: missing label"),
    "too_many_fields": (".csv", _csv_with("a, b,x"),
                        'line 4: 3 fields, the header has 2 (quote a text that holds commas: "a, b")'),
    "too_few_fields": (".csv", _csv_with("lonely"), "line 4: 1 field, the header has 2"),
    "not_utf8": (".csv", _csv_with("caf\udce9,x").encode("utf-8", "surrogateescape"),
                 "line 4: text is not UTF-8 (byte 0xe9 at character 3)"),
    "label_not_utf8": (".csv", _csv_with("cafe,\udce9").encode("utf-8", "surrogateescape"),
                       "line 4: label is not UTF-8 (byte 0xe9 at character 0)"),
    "tsv_tab_in_text": (".tsv", _csv_with("a\tb\tx").replace(",", "\t"),
                        "line 4: 3 fields, the header has 2 (a tab inside a text?)"),
    "jsonl_invalid": (".jsonl", ('{"text": "a", "label": "x"}\n{"text": "b", "label": "y"}\n{"text": "c",\n'
                      '{"text": "d", "label": "x"}\n{"text": "e", "label": "y"}\n'),
                      "line 3: not valid JSON (Expecting property name enclosed in double quotes at column 14)"),
    "jsonl_not_object": (".jsonl", ('{"text": "a", "label": "x"}\n{"text": "b", "label": "y"}\n["c", "x"]\n'
                         '{"text": "d", "label": "x"}\n{"text": "e", "label": "y"}\n'),
                         "line 3: a JSON list, not an object {...}"),
    "jsonl_missing_key": (".jsonl", ('{"text": "a", "label": "x"}\n{"text": "b", "label": "y"}\n{"text": "c"}\n'
                          '{"text": "d", "label": "x"}\n{"text": "e", "label": "y"}\n'), "line 3: missing label"),
    "jsonl_null_text": (".jsonl", ('{"text": "a", "label": "x"}\n{"text": "b", "label": "y"}\n'
                        '{"text": null, "label": "x"}\n{"text": "d", "label": "x"}\n{"text": "e", "label": "y"}\n'),
                        "line 3: missing text"),
    "jsonl_not_utf8": (".jsonl", (b'{"text": "a", "label": "x"}\n{"text": "b", "label": "y"}\n'
                       b'{"text": "caf\xe9", "label": "x"}\n{"text": "d", "label": "x"}\n{"text": "e", "label": "y"}\n'),
                       "line 3: not UTF-8 (byte 0xe9 at position 13)"),
}


@pytest.mark.parametrize("case", BAD_ROWS.values(), ids=BAD_ROWS.keys())
def test_a_bad_row_is_an_error_naming_its_line(case, tmp_path):
    suffix, content, message = case
    path = text_fakes.write(tmp_path / f"data{suffix}", content)

    with pytest.raises(ValueError, match=rf"(?s)1 of 5 rows of {re.escape(path)} are bad:\n"
                                         rf"  {re.escape(path)} {re.escape(message)}\n.*skip_bad_rows=True.*`tfl evaluate`"):
        from_text_file(path)


@pytest.mark.parametrize("case", BAD_ROWS.values(), ids=BAD_ROWS.keys())
def test_a_bad_row_is_skipped_and_named_in_skipped_rows(case, tmp_path, caplog):
    suffix, content, message = case
    path = text_fakes.write(tmp_path / f"data{suffix}", content)

    with caplog.at_level(logging.WARNING, logger="tfl"):
        data = from_text_file(path, skip_bad_rows=True, validation_split=0.5)

    assert data.skipped_rows == (f"{path} {message}",)
    assert data.num_train + data.num_validation == 4
    assert len(caplog.records) == 1


def test_bad_rows_of_the_validation_file_are_named_too(tmp_path):
    train = text_fakes.write(tmp_path / "train.csv", CSV)
    held_out = text_fakes.write(tmp_path / "val.csv", "text,label\ngood,pos\n,neg\n")

    with pytest.raises(ValueError, match=rf"1 of 6 rows of {re.escape(train)} and {re.escape(held_out)} "
                                         rf"are bad:\n  {re.escape(held_out)} line 3: empty text"):
        from_text_file(train, validation_path=held_out)


def test_many_bad_rows_are_listed_five_with_the_total(tmp_path):
    path = text_fakes.write(tmp_path / "data.csv", "text,label\na,x\nb,y\n" + ",x\n" * 9)

    with pytest.raises(ValueError, match=r"9 of 11 rows .*:\n(  .* line \d+: empty text\n){5}  \.\.\. and 4 more\n"):
        from_text_file(path)


BAD_FILES = {
    "unknown_column": ("data.csv", CSV, {'text_column': "txt"}, ValueError,
                       (r"data.csv has no column 'txt' \(text_column='txt'\). Its columns: text, label. "
                       r"Did you mean 'text'\?")),
    "unknown_label_column": ("data.csv", CSV, {'label_column': "labels"}, ValueError,
                             r"no column 'labels' \(label_column='labels'\).*Did you mean 'label'\?"),
    "unknown_pair_column": ("data.csv", CSV, {'text_pair_column': "zzz"}, ValueError,
                            r"no column 'zzz' \(text_pair_column='zzz'\). Its columns: text, label. Pass"),
    "unknown_jsonl_key": ("data.jsonl", '{"texts": "a", "label": "x"}\n', {}, ValueError,
                          r"no column 'text' .* Its columns: texts, label. Did you mean 'texts'\?"),
    "empty_file": ("data.csv", "", {}, ValueError, "data.csv is empty. It needs a header row"),
    "header_only": ("data.csv", "text,label\n", {}, ValueError, "data.csv holds no rows"),
    "empty_jsonl": ("data.jsonl", "\n\n", {}, ValueError, "data.jsonl holds no rows. Give one JSON object per line"),
    "duplicate_header": ("data.csv", "text,text,label\n", {}, ValueError, "header row of .*data.csv repeats 'text'"),
    "header_not_utf8": ("data.csv", b"t\xe9xt,label\na,x\n", {}, ValueError,
                        r"header row of .*data.csv is not UTF-8 \(byte 0xe9 at character 1\)"),
    "json_file": ("data.json", "[]", {}, ValueError,
                  r"Unknown text file type: .*data.json. Known: .csv, .tsv, .jsonl \(a .json file of one"),
    "single_class": ("data.csv", "text,label\na,x\nb,x\n", {}, ValueError, "hold a single class \\('x'\\)"),
    "class_only_in_validation": ("data.csv", CSV, {'validation_path': "VAL"}, ValueError,
                                 r"Class 'other' appears only in the validation rows \(first at .*val.csv line 2\)"),
    "bad_separator": ("data.csv", CSV, {'label_separator': ""}, ValueError, "label_separator is a non-empty string"),
}


@pytest.mark.parametrize("case", BAD_FILES.values(), ids=BAD_FILES.keys())
def test_a_bad_file_is_a_clear_error(case, tmp_path):
    name, content, kwargs, error, message = case
    path = text_fakes.write(tmp_path / name, content)
    if kwargs.get("validation_path") == "VAL":
        kwargs["validation_path"] = text_fakes.write(tmp_path / "val.csv", "text,label\nz,other\n")

    with pytest.raises(error, match=message):
        from_text_file(path, **kwargs)


def test_a_missing_file_names_the_argument_its_config_key_and_its_flag(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"Text file not found: .*nope.csv. Check validation_path='.*nope.csv' "
                                                r"\(data.validation_source in a config, --val-data with `tfl train`\)"):
        from_text_file(text_fakes.write(tmp_path / "a.csv", CSV), validation_path=str(tmp_path / "nope.csv"))


def test_a_missing_evaluation_file_names_the_argument_of_tfl_evaluate(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"Check path='.*nope.csv' \(DATA with `tfl evaluate`\)"):
        from_text_file_for_evaluation(str(tmp_path / "nope.csv"), class_names=("a", "b"))


def test_a_folder_is_not_a_text_file(tmp_path):
    with pytest.raises(ValueError, match="is a folder; text data is one .csv, .tsv, .jsonl file"):
        from_text_file(tmp_path)


def test_evaluation_rows_keep_file_order_and_take_the_models_ids_by_name(tmp_path):
    path = text_fakes.write(tmp_path / "test.csv", "text,label\nfun movie,pos\ngood film,pos\nso so,neutral\n")

    data = from_text_file_for_evaluation(path, class_names=("neg", "neutral", "pos"))

    assert (data.num_train, data.num_validation) == (0, 3) and data.class_names == ("neg", "neutral", "pos")
    assert _rows_of(data) == [("fun movie", "pos"), ("good film", "pos"), ("so so", "neutral")]


@pytest.mark.parametrize(
    "class_names, expected",
    [(("1", "3", "5"), ["5", "3"]), (("bad", "ok", "good", "great", "best", "top"), ["top", "great"])],
    ids=["whole-number names: by name", "other names: ids into them"],
)
def test_evaluation_whole_number_labels(class_names, expected, tmp_path):
    path = text_fakes.write(tmp_path / "stars.jsonl", '{"text": "a", "label": 5}\n{"text": "b", "label": 3}\n')

    data = from_text_file_for_evaluation(path, class_names=class_names)

    assert [name for _, name in _rows_of(data)] == expected


def test_evaluation_rows_of_a_multi_label_model_are_multi_hot_even_with_one_label_each(tmp_path):
    path = text_fakes.write(tmp_path / "tags.jsonl", '{"text": "a", "label": "y"}\n{"text": "b", "label": ["x", "z"]}\n')

    data = from_text_file_for_evaluation(path, class_names=("x", "y", "z"), multi_label=True)

    np.testing.assert_array_equal(data.validation_labels, [[0, 1, 0], [1, 0, 1]])


def test_an_evaluation_label_the_model_does_not_know_names_its_line(tmp_path):
    path = text_fakes.write(tmp_path / "test.csv", "text,label\nfun,pos\nmeh,neutral\n")

    with pytest.raises(ValueError, match=r"test.csv line 3: label 'neutral' is not a class of the model; "
                                         r"its classes are \['neg', 'pos'\]"):
        from_text_file_for_evaluation(path, class_names=("neg", "pos"))
