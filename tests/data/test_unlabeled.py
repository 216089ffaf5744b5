"""Unlabelled inputs: messages that name `data.unlabeled_source` (`--unlabeled`), and lists of texts checked."""

import re

import pytest

from tests.data.fakes import write_id_images
from tfl.data.unlabeled import load_unlabeled
from tfl.data.unlabeled import unlabeled_texts

FLAG = r"data\.unlabeled_source='{}' \(--unlabeled with `tfl train`\)"


def test_a_missing_image_folder_names_the_flag(tmp_path):
    missing = tmp_path / "nope"
    with pytest.raises(FileNotFoundError, match=r"does not exist\. Check " + FLAG.format(re.escape(str(missing)))):
        load_unlabeled(missing, "image", class_names=("a", "b"), image_size=8)


def test_a_text_file_for_an_image_run_names_the_flag(tmp_path):
    path = tmp_path / "pool.csv"
    with pytest.raises(ValueError, match=FLAG.format(re.escape(str(path))) + " is a text file"):
        load_unlabeled(path, "image", class_names=("a", "b"), image_size=8)


def test_a_folder_for_a_text_run_names_the_flag(tmp_path):
    with pytest.raises(ValueError, match=FLAG.format(re.escape(str(tmp_path))) + r" is not a \.csv/\.tsv/\.jsonl file"):
        load_unlabeled(tmp_path, "text", class_names=("a", "b"))


def test_unreadable_images_name_the_flag_that_skips_them(tmp_path):
    write_id_images(tmp_path, {"a": 1})
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(ValueError, match=r"(?s)empty\.png: empty file.*--skip-bad-files with `tfl train`"):
        load_unlabeled(tmp_path, "image", class_names=("a", "b"), image_size=8)


def _texts(source, **kwargs):
    unlabeled = unlabeled_texts(source, preprocessor=None, **kwargs)
    return [{key: value.tolist() for key, value in batch.items()} for batch in unlabeled.inputs.as_numpy_iterator()]


# Before, a string after a pair was cut into its characters ("ok" -> "o", "k"), None became the
# text "None", and the others crashed inside TensorFlow or an unpacking.
MIXED = {
    "string_after_pairs": ([("a man plays", "music"), "ok"], r"source\[1\] is 'ok', but .* holds \(text, text_pair\) pairs"),
    "pair_after_strings": (["fine", ("a", "b")], r"source\[1\] is \('a', 'b'\), but .* holds strings"),
    "three_texts": ([("a", "b", "c")], r"source\[0\] holds 3 texts.*A pair is \(text, text_pair\)"),
}


@pytest.mark.parametrize("source, message", MIXED.values(), ids=MIXED.keys())
def test_a_list_mixing_strings_and_pairs_is_refused_naming_the_item(source, message):
    with pytest.raises(ValueError, match=message):
        unlabeled_texts(source, preprocessor=None)


BAD_ITEMS = {"none": (None, "missing text"), "empty": ("", "empty text"), "spaces": ("  ", "text is only whitespace"),
             "empty_pair": (("a", ""), "empty text pair")}


@pytest.mark.parametrize("item, problem", BAD_ITEMS.values(), ids=BAD_ITEMS.keys())
def test_a_text_training_would_refuse_is_named_or_skipped(item, problem):
    good = ("fine", "ok") if isinstance(item, tuple) else "fine"
    with pytest.raises(ValueError, match=rf"(?s)source\[1\]: {problem}.*skip_bad_rows=True"):
        unlabeled_texts([good, item, good], preprocessor=None)

    skipped = unlabeled_texts(
        [good, item, good], preprocessor=None, true_labels=[0, 1, -1], class_names=("a", "b"), skip_bad_rows=True
    )
    assert skipped.num_examples == 2 and skipped.true_labels.tolist() == [0, -1]
    assert _texts([good, good]) == _texts([good, item, good], skip_bad_rows=True)
